// SPDX-License-Identifier: GPL-2.0

//! CPUID as a guest sees it, shared by the SVM and VMX backends: the host's values with
//! * CPUID.1:ECX[31] (hypervisor present) set, VMX cleared, OSXSAVE from the guest's CR4;
//! * CPUID.7.0:ECX.OSPKE from the guest's CR4;
//! * SVM hidden: CPUID.8000_0001:ECX[2] cleared, leaf 8000_000A all zero (on Intel both
//!   are zero already, so one policy serves both vendors);
//! * ACRN's leaves (`arch/x86/guest/vcpuid.c`, Linux `arch/x86/include/asm/acrn.h`):
//!   0x4000_0000 = max leaf 0x4000_0010 + "ACRNACRNACRN", 0x4000_0001 EAX bit 0 =
//!   privileged (Service VM), 0x4000_0010 EAX = TSC frequency in kHz;
//! * one acrn-rs leaf, [`LEAF_DEBUG`] (see [`CpuidCtx::debug`]).
//!
//! Leaves 0x4000_0000..=0x4000_00ff that are not listed read as zero.

/// Result of a CPUID query (also what `acrn_hv_boot::x86::cpuid` returns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuidResult {
    /// EAX.
    pub eax: u32,
    /// EBX.
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
}

/// ACRN's signature leaf.
pub const LEAF_SIGNATURE: u32 = 0x4000_0000;
/// ACRN's feature leaf.
pub const LEAF_FEATURES: u32 = 0x4000_0001;
/// ACRN's timing leaf.
pub const LEAF_TIMING: u32 = 0x4000_0010;
/// acrn-rs debug leaf: hypervisor object counters (not ACRN ABI; above ACRN's max leaf, so
/// no ACRN-aware guest looks at it). Subleaf 0: EAX = [`DEBUG_MAGIC`], EBX = live User
/// VMs, ECX = their vCPUs, EDX = their mapped regions. Subleaf 1: EAX = I/O request
/// buffers set, EBX = CREATE_VMs, ECX = DESTROY_VMs, EDX = nested page-table frames in use.
/// Subleaf 2: EAX/EBX = first/last+1 page frame number of hypervisor memory (so tests can
/// aim memory-region requests at it).
pub const LEAF_DEBUG: u32 = 0x4000_00f0;
/// EAX of [`LEAF_DEBUG`] subleaf 0: "acrs".
pub const DEBUG_MAGIC: u32 = u32::from_le_bytes(*b"acrs");
/// Subleaves of [`LEAF_DEBUG`].
pub const DEBUG_SUBLEAVES: usize = 3;
/// "ACRN" as CPUID registers hold it.
pub const ACRN_SIGNATURE: u32 = u32::from_le_bytes(*b"ACRN");
/// `ACRN_FEATURE_PRIVILEGED_VM`.
pub const FEATURE_PRIVILEGED_VM: u32 = 1 << 0;

const CR4_OSXSAVE: u64 = 1 << 18;
const CR4_PKE: u64 = 1 << 22;

/// What the CPUID policy needs to know about the caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuidCtx {
    /// TSC frequency in kHz.
    pub tsc_khz: u32,
    /// Whether the VM is the Service VM.
    pub privileged: bool,
    /// The guest's CR4.
    pub guest_cr4: u64,
    /// [`LEAF_DEBUG`] subleaves 0..=2 (Service VM only; zero elsewhere).
    pub debug: [[u32; 4]; DEBUG_SUBLEAVES],
}

fn set(bit: u32, on: bool, v: u32) -> u32 {
    if on {
        v | (1 << bit)
    } else {
        v & !(1 << bit)
    }
}

/// Whether the hypervisor answers `leaf` without asking the CPU.
pub const fn is_hypervisor_leaf(leaf: u32) -> bool {
    leaf >= 0x4000_0000 && leaf <= 0x4000_00ff
}

