// SPDX-License-Identifier: GPL-2.0

//! Decoding the guest instruction that faulted on an MMIO address (a GPA outside the VM's
//! regions) into an [`MmioInsn`]: access width, direction, register or immediate operand,
//! extension, destination register. The x86 decoding itself is `iced-x86` (decoder only,
//! legacy encodings: no VEX/EVEX/XOP/3DNow! tables); this module only maps its result onto
//! what ACRN's `instr_emul.c` supports for MMIO:
//!
//! * `mov` in every form (`88/89/8A/8B`, `C6/C7`, the `A0..A3` moffs forms), `movzx`,
//!   `movsx`, `movsxd`;
//! * `stos{b,w,d,q}` without `rep` (rDI moves by ±width as RFLAGS.DF says);
//! * `and`/`or`/`xor` with memory as either operand (register or immediate source),
//!   `test` and `cmp` (flags only).
//!
//! Anything else is [`DecodeError::Unsupported`]; the caller injects nothing and parks or
//! reports the access (never panics: the bytes are guest-controlled). The bytes come from
//! an [`InsnFetch`], in the hypervisor the guest's page tables
//! ([`page_walk::fetch`](crate::page_walk::fetch)).

use iced_x86::{Decoder, DecoderOptions, Instruction, MemorySize, Mnemonic, OpKind, Register};

/// Longest x86 instruction.
pub const MAX_INSN_LEN: usize = 15;

/// Where instruction bytes come from.
pub trait InsnFetch {
    /// Fills `buf` from guest linear `la` onwards; returns how many bytes are readable
    /// (at least 1), or `None` if the first byte is not (the guest gets its `#PF`
    /// elsewhere).
    fn fetch(&self, la: u64, buf: &mut [u8; MAX_INSN_LEN]) -> Option<usize>;
}

/// A general-purpose register operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpReg {
    /// 0 = RAX … 15 = R15 (encoding order).
    pub index: u8,
    /// Width in bytes: 1, 2, 4, 8.
    pub size: u8,
    /// AH, CH, DH, BH: bits 15:8 of RAX..RBX.
    pub high8: bool,
}

/// The source of a written or combined value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// A register (same width as the access).
    Reg(GpReg),
    /// An immediate, sign-extended to the operand width (and no further).
    Imm(u64),
}

/// A logical or comparing operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    /// `and`.
    And,
    /// `or`.
    Or,
    /// `xor`.
    Xor,
    /// `test` (an `and` that only sets flags).
    Test,
    /// `cmp` (a `sub` that only sets flags).
    Cmp,
}

/// What the faulting instruction does with the MMIO location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmioInsn {
    /// `mov [mem], src`: a write.
    Store(Src),
    /// `mov`/`movzx`/`movsx`/`movsxd reg, [mem]`: a read into `dst` (wider than the access
    /// for the extending forms).
    Load {
        /// Destination register.
        dst: GpReg,
        /// Sign-extend (`movsx`, `movsxd`) rather than zero-extend.
        sign: bool,
    },
    /// `stos`: writes the low bytes of RAX, then moves rDI.
    Stos {
        /// Address size in bytes (which of DI/EDI/RDI moves).
        addr_size: u8,
    },
    /// `op [mem], src` (`and`/`or`/`xor`): a read, then a write of the result, and flags.
    AluToMem {
        /// The operation.
        op: AluOp,
        /// The second operand.
        src: Src,
    },
    /// `op reg, [mem]` (`and`/`or`/`xor`): a read, the result into `dst`, and flags.
    AluToReg {
        /// The operation.
        op: AluOp,
        /// Destination (and first operand).
        dst: GpReg,
    },
    /// `test`/`cmp`: a read and flags. `mem_first`: memory is the first operand
    /// (`cmp [mem], src`), else `cmp reg, [mem]`.
    Compare {
        /// `Test` or `Cmp`.
        op: AluOp,
        /// The other operand.
        src: Src,
        /// Memory is the first operand.
        mem_first: bool,
    },
}

/// A decoded MMIO instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioDecoded {
    /// What it does.
    pub insn: MmioInsn,
    /// Width of the memory access in bytes: 1, 2, 4, 8.
    pub size: u8,
    /// Instruction length (RIP advances by it).
    pub len: u8,
}

/// Why an instruction could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes do not decode (invalid, or cut short by an unreadable page).
    Invalid,
    /// A valid instruction this emulator does not handle (including `rep stos`).
    Unsupported,
    /// The instruction bytes could not be read.
    Fetch,
}

/// The decoder's bitness from the guest's state: 16 in real mode, 64 for a long-mode
/// code segment (EFER.LMA and CS.L), else 32 or 16 from CS.D.
pub fn bitness(real_mode: bool, efer_lma: bool, cs_l: bool, cs_d: bool) -> u32 {
    if real_mode {
        16
    } else if efer_lma && cs_l {
        64
    } else if cs_d {
        32
    } else {
        16
    }
}

