// SPDX-License-Identifier: GPL-2.0-only
/*
 * Differential test of the block translator (src/accel/emu/jit.c) against
 * the interpreter: random instruction sequences (fixed seed) run through
 * emu_test_run() once instruction by instruction (emu_test_jit = false) and
 * once as translated blocks (emu_test_jit = true), from the same input
 * state; the exception vector, RIP, every GPR, RFLAGS and the whole scratch
 * memory must agree.
 *
 * The generator emits the forms the translator handles inline (jit.c
 * form_of()/classify_one()) - ALU, group-1 immediates, TEST, XCHG, MOV,
 * MOVZX/MOVSX/MOVSXD, LEA, shifts and rotates, INC/DEC, NOT/NEG, IMUL,
 * CMOVcc, SETcc, BT*, SHLD/SHRD, BSF/BSR, POPCNT, XADD, BSWAP, LOCK RMW,
 * PUSH/POP (PUSH RSP, POP RSP), CALL/RET, Jcc - in every operand size, with
 * high-byte and REX byte registers, and memory operands (RIP-relative,
 * absolute, base, SIB, index only, FS/GS and other segment overrides, 67h,
 * an ignored REX before a legacy prefix) aimed into the scratch memory
 * through RBX, RBP, RSP and R12 (an index), which most sequences never
 * write; "wild" sequences do, and then addresses go anywhere.  Mixed in:
 * instructions only the interpreter handler runs (MUL/DIV, string ops, REP
 * over more than 4096 elements that restarts, CMPXCHG, LAHF/SAHF,
 * PUSHF/POPF, ...), so handler calls sit between translated instructions;
 * multi-word ADC/SBB chains through memory; forward Jcc and JMP skips;
 * PUSH+RET and JMP r; counted loops, subroutine calls (also from loops,
 * with the subroutines on the second code page, and some in the same block
 * cache bucket as the loop head), so flags cross block exits, blocks run
 * again and exits chain into other translations; self-modifying stores
 * (into the next instruction, a loop's first instruction, a subroutine
 * called from a loop); code that crosses the code page boundary and blocks
 * longer than EMU_BLOCK_MAX; and accesses that fault mid-sequence (#PF
 * unmapped or half-mapped, #GP non-canonical, also at a RET, #UD for LOCK,
 * #DE).
 *
 * Undefined behaviour is kept out of the comparison rather than guessed:
 * the translator runs an instruction natively, so in its undefined flags
 * it is the host, not the interpreter.  The generator tracks, at every
 * instruction boundary, the arithmetic flags the SDM leaves undefined on
 * some path to it (IMUL: SF ZF AF PF; logic ops: AF; BT*: OF SF AF PF;
 * BSF/BSR: all but ZF; shifts and rotates by their count, conservatively
 * when the count is CL; MUL/DIV; ...), joining both paths of a Jcc and the
 * iterations of a loop.  A flag consumer (Jcc, SETcc, CMOVcc, ADC/SBB,
 * RCL/RCR, CMC, LAHF, PUSHF) whose flags may be undefined gets a defining
 * CMP/ADD/SUB in front of it, and RFLAGS is compared masked by the set
 * tracked for the instruction where execution stopped (the faulting one, or
 * the end of the snippet).  Results that are undefined themselves are not
 * generated: BSF/BSR get a nonzero source (a BTS in front), SHLD/SHRD
 * r/m16 a count below 16.
 *
 * On a mismatch the sequence number, its bytes, the input registers and
 * both outputs are printed.  VIREO_TEST_JIT_SEQ=n runs only sequence n (and
 * dumps it); VIREO_TEST_JIT_COUNT=n changes how many run;
 * VIREO_TEST_JIT_MIN=1 also shrinks a failing sequence by turning
 * instructions into NOPs while the same fields still differ.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "accel/emu/emu_test.h"

#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define DF 0x400u
#define OF 0x800u
#define ARITH (CF | PF | AF | ZF | SF | OF)

#define NSEQ       20000
#define SEED       0x6a17d1ffe5eed001ULL
#define MAX_INSNS  4096
#define LIST_MAX   256
#define LABEL_MAX  128
#define PEND_MAX   32
#define CODE_CAP   8192        /* emu_test.c CODE_MAX */
#define MEM        EMU_TEST_MEM_GVA
#define CODE       EMU_TEST_CODE_GVA
#define DATA_END   0x1c00u     /* data operands below, the stack above */
#define AH_        16          /* AH, CH, DH, BH = AH_ + 0..3 (no REX) */
#define L_END      0           /* label: the end of the snippet */

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

/* Where a group may be generated. */
#define C_SUB   0x1     /* in a subroutine */
#define C_LOOP  0x2     /* in a loop body */
#define C_INNER 0x4     /* between a PUSH and its POP, or a LEA and its uses */

/* One instruction of the snippet. */
struct item {
	uint8_t b[24];
	uint8_t len;
	int8_t fix;             /* offset of a displacement to patch, -1: none */
	uint8_t fix_size;       /* 1 or 4 */
	int label;              /* fix = label + gva - next RIP; label < 0: gva - next RIP */
	uint64_t gva;
	uint32_t undef;         /* arithmetic flags that may be undefined before it */
	bool junk;              /* skipped by a JMP, never executed */
	uint16_t pad;           /* INT3 bytes after it */
	uint16_t page2;         /* nonzero: pad so that the next one is at 0x1000 + page2 - 1 */
};

struct list {
	struct item it[LIST_MAX];
	int n;
};

struct label {
	int list, idx;          /* idx -1: not placed yet */
};

/* A forward branch waiting for its target: `groups` more groups. */
struct pend {
	int label, groups;
	uint32_t undef;
	int64_t rsp;
	bool rsp_known;
};

struct gen {
	uint64_t rng;
	struct list l[2];       /* the main body; the subroutines after it */
	int cur;
	struct label lab[LABEL_MAX];
	int nlab;
	struct pend pend[PEND_MAX];
	int npend, pbase;
	uint32_t undef;         /* arithmetic flags that may be undefined now */
	int64_t rsp;            /* RSP - MEM, while rsp_known */
	bool rsp_known;
	int64_t prot;           /* RSP-based operands stay at or above MEM + prot */
	int64_t stk_lo, stk_hi; /* data operands avoid [stk_lo, stk_hi) */
	bool wild;              /* RBX/RBP/RSP/R12 may be written */
	bool page2;             /* subroutines go on the second code page */
	int collide;            /* label the first subroutine shares a hash bucket with, or -1 */
	int loop_head;          /* label of the current loop's head, or -1 */
	unsigned ctx;
	int loop_reg, keep_reg; /* never written */
	int alt_reg;            /* a further base register pointing to alt_val */
	uint64_t alt_val;
	uint64_t force_gva;     /* nonzero: the next memory operand's address */
	int force_label;        /* >= 0: the next one is [rip + label + force_off] */
	uint64_t force_off;
	bool want_mem, want_lock;
	int ninsn;
	bool bad;               /* overflow or a generator error: discard */
	uint64_t gpr[16];       /* input values */
	uint8_t code[CODE_CAP];
	size_t len;
	size_t off[2][LIST_MAX + 1];
	uint32_t undef_end;
};

/* ---- randomness ---- */

static uint64_t rnd(struct gen *g)
{
	/* xorshift64* */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545f4914f6cdd1dULL;
}

static unsigned rn(struct gen *g, unsigned n)
{
	return (unsigned)(rnd(g) % n);
}

static bool chance(struct gen *g, unsigned pct)
{
	return rn(g, 100) < pct;
}

/* Register and memory contents: edge values more often than chance would. */
static uint64_t rand_val(struct gen *g)
{
	static const uint64_t edge[] = {
		0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
		0xffffffff, 0x100000000ULL, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
		0xffffffffffffff80ULL, 0xffffffff80000000ULL,
	};

	switch (rn(g, 10)) {
	case 0: return 0;
	case 1: return ~0ULL;
	case 2: return rn(g, 256);
	case 3: return 1ULL << rn(g, 64);
	case 4: return edge[rn(g, sizeof(edge) / sizeof(edge[0]))] + rn(g, 3) - 1;
	case 5: return (uint64_t)(int64_t)(int32_t)rnd(g);
	case 6: return rnd(g) & 0xffffffff;
	default: return rnd(g);
	}
}

static uint64_t rand_imm(struct gen *g)
{
	return chance(g, 30) ? (uint64_t)((int64_t)rn(g, 5) - 2) : rand_val(g);
}

static int pick_size(struct gen *g)
{
	static const int sizes[10] = { 1, 1, 1, 2, 2, 4, 4, 4, 8, 8 };

	return sizes[rn(g, 10)];
}

/* ---- items ---- */

static struct item *item_new(struct gen *g)
{
	struct list *l = &g->l[g->cur];
	struct item *it;

	if (l->n >= LIST_MAX - 2) {
		g->bad = true;
		l->n = LIST_MAX - 3;
	}
	it = &l->it[l->n++];
	memset(it, 0, sizeof(*it));
	it->fix = -1;
	it->label = -1;
	it->undef = g->undef;
	g->ninsn++;
	return it;
}

static struct item *raw(struct gen *g, const void *b, int n)
{
	struct item *it = item_new(g);

	memcpy(it->b, b, (size_t)n);
	it->len = (uint8_t)n;
	return it;
}

static int label_new(struct gen *g)
{
	if (g->nlab >= LABEL_MAX) {
		g->bad = true;
		return L_END;
	}
	g->lab[g->nlab].list = g->cur;
	g->lab[g->nlab].idx = -1;
	return g->nlab++;
}

static void label_here(struct gen *g, int l)
{
	if (l == L_END)
		return;
	g->lab[l].list = g->cur;
	g->lab[l].idx = g->l[g->cur].n;
}

/* ---- flags ---- */

/* An instruction writes `def` with defined values and leaves `undef` undefined. */
static void fl(struct gen *g, uint32_t def, uint32_t undef)
{
	g->undef = (g->undef & ~def) | undef;
}

static const uint32_t cc_reads[8] = { OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF };

static void g_definer(struct gen *g);
static void g_handler(struct gen *g);
static void one_group(struct gen *g);

/* Before a consumer of `reads`: define them if they may be undefined. */
static void need(struct gen *g, uint32_t reads)
{
	if (g->undef & reads)
		g_definer(g);
}

static int pick_cc(struct gen *g)
{
	int cc = (int)rn(g, 16);

	for (int i = 0; i < 4 && (g->undef & cc_reads[cc >> 1]); i++)
		cc = (int)rn(g, 16);
	need(g, cc_reads[cc >> 1]);
	return cc;
}

/* ---- registers ---- */

static bool reserved(int r)
{
	return r == RBX || r == RBP || r == RSP || r == R12;
}

/* May the full register r be written?  (Consumes randomness in wild mode.) */
static bool dst_ok(struct gen *g, int r)
{
	if (r == g->loop_reg || r == g->keep_reg || r == g->alt_reg)
		return false;
	if (!g->wild)
		return !reserved(r);
	if (r == RSP) {
		if (!chance(g, 10))
			return false;
		g->rsp_known = false;
	}
	return true;
}

static int pick_dst(struct gen *g, int lim)
{
	int r;

	do
		r = (int)rn(g, (unsigned)lim);
	while (!dst_ok(g, r));
	return r;
}

