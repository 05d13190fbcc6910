// SPDX-License-Identifier: GPL-2.0-only
/*
 * smp: the BSP counts the processors in the ACPI MADT, wakes the APs with
 * INIT-SIPI-SIPI through its local APIC (Intel SDM Vol. 3 §9.4.4.1, the
 * MP initialization protocol), and waits until each has run a real-mode
 * trampoline that bumps a counter.  Exit status 46 when every AP checked in,
 * 1 otherwise.
 */
#include "tiny.h"

#define SMP_EXIT        46
#define TRAMPOLINE_GPA  0x3000          /* SIPI vector 0x03 */
#define LAPIC_GPA       0xfee00000UL
#define LAPIC_SVR       0xf0
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define ICR_INIT        0x00000500
#define ICR_SIPI        0x00000600
#define ICR_ASSERT      0x00004000
#define ICR_ALL_BUT_SELF 0x000c0000
#define ICR_PENDING     0x00001000

extern const uint8_t smp_trampoline[], smp_trampoline_end[], smp_trampoline_count[];

/* 16-bit trampoline: CS = 0x0300, IP = 0: count in, then halt for good. */
__asm__(
	".section .rodata\n"
	".code16\n"
	"smp_trampoline:\n"
	"	cli\n"
	"	lock incw %cs:(smp_trampoline_count - smp_trampoline)\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	"	.balign 2\n"
	"smp_trampoline_count:\n"
	"	.word 0\n"
	"smp_trampoline_end:\n"
	".code64\n"
	".text\n");

static volatile uint32_t *lapic(unsigned reg)
{
	return (volatile uint32_t *)(LAPIC_GPA + reg);
}

static void lapic_icr(uint32_t lo)
{
	*lapic(LAPIC_ICR_HI) = 0;
	*lapic(LAPIC_ICR_LO) = lo;
	for (int i = 0; i < 100000 && (*lapic(LAPIC_ICR_LO) & ICR_PENDING); i++)
		__asm__ volatile("pause");
}

static bool sig_is(const void *p, const char *sig, int n)
{
	const char *s = p;

	for (int i = 0; i < n; i++)
		if (s[i] != sig[i])
			return false;
	return true;
}

/* Enabled local APICs in the MADT (ACPI 6.5 §5.2.12), found from the RSDP. */
static int madt_count_cpus(uint64_t rsdp_gpa)
{
	const uint8_t *rsdp = (const uint8_t *)(uintptr_t)rsdp_gpa;
	const uint8_t *sdt;
	uint32_t len, n, esz;

	if (!rsdp_gpa || !sig_is(rsdp, "RSD PTR ", 8))
		return -1;
	if (rsdp[15] >= 2) {
		sdt = (const uint8_t *)(uintptr_t)*(const uint64_t *)(rsdp + 24);
		esz = 8;
	} else {
		sdt = (const uint8_t *)(uintptr_t)*(const uint32_t *)(rsdp + 16);
		esz = 4;
	}
	len = *(const uint32_t *)(sdt + 4);
	for (uint32_t off = 36; off + esz <= len; off += esz) {
		uint64_t p = esz == 8 ? *(const uint64_t *)(sdt + off)
				      : *(const uint32_t *)(sdt + off);
		const uint8_t *t = (const uint8_t *)(uintptr_t)p;

		if (!sig_is(t, "APIC", 4))
			continue;
		len = *(const uint32_t *)(t + 4);
		n = 0;
		for (uint32_t e = 44; e + 2 <= len && t[e + 1]; e += t[e + 1])
			if (t[e] == 0 && (t[e + 4] & 1))
				n++;
		return (int)n;
	}
	return -1;
}

int tiny_main(const struct hvm_start_info *si)
{
	size_t size = (size_t)(smp_trampoline_end - smp_trampoline);
	volatile uint16_t *count = (volatile uint16_t *)(uintptr_t)
		(TRAMPOLINE_GPA + (smp_trampoline_count - smp_trampoline));
	int ncpus;

	serial_init();
	ncpus = madt_count_cpus(si->rsdp_paddr);
	printf("smp: the MADT lists %d CPU(s)\n", ncpus);
	if (ncpus < 1)
		return 1;
	for (size_t i = 0; i < size; i++)
		((volatile uint8_t *)TRAMPOLINE_GPA)[i] = smp_trampoline[i];
	*lapic(LAPIC_SVR) = 0x1ff;              /* software-enable, spurious 0xff */
	lapic_icr(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_INIT);
	for (int i = 0; i < 2; i++)
		lapic_icr(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_SIPI | (TRAMPOLINE_GPA >> 12));
	for (long i = 0; i < 5000000 && *count < ncpus - 1; i++)
		__asm__ volatile("pause");
	printf("smp: %u of %d AP(s) ran the trampoline\n", *count, ncpus - 1);
	return *count == ncpus - 1 ? SMP_EXIT : 1;
}
