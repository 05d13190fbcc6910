/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_BOOT_H
#define VIREO_BOOT_H

/*
 * Direct kernel boot for x86 (no firmware): Linux bzImage through the 64-bit
 * boot protocol (Documentation/arch/x86/boot.rst), vmlinux ELF the same way,
 * and any ELF carrying a XEN_ELFNOTE_PHYS32_ENTRY note through the PVH boot
 * ABI (32-bit protected mode, paging off, EBX = struct hvm_start_info).
 * The loader writes the kernel, command line, initrd, boot_params or
 * start_info, e820 map, GDT, identity page tables and the MP table into
 * guest RAM, and the BSP's entry registers into vm->boot_regs/boot_sregs.
 */
#include <stddef.h>
#include <stdint.h>

#include "vireo/util.h"

struct vm;

enum kernel_kind { KERNEL_BZIMAGE, KERNEL_ELF64, KERNEL_PVH };

/* Fixed guest-physical layout below 1 MiB. */
#define BOOT_GDT_GPA        0x0500ULL
#define BOOT_START_INFO_GPA 0x6000ULL   /* PVH hvm_start_info + memmap */
#define BOOT_ZERO_PAGE_GPA  0x7000ULL   /* boot_params */
#define BOOT_PML4_GPA       0x9000ULL   /* identity map: PML4, PDPT, 4 PDs */
#define BOOT_CMDLINE_GPA    0x20000ULL
#define BOOT_CMDLINE_MAX    0x10000ULL
#define BOOT_MPTABLE_GPA    0x9fc00ULL  /* EBDA: where Linux scans for _MP_ */
#define BOOT_EBDA_GPA       0x9fc00ULL
#define BOOT_HIGH_GPA       0x100000ULL
#define BOOT_KERNEL_GPA     0x1000000ULL /* 16 MiB: bzImage load address */

#define E820_RAM      1
#define E820_RESERVED 2

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/*
 * The e820 map for `mem_size` bytes of guest RAM laid out as in memory.h.
 * Returns the number of entries written (at most max), or -ENOSPC.
 */
int e820_build(uint64_t mem_size, struct e820_entry *out, int max) WUR;

/*
 * Identify a kernel image.  Returns 0 and *kind, or -ENOEXEC with a reason
 * a person can act on in `why` (e.g. "not a Linux bzImage or ELF kernel").
 */
int kernel_probe(const uint8_t *buf, size_t len, enum kernel_kind *kind,
		 char *why, size_t whylen) WUR;

/*
 * Write an Intel MP table (MultiProcessor Specification 1.4) describing
 * ncpus processors, the ISA bus, one IOAPIC at IOAPIC_BASE with id ioapic_id,
 * and the ISA IRQ routing, into buf (guest-physical gpa).  Returns bytes used
 * or -ENOSPC.
 */
int mptable_write(uint8_t *buf, size_t len, uint64_t gpa, int ncpus) WUR;

/*
 * Load the VM's kernel/initrd/cmdline (vm->cfg) into guest RAM and set the
 * boot registers.  Returns 0 or -errno with a one-line reason in `why`.
 */
int boot_load(struct vm *vm, char *why, size_t whylen) WUR;
/* The same with the kernel image already in memory (buf stays the caller's). */
int boot_load_image(struct vm *vm, const uint8_t *buf, size_t len,
		    char *why, size_t whylen) WUR;

#endif
