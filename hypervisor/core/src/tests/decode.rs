// SPDX-License-Identifier: GPL-2.0

//! MMIO instruction decoding against hand-assembled byte sequences (every width and form),
//! and the register side of completing them.

use crate::decode::*;
use crate::mmio::*;

const fn r(index: u8, size: u8) -> GpReg {
    GpReg {
        index,
        size,
        high8: false,
    }
}
const fn h(index: u8) -> GpReg {
    GpReg {
        index,
        size: 1,
        high8: true,
    }
}
const RAX: u8 = 0;
const RCX: u8 = 1;

use MmioInsn::*;

/// (bytes, bitness, expected instruction, access width). Length = bytes.len().
fn table() -> Vec<(Vec<u8>, u32, MmioInsn, u8)> {
    let moffs64 = |op: &[u8]| {
        let mut v = op.to_vec();
        v.extend_from_slice(&0xfee0_0000_u64.to_le_bytes());
        v
    };
    let ld = |dst, sign| Load { dst, sign };
    vec![
        // mov [mem], reg: 88 / 89, every width, REX and high-byte registers.
        (vec![0x88, 0x08], 64, Store(Src::Reg(r(RCX, 1))), 1),
        (vec![0x88, 0x20], 64, Store(Src::Reg(h(RAX))), 1),
        (vec![0x40, 0x88, 0x30], 64, Store(Src::Reg(r(6, 1))), 1),
        (vec![0x44, 0x88, 0x00], 64, Store(Src::Reg(r(8, 1))), 1),
        (vec![0x66, 0x89, 0x08], 64, Store(Src::Reg(r(RCX, 2))), 2),
        (vec![0x89, 0x08], 64, Store(Src::Reg(r(RCX, 4))), 4),
        (vec![0x48, 0x89, 0x08], 64, Store(Src::Reg(r(RCX, 8))), 8),
        (vec![0x4c, 0x89, 0x38], 64, Store(Src::Reg(r(15, 8))), 8),
        // with a SIB and a disp32: mov [rax+rbx*4+0x10], edx
        (
            vec![0x89, 0x54, 0x98, 0x10],
            64,
            Store(Src::Reg(r(2, 4))),
            4,
        ),
        // mov reg, [mem]: 8A / 8B.
        (vec![0x8a, 0x08], 64, ld(r(RCX, 1), false), 1),
        (vec![0x8a, 0x28], 64, ld(h(RCX), false), 1),
        (vec![0x66, 0x8b, 0x08], 64, ld(r(RCX, 2), false), 2),
        (vec![0x8b, 0x08], 64, ld(r(RCX, 4), false), 4),
        (vec![0x48, 0x8b, 0x08], 64, ld(r(RCX, 8), false), 8),
        (vec![0x44, 0x8b, 0x08], 64, ld(r(9, 4), false), 4),
        // mov [mem], imm: C6 / C7 (imm32 sign-extended for 64 bits).
        (vec![0xc6, 0x00, 0xab], 64, Store(Src::Imm(0xab)), 1),
        (
            vec![0x66, 0xc7, 0x00, 0x34, 0x12],
            64,
            Store(Src::Imm(0x1234)),
            2,
        ),
        (
            vec![0xc7, 0x00, 0x78, 0x56, 0x34, 0x12],
            64,
            Store(Src::Imm(0x1234_5678)),
            4,
        ),
        (
            vec![0x48, 0xc7, 0x00, 0x00, 0x00, 0x00, 0x80],
            64,
            Store(Src::Imm(0xffff_ffff_8000_0000)),
            8,
        ),
        // moffs forms, 64-bit (8-byte offset), 32-bit and 16-bit.
        (moffs64(&[0xa0]), 64, ld(r(RAX, 1), false), 1),
        (moffs64(&[0x66, 0xa1]), 64, ld(r(RAX, 2), false), 2),
        (moffs64(&[0xa1]), 64, ld(r(RAX, 4), false), 4),
        (moffs64(&[0x48, 0xa1]), 64, ld(r(RAX, 8), false), 8),
        (moffs64(&[0xa2]), 64, Store(Src::Reg(r(RAX, 1))), 1),
        (moffs64(&[0x48, 0xa3]), 64, Store(Src::Reg(r(RAX, 8))), 8),
        (
            vec![0xa1, 0x00, 0x00, 0xe0, 0xfe],
            32,
            ld(r(RAX, 4), false),
            4,
        ),
        (
            vec![0x66, 0xa3, 0x00, 0x00, 0xe0, 0xfe],
            32,
            Store(Src::Reg(r(RAX, 2))),
            2,
        ),
        (vec![0xa1, 0x00, 0x10], 16, ld(r(RAX, 2), false), 2),
        (vec![0x66, 0xa1, 0x00, 0x10], 16, ld(r(RAX, 4), false), 4),
        // 16- and 32-bit ModRM.
        (vec![0x8b, 0x07], 16, ld(r(RAX, 2), false), 2),
        (vec![0x66, 0x8b, 0x07], 16, ld(r(RAX, 4), false), 4),
        (vec![0xc6, 0x07, 0x55], 16, Store(Src::Imm(0x55)), 1),
        (vec![0x89, 0x0b], 32, Store(Src::Reg(r(RCX, 4))), 4),
        (vec![0x66, 0x89, 0x0b], 32, Store(Src::Reg(r(RCX, 2))), 2),
        // movzx / movsx / movsxd.
        (vec![0x0f, 0xb6, 0x08], 64, ld(r(RCX, 4), false), 1),
        (vec![0x66, 0x0f, 0xb6, 0x08], 64, ld(r(RCX, 2), false), 1),
        (vec![0x48, 0x0f, 0xb6, 0x08], 64, ld(r(RCX, 8), false), 1),
        (vec![0x0f, 0xb7, 0x08], 64, ld(r(RCX, 4), false), 2),
        (vec![0x48, 0x0f, 0xb7, 0x08], 64, ld(r(RCX, 8), false), 2),
        (vec![0x0f, 0xbe, 0x08], 64, ld(r(RCX, 4), true), 1),
        (vec![0x66, 0x0f, 0xbe, 0x08], 64, ld(r(RCX, 2), true), 1),
        (vec![0x48, 0x0f, 0xbf, 0x08], 64, ld(r(RCX, 8), true), 2),
        (vec![0x0f, 0xbf, 0x08], 64, ld(r(RCX, 4), true), 2),
        (vec![0x48, 0x63, 0x08], 64, ld(r(RCX, 8), true), 4),
        (vec![0x0f, 0xb6, 0x07], 16, ld(r(RAX, 2), false), 1),
        // stos, every width and address size.
        (vec![0xaa], 64, Stos { addr_size: 8 }, 1),
        (vec![0x66, 0xab], 64, Stos { addr_size: 8 }, 2),
        (vec![0xab], 64, Stos { addr_size: 8 }, 4),
        (vec![0x48, 0xab], 64, Stos { addr_size: 8 }, 8),
        (vec![0x67, 0xaa], 64, Stos { addr_size: 4 }, 1),
        (vec![0xab], 32, Stos { addr_size: 4 }, 4),
        (vec![0xaa], 16, Stos { addr_size: 2 }, 1),
        (vec![0x66, 0xab], 16, Stos { addr_size: 2 }, 4),
        // and / or / xor to memory, register and immediate sources.
        (
            vec![0x21, 0x08],
            64,
            AluToMem {
                op: AluOp::And,
                src: Src::Reg(r(RCX, 4)),
            },
            4,
        ),
        (
            vec![0x08, 0x08],
            64,
            AluToMem {
                op: AluOp::Or,
                src: Src::Reg(r(RCX, 1)),
            },
            1,
        ),
        (
            vec![0x66, 0x31, 0x08],
            64,
            AluToMem {
                op: AluOp::Xor,
                src: Src::Reg(r(RCX, 2)),
            },
            2,
        ),
        (
            vec![0x80, 0x20, 0x0f],
            64,
            AluToMem {
                op: AluOp::And,
                src: Src::Imm(0x0f),
            },
            1,
        ),
        (
            vec![0x83, 0x08, 0x80],
            64,
            AluToMem {
                op: AluOp::Or,
                src: Src::Imm(0xffff_ff80),
            },
            4,
        ),
        (
            vec![0x48, 0x81, 0x30, 0x00, 0x00, 0x00, 0x80],
            64,
            AluToMem {
                op: AluOp::Xor,
                src: Src::Imm(0xffff_ffff_8000_0000),
            },
            8,
        ),
        (
            vec![0xf0, 0x09, 0x08],
            64,
            AluToMem {
                op: AluOp::Or,
                src: Src::Reg(r(RCX, 4)),
            },
            4,
        ),
        // and / or / xor into a register.
        (
            vec![0x0b, 0x08],
            64,
            AluToReg {
                op: AluOp::Or,
                dst: r(RCX, 4),
            },
            4,
        ),
        (
            vec![0x32, 0x08],
            64,
            AluToReg {
                op: AluOp::Xor,
                dst: r(RCX, 1),
            },
            1,
        ),
        (
            vec![0x48, 0x23, 0x08],
            64,
            AluToReg {
                op: AluOp::And,
                dst: r(RCX, 8),
            },
            8,
        ),
        // test / cmp.
        (
            vec![0x85, 0x08],
            64,
            Compare {
                op: AluOp::Test,
                src: Src::Reg(r(RCX, 4)),
                mem_first: true,
            },
            4,
        ),
        (
            vec![0xf6, 0x00, 0x01],
            64,
            Compare {
                op: AluOp::Test,
                src: Src::Imm(1),
                mem_first: true,
            },
            1,
        ),
        (
            vec![0x48, 0xf7, 0x00, 0xff, 0x00, 0x00, 0x00],
            64,
            Compare {
                op: AluOp::Test,
                src: Src::Imm(0xff),
                mem_first: true,
            },
            8,
        ),
        (
            vec![0x39, 0x08],
            64,
            Compare {
                op: AluOp::Cmp,
                src: Src::Reg(r(RCX, 4)),
                mem_first: true,
            },
            4,
        ),
        (
            vec![0x3b, 0x08],
            64,
            Compare {
                op: AluOp::Cmp,
                src: Src::Reg(r(RCX, 4)),
                mem_first: false,
            },
            4,
        ),
        (
            vec![0x80, 0x38, 0x05],
            64,
            Compare {
                op: AluOp::Cmp,
                src: Src::Imm(5),
                mem_first: true,
            },
            1,
        ),
        (
            vec![0x66, 0x83, 0x38, 0x05],
            64,
            Compare {
                op: AluOp::Cmp,
                src: Src::Imm(5),
                mem_first: true,
            },
            2,
        ),
    ]
}

