// SPDX-License-Identifier: GPL-2.0

//! Decoding VM-exit information (SDM vol. 3C, 28.2 and appendix C): the basic exit reason,
//! and the exit qualifications of I/O instructions, control-register accesses and EPT
//! violations. Pure functions over the raw field values.

macro_rules! reasons {
    ($($(#[$m:meta])* $name:ident = $n:literal,)*) => {
        /// Basic exit reasons (exit-reason bits 15:0).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        pub enum ExitReason {
            $($(#[$m])* $name = $n,)*
        }

        impl ExitReason {
            /// The reason numbered `n`, if the SDM defines it.
            pub const fn from_basic(n: u16) -> Option<Self> {
                match n {
                    $($n => Some(Self::$name),)*
                    _ => None,
                }
            }

            #[cfg(test)]
            const ALL: &'static [Self] = &[$(Self::$name),*];
        }
    };
}

reasons! {
    /// Exception or NMI.
    ExceptionNmi = 0,
    /// External interrupt.
    ExternalInterrupt = 1,
    /// Triple fault.
    TripleFault = 2,
    /// INIT signal.
    Init = 3,
    /// Start-up IPI.
    Sipi = 4,
    /// I/O SMI.
    IoSmi = 5,
    /// Other SMI.
    OtherSmi = 6,
    /// Interrupt window.
    InterruptWindow = 7,
    /// NMI window.
    NmiWindow = 8,
    /// Task switch.
    TaskSwitch = 9,
    /// CPUID.
    Cpuid = 10,
    /// GETSEC.
    Getsec = 11,
    /// HLT.
    Hlt = 12,
    /// INVD.
    Invd = 13,
    /// INVLPG.
    Invlpg = 14,
    /// RDPMC.
    Rdpmc = 15,
    /// RDTSC.
    Rdtsc = 16,
    /// RSM.
    Rsm = 17,
    /// VMCALL.
    Vmcall = 18,
    /// VMCLEAR.
    Vmclear = 19,
    /// VMLAUNCH.
    Vmlaunch = 20,
    /// VMPTRLD.
    Vmptrld = 21,
    /// VMPTRST.
    Vmptrst = 22,
    /// VMREAD.
    Vmread = 23,
    /// VMRESUME.
    Vmresume = 24,
    /// VMWRITE.
    Vmwrite = 25,
    /// VMXOFF.
    Vmxoff = 26,
    /// VMXON.
    Vmxon = 27,
    /// Control-register access.
    CrAccess = 28,
    /// MOV DR.
    DrAccess = 29,
    /// I/O instruction.
    IoInstruction = 30,
    /// RDMSR.
    Rdmsr = 31,
    /// WRMSR.
    Wrmsr = 32,
    /// VM-entry failure: invalid guest state.
    InvalidGuestState = 33,
    /// VM-entry failure: MSR loading.
    MsrLoading = 34,
    /// MWAIT.
    Mwait = 36,
    /// Monitor trap flag.
    MonitorTrapFlag = 37,
    /// MONITOR.
    Monitor = 39,
    /// PAUSE.
    Pause = 40,
    /// VM-entry failure: machine check.
    MachineCheck = 41,
    /// TPR below threshold.
    TprBelowThreshold = 43,
    /// APIC access.
    ApicAccess = 44,
    /// Virtualized EOI.
    VirtualizedEoi = 45,
    /// GDTR/IDTR access.
    GdtrIdtr = 46,
    /// LDTR/TR access.
    LdtrTr = 47,
    /// EPT violation.
    EptViolation = 48,
    /// EPT misconfiguration.
    EptMisconfig = 49,
    /// INVEPT.
    Invept = 50,
    /// RDTSCP.
    Rdtscp = 51,
    /// VMX-preemption timer expired.
    PreemptionTimer = 52,
    /// INVVPID.
    Invvpid = 53,
    /// WBINVD/WBNOINVD.
    Wbinvd = 54,
    /// XSETBV.
    Xsetbv = 55,
    /// APIC write.
    ApicWrite = 56,
    /// RDRAND.
    Rdrand = 57,
    /// INVPCID.
    Invpcid = 58,
    /// VMFUNC.
    Vmfunc = 59,
    /// ENCLS.
    Encls = 60,
    /// RDSEED.
    Rdseed = 61,
    /// Page-modification log full.
    PmlFull = 62,
    /// XSAVES.
    Xsaves = 63,
    /// XRSTORS.
    Xrstors = 64,
}

/// The exit-reason field, split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitInfo {
    /// Bits 15:0.
    pub basic: u16,
    /// Bit 31: VM-entry failure (the guest never ran).
    pub entry_failure: bool,
}

impl ExitInfo {
    /// Decodes the 32-bit exit-reason field.
    pub const fn decode(field: u32) -> Self {
        Self {
            basic: field as u16,
            entry_failure: field & (1 << 31) != 0,
        }
    }

    /// The basic reason, if known.
    pub const fn reason(&self) -> Option<ExitReason> {
        ExitReason::from_basic(self.basic)
    }
}

/// Exit qualification of an I/O instruction (SDM table 28-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoQual {
    /// Access size in bytes: 1, 2 or 4.
    pub size: u8,
    /// IN/INS (else OUT/OUTS).
    pub input: bool,
    /// INS/OUTS.
    pub string: bool,
    /// REP prefix.
    pub rep: bool,
    /// Port from an immediate (else DX).
    pub imm: bool,
    /// Port.
    pub port: u16,
}

impl IoQual {
    /// Decodes the qualification; `None` for the reserved size encoding.
    pub const fn decode(q: u64) -> Option<Self> {
        let size = match q & 7 {
            0 => 1,
            1 => 2,
            3 => 4,
            _ => return None,
        };
        Some(Self {
            size,
            input: q & (1 << 3) != 0,
            string: q & (1 << 4) != 0,
            rep: q & (1 << 5) != 0,
            imm: q & (1 << 6) != 0,
            port: (q >> 16) as u16,
        })
    }
}

/// Exit qualification of a control-register access (SDM table 28-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrAccess {
    /// MOV to CR`cr` from general register `gpr` (0 = RAX … 15 = R15).
    MovTo {
        /// Control register.
        cr: u8,
        /// Source register.
        gpr: u8,
    },
    /// MOV from CR`cr` to general register `gpr`.
    MovFrom {
        /// Control register.
        cr: u8,
        /// Destination register.
        gpr: u8,
    },
    /// CLTS.
    Clts,
    /// LMSW with this source value (a memory operand if `mem`).
    Lmsw {
        /// The 16-bit source.
        data: u16,
        /// Memory operand.
        mem: bool,
    },
}

