// SPDX-License-Identifier: GPL-2.0-only
/*
 * Specialised handlers for the most frequent instruction forms in 64-bit
 * code (register moves, loads and stores, ALU, compare-and-branch, stack,
 * near call/return, LEA, MOVZX).  emu_fast_select() picks one at decode
 * time when the form needs none of the general machinery (no LOCK/REP, no
 * segment override other than FS/GS, 32/64-bit operands); everything else
 * keeps emu_exec().  Semantics are identical to exec.c: the differential
 * unit test runs both paths.
 */
#include "accel/emu/cpu.h"
#include "accel/emu/ops.h"
#include "accel/emu/sys.h"

static inline uint64_t ea64(const struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t ea = emu_ea_sum(c, in);

	if (in->asize == 4)
		ea &= 0xffffffffULL;
	if (in->seg >= S_FS)
		ea += c->seg[in->seg].base;
	return ea;
}

static inline void set_sized(struct emu_cpu *c, int r, uint64_t v, int size)
{
	c->gpr[r] = size == 8 ? v : (uint32_t)v;
}

static void h_mov_store64(struct emu_cpu *c, struct emu_insn *in)    /* 89 /r, m */
{
	emu_write(c, ea64(c, in), c->gpr[in->reg], 8);
	c->rip = in->next_rip;
}

static void h_mov_store32(struct emu_cpu *c, struct emu_insn *in)
{
	emu_write(c, ea64(c, in), c->gpr[in->reg], 4);
	c->rip = in->next_rip;
}

static void h_mov_load64(struct emu_cpu *c, struct emu_insn *in)     /* 8B /r, m */
{
	c->gpr[in->reg] = emu_read(c, ea64(c, in), 8);
	c->rip = in->next_rip;
}

static void h_mov_load32(struct emu_cpu *c, struct emu_insn *in)
{
	c->gpr[in->reg] = emu_read(c, ea64(c, in), 4);
	c->rip = in->next_rip;
}

static void h_mov_rr(struct emu_cpu *c, struct emu_insn *in)         /* 89 /r, r */
{
	set_sized(c, in->rm, c->gpr[in->reg], in->osize);
	c->rip = in->next_rip;
}

static void h_mov_ri(struct emu_cpu *c, struct emu_insn *in)         /* B8+r, C7 /0 r */
{
	set_sized(c, in->rm, in->imm, in->osize);
	c->rip = in->next_rip;
}

static void h_mov_mi(struct emu_cpu *c, struct emu_insn *in)         /* C7 /0 m */
{
	emu_write(c, ea64(c, in), in->imm, in->osize);
	c->rip = in->next_rip;
}

static void h_lea(struct emu_cpu *c, struct emu_insn *in)
{
	uint64_t ea = emu_ea_sum(c, in);

	set_sized(c, in->reg, ea, in->osize == 8 && in->asize == 8 ? 8 : 4);
	c->rip = in->next_rip;
}

/*
 * ALU handlers, one copy per operation so the flag bookkeeping is
 * specialised: register-register (01/09/../39), register-memory source
 * (03/0B/../3B) and register-immediate (81/83 with a register, rAX forms).
 */
#define ALU_HANDLERS(OP)                                                          \
static void h_alu_rr_##OP(struct emu_cpu *c, struct emu_insn *in)               \
{                                                                                 \
	uint64_t v = alu_inline(c, OP, c->gpr[in->rm], c->gpr[in->reg], in->osize); \
	if (OP != 7)                                                              \
		set_sized(c, in->rm, v, in->osize);                               \
	c->rip = in->next_rip;                                                    \
}                                                                                 \
static void h_alu_rm_##OP(struct emu_cpu *c, struct emu_insn *in)               \
{                                                                                 \
	uint64_t m = emu_read(c, ea64(c, in), in->osize);                         \
	uint64_t v = alu_inline(c, OP, c->gpr[in->reg], m, in->osize);            \
	if (OP != 7)                                                              \
		set_sized(c, in->reg, v, in->osize);                              \
	c->rip = in->next_rip;                                                    \
}                                                                                 \
static void h_alu_ri_##OP(struct emu_cpu *c, struct emu_insn *in)               \
{                                                                                 \
	uint64_t v = alu_inline(c, OP, c->gpr[in->rm], in->imm, in->osize);       \
	if (OP != 7)                                                              \
		set_sized(c, in->rm, v, in->osize);                               \
	c->rip = in->next_rip;                                                    \
}
ALU_HANDLERS(0) ALU_HANDLERS(1) ALU_HANDLERS(2) ALU_HANDLERS(3)
ALU_HANDLERS(4) ALU_HANDLERS(5) ALU_HANDLERS(6) ALU_HANDLERS(7)

