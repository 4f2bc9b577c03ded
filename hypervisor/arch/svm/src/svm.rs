// SPDX-License-Identifier: GPL-2.0

//! Turning SVM on (APM vol. 2 §15.4): check CPUID for SVM and nested paging, check that
//! the firmware did not disable SVM (VM_CR.SVMDIS), set EFER.SVME, give the CPU its host
//! save area (VM_HSAVE_PA), and clear GIF for good: the hypervisor itself never takes an
//! interrupt, physical interrupts stay pending until VMRUN sets GIF and then go straight
//! to the Service VM (no INTR intercept).

use acrn_hv_boot::x86::cpuid;

/// What this CPU's SVM offers (CPUID 0x8000_000A).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SvmCaps {
    /// SVM revision.
    pub revision: u32,
    /// Number of ASIDs.
    pub nasid: u32,
    /// Nested paging.
    pub npt: bool,
    /// NRIP save (absent under QEMU TCG; not used).
    pub nrips: bool,
    /// Decode assists (absent under QEMU TCG; not used).
    pub decode_assists: bool,
    /// Virtual GIF.
    pub vgif: bool,
    /// 1 GiB pages (CPUID 0x8000_0001:EDX[26]), usable in nested page tables.
    pub page_1g: bool,
}

/// Why SVM cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SvmError {
    /// CPUID.8000_0001:ECX.SVM clear.
    NoSvm,
    /// No nested paging.
    NoNpt,
    /// VM_CR.SVMDIS set by the firmware.
    Disabled,
}

/// Reads the SVM capabilities; fails without SVM or nested paging.
pub fn caps() -> Result<SvmCaps, SvmError> {
    let ext = cpuid(0x8000_0001, 0);
    if cpuid(0x8000_0000, 0).eax < 0x8000_000a || ext.ecx & (1 << 2) == 0 {
        return Err(SvmError::NoSvm);
    }
    let f = cpuid(0x8000_000a, 0);
    let caps = SvmCaps {
        revision: f.eax & 0xff,
        nasid: f.ebx,
        npt: f.edx & (1 << 0) != 0,
        nrips: f.edx & (1 << 3) != 0,
        decode_assists: f.edx & (1 << 7) != 0,
        vgif: f.edx & (1 << 16) != 0,
        page_1g: ext.edx & (1 << 26) != 0,
    };
    if !caps.npt {
        return Err(SvmError::NoNpt);
    }
    Ok(caps)
}

/// Enables SVM on this CPU with host save area `hsave_pa` and clears GIF.
///
/// # Safety
///
/// `hsave_pa` must be a 4 KiB page of hypervisor memory reserved for this CPU's host state
/// for as long as SVM is on.
#[cfg(target_os = "none")]
pub unsafe fn enable(hsave_pa: u64) -> Result<(), SvmError> {
    use crate::perm::{MSR_VM_CR, MSR_VM_HSAVE_PA};
    use acrn_hv_boot::x86::{rdmsr, wrmsr, EFER_SVME, MSR_EFER};

    // SAFETY: VM_CR exists on every CPU with SVM (checked by `caps` before).
    if unsafe { rdmsr(MSR_VM_CR) } & (1 << 4) != 0 {
        return Err(SvmError::Disabled);
    }
    // SAFETY: EFER exists; setting SVME only makes the SVM instructions available. The
    // host save area is the caller's page.
    unsafe {
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
        wrmsr(MSR_VM_HSAVE_PA, hsave_pa);
        core::arch::asm!("clgi", options(nomem, nostack));
    }
    Ok(())
}
