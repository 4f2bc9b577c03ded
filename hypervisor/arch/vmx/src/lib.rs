// SPDX-License-Identifier: GPL-2.0

//! The Intel VMX backend of the acrn-rs hypervisor (SDM vol. 3C, chapters 24-31): a
//! skeleton, compile- and host-tested only. QEMU/TCG does not emulate VMX, so nothing here
//! has run yet; `acrn-hv` detects Intel VMX at boot, logs the computed controls and parks
//! (see `Documentation/hypervisor.rst`, "VMX backend").
//!
//! * [`vmcs`]: VMCS field encodings (typed by width, checked by host tests) and the
//!   [`vmcs::Vmcs`] access trait (hardware VMREAD/VMWRITE, or a map in tests);
//! * [`caps`]: capability MSRs → control values (allowed-0/allowed-1, `TRUE_` MSRs);
//! * [`fixed`]: CR0/CR4 fixed bits, guest read shadows and masks;
//! * [`region`]: VMXON and VMCS regions (revision id);
//! * [`msr_bitmap`]: the MSR bitmaps (VMX capability MSRs intercepted);
//! * [`instr`]: `vmxon`, `vmxoff`, `vmclear`, `vmptrld`, `vmread`, `vmwrite`, `invept`;
//! * [`vmx`]: CPUID check, IA32_FEATURE_CONTROL, CR0/CR4 adjustment, VMXON;
//! * [`vcpu`]: guest registers, the VMLAUNCH/VMRESUME stub, VMCS setup for a 64-bit guest;
//! * [`exit_reason`]: exit reasons and exit qualifications (I/O, CR access, EPT violation);
//! * [`exit`]: the one `match` over exit reasons, mapped to core's actions (shared CPUID
//!   policy, hypercalls straight from the VMCALL exit).

#![cfg_attr(not(test), no_std)]

pub mod caps;
pub mod exit;
pub mod exit_reason;
pub mod fixed;
pub mod instr;
pub mod msr_bitmap;
pub mod region;
pub mod vcpu;
pub mod vmcs;
pub mod vmx;
