// SPDX-License-Identifier: GPL-2.0-only
/*
 * emu-diff: the differential test of the emu interpreter (issue 3 item 4).
 *
 * For each instruction form (diff_forms.c) and each of N trials, a random
 * input state (fixed seed) runs natively on the host CPU (diff_native.c)
 * and through emu_test_run(); GPRs, RIP, the RFLAGS bits the manual
 * defines for that form and input, memory, XMM/MXCSR and the x87 state
 * must match, as must the exception vector when either side faults.
 * Each form runs in its own forked child, so neither a wild native
 * instruction nor an interpreter crash takes the harness down.
 *
 * A form the interpreter answers with #UD (where the host runs it) on its
 * first trial is "unimplemented": counted, and a failure only if it is in
 * the expected-implemented list (patterns, one per line).
 *
 * A form that differs fails the run unless it matches the known-differences
 * list (interpreter bugs already reported, each with its reason): those are
 * printed as KNOWN and counted, and a known form that passes is printed as
 * FIXED so the list shrinks.  New differences always fail.
 *
 * Usage: emu-diff [--trials N] [--seed S] [--jobs J] [--expected FILE]
 *                 [--known FILE] [--filter SUBSTR]  [--quiet] [--list] [--self] [--jit]
 *
 * --jit runs the snippets through the block translator (jit.c) instead of
 * the instruction-at-a-time interpreter.
 *
 * --self runs the host against itself: a check of the harness (inputs,
 * masks, the native runner) that needs no interpreter.  --canary runs the
 * host against a deliberately corrupted copy of itself and succeeds only if
 * every form is reported as differing: a check that the comparisons bite.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diff.h"

#define MAX_FORMS 2048
#define MSG_MAX 512
#define CHILD_TIMEOUT_S 60

enum status { ST_PENDING, ST_PASS, ST_DIFF, ST_UNIMPL, ST_CRASH, ST_HARNESS };

struct form_result {
	enum status status;
	int trials;             /* trials run */
	int mismatches;
	char msg[MSG_MAX];
};

struct options {
	int trials;
	uint64_t seed;
	int jobs;
	const char *expected;
	const char *known;
	const char *filter;
	bool quiet, list;
	bool self;              /* compare the host with itself (harness check) */
	bool canary;            /* host vs a deliberately corrupted host: must differ */
	int dump;               /* print this many trials of each form */
};

/* ---- random inputs ---- */

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rand_gpr(uint64_t *s)
{
	static const uint64_t edge[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
		0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
		0x7fffffffffffffffULL, 0x8000000000000000ULL, 0xffffffffffffffffULL,
		0xfffffffffffffffeULL, 0xffffffff80000000ULL, 0xffffffffffff8000ULL,
		0xffffffffffffff80ULL,
	};
	uint64_t r = rng_next(s), v = rng_next(s);

	switch (r % 8) {
	case 0:
	case 1:
	case 2:
		return v;
	case 3:
		return (uint64_t)((int64_t)(int8_t)v);
	case 4:
		return edge[(r >> 8) % (sizeof(edge) / sizeof(edge[0]))];
	case 5:
		return v & ((1ULL << ((r >> 8) % 64)) - 1);
	case 6:
		return (uint32_t)v;
	default:
		return (1ULL << ((r >> 8) % 64)) + ((r >> 16) % 3) - 1;
	}
}

static double rand_double(uint64_t *s)
{
	static const double special[] = {
		0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 3.0, 1e308, -1e308, 1e-310,
		-1e-310, 4.9e-324, 2147483647.0, 2147483648.0, -2147483649.0,
		9.2233720368547758e18, 65535.5, 1.0 / 3.0, 0.1,
	};
	uint64_t r = rng_next(s), bits;
	double d;

	switch (r % 8) {
	case 0:
		return special[(r >> 8) % (sizeof(special) / sizeof(special[0]))];
	case 1:
		bits = (r & 1 ? 0xfff0000000000000ULL : 0x7ff0000000000000ULL) |
		       (r & 2 ? (rng_next(s) & 0xfffffffffffffULL) | 1 : 0);
		memcpy(&d, &bits, 8);   /* inf or NaN (quiet or signalling) */
		return d;
	case 2:
		return (double)(int64_t)(rng_next(s) % 2001) - 1000.0;
	case 3:
		bits = rng_next(s);
		memcpy(&d, &bits, 8);   /* any bit pattern */
		return d;
	default:
		return ((double)(int64_t)rng_next(s) / 9.2233720368547758e18) *
		       __builtin_powi(2.0, (int)((r >> 8) % 80) - 40);
	}
}

