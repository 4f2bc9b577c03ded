// SPDX-License-Identifier: GPL-2.0

//! ACRN Hypervisor Service Module (HSM) in Rust: `/dev/acrn_hsm` for the Service VM.
//!
//! A drop-in for Linux's C driver (`drivers/virt/acrn`, `acrn.ko`) with the same ioctl ABI
//! (`include/uapi/linux/acrn.h`, mirrored in `uapi/`). Each open file is one User VM.
//!
//! Like the C driver, the module loads only under the ACRN hypervisor (`ENODEV` otherwise)
//! and only in the privileged Service VM (`EPERM` otherwise). There is no way around these
//! checks: without ACRN nothing would answer the hypercalls the device issues.

use kernel::{c_str, prelude::*};

#[path = "../rust/lib.rs"]
mod kext;

#[allow(dead_code, unreachable_pub)]
#[path = "../uapi/rust/src/acrn.rs"]
mod acrn;

// `hv.rs` refers to `crate::acrn`, which the module above provides.
#[allow(dead_code, unreachable_pub)]
#[path = "../uapi/rust/src/hv.rs"]
mod hv;

mod client;
mod client_api;
mod guest_ram;
mod hypercall;
mod ioctl;
mod ioeventfd;
mod ioreq;
mod irqfd;
mod mm;
mod passthrough;
mod pfnmap;
mod pm;
mod sysfs;
mod upcall;
mod vm;

use kext::miscdev::Registration;

module! {
    type: AcrnHsm,
    name: "acrn_hsm",
    author: "acrn-rs developers",
    description: "ACRN Hypervisor Service Module (Rust)",
    license: "GPL",
}

extern "C" {
    fn acrn_hsm_running_on_acrn() -> bool;
    fn acrn_hsm_is_privileged_vm() -> bool;
}

// Fields drop in order: the device goes before the upcall its files use.
struct AcrnHsm {
    _device: Registration<vm::Vm>,
    _upcall: upcall::UpcallRegistration,
}

impl kernel::Module for AcrnHsm {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: Reads a variable set once during early boot.
        if !unsafe { acrn_hsm_running_on_acrn() } {
            return Err(ENODEV);
        }
        // SAFETY: Executes CPUID, which is valid once the kernel detected ACRN.
        if !unsafe { acrn_hsm_is_privileged_vm() } {
            return Err(EPERM);
        }
        let upcall = upcall::UpcallRegistration::new()?;
        let device =
            Registration::register_with_groups(c_str!("acrn_hsm"), module, Some(sysfs::groups()))
                .inspect_err(|e| {
                pr_err!("creating the misc device failed: {:?}\n", e);
            })?;
        Ok(Self {
            _device: device,
            _upcall: upcall,
        })
    }
}