/* A byte register: with rex 0-15 (SPL..DIL, R8B..R15B), else AL..BL, AH..BH. */
static int pick_byte(struct gen *g, bool rex, bool dst)
{
	for (;;) {
		int r = (int)rn(g, rex ? 16 : 8), full = r;

		if (!rex && r >= 4) {
			full = r - 4;
			r = AH_ + full;
		}
		if (!dst || dst_ok(g, full))
			return r;
	}
}

/* A ModRM.reg operand of `size`. */
static int pick_r(struct gen *g, int size, bool rex, bool dst)
{
	if (size == 1)
		return pick_byte(g, rex, dst);
	return dst ? pick_dst(g, 16) : (int)rn(g, 16);
}

/* ---- memory operands ---- */

struct rm {
	bool mem;
	int reg;                /* register operand: 0-15, AH_ + 0..3 */
	int base, index, scale; /* base -1: none, -2: RIP; index -1: none; scale: shift */
	int64_t disp;
	int dispsz;             /* 0, 1 or 4 */
	uint64_t gva;           /* RIP-relative target */
	int label;              /* RIP-relative to a label (+ gva), -1: none */
	uint8_t seg;            /* segment override prefix, 0: none */
	bool a32;               /* 67 prefix */
};

static bool fits32(int64_t v)
{
	return v == (int32_t)v;
}

/* A data address for an operand of `size`: page-crossing at 0x1000 now and then. */
static uint64_t data_target(struct gen *g, int size)
{
	for (;;) {
		unsigned r = rn(g, 100);
		uint64_t off;

		if (r < 10 && size > 1)
			off = 0x1000 - 1 - rn(g, (unsigned)size - 1);
		else if (r < 15)
			off = rn(g, 64);
		else if (r < 60)
			off = rn(g, DATA_END - 64) & ~(uint64_t)(size - 1);
		else
			off = rn(g, DATA_END - 64);
		if ((int64_t)(off + 8) > g->stk_lo && (int64_t)off < g->stk_hi)
			continue;
		return MEM + off;
	}
}

static void disp_size(struct gen *g, struct rm *m)
{
	if (m->base < 0) {
		m->dispsz = 4;
		return;
	}
	if (m->disp == 0 && (m->base & 7) != 5 && chance(g, 60))
		m->dispsz = 0;
	else if (m->disp == (int8_t)m->disp && chance(g, 80))
		m->dispsz = 1;
	else
		m->dispsz = 4;
}

static void mem_prefixes(struct gen *g, struct rm *m)
{
	static const uint8_t other[4] = { 0x26, 0x2e, 0x36, 0x3e };
	unsigned r = rn(g, 100);

	if (r < 4)
		m->seg = (uint8_t)(0x64 + rn(g, 2));
	else if (r < 7)
		m->seg = other[rn(g, 4)];
	m->a32 = chance(g, 3) && m->base != -2 && (uint32_t)(m->gva) == m->gva;
}

/* A memory operand addressing gva (through whatever register fits). */
static void mem_at(struct gen *g, uint64_t gva, bool norex, struct rm *m)
{
	unsigned r = rn(g, 100);
	int64_t code_rel = (int64_t)(gva - CODE);

	memset(m, 0, sizeof(*m));
	m->mem = true;
	m->base = -1;
	m->index = -1;
	m->label = -1;
	m->gva = gva;
	if (g->alt_reg >= 0 && r < 40 && !(norex && g->alt_reg >= 8)) {
		m->base = g->alt_reg;
		m->disp = (int64_t)(gva - g->alt_val);
	} else if (r < 30 && fits32(code_rel)) {
		m->base = -2;
	} else if (r < 40 && fits32((int64_t)gva)) {
		m->disp = (int64_t)gva;
	} else if (r < 75 || norex) {
		m->base = chance(g, 50) ? RBX : RBP;
		m->disp = (int64_t)(gva - g->gpr[m->base]);
	} else if (r < 92) {
		m->base = chance(g, 50) ? RBX : RBP;
		m->index = R12;
		m->scale = (int)rn(g, 4);
		m->disp = (int64_t)(gva - g->gpr[m->base] - (g->gpr[R12] << m->scale));
	} else {
		m->index = R12;
		m->scale = (int)rn(g, 4);
		m->disp = (int64_t)(gva - (g->gpr[R12] << m->scale));
	}
	if (m->base != -2 && !fits32(m->disp)) {
		m->base = -2;
		m->index = -1;
		m->disp = 0;
		if (!fits32(code_rel))
			g->bad = true;
	}
	disp_size(g, m);
	mem_prefixes(g, m);
}

/* An operand on the stack, [RSP + disp], above the protected slots. */
static bool mem_stack(struct gen *g, int size, struct rm *m)
{
	int64_t lo = g->rsp > g->prot ? g->rsp : g->prot;
	int64_t at = lo + rn(g, 56);

	if (!g->rsp_known || at + size > EMU_TEST_MEM_SIZE || at < g->rsp)
		return false;
	memset(m, 0, sizeof(*m));
	m->mem = true;
	m->base = RSP;
	m->index = -1;
	m->label = -1;
	m->disp = at - g->rsp;
	m->gva = MEM + (uint64_t)at;
	disp_size(g, m);
	mem_prefixes(g, m);
	return true;
}

/* An r/m operand of `size`: memory with probability pmem, else a register. */
static void pick_rm(struct gen *g, int size, bool rex, bool dst, unsigned pmem, struct rm *m)
{
	if (g->force_gva) {
		mem_at(g, g->force_gva, size == 1 && !rex, m);
		g->force_gva = 0;
		return;
	}
	if (g->force_label >= 0) {
		memset(m, 0, sizeof(*m));
		m->mem = true;
		m->base = -2;
		m->index = -1;
		m->label = g->force_label;
		m->gva = g->force_off;
		mem_prefixes(g, m);
		g->force_label = -1;
		return;
	}
	if (g->want_mem || chance(g, pmem)) {
		if (chance(g, 12) && mem_stack(g, size, m))
			return;
		mem_at(g, data_target(g, size), size == 1 && !rex, m);
		return;
	}
	memset(m, 0, sizeof(*m));
	m->reg = pick_r(g, size, rex, dst);
}

/* A buffer of up to 64 bytes either side of MEM + the result, off the stack. */
static uint32_t buf_target(struct gen *g)
{
	for (;;) {
		uint32_t t = 0x100 + rn(g, DATA_END - 0x200);

		if ((int64_t)t + 0x48 <= g->stk_lo || (int64_t)t - 0x48 >= g->stk_hi)
			return t;
	}
}

/* ---- encoder ---- */

/* One ModRM instruction. */
struct enc {
	int size;               /* operand size 1/2/4/8: 66 prefix, REX.W */
	bool lock, rex;         /* rex: a REX prefix even without bits (byte regs) */
	uint8_t pfx;            /* mandatory prefix after 66 (F3), 0: none */
	uint8_t op[3];
	int nop;
	int reg;                /* ModRM.reg: register (0-15, AH_ + 0..3) or /digit */
	int immlen;
	uint64_t imm;
};

static uint8_t *put_mem(struct item *it, uint8_t *p, int reg, const struct rm *m)
{
	int mod = m->dispsz == 0 ? 0 : m->dispsz == 1 ? 1 : 2;

	if (m->base == -2) {
		*p++ = (uint8_t)((reg & 7) << 3 | 5);
		it->fix = (int8_t)(p - it->b);
		it->fix_size = 4;
		it->label = m->label;
		it->gva = m->gva;
		return p + 4;
	}
	if (m->base < 0)
		mod = 0;
	if (m->index < 0 && m->base >= 0 && (m->base & 7) != 4) {
		*p++ = (uint8_t)(mod << 6 | (reg & 7) << 3 | (m->base & 7));
	} else {
		*p++ = (uint8_t)(mod << 6 | (reg & 7) << 3 | 4);
		*p++ = (uint8_t)(m->scale << 6 | (m->index >= 0 ? m->index & 7 : 4) << 3 |
				 (m->base >= 0 ? m->base & 7 : 5));
	}
	for (int i = 0; i < m->dispsz; i++)
		*p++ = (uint8_t)(m->disp >> (8 * i));
	return p;
}

static struct item *emit(struct gen *g, const struct enc *e, const struct rm *m)
{
	struct item *it = item_new(g);
	uint8_t *p = it->b, rex = 0;
	bool hi = e->reg >= AH_ || (!m->mem && m->reg >= AH_);
	int reg = e->reg >= AH_ ? e->reg - AH_ + 4 : e->reg;
	int rmr = !m->mem && m->reg >= AH_ ? m->reg - AH_ + 4 : m->reg;
	bool legacy = e->lock || (m->mem && (m->seg || m->a32)) || e->size == 2 || e->pfx;

	if (legacy && chance(g, 3))
		*p++ = (uint8_t)(0x40 | rn(g, 16));     /* a REX before a legacy prefix is ignored */
	if (e->lock)
		*p++ = 0xf0;
	if (m->mem && m->seg)
		*p++ = m->seg;
	if (m->mem && m->a32)
		*p++ = 0x67;
	if (e->size == 2)
		*p++ = 0x66;
	if (e->pfx)
		*p++ = e->pfx;
	rex |= e->size == 8 ? 8 : 0;
	rex |= (reg & 8) ? 4 : 0;
	if (m->mem) {
		rex |= m->index >= 0 && (m->index & 8) ? 2 : 0;
		rex |= m->base >= 0 && (m->base & 8) ? 1 : 0;
	} else {
		rex |= (rmr & 8) ? 1 : 0;
	}
	if (hi && (rex || e->rex))
		g->bad = true;          /* AH..BH cannot be encoded with REX */
	if (rex || e->rex || (!hi && e->size > 1 && chance(g, 4)))
		*p++ = (uint8_t)(0x40 | rex);
	memcpy(p, e->op, (size_t)e->nop);
	p += e->nop;
	if (m->mem)
		p = put_mem(it, p, reg, m);
	else
		*p++ = (uint8_t)(0xc0 | (reg & 7) << 3 | (rmr & 7));
	for (int i = 0; i < e->immlen; i++)
		*p++ = (uint8_t)(e->imm >> (8 * i));
	it->len = (uint8_t)(p - it->b);
	return it;
}

/* A register-only instruction with opcode bytes op and ModRM reg/rm. */
static struct item *emit_rr(struct gen *g, int size, const uint8_t *op, int nop, int reg, int rm)
{
	struct enc e = { .size = size, .nop = nop, .reg = reg };
	struct rm m = { .reg = rm };

	memcpy(e.op, op, (size_t)nop);
	return emit(g, &e, &m);
}

/* ---- instruction groups (each a few instructions kept together) ---- */

/* CMP/ADD/SUB r, r: every arithmetic flag defined. */
static void g_definer(struct gen *g)
{
	static const int ops[4] = { 0, 5, 7, 7 };
	int op = ops[rn(g, 4)], size = 2 << rn(g, 3);
	uint8_t opc = (uint8_t)(op * 8 + 1);

	emit_rr(g, size, &opc, 1, (int)rn(g, 16), op == 7 ? (int)rn(g, 16) : pick_dst(g, 16));
	fl(g, ARITH, 0);
}

static bool lockable(struct gen *g, const struct rm *m)
{
	return m->mem && chance(g, g->want_lock ? 100 : 15);
}