static void fill_fp(uint8_t *p, size_t len, int width, uint64_t *s)
{
	size_t i;

	for (i = 0; i + width <= len; i += width) {
		double d = rand_double(s);

		if (width == 4) {
			float f = (float)d;

			if ((rng_next(s) & 7) == 0) {
				uint32_t bits = (uint32_t)rng_next(s);

				memcpy(&f, &bits, 4);
			}
			memcpy(p + i, &f, 4);
		} else {
			memcpy(p + i, &d, 8);
		}
	}
}

static void fill_random(uint8_t *p, size_t len, uint64_t *s)
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v = rng_next(s);

		memcpy(p + i, &v, (len - i < 8 ? len - i : 8));
	}
}

static void put_u64(uint8_t *mem, uint64_t gva, uint64_t v)
{
	uint64_t off = gva - EMU_TEST_MEM_GVA;

	if (off + 8 <= EMU_TEST_MEM_SIZE)
		memcpy(mem + off, &v, 8);
}

/* Dividend high half: zero (DIV) or the sign of the low half (IDIV), most of the time. */
static void shape_div(const struct form *f, struct emu_test_state *st, uint64_t *s)
{
	bool is_idiv = f->name[0] == 'i';

	if ((rng_next(s) & 3) == 0)
		return;
	if (f->opbits == 8) {
		uint8_t al = st->gpr[RAX];
		uint8_t ah = is_idiv ? (al & 0x80 ? 0xff : 0) : 0;

		st->gpr[RAX] = (st->gpr[RAX] & ~0xffffULL) | ((uint64_t)ah << 8) | al;
		return;
	}
	if (is_idiv) {
		int64_t lo = f->opbits == 16 ? (int16_t)st->gpr[RAX] :
			     f->opbits == 32 ? (int32_t)st->gpr[RAX] : (int64_t)st->gpr[RAX];

		st->gpr[RDX] = lo < 0 ? ~0ULL : 0;
	} else {
		st->gpr[RDX] = 0;
	}
}

