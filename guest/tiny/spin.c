// SPDX-License-Identifier: GPL-2.0-only
/*
 * spin: never ends by itself, so tests can check that the monitor stops,
 * pauses and resumes a vCPU wherever it is (accel.h: vcpu_kick must work
 * "from HLT and from a guest spinning with interrupts off").  With the
 * command line "hlt" it halts with interrupts off; otherwise it spins with
 * interrupts off, and prints a heartbeat line every 2^16 iterations.
 */
#include "tiny.h"

static bool cmdline_is(const struct hvm_start_info *si, const char *want)
{
	const char *s = (const char *)(uintptr_t)si->cmdline_paddr;

	if (!si->cmdline_paddr)
		return false;
	while (*s && *s == *want) {
		s++;
		want++;
	}
	return *s == *want;
}

int tiny_main(const struct hvm_start_info *si)
{
	serial_init();
	cpu_cli();
	if (cmdline_is(si, "hlt")) {
		printf("spin: halting with interrupts off\n");
		for (;;)
			__asm__ volatile("hlt");
	}
	printf("spin: spinning with interrupts off\n");
	for (uint64_t n = 1;; n++) {
		__asm__ volatile("" ::: "memory");
		if (!(n & ((1u << 16) - 1)))
			printf("spin: %lu\n", n);
	}
}
