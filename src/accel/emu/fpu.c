// SPDX-License-Identifier: GPL-2.0-only
/*
 * x87 FPU (Intel SDM Vol. 1 Chapter 8) on host long double, which on
 * x86-64 is the same 80-bit extended format, and FXSAVE/FXRSTOR
 * (Vol. 1 §10.5.1, Table 10-2).  Floating-point exceptions are recorded
 * in the status word only as far as stack faults go; unmasked exceptions
 * are not raised (Linux and glibc run with them masked).
 */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "accel/emu/cpu.h"
#include "accel/emu/ops.h"

#define FSW_IE 0x0001
#define FSW_SF 0x0040
#define FSW_C0 0x0100
#define FSW_C1 0x0200
#define FSW_C2 0x0400
#define FSW_C3 0x4000
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)

void emu_x87_reset(struct emu_cpu *c)
{
	memset(&c->x87, 0, sizeof(c->x87));
	c->x87.fcw = 0x37f;
}

static inline int phys(const struct emu_cpu *c, int i)
{
	return (c->x87.top + i) & 7;
}

static inline long double st_get(struct emu_cpu *c, int i)
{
	int p = phys(c, i);
	if (!(c->x87.ftw & (1u << p))) {
		c->x87.fsw |= FSW_IE | FSW_SF;
		return NAN;
	}
	return c->x87.st[p];
}

static inline void st_set(struct emu_cpu *c, int i, long double v)
{
	int p = phys(c, i);
	c->x87.st[p] = v;
	c->x87.ftw |= 1u << p;
}

static void fpush(struct emu_cpu *c, long double v)
{
	c->x87.top = (c->x87.top - 1) & 7;
	if (c->x87.ftw & (1u << c->x87.top))
		c->x87.fsw |= FSW_IE | FSW_SF | FSW_C1;
	st_set(c, 0, v);
}

static void fpop(struct emu_cpu *c)
{
	c->x87.ftw &= ~(1u << c->x87.top);
	c->x87.top = (c->x87.top + 1) & 7;
}

static uint16_t fsw_full(const struct emu_cpu *c)
{
	return (uint16_t)((c->x87.fsw & ~0x3800) | (c->x87.top << 11) |
			  ((c->x87.fsw & 0x3f & ~(c->x87.fcw & 0x3f)) ? 0x8080 : 0));
}

static long double rd_f32(uint32_t v) { float f; memcpy(&f, &v, 4); return f; }
static long double rd_f64(uint64_t v) { double d; memcpy(&d, &v, 8); return d; }
static uint32_t wr_f32(long double v) { float f = (float)v; uint32_t r; memcpy(&r, &f, 4); return r; }
static uint64_t wr_f64(long double v) { double d = (double)v; uint64_t r; memcpy(&r, &d, 8); return r; }

static long double rd_f80(struct emu_cpu *c, uint64_t la)
{
	uint8_t b[16] = { 0 };
	long double v;
	uint64_t lo = emu_read(c, la, 8), hi = emu_read(c, la + 8, 2);

	memcpy(b, &lo, 8);
	memcpy(b + 8, &hi, 2);
	memcpy(&v, b, sizeof(v));
	return v;
}

static void wr_f80(struct emu_cpu *c, uint64_t la, long double v)
{
	uint8_t b[16];
	uint64_t lo = 0, hi = 0;

	memset(b, 0, sizeof(b));
	memcpy(b, &v, 10);
	memcpy(&lo, b, 8);
	memcpy(&hi, b + 8, 2);
	prep_write(c, la, 10);
	emu_write(c, la, lo, 8);
	emu_write(c, la + 8, hi, 2);
}

static long double round_rc(const struct emu_cpu *c, long double v)
{
	switch ((c->x87.fcw >> 10) & 3) {
	case 0: return nearbyintl(v);
	case 1: return floorl(v);
	case 2: return ceill(v);
	default: return truncl(v);
	}
}

/* Integer store with the x87 "integer indefinite" on overflow. */
static uint64_t to_int(struct emu_cpu *c, long double v, int size, bool trunc)
{
	long double r = trunc ? truncl(v) : round_rc(c, v);
	long double lim = ldexpl(1.0L, size * 8 - 1);

	if (isnan(r) || r >= lim || r < -lim) {
		c->x87.fsw |= FSW_IE;
		return 1ULL << (size * 8 - 1);
	}
	return (uint64_t)(int64_t)r;
}