static void make_input(const struct form *f, uint64_t seed, struct emu_test_state *st)
{
	uint64_t s = seed;
	int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < 16; i++)
		st->gpr[i] = rand_gpr(&s);
	st->rflags = 0x202 | (rng_next(&s) & FL_ARITH);
	if (f->want_df && (rng_next(&s) & 1))
		st->rflags |= FL_DF;
	fill_random(&st->xmm[0][0], sizeof(st->xmm), &s);
	fill_random(st->mem, sizeof(st->mem), &s);
	st->mxcsr = 0x1f80;
	if (f->cls == CLS_FP) {
		fill_fp(&st->xmm[0][0], sizeof(st->xmm), f->fpw, &s);
		fill_fp(st->mem, sizeof(st->mem), f->fpw, &s);
		if ((rng_next(&s) & 3) == 0)
			st->mxcsr |= (rng_next(&s) & 3) << 13;   /* rounding control */
		if ((rng_next(&s) & 7) == 0)
			st->mxcsr |= 0x8040;                     /* FTZ, DAZ */
	}
	if (f->cls == CLS_X87)
		fill_fp(st->mem, sizeof(st->mem), 8, &s);

	/* FXSAVE image: FINIT state, MXCSR and XMM registers (SDM Vol.1 §10.5.1). */
	st->fxsave[0] = 0x7f;
	st->fxsave[1] = 0x03;
	memcpy(st->fxsave + 24, &st->mxcsr, 4);
	st->fxsave[28] = 0xff;
	st->fxsave[29] = 0xff;
	memcpy(st->fxsave + 160, st->xmm, 256);

	if (f->cls == CLS_MMX) {
		/* MM0-7 alias R0-R7 wherever TOP points (SDM Vol.1 §9.5). */
		uint16_t fsw = (uint16_t)((rng_next(&s) & 7) << 11);

		memcpy(st->fxsave + 2, &fsw, 2);
		st->fxsave[4] = (uint8_t)rng_next(&s);
		for (i = 0; i < 8; i++)
			fill_random(st->fxsave + 32 + 16 * i, 10, &s);
		if (f->fpw) {
			fill_fp(&st->xmm[0][0], sizeof(st->xmm), f->fpw, &s);
			fill_fp(st->mem, sizeof(st->mem), f->fpw, &s);
			memcpy(st->fxsave + 160, st->xmm, 256);
		}
	}
	if (f->membase >= 0) {
		uint64_t off = 0x400 + rng_next(&s) % 0x1400;

		off &= ~(uint64_t)(f->memalign - 1);
		st->gpr[f->membase] = EMU_TEST_MEM_GVA + off;
	}
	if (f->small_reg >= 0)
		st->gpr[f->small_reg] = (uint64_t)((int64_t)(rng_next(&s) % 2048) - 1024);
	if (f->rsp_mem) {
		st->gpr[RSP] = EMU_TEST_MEM_GVA + 0x1000 + (rng_next(&s) % 64) * 8;
		if (f->popf)
			put_u64(st->mem, st->gpr[RSP],
				0x202 | (rng_next(&s) & (FL_ARITH | FL_DF)));
		if (f->ret_target)
			put_u64(st->mem, st->gpr[RSP], EMU_TEST_CODE_GVA + f->len);
	}
	if (f->target_reg >= 0)
		st->gpr[f->target_reg] = EMU_TEST_CODE_GVA + f->len;
	if (f->cls == CLS_STR) {
		st->gpr[RSI] = EMU_TEST_MEM_GVA + 0x200 + rng_next(&s) % 0x1c00;
		st->gpr[RDI] = EMU_TEST_MEM_GVA + 0x200 + rng_next(&s) % 0x1c00;
		st->gpr[RCX] = rng_next(&s) % 17;
		/* Matching strings now and then, so REPE runs on. */
		if (rng_next(&s) & 1)
			memmove(st->mem + (st->gpr[RDI] - EMU_TEST_MEM_GVA),
			       st->mem + (st->gpr[RSI] - EMU_TEST_MEM_GVA), 64);
	}
	if ((f->count_imm == -1) && (rng_next(&s) & 1))
		st->gpr[RCX] = (st->gpr[RCX] & ~0xffULL) | (rng_next(&s) % (f->opbits + 3));
	if (f->cls == CLS_DIV)
		shape_div(f, st, &s);
}

/* ---- which results the manual defines ---- */

static unsigned shift_count(const struct form *f, const struct emu_test_state *in)
{
	unsigned c = f->count_imm == -2 ? 1 : f->count_imm == -1 ? (unsigned)(in->gpr[RCX] & 0xff) :
		     (unsigned)(uint8_t)f->count_imm;

	return c & (f->opbits == 64 ? 63 : 31);
}

static uint64_t read_operand(const struct form *f, const struct emu_test_state *in, int reg)
{
	uint64_t v = 0, off;

	if (reg >= 0) {
		v = in->gpr[reg];
	} else if (f->membase >= 0) {
		off = in->gpr[f->membase] + f->disp - EMU_TEST_MEM_GVA;
		if (off + 8 <= EMU_TEST_MEM_SIZE)
			memcpy(&v, in->mem + off, 8);
	}
	return f->opbits == 64 ? v : v & ((1ULL << f->opbits) - 1);
}

