// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stand-in for emu_test_run() while the interpreter (branch `emu`) is not
 * in the tree: every instruction is #UD, so every form reads as
 * unimplemented.  tests/diff/meson.build links the real one when
 * src/accel/emu/ provides it.
 */
#include "accel/emu/emu_test.h"

bool emu_test_jit;

int emu_test_run(struct emu_test_state *st, const uint8_t *code, size_t len,
		 unsigned max_insns)
{
	(void)code;
	(void)len;
	(void)max_insns;
	st->rip = EMU_TEST_CODE_GVA;
	return 6;
}