/* ALU r/m, r and r, r/m (00-3B). */
static void g_alu(struct gen *g)
{
	int op = (int)rn(g, 8), size = pick_size(g), rev = (int)rn(g, 2);
	bool rex = size > 1 || chance(g, 50), writes = op != 7;
	struct enc e = { .size = size, .rex = size == 1 && rex, .nop = 1 };
	struct rm m;

	if (g->want_mem)
		rev = 0;
	if (op == 2 || op == 3)
		need(g, CF);
	e.op[0] = (uint8_t)(op * 8 + rev * 2 + (size > 1));
	pick_rm(g, size, rex, writes && !rev, 40, &m);
	if (!m.mem && chance(g, 10) && (!writes || dst_ok(g, m.reg >= AH_ ? m.reg - AH_ : m.reg)))
		e.reg = m.reg;          /* xor eax, eax; sbb ecx, ecx; ... */
	else
		e.reg = pick_r(g, size, rex, writes && rev);
	e.lock = writes && !rev && lockable(g, &m);
	emit(g, &e, &m);
	fl(g, ARITH, (op == 1 || op == 4 || op == 6) ? AF : 0);
}

/* Group 1: 80/81/83 r/m, imm. */
static void g_alu_imm(struct gen *g)
{
	int op = (int)rn(g, 8), size = pick_size(g);
	bool rex = size > 1 || chance(g, 50);
	struct enc e = { .size = size, .rex = size == 1 && rex, .nop = 1, .reg = op };
	struct rm m;

	if (op == 2 || op == 3)
		need(g, CF);
	e.op[0] = size == 1 ? 0x80 : chance(g, 50) ? 0x83 : 0x81;
	e.immlen = e.op[0] == 0x81 ? (size == 2 ? 2 : 4) : 1;
	e.imm = rand_imm(g);
	pick_rm(g, size, rex, op != 7, 40, &m);
	e.lock = op != 7 && lockable(g, &m);
	emit(g, &e, &m);
	fl(g, ARITH, (op == 1 || op == 4 || op == 6) ? AF : 0);
}

/* TEST r/m, r (84/85) and TEST r/m, imm (F6/F7 /0). */
static void g_test(struct gen *g)
{
	int size = pick_size(g);
	bool rex = size > 1 || chance(g, 50);
	struct enc e = { .size = size, .rex = size == 1 && rex, .nop = 1 };
	struct rm m;

	pick_rm(g, size, rex, false, 35, &m);
	if (chance(g, 50)) {
		e.op[0] = size == 1 ? 0x84 : 0x85;
		e.reg = pick_r(g, size, rex, false);
	} else {
		e.op[0] = size == 1 ? 0xf6 : 0xf7;
		e.immlen = size == 1 ? 1 : size == 2 ? 2 : 4;
		e.imm = rand_imm(g);
	}
	emit(g, &e, &m);
	fl(g, ARITH, AF);
}

/* XCHG r/m, r (86/87; implicitly locked on memory) and XCHG rAX, r (90+r). */
static void g_xchg(struct gen *g)
{
	int size = pick_size(g);
	bool rex = size > 1 || chance(g, 50);
	struct enc e = { .size = size, .rex = size == 1 && rex, .nop = 1 };
	struct rm m;

	if (size > 1 && chance(g, 20)) {
		int r = pick_dst(g, 16);
		uint8_t b[3], n = 0;

		if (!dst_ok(g, RAX))
			return;
		if (size == 2)
			b[n++] = 0x66;
		if (size == 8 || r >= 8)
			b[n++] = (uint8_t)(0x40 | (size == 8 ? 8 : 0) | (r >= 8 ? 1 : 0));
		b[n++] = (uint8_t)(0x90 + (r & 7));
		if (n == 1 && r == 0)
			return;                 /* that is NOP */
		raw(g, b, n);
		return;
	}
	e.op[0] = size == 1 ? 0x86 : 0x87;
	pick_rm(g, size, rex, true, 35, &m);
	e.reg = pick_r(g, size, rex, true);
	e.lock = lockable(g, &m);
	emit(g, &e, &m);
}

/* MOV r/m, r; MOV r, r/m; MOV r/m, imm; MOV r, imm32/imm64; MOV r8, imm8. */
static void g_mov(struct gen *g)
{
	int size = pick_size(g), kind = (int)rn(g, 10);
	bool rex = size > 1 || chance(g, 50);
	struct enc e = { .size = size, .rex = size == 1 && rex, .nop = 1 };
	struct rm m;

	if (g->want_mem && kind >= 6)
		kind = 0;
	if (kind < 3) {                 /* store / register move */
		e.op[0] = size == 1 ? 0x88 : 0x89;
		pick_rm(g, size, rex, true, 45, &m);
		e.reg = pick_r(g, size, rex, false);
	} else if (kind < 6) {          /* load */
		e.op[0] = size == 1 ? 0x8a : 0x8b;
		pick_rm(g, size, rex, false, 50, &m);
		e.reg = pick_r(g, size, rex, true);
	} else if (kind < 8) {          /* C6/C7 /0 */
		e.op[0] = size == 1 ? 0xc6 : 0xc7;
		e.immlen = size == 1 ? 1 : size == 2 ? 2 : 4;
		e.imm = rand_imm(g);
		pick_rm(g, size, rex, true, 50, &m);
	} else {                        /* B0+r / B8+r */
		int r = size == 1 ? pick_byte(g, rex, true) : pick_dst(g, 16);
		int enc_r = r >= AH_ ? r - AH_ + 4 : r;
		uint8_t b[12], n = 0;
		uint64_t imm = rand_val(g);
		int ilen = size == 1 ? 1 : size == 2 ? 2 : size == 4 ? 4 : 8;

		if (size == 2)
			b[n++] = 0x66;
		if (size == 8 || enc_r >= 8 || (size == 1 && rex))
			b[n++] = (uint8_t)(0x40 | (size == 8 ? 8 : 0) | (enc_r >= 8 ? 1 : 0));
		b[n++] = (uint8_t)((size == 1 ? 0xb0 : 0xb8) + (enc_r & 7));
		for (int i = 0; i < ilen; i++)
			b[n++] = (uint8_t)(imm >> (8 * i));
		raw(g, b, n);
		return;
	}
	emit(g, &e, &m);
}

/* MOVZX/MOVSX (0F B6/BE r/m8, 0F B7/BF r/m16) and MOVSXD (63). */
static void g_movx(struct gen *g)
{
	int kind = (int)rn(g, 5), size;
	struct enc e = { .nop = 2 };
	struct rm m;

	if (kind == 4) {
		e.size = chance(g, 90) ? 8 : 4;
		e.op[0] = 0x63;
		e.nop = 1;
		pick_rm(g, 4, true, false, 40, &m);
		e.reg = pick_dst(g, 16);
	} else if (kind < 2) {          /* r/m8 */
		bool rex = chance(g, 50);

		size = 2 << rn(g, 3);
		rex = rex || size == 8;
		e.size = size;
		e.rex = rex;
		e.op[0] = 0x0f;
		e.op[1] = kind ? 0xbe : 0xb6;
		pick_rm(g, 1, rex, false, 35, &m);
		e.reg = pick_dst(g, rex ? 16 : 8);
	} else {                        /* r/m16 */
		e.size = chance(g, 10) ? 2 : chance(g, 50) ? 4 : 8;
		e.op[0] = 0x0f;
		e.op[1] = kind == 3 ? 0xbf : 0xb7;
		pick_rm(g, 2, true, false, 35, &m);
		e.reg = pick_dst(g, 16);
	}
	emit(g, &e, &m);
}

/* LEA with any addressing form, any registers. */
static void g_lea(struct gen *g)
{
	struct enc e = { .size = chance(g, 8) ? 2 : chance(g, 50) ? 4 : 8, .nop = 1, .op = { 0x8d } };
	struct rm m = { .mem = true, .base = -1, .index = -1, .label = -1 };
	unsigned r = rn(g, 100);

	if (r < 15) {
		m.base = -2;
		m.gva = CODE + rn(g, 0x3000) - 0x1000;
	} else {
		if (r >= 25)
			m.base = (int)rn(g, 16);
		if (r < 25 || chance(g, 50)) {
			do
				m.index = (int)rn(g, 16);
			while (m.index == RSP);
			m.scale = (int)rn(g, 4);
		}
		m.disp = chance(g, 50) ? (int8_t)rnd(g) : (int32_t)rand_val(g);
		disp_size(g, &m);
		if (m.dispsz == 0)
			m.disp = 0;
		else if (m.dispsz == 1)
			m.disp = (int8_t)m.disp;
		else
			m.disp = (int32_t)m.disp;
	}
	mem_prefixes(g, &m);
	e.reg = pick_dst(g, 16);
	emit(g, &e, &m);
}

static int pick_count(struct gen *g)
{
	static const int counts[] = { 0, 1, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65 };

	return chance(g, 70) ? counts[rn(g, sizeof(counts) / sizeof(counts[0]))] : (int)rn(g, 256);
}

/* SDM Vol. 2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR: flags by masked count c (-1: CL). */
static void shift_flags(struct gen *g, int ext, int bits, int c)
{
	uint32_t u;

	if (ext < 4) {
		if (c < 0) {
			fl(g, 0, OF | (bits < 32 ? CF : 0));
			return;
		}
		if (c == 0)
			return;
		u = c == 1 ? 0 : OF;
		if (bits < 32 && c % (ext < 2 ? bits : bits + 1) == 0)
			u |= CF | OF;   /* rotated by a multiple of the width */
		fl(g, (CF | OF) & ~u, u);
		return;
	}
	if (c < 0) {
		fl(g, 0, OF | AF | (bits < 32 ? CF : 0));
		return;
	}
	if (c == 0)
		return;
	u = AF | (c == 1 ? 0 : OF) | (c >= bits ? CF : 0);
	fl(g, ARITH & ~u, u);
}

/* MOV CL, imm8 (a handler) with an interesting count, if RCX may be written. */
static bool set_cl(struct gen *g, int *count)
{
	uint8_t b[2] = { 0xb1, 0 };

	if (!chance(g, 30) || !dst_ok(g, RCX))
		return false;
	*count = pick_count(g);
	b[1] = (uint8_t)*count;
	raw(g, b, 2);
	return true;
}

/* Group 2: ROL ROR RCL RCR SHL SHR (SAL) SAR by 1, CL, imm8. */
static void g_shift(struct gen *g)
{
	int size = pick_size(g), ext = (int)rn(g, 8), how = (int)rn(g, 3), bits = size * 8;
	int c = -1, cl;
	bool rex = size > 1 || chance(g, 50);
	struct enc e = { .size = size, .rex = size == 1 && rex, .nop = 1 };
	struct rm m;

	if (ext == 6 && !chance(g, 10))
		ext = 4;
	e.reg = ext;
	if (how == 0) {
		e.op[0] = size == 1 ? 0xd0 : 0xd1;
		c = 1;
	} else if (how == 1) {
		e.op[0] = size == 1 ? 0xd2 : 0xd3;
	} else {
		e.op[0] = size == 1 ? 0xc0 : 0xc1;
		e.immlen = 1;
		e.imm = (uint64_t)pick_count(g);
		c = (int)(e.imm & (bits == 64 ? 63 : 31));
	}
	if ((ext == 2 || ext == 3) && c != 0)
		need(g, CF);            /* before MOV CL: the definer may write RCX */
	if (how == 1 && set_cl(g, &cl))
		c = cl & (bits == 64 ? 63 : 31);
	pick_rm(g, size, rex, true, 30, &m);
	emit(g, &e, &m);
	shift_flags(g, ext, bits, c);
}