static void (*const h_alu_rr[8])(struct emu_cpu *, struct emu_insn *) = {
	h_alu_rr_0, h_alu_rr_1, h_alu_rr_2, h_alu_rr_3, h_alu_rr_4, h_alu_rr_5, h_alu_rr_6, h_alu_rr_7,
};
static void (*const h_alu_rm[8])(struct emu_cpu *, struct emu_insn *) = {
	h_alu_rm_0, h_alu_rm_1, h_alu_rm_2, h_alu_rm_3, h_alu_rm_4, h_alu_rm_5, h_alu_rm_6, h_alu_rm_7,
};
static void (*const h_alu_ri[8])(struct emu_cpu *, struct emu_insn *) = {
	h_alu_ri_0, h_alu_ri_1, h_alu_ri_2, h_alu_ri_3, h_alu_ri_4, h_alu_ri_5, h_alu_ri_6, h_alu_ri_7,
};

/* CMP m, imm (81/83 /7 with memory). */
static void h_cmp_mi(struct emu_cpu *c, struct emu_insn *in)
{
	emu_alu(c, 7, emu_read(c, ea64(c, in), in->osize), in->imm, in->osize);
	c->rip = in->next_rip;
}

static void h_test_rr(struct emu_cpu *c, struct emu_insn *in)
{
	alu_inline(c, 4, c->gpr[in->rm], c->gpr[in->reg], in->osize);
	c->rip = in->next_rip;
}

/* Jcc with a canonical target precomputed in imm2. */
static void h_jcc(struct emu_cpu *c, struct emu_insn *in)
{
	c->rip = cond_inline(c, in->op & 15) ? in->imm2 : in->next_rip;
}

static void h_jmp(struct emu_cpu *c, struct emu_insn *in)
{
	c->rip = in->imm2;
}

static void h_call(struct emu_cpu *c, struct emu_insn *in)
{
	uint64_t sp = c->gpr[R_SP] - 8;

	emu_write(c, sp, in->next_rip, 8);
	c->gpr[R_SP] = sp;
	c->rip = in->imm2;
}

static void h_ret(struct emu_cpu *c, struct emu_insn *in)
{
	uint64_t sp = c->gpr[R_SP];
	uint64_t t = emu_read(c, sp, 8);

	if ((uint64_t)((int64_t)(t << 16) >> 16) != t)
		emu_raise_gp(c, 0);
	c->gpr[R_SP] = sp + 8;
	c->rip = t;
}

static void h_push(struct emu_cpu *c, struct emu_insn *in)
{
	uint64_t sp = c->gpr[R_SP] - 8;

	emu_write(c, sp, c->gpr[in->rm], 8);
	c->gpr[R_SP] = sp;
	c->rip = in->next_rip;
}

static void h_pop(struct emu_cpu *c, struct emu_insn *in)
{
	uint64_t sp = c->gpr[R_SP];
	uint64_t v = emu_read(c, sp, 8);

	c->gpr[R_SP] = sp + 8;
	c->gpr[in->rm] = v;
	c->rip = in->next_rip;
}

static void h_movzx_load(struct emu_cpu *c, struct emu_insn *in)    /* 0F B6/B7 m */
{
	set_sized(c, in->reg, emu_read(c, ea64(c, in), (in->op & 1) ? 2 : 1), in->osize);
	c->rip = in->next_rip;
}