/* RFLAGS bits to compare, and a GPR whose value is undefined (-1 none). */
static uint32_t defined_flags(const struct form *f, const struct emu_test_state *in, int *undef_gpr)
{
	uint32_t undef = f->flags_undef;
	unsigned c;

	*undef_gpr = -1;
	switch (f->cls) {
	case CLS_SHIFT:
		/* SDM SAL/SAR/SHL/SHR: count 0 changes nothing; OF only for 1; AF undefined. */
		c = shift_count(f, in);
		if (c) {
			undef |= FL_AF;
			if (c != 1)
				undef |= FL_OF;
			if (c >= f->opbits)
				undef |= FL_CF;
		}
		break;
	case CLS_ROT:
	case CLS_RCX:
		/* SDM RCL/RCR/ROL/ROR: OF is defined for 1-bit rotates only. */
		c = shift_count(f, in);
		if (c > 1)
			undef |= FL_OF;
		break;
	case CLS_SHD:
		c = shift_count(f, in);
		if (c > f->opbits) {
			undef |= FL_ARITH;
			*undef_gpr = f->bsf_dest;
		} else if (c) {
			undef |= FL_AF;
			if (c != 1)
				undef |= FL_OF;
		}
		break;
	case CLS_BSF:
		if (read_operand(f, in, f->bsf_src) == 0)
			*undef_gpr = f->bsf_dest;
		break;
	default:
		break;
	}
	return (FL_ARITH & ~undef) | FL_DF;
}

/* ---- comparison ---- */

static const char *gpr_name[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
				    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };

static void describe_input(const struct emu_test_state *in, char *buf, size_t len)
{
	int n = snprintf(buf, len, " | in:");
	int i;

	for (i = 0; i < 16 && n < (int)len; i++)
		n += snprintf(buf + n, len - n, " %s=%" PRIx64, gpr_name[i], in->gpr[i]);
	if (n < (int)len)
		snprintf(buf + n, len - n, " fl=%" PRIx64, in->rflags);
}

static bool x87_differs(const uint8_t *a, const uint8_t *b, char *msg, size_t len)
{
	uint16_t fsw;
	int top, i;

	if (memcmp(a, b, 2)) {
		snprintf(msg, len, "FCW host %02x%02x emu %02x%02x", a[1], a[0], b[1], b[0]);
		return true;
	}
	if (memcmp(a + 2, b + 2, 2)) {
		snprintf(msg, len, "FSW host %02x%02x emu %02x%02x", a[3], a[2], b[3], b[2]);
		return true;
	}
	if (a[4] != b[4]) {
		snprintf(msg, len, "FTW host %02x emu %02x", a[4], b[4]);
		return true;
	}
	memcpy(&fsw, a + 2, 2);
	top = (fsw >> 11) & 7;
	for (i = 0; i < 8; i++) {
		if (!(a[4] & (1 << ((top + i) & 7))))
			continue;
		if (memcmp(a + 32 + 16 * i, b + 32 + 16 * i, 10)) {
			snprintf(msg, len, "ST(%d) differs", i);
			return true;
		}
	}
	return false;
}