static void set_cc(struct emu_cpu *c, uint16_t cc)
{
	c->x87.fsw = (uint16_t)((c->x87.fsw & ~FSW_CC) | cc);
}

static void fcom(struct emu_cpu *c, long double a, long double b)
{
	if (isnan(a) || isnan(b))
		set_cc(c, FSW_C0 | FSW_C2 | FSW_C3);
	else if (a < b)
		set_cc(c, FSW_C0);
	else if (a > b)
		set_cc(c, 0);
	else
		set_cc(c, FSW_C3);
}

static void fcomi(struct emu_cpu *c, long double a, long double b)
{
	uint64_t f;

	if (isnan(a) || isnan(b))
		f = FL_ZF | FL_PF | FL_CF;
	else if (a < b)
		f = FL_CF;
	else if (a > b)
		f = 0;
	else
		f = FL_ZF;
	emu_flags_set(c, f, FL_ARITH);
	c->x87.fsw &= ~FSW_C1;
}

static long double arith(int op, long double a, long double b)
{
	switch (op) {
	case 0: return a + b;
	case 1: return a * b;
	case 4: return a - b;
	case 5: return b - a;
	case 6: return a / b;
	default: return b / a;
	}
}

static void fxam(struct emu_cpu *c)
{
	int p = phys(c, 0);
	long double v = c->x87.st[p];
	uint16_t cc = signbit(v) ? FSW_C1 : 0;

	if (!(c->x87.ftw & (1u << p)))
		cc |= FSW_C3 | FSW_C0;
	else if (isnan(v))
		cc |= FSW_C0;
	else if (isinf(v))
		cc |= FSW_C2 | FSW_C0;
	else if (v == 0)
		cc |= FSW_C3;
	else if (fpclassify(v) == FP_SUBNORMAL)
		cc |= FSW_C3 | FSW_C2;
	else
		cc |= FSW_C2;
	set_cc(c, cc);
}

static void fenv_store(struct emu_cpu *c, uint64_t la, bool o32)
{
	int w = o32 ? 4 : 2;
	uint16_t tw = 0;

	for (int i = 0; i < 8; i++) {
		if (!(c->x87.ftw & (1u << i))) {
			tw |= 3 << (2 * i);
		} else {
			long double v = c->x87.st[i];
			if (v == 0)
				tw |= 1 << (2 * i);
			else if (!isfinite(v) || fpclassify(v) == FP_SUBNORMAL)
				tw |= 2 << (2 * i);
		}
	}
	prep_write(c, la, 7 * w);
	emu_write(c, la, c->x87.fcw, w);
	emu_write(c, la + w, fsw_full(c), w);
	emu_write(c, la + 2 * w, tw, w);
	emu_write(c, la + 3 * w, c->x87.fip, w);
	emu_write(c, la + 4 * w, c->x87.fop, w);
	emu_write(c, la + 5 * w, c->x87.fdp, w);
	emu_write(c, la + 6 * w, 0, w);
}

static void fenv_load(struct emu_cpu *c, uint64_t la, bool o32)
{
	int w = o32 ? 4 : 2;
	uint16_t fcw = (uint16_t)emu_read(c, la, 2), fsw = (uint16_t)emu_read(c, la + w, 2);
	uint16_t tw = (uint16_t)emu_read(c, la + 2 * w, 2);

	c->x87.fcw = fcw;
	c->x87.fsw = fsw & ~0x3800;
	c->x87.top = (fsw >> 11) & 7;
	c->x87.ftw = 0;
	for (int i = 0; i < 8; i++)
		if (((tw >> (2 * i)) & 3) != 3)
			c->x87.ftw |= 1u << i;
}