#[test]
fn decode_table() {
    for (bytes, bits, insn, size) in table() {
        let got = decode(&bytes, bits);
        let want = MmioDecoded {
            insn,
            size,
            len: bytes.len() as u8,
        };
        assert_eq!(got, Ok(want), "{bytes:02x?} at {bits} bits");
        // Trailing bytes (the next instruction) do not change anything.
        let mut long = bytes.clone();
        long.extend_from_slice(&[0x90; 8]);
        assert_eq!(decode(&long, bits), Ok(want), "{bytes:02x?} + nops");
        // Cut short: invalid, never a panic.
        assert_eq!(
            decode(&bytes[..bytes.len() - 1], bits),
            Err(DecodeError::Invalid)
        );
    }
}

#[test]
fn unsupported_and_invalid() {
    let unsup: &[&[u8]] = &[
        &[0x0f, 0x01, 0xc1], // vmcall
        &[0xff, 0x00],       // inc dword [rax]
        &[0x8c, 0x18],       // mov [rax], ds
        &[0xa4],             // movsb
        &[0x0f, 0x10, 0x00], // movups xmm0, [rax]
        &[0x89, 0xc8],       // mov eax, ecx (no memory)
        &[0xf3, 0xaa],       // rep stosb
        &[0xf3, 0x48, 0xab], // rep stosq
        &[0x01, 0x08],       // add [rax], ecx
        &[0x87, 0x08],       // xchg [rax], ecx
        &[0x0f, 0xb1, 0x08], // cmpxchg
    ];
    for b in unsup {
        assert_eq!(decode(b, 64), Err(DecodeError::Unsupported), "{b:02x?}");
    }
    for b in [
        &[][..],
        &[0x48],
        &[0x8b],
        &[0x0f, 0x0b],
        &[0xc4, 0xe1, 0x7a, 0x6f, 0x00],
    ] {
        assert!(decode(b, 64).is_err(), "{b:02x?}");
    }
    assert_eq!(decode(&[0x8b, 0x08], 8), Err(DecodeError::Invalid));
    // 15 prefixes + opcode: too long.
    let mut long = vec![0x66; 15];
    long.extend_from_slice(&[0x8b, 0x08]);
    assert_eq!(decode(&long, 64), Err(DecodeError::Invalid));
}

