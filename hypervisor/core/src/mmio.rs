// SPDX-License-Identifier: GPL-2.0

//! Carrying out a decoded MMIO instruction ([`crate::decode`]) on the vCPU's registers:
//! the value of a write, and on completion of a read the register write-back and flags
//! (ACRN `instr_emul.c`: `vie_update_register`, `emulate_mov`, `emulate_movx`,
//! `emulate_stos`, `emulate_and`/`or`/`test`/`cmp`, `getcc`).
//!
//! Register writes follow the hardware: a 32-bit destination zero-extends into 64 bits,
//! 8- and 16-bit ones keep the upper bits (AH..BH write bits 15:8).
//!
//! One access per request: `and`/`or`/`xor` with memory as destination need a read, then
//! a write of the result; [`complete_read`] returns that second write for the caller to
//! send as another IOREQ.

use crate::decode::{AluOp, GpReg, MmioDecoded, MmioInsn, Src};
use crate::ioreq::size_mask;

/// RFLAGS.CF.
pub const RFLAGS_CF: u64 = 1 << 0;
/// RFLAGS.PF.
pub const RFLAGS_PF: u64 = 1 << 2;
/// RFLAGS.AF.
pub const RFLAGS_AF: u64 = 1 << 4;
/// RFLAGS.ZF.
pub const RFLAGS_ZF: u64 = 1 << 6;
/// RFLAGS.SF.
pub const RFLAGS_SF: u64 = 1 << 7;
/// RFLAGS.DF.
pub const RFLAGS_DF: u64 = 1 << 10;
/// RFLAGS.OF.
pub const RFLAGS_OF: u64 = 1 << 11;
const ARITH: u64 = RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF;

/// The vCPU state an MMIO instruction touches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestGprs {
    /// RAX … R15 in encoding order.
    pub gpr: [u64; 16],
    /// RFLAGS.
    pub rflags: u64,
}

impl GuestGprs {
    /// Reads register `r` at its width (zero-extended).
    pub fn get(&self, r: GpReg) -> u64 {
        let full = self.gpr[usize::from(r.index & 15)];
        if r.high8 {
            (full >> 8) & 0xff
        } else {
            full & size_mask(u64::from(r.size))
        }
    }

    /// Writes `val` to register `r` as the hardware does: 8 bytes whole, 4 bytes
    /// zero-extended, 1 and 2 bytes merged into the low bits (AH..BH into bits 15:8).
    pub fn set(&mut self, r: GpReg, val: u64) {
        let full = &mut self.gpr[usize::from(r.index & 15)];
        *full = match (r.size, r.high8) {
            (_, true) => (*full & !0xff00) | ((val & 0xff) << 8),
            (8, _) => val,
            (4, _) => val & 0xffff_ffff,
            (s, _) => {
                let mask = size_mask(u64::from(s));
                (*full & !mask) | (val & mask)
            }
        };
    }

    fn src(&self, s: Src) -> u64 {
        match s {
            Src::Reg(r) => self.get(r),
            Src::Imm(v) => v,
        }
    }
}

/// What the IOREQ for this instruction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmioRequest {
    /// A write of this value (masked to the access width).
    Write(u64),
    /// A read.
    Read,
}

/// The first (often only) access of `d` with the vCPU in state `regs`.
pub fn request(d: &MmioDecoded, regs: &GuestGprs) -> MmioRequest {
    let mask = size_mask(u64::from(d.size));
    match d.insn {
        MmioInsn::Store(s) => MmioRequest::Write(regs.src(s) & mask),
        MmioInsn::Stos { .. } => MmioRequest::Write(regs.gpr[0] & mask),
        _ => MmioRequest::Read,
    }
}

fn sign_extend(v: u64, size: u8) -> u64 {
    let bits = 8 * u32::from(size);
    if bits >= 64 {
        v
    } else {
        let shift = 64 - bits;
        (((v << shift) as i64) >> shift) as u64
    }
}

fn parity(v: u64) -> bool {
    (v as u8).count_ones().is_multiple_of(2)
}

/// Result and RFLAGS after `a op b` at `size` bytes (logical ops clear CF, OF and AF).
pub fn alu(op: AluOp, a: u64, b: u64, size: u8, rflags: u64) -> (u64, u64) {
    let mask = size_mask(u64::from(size));
    let sign = 1u64 << (8 * u32::from(size) - 1);
    let (a, b) = (a & mask, b & mask);
    let (r, mut f) = match op {
        AluOp::And | AluOp::Test => (a & b, 0),
        AluOp::Or => (a | b, 0),
        AluOp::Xor => (a ^ b, 0),
        AluOp::Cmp => {
            let r = a.wrapping_sub(b) & mask;
            let mut f = 0;
            if a < b {
                f |= RFLAGS_CF;
            }
            if (a ^ b) & (a ^ r) & sign != 0 {
                f |= RFLAGS_OF;
            }
            if (a ^ b ^ r) & 0x10 != 0 {
                f |= RFLAGS_AF;
            }
            (r, f)
        }
    };
    if r == 0 {
        f |= RFLAGS_ZF;
    }
    if r & sign != 0 {
        f |= RFLAGS_SF;
    }
    if parity(r) {
        f |= RFLAGS_PF;
    }
    (r, (rflags & !ARITH) | f)
}

/// Completes a read of `d` with `value` from the device: updates `regs` (destination
/// register, flags) and returns the value still to be written back to the MMIO location
/// (`and`/`or`/`xor` to memory), if any. `value` is masked to the access width first.
pub fn complete_read(d: &MmioDecoded, regs: &mut GuestGprs, value: u64) -> Option<u64> {
    let v = value & size_mask(u64::from(d.size));
    match d.insn {
        MmioInsn::Load { dst, sign } => {
            let v = if sign { sign_extend(v, d.size) } else { v };
            regs.set(dst, v);
            None
        }
        MmioInsn::AluToMem { op, src } => {
            let (r, f) = alu(op, v, regs.src(src), d.size, regs.rflags);
            regs.rflags = f;
            Some(r)
        }
        MmioInsn::AluToReg { op, dst } => {
            let (r, f) = alu(op, regs.get(dst), v, dst.size, regs.rflags);
            regs.rflags = f;
            regs.set(dst, r);
            None
        }
        MmioInsn::Compare { op, src, mem_first } => {
            let s = regs.src(src);
            let (a, b) = if mem_first { (v, s) } else { (s, v) };
            regs.rflags = alu(op, a, b, d.size, regs.rflags).1;
            None
        }
        MmioInsn::Store(_) | MmioInsn::Stos { .. } => None,
    }
}

/// Completes a write of `d`: `stos` moves rDI by the width, down if RFLAGS.DF is set, at
/// its address size (DI and EDI wrap; EDI zero-extends into RDI).
pub fn complete_write(d: &MmioDecoded, regs: &mut GuestGprs) {
    if let MmioInsn::Stos { addr_size } = d.insn {
        let rdi = GpReg {
            index: 7,
            size: addr_size,
            high8: false,
        };
        let step = u64::from(d.size);
        let di = regs.get(rdi);
        let di = if regs.rflags & RFLAGS_DF != 0 {
            di.wrapping_sub(step)
        } else {
            di.wrapping_add(step)
        };
        regs.set(rdi, di);
    }
}
