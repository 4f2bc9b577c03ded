// SPDX-License-Identifier: GPL-2.0

//! Turning VMX on (SDM vol. 3C, 24.6-24.8): CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL (lock
//! it with "VMXON outside SMX" if the firmware left it unlocked; refuse if it is locked
//! without), the capability MSRs, CR0/CR4 adjusted to the fixed bits (CR4.VMXE among
//! them), and VMXON on a region stamped with the revision id.
//!
//! [`feature_control_action`] and [`vmx_supported`] are the pure decisions; the rest is
//! hardware (`target_os = "none"`).

use crate::caps::CapError;

/// IA32_FEATURE_CONTROL: lock.
pub const FC_LOCK: u64 = 1 << 0;
/// IA32_FEATURE_CONTROL: VMXON outside SMX.
pub const FC_VMX_OUTSIDE_SMX: u64 = 1 << 2;

/// Whether CPUID.1:ECX says VMX (bit 5).
pub const fn vmx_supported(leaf1_ecx: u32) -> bool {
    leaf1_ecx & (1 << 5) != 0
}

/// What to do with IA32_FEATURE_CONTROL: `Ok(Some(v))` = write `v` (unlocked: enable and
/// lock), `Ok(None)` = fine as is, `Err` = VMX disabled by the firmware.
pub const fn feature_control_action(fc: u64) -> Result<Option<u64>, CapError> {
    if fc & FC_LOCK == 0 {
        Ok(Some(fc | FC_LOCK | FC_VMX_OUTSIDE_SMX))
    } else if fc & FC_VMX_OUTSIDE_SMX == 0 {
        Err(CapError::Disabled)
    } else {
        Ok(None)
    }
}

#[cfg(target_os = "none")]
pub use hw::*;

#[cfg(target_os = "none")]
mod hw {
    use super::*;
    use crate::caps::*;
    use crate::fixed::Fixed;
    use crate::region::VmxRegion;
    use acrn_hv_boot::x86::{cpuid, rdmsr, read_cr4, write_cr4, wrmsr};
    use core::arch::asm;

    /// Reads the capability MSRs; fails without VMX or if the firmware disabled it.
    pub fn caps() -> Result<CapMsrs, CapError> {
        if !vmx_supported(cpuid(1, 0).ecx) {
            return Err(CapError::NoVmx);
        }
        // SAFETY: CPUID reports VMX, so IA32_FEATURE_CONTROL and the basic capability MSRs
        // exist; the TRUE_ and secondary MSRs are read only when the basic MSRs say so.
        unsafe {
            if let Some(v) = feature_control_action(rdmsr(MSR_FEATURE_CONTROL))? {
                wrmsr(MSR_FEATURE_CONTROL, v);
            }
            let basic = rdmsr(MSR_VMX_BASIC);
            let procbased = rdmsr(MSR_VMX_PROCBASED_CTLS);
            let mut m = CapMsrs {
                basic,
                pinbased: rdmsr(MSR_VMX_PINBASED_CTLS),
                procbased,
                exit: rdmsr(MSR_VMX_EXIT_CTLS),
                entry: rdmsr(MSR_VMX_ENTRY_CTLS),
                cr0_fixed0: rdmsr(MSR_VMX_CR0_FIXED0),
                cr0_fixed1: rdmsr(MSR_VMX_CR0_FIXED1),
                cr4_fixed0: rdmsr(MSR_VMX_CR4_FIXED0),
                cr4_fixed1: rdmsr(MSR_VMX_CR4_FIXED1),
                ..CapMsrs::default()
            };
            if procbased >> 32 & u64::from(PROC_SECONDARY) != 0 {
                m.procbased2 = rdmsr(MSR_VMX_PROCBASED_CTLS2);
                m.ept_vpid = rdmsr(MSR_VMX_EPT_VPID_CAP);
            }
            if VmxBasic::decode(basic).true_ctls {
                m.true_pinbased = rdmsr(MSR_VMX_TRUE_PINBASED_CTLS);
                m.true_procbased = rdmsr(MSR_VMX_TRUE_PROCBASED_CTLS);
                m.true_exit = rdmsr(MSR_VMX_TRUE_EXIT_CTLS);
                m.true_entry = rdmsr(MSR_VMX_TRUE_ENTRY_CTLS);
            }
            Ok(m)
        }
    }

    /// Adjusts CR0/CR4 to the fixed bits and executes VMXON on `region`.
    ///
    /// # Safety
    ///
    /// `m` must come from [`caps`] on this CPU, and `region` must be hypervisor memory
    /// reserved for this CPU's VMXON region for as long as VMX is on.
    pub unsafe fn enable(m: &CapMsrs, region: &mut VmxRegion) -> Result<(), CapError> {
        region.init(&m.basic())?;
        let cr0f = Fixed {
            fixed0: m.cr0_fixed0,
            fixed1: m.cr0_fixed1,
        };
        let cr4f = Fixed {
            fixed0: m.cr4_fixed0,
            fixed1: m.cr4_fixed1,
        };
        let cr0: u64;
        // SAFETY: reading CR0 at CPL 0 has no side effect.
        unsafe { asm!("mov {}, cr0", out(reg) cr0, options(nomem, nostack, preserves_flags)) };
        // SAFETY: the host already runs with PE, PG and caches on; the fixed bits only add
        // NE (native FPU errors; the hypervisor is soft-float) and VMXE, and clear bits the
        // CPU does not support in VMX operation.
        unsafe {
            asm!("mov cr0, {}", in(reg) cr0f.adjust(cr0), options(nostack, preserves_flags));
            write_cr4(cr4f.adjust(read_cr4()));
        }
        // SAFETY: CR0/CR4 satisfy the fixed bits, IA32_FEATURE_CONTROL allows VMXON (caps),
        // and the region is the caller's, stamped with the revision id.
        unsafe { crate::instr::vmxon(region.pa()) }.map_err(|_| CapError::Disabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_control() {
        assert_eq!(feature_control_action(0), Ok(Some(5)));
        assert_eq!(feature_control_action(5), Ok(None));
        assert_eq!(feature_control_action(1), Err(CapError::Disabled));
        assert_eq!(
            feature_control_action(3),
            Err(CapError::Disabled),
            "SMX only"
        );
        assert!(vmx_supported(1 << 5) && !vmx_supported(!(1 << 5)));
    }
}
