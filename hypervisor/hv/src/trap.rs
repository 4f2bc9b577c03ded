// SPDX-License-Identifier: GPL-2.0

//! The hypervisor's own IDT: exceptions 0..31 log the vector, error code, RIP and CR2 and
//! park the CPU (a trap here is a hypervisor bug; this turns a silent triple fault into a
//! log line). The reserved pCPUs take one interrupt on purpose: the kick IPI
//! ([`KICK_VECTOR`]), whose handler only sends EOI; NMIs return at once.

use acrn_hv_boot::error;
use acrn_hv_boot::x86::halt_forever;

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .section .text.trap, "ax"
trap_stub_0:
    push $0
    push $0
    jmp trap_common
trap_stub_1:
    push $0
    push $1
    jmp trap_common
trap_stub_2:
    push $0
    push $2
    jmp trap_common
trap_stub_3:
    push $0
    push $3
    jmp trap_common
trap_stub_4:
    push $0
    push $4
    jmp trap_common
trap_stub_5:
    push $0
    push $5
    jmp trap_common
trap_stub_6:
    push $0
    push $6
    jmp trap_common
trap_stub_7:
    push $0
    push $7
    jmp trap_common
trap_stub_8:
    push $8
    jmp trap_common
trap_stub_9:
    push $0
    push $9
    jmp trap_common
trap_stub_10:
    push $10
    jmp trap_common
trap_stub_11:
    push $11
    jmp trap_common
trap_stub_12:
    push $12
    jmp trap_common
trap_stub_13:
    push $13
    jmp trap_common
trap_stub_14:
    push $14
    jmp trap_common
trap_stub_15:
    push $0
    push $15
    jmp trap_common
trap_stub_16:
    push $0
    push $16
    jmp trap_common
trap_stub_17:
    push $17
    jmp trap_common
trap_stub_18:
    push $0
    push $18
    jmp trap_common
trap_stub_19:
    push $0
    push $19
    jmp trap_common
trap_stub_20:
    push $0
    push $20
    jmp trap_common
trap_stub_21:
    push $21
    jmp trap_common
trap_stub_22:
    push $0
    push $22
    jmp trap_common
trap_stub_23:
    push $0
    push $23
    jmp trap_common
trap_stub_24:
    push $0
    push $24
    jmp trap_common
trap_stub_25:
    push $0
    push $25
    jmp trap_common
trap_stub_26:
    push $0
    push $26
    jmp trap_common
trap_stub_27:
    push $0
    push $27
    jmp trap_common
trap_stub_28:
    push $0
    push $28
    jmp trap_common
trap_stub_29:
    push $29
    jmp trap_common
trap_stub_30:
    push $30
    jmp trap_common
trap_stub_31:
    push $0
    push $31
    jmp trap_common
trap_common:
    mov %rsp, %rdi
    and $-16, %rsp
    call hv_trap
1:  hlt
    jmp 1b

    .section .rodata.trap, "a"
    .balign 8
    .global trap_stubs
trap_stubs:
    .quad trap_stub_0
    .quad trap_stub_1
    .quad trap_stub_2
    .quad trap_stub_3
    .quad trap_stub_4
    .quad trap_stub_5
    .quad trap_stub_6
    .quad trap_stub_7
    .quad trap_stub_8
    .quad trap_stub_9
    .quad trap_stub_10
    .quad trap_stub_11
    .quad trap_stub_12
    .quad trap_stub_13
    .quad trap_stub_14
    .quad trap_stub_15
    .quad trap_stub_16
    .quad trap_stub_17
    .quad trap_stub_18
    .quad trap_stub_19
    .quad trap_stub_20
    .quad trap_stub_21
    .quad trap_stub_22
    .quad trap_stub_23
    .quad trap_stub_24
    .quad trap_stub_25
    .quad trap_stub_26
    .quad trap_stub_27
    .quad trap_stub_28
    .quad trap_stub_29
    .quad trap_stub_30
    .quad trap_stub_31
"#,
    options(att_syntax)
);

/// What the stubs push, then the CPU's frame.
#[repr(C)]
pub struct TrapFrame {
    /// Vector.
    pub vector: u64,
    /// Error code (0 when the CPU pushes none).
    pub error: u64,
    /// RIP.
    pub rip: u64,
    /// CS.
    pub cs: u64,
    /// RFLAGS.
    pub rflags: u64,
}

#[no_mangle]
extern "C" fn hv_trap(frame: &TrapFrame) -> ! {
    let cr2: u64;
    // SAFETY: reading CR2 has no side effect.
    unsafe { core::arch::asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack)) };
    error!(
        "hypervisor exception {} error {:#x} rip {:#x} cr2 {:#x} rflags {:#x}: CPU parked",
        frame.vector, frame.error, frame.rip, cr2, frame.rflags
    );
    halt_forever()
}

/// Vector of the "kick" IPI between pCPUs (wakes a waiting pCPU, brings a User VM vCPU
/// back to the hypervisor). The handler only sends EOI.
pub const KICK_VECTOR: u8 = 0xf0;
/// Spurious-interrupt vector of the reserved pCPUs' APICs (no EOI).
pub const SPURIOUS_VECTOR: u8 = 0xff;

#[repr(C, align(16))]
struct Idt([u64; 512]);

static IDT: crate::sync::TakeOnce<Idt> = crate::sync::TakeOnce::new(Idt([0; 512]));
static IDT_PTR: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

extern "C" {
    static trap_stubs: [u64; 32];
    fn kick_stub();
    fn spurious_stub();
    fn nmi_stub();
}

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .section .text.trap, "ax"
    .global kick_stub
kick_stub:
    push %rax
    movabsq $0xfee000b0, %rax
    movl $0, (%rax)
    pop %rax
    iretq
    .global spurious_stub
spurious_stub:
    iretq
    .global nmi_stub
nmi_stub:
    iretq
"#,
    options(att_syntax)
);

/// Interrupt gate, DPL 0, present, code selector 0x08 (boot GDT).
fn gate(handler: u64) -> (u64, u64) {
    (
        (handler & 0xffff) | (0x08 << 16) | (0x8e00 << 32) | ((handler >> 16) & 0xffff) << 48,
        handler >> 32,
    )
}

/// Builds the IDT (once, on the boot CPU) and loads it on this CPU. Exceptions log and
/// park; NMI (a kick sent as NMI) and the kick vector return after EOI; the rest is empty.
pub fn init() {
    if let Some(idt) = IDT.take() {
        // SAFETY: `trap_stubs` is the read-only table defined in the assembly above.
        let stubs = unsafe { &trap_stubs };
        let mut set = |v: usize, h: u64| {
            let (lo, hi) = gate(h);
            idt.0[2 * v] = lo;
            idt.0[2 * v + 1] = hi;
        };
        for (v, &handler) in stubs.iter().enumerate() {
            set(v, handler);
        }
        set(2, nmi_stub as *const () as u64);
        set(usize::from(KICK_VECTOR), kick_stub as *const () as u64);
        set(
            usize::from(SPURIOUS_VECTOR),
            spurious_stub as *const () as u64,
        );
        IDT_PTR.store(idt.0.as_ptr() as u64, core::sync::atomic::Ordering::Release);
    }
    load();
}

/// Loads the IDT built by [`init`] on this CPU (APs).
pub fn load() {
    let base = IDT_PTR.load(core::sync::atomic::Ordering::Acquire);
    if base == 0 {
        return;
    }
    let ptr = Pointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base,
    };
    // SAFETY: the IDT is a 'static table of valid gates to the stubs above.
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &ptr, options(readonly, nostack)) };
}

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u64,
}