/* INC/DEC (FE/FF /0 /1), NOT/NEG (F6/F7 /2 /3). */
static void g_unary(struct gen *g)
{
	int size = pick_size(g), kind = (int)rn(g, 4);
	bool rex = size > 1 || chance(g, 50);
	struct enc e = { .size = size, .rex = size == 1 && rex, .nop = 1 };
	struct rm m;

	e.op[0] = (uint8_t)((kind < 2 ? 0xfe : 0xf6) + (size > 1));
	e.reg = kind;
	pick_rm(g, size, rex, true, 35, &m);
	e.lock = lockable(g, &m);
	emit(g, &e, &m);
	if (kind < 2)
		fl(g, OF | SF | ZF | AF | PF, 0);
	else if (kind == 3)
		fl(g, ARITH, 0);
}

/* IMUL r, r/m (0F AF); IMUL r, r/m, imm (69, 6B). */
static void g_imul(struct gen *g)
{
	int size = 2 << rn(g, 3), kind = (int)rn(g, 3);
	struct enc e = { .size = size, .nop = 1 };
	struct rm m;

	if (kind == 0) {
		e.op[0] = 0x0f;
		e.op[1] = 0xaf;
		e.nop = 2;
	} else if (kind == 1) {
		e.op[0] = 0x69;
		e.immlen = size == 2 ? 2 : 4;
	} else {
		e.op[0] = 0x6b;
		e.immlen = 1;
	}
	e.imm = rand_imm(g);
	pick_rm(g, size, true, false, 35, &m);
	e.reg = pick_dst(g, 16);
	emit(g, &e, &m);
	fl(g, CF | OF, SF | ZF | AF | PF);
}

/* CMOVcc r, r/m (0F 40+cc). */
static void g_cmov(struct gen *g)
{
	struct enc e = { .size = 2 << rn(g, 3), .nop = 2, .op = { 0x0f } };
	struct rm m;

	e.op[1] = (uint8_t)(0x40 + pick_cc(g));
	pick_rm(g, e.size, true, false, 35, &m);
	e.reg = pick_dst(g, 16);
	emit(g, &e, &m);
}

/* SETcc r/m8 (0F 90+cc). */
static void g_setcc(struct gen *g)
{
	bool rex = chance(g, 50);
	struct enc e = { .size = 1, .rex = rex, .nop = 2, .op = { 0x0f } };
	struct rm m;

	e.op[1] = (uint8_t)(0x90 + pick_cc(g));
	pick_rm(g, 1, rex, true, 35, &m);
	emit(g, &e, &m);
}

/* BT/BTS/BTR/BTC r, r (0F A3/AB/B3/BB) and r/m, imm8 (0F BA /4-7). */
static void g_bt(struct gen *g)
{
	int op = (int)rn(g, 4), size = 2 << rn(g, 3);
	struct enc e = { .size = size, .nop = 2, .op = { 0x0f } };
	struct rm m;

	if (chance(g, 50) && !g->want_mem) {
		e.op[1] = (uint8_t)(0xa3 + op * 8);
		pick_rm(g, size, true, op != 0, 0, &m);
		e.reg = (int)rn(g, 16);
	} else {
		e.op[1] = 0xba;
		e.reg = 4 + op;
		e.immlen = 1;
		e.imm = (uint64_t)pick_count(g);
		pick_rm(g, size, true, op != 0, 40, &m);
		e.lock = op != 0 && lockable(g, &m);
	}
	emit(g, &e, &m);
	fl(g, CF, OF | SF | AF | PF);
}

/* SHLD/SHRD r/m, r, imm8 / CL (0F A4/A5/AC/AD); r/m16 counts stay below 16. */
static void g_shd(struct gen *g)
{
	int size = 2 << rn(g, 3), bits = size * 8, c = -1;
	bool cl = chance(g, 50);
	struct enc e = { .size = size, .nop = 2, .op = { 0x0f } };
	struct rm m;
	uint32_t u;

	e.op[1] = (uint8_t)((chance(g, 50) ? 0xa4 : 0xac) + cl);
	if (cl && size == 2) {
		static const uint8_t and_cl[3] = { 0x83, 0xe1, 0x0f };  /* and ecx, 15 */
		if (!dst_ok(g, RCX))
			return;
		raw(g, and_cl, 3);
		fl(g, ARITH, AF);
	}
	if (!cl) {
		e.immlen = 1;
		e.imm = (uint64_t)pick_count(g);
		c = (int)(e.imm & (bits == 64 ? 63 : 31));
		if (size == 2 && c > 15) {
			c = (int)rn(g, 16);
			e.imm = (uint64_t)c;
		}
	}
	pick_rm(g, size, true, true, 35, &m);
	e.reg = (int)rn(g, 16);
	emit(g, &e, &m);
	if (c < 0) {
		fl(g, 0, OF | AF);
	} else if (c > 0) {
		u = AF | (c == 1 ? 0 : OF);
		fl(g, ARITH & ~u, u);
	}
}

/* BSF/BSR r, r/m (0F BC/BD) of a nonzero source: a BTS sets one of its bits first. */
static void g_bsf(struct gen *g)
{
	int size = 2 << rn(g, 3);
	struct enc bts = { .size = size, .nop = 2, .op = { 0x0f, 0xba }, .reg = 5, .immlen = 1 };
	struct enc e = { .size = size, .nop = 2, .op = { 0x0f } };
	struct rm m;

	pick_rm(g, size, true, true, 35, &m);
	bts.imm = rn(g, 256);
	emit(g, &bts, &m);
	fl(g, CF, OF | SF | AF | PF);
	e.op[1] = chance(g, 50) ? 0xbc : 0xbd;
	e.reg = pick_dst(g, 16);
	emit(g, &e, &m);
	fl(g, ZF, CF | OF | SF | AF | PF);
}

/* POPCNT r, r/m (F3 0F B8). */
static void g_popcnt(struct gen *g)
{
	struct enc e = { .size = 2 << rn(g, 3), .pfx = 0xf3, .nop = 2, .op = { 0x0f, 0xb8 } };
	struct rm m;

	pick_rm(g, e.size, true, false, 35, &m);
	e.reg = pick_dst(g, 16);
	emit(g, &e, &m);
	fl(g, ARITH, 0);
}

/* XADD r/m, r (0F C0/C1). */
static void g_xadd(struct gen *g)
{
	int size = pick_size(g);
	bool rex = size > 1 || chance(g, 50);
	struct enc e = { .size = size, .rex = size == 1 && rex, .nop = 2, .op = { 0x0f } };
	struct rm m;

	e.op[1] = size == 1 ? 0xc0 : 0xc1;
	pick_rm(g, size, rex, true, 45, &m);
	e.reg = pick_r(g, size, rex, true);
	e.lock = lockable(g, &m);
	emit(g, &e, &m);
	fl(g, ARITH, 0);
}

/* BSWAP r32/r64 (0F C8+r). */
static void g_bswap(struct gen *g)
{
	int r = pick_dst(g, 16);
	bool w = chance(g, 50);
	uint8_t b[3], n = 0;

	if (w || r >= 8)
		b[n++] = (uint8_t)(0x40 | (w ? 8 : 0) | (r >= 8 ? 1 : 0));
	b[n++] = 0x0f;
	b[n++] = (uint8_t)(0xc8 + (r & 7));
	raw(g, b, n);
}

/* CMPXCHG r/m, r (0F B0/B1): a handler. */
static void g_cmpxchg(struct gen *g)
{
	int size = pick_size(g);
	bool rex = size > 1 || chance(g, 50);
	struct enc e = { .size = size, .rex = size == 1 && rex, .nop = 2, .op = { 0x0f } };
	struct rm m;

	if (!dst_ok(g, RAX))
		return;
	e.op[1] = size == 1 ? 0xb0 : 0xb1;
	pick_rm(g, size, rex, true, 50, &m);
	e.reg = pick_r(g, size, rex, false);
	e.lock = lockable(g, &m);
	emit(g, &e, &m);
	fl(g, ARITH, 0);
}

/*
 * A multi-word ADD/ADC or SUB/SBB through memory: MOV r, [a + 8i]; ADC [b + 8i], r
 * - CF lives across loads, stores and the TLB lookups between them.
 */
static void g_chain(struct gen *g)
{
	int n = 2 + (int)rn(g, 4), r = pick_dst(g, 16), size = chance(g, 70) ? 8 : 4;
	bool sub = chance(g, 50);
	uint64_t a = MEM + buf_target(g) - 0x40, b = MEM + buf_target(g) - 0x40;
	struct enc ld = { .size = size, .nop = 1, .op = { 0x8b }, .reg = r };
	struct enc op = { .size = size, .nop = 1, .reg = r };
	struct rm m;

	for (int i = 0; i < n; i++) {
		mem_at(g, a + (uint64_t)(i * size), false, &m);
		emit(g, &ld, &m);
		if (chance(g, 20))
			g_handler(g);   /* a handler call between producer and consumer */
		op.op[0] = (uint8_t)((sub ? (i ? 0x19 : 0x29) : (i ? 0x11 : 0x01)));
		mem_at(g, b + (uint64_t)(i * size), false, &m);
		op.lock = chance(g, 10);
		if (i && (g->undef & CF))
			break;
		emit(g, &op, &m);
		fl(g, ARITH, 0);
	}
	if (chance(g, 50)) {            /* the carry out: SETC / ADC r, 0 */
		uint8_t setc[3] = { 0x0f, 0x92, (uint8_t)(0xc0 | (r & 7)) };
		if (r < 4) {
			need(g, CF);
			raw(g, setc, 3);
		}
	}
}

/* Some memory read-modify-write with LOCK. */
static void g_lock(struct gen *g)
{
	static void (*const fns[])(struct gen *) = {
		g_alu, g_alu_imm, g_unary, g_bt, g_xadd, g_xchg, g_cmpxchg,
	};

	g->want_mem = g->want_lock = true;
	fns[rn(g, sizeof(fns) / sizeof(fns[0]))](g);
	g->want_mem = g->want_lock = false;
}

/* MUL/IMUL/DIV/IDIV r/m (F6/F7 /4-7), with RDX (AH) cleared or sign-filled mostly. */
static void g_muldiv(struct gen *g)
{
	int ext = 4 + (int)rn(g, 4), size = pick_size(g);
	bool rex = size > 1 || chance(g, 50);
	struct enc e = { .size = size, .rex = size == 1 && rex, .nop = 1, .reg = ext };
	struct rm m;

	if (!dst_ok(g, RAX) || !dst_ok(g, RDX))
		return;
	e.op[0] = size == 1 ? 0xf6 : 0xf7;
	if (ext >= 6 && chance(g, 85)) {
		static const uint8_t movzx_eax_al[3] = { 0x0f, 0xb6, 0xc0 };
		static const uint8_t xor_edx[2] = { 0x31, 0xd2 };
		uint8_t cqo[2] = { 0x48, 0x99 };

		if (size == 1) {
			raw(g, movzx_eax_al, 3);
		} else if (ext == 6) {
			raw(g, xor_edx, 2);
			fl(g, ARITH, AF);
		} else if (size == 2) {
			cqo[0] = 0x66;
			raw(g, cqo, 2);
		} else {
			raw(g, cqo + (size == 4), size == 4 ? 1 : 2);
		}
	}
	pick_rm(g, size, rex, false, 35, &m);
	emit(g, &e, &m);
	if (ext < 6)
		fl(g, CF | OF, SF | ZF | AF | PF);
	else
		fl(g, 0, ARITH);
}