#[test]
fn decode_never_panics_on_junk() {
    let mut x = 0x1234_5678_9abc_def0_u64;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        for bits in [16, 32, 64] {
            let _ = decode(&b[..(x as usize % 9)], bits);
        }
    }
}

#[test]
fn bitness_from_mode() {
    assert_eq!(bitness(true, false, false, false), 16);
    assert_eq!(bitness(false, true, true, false), 64);
    assert_eq!(bitness(false, true, false, true), 32); // compatibility mode
    assert_eq!(bitness(false, false, false, true), 32);
    assert_eq!(bitness(false, false, false, false), 16);
}

struct Bytes(Vec<u8>);
impl InsnFetch for Bytes {
    fn fetch(&self, la: u64, buf: &mut [u8; MAX_INSN_LEN]) -> Option<usize> {
        let s = self.0.get(la as usize..)?;
        let n = s.len().min(MAX_INSN_LEN);
        if n == 0 {
            return None;
        }
        buf[..n].copy_from_slice(&s[..n]);
        Some(n)
    }
}

#[test]
fn decode_through_fetch() {
    let f = Bytes(vec![0x90, 0x48, 0x8b, 0x08]);
    assert_eq!(decode_at(&f, 1, 64).unwrap().len, 3);
    assert_eq!(decode_at(&f, 9, 64), Err(DecodeError::Fetch));
    assert_eq!(decode_at(&f, 3, 64), Err(DecodeError::Invalid));
}

