/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Entry of every tiny guest, through the Xen PVH boot ABI
 * (xen/include/public/arch-x86/hvm/start_info.h, "x86/HVM direct boot"):
 * 32-bit protected mode with flat segments, paging off, interrupts off,
 * EBX = guest-physical address of struct hvm_start_info.
 *
 * It loads its own GDT, switches to long mode over static page tables that
 * identity-map the low 4 GiB with 2 MiB pages (Intel SDM Vol. 3 §9.8.5),
 * and calls tiny_main(start_info); tiny_main's return value goes to the
 * debug-exit port.
 */
#include "tiny_layout.h"

/* The PVH entry note: name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY (18). */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 4, 18
	.asciz "Xen"
	.balign 4
	.long pvh_start32
	.balign 4

	.section .pagetables, "aw"
	.balign 4096
	.globl tiny_pml4
tiny_pml4:
	.quad tiny_pdpt + 0x3                  /* present, writable */
	.fill 511, 8, 0
tiny_pdpt:
	.quad tiny_pd + 0x0000 + 0x3
	.quad tiny_pd + 0x1000 + 0x3
	.quad tiny_pd + 0x2000 + 0x3
	.quad tiny_pd + 0x3000 + 0x3
	.fill 508, 8, 0
tiny_pd:
	.set addr, 0
	.rept 2048
	.quad addr + 0x83                      /* present, writable, 2 MiB page */
	.set addr, addr + 0x200000
	.endr

	.section .rodata
	.balign 16
	.globl tiny_gdt
tiny_gdt:
	.quad 0                                /* 0x00 null */
	.quad 0x00af9b000000ffff               /* 0x08 64-bit code, DPL 0 */
	.quad 0x00cf93000000ffff               /* 0x10 flat data, DPL 0 */
	.quad 0x00cf9b000000ffff               /* 0x18 32-bit code, DPL 0 */
	.quad 0x00cf93000000ffff               /* 0x20 flat data, DPL 0 (the regs guest) */
tiny_gdt_end:
tiny_gdt_desc:
	.word tiny_gdt_end - tiny_gdt - 1
	.long tiny_gdt

	.section .text.entry, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	cld
	mov %ebx, %esi                         /* hvm_start_info, kept for tiny_main */
	lgdt tiny_gdt_desc
	mov $TINY_SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %cr4, %eax
	or $0x20, %eax                         /* CR4.PAE */
	mov %eax, %cr4
	mov $tiny_pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx                  /* IA32_EFER */
	rdmsr
	or $0x100, %eax                        /* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax                   /* PG | PE */
	mov %eax, %cr0
	ljmp $TINY_SEL_CODE64, $long_entry

	.code64
long_entry:
	mov $TINY_SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $tiny_stack_top, %rsp
	mov %esi, %edi
	call tiny_main
	mov %eax, %edi
	call tiny_exit
1:	cli
	hlt
	jmp 1b

	.section .bss
	.balign 16
tiny_stack:
	.skip TINY_STACK_SIZE
tiny_stack_top:

	.section .note.GNU-stack, "", @progbits
