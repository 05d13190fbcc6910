/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * regs: loads known values into every GPR, RFLAGS, the data segment
 * registers, FS.base, CR0, CR4 and EFER, then writes its status (45) to
 * the debug-exit port with nothing in between that could change them.  The
 * monitor's --dump-state then shows that state; tests/integration compares
 * it with the values here (tests/integration/test_tiny.py, REGS_EXPECTED).
 * Before that it prints where RIP will stop.
 */
#include "tiny_layout.h"

	.section .rodata
msg_rip:
	.asciz "regs: rip after the exit write is %p\n"

	.text
	.code64
	.globl tiny_main
tiny_main:
	sub $8, %rsp
	call serial_init
	lea msg_rip(%rip), %rdi
	lea regs_done(%rip), %rsi
	xor %eax, %eax
	call printf
	add $8, %rsp

	/* Control state: CR0 += MP, WP; CR4 += PGE, OSFXSR, OSXMMEXCPT. */
	mov %cr0, %rax
	or $0x00010002, %rax
	mov %rax, %cr0
	mov %cr4, %rax
	or $0x000006a0, %rax
	mov %rax, %cr4
	/* EFER += SCE, NXE (MSR 0xc0000080); FS.base (MSR 0xc0000100). */
	mov $0xc0000080, %ecx
	rdmsr
	or $0x00000801, %eax
	wrmsr
	mov $0xc0000100, %ecx
	mov $0x00000000, %edx
	mov $0x12345000, %eax
	wrmsr

	/* Segments: DS, ES, SS = 0x20; FS = 0x20 (base set above after load); GS = 0x10. */
	mov $TINY_SEL_DATA2, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $TINY_SEL_DATA, %eax
	mov %eax, %gs
	/* Loading FS would reset FS.base, so it keeps 0x10 and the base above. */

	/* RFLAGS = CF PF ZF SF DF + the fixed bit 1; IF stays 0. */
	pushq $0x4c7
	popfq

	/* None of these moves touches RFLAGS. */
	movabs $0xa5a5a5a5a5a5a52d, %rax        /* AL = 45, the exit status */
	movabs $0x0123456789abcdef, %rbx
	movabs $0xfedcba9876543210, %rcx
	movabs $0x1122334455660501, %rdx        /* DX = the debug-exit port */
	movabs $0x5555aaaa5555aaaa, %rsi
	movabs $0xdeadbeefcafef00d, %rdi
	movabs $0x0badc0de0badc0de, %rbp
	movabs $0x00007ffdeadbee00, %rsp
	movabs $0x0808080808080808, %r8
	movabs $0x0909090909090909, %r9
	movabs $0x1010101010101010, %r10
	movabs $0x1111111111111111, %r11
	movabs $0x1212121212121212, %r12
	movabs $0x1313131313131313, %r13
	movabs $0x1414141414141414, %r14
	movabs $0x1515151515151515, %r15
	outb %al, %dx
	.globl regs_done
regs_done:
	hlt
	jmp regs_done

	.section .note.GNU-stack, "", @progbits
