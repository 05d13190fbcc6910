/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Interrupt stubs for vectors 0-63 (Intel SDM Vol. 3 §6.14: 64-bit mode
 * frames), 16 bytes apart.  Each pushes a zero error code where the CPU
 * pushes none, then its vector, saves the caller-saved registers and calls
 * tiny_isr_dispatch(struct irq_frame *).
 */
	.text
	.code64
	.balign 16
isr_stubs:
	.set vec, 0
	.rept 64
	.balign 16
	/* Vectors with a CPU-pushed error code: 8, 10-14, 17, 21, 29, 30. */
	.if (vec <> 8) && ((vec < 10) || (vec > 14)) && (vec <> 17) && (vec <> 21) && (vec <> 29) && (vec <> 30)
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	push %rbx
	lea 80(%rsp), %rdi                     /* -> vector, error code, CPU frame */
	mov %rsp, %rbx
	and $-16, %rsp                         /* SysV ABI call alignment */
	call tiny_isr_dispatch
	mov %rbx, %rsp
	pop %rbx
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	add $16, %rsp                          /* vector, error code */
	iretq

	.section .rodata
	.balign 8
	.globl isr_stub_table
isr_stub_table:
	.set vec, 0
	.rept 64
	.quad isr_stubs + vec * 16
	.set vec, vec + 1
	.endr

	.section .note.GNU-stack, "", @progbits
