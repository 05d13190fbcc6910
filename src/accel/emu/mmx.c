// SPDX-License-Identifier: GPL-2.0-only
/*
 * MMX (Intel SDM Vol. 1 Chapter 9; Vol. 2 per instruction), including the
 * MMX register forms added by SSE/SSE2 (PSHUFW, PMOVMSKB, PMINUB...,
 * PADDQ/PSUBQ/PMULUDQ mm, MOVNTQ, MASKMOVQ, CVT*PI*, MOVQ2DQ/MOVDQ2Q).
 *
 * MM0-MM7 alias the mantissas (bits 63:0) of the physical x87 registers
 * R0-R7 (Vol. 1 §9.5): a write sets bits 79:64 to all ones, and every MMX
 * instruction except EMMS sets TOP to 0 and marks all eight registers
 * valid (Table 9-1); EMMS marks them all empty (and, as the host CPU
 * does, leaves TOP at 0).  CR0.EM=1 gives #UD,
 * CR0.TS=1 #NM (Vol. 1 §9.6.2).  The lane operations are the SSE2 ones
 * (simd.h) on the low quadword.
 */
#include <emmintrin.h>
#include <string.h>

#include "accel/emu/cpu.h"
#include "accel/emu/ops.h"
#include "accel/emu/simd.h"

static uint64_t mm_get(const struct emu_cpu *c, int r)
{
	uint64_t v;

	memcpy(&v, &c->x87.st[r & 7], 8);
	return v;
}

static void mm_put(struct emu_cpu *c, int r, uint64_t v)
{
	uint8_t *p = (uint8_t *)&c->x87.st[r & 7];

	memcpy(p, &v, 8);
	p[8] = 0xff;
	p[9] = 0xff;
}

/* The x87 -> MMX transition (Vol. 1 §9.5.1, Table 9-1). */
static void mmx_enter(struct emu_cpu *c)
{
	c->x87.top = 0;
	c->x87.ftw = 0xff;
}