static void x87_mem(struct emu_cpu *c, struct emu_insn *in, int grp)
{
	int r = in->reg & 7;
	uint64_t la = emu_ea_linear(c, in, 8);
	long double v;

	if (grp == 0 || grp == 2 || grp == 4 || grp == 6) {
		/* Arithmetic with a memory operand: f32, i32, f64, i16. */
		switch (grp) {
		case 0: v = rd_f32((uint32_t)emu_read(c, la, 4)); break;
		case 2: v = (int32_t)emu_read(c, la, 4); break;
		case 4: v = rd_f64(emu_read(c, la, 8)); break;
		default: v = (int16_t)emu_read(c, la, 2); break;
		}
		if (r == 2 || r == 3) {
			fcom(c, st_get(c, 0), v);
			if (r == 3)
				fpop(c);
		} else {
			st_set(c, 0, arith(r, st_get(c, 0), v));
		}
		return;
	}
	switch (grp * 8 + r) {
	case 010: fpush(c, rd_f32((uint32_t)emu_read(c, la, 4))); break;
	case 012: emu_write(c, la, wr_f32(st_get(c, 0)), 4); break;
	case 013: emu_write(c, la, wr_f32(st_get(c, 0)), 4); fpop(c); break;
	case 014: fenv_load(c, la, in->osize != 2); break;
	case 015: c->x87.fcw = (uint16_t)emu_read(c, la, 2); break;
	case 016: fenv_store(c, la, in->osize != 2); c->x87.fcw |= 0x3f; break;
	case 017: emu_write(c, la, c->x87.fcw, 2); break;
	case 030: fpush(c, (int32_t)emu_read(c, la, 4)); break;
	case 031: emu_write(c, la, to_int(c, st_get(c, 0), 4, true), 4); fpop(c); break;
	case 032: emu_write(c, la, to_int(c, st_get(c, 0), 4, false), 4); break;
	case 033: emu_write(c, la, to_int(c, st_get(c, 0), 4, false), 4); fpop(c); break;
	case 035: fpush(c, rd_f80(c, la)); break;
	case 037: wr_f80(c, la, st_get(c, 0)); fpop(c); break;
	case 050: fpush(c, rd_f64(emu_read(c, la, 8))); break;
	case 051: emu_write(c, la, to_int(c, st_get(c, 0), 8, true), 8); fpop(c); break;
	case 052: emu_write(c, la, wr_f64(st_get(c, 0)), 8); break;
	case 053: emu_write(c, la, wr_f64(st_get(c, 0)), 8); fpop(c); break;
	case 054: { /* FRSTOR */
		int w = in->osize != 2 ? 4 : 2;
		fenv_load(c, la, w == 4);
		for (int i = 0; i < 8; i++)
			c->x87.st[phys(c, i)] = rd_f80(c, la + 7 * w + 10 * i);
		break;
	}
	case 056: { /* FNSAVE */
		int w = in->osize != 2 ? 4 : 2;
		fenv_store(c, la, w == 4);
		for (int i = 0; i < 8; i++)
			wr_f80(c, la + 7 * w + 10 * i, c->x87.st[phys(c, i)]);
		emu_x87_reset(c);
		break;
	}
	case 057: emu_write(c, la, fsw_full(c), 2); break;
	case 070: fpush(c, (int16_t)emu_read(c, la, 2)); break;
	case 071: emu_write(c, la, to_int(c, st_get(c, 0), 2, true), 2); fpop(c); break;
	case 072: emu_write(c, la, to_int(c, st_get(c, 0), 2, false), 2); break;
	case 073: emu_write(c, la, to_int(c, st_get(c, 0), 2, false), 2); fpop(c); break;
	case 075: fpush(c, (long double)(int64_t)emu_read(c, la, 8)); break;
	case 077: emu_write(c, la, to_int(c, st_get(c, 0), 8, false), 8); fpop(c); break;
	default:
		emu_raise_ud(c);   /* FBLD/FBSTP and reserved encodings */
	}
}