/* STOS/MOVS/LODS/CMPS/SCAS, REP/REPE/REPNE or single, on a short buffer. */
static void g_string(struct gen *g)
{
	static const uint8_t ops[6] = { 0xaa, 0xa4, 0xac, 0xa6, 0xae, 0xaa };
	int kind = (int)rn(g, 6), size = 1 << rn(g, 4), n = (int)rn(g, 8);
	bool cmp = kind == 3 || kind == 4;     /* CMPS, SCAS: flags as CMP */
	uint8_t b[8], k = 0;
	bool rep = chance(g, 75);
	uint32_t t;

	if (!dst_ok(g, RDI) || !dst_ok(g, RSI) || !dst_ok(g, RCX) || (kind == 2 && !dst_ok(g, RAX)))
		return;
	t = buf_target(g);
	b[k++] = 0x48; b[k++] = 0x8d; b[k++] = 0xbb;            /* lea rdi, [rbx + disp32] */
	memcpy(b + k, &(uint32_t){ (uint32_t)(t - (g->gpr[RBX] - MEM)) }, 4);
	raw(g, b, 7);
	if (kind >= 1 && kind <= 3) {
		t = buf_target(g);
		b[2] = 0xb5;                                    /* lea rsi, [rbp + disp32] */
		memcpy(b + 3, &(uint32_t){ (uint32_t)(t - (g->gpr[RBP] - MEM)) }, 4);
		raw(g, b, 7);
	}
	b[0] = 0xb9;                                            /* mov ecx, n */
	memcpy(b + 1, &(uint32_t){ (uint32_t)n }, 4);
	raw(g, b, 5);
	k = 0;
	if (rep)
		b[k++] = cmp && chance(g, 50) ? 0xf2 : 0xf3;
	if (size == 2)
		b[k++] = 0x66;
	if (size == 8)
		b[k++] = 0x48;
	b[k++] = (uint8_t)(ops[kind] + (size > 1));
	raw(g, b, k);
	if (cmp && (!rep || n > 0))
		fl(g, ARITH, 0);
}

/*
 * REP LODSB / REPNE SCASB over more than 4096 bytes: the handler stops after
 * 4096 iterations with RIP still at the instruction (exec.c string_op), and
 * the translated block must leave instead of going on to the next one.
 */
static void g_string_long(struct gen *g)
{
	bool scas = chance(g, 50);
	int r = scas ? RDI : RSI;
	uint8_t b[7] = { 0x48, 0x8d, (uint8_t)(0x83 | (r & 7) << 3) };

	if (!dst_ok(g, RDI) || !dst_ok(g, RSI) || !dst_ok(g, RCX) || !dst_ok(g, RAX))
		return;
	memcpy(b + 3, &(uint32_t){ (uint32_t)(MEM + rn(g, 0x100) - g->gpr[RBX]) }, 4);
	raw(g, b, 7);                                   /* lea rsi/rdi, [rbx + d] */
	b[0] = 0xb9;                                    /* mov ecx, n */
	memcpy(b + 1, &(uint32_t){ 4097 + rn(g, 3000) }, 4);
	raw(g, b, 5);
	if (scas) {
		raw(g, "\xb0\xa5", 2);                  /* mov al, 0xa5 (rarely found) */
		raw(g, "\xf2\xae", 2);
		fl(g, ARITH, 0);
	} else {
		raw(g, "\xf3\xac", 2);
	}
}

/* CBW/CWDE/CDQE, CWD/CDQ/CQO, LAHF/SAHF, CLC/STC/CMC, CLD/STD. */
static void g_misc(struct gen *g)
{
	static const uint8_t pfx[3] = { 0x66, 0x48, 0x40 };
	uint8_t b[2];
	int k = (int)rn(g, 8);

	switch (k) {
	case 0: case 1:
		if (!dst_ok(g, k ? RDX : RAX))
			return;
		b[0] = pfx[rn(g, 3)];
		b[1] = (uint8_t)(0x98 + k);
		raw(g, b, 2);
		return;
	case 2:
		if (!dst_ok(g, RAX))
			return;
		need(g, SF | ZF | AF | PF | CF);
		raw(g, "\x9f", 1);
		return;
	case 3:
		raw(g, "\x9e", 1);
		fl(g, SF | ZF | AF | PF | CF, 0);
		return;
	case 4:
		raw(g, chance(g, 50) ? "\xf8" : "\xf9", 1);
		fl(g, CF, 0);
		return;
	case 5:
		need(g, CF);
		raw(g, "\xf5", 1);
		return;
	default:
		raw(g, chance(g, 60) ? "\xfc" : "\xfd", 1);
		return;
	}
}