/* 0 equal, else writes what differs into msg. */
static int compare(const struct form *f, const struct emu_test_state *in,
		   const struct run_result *hw, const struct run_result *emu,
		   char *msg, size_t len)
{
	uint32_t mask;
	int undef_gpr, i;

	if (hw->vector != emu->vector) {
		snprintf(msg, len, "exception: host %d emu %d (-1 none)", hw->vector, emu->vector);
		return 1;
	}
	if (hw->st.rip != emu->st.rip) {
		snprintf(msg, len, "rip: host %#" PRIx64 " emu %#" PRIx64, hw->st.rip, emu->st.rip);
		return 1;
	}
	mask = defined_flags(f, in, &undef_gpr);
	for (i = 0; i < 16; i++) {
		if (i == undef_gpr || hw->st.gpr[i] == emu->st.gpr[i])
			continue;
		snprintf(msg, len, "%s: host %#" PRIx64 " emu %#" PRIx64, gpr_name[i],
			 hw->st.gpr[i], emu->st.gpr[i]);
		return 1;
	}
	if ((hw->st.rflags ^ emu->st.rflags) & mask) {
		snprintf(msg, len, "rflags: host %#" PRIx64 " emu %#" PRIx64 " (compared %#x)",
			 hw->st.rflags & mask, emu->st.rflags & mask, mask);
		return 1;
	}
	for (i = 0; i < EMU_TEST_MEM_SIZE; i++) {
		if (hw->st.mem[i] != emu->st.mem[i]) {
			snprintf(msg, len, "memory at +%#x: host %02x emu %02x", i,
				 hw->st.mem[i], emu->st.mem[i]);
			return 1;
		}
	}
	for (i = 0; i < 16; i++) {
		if (memcmp(hw->st.xmm[i], emu->st.xmm[i], 16)) {
			snprintf(msg, len, "xmm%d: host %016" PRIx64 "%016" PRIx64 " emu %016" PRIx64 "%016" PRIx64,
				 i, *(const uint64_t *)&hw->st.xmm[i][8], *(const uint64_t *)&hw->st.xmm[i][0],
				 *(const uint64_t *)&emu->st.xmm[i][8], *(const uint64_t *)&emu->st.xmm[i][0]);
			return 1;
		}
	}
	if (hw->st.mxcsr != emu->st.mxcsr) {
		snprintf(msg, len, "mxcsr: host %#x emu %#x", hw->st.mxcsr, emu->st.mxcsr);
		return 1;
	}
	if (x87_differs(hw->st.fxsave, emu->st.fxsave, msg, len))
		return 1;
	return 0;
}

/* ---- one form, in a child process ---- */

/*
 * --canary: damage one part of a correct result, a different part per form
 * and trial, so that every comparison the harness makes is shown to bite.
 */
static void corrupt(struct run_result *r, int which)
{
	switch (which % 6) {
	case 0:
		r->st.gpr[which % 16] ^= 1ULL << (which % 64);
		break;
	case 1:
		r->st.rflags ^= FL_DF;          /* DF is compared for every form */
		break;
	case 2:
		r->st.mem[(which * 97) % EMU_TEST_MEM_SIZE] ^= 0x10;
		break;
	case 3:
		r->st.xmm[which % 16][which % 16] ^= 0x01;
		break;
	case 4:
		r->st.fxsave[0] ^= 0x01;        /* FCW */
		break;
	default:
		r->vector = r->vector == 13 ? 14 : 13;
		break;
	}
}

static void dump_state(const char *who, int vector, const struct emu_test_state *st)
{
	int i;

	printf("  %-4s vec=%d rip=%#" PRIx64 " fl=%#" PRIx64 " mxcsr=%#x\n      ", who, vector,
	       st->rip, st->rflags, st->mxcsr);
	for (i = 0; i < 16; i++)
		printf("%s=%" PRIx64 "%s", gpr_name[i], st->gpr[i], i % 4 == 3 ? "\n      " : " ");
	printf("xmm0=%016" PRIx64 "%016" PRIx64 "\n", *(const uint64_t *)&st->xmm[0][8],
	       *(const uint64_t *)&st->xmm[0][0]);
}

static void dump_trial(const struct form *f, int t, const struct emu_test_state *in,
		       const struct run_result *hw, const struct run_result *emu)
{
	printf("%s trial %d\n", f->name, t);
	dump_state("in", 0, in);
	dump_state("host", hw->vector, &hw->st);
	dump_state("emu", emu->vector, &emu->st);
	if (f->membase >= 0) {
		uint64_t off = in->gpr[f->membase] - EMU_TEST_MEM_GVA;
		const struct emu_test_state *sts[3] = { in, &hw->st, &emu->st };
		int k, q;

		for (k = 0; k < 3 && off + 64 <= EMU_TEST_MEM_SIZE; k++) {
			printf("  [base] %-4s", k == 0 ? "in" : k == 1 ? "host" : "emu");
			for (q = 0; q < 6; q++)
				printf(" %016" PRIx64, *(const uint64_t *)(sts[k]->mem + off + 8 * q));
			printf("\n");
		}
	}
	fflush(stdout);
}