static void x87_d9_reg(struct emu_cpu *c, uint8_t m)
{
	long double a, b;

	switch (m) {
	case 0xc0 ... 0xc7: fpush(c, st_get(c, m & 7)); break;
	case 0xc8 ... 0xcf:
		a = st_get(c, 0); b = st_get(c, m & 7);
		st_set(c, 0, b); st_set(c, m & 7, a);
		break;
	case 0xd0: break;
	case 0xe0: st_set(c, 0, -st_get(c, 0)); break;
	case 0xe1: st_set(c, 0, fabsl(st_get(c, 0))); break;
	case 0xe4: fcom(c, st_get(c, 0), 0.0L); break;
	case 0xe5: fxam(c); break;
	case 0xe8: fpush(c, 1.0L); break;
	case 0xe9: fpush(c, log2l(10.0L)); break;
	case 0xea: fpush(c, 1.0L / logl(2.0L)); break;
	case 0xeb: fpush(c, 3.14159265358979323846264338327950288L); break;
	case 0xec: fpush(c, log10l(2.0L)); break;
	case 0xed: fpush(c, logl(2.0L)); break;
	case 0xee: fpush(c, 0.0L); break;
	case 0xf0: st_set(c, 0, exp2l(st_get(c, 0)) - 1.0L); break;
	case 0xf1: a = st_get(c, 0); b = st_get(c, 1); fpop(c); st_set(c, 0, b * log2l(a)); break;
	case 0xf2: st_set(c, 0, tanl(st_get(c, 0))); fpush(c, 1.0L); set_cc(c, 0); break;
	case 0xf3: a = st_get(c, 0); b = st_get(c, 1); fpop(c); st_set(c, 0, atan2l(b, a)); break;
	case 0xf4: {
		int e;
		a = st_get(c, 0);
		b = frexpl(a, &e);
		st_set(c, 0, (long double)(e - 1));
		fpush(c, b * 2.0L);
		break;
	}
	case 0xf5: case 0xf8: { /* FPREM1 / FPREM */
		a = st_get(c, 0); b = st_get(c, 1);
		long double q = m == 0xf8 ? truncl(a / b) : nearbyintl(a / b);
		long double r = m == 0xf8 ? fmodl(a, b) : remainderl(a, b);
		int64_t qi = isfinite(q) ? (int64_t)fmodl(fabsl(q), 8.0L) : 0;
		st_set(c, 0, r);
		set_cc(c, (uint16_t)(((qi & 1) ? FSW_C1 : 0) | ((qi & 2) ? FSW_C3 : 0) | ((qi & 4) ? FSW_C0 : 0)));
		break;
	}
	case 0xf6: c->x87.top = (c->x87.top - 1) & 7; break;
	case 0xf7: c->x87.top = (c->x87.top + 1) & 7; break;
	case 0xf9: a = st_get(c, 0); b = st_get(c, 1); fpop(c); st_set(c, 0, b * log2l(a + 1.0L)); break;
	case 0xfa: st_set(c, 0, sqrtl(st_get(c, 0))); break;
	case 0xfb: a = st_get(c, 0); st_set(c, 0, sinl(a)); fpush(c, cosl(a)); set_cc(c, 0); break;
	case 0xfc: st_set(c, 0, round_rc(c, st_get(c, 0))); break;
	case 0xfd: st_set(c, 0, ldexpl(st_get(c, 0), (int)truncl(st_get(c, 1)))); break;
	case 0xfe: st_set(c, 0, sinl(st_get(c, 0))); set_cc(c, 0); break;
	case 0xff: st_set(c, 0, cosl(st_get(c, 0))); set_cc(c, 0); break;
	default: emu_raise_ud(c);
	}
}

