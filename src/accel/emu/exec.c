// SPDX-License-Identifier: GPL-2.0-only
/*
 * The integer instruction set (Intel SDM Vol. 2 instruction reference):
 * ALU, moves, stack, control transfer, string ops with REP, shifts and
 * rotates, multiply/divide, bit ops, CMPXCHG/XADD/XCHG with LOCK as host
 * atomics on guest RAM.  System instructions are in sys.c, x87 in fpu.c,
 * SSE in sse.c.
 */
#include <string.h>

#include "accel/emu/cpu.h"
#include "accel/emu/ops.h"
#include "accel/emu/sys.h"

/* ---- operands ---- */

uint64_t emu_rm_read(struct emu_cpu *c, const struct emu_insn *in, int size)
{
	if (in->mod == 3)
		return reg_get(c, in->rm, size, in->rex);
	return emu_read(c, emu_ea_linear(c, in, size), size);
}

void emu_rm_write(struct emu_cpu *c, const struct emu_insn *in, uint64_t val, int size)
{
	if (in->mod == 3)
		reg_set(c, in->rm, val, size, in->rex);
	else
		emu_write(c, emu_ea_linear(c, in, size), val, size);
}

static inline uint64_t reg_op(struct emu_cpu *c, const struct emu_insn *in, int size)
{
	return reg_get(c, in->reg, size, in->rex);
}

static inline void reg_op_set(struct emu_cpu *c, const struct emu_insn *in, uint64_t v, int size)
{
	reg_set(c, in->reg, v, size, in->rex);
}

static inline int bsize(const struct emu_insn *in)
{
	return (in->op & 1) ? in->osize : 1;
}

/* ---- stack (Intel SDM Vol. 1 §6.2) ---- */

static inline int push_size(const struct emu_cpu *c, const struct emu_insn *in)
{
	if (c->code64)
		return in->opsize_prefix ? 2 : 8;
	return in->osize;
}

static inline uint64_t sp_mask(const struct emu_cpu *c)
{
	return size_mask(c->stack_size);
}

static inline void sp_set(struct emu_cpu *c, uint64_t sp)
{
	uint64_t m = sp_mask(c);
	c->gpr[R_SP] = (c->gpr[R_SP] & ~m) | (sp & m);
}

void emu_push(struct emu_cpu *c, uint64_t val, int size)
{
	uint64_t sp = (c->gpr[R_SP] - size) & sp_mask(c);

	emu_write(c, emu_seg_linear(c, S_SS, sp, size), val, size);
	sp_set(c, sp);
}

/* Read the value at the top of the stack + off without popping. */
uint64_t emu_stack_peek(struct emu_cpu *c, uint64_t off, int size)
{
	uint64_t sp = (c->gpr[R_SP] + off) & sp_mask(c);
	return emu_read(c, emu_seg_linear(c, S_SS, sp, size), size);
}

uint64_t emu_pop(struct emu_cpu *c, int size)
{
	uint64_t v = emu_stack_peek(c, 0, size);
	sp_set(c, c->gpr[R_SP] + size);
	return v;
}

/* ---- control transfer ---- */

/* Near branch target, masked to the operand size; #GP if non-canonical. */
void emu_jump(struct emu_cpu *c, const struct emu_insn *in, uint64_t target)
{
	if (c->code64) {
		if ((uint64_t)((int64_t)(target << 16) >> 16) != target)
			emu_raise_gp(c, 0);
	} else {
		target &= in->osize == 2 ? 0xffff : 0xffffffff;
	}
	c->rip = target;
}

static inline int near_size(const struct emu_cpu *c, const struct emu_insn *in)
{
	return c->code64 ? 8 : in->osize;
}

/* ---- ALU with memory destinations and LOCK ---- */

#define CAS_LOOP(T, p, compute)                                               \
	do {                                                                  \
		T *pp_ = (T *)(p);                                            \
		T old_ = __atomic_load_n(pp_, __ATOMIC_RELAXED), new_;        \
		do {                                                          \
			uint64_t o = old_;                                    \
			new_ = (T)(compute);                                  \
		} while (!__atomic_compare_exchange_n(pp_, &old_, new_, false, \
				__ATOMIC_SEQ_CST, __ATOMIC_RELAXED));         \
	} while (0)

/*
 * Apply ALU op (0-7) to r/m with src.  Locked memory forms are a
 * compare-and-swap loop on the host copy of guest RAM.
 */
static void alu_rm(struct emu_cpu *c, const struct emu_insn *in, int op, uint64_t src, int size)
{
	uint64_t la, v;

	if (in->mod == 3) {
		v = emu_alu(c, op, reg_get(c, in->rm, size, in->rex), src, size);
		if (op != 7)
			reg_set(c, in->rm, v, size, in->rex);
		return;
	}
	la = emu_ea_linear(c, in, size);
	if (op == 7) {
		emu_alu(c, op, emu_read(c, la, size), src, size);
		return;
	}
	if (in->lock) {
		void *p = emu_mem_ptr(c, la, size, ACC_WRITE, emu_user(c));
		if (p) {
			switch (size) {
			case 1: CAS_LOOP(uint8_t, p, emu_alu(c, op, o, src, 1)); break;
			case 2: CAS_LOOP(uint16_t, p, emu_alu(c, op, o, src, 2)); break;
			case 4: CAS_LOOP(uint32_t, p, emu_alu(c, op, o, src, 4)); break;
			default: CAS_LOOP(uint64_t, p, emu_alu(c, op, o, src, 8)); break;
			}
			return;
		}
	}
	prep_write(c, la, size);
	v = emu_alu(c, op, emu_read(c, la, size), src, size);
	emu_write(c, la, v, size);
}

uint64_t emu_incdec(struct emu_cpu *c, uint64_t v, int size, bool dec)
{
	uint8_t cf = emu_flags_cf(c);
	uint64_t r = (dec ? v - 1 : v + 1) & size_mask(size);

	c->cc_op = dec ? CC_DEC : CC_INC;
	c->cc_cin = cf;
	c->cc_src1 = v & size_mask(size);
	c->cc_src2 = 1;
	c->cc_res = r;
	c->cc_size = (uint8_t)size;
	return r;
}

static uint64_t neg_op(struct emu_cpu *c, uint64_t v, int size)
{
	return emu_alu(c, 5, 0, v, size);
}

/* Unary read-modify-write on r/m (INC, DEC, NOT, NEG) with LOCK support. */
enum { UN_INC, UN_DEC, UN_NOT, UN_NEG };
static uint64_t unary(struct emu_cpu *c, int kind, uint64_t v, int size)
{
	switch (kind) {
	case UN_INC: return emu_incdec(c, v, size, false);
	case UN_DEC: return emu_incdec(c, v, size, true);
	case UN_NOT: return ~v & size_mask(size);
	default: return neg_op(c, v, size);
	}
}