static uint64_t trial_seed(uint64_t seed, int form_idx, int trial)
{
	uint64_t s = seed ^ ((uint64_t)form_idx << 32) ^ (uint64_t)trial;

	return rng_next(&s);
}

static void run_form(const struct form *f, int idx, const struct options *o,
		     struct form_result *res)
{
	static struct run_result hw, emu;   /* big: keep them off the stack */
	struct emu_test_state in, *est;
	void *est_buf;
	char msg[MSG_MAX], inbuf[MSG_MAX];
	int t;

	/*
	 * emu_test_run() runs guest memory in place at st->mem, so host
	 * alignment shows through (host CMPXCHG16B needs 16): give st->mem the
	 * page alignment real guest RAM has.
	 */
	if (posix_memalign(&est_buf, 4096, 2 * 4096 + sizeof(*est))) {
		res->status = ST_HARNESS;
		snprintf(res->msg, sizeof(res->msg), "out of memory");
		return;
	}
	/* est_buf lives as long as this child process. */
	est = (struct emu_test_state *)((uint8_t *)est_buf + 4096 -
					offsetof(struct emu_test_state, mem));
	if (diff_native_init()) {
		res->status = ST_HARNESS;
		snprintf(res->msg, sizeof(res->msg), "native runner setup failed");
		return;
	}
	for (t = 0; t < o->trials; t++) {
		make_input(f, trial_seed(o->seed, idx, t), &in);
		diff_native_run(f, &in, &hw);
		if (hw.vector >= 1000) {
			res->status = ST_HARNESS;
			snprintf(res->msg, sizeof(res->msg), "native run escaped the form (trap %d at %#" PRIx64 ")",
				 hw.vector - 1000, hw.st.rip);
			return;
		}
		memset(&emu, 0, sizeof(emu));
		if (o->self || o->canary) {
			diff_native_run(f, &in, &emu);
			if (o->canary)
				corrupt(&emu, idx + t);
		} else {
			*est = in;
			emu.vector = emu_test_run(est, f->code, f->len, 64);
			emu.st = *est;
		}
		res->trials = t + 1;
		if (t < o->dump)
			dump_trial(f, t, &in, &hw, &emu);
		if (emu.vector == 6 && hw.vector != 6 && t == 0) {
			res->status = ST_UNIMPL;
			return;
		}
		if (compare(f, &in, &hw, &emu, msg, sizeof(msg)) == 0)
			continue;
		if (res->mismatches++ == 0) {
			describe_input(&in, inbuf, sizeof(inbuf));
			snprintf(res->msg, sizeof(res->msg), "trial %d: %.200s%.290s", t, msg, inbuf);
		}
	}
	res->status = res->mismatches ? ST_DIFF : ST_PASS;
}

/* ---- expected-implemented list ---- */

struct patterns {
	char **pat;
	int n;
};

static int patterns_load(const char *path, struct patterns *p)
{
	char line[256];
	FILE *fp;

	p->pat = NULL;
	p->n = 0;
	if (!path)
		return 0;
	fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "emu-diff: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *s = line, *e;

		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*s || *s == '#')
			continue;
		p->pat = realloc(p->pat, (p->n + 1) * sizeof(*p->pat));
		if (!p->pat)
			abort();
		p->pat[p->n++] = strdup(s);
	}
	fclose(fp);
	return 0;
}

static void patterns_free(struct patterns *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		free(p->pat[i]);
	free(p->pat);
	p->pat = NULL;
	p->n = 0;
}

/* Matches a pattern and no "!pattern" exclusion. */
static bool patterns_match(const struct patterns *p, const char *name)
{
	bool hit = false;
	int i;

	for (i = 0; i < p->n; i++) {
		if (p->pat[i][0] == '!') {
			if (fnmatch(p->pat[i] + 1, name, 0) == 0)
				return false;
		} else if (fnmatch(p->pat[i], name, 0) == 0) {
			hit = true;
		}
	}
	return hit;
}

