// SPDX-License-Identifier: GPL-2.0

//! The VMX instructions (SDM vol. 3C, chapter 31) behind small wrappers: `vmxon`,
//! `vmxoff`, `vmclear`, `vmptrld`, `vmread`, `vmwrite`, `invept`. Each reports failure
//! through RFLAGS (CF = VMfailInvalid, ZF = VMfailValid with the reason in the
//! VM-instruction error field) as a [`VmxFail`]. `vmlaunch`/`vmresume` live in the entry
//! stub (`vcpu.rs`), which must own the register state around them.
//!
//! The instructions exist only in the hypervisor build (`target_os = "none"`); [`HwVmcs`]
//! is the [`Vmcs`](crate::vmcs::Vmcs) they implement.

/// A VMX instruction failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmxFail {
    /// VMfailInvalid (CF): no current VMCS, or a bad region pointer.
    Invalid,
    /// VMfailValid (ZF): the VM-instruction error field says why.
    Valid,
}

/// Decodes RFLAGS after a VMX instruction.
pub const fn check_rflags(rflags: u64) -> Result<(), VmxFail> {
    if rflags & 1 != 0 {
        Err(VmxFail::Invalid)
    } else if rflags & (1 << 6) != 0 {
        Err(VmxFail::Valid)
    } else {
        Ok(())
    }
}

/// INVEPT type 1: single context (one EPTP).
pub const INVEPT_SINGLE_CONTEXT: u64 = 1;
/// INVEPT type 2: all contexts.
pub const INVEPT_ALL_CONTEXTS: u64 = 2;

#[cfg(target_os = "none")]
pub use hw::*;

#[cfg(target_os = "none")]
mod hw {
    use super::{check_rflags, VmxFail};
    use crate::vmcs::Vmcs;
    use core::arch::asm;

    /// Enters VMX operation with the VMXON region at `pa`.
    ///
    /// # Safety
    ///
    /// CR4.VMXE must be set, CR0/CR4 must satisfy the fixed-bit MSRs, IA32_FEATURE_CONTROL
    /// must allow VMXON outside SMX, and `pa` must be a 4 KiB-aligned region of hypervisor
    /// memory holding the VMCS revision id, reserved for this CPU while VMX is on.
    pub unsafe fn vmxon(pa: u64) -> Result<(), VmxFail> {
        let rflags: u64;
        // SAFETY: the caller guarantees the preconditions above; VMXON reads only the
        // 8-byte operand and the region.
        unsafe { asm!("vmxon [{}]", "pushfq", "pop {}", in(reg) &pa, lateout(reg) rflags) };
        check_rflags(rflags)
    }

    /// Leaves VMX operation.
    ///
    /// # Safety
    ///
    /// VMX operation must be on and no guest may be expected to run again on this CPU.
    pub unsafe fn vmxoff() -> Result<(), VmxFail> {
        let rflags: u64;
        // SAFETY: the caller guarantees VMX is on; VMXOFF touches no memory.
        unsafe { asm!("vmxoff", "pushfq", "pop {}", lateout(reg) rflags) };
        check_rflags(rflags)
    }

    /// Clears the VMCS at `pa` (launch state "clear", data flushed to memory).
    ///
    /// # Safety
    ///
    /// VMX must be on and `pa` must be a VMCS region in hypervisor memory that no other CPU
    /// has current.
    pub unsafe fn vmclear(pa: u64) -> Result<(), VmxFail> {
        let rflags: u64;
        // SAFETY: the caller guarantees the preconditions; VMCLEAR writes only the region.
        unsafe { asm!("vmclear [{}]", "pushfq", "pop {}", in(reg) &pa, lateout(reg) rflags) };
        check_rflags(rflags)
    }

    /// Makes the VMCS at `pa` current on this CPU.
    ///
    /// # Safety
    ///
    /// As [`vmclear`]; the region must hold the revision id and have been cleared once.
    pub unsafe fn vmptrld(pa: u64) -> Result<(), VmxFail> {
        let rflags: u64;
        // SAFETY: the caller guarantees the preconditions above.
        unsafe { asm!("vmptrld [{}]", "pushfq", "pop {}", in(reg) &pa, lateout(reg) rflags) };
        check_rflags(rflags)
    }

    /// Invalidates EPT-derived translations (`kind` = [`INVEPT_SINGLE_CONTEXT`](super::INVEPT_SINGLE_CONTEXT)
    /// with `eptp`, or [`INVEPT_ALL_CONTEXTS`](super::INVEPT_ALL_CONTEXTS)).
    ///
    /// # Safety
    ///
    /// VMX must be on and the CPU must support INVEPT of this type.
    pub unsafe fn invept(kind: u64, eptp: u64) -> Result<(), VmxFail> {
        let desc: [u64; 2] = [eptp, 0];
        let rflags: u64;
        // SAFETY: the caller guarantees support; INVEPT only reads the 16-byte descriptor.
        unsafe {
            asm!("invept {}, [{}]", "pushfq", "pop {}", in(reg) kind, in(reg) &desc,
                 lateout(reg) rflags)
        };
        check_rflags(rflags)
    }

    /// The VMCS current on this CPU, accessed with VMREAD/VMWRITE.
    pub struct HwVmcs(());

    impl HwVmcs {
        /// Access to the current VMCS.
        ///
        /// # Safety
        ///
        /// VMX must be on and a VMCS current ([`vmptrld`]) for as long as the value lives,
        /// and the caller must keep the host-state fields pointing at valid host state.
        pub unsafe fn current() -> Self {
            Self(())
        }
    }

    impl Vmcs for HwVmcs {
        fn read_raw(&self, enc: u32) -> Result<u64, VmxFail> {
            let (v, rflags): (u64, u64);
            // SAFETY: `HwVmcs::current` guarantees a current VMCS; VMREAD of an unsupported
            // field fails with VMfailValid instead of faulting.
            unsafe {
                asm!("vmread {}, {}", "pushfq", "pop {}", lateout(reg) v, in(reg) u64::from(enc),
                     lateout(reg) rflags)
            };
            check_rflags(rflags).map(|()| v)
        }

        fn write_raw(&mut self, enc: u32, value: u64) -> Result<(), VmxFail> {
            let rflags: u64;
            // SAFETY: as for `read_raw`; what the value means for the next VM entry is the
            // writer's business (a bad guest state fails the entry, it does not fault).
            unsafe {
                asm!("vmwrite {}, {}", "pushfq", "pop {}", in(reg) u64::from(enc), in(reg) value,
                     lateout(reg) rflags)
            };
            check_rflags(rflags)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rflags_decoding() {
        assert_eq!(check_rflags(0x2), Ok(()));
        assert_eq!(check_rflags(0x3), Err(VmxFail::Invalid));
        assert_eq!(check_rflags(0x42), Err(VmxFail::Valid));
        assert_eq!(check_rflags(0x43), Err(VmxFail::Invalid), "CF wins");
    }
}