fn gp_reg(r: Register) -> Option<GpReg> {
    let n = r as u32;
    let (index, size, high8) = match n {
        1..=4 => (n - 1, 1, false),
        5..=8 => (n - 5, 1, true),
        9..=20 => (n - 5, 1, false),
        21..=36 => (n - 21, 2, false),
        37..=52 => (n - 37, 4, false),
        53..=68 => (n - 53, 8, false),
        _ => return None,
    };
    Some(GpReg {
        index: index as u8,
        size,
        high8,
    })
}

fn mem_size(m: MemorySize) -> Option<u8> {
    Some(match m {
        MemorySize::UInt8 | MemorySize::Int8 => 1,
        MemorySize::UInt16 | MemorySize::Int16 => 2,
        MemorySize::UInt32 | MemorySize::Int32 => 4,
        MemorySize::UInt64 | MemorySize::Int64 => 8,
        _ => return None,
    })
}

fn is_mem(k: OpKind) -> bool {
    matches!(
        k,
        OpKind::Memory | OpKind::MemoryESDI | OpKind::MemoryESEDI | OpKind::MemoryESRDI
    )
}

fn src(i: &Instruction, op: u32, size: u8) -> Option<Src> {
    match i.op_kind(op) {
        OpKind::Register => gp_reg(i.op_register(op)).map(Src::Reg),
        OpKind::Immediate8
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate64
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32
        | OpKind::Immediate8to64
        | OpKind::Immediate32to64 => Some(Src::Imm(
            i.immediate(op) & crate::ioreq::size_mask(u64::from(size)),
        )),
        _ => None,
    }
}

/// Decodes one instruction from `bytes` at the given bitness.
pub fn decode(bytes: &[u8], bitness: u32) -> Result<MmioDecoded, DecodeError> {
    let mut d =
        Decoder::try_new(bitness, bytes, DecoderOptions::NONE).map_err(|_| DecodeError::Invalid)?;
    let i = d.decode();
    if i.is_invalid() {
        return Err(DecodeError::Invalid);
    }
    let unsup = DecodeError::Unsupported;
    if i.op_count() != 2 {
        return Err(unsup);
    }
    let m = (0..2).find(|&k| is_mem(i.op_kind(k))).ok_or(unsup)?;
    let other = 1 - m;
    let size = mem_size(i.memory_size()).ok_or(unsup)?;
    let reg = |op| {
        if i.op_kind(op) == OpKind::Register {
            gp_reg(i.op_register(op)).ok_or(unsup)
        } else {
            Err(unsup)
        }
    };
    let insn = match i.mnemonic() {
        Mnemonic::Mov if m == 0 => MmioInsn::Store(src(&i, other, size).ok_or(unsup)?),
        Mnemonic::Mov => MmioInsn::Load {
            dst: reg(0)?,
            sign: false,
        },
        Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd if m == 1 => MmioInsn::Load {
            dst: reg(0)?,
            sign: i.mnemonic() != Mnemonic::Movzx,
        },
        Mnemonic::Stosb | Mnemonic::Stosw | Mnemonic::Stosd | Mnemonic::Stosq => {
            if i.has_rep_prefix() || i.has_repne_prefix() {
                return Err(unsup);
            }
            let addr_size = match i.op_kind(0) {
                OpKind::MemoryESDI => 2,
                OpKind::MemoryESEDI => 4,
                _ => 8,
            };
            MmioInsn::Stos { addr_size }
        }
        op @ (Mnemonic::And | Mnemonic::Or | Mnemonic::Xor) => {
            let op = match op {
                Mnemonic::And => AluOp::And,
                Mnemonic::Or => AluOp::Or,
                _ => AluOp::Xor,
            };
            if m == 0 {
                MmioInsn::AluToMem {
                    op,
                    src: src(&i, 1, size).ok_or(unsup)?,
                }
            } else {
                MmioInsn::AluToReg { op, dst: reg(0)? }
            }
        }
        op @ (Mnemonic::Test | Mnemonic::Cmp) => MmioInsn::Compare {
            op: if op == Mnemonic::Test {
                AluOp::Test
            } else {
                AluOp::Cmp
            },
            src: src(&i, other, size).ok_or(unsup)?,
            mem_first: m == 0,
        },
        _ => return Err(unsup),
    };
    Ok(MmioDecoded {
        insn,
        size,
        len: i.len() as u8,
    })
}

/// Fetches the instruction at guest linear `la` through `fetch` and decodes it.
pub fn decode_at<F: InsnFetch + ?Sized>(
    fetch: &F,
    la: u64,
    bitness: u32,
) -> Result<MmioDecoded, DecodeError> {
    let mut buf = [0u8; MAX_INSN_LEN];
    let n = fetch.fetch(la, &mut buf).ok_or(DecodeError::Fetch)?;
    decode(buf.get(..n).ok_or(DecodeError::Fetch)?, bitness)
}
