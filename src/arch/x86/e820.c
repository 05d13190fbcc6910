// SPDX-License-Identifier: GPL-2.0-only
/* The guest's e820 memory map (ACPI spec §15, "INT 15H E820H"). */
#include <errno.h>

#include "vireo/boot.h"
#include "vireo/memory.h"

static int e820_add(struct e820_entry *out, int n, int max, uint64_t addr,
		    uint64_t size, uint32_t type)
{
	if (n >= max)
		return -ENOSPC;
	out[n] = (struct e820_entry){ addr, size, type };
	return n + 1;
}

/*
 * Conventional memory ends at the EBDA (which holds our MP table), the BIOS
 * area 0xf0000-0xfffff is reserved as on PCs, and RAM resumes at 1 MiB up to
 * the PCI hole; anything beyond resumes at 4 GiB.
 */
int e820_build(uint64_t mem_size, struct e820_entry *out, int max)
{
	uint64_t low = mem_size < GUEST_PCI_HOLE_START ? mem_size : GUEST_PCI_HOLE_START;
	int n = 0;

	if (mem_size < BOOT_HIGH_GPA)
		return -EINVAL;
	n = e820_add(out, n, max, 0, BOOT_EBDA_GPA, E820_RAM);
	if (n >= 0)
		n = e820_add(out, n, max, BOOT_EBDA_GPA, 0xa0000 - BOOT_EBDA_GPA, E820_RESERVED);
	if (n >= 0)
		n = e820_add(out, n, max, 0xf0000, 0x10000, E820_RESERVED);
	if (n >= 0 && low > BOOT_HIGH_GPA)
		n = e820_add(out, n, max, BOOT_HIGH_GPA, low - BOOT_HIGH_GPA, E820_RAM);
	if (n >= 0 && mem_size > low)
		n = e820_add(out, n, max, 4 * GiB, mem_size - low, E820_RAM);
	return n;
}