static void x87_reg(struct emu_cpu *c, struct emu_insn *in, int grp)
{
	uint8_t m = in->modrm;
	int i = m & 7, r = (m >> 3) & 7;

	switch (grp) {
	case 0:
		if (r == 2 || r == 3) {
			fcom(c, st_get(c, 0), st_get(c, i));
			if (r == 3)
				fpop(c);
		} else {
			st_set(c, 0, arith(r, st_get(c, 0), st_get(c, i)));
		}
		return;
	case 1:
		x87_d9_reg(c, m);
		return;
	case 2: case 3:
		if (r < 4) { /* FCMOVcc */
			static const uint8_t cc[4] = { 2, 4, 6, 10 };  /* B, E, BE, P */
			bool t = emu_cond(c, cc[r]);
			if (grp == 3)
				t = !t;
			if (t)
				st_set(c, 0, st_get(c, i));
			return;
		}
		if (grp == 2 && m == 0xe9) {
			fcom(c, st_get(c, 0), st_get(c, 1));
			fpop(c); fpop(c);
			return;
		}
		if (grp == 3 && m == 0xe2) { c->x87.fsw &= 0x7f00; return; }
		if (grp == 3 && m == 0xe3) { emu_x87_reset(c); return; }
		if (grp == 3 && (r == 5 || r == 6)) { fcomi(c, st_get(c, 0), st_get(c, i)); return; }
		if (grp == 3 && m == 0xe4) return;   /* FNSETPM: no-op */
		break;
	case 4: case 6:
		if (grp == 6 && m == 0xd9) {
			fcom(c, st_get(c, 0), st_get(c, 1));
			fpop(c); fpop(c);
			return;
		}
		if (r == 2 || r == 3) {
			fcom(c, st_get(c, 0), st_get(c, i));
			if (r == 3 || grp == 6)
				fpop(c);
			return;
		}
		/* Destination ST(i); SUB/SUBR and DIV/DIVR swap meaning here. */
		{
			static const int map[8] = { 0, 1, 2, 3, 5, 4, 7, 6 };
			st_set(c, i, arith(map[r], st_get(c, i), st_get(c, 0)));
		}
		if (grp == 6)
			fpop(c);
		return;
	case 5:
		switch (r) {
		case 0: c->x87.ftw &= ~(1u << phys(c, i)); return;
		case 2: st_set(c, i, st_get(c, 0)); return;
		case 3: st_set(c, i, st_get(c, 0)); fpop(c); return;
		case 4: fcom(c, st_get(c, 0), st_get(c, i)); return;
		case 5: fcom(c, st_get(c, 0), st_get(c, i)); fpop(c); return;
		default: break;
		}
		break;
	case 7:
		if (m == 0xe0) { reg_set(c, R_AX, fsw_full(c), 2, false); return; }
		if (r == 5 || r == 6) { fcomi(c, st_get(c, 0), st_get(c, i)); fpop(c); return; }
		break;
	default:
		break;
	}
	emu_raise_ud(c);
}


/*
 * Native execution.  The host is an x86 CPU with the same x87 unit, so the
 * arithmetic, load/store, compare and transcendental instructions run on it:
 * exact results, precision and rounding control, C0-C3 and the exception
 * flags, for free.  The guest state goes in with FXRSTOR and comes back with
 * FXSAVE around the one instruction (memory operands redirected to a host
 * buffer), inside a small stub (one per instruction form, built once):
 *
 *   fxsave64 [rdx]; fxrstor64 [rsi]; push rcx; popfq; <D8-DF modrm'>;
 *   pushfq; pop rax; fxsave64 [rsi]; fxrstor64 [rdx]; ret
 *
 * All exceptions are masked while it runs (no #MF can reach the monitor);
 * the guest's masks are put back afterwards.  Non-waiting FXSAVE does not
 * check for pending exceptions.
 */
#define STUB_OP 12          /* offset of the x87 opcode in the stub */

static const uint8_t stub_code[] = {
	0x48, 0x0f, 0xae, 0x02,     /* fxsave64 [rdx] */
	0x48, 0x0f, 0xae, 0x0e,     /* fxrstor64 [rsi] */
	0x51, 0x9d, 0x90, 0x90,     /* push rcx; popfq; nop; nop */
	0xd9, 0xd0,                 /* the instruction (patched) */
	0x9c, 0x58,                 /* pushfq; pop rax */
	0x48, 0x0f, 0xae, 0x06,     /* fxsave64 [rsi] */
	0x48, 0x0f, 0xae, 0x0a,     /* fxrstor64 [rdx] */
	0xc3,
};

void emu_x87_destroy(struct emu_cpu *c)
{
	/* The stubs are shared by every vCPU and live as long as the process. */
	(void)c;
}

/*
 * One stub per opcode byte pair D8-DF x ModRM (2048 x 32 bytes), built
 * once and then read/execute only: no page is writable and executable.
 */
#define STUB_STRIDE 32
static uint8_t *stub_table;

static void stub_table_build(void)
{
	size_t len = 8 * 256 * STUB_STRIDE;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	for (unsigned i = 0; i < 8 * 256; i++) {
		uint8_t *s = p + i * STUB_STRIDE;
		memcpy(s, stub_code, sizeof(stub_code));
		s[STUB_OP] = (uint8_t)(0xd8 + (i >> 8));
		s[STUB_OP + 1] = (uint8_t)i;
	}
	if (mprotect(p, len, PROT_READ | PROT_EXEC) != 0) {
		munmap(p, len);
		return;
	}
	stub_table = p;
}