static void unary_rm(struct emu_cpu *c, const struct emu_insn *in, int kind, int size)
{
	uint64_t la;

	if (in->mod == 3) {
		reg_set(c, in->rm, unary(c, kind, reg_get(c, in->rm, size, in->rex), size), size, in->rex);
		return;
	}
	la = emu_ea_linear(c, in, size);
	if (in->lock) {
		void *p = emu_mem_ptr(c, la, size, ACC_WRITE, emu_user(c));
		if (p) {
			switch (size) {
			case 1: CAS_LOOP(uint8_t, p, unary(c, kind, o, 1)); break;
			case 2: CAS_LOOP(uint16_t, p, unary(c, kind, o, 2)); break;
			case 4: CAS_LOOP(uint32_t, p, unary(c, kind, o, 4)); break;
			default: CAS_LOOP(uint64_t, p, unary(c, kind, o, 8)); break;
			}
			return;
		}
	}
	prep_write(c, la, size);
	emu_write(c, la, unary(c, kind, emu_read(c, la, size), size), size);
}

/* ---- shifts and rotates (Intel SDM Vol. 2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR) ---- */

uint64_t emu_shift_op(struct emu_cpu *c, int op, uint64_t v, unsigned cnt, int size)
{
	int bits = size * 8;
	uint64_t m = size_mask(size), sb = 1ULL << (bits - 1), r;
	unsigned cf, of;

	v &= m;
	r = v;
	cnt &= size == 8 ? 63 : 31;
	if (!cnt)
		return v;
	switch (op) {
	case 0: /* ROL */
		cnt %= bits;
		r = cnt ? ((v << cnt) | (v >> (bits - cnt))) & m : v;
		cf = r & 1;
		of = (!!(r & sb) ^ cf) ? FL_OF : 0;
		emu_flags_set(c, (cf ? FL_CF : 0) | of, FL_CF | FL_OF);
		return r;
	case 1: /* ROR */
		cnt %= bits;
		r = cnt ? ((v >> cnt) | (v << (bits - cnt))) & m : v;
		cf = !!(r & sb);
		of = (!!(r & sb) ^ !!(r & (sb >> 1))) ? FL_OF : 0;
		emu_flags_set(c, (cf ? FL_CF : 0) | of, FL_CF | FL_OF);
		return r;
	case 2: /* RCL */
		cf = emu_flags_cf(c);
		cnt %= bits + 1;
		for (unsigned i = 0; i < cnt; i++) {
			unsigned ncf = !!(r & sb);
			r = ((r << 1) | (cf ? 1 : 0)) & m;
			cf = ncf;
		}
		of = (!!(r & sb) ^ !!cf) ? FL_OF : 0;
		emu_flags_set(c, (cf ? FL_CF : 0) | of, FL_CF | FL_OF);
		return r;
	case 3: /* RCR */
		cf = emu_flags_cf(c);
		cnt %= bits + 1;
		for (unsigned i = 0; i < cnt; i++) {
			unsigned ncf = r & 1;
			r = (r >> 1) | (cf ? sb : 0);
			cf = ncf;
		}
		of = (!!(r & sb) ^ !!(r & (sb >> 1))) ? FL_OF : 0;
		emu_flags_set(c, (cf ? FL_CF : 0) | of, FL_CF | FL_OF);
		return r;
	case 4: case 6: /* SHL/SAL */
		r = cnt >= (unsigned)bits ? 0 : (v << cnt) & m;
		c->cc_op = CC_SHL;
		break;
	case 5: /* SHR */
		r = cnt >= (unsigned)bits ? 0 : v >> cnt;
		c->cc_op = CC_SHR;
		break;
	default: /* SAR */ {
		int64_t sv = sign_ext(v, size);
		unsigned k = cnt >= (unsigned)bits ? (unsigned)bits - 1 : cnt;
		r = (uint64_t)(sv >> k) & m;
		c->cc_op = CC_SAR;
		break;
	}
	}
	/* Lazy flags (flags.c): operand, count and result. */
	c->cc_src1 = v;
	c->cc_src2 = cnt;
	c->cc_res = r;
	c->cc_size = (uint8_t)size;
	return r;
}

static void shift_rm(struct emu_cpu *c, const struct emu_insn *in, unsigned cnt, int size)
{
	uint64_t la;

	if (in->mod == 3) {
		uint64_t v = reg_get(c, in->rm, size, in->rex);
		reg_set(c, in->rm, emu_shift_op(c, in->reg & 7, v, cnt, size), size, in->rex);
		return;
	}
	la = emu_ea_linear(c, in, size);
	prep_write(c, la, size);
	emu_write(c, la, emu_shift_op(c, in->reg & 7, emu_read(c, la, size), cnt, size), size);
}

/* SHLD / SHRD (Intel SDM Vol. 2 SHLD, SHRD). */
static void shxd(struct emu_cpu *c, const struct emu_insn *in, unsigned cnt, bool right)
{
	int size = in->osize, bits = size * 8;
	uint64_t m = size_mask(size), sb = 1ULL << (bits - 1);
	uint64_t la = 0, d, s = reg_op(c, in, size), r;
	unsigned cf;

	cnt &= size == 8 ? 63 : 31;
	if (!cnt) {
		if (in->mod == 3 && size == 4)    /* the 32-bit write still zero-extends */
			reg_set(c, in->rm, reg_get(c, in->rm, 4, true), 4, true);
		return;
	}
	if (in->mod != 3) {
		la = emu_ea_linear(c, in, size);
		prep_write(c, la, size);
		d = emu_read(c, la, size);
	} else {
		d = reg_get(c, in->rm, size, in->rex);
	}
	if (size == 2 && cnt > 16) {
		/* Undefined result; behave as a 32-bit double shift of d:s:d. */
		uint64_t wide = right ? (d | (s << 16) | (d << 32)) : ((d << 32) | (s << 16) | d);
		wide = right ? wide >> cnt : wide << cnt;
		r = right ? wide & m : (wide >> 32) & m;
		cf = right ? (d >> ((cnt - 1) % 16)) & 1 : 0;
	} else if (right) {
		r = ((d >> cnt) | (s << (bits - cnt))) & m;
		cf = (d >> (cnt - 1)) & 1;
	} else {
		r = ((d << cnt) | (s >> (bits - cnt))) & m;
		cf = (d >> (bits - cnt)) & 1;
	}
	emu_flags_set(c, (cf ? FL_CF : 0) | (((r ^ d) & sb) ? FL_OF : 0) | (r == 0 ? FL_ZF : 0) |
		      ((r & sb) ? FL_SF : 0) | emu_parity_table[r & 0xff], FL_ARITH);
	if (in->mod == 3)
		reg_set(c, in->rm, r, size, in->rex);
	else
		emu_write(c, la, r, size);
}

/* ---- multiply / divide ---- */

static void set_mul_flags(struct emu_cpu *c, bool overflow, uint64_t lo, int size)
{
	uint64_t sb = 1ULL << (size * 8 - 1);
	lo &= size_mask(size);
	emu_flags_set(c, (overflow ? FL_CF | FL_OF : 0) | (lo == 0 ? FL_ZF : 0) |
		      ((lo & sb) ? FL_SF : 0) | emu_parity_table[lo & 0xff], FL_ARITH);
}

