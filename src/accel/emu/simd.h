/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_EMU_SIMD_H
#define VIREO_EMU_SIMD_H

/*
 * Packed-integer lane operations shared by the SSE2 (sse.c, 128-bit) and
 * MMX (mmx.c, 64-bit) register forms: an MMX operation is the SSE2 one on
 * the low quadword with the high quadword zero, except for the forms whose
 * lanes cross the halves (PACK*, PUNPCKH*), which mmx.c does itself.
 */
#include <stdbool.h>
#include <stdint.h>

union xmm {
	uint8_t b[16];
	int8_t sb[16];
	uint16_t w[8];
	int16_t sw[8];
	uint32_t d[4];
	int32_t sd[4];
	uint64_t q[2];
	int64_t sq[2];
	float f[4];
	double df[2];
};

/*
 * r = d OP s for the packed-integer opcode `op` (second byte of 66 0F op);
 * r must start as a copy of d.  Returns false if op is not such an opcode.
 */
bool emu_simd_int_lanes(uint8_t op, const union xmm *d, const union xmm *s, union xmm *r);

/*
 * Shift each `lane`-byte lane (2, 4, 8) of d by cnt: kind 0 logical right,
 * 1 left, 2 arithmetic right (Intel SDM Vol. 2 PSRLW/PSLLW/PSRAW).
 */
void emu_simd_shift_lanes(union xmm *d, int lane, uint64_t cnt, int kind);

#endif
