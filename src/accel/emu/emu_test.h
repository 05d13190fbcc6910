/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_EMU_TEST_H
#define VIREO_EMU_TEST_H

/*
 * Test entry point of the emu interpreter, for the differential harness
 * (tests/diff/): run a short instruction sequence in 64-bit mode at CPL3 with
 * flat segments and identity paging over a scratch buffer, without a VM.
 *
 * The code is placed at EMU_TEST_CODE_GVA, `mem` (EMU_TEST_MEM_SIZE bytes)
 * at EMU_TEST_MEM_GVA; both are guest pages mapped read/write/execute.
 * Execution stops after `max_insns` instructions, on the first exception,
 * or when RIP leaves the code.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_TEST_CODE_GVA 0x400000ULL
#define EMU_TEST_MEM_GVA  0x600000ULL
#define EMU_TEST_MEM_SIZE 8192

struct emu_test_state {
	uint64_t gpr[16];           /* rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15 (encoding order) */
	uint64_t rflags;
	uint64_t rip;               /* out: where execution stopped */
	uint8_t xmm[16][16];
	uint32_t mxcsr;
	uint8_t fxsave[512];        /* x87 state in FXSAVE layout (in and out) */
	uint8_t mem[EMU_TEST_MEM_SIZE];
};

/*
 * Returns -1 if execution ended without an exception, else the exception
 * vector (#UD = 6, #GP = 13, #PF = 14, #DE = 0, ...), with the state as it
 * was at the fault.  Thread-safe; allocates nothing that outlives the call.
 */
/* Run snippets as blocks through the block translator (jit.c). */
extern bool emu_test_jit;

int emu_test_run(struct emu_test_state *st, const uint8_t *code, size_t len,
		 unsigned max_insns);

#endif