/* A line naming exactly this form (not a wildcard that also covers it). */
static bool patterns_name(const struct patterns *p, const char *name)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->pat[i], name) == 0)
			return true;
	return false;
}

/* ---- scheduling: up to `jobs` children at once ---- */

struct slot {
	pid_t pid;
	int form;
	time_t started;
};

static void child_main(const struct form *f, int idx, const struct options *o,
		       struct form_result *res)
{
	alarm(CHILD_TIMEOUT_S);
	run_form(f, idx, o, res);
	_exit(0);
}

static void reap(struct slot *sl, struct form_result *results, int status)
{
	struct form_result *r = &results[sl->form];

	if (r->status == ST_PENDING || !WIFEXITED(status) || WEXITSTATUS(status)) {
		if (r->status == ST_PENDING || r->status == ST_PASS)
			r->status = ST_CRASH;
		if (WIFSIGNALED(status))
			snprintf(r->msg, sizeof(r->msg), "child died with signal %d after %d trials%s",
				 WTERMSIG(status), r->trials,
				 WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		else
			snprintf(r->msg, sizeof(r->msg), "child exited with status %d after %d trials",
				 WEXITSTATUS(status), r->trials);
	}
	sl->pid = 0;
}

static int run_all(const struct form *forms, int nforms, const bool *selected,
		   const struct options *o, struct form_result *results)
{
	struct slot slots[64] = { { 0 } };
	int next = 0, running = 0, i, status;
	pid_t pid;

	for (;;) {
		while (running < o->jobs && next < nforms) {
			if (!selected[next]) {
				next++;
				continue;
			}
			for (i = 0; slots[i].pid; i++)
				;
			fflush(NULL);
			pid = fork();
			if (pid < 0) {
				perror("emu-diff: fork");
				return -1;
			}
			if (pid == 0)
				child_main(&forms[next], next, o, &results[next]);
			slots[i] = (struct slot){ .pid = pid, .form = next, .started = time(NULL) };
			running++;
			next++;
		}
		if (!running)
			return 0;
		pid = wait(&status);
		if (pid < 0) {
			perror("emu-diff: wait");
			return -1;
		}
		for (i = 0; i < 64; i++) {
			if (slots[i].pid == pid) {
				reap(&slots[i], results, status);
				running--;
				break;
			}
		}
	}
}

static const char *status_name(enum status s)
{
	switch (s) {
	case ST_PASS: return "PASS";
	case ST_DIFF: return "DIFF";
	case ST_UNIMPL: return "UNIMPL";
	case ST_CRASH: return "CRASH";
	case ST_HARNESS: return "HARNESS";
	default: return "PENDING";
	}
}

static int parse_args(int argc, char **argv, struct options *o)
{
	int i;

	*o = (struct options){ .trials = 200, .seed = 0x5eed0f0e1d1f0001ULL, .jobs = 0 };
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--jit")) {
			emu_test_jit = true;
		} else if (!strcmp(a, "--quiet")) {
			o->quiet = true;
		} else if (!strcmp(a, "--self")) {
			o->self = true;
		} else if (!strcmp(a, "--canary")) {
			o->canary = true;
		} else if (!strcmp(a, "--list")) {
			o->list = true;
		} else if (v && !strcmp(a, "--dump")) {
			o->dump = atoi(v), i++;
		} else if (v && !strcmp(a, "--trials")) {
			o->trials = atoi(v), i++;
		} else if (v && !strcmp(a, "--seed")) {
			o->seed = strtoull(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--jobs")) {
			o->jobs = atoi(v), i++;
		} else if (v && !strcmp(a, "--expected")) {
			o->expected = v, i++;
		} else if (v && !strcmp(a, "--known")) {
			o->known = v, i++;
		} else if (v && !strcmp(a, "--filter")) {
			o->filter = v, i++;
		} else {
			fprintf(stderr, "usage: emu-diff [--trials N] [--seed S] [--jobs J] "
				"[--expected FILE] [--known FILE] [--filter SUBSTR] [--quiet] [--list] [--self] [--canary]\n");
			return -1;
		}
	}
	if (o->trials < 1)
		o->trials = 1;
	if (o->jobs < 1) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		o->jobs = n < 1 ? 1 : n > 64 ? 64 : (int)n;
	}
	if (o->jobs > 64)
		o->jobs = 64;
	return 0;
}