static void h_nop(struct emu_cpu *c, struct emu_insn *in)
{
	c->rip = in->next_rip;
}

static void h_movsxd(struct emu_cpu *c, struct emu_insn *in)
{
	uint64_t v = in->mod == 3 ? c->gpr[in->rm] : emu_read(c, ea64(c, in), 4);

	set_sized(c, in->reg, (uint64_t)(int64_t)(int32_t)v, in->osize);
	c->rip = in->next_rip;
}

static uint64_t rm8(struct emu_cpu *c, const struct emu_insn *in)
{
	return in->mod == 3 ? reg_get(c, in->rm, 1, in->rex) : emu_read(c, ea64(c, in), 1);
}

static void h_test8(struct emu_cpu *c, struct emu_insn *in)        /* 84 */
{
	emu_alu(c, 4, rm8(c, in), reg_get(c, in->reg, 1, in->rex), 1);
	c->rip = in->next_rip;
}

static void h_alu8_i(struct emu_cpu *c, struct emu_insn *in)       /* F6 /0, 80 /7, A8, 3C */
{
	emu_alu(c, (int)in->imm2, rm8(c, in), in->imm & 0xff, 1);
	c->rip = in->next_rip;
}

static void h_al_i(struct emu_cpu *c, struct emu_insn *in)         /* A8 / 3C: AL, imm8 */
{
	emu_alu(c, (int)in->imm2, c->gpr[R_AX] & 0xff, in->imm & 0xff, 1);
	c->rip = in->next_rip;
}

static void h_cmp8_rm(struct emu_cpu *c, struct emu_insn *in)      /* 38 / 3A */
{
	uint64_t r = reg_get(c, in->reg, 1, in->rex), m = rm8(c, in);

	if (in->op == 0x38)
		emu_alu(c, 7, m, r, 1);
	else
		emu_alu(c, 7, r, m, 1);
	c->rip = in->next_rip;
}

static void h_cmp_mr(struct emu_cpu *c, struct emu_insn *in)       /* 39 with memory */
{
	emu_alu(c, 7, emu_read(c, ea64(c, in), in->osize), c->gpr[in->reg], in->osize);
	c->rip = in->next_rip;
}

static void h_mov8_store(struct emu_cpu *c, struct emu_insn *in)   /* 88 m */
{
	emu_write(c, ea64(c, in), reg_get(c, in->reg, 1, in->rex), 1);
	c->rip = in->next_rip;
}

static void h_mov8_load(struct emu_cpu *c, struct emu_insn *in)    /* 8A m */
{
	reg_set(c, in->reg, emu_read(c, ea64(c, in), 1), 1, in->rex);
	c->rip = in->next_rip;
}

static void h_mov8_mi(struct emu_cpu *c, struct emu_insn *in)      /* C6 /0 m */
{
	emu_write(c, ea64(c, in), in->imm, 1);
	c->rip = in->next_rip;
}

static void h_movx_rr(struct emu_cpu *c, struct emu_insn *in)      /* 0F B6/B7/BE/BF r */
{
	int from = (in->op & 1) ? 2 : 1;
	uint64_t v = reg_get(c, in->rm, from, in->rex);

	if (in->op >= 0x1be)
		v = (uint64_t)sign_ext(v, from);
	set_sized(c, in->reg, v, in->osize);
	c->rip = in->next_rip;
}

static void h_movsx_load(struct emu_cpu *c, struct emu_insn *in)   /* 0F BE/BF m */
{
	int from = (in->op & 1) ? 2 : 1;

	set_sized(c, in->reg, (uint64_t)sign_ext(emu_read(c, ea64(c, in), from), from), in->osize);
	c->rip = in->next_rip;
}

static void h_shift_r(struct emu_cpu *c, struct emu_insn *in)      /* C1/D1/D3 r */
{
	unsigned cnt = in->op == 0xd1 ? 1 : in->op == 0xd3 ? (unsigned)c->gpr[R_CX] & 0xff
							     : (unsigned)in->imm;

	set_sized(c, in->rm, emu_shift_op(c, in->reg & 7, c->gpr[in->rm], cnt, in->osize), in->osize);
	c->rip = in->next_rip;
}

