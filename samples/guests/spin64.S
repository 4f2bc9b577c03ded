/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A User VM that never ends: interrupts off, a tight loop, no I/O. What a device model must
 * still be able to stop (pause and destroy) on a signal or a timeout.
 */
	.code64
	.text
	.globl _start
_start:
	cli
1:	jmp	1b