static void mul_div(struct emu_cpu *c, const struct emu_insn *in, int size)
{
	uint64_t src = emu_rm_read(c, in, size), m = size_mask(size);
	int bits = size * 8;
	uint64_t a = c->gpr[R_AX] & m, d = size == 1 ? (c->gpr[R_AX] >> 8) & 0xff : c->gpr[R_DX] & m;
	unsigned __int128 prod, num;
	__int128 sprod, snum, sq, sr;
	uint64_t q, r;

	switch (in->reg & 7) {
	case 4: /* MUL */
		prod = (unsigned __int128)a * src;
		r = (uint64_t)(prod >> bits);
		if (size == 8)
			r = (uint64_t)(prod >> 64);
		q = (uint64_t)prod & m;
		r &= m;
		if (size == 1) {
			reg_set(c, R_AX, (uint64_t)prod & 0xffff, 2, false);
		} else {
			reg_set(c, R_AX, q, size, false);
			reg_set(c, R_DX, r, size, false);
		}
		set_mul_flags(c, r != 0, q, size);
		return;
	case 5: /* IMUL */
		sprod = (__int128)sign_ext(a, size) * sign_ext(src, size);
		q = (uint64_t)sprod & m;
		r = (uint64_t)(sprod >> bits) & m;
		if (size == 8)
			r = (uint64_t)(sprod >> 64);
		if (size == 1) {
			reg_set(c, R_AX, (uint64_t)sprod & 0xffff, 2, false);
		} else {
			reg_set(c, R_AX, q, size, false);
			reg_set(c, R_DX, r, size, false);
		}
		set_mul_flags(c, sprod != (__int128)sign_ext(q, size), q, size);
		return;
	case 6: /* DIV */
		if (src == 0)
			emu_raise(c, EXC_DE, 0, false);
		num = ((unsigned __int128)d << bits) | a;
		if (size == 8)
			num = ((unsigned __int128)d << 64) | a;
		if (num / src > m)
			emu_raise(c, EXC_DE, 0, false);
		q = (uint64_t)(num / src);
		r = (uint64_t)(num % src);
		break;
	default: /* IDIV */ {
		__int128 divisor = sign_ext(src, size);
		if (src == 0)
			emu_raise(c, EXC_DE, 0, false);
		if (size == 8)
			num = ((unsigned __int128)d << 64) | a;
		else
			num = ((unsigned __int128)d << bits) | a;
		snum = (__int128)num;
		if (size < 8)
			snum = (__int128)((int64_t)((uint64_t)num << (64 - 2 * bits)) >> (64 - 2 * bits));
		/* INT128_MIN / -1 would trap on the host; its quotient overflows anyway. */
		if (size == 8 && (unsigned __int128)snum == (unsigned __int128)1 << 127 && divisor == -1)
			emu_raise(c, EXC_DE, 0, false);
		sq = snum / divisor;
		sr = snum % divisor;
		if (sq > (__int128)(m >> 1) || sq < -(__int128)(m >> 1) - 1)
			emu_raise(c, EXC_DE, 0, false);
		q = (uint64_t)sq & m;
		r = (uint64_t)sr & m;
		break;
	}
	}
	if (size == 1) {
		reg_set(c, R_AX, q | (r << 8), 2, false);
	} else {
		reg_set(c, R_AX, q, size, false);
		reg_set(c, R_DX, r, size, false);
	}
}

static void imul3(struct emu_cpu *c, const struct emu_insn *in, uint64_t a, uint64_t b)
{
	int size = in->osize;
	__int128 p = (__int128)sign_ext(a, size) * sign_ext(b, size);
	uint64_t lo = (uint64_t)p & size_mask(size);

	set_mul_flags(c, p != (__int128)sign_ext(lo, size), lo, size);
	reg_op_set(c, in, lo, size);
}

/* ---- bit operations (BT/BTS/BTR/BTC, BSF/BSR) ---- */

static void bit_op(struct emu_cpu *c, const struct emu_insn *in, int kind, uint64_t off, bool imm)
{
	int size = in->osize, bits = size * 8;
	uint64_t la, v, bit;

	if (in->mod == 3 || imm) {
		off &= bits - 1;
	}
	if (in->mod == 3) {
		v = reg_get(c, in->rm, size, in->rex);
		bit = 1ULL << off;
		emu_flags_set(c, (v & bit) ? FL_CF : 0, FL_CF);
		if (kind == 1) v |= bit;
		else if (kind == 2) v &= ~bit;
		else if (kind == 3) v ^= bit;
		if (kind)
			reg_set(c, in->rm, v, size, in->rex);
		return;
	}
	la = emu_ea_linear(c, in, size);
	if (!imm) {
		int64_t soff = sign_ext(off, size);
		la += (uint64_t)((soff >> (size == 8 ? 6 : size == 4 ? 5 : 4)) * size);
		off = (uint64_t)soff & (bits - 1);
		if (!c->code64)
			la &= 0xffffffffULL;
	}
	bit = 1ULL << off;
	if (kind && in->lock) {
		void *p = emu_mem_ptr(c, la, size, ACC_WRITE, emu_user(c));
		if (p) {
			uint64_t old;
			switch (size) {
			case 2: old = kind == 1 ? __atomic_fetch_or((uint16_t *)p, (uint16_t)bit, __ATOMIC_SEQ_CST) :
				     kind == 2 ? __atomic_fetch_and((uint16_t *)p, (uint16_t)~bit, __ATOMIC_SEQ_CST) :
				     __atomic_fetch_xor((uint16_t *)p, (uint16_t)bit, __ATOMIC_SEQ_CST); break;
			case 4: old = kind == 1 ? __atomic_fetch_or((uint32_t *)p, (uint32_t)bit, __ATOMIC_SEQ_CST) :
				     kind == 2 ? __atomic_fetch_and((uint32_t *)p, (uint32_t)~bit, __ATOMIC_SEQ_CST) :
				     __atomic_fetch_xor((uint32_t *)p, (uint32_t)bit, __ATOMIC_SEQ_CST); break;
			default: old = kind == 1 ? __atomic_fetch_or((uint64_t *)p, bit, __ATOMIC_SEQ_CST) :
				     kind == 2 ? __atomic_fetch_and((uint64_t *)p, ~bit, __ATOMIC_SEQ_CST) :
				     __atomic_fetch_xor((uint64_t *)p, bit, __ATOMIC_SEQ_CST); break;
			}
			emu_flags_set(c, (old & bit) ? FL_CF : 0, FL_CF);
			return;
		}
	}
	if (kind)
		prep_write(c, la, size);
	v = emu_read(c, la, size);
	emu_flags_set(c, (v & bit) ? FL_CF : 0, FL_CF);
	if (!kind)
		return;
	if (kind == 1) v |= bit;
	else if (kind == 2) v &= ~bit;
	else v ^= bit;
	emu_write(c, la, v, size);
}

static void bsf_bsr(struct emu_cpu *c, const struct emu_insn *in, bool rev)
{
	int size = in->osize;
	uint64_t v = emu_rm_read(c, in, size);
	uint64_t f = emu_flags_get(c) & ~(uint64_t)FL_ARITH;

	if (!v) {
		emu_flags_set(c, f | FL_ZF, ~0ULL);
		return;
	}
	emu_flags_set(c, f, ~0ULL);
	reg_op_set(c, in, rev ? 63 - __builtin_clzll(v) : __builtin_ctzll(v), size);
}

/* ---- CMPXCHG / XADD / XCHG ---- */

