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

/* Enabled local APICs in the MADT (ACPI 6.5 §5.2.12.2). */
static int madt_count_cpus(const uint8_t *madt)
{
	uint32_t len = *(const uint32_t *)(madt + 4);
	int n = 0;

	for (uint32_t e = 44; e + 2 <= len && madt[e + 1]; e += madt[e + 1])
		if (madt[e] == 0 && (madt[e + 4] & 1))
			n++;
	return n;
}

int tiny_main(const struct hvm_start_info *si)
{
	size_t size = (size_t)(smp_trampoline_end - smp_trampoline);
	volatile uint16_t *count = (volatile uint16_t *)(uintptr_t)
		(TRAMPOLINE_GPA + (smp_trampoline_count - smp_trampoline));
	const uint8_t *madt;
	struct tiny_timeout t;
	int ncpus;

	serial_init();
	madt = acpi_find_table(si->rsdp_paddr, "APIC");
	ncpus = madt ? madt_count_cpus(madt) : -1;
	printf("smp: the MADT lists %d CPU(s)\n", ncpus);
	if (ncpus < 1)
		return 1;
	for (size_t i = 0; i < size; i++)
		((volatile uint8_t *)TRAMPOLINE_GPA)[i] = smp_trampoline[i];
	*lapic(LAPIC_SVR) = 0x1ff;              /* software-enable, spurious 0xff */
	lapic_icr(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_INIT);
	for (int i = 0; i < 2; i++)
		lapic_icr(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_SIPI | (TRAMPOLINE_GPA >> 12));
	timeout_start(&t, 10000);
	while (*count < ncpus - 1 && !timeout_expired(&t))
		__asm__ volatile("pause");
	printf("smp: %u of %d AP(s) ran the trampoline\n", *count, ncpus - 1);
	return *count == ncpus - 1 ? SMP_EXIT : 1;
}
