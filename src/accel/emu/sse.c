// SPDX-License-Identifier: GPL-2.0-only
/*
 * SSE and SSE2 (Intel SDM Vol. 1 Chapters 10-11; Vol. 2 per instruction),
 * plus FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, fences and CLFLUSH (0F AE).
 * The MMX register forms are in mmx.c (routed from emu_sse_exec).  Arithmetic runs on the host's SSE
 * unit with the guest's MXCSR rounding mode; exception flags are merged
 * back into the guest MXCSR, unmasked SIMD exceptions are not raised.
 */
#include <fenv.h>
#include <math.h>
#include <string.h>

#include "accel/emu/cpu.h"
#include "accel/emu/ops.h"
#include "accel/emu/simd.h"


static void xmm_get(const struct emu_cpu *c, int r, union xmm *x)
{
	memcpy(x, c->xmm[r], 16);
}

static void xmm_put(struct emu_cpu *c, int r, const union xmm *x)
{
	memcpy(c->xmm[r], x, 16);
}

static void check_sse(struct emu_cpu *c)
{
	if ((c->cr0 & X86_CR0_EM) || !(c->cr4 & X86_CR4_OSFXSR))
		emu_raise_ud(c);
	if (c->cr0 & X86_CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
}

/* Load the r/m operand: 16 bytes (aligned if `align`), or `size` low bytes. */
static void src_get(struct emu_cpu *c, const struct emu_insn *in, union xmm *x, int size, bool align)
{
	uint64_t la;

	if (in->mod == 3) {
		xmm_get(c, in->rm, x);
		return;
	}
	la = emu_ea_linear(c, in, size);
	if (align && size == 16 && (la & 15))
		emu_raise_gp(c, 0);
	memset(x, 0, sizeof(*x));
	if (size == 16) {
		x->q[0] = emu_read(c, la, 8);
		x->q[1] = emu_read(c, la + 8, 8);
	} else {
		x->q[0] = emu_read(c, la, size);
	}
}

static void mem_put(struct emu_cpu *c, const struct emu_insn *in, const union xmm *x, int size, bool align)
{
	uint64_t la = emu_ea_linear(c, in, size);

	if (align && size == 16 && (la & 15))
		emu_raise_gp(c, 0);
	if (size == 16) {
		prep_write(c, la, 16);
		emu_write(c, la, x->q[0], 8);
		emu_write(c, la + 8, x->q[1], 8);
	} else {
		emu_write(c, la, x->q[0], size);
	}
}

/* ---- floating point on the host SSE unit under the guest MXCSR ---- */

#include <emmintrin.h>

struct fp_env {
	unsigned int host_csr;
};

/* Keep the compiler from moving arithmetic across the MXCSR switch. */
#define FENCE_PS(v) __asm__ volatile("" : "+x"(v))

static void fp_begin(struct emu_cpu *c, struct fp_env *e)
{
	e->host_csr = _mm_getcsr();
	/* Guest rounding / FTZ / DAZ, all exceptions masked, flags clear. */
	_mm_setcsr((c->mxcsr & 0xffc0) | 0x1f80);
}

static void fp_end(struct emu_cpu *c, struct fp_env *e)
{
	c->mxcsr |= _mm_getcsr() & 0x3f;
	_mm_setcsr(e->host_csr);
}

static __m128 ld_ps(const union xmm *x) { return _mm_loadu_ps(x->f); }
static __m128d ld_pd(const union xmm *x) { return _mm_loadu_pd(x->df); }
static void st_ps(union xmm *x, __m128 v) { _mm_storeu_ps(x->f, v); }
static void st_pd(union xmm *x, __m128d v) { _mm_storeu_pd(x->df, v); }

static __m128 cmp_ps(int p, __m128 a, __m128 b, bool scalar)
{
	switch (p & 7) {
	case 0: return scalar ? _mm_cmpeq_ss(a, b) : _mm_cmpeq_ps(a, b);
	case 1: return scalar ? _mm_cmplt_ss(a, b) : _mm_cmplt_ps(a, b);
	case 2: return scalar ? _mm_cmple_ss(a, b) : _mm_cmple_ps(a, b);
	case 3: return scalar ? _mm_cmpunord_ss(a, b) : _mm_cmpunord_ps(a, b);
	case 4: return scalar ? _mm_cmpneq_ss(a, b) : _mm_cmpneq_ps(a, b);
	case 5: return scalar ? _mm_cmpnlt_ss(a, b) : _mm_cmpnlt_ps(a, b);
	case 6: return scalar ? _mm_cmpnle_ss(a, b) : _mm_cmpnle_ps(a, b);
	default: return scalar ? _mm_cmpord_ss(a, b) : _mm_cmpord_ps(a, b);
	}
}

static __m128d cmp_pd(int p, __m128d a, __m128d b, bool scalar)
{
	switch (p & 7) {
	case 0: return scalar ? _mm_cmpeq_sd(a, b) : _mm_cmpeq_pd(a, b);
	case 1: return scalar ? _mm_cmplt_sd(a, b) : _mm_cmplt_pd(a, b);
	case 2: return scalar ? _mm_cmple_sd(a, b) : _mm_cmple_pd(a, b);
	case 3: return scalar ? _mm_cmpunord_sd(a, b) : _mm_cmpunord_pd(a, b);
	case 4: return scalar ? _mm_cmpneq_sd(a, b) : _mm_cmpneq_pd(a, b);
	case 5: return scalar ? _mm_cmpnlt_sd(a, b) : _mm_cmpnlt_pd(a, b);
	case 6: return scalar ? _mm_cmpnle_sd(a, b) : _mm_cmpnle_pd(a, b);
	default: return scalar ? _mm_cmpord_sd(a, b) : _mm_cmpord_pd(a, b);
	}
}

static __m128 op_ps(int op, int imm, __m128 a, __m128 b, bool scalar)
{
	switch (op) {
	case 0x58: return scalar ? _mm_add_ss(a, b) : _mm_add_ps(a, b);
	case 0x59: return scalar ? _mm_mul_ss(a, b) : _mm_mul_ps(a, b);
	case 0x5c: return scalar ? _mm_sub_ss(a, b) : _mm_sub_ps(a, b);
	case 0x5d: return scalar ? _mm_min_ss(a, b) : _mm_min_ps(a, b);
	case 0x5e: return scalar ? _mm_div_ss(a, b) : _mm_div_ps(a, b);
	case 0x5f: return scalar ? _mm_max_ss(a, b) : _mm_max_ps(a, b);
	case 0x51: return scalar ? _mm_move_ss(a, _mm_sqrt_ss(b)) : _mm_sqrt_ps(b);
	case 0x52: return scalar ? _mm_move_ss(a, _mm_rsqrt_ss(b)) : _mm_rsqrt_ps(b);
	case 0x53: return scalar ? _mm_move_ss(a, _mm_rcp_ss(b)) : _mm_rcp_ps(b);
	default: return cmp_ps(imm, a, b, scalar);
	}
}

static __m128d op_pd(int op, int imm, __m128d a, __m128d b, bool scalar)
{
	switch (op) {
	case 0x58: return scalar ? _mm_add_sd(a, b) : _mm_add_pd(a, b);
	case 0x59: return scalar ? _mm_mul_sd(a, b) : _mm_mul_pd(a, b);
	case 0x5c: return scalar ? _mm_sub_sd(a, b) : _mm_sub_pd(a, b);
	case 0x5d: return scalar ? _mm_min_sd(a, b) : _mm_min_pd(a, b);
	case 0x5e: return scalar ? _mm_div_sd(a, b) : _mm_div_pd(a, b);
	case 0x5f: return scalar ? _mm_max_sd(a, b) : _mm_max_pd(a, b);
	case 0x51: return scalar ? _mm_sqrt_sd(a, b) : _mm_sqrt_pd(b);
	default: return cmp_pd(imm, a, b, scalar);
	}
}

/* 0F 51-53, 58-5F, C2 in their four prefix forms, on the host SSE unit. */
static void fp_arith(struct emu_cpu *c, struct emu_insn *in)
{
	union xmm d, s;
	uint8_t op = (uint8_t)in->op;
	struct fp_env e;
	bool scalar = in->mandatory == 0xf3 || in->mandatory == 0xf2;
	bool dbl = in->mandatory == 0x66 || in->mandatory == 0xf2;

	xmm_get(c, in->reg, &d);
	src_get(c, in, &s, scalar ? (dbl ? 8 : 4) : 16, !scalar);
	fp_begin(c, &e);
	if (dbl) {
		__m128d a = ld_pd(&d), b = ld_pd(&s), r;
		FENCE_PS(a);
		FENCE_PS(b);
		r = op_pd(op, (int)in->imm, a, b, scalar);
		FENCE_PS(r);
		st_pd(&d, r);
	} else {
		__m128 a = ld_ps(&d), b = ld_ps(&s), r;
		FENCE_PS(a);
		FENCE_PS(b);
		r = op_ps(op, (int)in->imm, a, b, scalar);
		FENCE_PS(r);
		st_ps(&d, r);
	}
	fp_end(c, &e);
	xmm_put(c, in->reg, &d);
}

static void comis(struct emu_cpu *c, struct emu_insn *in)
{
	union xmm d, s;
	struct fp_env e;
	bool sig = ((uint8_t)in->op) == 0x2f;     /* COMIS* signal on QNaN too */
	int lt, eq, un;

	xmm_get(c, in->reg, &d);
	fp_begin(c, &e);
	if (in->mandatory == 0x66) {
		__m128d a, b;
		src_get(c, in, &s, 8, false);
		a = ld_pd(&d);
		b = ld_pd(&s);
		FENCE_PS(a);
		FENCE_PS(b);
		lt = sig ? _mm_comilt_sd(a, b) : _mm_ucomilt_sd(a, b);
		eq = sig ? _mm_comieq_sd(a, b) : _mm_ucomieq_sd(a, b);
		un = isnan(d.df[0]) || isnan(s.df[0]);
	} else {
		__m128 a, b;
		src_get(c, in, &s, 4, false);
		a = ld_ps(&d);
		b = ld_ps(&s);
		FENCE_PS(a);
		FENCE_PS(b);
		lt = sig ? _mm_comilt_ss(a, b) : _mm_ucomilt_ss(a, b);
		eq = sig ? _mm_comieq_ss(a, b) : _mm_ucomieq_ss(a, b);
		un = isnan(d.f[0]) || isnan(s.f[0]);
	}
	fp_end(c, &e);
	(void)eq;
	if (un)
		emu_flags_set(c, FL_ZF | FL_PF | FL_CF, FL_ARITH);
	else
		emu_flags_set(c, (lt ? FL_CF : 0) | (eq ? FL_ZF : 0), FL_ARITH);
}

/* CVT(T)SS2SI / CVT(T)SD2SI on the host, for the exact integer-indefinite and flags. */
static int64_t cvt_si(struct emu_cpu *c, const union xmm *s, bool dbl, bool chop, int size)
{
	struct fp_env e;
	int64_t r;

	fp_begin(c, &e);
	if (dbl) {
		__m128d v = ld_pd(s);
		FENCE_PS(v);
		if (size == 8)
			r = chop ? _mm_cvttsd_si64(v) : _mm_cvtsd_si64(v);
		else
			r = chop ? _mm_cvttsd_si32(v) : _mm_cvtsd_si32(v);
	} else {
		__m128 v = ld_ps(s);
		FENCE_PS(v);
		if (size == 8)
			r = chop ? _mm_cvttss_si64(v) : _mm_cvtss_si64(v);
		else
			r = chop ? _mm_cvttss_si32(v) : _mm_cvtss_si32(v);
	}
	fp_end(c, &e);
	return r;
}

static void cvt(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;
	union xmm d, s;
	struct fp_env e;
	int isz = (in->rex & 8) ? 8 : 4;

	xmm_get(c, in->reg, &d);
	switch (op) {
	case 0x2a: { /* CVTSI2SS / CVTSI2SD */
		int64_t v = sign_ext(emu_rm_read(c, in, isz), isz);
		__m128 a = ld_ps(&d);
		__m128d ad = ld_pd(&d);
		if (in->mandatory != 0xf3 && in->mandatory != 0xf2)
			emu_raise_ud(c);
		fp_begin(c, &e);
		FENCE_PS(a);
		FENCE_PS(ad);
		if (in->mandatory == 0xf3) {
			a = isz == 8 ? _mm_cvtsi64_ss(a, v) : _mm_cvtsi32_ss(a, (int)v);
			FENCE_PS(a);
			st_ps(&d, a);
		} else {
			ad = isz == 8 ? _mm_cvtsi64_sd(ad, v) : _mm_cvtsi32_sd(ad, (int)v);
			FENCE_PS(ad);
			st_pd(&d, ad);
		}
		fp_end(c, &e);
		break;
	}
	case 0x2c: case 0x2d: /* CVT(T)SS2SI / CVT(T)SD2SI */
		if (in->mandatory != 0xf3 && in->mandatory != 0xf2)
			emu_raise_ud(c);
		src_get(c, in, &s, in->mandatory == 0xf3 ? 4 : 8, false);
		reg_set(c, in->reg, (uint64_t)cvt_si(c, &s, in->mandatory == 0xf2, op == 0x2c, isz),
			isz, true);
		return;
	case 0x5a:
		if (in->mandatory == 0xf3) {         /* CVTSS2SD */
			src_get(c, in, &s, 4, false);
			fp_begin(c, &e);
			{
				__m128d a = ld_pd(&d); __m128 b = ld_ps(&s);
				FENCE_PS(a); FENCE_PS(b);
				a = _mm_cvtss_sd(a, b);
				FENCE_PS(a);
				st_pd(&d, a);
			}
		} else if (in->mandatory == 0xf2) {  /* CVTSD2SS */
			src_get(c, in, &s, 8, false);
			fp_begin(c, &e);
			{
				__m128 a = ld_ps(&d); __m128d b = ld_pd(&s);
				FENCE_PS(a); FENCE_PS(b);
				a = _mm_cvtsd_ss(a, b);
				FENCE_PS(a);
				st_ps(&d, a);
			}
		} else if (in->mandatory == 0x66) {  /* CVTPD2PS */
			src_get(c, in, &s, 16, true);
			fp_begin(c, &e);
			{
				__m128d b = ld_pd(&s); __m128 r;
				FENCE_PS(b);
				r = _mm_cvtpd_ps(b);
				FENCE_PS(r);
				st_ps(&d, r);
			}
		} else {                             /* CVTPS2PD */
			src_get(c, in, &s, 8, false);
			fp_begin(c, &e);
			{
				__m128 b = ld_ps(&s); __m128d r;
				FENCE_PS(b);
				r = _mm_cvtps_pd(b);
				FENCE_PS(r);
				st_pd(&d, r);
			}
		}
		fp_end(c, &e);
		break;
	case 0x5b: {
		__m128 b;
		__m128i r;
		src_get(c, in, &s, 16, true);
		b = ld_ps(&s);
		fp_begin(c, &e);
		FENCE_PS(b);
		if (in->mandatory == 0) {            /* CVTDQ2PS */
			__m128 f = _mm_cvtepi32_ps(_mm_castps_si128(b));
			FENCE_PS(f);
			st_ps(&d, f);
		} else {                             /* CVTPS2DQ / CVTTPS2DQ */
			r = in->mandatory == 0xf3 ? _mm_cvttps_epi32(b) : _mm_cvtps_epi32(b);
			FENCE_PS(r);
			_mm_storeu_si128((__m128i *)d.b, r);
		}
		fp_end(c, &e);
		break;
	}
	case 0xe6:
		if (in->mandatory == 0xf3) {         /* CVTDQ2PD */
			__m128i b;
			__m128d r;
			src_get(c, in, &s, 8, false);
			b = _mm_loadu_si128((const __m128i *)s.b);
			fp_begin(c, &e);
			FENCE_PS(b);
			r = _mm_cvtepi32_pd(b);
			FENCE_PS(r);
			st_pd(&d, r);
			fp_end(c, &e);
		} else if (in->mandatory) {          /* CVTTPD2DQ (66) / CVTPD2DQ (F2) */
			__m128d b;
			__m128i r;
			src_get(c, in, &s, 16, true);
			b = ld_pd(&s);
			fp_begin(c, &e);
			FENCE_PS(b);
			r = in->mandatory == 0x66 ? _mm_cvttpd_epi32(b) : _mm_cvtpd_epi32(b);
			FENCE_PS(r);
			_mm_storeu_si128((__m128i *)d.b, r);
			fp_end(c, &e);
		} else {
			emu_raise_ud(c);
		}
		break;
	default:
		emu_raise_ud(c);
	}
	xmm_put(c, in->reg, &d);
}

/* ---- moves ---- */

static bool moves(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;
	uint8_t p = in->mandatory;
	union xmm d, s;

	switch (op) {
	case 0x10: case 0x11: {
		int size = p == 0xf3 ? 4 : p == 0xf2 ? 8 : 16;
		bool load = op == 0x10;
		if (load) {
			if (size < 16 && in->mod == 3) {
				xmm_get(c, in->reg, &d);
				xmm_get(c, in->rm, &s);
				if (size == 4) d.d[0] = s.d[0]; else d.q[0] = s.q[0];
			} else {
				src_get(c, in, &d, size, false);
			}
			xmm_put(c, in->reg, &d);
		} else {
			xmm_get(c, in->reg, &s);
			if (in->mod == 3) {
				xmm_get(c, in->rm, &d);
				if (size == 4) d.d[0] = s.d[0];
				else if (size == 8) d.q[0] = s.q[0];
				else d = s;
				xmm_put(c, in->rm, &d);
			} else {
				mem_put(c, in, &s, size, false);
			}
		}
		return true;
	}
	case 0x12: case 0x13: case 0x16: case 0x17: {
		bool high = op >= 0x16;
		if (p == 0xf2 || p == 0xf3)
			return false;
		if (op & 1) {   /* store */
			if (in->mod == 3)
				emu_raise_ud(c);
			xmm_get(c, in->reg, &s);
			s.q[0] = s.q[high];
			mem_put(c, in, &s, 8, false);
			return true;
		}
		xmm_get(c, in->reg, &d);
		if (in->mod == 3) {   /* MOVHLPS / MOVLHPS */
			if (p == 0x66)
				emu_raise_ud(c);
			xmm_get(c, in->rm, &s);
			if (high) d.q[1] = s.q[0]; else d.q[0] = s.q[1];
		} else {
			src_get(c, in, &s, 8, false);
			d.q[high] = s.q[0];
		}
		xmm_put(c, in->reg, &d);
		return true;
	}
	case 0x28: case 0x29: case 0x6f: case 0x7f: case 0x2b: case 0xe7: {
		bool align = !(p == 0xf3 && (op == 0x6f || op == 0x7f));
		if ((op == 0x6f || op == 0x7f) && p != 0x66 && p != 0xf3)
			return false;
		if ((op == 0x28 || op == 0x29 || op == 0x2b) && (p == 0xf2 || p == 0xf3))
			return false;
		if (op == 0xe7 && p != 0x66)
			return false;
		if (op == 0x28 || op == 0x6f) {
			src_get(c, in, &d, 16, align);
			xmm_put(c, in->reg, &d);
		} else {
			if ((op == 0x2b || op == 0xe7) && in->mod == 3)
				emu_raise_ud(c);
			xmm_get(c, in->reg, &s);
			if (in->mod == 3)
				xmm_put(c, in->rm, &s);
			else
				mem_put(c, in, &s, 16, align);
		}
		return true;
	}
	case 0x6e: /* MOVD/MOVQ xmm, r/m */
		if (p != 0x66)
			return false;
		memset(&d, 0, sizeof(d));
		d.q[0] = emu_rm_read(c, in, (in->rex & 8) ? 8 : 4);
		xmm_put(c, in->reg, &d);
		return true;
	case 0x7e:
		if (p == 0x66) {  /* MOVD/MOVQ r/m, xmm */
			xmm_get(c, in->reg, &s);
			emu_rm_write(c, in, s.q[0], (in->rex & 8) ? 8 : 4);
			return true;
		}
		if (p == 0xf3) {  /* MOVQ xmm, xmm/m64 */
			src_get(c, in, &s, 8, false);
			s.q[1] = 0;
			xmm_put(c, in->reg, &s);
			return true;
		}
		return false;
	case 0xd6: /* MOVQ xmm/m64, xmm */
		if (p != 0x66)
			return false;
		xmm_get(c, in->reg, &s);
		if (in->mod == 3) {
			s.q[1] = 0;
			xmm_put(c, in->rm, &s);
		} else {
			mem_put(c, in, &s, 8, false);
		}
		return true;
	case 0xc3: /* MOVNTI */
		if (p || in->mod == 3)
			return false;
		emu_rm_write(c, in, reg_get(c, in->reg, in->osize == 8 ? 8 : 4, true),
			     in->osize == 8 ? 8 : 4);
		return true;
	case 0x50: /* MOVMSKPS / MOVMSKPD */
		if (in->mod != 3 || (p && p != 0x66))
			return false;
		xmm_get(c, in->rm, &s);
		if (p == 0x66)
			reg_set(c, in->reg, (s.q[0] >> 63) | ((s.q[1] >> 63) << 1), 4, true);
		else
			reg_set(c, in->reg, (s.d[0] >> 31) | ((s.d[1] >> 31) << 1) |
				((s.d[2] >> 31) << 2) | ((s.d[3] >> 31) << 3), 4, true);
		return true;
	case 0xd7: { /* PMOVMSKB */
		uint32_t m = 0;
		if (in->mod != 3 || p != 0x66)
			return false;
		xmm_get(c, in->rm, &s);
		for (int i = 0; i < 16; i++)
			m |= (uint32_t)(s.b[i] >> 7) << i;
		reg_set(c, in->reg, m, 4, true);
		return true;
	}
	default:
		return false;
	}
}

/* ---- packed integer (66 0F 60-7F, D0-FF) and logic/shuffle ---- */

static uint8_t sat_u8(int v) { return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v; }
static int8_t sat_s8(int v) { return v < -128 ? -128 : v > 127 ? 127 : (int8_t)v; }
static uint16_t sat_u16(int v) { return v < 0 ? 0 : v > 65535 ? 65535 : (uint16_t)v; }
static int16_t sat_s16(int v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : (int16_t)v; }

void emu_simd_shift_lanes(union xmm *d, int lane, uint64_t cnt, int kind)
{
	int n = 16 / lane, bits = lane * 8;

	for (int i = 0; i < n; i++) {
		switch (lane) {
		case 2:
			if (kind == 2) d->sw[i] = (int16_t)(d->sw[i] >> (cnt > 15 ? 15 : cnt));
			else if (cnt >= (uint64_t)bits) d->w[i] = 0;
			else d->w[i] = kind == 0 ? (uint16_t)(d->w[i] >> cnt) : (uint16_t)(d->w[i] << cnt);
			break;
		case 4:
			if (kind == 2) d->sd[i] = d->sd[i] >> (cnt > 31 ? 31 : cnt);
			else if (cnt >= (uint64_t)bits) d->d[i] = 0;
			else d->d[i] = kind == 0 ? d->d[i] >> cnt : d->d[i] << cnt;
			break;
		default:
			if (cnt >= 64) d->q[i] = 0;
			else d->q[i] = kind == 0 ? d->q[i] >> cnt : d->q[i] << cnt;
			break;
		}
	}
}

static void byte_shift(union xmm *d, unsigned n, bool left)
{
	union xmm r;

	memset(&r, 0, sizeof(r));
	if (n > 16)
		n = 16;
	for (unsigned i = 0; i < 16; i++) {
		if (left && i >= n)
			r.b[i] = d->b[i - n];
		if (!left && i + n < 16)
			r.b[i] = d->b[i + n];
	}
	*d = r;
}

static bool int_op(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;
	union xmm d, s, r;

	if (in->mandatory != 0x66)
		return false;
	if (op == 0x71 || op == 0x72 || op == 0x73) {
		int lane = op == 0x71 ? 2 : op == 0x72 ? 4 : 8;
		if (in->mod != 3)
			return false;
		xmm_get(c, in->rm, &d);
		switch (in->reg & 7) {
		case 2: emu_simd_shift_lanes(&d, lane, in->imm, 0); break;
		case 4: if (lane == 8) return false; emu_simd_shift_lanes(&d, lane, in->imm, 2); break;
		case 6: emu_simd_shift_lanes(&d, lane, in->imm, 1); break;
		case 3: if (lane != 8) return false; byte_shift(&d, (unsigned)in->imm, false); break;
		case 7: if (lane != 8) return false; byte_shift(&d, (unsigned)in->imm, true); break;
		default: return false;
		}
		xmm_put(c, in->rm, &d);
		return true;
	}
	xmm_get(c, in->reg, &d);
	src_get(c, in, &s, 16, true);
	r = d;
	if (!emu_simd_int_lanes(op, &d, &s, &r))
		return false;
	xmm_put(c, in->reg, &r);
	return true;
}

bool emu_simd_int_lanes(uint8_t op, const union xmm *dp, const union xmm *sp, union xmm *rp)
{
	const union xmm d = *dp, s = *sp;
	union xmm r = *rp;
	int i;

	switch (op) {
	case 0x60: for (i = 0; i < 8; i++) { r.b[2 * i] = d.b[i]; r.b[2 * i + 1] = s.b[i]; } break;
	case 0x61: for (i = 0; i < 4; i++) { r.w[2 * i] = d.w[i]; r.w[2 * i + 1] = s.w[i]; } break;
	case 0x62: for (i = 0; i < 2; i++) { r.d[2 * i] = d.d[i]; r.d[2 * i + 1] = s.d[i]; } break;
	case 0x68: for (i = 0; i < 8; i++) { r.b[2 * i] = d.b[8 + i]; r.b[2 * i + 1] = s.b[8 + i]; } break;
	case 0x69: for (i = 0; i < 4; i++) { r.w[2 * i] = d.w[4 + i]; r.w[2 * i + 1] = s.w[4 + i]; } break;
	case 0x6a: for (i = 0; i < 2; i++) { r.d[2 * i] = d.d[2 + i]; r.d[2 * i + 1] = s.d[2 + i]; } break;
	case 0x6c: r.q[0] = d.q[0]; r.q[1] = s.q[0]; break;
	case 0x6d: r.q[0] = d.q[1]; r.q[1] = s.q[1]; break;
	case 0x63: for (i = 0; i < 8; i++) { r.sb[i] = sat_s8(d.sw[i]); r.sb[8 + i] = sat_s8(s.sw[i]); } break;
	case 0x67: for (i = 0; i < 8; i++) { r.b[i] = sat_u8(d.sw[i]); r.b[8 + i] = sat_u8(s.sw[i]); } break;
	case 0x6b: for (i = 0; i < 4; i++) { r.sw[i] = sat_s16(d.sd[i]); r.sw[4 + i] = sat_s16(s.sd[i]); } break;
	case 0x64: for (i = 0; i < 16; i++) r.b[i] = d.sb[i] > s.sb[i] ? 0xff : 0; break;
	case 0x65: for (i = 0; i < 8; i++) r.w[i] = d.sw[i] > s.sw[i] ? 0xffff : 0; break;
	case 0x66: for (i = 0; i < 4; i++) r.d[i] = d.sd[i] > s.sd[i] ? ~0u : 0; break;
	case 0x74: for (i = 0; i < 16; i++) r.b[i] = d.b[i] == s.b[i] ? 0xff : 0; break;
	case 0x75: for (i = 0; i < 8; i++) r.w[i] = d.w[i] == s.w[i] ? 0xffff : 0; break;
	case 0x76: for (i = 0; i < 4; i++) r.d[i] = d.d[i] == s.d[i] ? ~0u : 0; break;
	case 0xd1: emu_simd_shift_lanes(&r, 2, s.q[0], 0); break;
	case 0xd2: emu_simd_shift_lanes(&r, 4, s.q[0], 0); break;
	case 0xd3: emu_simd_shift_lanes(&r, 8, s.q[0], 0); break;
	case 0xe1: emu_simd_shift_lanes(&r, 2, s.q[0], 2); break;
	case 0xe2: emu_simd_shift_lanes(&r, 4, s.q[0], 2); break;
	case 0xf1: emu_simd_shift_lanes(&r, 2, s.q[0], 1); break;
	case 0xf2: emu_simd_shift_lanes(&r, 4, s.q[0], 1); break;
	case 0xf3: emu_simd_shift_lanes(&r, 8, s.q[0], 1); break;
	case 0xd4: for (i = 0; i < 2; i++) r.q[i] = d.q[i] + s.q[i]; break;
	case 0xfb: for (i = 0; i < 2; i++) r.q[i] = d.q[i] - s.q[i]; break;
	case 0xd5: for (i = 0; i < 8; i++) r.w[i] = (uint16_t)(d.sw[i] * s.sw[i]); break;
	case 0xe5: for (i = 0; i < 8; i++) r.w[i] = (uint16_t)((d.sw[i] * s.sw[i]) >> 16); break;
	case 0xe4: for (i = 0; i < 8; i++) r.w[i] = (uint16_t)(((uint32_t)d.w[i] * s.w[i]) >> 16); break;
	case 0xf4: for (i = 0; i < 2; i++) r.q[i] = (uint64_t)d.d[2 * i] * s.d[2 * i]; break;
	case 0xf5: for (i = 0; i < 4; i++) r.sd[i] = d.sw[2 * i] * s.sw[2 * i] + d.sw[2 * i + 1] * s.sw[2 * i + 1]; break;
	case 0xf6: {
		unsigned a = 0, b = 0;
		for (i = 0; i < 8; i++) a += (unsigned)abs(d.b[i] - s.b[i]);
		for (i = 8; i < 16; i++) b += (unsigned)abs(d.b[i] - s.b[i]);
		r.q[0] = a; r.q[1] = b;
		break;
	}
	case 0xd8: for (i = 0; i < 16; i++) r.b[i] = sat_u8(d.b[i] - s.b[i]); break;
	case 0xd9: for (i = 0; i < 8; i++) r.w[i] = sat_u16(d.w[i] - s.w[i]); break;
	case 0xdc: for (i = 0; i < 16; i++) r.b[i] = sat_u8(d.b[i] + s.b[i]); break;
	case 0xdd: for (i = 0; i < 8; i++) r.w[i] = sat_u16(d.w[i] + s.w[i]); break;
	case 0xe8: for (i = 0; i < 16; i++) r.sb[i] = sat_s8(d.sb[i] - s.sb[i]); break;
	case 0xe9: for (i = 0; i < 8; i++) r.sw[i] = sat_s16(d.sw[i] - s.sw[i]); break;
	case 0xec: for (i = 0; i < 16; i++) r.sb[i] = sat_s8(d.sb[i] + s.sb[i]); break;
	case 0xed: for (i = 0; i < 8; i++) r.sw[i] = sat_s16(d.sw[i] + s.sw[i]); break;
	case 0xda: for (i = 0; i < 16; i++) r.b[i] = MIN(d.b[i], s.b[i]); break;
	case 0xde: for (i = 0; i < 16; i++) r.b[i] = MAX(d.b[i], s.b[i]); break;
	case 0xea: for (i = 0; i < 8; i++) r.sw[i] = MIN(d.sw[i], s.sw[i]); break;
	case 0xee: for (i = 0; i < 8; i++) r.sw[i] = MAX(d.sw[i], s.sw[i]); break;
	case 0xe0: for (i = 0; i < 16; i++) r.b[i] = (uint8_t)((d.b[i] + s.b[i] + 1) >> 1); break;
	case 0xe3: for (i = 0; i < 8; i++) r.w[i] = (uint16_t)((d.w[i] + s.w[i] + 1) >> 1); break;
	case 0xdb: for (i = 0; i < 2; i++) r.q[i] = d.q[i] & s.q[i]; break;
	case 0xdf: for (i = 0; i < 2; i++) r.q[i] = ~d.q[i] & s.q[i]; break;
	case 0xeb: for (i = 0; i < 2; i++) r.q[i] = d.q[i] | s.q[i]; break;
	case 0xef: for (i = 0; i < 2; i++) r.q[i] = d.q[i] ^ s.q[i]; break;
	case 0xf8: for (i = 0; i < 16; i++) r.b[i] = (uint8_t)(d.b[i] - s.b[i]); break;
	case 0xf9: for (i = 0; i < 8; i++) r.w[i] = (uint16_t)(d.w[i] - s.w[i]); break;
	case 0xfa: for (i = 0; i < 4; i++) r.d[i] = d.d[i] - s.d[i]; break;
	case 0xfc: for (i = 0; i < 16; i++) r.b[i] = (uint8_t)(d.b[i] + s.b[i]); break;
	case 0xfd: for (i = 0; i < 8; i++) r.w[i] = (uint16_t)(d.w[i] + s.w[i]); break;
	case 0xfe: for (i = 0; i < 4; i++) r.d[i] = d.d[i] + s.d[i]; break;
	default:
		return false;
	}
	*rp = r;
	return true;
}

static bool logic_shuffle(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op, p = in->mandatory;
	union xmm d, s, r;
	unsigned imm = (unsigned)in->imm;
	int i;

	switch (op) {
	case 0x54: case 0x55: case 0x56: case 0x57: case 0x14: case 0x15: case 0xc6:
		if (p && p != 0x66)
			return false;
		xmm_get(c, in->reg, &d);
		src_get(c, in, &s, 16, true);
		r = d;
		if (op == 0x54) for (i = 0; i < 2; i++) r.q[i] = d.q[i] & s.q[i];
		if (op == 0x55) for (i = 0; i < 2; i++) r.q[i] = ~d.q[i] & s.q[i];
		if (op == 0x56) for (i = 0; i < 2; i++) r.q[i] = d.q[i] | s.q[i];
		if (op == 0x57) for (i = 0; i < 2; i++) r.q[i] = d.q[i] ^ s.q[i];
		if (op == 0x14) {
			if (p == 0x66) { r.q[0] = d.q[0]; r.q[1] = s.q[0]; }
			else { r.d[0] = d.d[0]; r.d[1] = s.d[0]; r.d[2] = d.d[1]; r.d[3] = s.d[1]; }
		}
		if (op == 0x15) {
			if (p == 0x66) { r.q[0] = d.q[1]; r.q[1] = s.q[1]; }
			else { r.d[0] = d.d[2]; r.d[1] = s.d[2]; r.d[2] = d.d[3]; r.d[3] = s.d[3]; }
		}
		if (op == 0xc6) {
			if (p == 0x66) { r.q[0] = d.q[imm & 1]; r.q[1] = s.q[(imm >> 1) & 1]; }
			else {
				r.d[0] = d.d[imm & 3]; r.d[1] = d.d[(imm >> 2) & 3];
				r.d[2] = s.d[(imm >> 4) & 3]; r.d[3] = s.d[(imm >> 6) & 3];
			}
		}
		xmm_put(c, in->reg, &r);
		return true;
	case 0x70:
		if (!p)
			return false;
		src_get(c, in, &s, 16, p == 0x66);
		r = s;
		if (p == 0x66)
			for (i = 0; i < 4; i++) r.d[i] = s.d[(imm >> (2 * i)) & 3];
		else if (p == 0xf3)
			for (i = 0; i < 4; i++) r.w[4 + i] = s.w[4 + ((imm >> (2 * i)) & 3)];
		else
			for (i = 0; i < 4; i++) r.w[i] = s.w[(imm >> (2 * i)) & 3];
		xmm_put(c, in->reg, &r);
		return true;
	case 0xc4: /* PINSRW */
		if (p != 0x66)
			return false;
		xmm_get(c, in->reg, &d);
		d.w[imm & 7] = (uint16_t)emu_rm_read(c, in, 2);
		xmm_put(c, in->reg, &d);
		return true;
	case 0xc5: /* PEXTRW */
		if (p != 0x66 || in->mod != 3)
			return false;
		xmm_get(c, in->rm, &s);
		reg_set(c, in->reg, s.w[imm & 7], 4, true);
		return true;
	default:
		return false;
	}
}

/* ---- 0F AE: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR, fences, CLFLUSH ---- */

static bool grp15(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t buf[512];
	uint64_t la;

	if (in->mandatory == 0xf3 || in->mandatory == 0xf2)
		return false;   /* RDFSBASE etc. are not advertised */
	if (in->mod == 3) {
		switch (in->reg & 7) {
		case 5: __atomic_thread_fence(__ATOMIC_ACQUIRE); return true;
		case 6: __atomic_thread_fence(__ATOMIC_SEQ_CST); return true;
		case 7: __atomic_thread_fence(__ATOMIC_RELEASE); return true;
		default: return false;
		}
	}
	switch (in->reg & 7) {
	case 0: case 1:
		if (c->cr0 & (X86_CR0_EM | X86_CR0_TS))
			emu_raise(c, EXC_NM, 0, false);
		la = emu_ea_linear(c, in, 512);
		if (la & 15)
			emu_raise_gp(c, 0);
		if ((in->reg & 7) == 0) {
			emu_fxsave(c, buf);
			if (!(in->rex & 8)) {
				/* 32-bit format: FIP/FDP are offset + selector. */
				uint16_t cs = c->seg[S_CS].selector, ds = c->seg[S_DS].selector;
				memset(buf + 12, 0, 4);
				memcpy(buf + 12, &cs, 2);
				memset(buf + 20, 0, 4);
				memcpy(buf + 20, &ds, 2);
			}
			prep_write(c, la, 512);
			for (int i = 0; i < 512; i += 8) {
				uint64_t v;
				memcpy(&v, buf + i, 8);
				emu_write(c, la + i, v, 8);
			}
		} else {
			for (int i = 0; i < 512; i += 8) {
				uint64_t v = emu_read(c, la + i, 8);
				memcpy(buf + i, &v, 8);
			}
			if (emu_fxrstor(c, buf))
				emu_raise_gp(c, 0);
		}
		return true;
	case 2: { /* LDMXCSR */
		uint32_t v;
		check_sse(c);
		v = (uint32_t)emu_read(c, emu_ea_linear(c, in, 4), 4);
		if (v & ~0xffffu)
			emu_raise_gp(c, 0);
		c->mxcsr = v;
		return true;
	}
	case 3:
		check_sse(c);
		emu_write(c, emu_ea_linear(c, in, 4), c->mxcsr, 4);
		return true;
	case 7: /* CLFLUSH: translate for the fault checks, nothing to flush */
		(void)emu_read(c, emu_ea_linear(c, in, 1), 1);
		return true;
	default:
		return false;
	}
}

bool emu_sse_exec(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;

	if (in->op >= 0x200 || in->op < 0x100)
		return false;
	if (emu_mmx_form(in)) {
		emu_mmx_exec(c, in);
		return true;
	}
	switch (op) {
	case 0xae:
		return grp15(c, in);
	case 0xc3:
		return moves(c, in);
	case 0x10 ... 0x17: case 0x28 ... 0x2f: case 0x50 ... 0x7f:
	case 0xc2: case 0xc4 ... 0xc6: case 0xd0 ... 0xff:
		break;
	default:
		return false;
	}
	check_sse(c);
	switch (op) {
	case 0x2a: case 0x2c: case 0x2d: case 0x5a: case 0x5b:
		cvt(c, in);
		return true;
	case 0xe6:
		if (!in->mandatory)
			return false;
		cvt(c, in);
		return true;
	case 0x2e: case 0x2f:
		if (in->mandatory && in->mandatory != 0x66)
			return false;
		comis(c, in);
		return true;
	case 0x51 ... 0x53: case 0x58 ... 0x59: case 0x5c ... 0x5f: case 0xc2:
		if ((op == 0x52 || op == 0x53) && (in->mandatory == 0x66 || in->mandatory == 0xf2))
			return false;
		fp_arith(c, in);
		return true;
	default:
		break;
	}
	if (moves(c, in))
		return true;
	if (logic_shuffle(c, in))
		return true;
	if (int_op(c, in))
		return true;
	return false;
}