/* ALU rAX, imm (04/05 ... 3C/3D, A8/A9), MOV r8 is in g_mov; NOPs; LEA r16. */
static void g_other(struct gen *g)
{
	static const uint8_t nops[][6] = {
		{ 1, 0x90 }, { 2, 0x66, 0x90 }, { 3, 0x0f, 0x1f, 0x00 }, { 4, 0x0f, 0x1f, 0x40, 0x00 },
		{ 5, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	};
	int k = (int)rn(g, 3);

	if (k == 0) {
		int op = (int)rn(g, 9), size = pick_size(g), ilen = size == 1 ? 1 : size == 2 ? 2 : 4;
		uint8_t b[8], n = 0;
		uint64_t imm = rand_imm(g);

		if (op != 7 && op != 8 && !dst_ok(g, RAX))
			return;
		if (op == 2 || op == 3)
			need(g, CF);
		if (size == 2)
			b[n++] = 0x66;
		if (size == 8)
			b[n++] = 0x48;
		b[n++] = (uint8_t)((op == 8 ? 0xa8 : op * 8 + 4) + (size > 1));
		for (int i = 0; i < ilen; i++)
			b[n++] = (uint8_t)(imm >> (8 * i));
		raw(g, b, n);
		fl(g, ARITH, (op == 1 || op == 4 || op == 6 || op == 8) ? AF : 0);
	} else if (k == 1) {
		int i = (int)rn(g, 5);
		raw(g, nops[i] + 1, nops[i][0]);
	} else {
		struct enc e = { .size = 2, .nop = 1, .op = { 0x8d } };
		struct rm m;

		mem_at(g, data_target(g, 2), false, &m);
		e.reg = pick_dst(g, 16);
		emit(g, &e, &m);
	}
}

/* BT, BTS, BTR, BTC m, r (LOCK too) with a small bit offset (R12): handlers. */
static void g_bt_mem(struct gen *g)
{
	int op = (int)rn(g, 4), size = 2 << rn(g, 3);
	struct enc e = { .size = size, .nop = 2, .op = { 0x0f }, .reg = R12 };
	struct rm m;

	e.op[1] = (uint8_t)(0xa3 + op * 8);
	mem_at(g, MEM + buf_target(g), false, &m);
	e.lock = op != 0 && chance(g, 30);
	emit(g, &e, &m);
	fl(g, CF, OF | SF | AF | PF);
}

static void g_handler(struct gen *g)
{
	static void (*const fns[])(struct gen *) = {
		g_muldiv, g_muldiv, g_string, g_string, g_cmpxchg, g_misc, g_misc, g_other,
		g_other, g_bt_mem, g_string_long,
	};

	fns[rn(g, sizeof(fns) / sizeof(fns[0]))](g);
}

/* ---- groups with control flow and the stack ---- */

static void after_group(struct gen *g);

static void resolve(struct gen *g, int i)
{
	struct pend *p = &g->pend[i];

	label_here(g, p->label);
	g->undef |= p->undef;
	if (!p->rsp_known || p->rsp != g->rsp)
		g->rsp_known = false;
	g->pend[i] = g->pend[--g->npend];
}

/* Place every branch target of the current scope here. */
static void resolve_all(struct gen *g)
{
	while (g->npend > g->pbase)
		resolve(g, g->npend - 1);
}

static void after_group(struct gen *g)
{
	for (int i = g->npend - 1; i >= g->pbase; i--) {
		if (--g->pend[i].groups <= 0)
			resolve(g, i);
	}
}

/* Inner groups: no stack, no control flow. */
static void inner_groups(struct gen *g, int n)
{
	unsigned ctx = g->ctx;

	g->ctx |= C_INNER;
	for (int i = 0; i < n; i++)
		one_group(g);
	g->ctx = ctx;
}

static void push_reg(struct gen *g, int r, bool o16)
{
	uint8_t b[3], n = 0;

	if (o16)
		b[n++] = 0x66;
	if (r >= 8)
		b[n++] = 0x41;
	b[n++] = (uint8_t)(0x50 + (r & 7));
	raw(g, b, n);
	g->rsp -= o16 ? 2 : 8;
}

static void pop_reg(struct gen *g, int r, bool o16)
{
	uint8_t b[3], n = 0;

	if (o16)
		b[n++] = 0x66;
	if (r >= 8)
		b[n++] = 0x41;
	b[n++] = (uint8_t)(0x58 + (r & 7));
	raw(g, b, n);
	g->rsp += o16 ? 2 : 8;
	if (r == RSP)
		g->rsp_known = false;
}

/* PUSH a; [inner]; POP b - or PUSH RSP; [inner]; POP RSP; PUSH/POP m; PUSH imm. */
static void g_pushpop(struct gen *g)
{
	bool o16 = chance(g, 5);
	int k = (int)rn(g, 10);

	if (k == 9 && g->rsp_known && !(g->ctx & (C_SUB | C_LOOP)) && g->rsp > 0x1d80) {
		int r = pick_dst(g, 16), d = 8 * (1 + (int)rn(g, 6));
		uint8_t b[8] = { (uint8_t)(0x48 | (r >= 8 ? 4 : 0)), 0x8d, (uint8_t)(0x44 | (r & 7) << 3),
				 0x24, (uint8_t)-d };

		if (r == RSP)
			return;
		raw(g, b, 5);                   /* lea r, [rsp - d] */
		push_reg(g, r, false);
		pop_reg(g, RSP, false);         /* RSP = the old RSP - d */
		g->rsp -= d;
		g->rsp_known = true;
		return;
	}
	if (k == 0) {                   /* POP RSP restores RSP */
		int64_t prot = g->prot;
		bool known;

		push_reg(g, RSP, false);
		g->prot = g->rsp + 8;
		inner_groups(g, (int)rn(g, 2));
		g->prot = prot;
		known = g->rsp_known;
		pop_reg(g, RSP, false);
		g->rsp_known = known;
		return;
	}
	if (k == 1) {                   /* PUSH m / POP m (handlers) */
		struct enc e = { .size = 4, .nop = 1, .op = { 0xff }, .reg = 6 };
		struct rm m;

		pick_rm(g, 8, true, false, 80, &m);
		emit(g, &e, &m);
		g->rsp -= 8;
		e.op[0] = 0x8f;
		e.reg = 0;
		do      /* not RSP-based: that address is computed after the pop */
			pick_rm(g, 8, true, true, 80, &m);
		while (m.mem && m.base == RSP);
		g->rsp += 8;
		emit(g, &e, &m);
		if (!m.mem && m.reg == RSP)
			g->rsp_known = false;
		return;
	}
	if (k == 2) {                   /* PUSH imm8 / imm32 */
		uint8_t b[5] = { 0x6a, (uint8_t)rnd(g) };

		if (chance(g, 50)) {
			b[0] = 0x68;
			memcpy(b + 1, &(uint32_t){ (uint32_t)rand_val(g) }, 4);
		}
		raw(g, b, b[0] == 0x68 ? 5 : 2);
		g->rsp -= 8;
		pop_reg(g, pick_dst(g, 16), false);
		return;
	}
	push_reg(g, (int)rn(g, 16), o16);
	inner_groups(g, (int)rn(g, 3));
	pop_reg(g, pick_dst(g, 16), o16);
}

/* A lone PUSH or POP (the main body only). */
static void g_push1(struct gen *g)
{
	if (chance(g, 55) || g->rsp > 0x1fe0)
		push_reg(g, (int)rn(g, 16), false);
	else
		pop_reg(g, pick_dst(g, 16), false);
}

/* PUSHF [XOR [RSP], flags] [inner] POPF, or PUSH imm; POPF (TF stays clear). */
static void g_pushf(struct gen *g)
{
	uint32_t bits = (uint32_t)rnd(g) & (ARITH | DF);
	uint8_t b[8] = { 0x68 };
	int64_t prot = g->prot;

	if (chance(g, 25)) {
		b[0] = 0x68;
		memcpy(b + 1, &(uint32_t){ bits | 2 }, 4);
		raw(g, b, 5);
		raw(g, "\x9d", 1);
		fl(g, ARITH, 0);
		return;
	}
	need(g, ARITH);
	raw(g, "\x9c", 1);
	g->rsp -= 8;
	if (chance(g, 40)) {
		static const uint8_t xor_rsp[4] = { 0x48, 0x81, 0x34, 0x24 };   /* xor qword [rsp], imm32 */
		memcpy(b, xor_rsp, 4);
		memcpy(b + 4, &bits, 4);
		raw(g, b, 8);
	}
	if (!g->wild) {
		g->prot = g->rsp + 8;
		inner_groups(g, (int)rn(g, 3));
		g->prot = prot;
	}
	raw(g, "\x9d", 1);
	g->rsp += 8;
	fl(g, ARITH, 0);
}

/* Jcc forward over the next 1-4 groups (taken and not taken both happen). */
static void g_jcc(struct gen *g)
{
	int cc = pick_cc(g);
	struct item *it = item_new(g);
	struct pend *p;

	if (chance(g, 25)) {
		it->b[0] = 0x0f;
		it->b[1] = (uint8_t)(0x80 + cc);
		it->fix = 2;
		it->fix_size = 4;
		it->len = 6;
	} else {
		it->b[0] = (uint8_t)(0x70 + cc);
		it->fix = 1;
		it->fix_size = 1;
		it->len = 2;
	}
	it->label = label_new(g);
	if (g->npend >= PEND_MAX) {
		g->bad = true;
		return;
	}
	p = &g->pend[g->npend++];
	p->label = it->label;
	p->groups = 1 + 1 + (int)rn(g, it->fix_size == 1 ? 3 : 4);
	p->undef = g->undef;
	p->rsp = g->rsp;
	p->rsp_known = g->rsp_known;
}

/* JMP over a few junk bytes (followed within the block by block_build). */
static void g_jmp(struct gen *g)
{
	struct item *it = item_new(g), *j;
	int l = label_new(g);

	if (chance(g, 70)) {
		it->b[0] = 0xeb;
		it->fix = 1;
		it->fix_size = 1;
		it->len = 2;
	} else {
		it->b[0] = 0xe9;
		it->fix = 1;
		it->fix_size = 4;
		it->len = 5;
	}
	it->label = l;
	j = item_new(g);
	j->len = (uint8_t)(1 + rn(g, 12));
	for (int i = 0; i < j->len; i++)
		j->b[i] = (uint8_t)rnd(g);
	j->junk = true;
	label_here(g, l);
}

/* MOV/ADD/INC byte [rip + label + off]: a store into the code (self-modifying). */
static void smc_store(struct gen *g, int label, uint64_t off)
{
	uint8_t b[7] = { 0xc6, 0x05, 0, 0, 0, 0, (uint8_t)rnd(g) };
	unsigned k = rn(g, 3);
	struct item *it;

	b[0] = k == 0 ? 0xc6 : k == 1 ? 0x80 : 0xfe;    /* mov / add / inc byte */
	it = raw(g, b, k == 2 ? 6 : 7);
	it->fix = 2;
	it->fix_size = 4;
	it->label = label;
	it->gva = off;
	if (k == 1)
		fl(g, ARITH, 0);
	else if (k == 2)
		fl(g, OF | SF | ZF | AF | PF, 0);
}

/* MOV r32, imm32 whose immediate a store rewrites (at label + 1 .. + 4). */
static void smc_target(struct gen *g, int label)
{
	uint8_t b[5] = { (uint8_t)(0xb8 + pick_dst(g, 8)) };

	label_here(g, label);
	memcpy(b + 1, &(uint32_t){ (uint32_t)rnd(g) }, 4);
	raw(g, b, 5);
}

/* LEA r, [rip + L]; PUSH r; RET (or JMP r); junk; L: - an indirect jump forward. */
static void g_retjmp(struct gen *g)
{
	int r = pick_dst(g, 16), l;
	uint8_t b[7] = { (uint8_t)(0x48 | (r >= 8 ? 4 : 0)), 0x8d, (uint8_t)(0x05 | (r & 7) << 3) };
	struct item *it;

	if (r == RSP)
		return;
	l = label_new(g);
	it = raw(g, b, 7);
	it->fix = 3;
	it->fix_size = 4;
	it->label = l;
	if (chance(g, 30)) {                    /* jmp r */
		uint8_t j[3] = { 0x41, 0xff, (uint8_t)(0xe0 | (r & 7)) };
		raw(g, j + (r < 8), r < 8 ? 2 : 3);
	} else {
		push_reg(g, r, false);
		raw(g, "\xc3", 1);
		g->rsp += 8;
	}
	it = raw(g, "\xcc\xcc", 2);
	it->junk = true;
	label_here(g, l);
}

/* MOV r, n; head: [1-4 groups] DEC r; JNZ head. */
static void g_loop(struct gen *g)
{
	static const int regs[7] = { R8, R9, R10, R11, R13, R14, R15 };
	int r, head, pbase = g->pbase, nb = 1 + (int)rn(g, 4), smc = -1;
	uint8_t b[6] = { 0x41, 0xb8 };
	struct item *it;
	size_t dist = 0;

	do
		r = regs[rn(g, 7)];
	while (!dst_ok(g, r));
	b[1] = (uint8_t)(0xb8 + (r & 7));
	memcpy(b + 2, &(uint32_t){ 1 + rn(g, 8) }, 4);
	raw(g, b, 6);
	g->loop_reg = r;
	head = g->l[g->cur].n;
	g->loop_head = label_new(g);
	label_here(g, g->loop_head);
	g->undef |= CF;         /* later iterations: CF from the body, the rest from DEC */
	g->ctx |= C_LOOP;
	g->pbase = g->npend;
	if (chance(g, 30)) {
		/*
		 * The last body instruction rewrites the first one's immediate:
		 * the next iteration comes back through a chaining slot to a
		 * translation whose code page has changed since.
		 */
		smc = label_new(g);
		smc_target(g, smc);
	}
	for (int i = 0; i < nb; i++) {
		one_group(g);
		after_group(g);
	}
	resolve_all(g);
	if (smc >= 0)
		smc_store(g, smc, 1 + rn(g, 4));
	g->pbase = pbase;
	g->ctx &= ~C_LOOP;
	b[1] = 0xff;
	b[2] = (uint8_t)(0xc8 + (r & 7));
	raw(g, b, 3);
	fl(g, OF | SF | ZF | AF | PF, 0);
	for (int i = head; i < g->l[g->cur].n; i++)
		dist += g->l[g->cur].it[i].len;
	it = item_new(g);
	if (dist + 2 <= 128) {
		it->b[0] = 0x75;
		it->fix = 1;
		it->fix_size = 1;
		it->len = 2;
	} else {
		it->b[0] = 0x0f;
		it->b[1] = 0x85;
		it->fix = 2;
		it->fix_size = 4;
		it->len = 6;
	}
	it->label = label_new(g);
	g->lab[it->label].list = g->cur;
	g->lab[it->label].idx = head;
	g->loop_reg = -1;
	g->loop_head = -1;
}

/* TEST rNb, 1 (the loop counter); JZ label: what follows runs on odd counts only. */
static int odd_only(struct gen *g)
{
	uint8_t t[4] = { 0x41, 0xf6, (uint8_t)(0xc0 | (g->loop_reg & 7)), 1 };
	int l = label_new(g);
	struct item *it;

	raw(g, t, 4);
	fl(g, ARITH, AF);
	it = raw(g, "\x74", 2);
	it->fix = 1;
	it->fix_size = 1;
	it->label = l;
	return l;
}

/* CALL sub (rel32, or LEA + CALL r); the subroutine, ending in RET, goes after the body. */
static void g_call(struct gen *g)
{
	int l = label_new(g), pbase = g->pbase, cur = g->cur, nb = 1 + (int)rn(g, 5), smc = -1;
	int guard = -1;
	uint32_t u = 0;
	int64_t prot = g->prot;
	struct item *it;

	if ((g->ctx & C_LOOP) && chance(g, 50)) {
		/* Only on odd counts: the blocks a round runs differ from the last one's. */
		guard = odd_only(g);
		u = g->undef;
	}
	if (chance(g, 20) && dst_ok(g, RAX)) {
		static const uint8_t lea_rax[7] = { 0x48, 0x8d, 0x05 };     /* lea rax, [rip + sub] */
		it = raw(g, lea_rax, 7);
		it->fix = 3;
		it->fix_size = 4;
		it->label = l;
		raw(g, "\xff\xd0", 2);                                     /* call rax */
	} else {
		it = raw(g, "\xe8\0\0\0\0", 5);
		it->fix = 1;
		it->fix_size = 4;
		it->label = l;
	}
	g->cur = 1;
	if (g->l[1].n == 0 && (g->ctx & C_LOOP) && cur == 0)
		g->collide = g->loop_head;      /* this loop's head and this subroutine */
	label_here(g, l);
	if ((g->ctx & C_LOOP) && chance(g, 60)) {
		/*
		 * The loop rewrites the subroutine between calls: with the
		 * subroutine on the other page the caller's translation stays
		 * valid, and its CALL's chaining slot must see the new code.
		 */
		smc = label_new(g);
		smc_target(g, smc);
	}
	g->rsp -= 8;
	g->prot = g->rsp + 8;
	g->ctx |= C_SUB;
	g->pbase = g->npend;
	for (int i = 0; i < nb; i++) {
		one_group(g);
		after_group(g);
	}
	resolve_all(g);
	raw(g, "\xc3", 1);
	g->pbase = pbase;
	g->ctx &= ~C_SUB;
	g->prot = prot;
	g->rsp += 8;
	g->cur = cur;
	if (guard >= 0) {
		label_here(g, guard);
		g->undef |= u;
	}
	if (smc >= 0 && chance(g, 30)) {
		smc_store(g, smc, 1 + rn(g, 4));
	} else if (smc >= 0) {
		/*
		 * Only on odd counts: an unchanged round fills the CALL's slot
		 * with the subroutine's translation, the next one rewrites it,
		 * and the round after that must not chain into the stale one.
		 */
		int skip = odd_only(g);

		u = g->undef;
		smc_store(g, smc, 1 + rn(g, 4));
		g->undef |= u;
		label_here(g, skip);
	}
}

/* LEA r, [RBX + d]; 1-3 groups that may address memory through r. */
static void g_leabase(struct gen *g)
{
	int r = pick_dst(g, 16);
	uint64_t t = data_target(g, 8);
	uint8_t b[7] = { (uint8_t)(0x48 | (r >= 8 ? 4 : 0)), 0x8d, (uint8_t)(0x83 | (r & 7) << 3) };

	if (r == RSP)
		return;
	memcpy(b + 3, &(uint32_t){ (uint32_t)(t - g->gpr[RBX]) }, 4);
	raw(g, b, 7);
	g->alt_reg = r;
	g->alt_val = g->wild ? 0 : t;
	inner_groups(g, 1 + (int)rn(g, 3));
	g->alt_reg = -1;
}

/* A store into the immediate of the next instruction, MOV r32, imm32. */
static void g_smc(struct gen *g)
{
	int l = label_new(g);

	smc_store(g, l, 1 + rn(g, 4));
	smc_target(g, l);
}

/* An unmapped address near the mapped ones. */
static uint64_t unmapped(struct gen *g)
{
	static const uint64_t at[5] = { MEM + EMU_TEST_MEM_SIZE, MEM - 0x1000, CODE + 0x2000, 0x1000, 0 };

	return at[rn(g, 5)] + rn(g, 0x1000);
}

static void mem_group(struct gen *g)
{
	static void (*const fns[])(struct gen *) = {
		g_alu, g_alu_imm, g_mov, g_mov, g_unary, g_xadd, g_test, g_movx, g_shift, g_lock,
		g_cmpxchg, g_setcc, g_cmov, g_imul, g_popcnt, g_bt, g_shd, g_xchg,
	};

	g->want_mem = true;
	fns[rn(g, sizeof(fns) / sizeof(fns[0]))](g);
	g->want_mem = false;
	g->force_gva = 0;
	g->force_label = -1;
}

/*
 * Memory in the code pages: loads of the snippet's own bytes, and stores
 * and RMW just past its end - on the page that holds the running block, so
 * the translation must notice the page's new code generation and leave.
 */
static void g_codemem(struct gen *g)
{
	if (chance(g, 40)) {
		struct enc e = { .size = 2 << rn(g, 3), .nop = 1, .op = { 0x8b } };
		struct rm m = { .mem = true, .base = -2, .index = -1, .label = -1 };

		m.gva = CODE + rn(g, 64);
		e.reg = pick_dst(g, 16);
		emit(g, &e, &m);
		return;
	}
	g->force_label = L_END;
	g->force_off = 16 + rn(g, 200);
	mem_group(g);
}

/* LOCK where it is not allowed: #UD. */
static void g_badlock(struct gen *g)
{
	static const uint8_t ops[5][3] = {
		{ 1, 0x89 }, { 1, 0x39 }, { 1, 0x85 }, { 1, 0x8b }, { 2, 0x0f, 0xa3 },
	};
	int k = (int)rn(g, 6);
	struct enc e = { .size = 4, .lock = true, .reg = (int)rn(g, 8) };
	struct rm m;

	if (k == 5) {                   /* LOCK ADD r, r */
		e.nop = 1;
		e.op[0] = 0x01;
		memset(&m, 0, sizeof(m));
		m.reg = (int)rn(g, 8);
	} else {
		e.nop = ops[k][0];
		memcpy(e.op, ops[k] + 1, 2);
		mem_at(g, data_target(g, 4), false, &m);
	}
	emit(g, &e, &m);
}

/* MOV r64, a non-canonical imm64: r, or -1. */
static int mov_noncanonical(struct gen *g)
{
	int r = pick_dst(g, 16);
	uint8_t b[10] = { (uint8_t)(0x48 | (r >= 8 ? 1 : 0)), (uint8_t)(0xb8 + (r & 7)) };

	if (r == RSP)
		return -1;
	memcpy(b + 2, &(uint64_t){ (chance(g, 50) ? 0x8000000000000000ULL : 0x0000800000000000ULL) |
				   (rnd(g) & 0x7fffffffffffULL) }, 8);
	raw(g, b, 10);
	return r;
}

/* A load or store through a non-canonical base register: #GP. */
static void fault_noncanonical(struct gen *g)
{
	struct enc e = { .size = 8, .nop = 1, .op = { (uint8_t)(chance(g, 50) ? 0x8b : 0x01) } };
	struct rm m = { .mem = true, .index = -1, .label = -1, .disp = rn(g, 64) };

	m.base = mov_noncanonical(g);
	if (m.base < 0)
		return;
	g->alt_reg = m.base;            /* not the destination */
	disp_size(g, &m);
	e.reg = e.op[0] == 0x8b ? pick_dst(g, 16) : (int)rn(g, 16);
	emit(g, &e, &m);
	g->alt_reg = -1;
}

/* An instruction that faults: #PF (unmapped, half-mapped), #GP, #DE, #UD, #PF mid-REP. */
static void g_fault(struct gen *g)
{
	uint8_t b[12];
	int r;

	switch (rn(g, 9)) {
	case 7:
		g_badlock(g);
		return;
	case 8:                         /* PUSH non-canonical; RET: #GP at the RET */
		r = mov_noncanonical(g);
		if (r < 0)
			return;
		push_reg(g, r, false);
		raw(g, "\xc3", 1);
		g->rsp += 8;
		return;
	case 0:
		g->force_gva = unmapped(g);
		mem_group(g);
		return;
	case 1:                         /* runs off the end of the scratch memory */
		g->force_gva = MEM + EMU_TEST_MEM_SIZE - 1 - rn(g, 4);
		mem_group(g);
		return;
	case 2:
		fault_noncanonical(g);
		return;
	case 3:
		raw(g, "\x0f\x0b", 2);  /* ud2 */
		return;
	case 4:                         /* xor ecx, ecx; div ecx */
		if (!dst_ok(g, RCX) || !dst_ok(g, RAX) || !dst_ok(g, RDX))
			return;
		raw(g, "\x31\xc9", 2);
		fl(g, ARITH, AF);
		raw(g, "\xf7\xf1", 2);
		return;
	case 5:                         /* rep stosq into the unmapped page after the memory */
		if (!dst_ok(g, RDI) || !dst_ok(g, RCX))
			return;
		r = (int)rn(g, 8);
		b[0] = 0x48; b[1] = 0x8d; b[2] = 0xbb;
		memcpy(b + 3, &(uint32_t){ (uint32_t)(MEM + EMU_TEST_MEM_SIZE - 8 * (uint64_t)r - rn(g, 3) -
						   g->gpr[RBX]) }, 4);
		raw(g, b, 7);
		raw(g, "\xb9\x0c\0\0\0", 5);            /* mov ecx, 12 */
		raw(g, "\xf3\x48\xab", 3);
		return;
	default:                        /* PUSH onto an unmapped stack */
		if (g->ctx)
			return;
		raw(g, "\x48\x8d\xa4\x24\x00\xd0\xff\xff", 8);     /* lea rsp, [rsp - 0x3000] */
		g->rsp_known = false;
		push_reg(g, (int)rn(g, 16), false);
		return;
	}
}

/* One group, drawn by weight from those allowed in the current context. */
static void one_group(struct gen *g)
{
	static const struct {
		void (*fn)(struct gen *);
		unsigned weight, forbid;
	} kinds[] = {
		{ g_alu, 14, 0 }, { g_alu_imm, 9, 0 }, { g_test, 3, 0 }, { g_xchg, 2, 0 },
		{ g_mov, 10, 0 }, { g_movx, 3, 0 }, { g_lea, 4, 0 }, { g_shift, 7, 0 },
		{ g_unary, 4, 0 }, { g_imul, 3, 0 }, { g_cmov, 4, 0 }, { g_setcc, 4, 0 },
		{ g_bt, 3, 0 }, { g_shd, 2, 0 }, { g_bsf, 2, 0 }, { g_popcnt, 1, 0 },
		{ g_xadd, 1, 0 }, { g_bswap, 1, 0 }, { g_lock, 3, 0 }, { g_handler, 6, 0 },
		{ g_chain, 2, 0 },
		{ g_pushpop, 4, C_INNER }, { g_pushf, 2, C_INNER },
		{ g_push1, 2, C_INNER | C_SUB | C_LOOP },
		{ g_jcc, 7, C_INNER }, { g_jmp, 1, C_INNER },
		{ g_call, 2, C_INNER | C_SUB }, { g_loop, 2, C_INNER | C_LOOP },
		{ g_leabase, 2, C_INNER }, { g_smc, 1, C_INNER }, { g_fault, 1, 0 },
		{ g_codemem, 1, 0 }, { g_retjmp, 1, C_INNER },
	};
	unsigned total = 0, r;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		total += (kinds[i].forbid & g->ctx) ? 0 : kinds[i].weight;
	r = rn(g, total);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (kinds[i].forbid & g->ctx)
			continue;
		if (r < kinds[i].weight)
			break;
		r -= kinds[i].weight;
	}
	kinds[i].fn(g);
}

