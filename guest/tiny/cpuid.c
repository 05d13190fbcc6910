// SPDX-License-Identifier: GPL-2.0-only
/*
 * cpuid: prints the leaves of the shared CPUID policy (include/vireo/cpuid.h)
 * as the guest sees them, one line each, "cpuid LEAF.SUB eax ebx ecx edx",
 * plus the vendor and brand strings, so tests can check that every backend
 * presents the same CPU.  Exit status 48.
 */
#include "tiny.h"

#define CPUID_EXIT 48

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static void show(uint32_t leaf, uint32_t sub)
{
	uint32_t r[4];

	cpuid(leaf, sub, r);
	printf("cpuid %08x.%u %08x %08x %08x %08x\n", leaf, sub, r[0], r[1], r[2], r[3]);
}

int tiny_main(const struct hvm_start_info *si)
{
	static const uint32_t leaves[] = { 0x0, 0x1, 0x7, 0x40000000, 0x40000001,
					   0x80000000, 0x80000001, 0x80000007, 0x80000008 };
	uint32_t r[4], v[4];
	char brand[49];

	serial_init();
	cpuid(0, 0, r);
	v[0] = r[1], v[1] = r[3], v[2] = r[2], v[3] = 0;
	printf("cpuid vendor \"%s\"\n", (const char *)v);
	for (uint32_t i = 0; i < 3; i++)
		cpuid(0x80000002 + i, 0, (uint32_t *)(brand + 16 * i));
	brand[48] = '\0';
	printf("cpuid brand \"%s\"\n", brand);
	for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		show(leaves[i], 0);
	show(0xb, 0);
	show(0xb, 1);
	return CPUID_EXIT;
}