fn d(bytes: &[u8], bits: u32) -> MmioDecoded {
    decode(bytes, bits).unwrap()
}

#[test]
fn register_writes_follow_the_hardware() {
    let mut g = GuestGprs {
        gpr: [u64::MAX; 16],
        rflags: 0,
    };
    g.set(r(0, 4), 0x1234_5678_9abc);
    assert_eq!(g.gpr[0], 0x5678_9abc);
    g.gpr[0] = u64::MAX;
    g.set(r(0, 2), 0x1234);
    assert_eq!(g.gpr[0], 0xffff_ffff_ffff_1234);
    g.set(r(0, 1), 0x5a);
    assert_eq!(g.gpr[0], 0xffff_ffff_ffff_125a);
    g.set(h(0), 0x1a5);
    assert_eq!(g.gpr[0], 0xffff_ffff_ffff_a55a);
    assert_eq!(g.get(h(0)), 0xa5);
    g.set(r(15, 8), 7);
    assert_eq!(g.gpr[15], 7);
}

#[test]
fn reads_write_back_at_the_right_width() {
    let base = GuestGprs {
        gpr: [0xdead_beef_dead_beef; 16],
        rflags: 0x2,
    };
    let cases: &[(&[u8], u64, u64)] = &[
        // (instruction, device value, expected RCX)
        (&[0x8a, 0x08], 0x1ff, 0xdead_beef_dead_beff), // mov cl
        (&[0x8a, 0x28], 0x1ff, 0xdead_beef_dead_ffef), // mov ch
        (&[0x66, 0x8b, 0x08], 0x12_3456, 0xdead_beef_dead_3456), // mov cx
        (&[0x8b, 0x08], 0x1234_5678_9abc, 0x5678_9abc), // mov ecx: zero-extends
        (
            &[0x48, 0x8b, 0x08],
            0x1122_3344_5566_7788,
            0x1122_3344_5566_7788,
        ),
        (&[0x0f, 0xb6, 0x08], 0x80, 0x80), // movzx ecx, byte
        (&[0x66, 0x0f, 0xb6, 0x08], 0x80, 0xdead_beef_dead_0080), // movzx cx, byte
        (&[0x48, 0x0f, 0xb7, 0x08], 0xffff_8000, 0x8000), // movzx rcx, word
        (&[0x0f, 0xbe, 0x08], 0x80, 0xffff_ff80), // movsx ecx, byte
        (&[0x66, 0x0f, 0xbe, 0x08], 0x7f, 0xdead_beef_dead_007f), // movsx cx, byte
        (&[0x48, 0x0f, 0xbf, 0x08], 0x8000, 0xffff_ffff_ffff_8000), // movsx rcx, word
        (&[0x48, 0x63, 0x08], 0x8000_0000, 0xffff_ffff_8000_0000), // movsxd rcx, dword
        (&[0x0b, 0x08], 0x0f0f_0000, 0xdfaf_beef), // or ecx, [mem]
        (&[0x32, 0x08], 0xff, 0xdead_beef_dead_be10), // xor cl, [mem]
    ];
    for &(bytes, value, rcx) in cases {
        let dd = d(bytes, 64);
        let mut g = base;
        assert_eq!(request(&dd, &g), MmioRequest::Read);
        assert_eq!(complete_read(&dd, &mut g, value), None, "{bytes:02x?}");
        assert_eq!(g.gpr[1], rcx, "{bytes:02x?}");
        assert_eq!(g.gpr[0], base.gpr[0]);
    }
}

