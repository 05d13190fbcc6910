// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lazy arithmetic flags (Intel SDM Vol. 1 §3.4.3.1, Appendix A "EFLAGS
 * cross-reference").  ALU instructions record the operation, operands and
 * result; CF/PF/AF/ZF/SF/OF are computed only when read.
 */
#include "accel/emu/cpu.h"
#include "accel/emu/ops.h"

#define P4(n) n, n ^ 1, n ^ 1, n
#define P16(n) P4(n), P4(n ^ 1), P4(n ^ 1), P4(n)
#define P64(n) P16(n), P16(n ^ 1), P16(n ^ 1), P16(n)
/* PF: 1 (as FL_PF) when the low byte has an even number of set bits. */
#define PB(n) (uint8_t)((n) * FL_PF)
#define Q4(n) PB(n), PB(n ^ 1), PB(n ^ 1), PB(n)
#define Q16(n) Q4(n), Q4(n ^ 1), Q4(n ^ 1), Q4(n)
#define Q64(n) Q16(n), Q16(n ^ 1), Q16(n ^ 1), Q16(n)
const uint8_t emu_parity_table[256] = { Q64(1), Q64(0), Q64(0), Q64(1) };

static inline uint64_t sign_bit(int size)
{
	return 1ULL << (size * 8 - 1);
}

/* CF of a lazy shift: the last bit shifted out. */
static bool shift_cf(const struct emu_cpu *c)
{
	unsigned bits = c->cc_size * 8, cnt = (unsigned)c->cc_src2;
	uint64_t a = c->cc_src1;

	switch (c->cc_op) {
	case CC_SHL:
		return cnt > bits ? 0 : (a >> (bits - cnt)) & 1;
	case CC_SHR:
		return cnt > bits ? 0 : (a >> (cnt - 1)) & 1;
	default: {
		int64_t sv = (int64_t)(a << (64 - bits)) >> (64 - bits);
		return cnt >= bits ? sv < 0 : (sv >> (cnt - 1)) & 1;
	}
	}
}

static uint32_t flags_compute(const struct emu_cpu *c)
{
	uint64_t m = size_mask(c->cc_size), sb = sign_bit(c->cc_size);
	uint64_t r = c->cc_res & m, a = c->cc_src1 & m, b = c->cc_src2 & m;
	uint32_t f = 0;

	switch (c->cc_op) {
	case CC_ADD:
		f |= r < a ? FL_CF : 0;
		f |= (~(a ^ b) & (a ^ r) & sb) ? FL_OF : 0;
		break;
	case CC_ADC:
		f |= (c->cc_cin ? r <= a : r < a) ? FL_CF : 0;
		f |= (~(a ^ b) & (a ^ r) & sb) ? FL_OF : 0;
		break;
	case CC_SUB:
		f |= a < b ? FL_CF : 0;
		f |= ((a ^ b) & (a ^ r) & sb) ? FL_OF : 0;
		break;
	case CC_SBB:
		f |= (c->cc_cin ? a <= b : a < b) ? FL_CF : 0;
		f |= ((a ^ b) & (a ^ r) & sb) ? FL_OF : 0;
		break;
	case CC_LOGIC:
		break;
	case CC_INC:
		f |= c->cc_cin ? FL_CF : 0;
		f |= r == sb ? FL_OF : 0;
		break;
	case CC_DEC:
		f |= c->cc_cin ? FL_CF : 0;
		f |= r == sb - 1 ? FL_OF : 0;
		break;
	case CC_SHL: case CC_SHR: case CC_SAR:
		/* SDM SAL/SAR/SHL/SHR: OF as for a count of 1 (undefined otherwise), AF 0. */
		f |= shift_cf(c) ? FL_CF : 0;
		if (c->cc_op == CC_SHL)
			f |= (!!(r & sb) ^ !!(f & FL_CF)) ? FL_OF : 0;
		else if (c->cc_op == CC_SHR)
			f |= (a & sb) ? FL_OF : 0;
		break;
	default:
		return (uint32_t)(c->rflags & FL_ARITH);
	}
	if (c->cc_op < CC_LOGIC || c->cc_op == CC_INC || c->cc_op == CC_DEC)
		f |= (a ^ b ^ r) & FL_AF;
	f |= r == 0 ? FL_ZF : 0;
	f |= (r & sb) ? FL_SF : 0;
	f |= emu_parity_table[r & 0xff];
	return f;
}

/* CF alone, without materialising the other flags. */
bool emu_flags_cf(const struct emu_cpu *c)
{
	uint64_t m = size_mask(c->cc_size);
	uint64_t r = c->cc_res & m, a = c->cc_src1 & m, b = c->cc_src2 & m;

	switch (c->cc_op) {
	case CC_ADD: return r < a;
	case CC_ADC: return c->cc_cin ? r <= a : r < a;
	case CC_SUB: return a < b;
	case CC_SBB: return c->cc_cin ? a <= b : a < b;
	case CC_LOGIC: return false;
	case CC_INC: case CC_DEC: return c->cc_cin;
	case CC_SHL: case CC_SHR: case CC_SAR: return shift_cf(c);
	default: return c->rflags & FL_CF;
	}
}

uint64_t emu_flags_get(struct emu_cpu *c)
{
	if (c->cc_op == CC_EFLAGS)
		return c->rflags | X86_RFLAGS_FIXED;
	return (c->rflags & ~(uint64_t)FL_ARITH) | flags_compute(c) | X86_RFLAGS_FIXED;
}

/* Replace the bits in mask with val (materialising lazy flags first). */
void emu_flags_set(struct emu_cpu *c, uint64_t val, uint64_t mask)
{
	uint64_t cur;

	if ((mask & FL_ARITH) == FL_ARITH) {
		/* Every lazy flag is replaced: no need to compute the old ones. */
		c->rflags = ((c->rflags & ~mask) | (val & mask)) | X86_RFLAGS_FIXED;
		c->cc_op = CC_EFLAGS;
		return;
	}
	cur = emu_flags_get(c);
	c->rflags = ((cur & ~mask) | (val & mask)) | X86_RFLAGS_FIXED;
	c->cc_op = CC_EFLAGS;
}

/* Slow path of cond_inline(): from the materialised flags. */
bool emu_cond_slow(struct emu_cpu *c, int cc)
{
	uint32_t f = (uint32_t)emu_flags_get(c);
	bool r;

	switch (cc >> 1) {
	case 0: r = f & FL_OF; break;
	case 1: r = f & FL_CF; break;
	case 2: r = f & FL_ZF; break;
	case 3: r = f & (FL_CF | FL_ZF); break;
	case 4: r = f & FL_SF; break;
	case 5: r = f & FL_PF; break;
	case 6: r = !(f & FL_SF) != !(f & FL_OF); break;
	default: r = (f & FL_ZF) || (!(f & FL_SF) != !(f & FL_OF)); break;
	}
	return (cc & 1) ? !r : r;
}

bool emu_cond(struct emu_cpu *c, int cc)
{
	return cond_inline(c, cc);
}

uint64_t emu_alu(struct emu_cpu *c, int op, uint64_t a, uint64_t b, int size)
{
	return alu_inline(c, op, a, b, size);
}