impl CrAccess {
    /// Decodes the qualification.
    pub const fn decode(q: u64) -> Self {
        let cr = (q & 0xf) as u8;
        let gpr = ((q >> 8) & 0xf) as u8;
        match (q >> 4) & 3 {
            0 => Self::MovTo { cr, gpr },
            1 => Self::MovFrom { cr, gpr },
            2 => Self::Clts,
            _ => Self::Lmsw {
                data: (q >> 16) as u16,
                mem: q & (1 << 6) != 0,
            },
        }
    }
}

/// Exit qualification of an EPT violation (SDM table 28-7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EptViolation {
    /// The access was a data read.
    pub read: bool,
    /// The access was a data write.
    pub write: bool,
    /// The access was an instruction fetch.
    pub fetch: bool,
    /// The guest-physical address was readable.
    pub readable: bool,
    /// … writable.
    pub writable: bool,
    /// … executable.
    pub executable: bool,
    /// The guest-linear address field is valid.
    pub linear_valid: bool,
    /// The access was to the translated address (else to a guest paging structure);
    /// meaningful only with `linear_valid`.
    pub translated: bool,
}

impl EptViolation {
    /// Decodes the qualification.
    pub const fn decode(q: u64) -> Self {
        Self {
            read: q & 1 != 0,
            write: q & (1 << 1) != 0,
            fetch: q & (1 << 2) != 0,
            readable: q & (1 << 3) != 0,
            writable: q & (1 << 4) != 0,
            executable: q & (1 << 5) != 0,
            linear_valid: q & (1 << 7) != 0,
            translated: q & (1 << 8) != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip() {
        for &r in ExitReason::ALL {
            assert_eq!(ExitReason::from_basic(r as u16), Some(r));
        }
        assert_eq!(ExitReason::ALL.len(), 62);
        for gap in [35, 38, 42, 65, 0xffff] {
            assert_eq!(ExitReason::from_basic(gap), None);
        }
        assert_eq!(ExitReason::Vmcall as u16, 18);
        assert_eq!(ExitReason::EptViolation as u16, 48);
        assert_eq!(ExitReason::Xsetbv as u16, 55);
    }

    #[test]
    fn exit_reason_field() {
        let e = ExitInfo::decode(0x8000_0021);
        assert!(e.entry_failure);
        assert_eq!(e.reason(), Some(ExitReason::InvalidGuestState));
        let e = ExitInfo::decode(10);
        assert_eq!(
            (e.entry_failure, e.reason()),
            (false, Some(ExitReason::Cpuid))
        );
    }

    #[test]
    fn io_qualification() {
        // out dx, al with DX = 0x3f8.
        assert_eq!(
            IoQual::decode(0x03f8_0000),
            Some(IoQual {
                size: 1,
                input: false,
                string: false,
                rep: false,
                imm: false,
                port: 0x3f8
            })
        );
        // rep insd, port 0x1f0.
        let q = IoQual::decode(0x01f0_0000 | 0x3 | 0x8 | 0x10 | 0x20).unwrap();
        assert_eq!(
            (q.size, q.input, q.string, q.rep, q.port),
            (4, true, true, true, 0x1f0)
        );
        // in al, 0x61 (immediate).
        assert!(IoQual::decode(0x0061_0048).unwrap().imm);
        assert_eq!(IoQual::decode(2), None);
    }

    #[test]
    fn cr_qualification() {
        // mov cr4, rbx
        assert_eq!(CrAccess::decode(0x0304), CrAccess::MovTo { cr: 4, gpr: 3 });
        // mov r12, cr3
        assert_eq!(
            CrAccess::decode(0x0c13),
            CrAccess::MovFrom { cr: 3, gpr: 12 }
        );
        assert_eq!(CrAccess::decode(0x20), CrAccess::Clts);
        assert_eq!(
            CrAccess::decode(0x0001_0070),
            CrAccess::Lmsw { data: 1, mem: true }
        );
    }

    #[test]
    fn ept_violation_qualification() {
        let v = EptViolation::decode(0x182);
        assert!(v.write && !v.read && !v.fetch);
        assert!(!v.readable && v.linear_valid && v.translated);
        let v = EptViolation::decode(0x0c);
        assert!(v.fetch && v.readable && !v.linear_valid);
    }
}