static void h_incdec_r(struct emu_cpu *c, struct emu_insn *in)     /* FF /0 /1 r */
{
	set_sized(c, in->rm, emu_incdec(c, c->gpr[in->rm], in->osize, in->reg & 1), in->osize);
	c->rip = in->next_rip;
}

static void h_cmov(struct emu_cpu *c, struct emu_insn *in)         /* 0F 4x r */
{
	if (cond_inline(c, in->op & 15))
		set_sized(c, in->reg, c->gpr[in->rm], in->osize);
	else
		set_sized(c, in->reg, c->gpr[in->reg], in->osize);
	c->rip = in->next_rip;
}

static void h_setcc(struct emu_cpu *c, struct emu_insn *in)        /* 0F 9x r */
{
	reg_set(c, in->rm, cond_inline(c, in->op & 15), 1, in->rex);
	c->rip = in->next_rip;
}

/* IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69 / 6B), 32/64-bit. */
static void h_imul(struct emu_cpu *c, struct emu_insn *in)
{
	uint64_t a = in->mod == 3 ? c->gpr[in->rm] : emu_read(c, ea64(c, in), in->osize);
	uint64_t b = in->op == 0x1af ? c->gpr[in->reg] : in->imm;
	uint64_t lo;
	bool of;

	if (in->osize == 8) {
		int64_t r;
		of = __builtin_mul_overflow((int64_t)a, (int64_t)b, &r);
		lo = (uint64_t)r;
	} else {
		int64_t r = (int64_t)(int32_t)a * (int32_t)b;
		of = r != (int32_t)r;
		lo = (uint32_t)r;
	}
	/* CF = OF = truncation; SF/ZF/PF from the result like emu_exec. */
	c->rflags = (c->rflags & ~(uint64_t)FL_ARITH) | (of ? FL_CF | FL_OF : 0) |
		    (lo == 0 ? FL_ZF : 0) | ((lo >> (in->osize * 8 - 1)) & 1 ? FL_SF : 0) |
		    emu_parity_table[lo & 0xff];
	c->cc_op = CC_EFLAGS;
	c->gpr[in->reg] = lo;
	c->rip = in->next_rip;
}

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

bool emu_fast_is_jmp(const struct emu_insn *in)
{
	return in->fn == h_jmp;
}

