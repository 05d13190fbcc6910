/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_EMU_OPS_H
#define VIREO_EMU_OPS_H

/* Register and operand helpers shared by the instruction handlers. */
#include "accel/emu/cpu.h"

static inline uint64_t size_mask(int size)
{
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static inline int64_t sign_ext(uint64_t v, int size)
{
	int sh = 64 - 8 * size;
	return (int64_t)(v << sh) >> sh;
}

/* Read GPR r at `size` bytes; byte registers 4-7 are AH-BH without REX. */
static inline uint64_t reg_get(const struct emu_cpu *c, int r, int size, bool rex)
{
	if (size == 1 && !rex && r >= 4 && r < 8)
		return (c->gpr[r - 4] >> 8) & 0xff;
	return c->gpr[r] & size_mask(size);
}

/* Write GPR r: 32-bit writes zero-extend, 8/16-bit writes merge. */
static inline void reg_set(struct emu_cpu *c, int r, uint64_t v, int size, bool rex)
{
	switch (size) {
	case 1:
		if (!rex && r >= 4 && r < 8)
			c->gpr[r - 4] = (c->gpr[r - 4] & ~0xff00ULL) | ((v & 0xff) << 8);
		else
			c->gpr[r] = (c->gpr[r] & ~0xffULL) | (v & 0xff);
		break;
	case 2:
		c->gpr[r] = (c->gpr[r] & ~0xffffULL) | (v & 0xffff);
		break;
	case 4:
		c->gpr[r] = v & 0xffffffffULL;
		break;
	default:
		c->gpr[r] = v;
		break;
	}
}

/*
 * The eight classic ALU operations (ADD OR ADC SBB AND SUB XOR CMP, in
 * opcode order).  Returns the result (meaningless for CMP); sets lazy flags.
 * Inline so that handlers with a constant op get a specialised copy.
 */
static inline uint64_t alu_inline(struct emu_cpu *c, int op, uint64_t a, uint64_t b, int size)
{
	uint64_t m = size_mask(size), r;
	uint8_t cin;

	switch (op) {
	case 0: r = a + b; c->cc_op = CC_ADD; break;
	case 1: r = a | b; c->cc_op = CC_LOGIC; break;
	case 2:
		cin = emu_flags_cf(c);
		r = a + b + cin; c->cc_op = CC_ADC; c->cc_cin = cin;
		break;
	case 3:
		cin = emu_flags_cf(c);
		r = a - b - cin; c->cc_op = CC_SBB; c->cc_cin = cin;
		break;
	case 4: r = a & b; c->cc_op = CC_LOGIC; break;
	case 5: case 7: r = a - b; c->cc_op = CC_SUB; break;
	default: r = a ^ b; c->cc_op = CC_LOGIC; break;
	}
	r &= m;
	c->cc_src1 = a & m;
	c->cc_src2 = b & m;
	c->cc_res = r;
	c->cc_size = (uint8_t)size;
	return r;
}

bool emu_cond_slow(struct emu_cpu *c, int cc);

/*
 * Condition codes tttn (Intel SDM Vol. 2 Appendix B.1.4.7), straight from
 * the lazy operands for the common compare/test-and-branch patterns.  The
 * lazy operands and result are stored masked to the operation size.
 */
static inline bool cond_inline(struct emu_cpu *c, int cc)
{
	bool r;

	if (c->cc_op == CC_SUB) {
		uint64_t a = c->cc_src1, b = c->cc_src2;
		int sh = 64 - c->cc_size * 8;
		switch (cc >> 1) {
		case 1: r = a < b; goto out;            /* B / AE */
		case 2: r = a == b; goto out;           /* Z / NZ */
		case 3: r = a <= b; goto out;           /* BE / A */
		case 4: r = (c->cc_res >> (63 - sh)) & 1; goto out;   /* S / NS */
		case 6: r = (int64_t)(a << sh) < (int64_t)(b << sh); goto out;
		case 7: r = (int64_t)(a << sh) <= (int64_t)(b << sh); goto out;
		default: break;
		}
	} else if (c->cc_op != CC_EFLAGS) {
		int sh = 64 - c->cc_size * 8;
		switch (cc >> 1) {
		case 2: r = c->cc_res == 0; goto out;                 /* Z / NZ */
		case 4: r = (c->cc_res >> (63 - sh)) & 1; goto out;   /* S / NS */
		case 6:                                                /* L: SF != OF, OF = 0 */
			if (c->cc_op != CC_LOGIC)
				break;
			r = (c->cc_res >> (63 - sh)) & 1;
			goto out;
		case 7:                                                /* LE: ZF or SF */
			if (c->cc_op != CC_LOGIC)
				break;
			r = c->cc_res == 0 || ((c->cc_res >> (63 - sh)) & 1);
			goto out;
		default:
			break;
		}
	}
	return emu_cond_slow(c, cc);
out:
	return (cc & 1) ? !r : r;
}

/* Make sure [la, la+size) is writable now, so a later write cannot fault. */
static inline void prep_write(struct emu_cpu *c, uint64_t la, int size)
{
	bool u = emu_user(c);
	struct emu_tlb_entry *e = &c->tlb[u][(la >> 12) & (EMU_TLB_SIZE - 1)];

	if (e->tag_w == (la & ~0xfffULL) && (la & 0xfff) <= 0x1000u - size)
		return;
	emu_mmu_translate(c, la, ACC_WRITE, u);
	if (((la & 0xfff) + size) > 0x1000)
		emu_mmu_translate(c, la + size - 1, ACC_WRITE, u);
}

#endif
