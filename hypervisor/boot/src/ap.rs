// SPDX-License-Identifier: GPL-2.0

//! Starting the pCPUs reserved for User VMs inside the hypervisor (ACRN `start_pcpus`), so
//! that the Service VM never runs code on them: the boot CPU copies a real-mode trampoline
//! to [`TRAMPOLINE_PA`] (low memory, before the Service VM exists), sends INIT, then two
//! STARTUP IPIs, and waits for the AP to report in.
//!
//! The trampoline (`global_asm!` below, copied as bytes, so position-independent but for
//! the absolute addresses it computes from [`TRAMPOLINE_PA`]): real mode → a 32-bit flat
//! GDT of its own → PAE, EFER.LME, CR3 = the boot CPU's page tables (identity map of
//! 4 GiB), paging → 64-bit code → the hypervisor's boot GDT (`boot_gdt_ptr`) → calls
//! `entry(cpu)` on the stack the boot CPU chose. From then on the AP touches no low memory:
//! the Service VM may reuse the page.

/// Where the trampoline runs (page 7: the STARTUP vector is 0x07). Below QEMU's multiboot
/// information at 0x9000 and the Service VM's boot block at 0x8_0000.
pub const TRAMPOLINE_PA: u64 = 0x7000;

/// Parameters the boot CPU writes after the code (offsets into the copy).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApParams {
    /// CR3 (below 4 GiB).
    pub cr3: u64,
    /// Stack top.
    pub stack: u64,
    /// `extern "C" fn(cpu: u32) -> !`.
    pub entry: u64,
    /// pCPU index passed to `entry`.
    pub cpu: u64,
}

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .section .rodata.ap_tramp, "a"
    .balign 16
    .global ap_tramp_start
    .global ap_tramp_params
    .global ap_tramp_end
    .code16
ap_tramp_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl ap_gdt_ptr - ap_tramp_start + {base}
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(ap_pm32 - ap_tramp_start + {base})
    .code32
ap_pm32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl ap_tramp_params - ap_tramp_start + {base}, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    andl $0x9fffffff, %eax
    orl $0x80010001, %eax
    movl %eax, %cr0
    ljmp $0x18, $(ap_lm64 - ap_tramp_start + {base})
    .code64
ap_lm64:
    movq ap_tramp_params - ap_tramp_start + {base} + 8, %rsp
    movq ap_tramp_params - ap_tramp_start + {base} + 16, %rbx
    movq ap_tramp_params - ap_tramp_start + {base} + 24, %rdi
    movabsq $boot_gdt_ptr, %rax
    lgdt (%rax)
    pushq $0x08
    leaq 1f(%rip), %rax
    pushq %rax
    lretq
1:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    call *%rbx
2:  hlt
    jmp 2b
    .balign 8
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00af9a000000ffff
ap_gdt_ptr:
    .word 31
    .long ap_gdt - ap_tramp_start + {base}
    .balign 8
ap_tramp_params:
    .skip 32
ap_tramp_end:
    .code64
"#,
    base = const TRAMPOLINE_PA,
    options(att_syntax)
);

#[cfg(target_os = "none")]
extern "C" {
    static ap_tramp_start: u8;
    static ap_tramp_params: u8;
    static ap_tramp_end: u8;
}

/// Starts the AP whose APIC id is `apic_id` with `params`; `delay_us` busy-waits. Returns
/// once the IPIs are sent (the caller waits for the AP to report in).
///
/// # Safety
///
/// Physical memory at [`TRAMPOLINE_PA`] (one page) must be free for the trampoline until
/// the AP has reported in; `params` must describe a valid stack, page table and entry
/// point; the AP must be in its wait-for-SIPI state.
#[cfg(target_os = "none")]
pub unsafe fn start(apic_id: u32, params: &ApParams, delay_us: impl Fn(u64)) {
    use crate::lapic::{send_ipi, ICR_INIT, ICR_STARTUP};
    // The three symbols delimit the trampoline in .rodata; only their addresses are taken.
    let (start, pstart, end) = (
        core::ptr::addr_of!(ap_tramp_start) as usize,
        core::ptr::addr_of!(ap_tramp_params) as usize,
        core::ptr::addr_of!(ap_tramp_end) as usize,
    );
    let dst = TRAMPOLINE_PA as *mut u8;
    // SAFETY: the caller reserves the page; the source is the trampoline's bytes, at most
    // a page (checked by the assertion below at run time).
    unsafe {
        assert!(end - start <= 4096);
        core::ptr::copy_nonoverlapping(start as *const u8, dst, end - start);
        core::ptr::write_volatile(dst.add(pstart - start).cast::<ApParams>(), *params);
        send_ipi(apic_id, ICR_INIT);
        delay_us(10_000);
        for _ in 0..2 {
            send_ipi(apic_id, ICR_STARTUP | (TRAMPOLINE_PA >> 12) as u32);
            delay_us(200);
        }
    }
}