void emu_fast_select(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t b = (uint8_t)in->op;
	bool wide = in->osize == 4 || in->osize == 8;
	bool plain_seg = !in->seg_override || in->seg >= S_FS;
	bool mem = in->has_modrm && in->mod != 3;

	in->fn = emu_exec;
	if (!c->code64 || in->lock || in->rep || !plain_seg)
		return;
	if (in->op < 0x100) {
		switch (b) {
		case 0x89:
			if (wide && mem)
				in->fn = in->osize == 8 ? h_mov_store64 : h_mov_store32;
			else if (wide)
				in->fn = h_mov_rr;
			return;
		case 0x8b:
			if (wide && mem)
				in->fn = in->osize == 8 ? h_mov_load64 : h_mov_load32;
			return;
		case 0xb8 ... 0xbf:
			if (wide) {
				in->rm = (b & 7) | ((in->rex & 1) ? 8 : 0);
				in->fn = h_mov_ri;
			}
			return;
		case 0xc7:
			if (wide && (in->reg & 7) == 0)
				in->fn = mem ? h_mov_mi : h_mov_ri;
			return;
		case 0x8d:
			if (wide && mem && in->asize == 8)
				in->fn = h_lea;
			return;
		case 0x01: case 0x09: case 0x11: case 0x19: case 0x21: case 0x29: case 0x31: case 0x39:
			if (wide && !mem) {
				in->fn = h_alu_rr[b >> 3];
			} else if (wide && b == 0x39) {
				in->fn = h_cmp_mr;
			}
			return;
		case 0x03: case 0x0b: case 0x13: case 0x1b: case 0x23: case 0x2b: case 0x33: case 0x3b:
			if (wide && mem) {
				in->fn = h_alu_rm[b >> 3];
			}
			return;
		case 0x81: case 0x83:
			if (!wide)
				return;
			in->imm &= size_mask(in->osize);
			in->imm2 = in->reg & 7;
			if (!mem)
				in->fn = h_alu_ri[in->reg & 7];
			else if ((in->reg & 7) == 7)
				in->fn = h_cmp_mi;
			return;
		case 0x05: case 0x0d: case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d:
			if (wide) {
				in->imm &= size_mask(in->osize);
				in->rm = R_AX;
				in->fn = h_alu_ri[b >> 3];
			}
			return;
		case 0x85:
			if (wide && !mem)
				in->fn = h_test_rr;
			return;
		case 0x70 ... 0x7f: case 0xeb: case 0xe9: case 0xe8:
			in->imm2 = in->next_rip + in->imm;
			if (!canonical(in->imm2))
				return;
			in->fn = b == 0xe8 ? h_call : b >= 0xe9 ? h_jmp : h_jcc;
			return;
		case 0xc3:
			if (!in->opsize_prefix)
				in->fn = h_ret;
			return;
		case 0x90:
			if (!(in->rex & 1))
				in->fn = h_nop;
			return;
		case 0x69: case 0x6b:
			if (wide)
				in->fn = h_imul;
			return;
		case 0x63:
			if (wide)
				in->fn = h_movsxd;
			return;
		case 0x84:
			in->fn = h_test8;
			return;
		case 0xf6:
			if ((in->reg & 7) == 0) {
				in->imm2 = 4;
				in->fn = h_alu8_i;
			}
			return;
		case 0x80:
			if ((in->reg & 7) == 7) {
				in->imm2 = 7;
				in->fn = h_alu8_i;
			}
			return;
		case 0xa8: case 0x3c:
			in->imm2 = b == 0xa8 ? 4 : 7;
			in->fn = h_al_i;
			return;
		case 0x38: case 0x3a:
			in->fn = h_cmp8_rm;
			return;
		case 0x88:
			if (mem)
				in->fn = h_mov8_store;
			return;
		case 0x8a:
			if (mem)
				in->fn = h_mov8_load;
			return;
		case 0xc6:
			if (mem && (in->reg & 7) == 0)
				in->fn = h_mov8_mi;
			return;
		case 0xc1: case 0xd1: case 0xd3:
			if (wide && !mem)
				in->fn = h_shift_r;
			return;
		case 0xff:
			if (wide && !mem && (in->reg & 7) < 2)
				in->fn = h_incdec_r;
			return;
		case 0x50 ... 0x57:
			if (!in->opsize_prefix) {
				in->rm = (b & 7) | ((in->rex & 1) ? 8 : 0);
				in->fn = h_push;
			}
			return;
		case 0x58 ... 0x5f:
			if (!in->opsize_prefix) {
				in->rm = (b & 7) | ((in->rex & 1) ? 8 : 0);
				in->fn = h_pop;
			}
			return;
		default:
			return;
		}
	}
	switch (in->op) {
	case 0x180 ... 0x18f:
		in->imm2 = in->next_rip + in->imm;
		if (canonical(in->imm2))
			in->fn = h_jcc;
		return;
	case 0x1b6: case 0x1b7:
		if (wide)
			in->fn = mem ? h_movzx_load : h_movx_rr;
		return;
	case 0x1be: case 0x1bf:
		if (wide)
			in->fn = mem ? h_movsx_load : h_movx_rr;
		return;
	case 0x11f:
		in->fn = h_nop;
		return;
	case 0x1af:
		if (wide)
			in->fn = h_imul;
		return;
	case 0x140 ... 0x14f:
		if (wide && !mem)
			in->fn = h_cmov;
		return;
	case 0x190 ... 0x19f:
		if (!mem)
			in->fn = h_setcc;
		return;
	default:
		return;
	}
}