/// The guest's view of leaf `leaf`/`subleaf`, from the CPU's answer `native` (ignored for
/// hypervisor leaves).
pub fn guest_cpuid(leaf: u32, subleaf: u32, native: CpuidResult, ctx: &CpuidCtx) -> CpuidResult {
    let zero = CpuidResult::default();
    let mut r = native;
    match leaf {
        1 => {
            let xsave = r.ecx & (1 << 26) != 0;
            r.ecx = set(31, true, r.ecx);
            r.ecx = set(5, false, r.ecx);
            r.ecx = set(27, xsave && ctx.guest_cr4 & CR4_OSXSAVE != 0, r.ecx);
        }
        7 if subleaf == 0 => {
            let pku = r.ecx & (1 << 3) != 0;
            r.ecx = set(4, pku && ctx.guest_cr4 & CR4_PKE != 0, r.ecx);
        }
        0x8000_0001 => r.ecx = set(2, false, r.ecx),
        0x8000_000a => r = zero,
        LEAF_SIGNATURE => {
            r = CpuidResult {
                eax: LEAF_TIMING,
                ebx: ACRN_SIGNATURE,
                ecx: ACRN_SIGNATURE,
                edx: ACRN_SIGNATURE,
            }
        }
        LEAF_FEATURES => {
            r = CpuidResult {
                eax: if ctx.privileged {
                    FEATURE_PRIVILEGED_VM
                } else {
                    0
                },
                ..zero
            }
        }
        LEAF_TIMING => {
            r = CpuidResult {
                eax: ctx.tsc_khz,
                ..zero
            }
        }
        LEAF_DEBUG if ctx.privileged && (subleaf as usize) < DEBUG_SUBLEAVES => {
            let d = ctx.debug[subleaf as usize];
            r = CpuidResult {
                eax: d[0],
                ebx: d[1],
                ecx: d[2],
                edx: d[3],
            }
        }
        l if is_hypervisor_leaf(l) => r = zero,
        _ => {}
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: CpuidResult = CpuidResult {
        eax: u32::MAX,
        ebx: u32::MAX,
        ecx: u32::MAX,
        edx: u32::MAX,
    };

    fn ctx() -> CpuidCtx {
        CpuidCtx {
            tsc_khz: 2_500_000,
            privileged: true,
            guest_cr4: 0,
            debug: [
                [DEBUG_MAGIC, 1, 2, 3],
                [4, 5, 6, 7],
                [0x10000, 0x10867, 0, 0],
            ],
        }
    }

    #[test]
    fn acrn_leaves() {
        let r = guest_cpuid(LEAF_SIGNATURE, 0, ALL, &ctx());
        assert_eq!(r.eax, 0x4000_0010);
        let mut sig = [0u8; 12];
        sig[..4].copy_from_slice(&r.ebx.to_le_bytes());
        sig[4..8].copy_from_slice(&r.ecx.to_le_bytes());
        sig[8..].copy_from_slice(&r.edx.to_le_bytes());
        assert_eq!(&sig, b"ACRNACRNACRN");
        assert_eq!(guest_cpuid(LEAF_FEATURES, 0, ALL, &ctx()).eax, 1);
        let unpriv = CpuidCtx {
            privileged: false,
            ..ctx()
        };
        assert_eq!(guest_cpuid(LEAF_FEATURES, 0, ALL, &unpriv).eax, 0);
        assert_eq!(
            guest_cpuid(LEAF_TIMING, 0, ALL, &ctx()),
            CpuidResult {
                eax: 2_500_000,
                ..Default::default()
            }
        );
        assert_eq!(
            guest_cpuid(0x4000_0002, 0, ALL, &ctx()),
            CpuidResult::default()
        );
        assert_eq!(
            guest_cpuid(0x4000_0100, 0, ALL, &ctx()),
            ALL,
            "outside ACRN's range"
        );
    }

    #[test]
    fn debug_leaf_only_for_the_service_vm() {
        assert_eq!(guest_cpuid(LEAF_DEBUG, 1, ALL, &ctx()).edx, 7);
        assert_eq!(guest_cpuid(LEAF_DEBUG, 0, ALL, &ctx()).eax, DEBUG_MAGIC);
        let unpriv = CpuidCtx {
            privileged: false,
            ..ctx()
        };
        assert_eq!(
            guest_cpuid(LEAF_DEBUG, 0, ALL, &unpriv),
            CpuidResult::default()
        );
        assert_eq!(guest_cpuid(LEAF_DEBUG, 2, ALL, &ctx()).ebx, 0x10867);
        assert_eq!(
            guest_cpuid(LEAF_DEBUG, 3, ALL, &ctx()),
            CpuidResult::default()
        );
    }

    #[test]
    fn hypervisor_bit_and_svm_hidden() {
        let r = guest_cpuid(1, 0, CpuidResult::default(), &ctx());
        assert_eq!(r.ecx, 1 << 31);
        let r = guest_cpuid(1, 0, ALL, &ctx());
        assert_eq!(r.ecx & (1 << 5), 0, "no VMX");
        assert_eq!(r.ecx & (1 << 27), 0, "OSXSAVE follows the guest's CR4");
        let c = CpuidCtx {
            guest_cr4: CR4_OSXSAVE | CR4_PKE,
            ..ctx()
        };
        assert_ne!(guest_cpuid(1, 0, ALL, &c).ecx & (1 << 27), 0);
        assert_ne!(guest_cpuid(7, 0, ALL, &c).ecx & (1 << 4), 0);
        assert_eq!(guest_cpuid(7, 0, ALL, &ctx()).ecx & (1 << 4), 0);
        assert_eq!(guest_cpuid(0x8000_0001, 0, ALL, &ctx()).ecx & (1 << 2), 0);
        assert_eq!(
            guest_cpuid(0x8000_000a, 0, ALL, &ctx()),
            CpuidResult::default()
        );
    }
}