/* The stub running D8+grp with ModRM byte m, or NULL without stubs. */
static uint8_t *stub_get(struct emu_cpu *c, int grp, uint8_t m)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (c->x87_stub_failed)
		return NULL;
	pthread_once(&once, stub_table_build);
	if (!stub_table) {
		c->x87_stub_failed = true;
		return NULL;
	}
	return stub_table + (((unsigned)grp << 8) | m) * STUB_STRIDE;
}

/* Bytes of the memory operand of a D8-DF /reg form handled natively, 0 if not native. */
static int native_mem_size(int grp, int r, bool *store)
{
	*store = false;
	switch (grp) {
	case 0: case 2: return 4;
	case 4: return 8;
	case 6: return 2;
	case 1:
		if (r == 0) return 4;
		if (r == 2 || r == 3) { *store = true; return 4; }
		return 0;
	case 3:
		if (r == 0) return 4;
		if (r >= 1 && r <= 3) { *store = true; return 4; }
		if (r == 5) return 10;
		if (r == 7) { *store = true; return 10; }
		return 0;
	case 5:
		if (r == 0) return 8;
		if (r >= 1 && r <= 3) { *store = true; return 8; }
		return 0;
	default: /* 7 */
		if (r == 0) return 2;
		if (r >= 1 && r <= 3) { *store = true; return 2; }
		if (r == 4) return 10;
		if (r == 5) return 8;
		if (r == 6 || r == 7) { *store = true; return r == 6 ? 10 : 8; }
		return 0;
	}
}

/* Valid register forms (Intel SDM Vol. 2 Appendix A.5, Tables A-10..A-17). */
static bool native_reg_ok(int grp, uint8_t m)
{
	switch (grp) {
	case 0: return true;
	case 1: return m <= 0xcf || m == 0xd0 || m == 0xe0 || m == 0xe1 || m == 0xe4 ||
		       m == 0xe5 || (m >= 0xe8 && m <= 0xee) || m >= 0xf0;
	case 2: return m <= 0xdf || m == 0xe9;
	case 3: return m <= 0xdf || m == 0xe2 || m == 0xe3 || (m >= 0xe8 && m <= 0xf7);
	case 4: return m <= 0xcf || m >= 0xe0;
	case 5: return m <= 0xc7 || (m >= 0xd0 && m <= 0xef);
	case 6: return m <= 0xcf || m == 0xd9 || m >= 0xe0;
	default: return (m >= 0xe8 && m <= 0xf7);
	}
}

static void x87_import(struct emu_cpu *c, const uint8_t *b, uint16_t guest_masks)
{
	uint16_t fcw, fsw;

	memcpy(&fcw, b, 2);
	memcpy(&fsw, b + 2, 2);
	c->x87.fcw = (uint16_t)((fcw & ~0x3f) | guest_masks);
	c->x87.fsw = fsw & ~(0x3800 | 0x8080);
	c->x87.top = (fsw >> 11) & 7;
	c->x87.ftw = b[4];
	for (int i = 0; i < 8; i++) {
		long double v = 0;
		memcpy(&v, b + 32 + 16 * i, 10);
		c->x87.st[(c->x87.top + i) & 7] = v;
	}
}

