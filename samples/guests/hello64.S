/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sample User VM: 64-bit code, loaded and entered at 0x10000 by acrn-dm-rs
 * (--mode long64, the first GiB identity-mapped). It prints a greeting on the UART at
 * 0x3f8 (polling LSR), reads the DM's VM information page at 0x30000000 with 8-, 4-, 2- and
 * 1-byte MMIO loads, prints the 8-byte signature it finds there and its VM id, asks the DM
 * for an interrupt (doorbell port 0xf0: the DM injects an MSI with the vector written) and
 * waits for it in `sti; hlt` with an IDT gate for it, then writes 0 to the exit port 0xf4.
 * Every byte it prints went through an IOREQ.
 */
	.set	VECTOR, 0x40

	.code64
	.text
	.globl _start
_start:
	leaq	hello(%rip), %rsi
	call	puts

	/* 8-byte MMIO read: the signature "acrn-rs!", printed as text. */
	movq	0x30000008, %rax
	movq	%rax, sig(%rip)
	/* Narrow reads must agree with it: 4, 2 and 1 bytes at their offsets. */
	movl	0x3000000c, %ebx
	shrq	$32, %rax
	cmpl	%eax, %ebx
	jne	fail
	movzwl	0x30000008, %ebx
	cmpw	sig(%rip), %bx
	jne	fail
	movb	0x3000000f, %bl
	cmpb	sig+7(%rip), %bl
	jne	fail
	leaq	sig(%rip), %rsi
	call	puts

	/* VM id, one decimal digit per division. */
	leaq	vmid_is(%rip), %rsi
	call	puts
	movq	0x30000000, %rax
	leaq	digits_end(%rip), %rsi
1:	xorl	%edx, %edx
	movq	$10, %rcx
	divq	%rcx
	addb	$'0', %dl
	decq	%rsi
	movb	%dl, (%rsi)
	testq	%rax, %rax
	jnz	1b
	call	puts

	/* An interrupt from the DM: a 64-bit interrupt gate for VECTOR, then the doorbell. */
	leaq	irq_handler(%rip), %rax
	leaq	idt(%rip), %rdi
	movw	%ax, 16*VECTOR(%rdi)
	movw	$0x18, 16*VECTOR+2(%rdi)
	movw	$0x8e00, 16*VECTOR+4(%rdi)
	shrq	$16, %rax
	movw	%ax, 16*VECTOR+6(%rdi)
	shrq	$16, %rax
	movl	%eax, 16*VECTOR+8(%rdi)
	movq	%rdi, idtr+2(%rip)
	lidt	idtr(%rip)
	movb	$VECTOR, %al
	movw	$0xf0, %dx
	outb	%al, %dx
5:	sti
	hlt
	cli
	cmpb	$0, got_irq(%rip)
	je	5b
	leaq	irq_msg(%rip), %rsi
	call	puts

	leaq	bye(%rip), %rsi
	call	puts
	xorl	%eax, %eax
	jmp	exit

/* Notes the interrupt (no EOI: the xAPIC page is not mapped, and the minimal vLAPIC of the
 * acrn-rs hypervisor keeps no in-service state). */
irq_handler:
	movb	$1, got_irq(%rip)
	iretq

fail:
	leaq	mismatch(%rip), %rsi
	call	puts
	movb	$1, %al
exit:
	movw	$0xf4, %dx
	outb	%al, %dx
2:	hlt
	jmp	2b

/* Prints the NUL-terminated string at %rsi; clobbers %rax, %rdx, %rsi. */
puts:
	movb	(%rsi), %ah
	testb	%ah, %ah
	jz	3f
	movw	$0x3fd, %dx
4:	inb	%dx, %al
	testb	$0x20, %al
	jz	4b
	movw	$0x3f8, %dx
	movb	%ah, %al
	outb	%al, %dx
	incq	%rsi
	jmp	puts
3:	ret

	.data
hello:		.asciz	"Hello from a User VM on acrn-rs! The device model says: "
sig:		.quad	0
		.byte	0
vmid_is:	.asciz	"\nThis is VM "
digits:		.ascii	"00000000000000000000"
digits_end:	.byte	0
irq_msg:	.asciz	".\nInterrupt 0x40 from the device model received"
bye:		.asciz	". Bye.\n"
got_irq:	.byte	0
		.balign	16
idt:		.fill	16*(VECTOR+1), 1, 0
idtr:		.word	16*(VECTOR+1)-1
		.quad	0
mismatch:	.asciz	"\nMMIO reads of different widths disagree\n"
