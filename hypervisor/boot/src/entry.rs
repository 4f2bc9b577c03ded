// SPDX-License-Identifier: GPL-2.0

//! Multiboot1 header and the 32→64-bit trampoline.
//!
//! `qemu-system-x86_64 -kernel` refuses ELF64 multiboot images unless the header carries the
//! "a.out kludge" (flag 16) with explicit load addresses, so the header below gives them:
//! the whole image is one RWX `PT_LOAD` at `__hv_start` (see `hv/linker.ld`), loaded from
//! the file up to `__hv_load_end`, zero-filled up to `__hv_end` (the `.bss`).
//!
//! The loader enters `_start32` in 32-bit protected mode, paging off, EAX = multiboot magic,
//! EBX = physical address of the multiboot information. The trampoline:
//! 1. identity-maps `[0, 4 GiB)` with 2 MiB pages (PML4 → 1 PDPT → 4 PDs, in `.bss`);
//! 2. enables PAE, EFER.LME and paging, loads a 64-bit GDT and far-jumps to long mode;
//! 3. calls `hv_entry64(magic, mbi)` (provided by the binary) on a 64 KiB boot stack.
//!
//! Everything runs at its link address: there is no relocation.

/// Multiboot1 header magic.
pub const MULTIBOOT_HEADER_MAGIC: u32 = 0x1bad_b002;
/// Header flags: modules page aligned (0), memory map wanted (1), address fields valid (16).
pub const MULTIBOOT_HEADER_FLAGS: u32 = (1 << 0) | (1 << 1) | (1 << 16);
/// Value in EAX when a multiboot1 loader jumps to the entry point.
pub const MULTIBOOT_BOOTLOADER_MAGIC: u32 = 0x2bad_b002;
/// Size of the boot stack.
pub const BOOT_STACK_SIZE: usize = 0x1_0000;

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .section .multiboot, "a"
    .balign 4
mb_header:
    .long {magic}
    .long {flags}
    .long -({magic} + {flags})
    .long mb_header
    .long __hv_start
    .long __hv_load_end
    .long __hv_end
    .long _start32

    .section .text.entry, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    movl %eax, %ebp
    movl %ebx, %esi
    movl $boot_stack_top, %esp

    /* PML4[0] -> PDPT */
    movl $boot_pdpt, %eax
    orl $3, %eax
    movl %eax, boot_pml4
    /* PDPT[0..4] -> PD0..PD3 */
    movl $boot_pd, %eax
    orl $3, %eax
    xorl %ecx, %ecx
1:  movl %eax, boot_pdpt(,%ecx,8)
    addl $0x1000, %eax
    incl %ecx
    cmpl $4, %ecx
    jb 1b
    /* PD entries: 2048 x 2 MiB, present + writable + large */
    movl $0x83, %eax
    xorl %ecx, %ecx
2:  movl %eax, boot_pd(,%ecx,8)
    addl $0x200000, %eax
    incl %ecx
    cmpl $2048, %ecx
    jb 2b

    movl %cr4, %eax
    orl $0x20, %eax            /* PAE */
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx     /* EFER */
    rdmsr
    orl $0x100, %eax           /* LME */
    wrmsr
    movl %cr0, %eax
    andl $0x9fffffff, %eax     /* caches on: CD = NW = 0 */
    orl $0x80010001, %eax      /* PG, WP, PE */
    movl %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $start64

    .code64
start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $boot_stack_top, %rsp
    movl %ebp, %edi
    /* %esi already holds the multiboot information address (upper half zero) */
    call hv_entry64
3:  hlt
    jmp 3b

    .section .rodata.boot_gdt, "a"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff   /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff   /* 0x10: data */
    .global boot_gdt_ptr
boot_gdt_ptr:
    .word boot_gdt_ptr - boot_gdt - 1
    .quad boot_gdt

    .section .bss.boot, "aw", @nobits
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096 * 4
boot_stack:
    .skip {stack}
    .global boot_stack_top
boot_stack_top:
"#,
    magic = const MULTIBOOT_HEADER_MAGIC,
    flags = const MULTIBOOT_HEADER_FLAGS,
    stack = const BOOT_STACK_SIZE,
    options(att_syntax)
);

#[cfg(target_os = "none")]
extern "C" {
    /// First byte of the hypervisor image (linker script).
    pub static __hv_start: u8;
    /// One past the last byte of the image, `.bss` included, page aligned (linker script).
    pub static __hv_end: u8;
    /// The 32-bit entry point (referenced so that the linker keeps this object).
    pub fn _start32();
}

/// Physical range `[start, end)` of the hypervisor image (code, data, `.bss` with the boot
/// stack, page tables and frame pool).
#[cfg(target_os = "none")]
pub fn image_range() -> (u64, u64) {
    // Only the addresses of the linker-defined symbols are taken, never their contents.
    (
        core::ptr::addr_of!(__hv_start) as u64,
        core::ptr::addr_of!(__hv_end) as u64,
    )
}