/* ---- a sequence ---- */

static void gen_state(struct gen *g, struct emu_test_state *st)
{
	memset(st, 0, sizeof(*st));
	st->mxcsr = 0x1f80;
	st->fxsave[0] = 0x7f;   /* FCW 0x037f */
	st->fxsave[1] = 0x03;
	for (int r = 0; r < 16; r++)
		st->gpr[r] = rand_val(g);
	st->gpr[RBX] = MEM + rn(g, 0x600);
	st->gpr[RBP] = MEM + 0x200 + rn(g, 0x600);
	st->gpr[R12] = 1 + rn(g, 0x1ff);
	if (chance(g, 8))       /* pushes cross the page boundary at 0x1000 */
		st->gpr[RSP] = MEM + 0x1008 + rn(g, 0x40);
	else
		st->gpr[RSP] = MEM + 0x1e00 + rn(g, 0x180);
	if (chance(g, 85))
		st->gpr[RSP] &= ~7ULL;
	st->rflags = 2 | ((uint32_t)rnd(g) & ARITH) | (chance(g, 10) ? DF : 0);
	for (size_t i = 0; i < EMU_TEST_MEM_SIZE; i += 8) {
		uint64_t v = rand_val(g);
		memcpy(st->mem + i, &v, 8);
	}
	memcpy(g->gpr, st->gpr, sizeof(g->gpr));
	g->rsp = (int64_t)(st->gpr[RSP] - MEM);
	g->rsp_known = true;
	g->stk_lo = g->rsp - 0x200;
	g->stk_hi = g->rsp + 0x80;
}

static size_t label_off(const struct gen *g, int l, bool *ok);

/*
 * Where on the second page the subroutines start: at the same offset modulo
 * 128 as the first loop head (g->collide), if any - the harness's block
 * cache has 64 buckets indexed by bits 1-6 of the address, so the
 * subroutine's block evicts the loop head's, and a chaining slot filled
 * with the head must notice that its block now holds another RIP.
 */
static size_t page2_off(const struct gen *g, const struct item *it)
{
	bool ok = true;
	size_t head;

	if (g->collide < 0)
		return it->page2 - 1u;
	head = label_off(g, g->collide, &ok);
	return ok ? (head & 127) : it->page2 - 1u;
}

static size_t label_off(const struct gen *g, int l, bool *ok)
{
	if (l == L_END)
		return g->len;
	if (g->lab[l].idx < 0) {
		*ok = false;
		return 0;
	}
	return g->off[g->lab[l].list][g->lab[l].idx];
}