/* Returns false if the instruction is not run natively (caller emulates). */
static bool x87_native(struct emu_cpu *c, struct emu_insn *in, int grp)
{
	uint8_t img[512] __attribute__((aligned(16)));
	uint8_t host[512] __attribute__((aligned(16)));
	uint8_t op[16] __attribute__((aligned(16)));
	uint64_t (*fn)(void *, void *, void *, uint64_t);
	uint8_t *stub;
	uint64_t la = 0, fl;
	uint16_t masks = c->x87.fcw & 0x3f;
	uint32_t mxcsr = 0x1f80;
	int size = 0;
	bool store = false;

	if (in->mod == 3) {
		if (!native_reg_ok(grp, in->modrm))
			return false;
	} else {
		size = native_mem_size(grp, in->reg & 7, &store);
		if (!size)
			return false;
	}
	stub = stub_get(c, grp, in->mod == 3 ? in->modrm : (uint8_t)(((in->reg & 7) << 3) | 7));
	if (!stub)
		return false;
	memset(op, 0, sizeof(op));
	if (size) {
		la = emu_ea_linear(c, in, size);
		if (store) {
			prep_write(c, la, size);
		} else {
			for (int i = 0; i < size; i++)
				op[i] = (uint8_t)emu_read(c, la + i, 1);
		}
	}
	emu_fxsave(c, img);
	img[0] |= 0x3f;                 /* mask every exception on the host */
	memcpy(img + 24, &mxcsr, 4);
	fn = (uint64_t (*)(void *, void *, void *, uint64_t))(uintptr_t)stub;
	fl = fn(op, img, host, (emu_flags_get(c) & FL_ARITH) | X86_RFLAGS_FIXED);
	x87_import(c, img, masks);
	if (store) {
		for (int i = 0; i < size; i++)
			emu_write(c, la + i, op[i], 1);
	}
	/* FCOMI / FUCOMI (and the popping forms) set ZF, PF, CF, clear OF/SF/AF. */
	if (in->mod == 3 && ((grp == 3 && (in->modrm & 0xf0) == 0xe0 && in->modrm >= 0xe8) ||
			     (grp == 3 && in->modrm >= 0xf0 && in->modrm <= 0xf7) ||
			     (grp == 7 && in->modrm >= 0xe8)))
		emu_flags_set(c, fl & (FL_ZF | FL_PF | FL_CF), FL_ARITH);
	if (size)
		c->x87.fdp = la;
	return true;
}

void emu_x87_exec(struct emu_cpu *c, struct emu_insn *in)
{
	int grp = in->op & 7;

	if (c->cr0 & (X86_CR0_EM | X86_CR0_TS))
		emu_raise(c, EXC_NM, 0, false);
	if (x87_native(c, in, grp))
		;
	else if (in->mod == 3)
		x87_reg(c, in, grp);
	else
		x87_mem(c, in, grp);
	if (!(grp == 1 && in->mod != 3 && (in->reg & 7) >= 4)) {
		c->x87.fip = in->rip;
		c->x87.fop = (uint16_t)(((in->op & 7) << 8) | in->modrm);
	}
}

/* FXSAVE image (Intel SDM Vol. 1 §10.5.1, Table 10-2, 64-bit layout). */
void emu_fxsave(struct emu_cpu *c, uint8_t *b)
{
	uint16_t fsw = fsw_full(c);
	uint32_t mask = 0xffff;

	memset(b, 0, 512);
	memcpy(b + 0, &c->x87.fcw, 2);
	memcpy(b + 2, &fsw, 2);
	b[4] = c->x87.ftw;
	memcpy(b + 6, &c->x87.fop, 2);
	memcpy(b + 8, &c->x87.fip, 8);
	memcpy(b + 16, &c->x87.fdp, 8);
	memcpy(b + 24, &c->mxcsr, 4);
	memcpy(b + 28, &mask, 4);
	for (int i = 0; i < 8; i++)
		memcpy(b + 32 + 16 * i, &c->x87.st[phys(c, i)], 10);
	memcpy(b + 160, c->xmm, 256);
}

int emu_fxrstor(struct emu_cpu *c, const uint8_t *b)
{
	uint16_t fsw;
	uint32_t mxcsr;

	memcpy(&mxcsr, b + 24, 4);
	if (mxcsr & ~0xffffu)
		return -1;
	memcpy(&c->x87.fcw, b, 2);
	memcpy(&fsw, b + 2, 2);
	c->x87.fsw = fsw & ~0x3800;
	c->x87.top = (fsw >> 11) & 7;
	c->x87.ftw = b[4];
	memcpy(&c->x87.fop, b + 6, 2);
	memcpy(&c->x87.fip, b + 8, 8);
	memcpy(&c->x87.fdp, b + 16, 8);
	c->mxcsr = mxcsr;
	for (int i = 0; i < 8; i++) {
		long double v = 0;
		memcpy(&v, b + 32 + 16 * i, 10);
		c->x87.st[phys(c, i)] = v;
	}
	memcpy(c->xmm, b + 160, 256);
	return 0;
}