int main(int argc, char **argv)
{
	static struct form forms[MAX_FORMS];
	static bool selected[MAX_FORMS];
	int nforms, i, nsel = 0, counts[ST_HARNESS + 1] = { 0 }, failures = 0;
	struct form_result *results;
	struct patterns expected, known;
	int nknown = 0, nfixed = 0;
	struct options o;
	struct timespec t0, t1;
	double secs;

	if (parse_args(argc, argv, &o) || patterns_load(o.expected, &expected) ||
	    patterns_load(o.known, &known))
		return 2;
	nforms = diff_forms_build(forms, MAX_FORMS);
	for (i = 0; i < nforms; i++) {
		selected[i] = !o.filter || strstr(forms[i].name, o.filter);
		nsel += selected[i];
		if (o.list && selected[i]) {
			int j;

			printf("%-40s", forms[i].name);
			for (j = 0; j < forms[i].len; j++)
				printf(" %02x", forms[i].code[j]);
			printf("\n");
		}
	}
	if (o.list)
		return 0;
	results = mmap(NULL, sizeof(*results) * nforms, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (results == MAP_FAILED) {
		perror("emu-diff: mmap");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (run_all(forms, nforms, selected, &o, results))
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	for (i = 0; i < nforms; i++) {
		struct form_result *r = &results[i];
		bool expect = patterns_match(&expected, forms[i].name);
		bool is_known = patterns_match(&known, forms[i].name);
		bool fail = r->status == ST_CRASH || r->status == ST_HARNESS ||
			    (r->status == ST_DIFF && !is_known) ||
			    (r->status == ST_UNIMPL && expect);
		const char *label = status_name(r->status);

		if (!selected[i])
			continue;
		counts[r->status]++;
		failures += fail;
		if (r->status == ST_DIFF && is_known) {
			label = "KNOWN";
			nknown++;
		} else if (r->status == ST_PASS && patterns_name(&known, forms[i].name)) {
			label = "FIXED";
			nfixed++;
		}
		if (o.quiet && !fail && r->status != ST_DIFF && strcmp(label, "FIXED"))
			continue;
		if (o.canary && r->status == ST_DIFF)
			continue;   /* expected: only the undetected ones are news */
		printf("%-7s %-40s %s%s\n", label, forms[i].name,
		       r->status == ST_UNIMPL && expect ? "(expected implemented) " : "",
		       r->status != ST_PASS ? r->msg :
		       strcmp(label, "FIXED") ? "" : "passes now: drop it from the known list");
	}
	printf("\nemu-diff: %d forms, %d trials each (seed %#" PRIx64 "), %.1f s: "
	       "%d pass, %d differ (%d of them known), %d unimplemented, %d crashed, "
	       "%d harness errors; %d known forms pass now; %d expected-implemented patterns\n",
	       nsel, o.trials, o.seed, secs, counts[ST_PASS], counts[ST_DIFF], nknown,
	       counts[ST_UNIMPL], counts[ST_CRASH], counts[ST_HARNESS], nfixed, expected.n);
	if (o.canary) {
		/* Inverted: every form must have been caught. */
		failures = nsel - counts[ST_DIFF];
		printf("emu-diff: canary %s: %d of %d corrupted forms detected\n",
		       failures ? "FAIL" : "ok", counts[ST_DIFF], nsel);
	} else if (failures) {
		printf("emu-diff: FAIL (%d forms)\n", failures);
	}
	patterns_free(&expected);
	patterns_free(&known);
	munmap(results, sizeof(*results) * nforms);
	return failures ? 1 : 0;
}