#[test]
fn writes_carry_the_right_value() {
    let g = GuestGprs {
        gpr: [0x1122_3344_5566_7788; 16],
        rflags: 0,
    };
    let cases: &[(&[u8], u64)] = &[
        (&[0x88, 0x08], 0x88),
        (&[0x88, 0x20], 0x77), // ah
        (&[0x66, 0x89, 0x08], 0x7788),
        (&[0x89, 0x08], 0x5566_7788),
        (&[0x48, 0x89, 0x08], 0x1122_3344_5566_7788),
        (&[0xc6, 0x00, 0xab], 0xab),
        (
            &[0x48, 0xc7, 0x00, 0x00, 0x00, 0x00, 0x80],
            0xffff_ffff_8000_0000,
        ),
        (&[0xaa], 0x88),
        (&[0x48, 0xab], 0x1122_3344_5566_7788),
    ];
    for &(bytes, v) in cases {
        assert_eq!(
            request(&d(bytes, 64), &g),
            MmioRequest::Write(v),
            "{bytes:02x?}"
        );
    }
}

#[test]
fn read_modify_write_and_flags() {
    let mut g = GuestGprs::default();
    g.gpr[1] = 0xff00;
    // and [mem], ecx with memory 0x0ff0 -> 0x0f00, written back; ZF clear, PF of 0x00.
    let and = d(&[0x21, 0x08], 64);
    assert_eq!(complete_read(&and, &mut g, 0x0ff0), Some(0x0f00));
    assert_eq!(g.rflags & (RFLAGS_ZF | RFLAGS_CF | RFLAGS_OF), 0);
    assert_ne!(g.rflags & RFLAGS_PF, 0);
    // or byte [mem], 0x80: SF set.
    let or = d(&[0x80, 0x08, 0x80], 64);
    assert_eq!(complete_read(&or, &mut g, 0x01), Some(0x81));
    assert_ne!(g.rflags & RFLAGS_SF, 0);
    // 83 /1 with a negative imm8 at 32 bits: the result stays 32 bits.
    let or32 = d(&[0x83, 0x08, 0x80], 64);
    assert_eq!(complete_read(&or32, &mut g, 1), Some(0xffff_ff81));
    // test byte [mem], 1 with memory 2: ZF, nothing written, registers unchanged.
    let test = d(&[0xf6, 0x00, 0x01], 64);
    let before = g.gpr;
    assert_eq!(complete_read(&test, &mut g, 2), None);
    assert_ne!(g.rflags & RFLAGS_ZF, 0);
    assert_eq!(g.gpr, before);
    // cmp [mem], ecx: mem 1, ecx 2 -> borrow (CF), SF, not zero.
    g.gpr[1] = 2;
    let cmp = d(&[0x39, 0x08], 64);
    complete_read(&cmp, &mut g, 1);
    assert_eq!(
        g.rflags & (RFLAGS_CF | RFLAGS_SF | RFLAGS_ZF),
        RFLAGS_CF | RFLAGS_SF
    );
    // cmp ecx, [mem]: 2 - 1: no flags but PF clear (1 has odd parity).
    let cmp_r = d(&[0x3b, 0x08], 64);
    complete_read(&cmp_r, &mut g, 1);
    assert_eq!(
        g.rflags & (RFLAGS_CF | RFLAGS_SF | RFLAGS_ZF | RFLAGS_PF),
        0
    );
    // cmp byte [mem], 5 with 5: ZF; signed overflow 0x80 - 1 sets OF.
    let cmpb = d(&[0x80, 0x38, 0x05], 64);
    complete_read(&cmpb, &mut g, 5);
    assert_ne!(g.rflags & RFLAGS_ZF, 0);
    let cmpb1 = d(&[0x80, 0x38, 0x01], 64);
    complete_read(&cmpb1, &mut g, 0x80);
    assert_eq!(g.rflags & (RFLAGS_OF | RFLAGS_CF), RFLAGS_OF);
    // Unrelated RFLAGS bits (IF, DF, bit 1) survive.
    g.rflags |= RFLAGS_DF | (1 << 9) | 2;
    complete_read(&test, &mut g, 1);
    assert_eq!(
        g.rflags & (RFLAGS_DF | (1 << 9) | 2),
        RFLAGS_DF | (1 << 9) | 2
    );
}