/* Lay out main body and subroutines, patch displacements: false if one does not fit. */
static bool assemble(struct gen *g)
{
	size_t off = 0;
	bool ok = true;

	for (int li = 0; li < 2; li++) {
		for (int i = 0; i < g->l[li].n; i++) {
			struct item *it = &g->l[li].it[i];

			g->off[li][i] = off;
			if (it->page2 && off + it->len < 0x1000)
				it->pad = (uint16_t)(0x1000 + page2_off(g, it) - (off + it->len));
			off += it->len + it->pad;
		}
		g->off[li][g->l[li].n] = off;
	}
	if (off > CODE_CAP)
		return false;
	g->len = off;
	for (int li = 0; li < 2; li++) {
		for (int i = 0; i < g->l[li].n; i++) {
			const struct item *it = &g->l[li].it[i];
			uint8_t *p = g->code + g->off[li][i];
			uint64_t next = CODE + g->off[li][i] + it->len, target;
			int64_t rel;

			memcpy(p, it->b, it->len);
			memset(p + it->len, 0xcc, it->pad);
			if (it->fix < 0)
				continue;
			target = it->label >= 0 ? CODE + label_off(g, it->label, &ok) + it->gva : it->gva;
			rel = (int64_t)(target - next);
			if (it->fix_size == 1 ? rel != (int8_t)rel : !fits32(rel))
				return false;
			if (it->fix_size == 1)
				p[it->fix] = (uint8_t)rel;
			else
				memcpy(p + it->fix, &(int32_t){ (int32_t)rel }, 4);
		}
	}
	return ok;
}

/* JMP to just before the end of the first code page: the code crosses into the next. */
static void prologue(struct gen *g)
{
	struct item *it = raw(g, "\xe9\0\0\0\0", 5);
	int l = label_new(g);

	it->fix = 1;
	it->fix_size = 4;
	it->label = l;
	it->pad = (uint16_t)(4096 - 5 - 64 + rn(g, 60));
	label_here(g, l);
}

/* Generate sequence `seed`: false if it came out unusable (then take another). */
static bool gen_seq(struct gen *g, uint64_t seed, struct emu_test_state *st)
{
	int target;

	memset(g, 0, offsetof(struct gen, code));
	g->rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (int i = 0; i < 4; i++)
		rnd(g);
	g->loop_reg = g->keep_reg = g->alt_reg = g->force_label = g->collide = -1;
	g->loop_head = -1;
	g->nlab = 1;
	gen_state(g, st);
	g->undef = 0;
	g->wild = chance(g, 12);
	g->page2 = chance(g, 40);
	target = chance(g, 10) ? 40 + (int)rn(g, 81) : 4 + (int)rn(g, 37);
	if (chance(g, 5))
		prologue(g);
	while (g->ninsn < target && !g->bad) {
		one_group(g);
		after_group(g);
	}
	resolve_all(g);
	g->undef_end = g->undef;
	if (g->l[1].n) {
		struct item *it = raw(g, "\xe9\0\0\0\0", 5);   /* jmp over the subroutines */
		it->fix = 1;
		it->fix_size = 4;
		it->label = L_END;
		if (g->page2)   /* the subroutines on the next code page */
			it->page2 = (uint16_t)(1 + rn(g, 64));
	}
	return !g->bad && assemble(g);
}

/* ---- running and comparing ---- */

struct outcome {
	int exc;
	struct emu_test_state st;
};

static void run_one(const struct gen *g, const struct emu_test_state *in, struct outcome *o, bool jit)
{
	o->st = *in;
	emu_test_jit = jit;
	o->exc = emu_test_run(&o->st, g->code, g->len, MAX_INSNS);
	emu_test_jit = false;
}

/* Arithmetic flags that may be undefined where execution stopped. */
static uint32_t undef_at(const struct gen *g, uint64_t rip)
{
	uint64_t off = rip - CODE;

	if (off == g->len)
		return g->undef_end;
	for (int li = 0; li < 2; li++) {
		for (int i = 0; i < g->l[li].n; i++) {
			if (g->off[li][i] == off && !g->l[li].it[i].junk)
				return g->l[li].it[i].undef;
		}
	}
	return ARITH;
}

/* What differs: bit 0-15 GPRs, 16 exception, 17 RIP, 18 flags, 19 memory. */
static uint32_t differs(const struct gen *g, const struct outcome *a, const struct outcome *b)
{
	uint32_t d = 0, mask = ~undef_at(g, a->st.rip);

	for (int r = 0; r < 16; r++)
		d |= a->st.gpr[r] != b->st.gpr[r] ? 1u << r : 0;
	d |= a->exc != b->exc ? 1u << 16 : 0;
	d |= a->st.rip != b->st.rip ? 1u << 17 : 0;
	d |= ((a->st.rflags ^ b->st.rflags) & mask) ? 1u << 18 : 0;
	d |= memcmp(a->st.mem, b->st.mem, EMU_TEST_MEM_SIZE) ? 1u << 19 : 0;
	return d;
}

static const char *const gpr_name[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

static void dump_code(const struct gen *g)
{
	fprintf(stderr, "code (%zu bytes at %#llx):", g->len, (unsigned long long)CODE);
	for (int li = 0; li < 2; li++) {
		for (int i = 0; i < g->l[li].n; i++) {
			const struct item *it = &g->l[li].it[i];
			fprintf(stderr, "\n  +%04zx%s ", g->off[li][i], it->junk ? " junk" : "     ");
			for (int k = 0; k < it->len; k++)
				fprintf(stderr, "%02x", g->code[g->off[li][i] + (size_t)k]);
			fprintf(stderr, "%*s undef %03x", it->len < 20 ? 2 * (20 - it->len) : 0, "",
				it->undef);
		}
	}
	fprintf(stderr, "\n  end undef %03x\n  hex: ", g->undef_end);
	for (int li = 0; li < 2; li++) {
		for (int i = 0; i < g->l[li].n; i++) {
			const struct item *it = &g->l[li].it[i];

			for (int k = 0; k < it->len; k++)
				fprintf(stderr, "%02x", g->code[g->off[li][i] + (size_t)k]);
			if (it->pad)
				fprintf(stderr, "[%u x cc]", it->pad);
		}
	}
	fprintf(stderr, "\n");
}

static void dump_regs(const char *what, const struct emu_test_state *st, int exc)
{
	fprintf(stderr, "%s: exc %d rip %#llx rflags %#llx\n ", what, exc,
		(unsigned long long)st->rip, (unsigned long long)st->rflags);
	for (int r = 0; r < 16; r++)
		fprintf(stderr, " %s=%llx%s", gpr_name[r], (unsigned long long)st->gpr[r],
			r == 7 ? "\n " : "");
	fprintf(stderr, "\n");
}

static void dump_mismatch(unsigned seq, const struct gen *g, const struct emu_test_state *in,
			  const struct outcome *a, const struct outcome *b, uint32_t d)
{
	int shown = 0;

	fprintf(stderr, "\n=== sequence %u: translator differs from interpreter (%#x)%s\n", seq, d,
		g->wild ? " [wild]" : "");
	dump_code(g);
	dump_regs("input", in, -1);
	fprintf(stderr, "  (memory: sequence %u's fill; VIREO_TEST_JIT_SEQ=%u reruns it)\n", seq, seq);
	dump_regs("interpreter", &a->st, a->exc);
	dump_regs("translator ", &b->st, b->exc);
	fprintf(stderr, "flags compared: %#x\n", ~undef_at(g, a->st.rip) & 0x3fffff);
	for (size_t i = 0; i < EMU_TEST_MEM_SIZE && shown < 24; i++) {
		if (a->st.mem[i] != b->st.mem[i]) {
			fprintf(stderr, "  mem[%#zx]: interpreter %02x translator %02x (input %02x)\n", i,
				a->st.mem[i], b->st.mem[i], in->mem[i]);
			shown++;
		}
	}
}

/* Turn instructions into NOPs while the same fields still differ; print what is left. */
static void minimize(unsigned seq, struct gen *g, const struct emu_test_state *in, uint32_t d,
		     struct outcome *a, struct outcome *b)
{
	for (int li = 1; li >= 0; li--) {
		for (int i = g->l[li].n - 1; i >= 0; i--) {
			struct item *it = &g->l[li].it[i], save = *it;

			if (it->junk || (it->len == 1 && it->b[0] == 0x90))
				continue;
			memset(it->b, 0x90, it->len);
			it->fix = -1;
			if (assemble(g)) {
				run_one(g, in, a, false);
				run_one(g, in, b, true);
				if (differs(g, a, b) == d)
					continue;
			}
			*it = save;
		}
	}
	assemble(g);
	run_one(g, in, a, false);
	run_one(g, in, b, true);
	fprintf(stderr, "--- minimized (NOPs kept so offsets hold):\n");
	dump_mismatch(seq, g, in, a, b, differs(g, a, b));
}

static unsigned env_uint(const char *name, unsigned dflt)
{
	const char *s = getenv(name);

	return s && *s ? (unsigned)strtoul(s, NULL, 0) : dflt;
}

static void test_jit_vs_interpreter(void **unused)
{
	struct gen *g = calloc(1, sizeof(*g));
	struct emu_test_state *in = calloc(1, sizeof(*in));
	struct outcome *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	unsigned count = env_uint("VIREO_TEST_JIT_COUNT", NSEQ);
	unsigned only = env_uint("VIREO_TEST_JIT_SEQ", ~0u), bad = 0, faults = 0, unfinished = 0;
	unsigned all_flags = 0, discarded = 0;
	unsigned long insns = 0;
	uint64_t seed = SEED;

	(void)unused;
#if !defined(__x86_64__)
	skip();         /* the translator exists on x86-64 hosts only */
#endif
	assert_non_null(g);
	assert_non_null(in);
	assert_non_null(a);
	assert_non_null(b);
	for (unsigned seq = 0; seq < count; seq++) {
		uint32_t d;

		while (!gen_seq(g, ++seed, in))
			discarded++;
		if (only != ~0u && seq != only)
			continue;
		insns += (unsigned long)g->ninsn;
		run_one(g, in, a, false);
		run_one(g, in, b, true);
		if (only != ~0u) {
			dump_code(g);
			dump_regs("input", in, -1);
			dump_regs("interpreter", &a->st, a->exc);
			dump_regs("translator ", &b->st, b->exc);
		}
		if (a->exc == -1 && a->st.rip >= CODE && a->st.rip < CODE + g->len) {
			/* Ran out of max_insns (a wild loop): the JIT stops at block ends only. */
			if (!unfinished++)
				fprintf(stderr, "sequence %u did not finish\n", seq);
			continue;
		}
		faults += a->exc >= 0;
		all_flags += !undef_at(g, a->st.rip);
		d = differs(g, a, b);
		if (!d)
			continue;
		if (++bad <= 5) {
			dump_mismatch(seq, g, in, a, b, d);
			if (env_uint("VIREO_TEST_JIT_MIN", 0))
				minimize(seq, g, in, d, a, b);
		}
	}
	printf("jit vs interpreter: %u sequences (%u discarded by the generator), %lu instructions, "
	       "%u ended in an exception, %u with all flags compared, %u unfinished, %u differ\n",
	       count, discarded, insns, faults, all_flags, unfinished, bad);
	free(g);
	free(in);
	free(a);
	free(b);
	if (bad)
		fail_msg("%u of %u sequences differ", bad, count);
	assert_true(unfinished < count / 50 + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jit_vs_interpreter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