static void cmpxchg(struct emu_cpu *c, const struct emu_insn *in)
{
	int size = bsize(in);
	uint64_t acc = reg_get(c, R_AX, size, false), src = reg_op(c, in, size), la, cur;

	if (in->mod == 3) {
		cur = reg_get(c, in->rm, size, in->rex);
		emu_alu(c, 7, acc, cur, size);
		if (acc == cur)
			reg_set(c, in->rm, src, size, in->rex);
		else
			reg_set(c, R_AX, cur, size, false);
		return;
	}
	la = emu_ea_linear(c, in, size);
	void *p = emu_mem_ptr(c, la, size, ACC_WRITE, emu_user(c));
	if (p) {
		bool ok;
		switch (size) {
		case 1: { uint8_t e = (uint8_t)acc; ok = __atomic_compare_exchange_n((uint8_t *)p, &e, (uint8_t)src, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); cur = e; break; }
		case 2: { uint16_t e = (uint16_t)acc; ok = __atomic_compare_exchange_n((uint16_t *)p, &e, (uint16_t)src, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); cur = e; break; }
		case 4: { uint32_t e = (uint32_t)acc; ok = __atomic_compare_exchange_n((uint32_t *)p, &e, (uint32_t)src, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); cur = e; break; }
		default: { uint64_t e = acc; ok = __atomic_compare_exchange_n((uint64_t *)p, &e, src, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); cur = e; break; }
		}
		emu_alu(c, 7, acc, cur, size);
		if (!ok)
			reg_set(c, R_AX, cur, size, false);
		return;
	}
	prep_write(c, la, size);
	cur = emu_read(c, la, size);
	emu_alu(c, 7, acc, cur, size);
	if (acc == cur) {
		emu_write(c, la, src, size);
	} else {
		emu_write(c, la, cur, size);
		reg_set(c, R_AX, cur, size, false);
	}
}

/* 16-byte compare-and-swap on the host (LOCK CMPXCHG16B; needs 16-byte alignment). */
static bool cas16(void *p, unsigned __int128 *expected, unsigned __int128 nv)
{
	uint64_t lo = (uint64_t)*expected, hi = (uint64_t)(*expected >> 64);
	bool ok;

	__asm__ volatile("lock cmpxchg16b %1"
			 : "=@ccz"(ok), "+m"(*(unsigned __int128 *)p), "+a"(lo), "+d"(hi)
			 : "b"((uint64_t)nv), "c"((uint64_t)(nv >> 64))
			 : "memory");
	*expected = ((unsigned __int128)hi << 64) | lo;
	return ok;
}