#[test]
fn stos_moves_rdi_by_width_and_direction() {
    let cases: &[(&[u8], u32, u64, bool, u64)] = &[
        (&[0xaa], 64, 0x1000, false, 0x1001),
        (&[0xaa], 64, 0x1000, true, 0xfff),
        (&[0x66, 0xab], 64, 0x1000, false, 0x1002),
        (&[0xab], 64, 0x1000, true, 0xffc),
        (&[0x48, 0xab], 64, 0x1000, false, 0x1008),
        (&[0x48, 0xab], 64, 0, true, u64::MAX - 7),
        // 32-bit address size: EDI wraps and zero-extends.
        (&[0x67, 0xab], 64, 0xffff_ffff_ffff_fffe, false, 0x2),
        (&[0xab], 32, 0x0000_0001_0000_0000, true, 0xffff_fffc),
        // 16-bit: DI wraps, the rest of RDI stays.
        (&[0xaa], 16, 0x1234_ffff, false, 0x1234_0000),
        (&[0x66, 0xab], 16, 0x1234_0002, true, 0x1234_fffe),
    ];
    for &(bytes, bits, rdi, df, want) in cases {
        let dd = d(bytes, bits);
        let mut g = GuestGprs::default();
        g.gpr[7] = rdi;
        g.rflags = if df { RFLAGS_DF } else { 0 };
        complete_write(&dd, &mut g);
        assert_eq!(g.gpr[7], want, "{bytes:02x?} at {bits} bits, df {df}");
    }
    // A plain mov store leaves the registers alone.
    let mut g = GuestGprs::default();
    complete_write(&d(&[0x89, 0x08], 64), &mut g);
    assert_eq!(g, GuestGprs::default());
}
