/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sample User VM: 64-bit code, loaded and entered at 0x10000 by acrn-dm-rs
 * (--mode long64, the first GiB identity-mapped). It prints a greeting on the UART at
 * 0x3f8 (polling LSR), reads the DM's VM information page at 0x30000000 with 8-, 4-, 2- and
 * 1-byte MMIO loads, prints the 8-byte signature it finds there and its VM id, then writes
 * 0 to the exit port 0xf4. Every byte it prints went through an IOREQ.
 */
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
	leaq	bye(%rip), %rsi
	call	puts
	xorl	%eax, %eax
	jmp	exit

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
bye:		.asciz	". Bye.\n"
mismatch:	.asciz	"\nMMIO reads of different widths disagree\n"
