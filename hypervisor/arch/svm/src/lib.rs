// SPDX-License-Identifier: GPL-2.0

//! The AMD SVM backend of the acrn-rs hypervisor (AMD64 APM vol. 2, chapter 15).
//!
//! * [`vmcb`]: the VMCB layout (offsets checked by host tests) and its constants;
//! * [`perm`]: the I/O and MSR permission maps (pass-through except a few MSRs);
//! * [`svm`]: feature checks and SVM enable (EFER.SVME, VM_HSAVE_PA, GIF);
//! * [`vcpu`]: a vCPU: VMCB + guest registers, the VMRUN stub, XCR0 switching, the run loop;
//! * [`exit`]: the one `match` over exit codes and the handlers (CPUID policy and
//!   [`exit::ExitHost`] live in `acrn-hv-core`, shared with the VMX backend);
//! * [`decode`]: fetching guest instruction bytes through the guest's page tables, to
//!   recognise ACRN's `vmcall` (`0f 01 c1`) behind a #UD intercept;
//! * [`event`]: EVENTINJ encoding;
//! * [`user_vmcb`], [`user_exit`]: User VM vCPUs: their VMCB from SET_VCPU_REGS, and
//!   their exits turned into IOREQs for the device model.
//!
//! QEMU 7.2 TCG emulates SVM without NRIP save or decode assists, so RIP is advanced by the
//! known instruction lengths and the hypercall instruction is read from guest memory.

#![cfg_attr(not(test), no_std)]

pub mod decode;
pub mod event;
pub mod exit;
pub mod perm;
pub mod svm;
pub mod user_exit;
pub mod user_vmcb;
pub mod vcpu;
pub mod vmcb;