static void check_mmx(struct emu_cpu *c)
{
	if (c->cr0 & X86_CR0_EM)
		emu_raise_ud(c);
	if (c->cr0 & X86_CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
}

/* The forms that also name an XMM register need CR4.OSFXSR. */
static void check_mmx_sse(struct emu_cpu *c)
{
	if ((c->cr0 & X86_CR0_EM) || !(c->cr4 & X86_CR4_OSFXSR))
		emu_raise_ud(c);
	if (c->cr0 & X86_CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
}

/* mm/m64 source operand. */
static uint64_t src_q(struct emu_cpu *c, const struct emu_insn *in)
{
	if (in->mod == 3)
		return mm_get(c, in->rm);
	return emu_read(c, emu_ea_linear(c, in, 8), 8);
}

static uint64_t lo_pack(const union xmm *d, const union xmm *s, uint8_t op)
{
	union xmm r;
	int i;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < 4; i++) {
		switch (op) {
		case 0x63: /* PACKSSWB */
			r.sb[i] = (int8_t)(d->sw[i] < -128 ? -128 : d->sw[i] > 127 ? 127 : d->sw[i]);
			r.sb[4 + i] = (int8_t)(s->sw[i] < -128 ? -128 : s->sw[i] > 127 ? 127 : s->sw[i]);
			break;
		case 0x67: /* PACKUSWB */
			r.b[i] = (uint8_t)(d->sw[i] < 0 ? 0 : d->sw[i] > 255 ? 255 : d->sw[i]);
			r.b[4 + i] = (uint8_t)(s->sw[i] < 0 ? 0 : s->sw[i] > 255 ? 255 : s->sw[i]);
			break;
		default:   /* 0x6b PACKSSDW */
			if (i >= 2)
				break;
			r.sw[i] = (int16_t)(d->sd[i] < -32768 ? -32768 : d->sd[i] > 32767 ? 32767 : d->sd[i]);
			r.sw[2 + i] = (int16_t)(s->sd[i] < -32768 ? -32768 : s->sd[i] > 32767 ? 32767 : s->sd[i]);
			break;
		}
	}
	return r.q[0];
}

/* PUNPCKH*: interleave the high halves of the two quadwords. */
static uint64_t hi_unpack(uint64_t d, uint64_t s, uint8_t op)
{
	union xmm a, b, r;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.q[0] = d >> 32;
	b.q[0] = s >> 32;
	r = a;
	(void)emu_simd_int_lanes((uint8_t)(op - 8), &a, &b, &r);   /* 68-6A -> 60-62 */
	return r.q[0];
}

/* The binary packed-integer forms: 0F 60-6B, 74-76, D1-FE. */
static bool int_op(struct emu_cpu *c, const struct emu_insn *in, uint8_t op)
{
	union xmm d, s, r;

	if (op == 0x6c || op == 0x6d || op == 0xd6 || op == 0xd7 || op == 0xe6 ||
	    op == 0xe7 || op == 0xf7)
		return false;
	memset(&d, 0, sizeof(d));
	memset(&s, 0, sizeof(s));
	d.q[0] = mm_get(c, in->reg);
	s.q[0] = src_q(c, in);
	r = d;
	if (op == 0x63 || op == 0x67 || op == 0x6b) {
		r.q[0] = lo_pack(&d, &s, op);
	} else if (op >= 0x68 && op <= 0x6a) {
		r.q[0] = hi_unpack(d.q[0], s.q[0], op);
	} else if (!emu_simd_int_lanes(op, &d, &s, &r)) {
		return false;
	}
	mm_put(c, in->reg, r.q[0]);
	return true;
}

/* 0F 71-73: PSRLW/PSRAW/PSLLW, PSRLD/PSRAD/PSLLD, PSRLQ/PSLLQ mm, imm8. */
static bool shift_imm(struct emu_cpu *c, const struct emu_insn *in, uint8_t op)
{
	int lane = op == 0x71 ? 2 : op == 0x72 ? 4 : 8;
	int kind;
	union xmm d;

	if (in->mod != 3)
		return false;
	switch (in->reg & 7) {
	case 2: kind = 0; break;
	case 4: if (lane == 8) return false; kind = 2; break;
	case 6: kind = 1; break;
	default: return false;
	}
	memset(&d, 0, sizeof(d));
	d.q[0] = mm_get(c, in->rm);
	emu_simd_shift_lanes(&d, lane, in->imm, kind);
	mm_put(c, in->rm, d.q[0]);
	return true;
}

/* MASKMOVQ mm1, mm2: bytes of mm1 whose mask byte in mm2 has bit 7 set, to DS:rDI. */
static void maskmovq(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t v = mm_get(c, in->reg), m = mm_get(c, in->rm);
	uint64_t di = c->gpr[R_DI], la;

	if (in->asize == 4)
		di = (uint32_t)di;
	else if (in->asize == 2)
		di = (uint16_t)di;
	la = emu_seg_linear(c, in->seg, di, 8);
	for (int i = 0; i < 8; i++) {
		if ((m >> (8 * i + 7)) & 1)
			emu_write(c, la + (uint64_t)i, (v >> (8 * i)) & 0xff, 1);
	}
}

static bool moves(struct emu_cpu *c, const struct emu_insn *in, uint8_t op)
{
	int size = (in->rex & 8) ? 8 : 4;
	uint64_t v;

	switch (op) {
	case 0x6e: /* MOVD/MOVQ mm, r/m32|64 */
		mm_put(c, in->reg, emu_rm_read(c, in, size));
		return true;
	case 0x7e: /* MOVD/MOVQ r/m32|64, mm */
		emu_rm_write(c, in, mm_get(c, in->reg), size);
		return true;
	case 0x6f: /* MOVQ mm, mm/m64 */
		mm_put(c, in->reg, src_q(c, in));
		return true;
	case 0x7f: case 0xe7: /* MOVQ mm/m64, mm; MOVNTQ m64, mm */
		v = mm_get(c, in->reg);
		if (in->mod == 3) {
			if (op == 0xe7)
				return false;
			mm_put(c, in->rm, v);
		} else {
			emu_write(c, emu_ea_linear(c, in, 8), v, 8);
		}
		return true;
	case 0xf7:
		if (in->mod != 3)
			return false;
		maskmovq(c, in);
		return true;
	default:
		return false;
	}
}

static bool words(struct emu_cpu *c, const struct emu_insn *in, uint8_t op)
{
	unsigned imm = (unsigned)in->imm;
	union xmm s, r;

	switch (op) {
	case 0x70: /* PSHUFW mm, mm/m64, imm8 */
		s.q[0] = src_q(c, in);
		r.q[0] = 0;
		for (int i = 0; i < 4; i++)
			r.w[i] = s.w[(imm >> (2 * i)) & 3];
		mm_put(c, in->reg, r.q[0]);
		return true;
	case 0xc4: /* PINSRW mm, r32/m16, imm8 */
		r.q[0] = mm_get(c, in->reg);
		r.w[imm & 3] = (uint16_t)emu_rm_read(c, in, 2);
		mm_put(c, in->reg, r.q[0]);
		return true;
	case 0xc5: /* PEXTRW r32, mm, imm8 */
		if (in->mod != 3)
			return false;
		s.q[0] = mm_get(c, in->rm);
		reg_set(c, in->reg, s.w[imm & 3], 4, true);
		return true;
	case 0xd7: { /* PMOVMSKB r32, mm */
		uint32_t m = 0;
		if (in->mod != 3)
			return false;
		s.q[0] = mm_get(c, in->rm);
		for (int i = 0; i < 8; i++)
			m |= (uint32_t)(s.b[i] >> 7) << i;
		reg_set(c, in->reg, m, 4, true);
		return true;
	}
	default:
		return false;
	}
}

/*
 * CVTPI2PS/PD, CVT(T)PS2PI, CVT(T)PD2PI on the host SSE unit under the
 * guest MXCSR (the unused lanes hold 0, which converts without flags).
 * Only a register source (or destination) is an MMX access: CVTPI2PS/PD
 * from m64 leave the x87 state alone.  Returns true if MMX was touched.
 */
static bool cvt(struct emu_cpu *c, const struct emu_insn *in, uint8_t op, bool dbl)
{
	unsigned int host_csr = _mm_getcsr();
	union xmm x, s;
	bool mmx = true;

	memcpy(&x, c->xmm[in->reg], 16);
	memset(&s, 0, sizeof(s));
	if (op == 0x2a) {
		mmx = in->mod == 3;
		s.q[0] = src_q(c, in);
	} else if (in->mod == 3) {
		memcpy(&s, c->xmm[in->rm], 16);
	} else {
		uint64_t la = emu_ea_linear(c, in, dbl ? 16 : 8);
		if (dbl && (la & 15))
			emu_raise_gp(c, 0);
		s.q[0] = emu_read(c, la, 8);
		if (dbl)
			s.q[1] = emu_read(c, la + 8, 8);
	}
	if (!dbl && op != 0x2a)
		s.q[1] = 0;
	_mm_setcsr((c->mxcsr & 0xffc0) | 0x1f80);
	{
		__m128i vi = _mm_loadu_si128((const __m128i *)s.b), ri;
		__m128 vf = _mm_loadu_ps(s.f), rf;
		__m128d vd = _mm_loadu_pd(s.df), rd;

		__asm__ volatile("" : "+x"(vi), "+x"(vf), "+x"(vd));
		if (op == 0x2a && dbl) {
			rd = _mm_cvtepi32_pd(vi);
			__asm__ volatile("" : "+x"(rd));
			_mm_storeu_pd(x.df, rd);
		} else if (op == 0x2a) {
			rf = _mm_cvtepi32_ps(vi);
			__asm__ volatile("" : "+x"(rf));
			x.q[0] = _mm_cvtsi128_si64(_mm_castps_si128(rf));
		} else {
			if (dbl)
				ri = op == 0x2c ? _mm_cvttpd_epi32(vd) : _mm_cvtpd_epi32(vd);
			else
				ri = op == 0x2c ? _mm_cvttps_epi32(vf) : _mm_cvtps_epi32(vf);
			__asm__ volatile("" : "+x"(ri));
			s.q[0] = (uint64_t)_mm_cvtsi128_si64(ri);
		}
	}
	c->mxcsr |= _mm_getcsr() & 0x3f;
	_mm_setcsr(host_csr);
	if (op == 0x2a)
		memcpy(c->xmm[in->reg], &x, 16);
	else
		mm_put(c, in->reg, s.q[0]);
	return mmx;
}

/* F3 0F D6 MOVQ2DQ xmm, mm; F2 0F D6 MOVDQ2Q mm, xmm. */
static bool movq2dq(struct emu_cpu *c, const struct emu_insn *in)
{
	union xmm x;

	if (in->mod != 3)
		return false;
	if (in->mandatory == 0xf3) {
		memset(&x, 0, sizeof(x));
		x.q[0] = mm_get(c, in->rm);
		memcpy(c->xmm[in->reg], &x, 16);
	} else {
		memcpy(&x, c->xmm[in->rm], 16);
		mm_put(c, in->reg, x.q[0]);
	}
	return true;
}

bool emu_mmx_form(const struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;

	if (in->op < 0x100 || in->op >= 0x200)
		return false;
	if (op == 0x2a || op == 0x2c || op == 0x2d)
		return in->mandatory == 0 || in->mandatory == 0x66;
	if (op == 0xd6)
		return in->mandatory == 0xf2 || in->mandatory == 0xf3;
	if (in->mandatory)
		return false;
	switch (op) {
	case 0x60 ... 0x6b: case 0x6e ... 0x77: case 0x7e: case 0x7f:
	case 0xc4: case 0xc5: case 0xd1 ... 0xd5: case 0xd7 ... 0xe5:
	case 0xe7 ... 0xef: case 0xf1 ... 0xfe:
		return true;
	default:
		return false;
	}
}

void emu_mmx_exec(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;
	bool ok;

	if (op == 0x77) { /* EMMS: all registers empty; TOP is 0 too on hardware */
		check_mmx(c);
		c->x87.ftw = 0;
		c->x87.top = 0;
		return;
	}
	if (op == 0x2a || op == 0x2c || op == 0x2d || op == 0xd6) {
		check_mmx_sse(c);
		if (op == 0xd6 && !movq2dq(c, in))
			emu_raise_ud(c);
		if (op == 0xd6 || cvt(c, in, op, in->mandatory == 0x66))
			mmx_enter(c);
		return;
	}
	check_mmx(c);
	switch (op) {
	case 0x71 ... 0x73:
		ok = shift_imm(c, in, op);
		break;
	case 0x6e: case 0x6f: case 0x7e: case 0x7f: case 0xe7: case 0xf7:
		ok = moves(c, in, op);
		break;
	case 0x70: case 0xc4: case 0xc5: case 0xd7:
		ok = words(c, in, op);
		break;
	default:
		ok = int_op(c, in, op);
		break;
	}
	if (!ok)
		emu_raise_ud(c);
	mmx_enter(c);
}
