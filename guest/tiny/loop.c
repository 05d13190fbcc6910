// SPDX-License-Identifier: GPL-2.0-only
/*
 * loop: a fixed busy loop for bench/mips.sh.  2^30 iterations of a 4-
 * instruction body (add, xor, dec, jnz: 2^32 guest instructions), then
 * exit with status 0x33, so the wall time gives the interpreter's rate.
 */
#include "tiny.h"

int tiny_main(const struct hvm_start_info *si)
{
	uint64_t n = 1ULL << 30, a = 1, b = 7;

	serial_init();
	printf("loop: start\n");
	__asm__ volatile("1:\n\t"
			 "add %1, %2\n\t"
			 "xor %2, %1\n\t"
			 "dec %0\n\t"
			 "jnz 1b"
			 : "+r"(n), "+r"(a), "+r"(b));
	printf("loop: done %llx\n", (unsigned long long)(a ^ b));
	return 0x33;
}