static void cmpxchg8b16b(struct emu_cpu *c, const struct emu_insn *in)
{
	bool wide = in->rex & 8;
	int size = wide ? 16 : 8;
	uint64_t la, m = wide ? ~0ULL : 0xffffffffULL;
	uint64_t eax = c->gpr[R_AX] & m, edx = c->gpr[R_DX] & m;
	uint64_t ebx = c->gpr[R_BX] & m, ecx = c->gpr[R_CX] & m;
	bool ok;

	if (in->mod == 3)
		emu_raise_ud(c);
	la = emu_ea_linear(c, in, size);
	if (wide && (la & 15))
		emu_raise_gp(c, 0);
	void *p = emu_mem_ptr(c, la, size, ACC_WRITE, emu_user(c));
	/* Guest RAM is page aligned on the host; a buffer that is not (the
	 * test harness) takes the locked-out path instead of faulting. */
	if (wide && p && ((uintptr_t)p & 15))
		p = NULL;
	if (!wide) {
		uint64_t exp = eax | (edx << 32), nv = ebx | (ecx << 32), cur;
		if (p) {
			cur = exp;
			ok = __atomic_compare_exchange_n((uint64_t *)p, &cur, nv, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		} else {
			prep_write(c, la, 8);
			cur = emu_read(c, la, 8);
			ok = cur == exp;
			emu_write(c, la, ok ? nv : cur, 8);
		}
		if (!ok) {
			c->gpr[R_AX] = cur & 0xffffffff;
			c->gpr[R_DX] = cur >> 32;
		}
	} else {
		unsigned __int128 exp = ((unsigned __int128)edx << 64) | eax;
		unsigned __int128 nv = ((unsigned __int128)ecx << 64) | ebx, cur;
		if (p) {
			cur = exp;
			ok = cas16(p, &cur, nv);
		} else {
			prep_write(c, la, 8);
			prep_write(c, la + 8, 8);
			cur = ((unsigned __int128)emu_read(c, la + 8, 8) << 64) | emu_read(c, la, 8);
			ok = cur == exp;
			if (ok) {
				emu_write(c, la, ebx, 8);
				emu_write(c, la + 8, ecx, 8);
			}
		}
		if (!ok) {
			c->gpr[R_AX] = (uint64_t)cur;
			c->gpr[R_DX] = (uint64_t)(cur >> 64);
		}
	}
	emu_flags_set(c, ok ? FL_ZF : 0, FL_ZF);
}

static void xadd(struct emu_cpu *c, const struct emu_insn *in)
{
	int size = bsize(in);
	uint64_t src = reg_op(c, in, size), la, old;

	if (in->mod == 3) {
		old = reg_get(c, in->rm, size, in->rex);
		uint64_t sum = emu_alu(c, 0, old, src, size);
		reg_op_set(c, in, old, size);
		reg_set(c, in->rm, sum, size, in->rex);
		return;
	}
	la = emu_ea_linear(c, in, size);
	void *p = emu_mem_ptr(c, la, size, ACC_WRITE, emu_user(c));
	if (p) {
		switch (size) {
		case 1: old = __atomic_fetch_add((uint8_t *)p, (uint8_t)src, __ATOMIC_SEQ_CST); break;
		case 2: old = __atomic_fetch_add((uint16_t *)p, (uint16_t)src, __ATOMIC_SEQ_CST); break;
		case 4: old = __atomic_fetch_add((uint32_t *)p, (uint32_t)src, __ATOMIC_SEQ_CST); break;
		default: old = __atomic_fetch_add((uint64_t *)p, src, __ATOMIC_SEQ_CST); break;
		}
		emu_alu(c, 0, old, src, size);
	} else {
		prep_write(c, la, size);
		old = emu_read(c, la, size);
		emu_write(c, la, emu_alu(c, 0, old, src, size), size);
	}
	reg_op_set(c, in, old, size);
}

static void xchg_rm(struct emu_cpu *c, const struct emu_insn *in)
{
	int size = bsize(in);
	uint64_t src = reg_op(c, in, size), la, old;

	if (in->mod == 3) {
		old = reg_get(c, in->rm, size, in->rex);
		reg_set(c, in->rm, src, size, in->rex);
		reg_op_set(c, in, old, size);
		return;
	}
	la = emu_ea_linear(c, in, size);
	void *p = emu_mem_ptr(c, la, size, ACC_WRITE, emu_user(c));
	if (p) {
		switch (size) {
		case 1: old = __atomic_exchange_n((uint8_t *)p, (uint8_t)src, __ATOMIC_SEQ_CST); break;
		case 2: old = __atomic_exchange_n((uint16_t *)p, (uint16_t)src, __ATOMIC_SEQ_CST); break;
		case 4: old = __atomic_exchange_n((uint32_t *)p, (uint32_t)src, __ATOMIC_SEQ_CST); break;
		default: old = __atomic_exchange_n((uint64_t *)p, src, __ATOMIC_SEQ_CST); break;
		}
	} else {
		prep_write(c, la, size);
		old = emu_read(c, la, size);
		emu_write(c, la, src, size);
	}
	reg_op_set(c, in, old, size);
}

/* ---- string instructions (Intel SDM Vol. 1 §7.3.9, Vol. 2 REP) ---- */

static inline uint64_t amask(const struct emu_insn *in)
{
	return size_mask(in->asize);
}

static inline void reg_addr_add(struct emu_cpu *c, const struct emu_insn *in, int r, int64_t d)
{
	uint64_t m = amask(in);
	c->gpr[r] = in->asize == 4 ? ((c->gpr[r] + d) & m) : (c->gpr[r] & ~m) | ((c->gpr[r] + d) & m);
}

/* Bulk fast path for REP MOVS/STOS with DF=0 within single RAM pages. */
static bool rep_bulk(struct emu_cpu *c, const struct emu_insn *in, int size, bool movs,
		     uint64_t *count)
{
	uint64_t di = c->gpr[R_DI] & amask(in), si = c->gpr[R_SI] & amask(in);
	uint64_t dla = emu_seg_linear(c, S_ES, di, size), sla = 0;
	uint64_t room = 0x1000 - (dla & 0xfff), n;
	uint8_t *d, *s = NULL;

	if (movs) {
		sla = emu_seg_linear(c, in->seg, si, size);
		room = MIN(room, 0x1000 - (sla & 0xfff));
	}
	n = MIN(*count, room / size);
	if (n < 2 || in->asize != 8)
		return false;
	d = emu_mem_ptr(c, dla, (int)(n * size) > 4096 ? 4096 : (int)(n * size), ACC_WRITE, emu_user(c));
	if (!d)
		return false;
	if (movs) {
		s = emu_mem_ptr(c, sla, (int)(n * size), ACC_READ, emu_user(c));
		if (!s)
			return false;
		/*
		 * The CPU copies element by element upwards: a destination just
		 * above an overlapping source replicates the first elements,
		 * which memmove would not (Intel SDM Vol. 2 MOVS, REP).
		 */
		if (d > s && d < s + n * size)
			return false;
		memmove(d, s, n * size);
		c->gpr[R_SI] += n * size;
	} else {
		uint64_t v = c->gpr[R_AX] & size_mask(size);
		uint64_t pat = (v & 0xff) * 0x0101010101010101ULL;

		if ((v ^ pat) & size_mask(size)) {
			/* A pattern that is not one repeated byte: store elements. */
			for (uint64_t i = 0; i < n; i++) {
				switch (size) {
				case 2: memcpy(d + i * 2, &v, 2); break;
				case 4: memcpy(d + i * 4, &v, 4); break;
				default: memcpy(d + i * 8, &v, 8); break;
				}
			}
		} else {
			/* REP STOSB/W/D/Q of one repeated byte (zeroing, mostly). */
			memset(d, (int)(v & 0xff), n * size);
		}
	}
	c->gpr[R_DI] += n * size;
	*count -= n;
	return true;
}

static uint32_t io_in(struct emu_cpu *c, uint16_t port, int size);
static void io_out(struct emu_cpu *c, uint16_t port, uint32_t v, int size);

static void string_op(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;
	int size = (op & 1) ? in->osize : 1;
	int64_t step = (emu_flags_get(c) & FL_DF) ? -size : size;
	bool rep = in->rep != 0;
	uint64_t count = rep ? c->gpr[R_CX] & amask(in) : 1;
	unsigned budget = 4096;
	bool is_cmp = op == 0xa6 || op == 0xa7 || op == 0xae || op == 0xaf;

	if (op == 0x6c || op == 0x6d || op == 0x6e || op == 0x6f)
		size = (op & 1) ? (in->osize == 2 ? 2 : 4) : 1, step = step < 0 ? -size : size;
	if ((op == 0x6c || op == 0x6d || op == 0x6e || op == 0x6f) && !emu_sys_io_allowed(c))
		emu_raise_gp(c, 0);

	while (count) {
		uint64_t si = c->gpr[R_SI] & amask(in), di = c->gpr[R_DI] & amask(in), v;

		if (rep && step > 0 && (op == 0xa4 || op == 0xa5 || op == 0xaa || op == 0xab) &&
		    rep_bulk(c, in, size, op < 0xa8, &count)) {
			reg_set(c, R_CX, count, in->asize, false);
			if (!budget--)
				break;
			continue;
		}
		switch (op) {
		case 0xa4: case 0xa5: /* MOVS */
			v = emu_read(c, emu_seg_linear(c, in->seg, si, size), size);
			emu_write(c, emu_seg_linear(c, S_ES, di, size), v, size);
			reg_addr_add(c, in, R_SI, step);
			reg_addr_add(c, in, R_DI, step);
			break;
		case 0xa6: case 0xa7: /* CMPS */
			v = emu_read(c, emu_seg_linear(c, in->seg, si, size), size);
			emu_alu(c, 7, v, emu_read(c, emu_seg_linear(c, S_ES, di, size), size), size);
			reg_addr_add(c, in, R_SI, step);
			reg_addr_add(c, in, R_DI, step);
			break;
		case 0xaa: case 0xab: /* STOS */
			emu_write(c, emu_seg_linear(c, S_ES, di, size), c->gpr[R_AX], size);
			reg_addr_add(c, in, R_DI, step);
			break;
		case 0xac: case 0xad: /* LODS */
			v = emu_read(c, emu_seg_linear(c, in->seg, si, size), size);
			reg_set(c, R_AX, v, size, false);
			reg_addr_add(c, in, R_SI, step);
			break;
		case 0xae: case 0xaf: /* SCAS */
			v = emu_read(c, emu_seg_linear(c, S_ES, di, size), size);
			emu_alu(c, 7, c->gpr[R_AX] & size_mask(size), v, size);
			reg_addr_add(c, in, R_DI, step);
			break;
		case 0x6c: case 0x6d: /* INS */
			prep_write(c, emu_seg_linear(c, S_ES, di, size), size);
			v = io_in(c, (uint16_t)c->gpr[R_DX], size);
			emu_write(c, emu_seg_linear(c, S_ES, di, size), v, size);
			reg_addr_add(c, in, R_DI, step);
			break;
		default: /* OUTS */
			v = emu_read(c, emu_seg_linear(c, in->seg, si, size), size);
			io_out(c, (uint16_t)c->gpr[R_DX], (uint32_t)v, size);
			reg_addr_add(c, in, R_SI, step);
			break;
		}
		count--;
		if (!rep)
			break;
		reg_set(c, R_CX, count, in->asize, false);
		if (is_cmp) {
			bool zf = emu_cond(c, 4);
			if ((in->rep == 0xf3 && !zf) || (in->rep == 0xf2 && zf))
				break;
		}
		if (!--budget)
			break;
	}
	if (rep && count && !(is_cmp && ((in->rep == 0xf3) != emu_cond(c, 4)))) {
		/* Not finished: restart the instruction so interrupts get a look in. */
		c->rip = in->rip;
		return;
	}
	c->rip = in->next_rip;
}

/* ---- I/O ---- */

static uint32_t io_in(struct emu_cpu *c, uint16_t port, int size)
{
	if (c->io_in)
		return c->io_in(c, port, size);
	return (uint32_t)size_mask(size);
}

static void io_out(struct emu_cpu *c, uint16_t port, uint32_t v, int size)
{
	if (c->io_out)
		c->io_out(c, port, v, size);
}

/* ---- misc helpers ---- */

static void enter_op(struct emu_cpu *c, const struct emu_insn *in)
{
	int size = push_size(c, in);
	unsigned level = in->imm2 & 31;
	uint64_t frame, bp = c->gpr[R_BP];
	uint64_t sp = c->gpr[R_SP];

	/* Write everything first, then commit (precise faults). */
	sp -= size;
	emu_write(c, emu_seg_linear(c, S_SS, sp & sp_mask(c), size), bp, size);
	frame = sp;
	for (unsigned i = 1; i < level; i++) {
		bp -= size;
		uint64_t v = emu_read(c, emu_seg_linear(c, S_SS, bp & sp_mask(c), size), size);
		sp -= size;
		emu_write(c, emu_seg_linear(c, S_SS, sp & sp_mask(c), size), v, size);
	}
	if (level) {
		sp -= size;
		emu_write(c, emu_seg_linear(c, S_SS, sp & sp_mask(c), size), frame, size);
	}
	sp -= in->imm;
	reg_set(c, R_BP, frame, c->stack_size == 8 ? 8 : size, false);
	sp_set(c, sp);
}

static void leave_op(struct emu_cpu *c, const struct emu_insn *in)
{
	int size = push_size(c, in);
	uint64_t bp = c->gpr[R_BP] & sp_mask(c);
	uint64_t v = emu_read(c, emu_seg_linear(c, S_SS, bp, size), size);

	sp_set(c, bp + size);
	reg_set(c, R_BP, v, size, false);
}

static void pushf_op(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t f = emu_flags_get(c) & ~(uint64_t)(FL_RF | FL_VM);

	if ((c->rflags & FL_VM) && ((c->rflags & FL_IOPL) >> 12) < 3)
		emu_raise_gp(c, 0);
	emu_push(c, f, push_size(c, in));
}

static void popf_op(struct emu_cpu *c, const struct emu_insn *in)
{
	int size = push_size(c, in);
	uint64_t v = emu_stack_peek(c, 0, size);
	uint64_t mask = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_AC | FL_ID;
	unsigned iopl = (c->rflags & FL_IOPL) >> 12;

	if (c->rflags & FL_VM) {
		if (iopl < 3)
			emu_raise_gp(c, 0);
		mask |= FL_IF;
	} else {
		if (c->cpl == 0)
			mask |= FL_IOPL;
		if (c->cpl <= iopl)
			mask |= FL_IF;
	}
	if (size == 2)
		mask &= 0xffff;
	sp_set(c, c->gpr[R_SP] + size);
	emu_flags_set(c, v, mask);
}

static void cbw_op(struct emu_cpu *c, const struct emu_insn *in, bool cwd)
{
	int size = in->osize;
	uint64_t a = c->gpr[R_AX];

	if (!cwd) {
		reg_set(c, R_AX, (uint64_t)sign_ext(a, size / 2), size, false);
	} else {
		uint64_t hi = (sign_ext(a, size) < 0) ? ~0ULL : 0;
		reg_set(c, R_DX, hi, size, false);
	}
}

static void mov_moffs(struct emu_cpu *c, const struct emu_insn *in)
{
	int size = (in->op & 1) ? in->osize : 1;
	uint64_t la = emu_seg_linear(c, in->seg, in->imm & amask(in), size);

	if (in->op < 0xa2)
		reg_set(c, R_AX, emu_read(c, la, size), size, false);
	else
		emu_write(c, la, c->gpr[R_AX], size);
}

static void lahf_sahf(struct emu_cpu *c, bool sahf)
{
	if (sahf) {
		emu_flags_set(c, (c->gpr[R_AX] >> 8) & 0xff, FL_SF | FL_ZF | FL_AF | FL_PF | FL_CF);
	} else {
		uint64_t f = emu_flags_get(c) & 0xff;
		reg_set(c, 4, f, 1, false);   /* AH */
	}
}

/* ---- the one-byte and 0F maps ---- */

static void exec_0f(struct emu_cpu *c, struct emu_insn *in);
static void exec_grp5(struct emu_cpu *c, struct emu_insn *in);

void emu_exec(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;
	int size = bsize(in);
	uint64_t v;

	if (in->op >= 0x100) {
		exec_0f(c, in);
		return;
	}
	if (in->lock) {
		/* LOCK only with a memory destination of the RMW instructions. */
		bool ok = in->mod != 3 && in->has_modrm &&
			  ((op < 0x40 && (op & 7) < 2 && (op >> 3) != 7) ||
			   ((op >= 0x80 && op <= 0x83) && (in->reg & 7) != 7) ||
			   op == 0x86 || op == 0x87 ||
			   ((op == 0xf6 || op == 0xf7) && ((in->reg & 7) == 2 || (in->reg & 7) == 3)) ||
			   ((op == 0xfe || op == 0xff) && (in->reg & 7) < 2));
		if (!ok)
			emu_raise_ud(c);
	}

	switch (op) {
	case 0x00 ... 0x3f:
		if ((op & 7) >= 6) {
			if (c->code64 || op == 0x0f)
				emu_raise_ud(c);
			emu_sys_legacy(c, in);  /* PUSH/POP ES/CS/SS/DS, DAA, DAS, AAA, AAS */
			break;
		}
		switch (op & 7) {
		case 0: case 1:
			alu_rm(c, in, op >> 3, reg_op(c, in, size), size);
			break;
		case 2: case 3:
			v = emu_alu(c, op >> 3, reg_op(c, in, size), emu_rm_read(c, in, size), size);
			if ((op >> 3) != 7)
				reg_op_set(c, in, v, size);
			break;
		default:
			v = emu_alu(c, op >> 3, c->gpr[R_AX] & size_mask(size), in->imm, size);
			if ((op >> 3) != 7)
				reg_set(c, R_AX, v, size, false);
			break;
		}
		break;
	case 0x40 ... 0x4f: /* INC/DEC r (not in 64-bit mode: those are REX) */
		reg_set(c, op & 7, emu_incdec(c, reg_get(c, op & 7, in->osize, false), in->osize, op >= 0x48),
			in->osize, false);
		break;
	case 0x50 ... 0x57:
		emu_push(c, c->gpr[(op & 7) | ((in->rex & 1) ? 8 : 0)], push_size(c, in));
		break;
	case 0x58 ... 0x5f: {
		int s = push_size(c, in);
		v = emu_pop(c, s);
		reg_set(c, (op & 7) | ((in->rex & 1) ? 8 : 0), v, s, true);
		break;
	}
	case 0x60: case 0x61: case 0x62:
		if (c->code64)
			emu_raise_ud(c);
		emu_sys_legacy(c, in);
		break;
	case 0x63:
		if (c->code64) { /* MOVSXD */
			v = emu_rm_read(c, in, 4);
			reg_op_set(c, in, (uint64_t)sign_ext(v, 4), in->osize);
		} else {
			emu_sys_exec(c, in);  /* ARPL */
		}
		break;
	case 0x68: case 0x6a:
		emu_push(c, in->imm, push_size(c, in));
		break;
	case 0x69: case 0x6b:
		imul3(c, in, emu_rm_read(c, in, in->osize), in->imm);
		break;
	case 0x6c ... 0x6f: case 0xa4 ... 0xa7: case 0xaa ... 0xaf:
		string_op(c, in);
		return;
	case 0x70 ... 0x7f:
		if (emu_cond(c, op & 15)) {
			emu_jump(c, in, in->next_rip + in->imm);
			return;
		}
		break;
	case 0x80 ... 0x83:
		if (op == 0x82 && c->code64)
			emu_raise_ud(c);
		alu_rm(c, in, in->reg & 7, in->imm & size_mask((op & 1) ? in->osize : 1),
		       (op & 1) ? in->osize : 1);
		break;
	case 0x84: case 0x85:
		emu_alu(c, 4, emu_rm_read(c, in, size), reg_op(c, in, size), size);
		break;
	case 0x86: case 0x87:
		xchg_rm(c, in);
		break;
	case 0x88: case 0x89:
		emu_rm_write(c, in, reg_op(c, in, size), size);
		break;
	case 0x8a: case 0x8b:
		reg_op_set(c, in, emu_rm_read(c, in, size), size);
		break;
	case 0x8c: /* MOV r/m, Sreg */
		if ((in->reg & 7) > 5)
			emu_raise_ud(c);
		emu_rm_write(c, in, c->seg[in->reg & 7].selector, in->mod == 3 ? in->osize : 2);
		break;
	case 0x8d:
		if (in->mod == 3)
			emu_raise_ud(c);
		reg_op_set(c, in, emu_ea(c, in), in->osize);
		break;
	case 0x8e: /* MOV Sreg, r/m */
		if ((in->reg & 7) == S_CS || (in->reg & 7) > 5)
			emu_raise_ud(c);
		emu_seg_load(c, in->reg & 7, (uint16_t)emu_rm_read(c, in, 2));
		if ((in->reg & 7) == S_SS)
			c->irq_inhibit = true;
		break;
	case 0x8f: { /* POP r/m */
		int s = push_size(c, in);
		v = emu_stack_peek(c, 0, s);
		/* The address is computed with the incremented stack pointer. */
		uint64_t old_sp = c->gpr[R_SP];
		sp_set(c, old_sp + s);
		if (in->mod == 3) {
			reg_set(c, in->rm, v, s, in->rex);
		} else {
			uint64_t la = emu_ea_linear(c, in, s);
			c->gpr[R_SP] = old_sp;
			emu_write(c, la, v, s);
			sp_set(c, old_sp + s);
		}
		break;
	}
	case 0x90:
		if (in->rex & 1)
			goto xchg_ax;
		if (in->rep == 0xf3)
			emu_sys_pause(c);
		break;
	case 0x91 ... 0x97:
	xchg_ax: {
		int r = (op & 7) | ((in->rex & 1) ? 8 : 0);
		v = reg_get(c, r, in->osize, false);
		reg_set(c, r, c->gpr[R_AX], in->osize, false);
		reg_set(c, R_AX, v, in->osize, false);
		break;
	}
	case 0x98: cbw_op(c, in, false); break;
	case 0x99: cbw_op(c, in, true); break;
	case 0x9b: /* FWAIT */
		if ((c->cr0 & (X86_CR0_MP | X86_CR0_TS)) == (X86_CR0_MP | X86_CR0_TS))
			emu_raise(c, EXC_NM, 0, false);
		break;
	case 0x9c: pushf_op(c, in); break;
	case 0x9d: popf_op(c, in); break;
	case 0x9e: lahf_sahf(c, true); break;
	case 0x9f: lahf_sahf(c, false); break;
	case 0xa0 ... 0xa3: mov_moffs(c, in); break;
	case 0xa8: case 0xa9:
		emu_alu(c, 4, c->gpr[R_AX] & size_mask(size), in->imm, size);
		break;
	case 0xb0 ... 0xb7:
		reg_set(c, (op & 7) | ((in->rex & 1) ? 8 : 0), in->imm, 1, in->rex);
		break;
	case 0xb8 ... 0xbf:
		reg_set(c, (op & 7) | ((in->rex & 1) ? 8 : 0), in->imm, in->osize, false);
		break;
	case 0xc0: case 0xc1:
		shift_rm(c, in, (unsigned)in->imm, size);
		break;
	case 0xd0: case 0xd1:
		shift_rm(c, in, 1, size);
		break;
	case 0xd2: case 0xd3:
		shift_rm(c, in, (unsigned)c->gpr[R_CX] & 0xff, size);
		break;
	case 0xc2: case 0xc3: { /* RET near */
		int s = near_size(c, in);
		v = emu_stack_peek(c, 0, s);
		emu_jump(c, in, v);
		sp_set(c, c->gpr[R_SP] + s + (op == 0xc2 ? in->imm : 0));
		return;
	}
	case 0xc6: case 0xc7:
		if ((in->reg & 7) != 0)
			emu_raise_ud(c);
		emu_rm_write(c, in, in->imm, size);
		break;
	case 0xc8: enter_op(c, in); break;
	case 0xc9: leave_op(c, in); break;
	case 0xd7: /* XLAT */
		v = emu_read(c, emu_seg_linear(c, in->seg,
				(c->gpr[R_BX] + (c->gpr[R_AX] & 0xff)) & amask(in), 1), 1);
		reg_set(c, R_AX, v, 1, false);
		break;
	case 0xd8 ... 0xdf:
		emu_x87_exec(c, in);
		break;
	case 0xe0 ... 0xe3: { /* LOOPNE, LOOPE, LOOP, JrCXZ */
		uint64_t cx = c->gpr[R_CX] & amask(in);
		bool take;
		if (op != 0xe3) {
			cx = (cx - 1) & amask(in);
			reg_set(c, R_CX, cx, in->asize, false);
			take = cx != 0 && (op == 0xe2 || (op == 0xe1) == emu_cond(c, 4));
		} else {
			take = cx == 0;
		}
		if (take) {
			emu_jump(c, in, in->next_rip + in->imm);
			return;
		}
		break;
	}
	case 0xe4 ... 0xe7: case 0xec ... 0xef: {
		int s = (op & 1) ? (in->osize == 2 ? 2 : 4) : 1;
		uint16_t port = op >= 0xec ? (uint16_t)c->gpr[R_DX] : (uint16_t)in->imm;
		if (!emu_sys_io_allowed(c))
			emu_raise_gp(c, 0);
		if (op & 2)
			io_out(c, port, (uint32_t)c->gpr[R_AX], s);
		else
			reg_set(c, R_AX, io_in(c, port, s), s, false);
		break;
	}
	case 0xe8: { /* CALL rel */
		int s = near_size(c, in);
		uint64_t target = in->next_rip + in->imm;
		if (c->code64 && (uint64_t)((int64_t)(target << 16) >> 16) != target)
			emu_raise_gp(c, 0);
		emu_push(c, in->next_rip, s);
		emu_jump(c, in, target);
		return;
	}
	case 0xe9: case 0xeb:
		emu_jump(c, in, in->next_rip + in->imm);
		return;
	case 0xf4:
		emu_sys_hlt(c, in);
		break;
	case 0xf5:
		emu_flags_set(c, emu_flags_get(c) ^ FL_CF, FL_CF);
		break;
	case 0xf6: case 0xf7:
		switch (in->reg & 7) {
		case 0: case 1:
			emu_alu(c, 4, emu_rm_read(c, in, size), in->imm, size);
			break;
		case 2: unary_rm(c, in, UN_NOT, size); break;
		case 3: unary_rm(c, in, UN_NEG, size); break;
		default: mul_div(c, in, size); break;
		}
		break;
	case 0xf8: emu_flags_set(c, 0, FL_CF); break;
	case 0xf9: emu_flags_set(c, FL_CF, FL_CF); break;
	case 0xfa: case 0xfb:
		emu_sys_cli_sti(c, op == 0xfb);
		break;
	case 0xfc: c->rflags &= ~(uint64_t)FL_DF; break;
	case 0xfd: c->rflags |= FL_DF; break;
	case 0xfe:
		if ((in->reg & 7) > 1)
			emu_raise_ud(c);
		unary_rm(c, in, (in->reg & 7) ? UN_DEC : UN_INC, 1);
		break;
	case 0xff:
		exec_grp5(c, in);
		return;
	default:
		/* Far transfers, INT, IRET, segment loads, BCD: sys.c. */
		if (!emu_sys_exec(c, in))
			emu_raise_ud(c);
		return;
	}
	c->rip = in->next_rip;
}

static void exec_grp5(struct emu_cpu *c, struct emu_insn *in)
{
	int s;
	uint64_t v;

	switch (in->reg & 7) {
	case 0: unary_rm(c, in, UN_INC, in->osize); break;
	case 1: unary_rm(c, in, UN_DEC, in->osize); break;
	case 2: /* CALL near r/m */
		s = near_size(c, in);
		v = emu_rm_read(c, in, s);
		if (c->code64 && (uint64_t)((int64_t)(v << 16) >> 16) != v)
			emu_raise_gp(c, 0);
		emu_push(c, in->next_rip, s);
		emu_jump(c, in, v);
		return;
	case 4: /* JMP near r/m */
		s = near_size(c, in);
		emu_jump(c, in, emu_rm_read(c, in, s));
		return;
	case 3: case 5:
		if (!emu_sys_exec(c, in))
			emu_raise_ud(c);
		return;
	case 6:
		s = push_size(c, in);
		emu_push(c, emu_rm_read(c, in, s), s);
		break;
	default:
		emu_raise_ud(c);
	}
	c->rip = in->next_rip;
}

static void movzx_sx(struct emu_cpu *c, const struct emu_insn *in, int from, bool sx)
{
	uint64_t v = emu_rm_read(c, in, from);
	reg_op_set(c, in, sx ? (uint64_t)sign_ext(v, from) : v, in->osize);
}

static void exec_0f(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;
	uint64_t v;

	if (in->op >= 0x200) {
		if (!emu_sse_exec(c, in))
			emu_raise_ud(c);
		c->rip = in->next_rip;
		return;
	}
	if (in->lock) {
		bool ok = in->mod != 3 &&
			  (op == 0xab || op == 0xb3 || op == 0xbb || (op == 0xba && (in->reg & 7) >= 5) ||
			   op == 0xb0 || op == 0xb1 || op == 0xc0 || op == 0xc1 ||
			   (op == 0xc7 && (in->reg & 7) == 1));
		if (!ok)
			emu_raise_ud(c);
	}
	switch (op) {
	case 0x0b: case 0xb9: case 0xff:
		emu_raise_ud(c);
	case 0x0d: case 0x18 ... 0x1f: /* prefetch hints, NOP r/m */
		break;
	case 0x40 ... 0x4f: /* CMOVcc: reads the source even when not moving */
		v = emu_rm_read(c, in, in->osize);
		if (emu_cond(c, op & 15))
			reg_op_set(c, in, v, in->osize);
		else if (in->osize == 4)
			reg_op_set(c, in, reg_op(c, in, 4), 4);
		break;
	case 0x80 ... 0x8f:
		if (emu_cond(c, op & 15)) {
			emu_jump(c, in, in->next_rip + in->imm);
			return;
		}
		break;
	case 0x90 ... 0x9f:
		emu_rm_write(c, in, emu_cond(c, op & 15), 1);
		break;
	case 0xa3: bit_op(c, in, 0, reg_op(c, in, in->osize), false); break;
	case 0xab: bit_op(c, in, 1, reg_op(c, in, in->osize), false); break;
	case 0xb3: bit_op(c, in, 2, reg_op(c, in, in->osize), false); break;
	case 0xbb: bit_op(c, in, 3, reg_op(c, in, in->osize), false); break;
	case 0xba:
		if ((in->reg & 7) < 4)
			emu_raise_ud(c);
		bit_op(c, in, (in->reg & 7) - 4, in->imm, true);
		break;
	case 0xa4: shxd(c, in, (unsigned)in->imm, false); break;
	case 0xa5: shxd(c, in, (unsigned)c->gpr[R_CX], false); break;
	case 0xac: shxd(c, in, (unsigned)in->imm, true); break;
	case 0xad: shxd(c, in, (unsigned)c->gpr[R_CX], true); break;
	case 0xaf:
		imul3(c, in, reg_op(c, in, in->osize), emu_rm_read(c, in, in->osize));
		break;
	case 0xb0: case 0xb1: cmpxchg(c, in); break;
	case 0xb6: movzx_sx(c, in, 1, false); break;
	case 0xb7: movzx_sx(c, in, 2, false); break;
	case 0xbe: movzx_sx(c, in, 1, true); break;
	case 0xbf: movzx_sx(c, in, 2, true); break;
	case 0xbc:
		bsf_bsr(c, in, false);
		break;
	case 0xbd:
		bsf_bsr(c, in, true);
		break;
	case 0xb8: /* POPCNT (F3 0F B8) */
		if (in->rep != 0xf3)
			emu_raise_ud(c);
		v = emu_rm_read(c, in, in->osize);
		emu_flags_set(c, v ? 0 : FL_ZF, FL_ARITH);
		reg_op_set(c, in, (uint64_t)__builtin_popcountll(v), in->osize);
		break;
	case 0xc0: case 0xc1: xadd(c, in); break;
	case 0xc7:
		if ((in->reg & 7) == 1) {
			cmpxchg8b16b(c, in);
			break;
		}
		if (!emu_sys_exec(c, in))
			emu_raise_ud(c);
		return;
	case 0xc8 ... 0xcf: {
		int r = (op & 7) | ((in->rex & 1) ? 8 : 0);
		if (in->osize == 8)
			c->gpr[r] = __builtin_bswap64(c->gpr[r]);
		else if (in->osize == 4)
			c->gpr[r] = __builtin_bswap32((uint32_t)c->gpr[r]);
		else
			reg_set(c, r, 0, 2, false);  /* undefined; zero like most CPUs */
		break;
	}
	default:
		if (emu_sse_exec(c, in))
			break;
		if (!emu_sys_exec(c, in))
			emu_raise_ud(c);
		return;
	}
	c->rip = in->next_rip;
}
