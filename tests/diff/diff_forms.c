// SPDX-License-Identifier: GPL-2.0-only
/*
 * The instruction forms of the differential test, generated from tables
 * (Intel SDM Vol.2 opcode maps): ALU ops x operand sizes x reg/mem/imm,
 * unary group 3 (incl. MUL/DIV), INC/DEC, shifts/rotates, SHLD/SHRD, bit
 * tests and scans, moves and extensions, CMOVcc/SETcc/Jcc for all 16
 * conditions, string ops, SSE2 integer and SSE/SSE2 floating point, and
 * basic x87 sequences.  Register choices vary with the form's index so
 * that REX extensions and the legacy high-byte registers are exercised.
 */
#include <stdio.h>
#include <string.h>

#include "diff.h"

/* 8-bit high-byte registers (AH, CH, DH, BH): encoded as 4-7 without REX. */
#define R_HIGH 0x10

struct insn {
	uint8_t pfx[3];
	int npfx;
	bool w;                 /* REX.W */
	uint8_t op[3];
	int nop;
	bool modrm;
	int reg;                /* ModRM.reg: register or /digit */
	bool mem;               /* r/m is [base + disp8] */
	int rm;                 /* register, or the base register */
	int8_t disp;
	int immsz;
	uint64_t imm;
	bool byte_regs;         /* reg/rm name 8-bit registers */
	int opreg;              /* register in the opcode's low bits (-1 none) */
};

static int encode(const struct insn *in, uint8_t *out)
{
	int n = 0, i, rex = 0;
	bool need_rex = in->w, high = false;

	for (i = 0; i < in->npfx; i++)
		out[n++] = in->pfx[i];
	if (in->w)
		rex |= 8;
	if (in->modrm) {
		int reg = in->reg & 0xf, rm = in->rm & 0xf;

		if (reg & 8)
			rex |= 4;
		if (rm & 8)
			rex |= 1;
		if (in->byte_regs) {
			if (in->reg & R_HIGH)
				high = true;
			else if (reg >= 4 && reg < 8)
				need_rex = true;
			if (!in->mem) {
				if (in->rm & R_HIGH)
					high = true;
				else if (rm >= 4 && rm < 8)
					need_rex = true;
			}
		}
	}
	if (in->opreg >= 0) {
		if (in->opreg & 8)
			rex |= 1;
		if (in->byte_regs && !(in->opreg & R_HIGH) && in->opreg >= 4 && in->opreg < 8)
			need_rex = true;
	}
	if (rex || need_rex) {
		if (high)
			return -1;   /* AH-DH cannot be encoded with a REX prefix */
		out[n++] = 0x40 | rex;
	}
	for (i = 0; i < in->nop; i++)
		out[n++] = in->op[i];
	if (in->opreg >= 0)
		out[n - 1] |= in->opreg & 7;
	if (in->modrm) {
		int reg = in->reg & 7, rm = in->rm & 7;

		if (in->mem) {
			out[n++] = 0x40 | reg << 3 | rm;
			if (rm == 4)
				out[n++] = 0x24;   /* SIB: base only */
			out[n++] = (uint8_t)in->disp;
		} else {
			out[n++] = 0xc0 | reg << 3 | rm;
		}
	}
	for (i = 0; i < in->immsz; i++)
		out[n++] = (uint8_t)(in->imm >> (8 * i));
	return n;
}

struct builder {
	struct form *forms;
	int n, cap;
	unsigned pick;          /* register-choice cursor */
};

/* Registers for data operands: never RSP; the memory base is chosen apart. */
static const int gprs[] = { RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R11,
			    R12, R13, R14, R15 };
static const int bases[] = { RBX, RSI, RDI, RBP, R8, R9, R10, R11, R12, R13, R14, R15 };

static int pick_gpr(struct builder *b, int avoid)
{
	int r;

	do
		r = gprs[b->pick++ % (sizeof(gprs) / sizeof(gprs[0]))];
	while (r == avoid);
	return r;
}

static int pick_base(struct builder *b)
{
	return bases[(b->pick * 7 + 3) % (sizeof(bases) / sizeof(bases[0]))];
}

/* An 8-bit register for a form with no other register operand. */
static int pick_byte(struct builder *b, int avoid, bool allow_high)
{
	int r = pick_gpr(b, avoid);

	if (allow_high && (b->pick % 5) == 0 && r < 4)
		return r | R_HIGH;
	return r;
}

/* Two distinct registers; 8-bit pairs are combinations that can be encoded. */
static void pick_pair(struct builder *b, int size, int *reg, int *rm)
{
	static const int pairs8[][2] = {
		{ RAX, RCX }, { RAX | R_HIGH, RBX }, { RDI, R9 }, { RSI, RAX },
		{ RCX | R_HIGH, RDX | R_HIGH }, { R8, R15 }, { RBP, RDX },
		{ RBX | R_HIGH, RAX | R_HIGH }, { R12, RSI }, { RDX, RBX | R_HIGH },
	};

	if (size == 1) {
		unsigned i = b->pick++ % (sizeof(pairs8) / sizeof(pairs8[0]));

		*reg = pairs8[i][0];
		*rm = pairs8[i][1];
		return;
	}
	*reg = pick_gpr(b, -1);
	*rm = pick_gpr(b, *reg);
}

static struct form *add(struct builder *b, const char *name, const struct insn *in,
			enum form_class cls, uint32_t undef)
{
	struct form *f;
	int len;

	if (b->n >= b->cap)
		return NULL;
	f = &b->forms[b->n];
	memset(f, 0, sizeof(*f));
	len = encode(in, f->code);
	if (len < 0)
		return NULL;
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->len = len;
	f->cls = cls;
	f->flags_undef = undef;
	f->membase = in->modrm && in->mem ? in->rm : -1;
	f->disp = in->disp;
	f->memalign = 1;
	f->count_imm = 0;
	f->small_reg = -1;
	f->target_reg = -1;
	f->bsf_dest = f->bsf_src = -1;
	b->n++;
	return f;
}

static const char *szname(int size)
{
	switch (size) {
	case 1: return "8";
	case 2: return "16";
	case 4: return "32";
	default: return "64";
	}
}

static void set_size(struct insn *in, int size)
{
	in->npfx = 0;
	if (size == 2)
		in->pfx[in->npfx++] = 0x66;
	in->w = size == 8;
	in->byte_regs = size == 1;
}

static int imm_for(int size)
{
	return size == 1 ? 1 : size == 2 ? 2 : 4;
}

/* ---- integer ALU: ADD OR ADC SBB AND SUB XOR CMP (SDM Vol.2 Table A-2) ---- */
static void gen_alu(struct builder *b)
{
	static const char *names[8] = { "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp" };
	static const int sizes[4] = { 1, 2, 4, 8 };
	char name[FORM_NAME_MAX];
	int op, si;

	for (op = 0; op < 8; op++) {
		uint32_t undef = (op == 1 || op == 4 || op == 6) ? FL_AF : 0;

		for (si = 0; si < 4; si++) {
			int size = sizes[si], s = size == 1 ? 0 : 1;
			const char *sz = szname(size);
			struct insn in = { .opreg = -1, .modrm = true };

			set_size(&in, size);
			/* r/m, r (register) */
			in.op[0] = op * 8 + s; in.nop = 1;
			pick_pair(b, size, &in.reg, &in.rm);
			snprintf(name, sizeof(name), "%s r%s, r%s", names[op], sz, sz);
			add(b, name, &in, CLS_PLAIN, undef);
			/* r, r/m (register, the other direction) */
			in.op[0] = op * 8 + 2 + s;
			snprintf(name, sizeof(name), "%s r%s, r%s (rev)", names[op], sz, sz);
			add(b, name, &in, CLS_PLAIN, undef);
			/* m, r */
			in.op[0] = op * 8 + s;
			in.reg = size == 1 ? pick_byte(b, -1, false) : pick_gpr(b, -1);
			in.mem = true; in.rm = pick_base(b); in.disp = 8;
			snprintf(name, sizeof(name), "%s m%s, r%s", names[op], sz, sz);
			add(b, name, &in, CLS_PLAIN, undef);
			/* r, m */
			in.op[0] = op * 8 + 2 + s;
			snprintf(name, sizeof(name), "%s r%s, m%s", names[op], sz, sz);
			add(b, name, &in, CLS_PLAIN, undef);
			/* r/m, imm (80/81) register and memory */
			in.op[0] = size == 1 ? 0x80 : 0x81;
			in.reg = op; in.mem = false; in.rm = pick_gpr(b, -1);
			in.immsz = imm_for(size); in.imm = 0x5a3c96f1a5c3e187ULL >> (op * 3);
			snprintf(name, sizeof(name), "%s r%s, imm%s", names[op], sz, size == 8 ? "32" : sz);
			add(b, name, &in, CLS_PLAIN, undef);
			in.mem = true; in.rm = pick_base(b); in.disp = 16;
			snprintf(name, sizeof(name), "%s m%s, imm%s", names[op], sz, size == 8 ? "32" : sz);
			add(b, name, &in, CLS_PLAIN, undef);
			/* r/m, imm8 sign-extended (83) */
			if (size > 1) {
				in.op[0] = 0x83; in.immsz = 1; in.imm = 0x80 | (op * 17);
				in.mem = false; in.rm = pick_gpr(b, -1);
				snprintf(name, sizeof(name), "%s r%s, imm8s", names[op], sz);
				add(b, name, &in, CLS_PLAIN, undef);
			}
			/* accumulator, imm */
			in.modrm = false; in.op[0] = op * 8 + 4 + s;
			in.immsz = imm_for(size); in.imm = 0x7f3e5d1c9b8a6f4dULL >> op;
			snprintf(name, sizeof(name), "%s acc%s, imm", names[op], sz);
			add(b, name, &in, CLS_PLAIN, undef);
		}
	}
}

static const int all_sizes[4] = { 1, 2, 4, 8 };

/* ---- group 3 (F6/F7), INC/DEC (FE/FF), TEST (84/85) ---- */
static void gen_unary(struct builder *b)
{
	static const struct { const char *name; int digit; enum form_class cls; uint32_t undef; } ops[] = {
		{ "test", 0, CLS_PLAIN, FL_AF },
		{ "not", 2, CLS_PLAIN, 0 },
		{ "neg", 3, CLS_PLAIN, 0 },
		{ "mul", 4, CLS_PLAIN, FL_SF | FL_ZF | FL_AF | FL_PF },
		{ "imul", 5, CLS_PLAIN, FL_SF | FL_ZF | FL_AF | FL_PF },
		{ "div", 6, CLS_DIV, FL_ARITH },
		{ "idiv", 7, CLS_DIV, FL_ARITH },
	};
	char name[FORM_NAME_MAX];
	unsigned i;
	int si, mem;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (si = 0; si < 4; si++) {
			int size = all_sizes[si];

			for (mem = 0; mem < 2; mem++) {
				struct insn in = { .opreg = -1, .modrm = true };
				struct form *f;

				set_size(&in, size);
				in.op[0] = size == 1 ? 0xf6 : 0xf7; in.nop = 1;
				in.reg = ops[i].digit;
				in.mem = mem;
				/* MUL/DIV use rAX:rDX implicitly: keep the operand elsewhere. */
				if (mem) {
					in.rm = pick_base(b); in.disp = 24;
				} else {
					do
						in.rm = size == 1 ? pick_byte(b, RAX, true) : pick_gpr(b, RAX);
					while ((in.rm & 0xf) == RDX && ops[i].digit >= 4);
				}
				if (ops[i].digit == 0) {
					in.immsz = imm_for(size); in.imm = 0x0f0f00ff;
				}
				snprintf(name, sizeof(name), "%s %s%s", ops[i].name, mem ? "m" : "r", szname(size));
				f = add(b, name, &in, ops[i].cls, ops[i].undef);
				if (f)
					f->opbits = size * 8;
			}
		}
	}
	for (si = 0; si < 4; si++) {
		int size = all_sizes[si];

		for (mem = 0; mem < 2; mem++) {
			struct insn in = { .opreg = -1, .modrm = true, .nop = 1 };
			int digit;

			for (digit = 0; digit < 2; digit++) {
				set_size(&in, size);
				in.op[0] = size == 1 ? 0xfe : 0xff;
				in.reg = digit;
				in.mem = mem;
				in.rm = mem ? pick_base(b) : size == 1 ? pick_byte(b, -1, true) : pick_gpr(b, -1);
				in.disp = 32;
				snprintf(name, sizeof(name), "%s %s%s", digit ? "dec" : "inc", mem ? "m" : "r", szname(size));
				add(b, name, &in, CLS_PLAIN, 0);
			}
			/* TEST r/m, r */
			set_size(&in, size);
			in.op[0] = size == 1 ? 0x84 : 0x85;
			in.mem = mem;
			if (mem) {
				in.rm = pick_base(b);
				in.reg = size == 1 ? pick_byte(b, -1, false) : pick_gpr(b, -1);
			} else {
				pick_pair(b, size, &in.reg, &in.rm);
			}
			snprintf(name, sizeof(name), "test %s%s, r%s", mem ? "m" : "r", szname(size), szname(size));
			add(b, name, &in, CLS_PLAIN, FL_AF);
		}
	}
}

/* ---- IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69/6B) ---- */
static void gen_imul(struct builder *b)
{
	char name[FORM_NAME_MAX];
	const uint32_t undef = FL_SF | FL_ZF | FL_AF | FL_PF;
	int si, mem;

	for (si = 1; si < 4; si++) {
		int size = all_sizes[si];

		for (mem = 0; mem < 2; mem++) {
			struct insn in = { .opreg = -1, .modrm = true };

			set_size(&in, size);
			in.mem = mem;
			in.disp = 40;
			if (mem) {
				in.rm = pick_base(b);
				in.reg = pick_gpr(b, -1);
			} else {
				pick_pair(b, size, &in.reg, &in.rm);
			}
			in.op[0] = 0x0f; in.op[1] = 0xaf; in.nop = 2;
			snprintf(name, sizeof(name), "imul r%s, %s%s", szname(size), mem ? "m" : "r", szname(size));
			add(b, name, &in, CLS_PLAIN, undef);
			in.op[0] = 0x69; in.nop = 1; in.immsz = imm_for(size); in.imm = 0x8badf00d;
			snprintf(name, sizeof(name), "imul r%s, %s%s, imm", szname(size), mem ? "m" : "r", szname(size));
			add(b, name, &in, CLS_PLAIN, undef);
			in.op[0] = 0x6b; in.immsz = 1; in.imm = 0x9c;
			snprintf(name, sizeof(name), "imul r%s, %s%s, imm8s", szname(size), mem ? "m" : "r", szname(size));
			add(b, name, &in, CLS_PLAIN, undef);
		}
	}
}

/* ---- shifts and rotates: group 2 (C0/C1/D0-D3) ---- */
static void gen_shifts(struct builder *b)
{
	static const struct { const char *name; int digit; enum form_class cls; } ops[] = {
		{ "rol", 0, CLS_ROT }, { "ror", 1, CLS_ROT }, { "rcl", 2, CLS_RCX },
		{ "rcr", 3, CLS_RCX }, { "shl", 4, CLS_SHIFT }, { "shr", 5, CLS_SHIFT },
		{ "sar", 7, CLS_SHIFT },
	};
	static const char *cnames[3] = { "1", "cl", "imm8" };
	char name[FORM_NAME_MAX];
	unsigned i;
	int si, how, mem;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (si = 0; si < 4; si++) {
			int size = all_sizes[si], s = size == 1 ? 0 : 1;

			for (how = 0; how < 3; how++) {
				for (mem = 0; mem < 2; mem++) {
					struct insn in = { .opreg = -1, .modrm = true, .nop = 1 };
					struct form *f;

					/* Memory forms for one count kind each, to keep the count sane. */
					if (mem && how != (int)(i % 3))
						continue;
					set_size(&in, size);
					in.reg = ops[i].digit;
					in.mem = mem;
					in.disp = 48;
					in.rm = mem ? pick_base(b) : size == 1 ? pick_byte(b, -1, true) : pick_gpr(b, -1);
					if (mem && in.rm == RCX)
						in.rm = RBX;
					if (how == 0) {
						in.op[0] = 0xd0 + s;
					} else if (how == 1) {
						in.op[0] = 0xd2 + s;
					} else {
						in.op[0] = 0xc0 + s; in.immsz = 1;
						in.imm = (b->pick * 5 + i) % (size == 8 ? 70 : 40);
					}
					snprintf(name, sizeof(name), "%s %s%s, %s", ops[i].name, mem ? "m" : "r",
						 szname(size), cnames[how]);
					f = add(b, name, &in, ops[i].cls, 0);
					if (!f)
						continue;
					f->opbits = size * 8;
					f->count_imm = how == 0 ? -2 : how == 1 ? -1 : (int8_t)in.imm;
				}
			}
		}
	}
}

/* ---- SHLD/SHRD (0F A4/A5/AC/AD) ---- */
static void gen_shd(struct builder *b)
{
	char name[FORM_NAME_MAX];
	int si, dir, how;

	for (dir = 0; dir < 2; dir++) {
		for (si = 1; si < 4; si++) {
			int size = all_sizes[si];

			for (how = 0; how < 2; how++) {
				struct insn in = { .opreg = -1, .modrm = true, .nop = 2 };
				struct form *f;

				set_size(&in, size);
				in.op[0] = 0x0f;
				in.op[1] = (dir ? 0xac : 0xa4) + (how == 1);
				do
					pick_pair(b, size, &in.reg, &in.rm);
				while (in.reg == RCX || in.rm == RCX);
				if (how == 0) {
					in.immsz = 1;
					in.imm = (b->pick * 3) % (size * 8 + 4);
				}
				snprintf(name, sizeof(name), "%s r%s, r%s, %s", dir ? "shrd" : "shld",
					 szname(size), szname(size), how ? "cl" : "imm8");
				f = add(b, name, &in, CLS_SHD, 0);
				if (!f)
					continue;
				f->opbits = size * 8;
				f->count_imm = how ? -1 : (int8_t)in.imm;
				f->bsf_dest = in.rm;
			}
		}
	}
}

/* ---- BT/BTS/BTR/BTC (0F A3/AB/B3/BB, 0F BA /4-7), BSF/BSR, BSWAP ---- */
static void gen_bits(struct builder *b)
{
	static const char *names[4] = { "bt", "bts", "btr", "btc" };
	/* SDM: CF is the bit; OF, SF, AF, PF undefined; ZF unaffected. */
	const uint32_t undef = FL_OF | FL_SF | FL_AF | FL_PF;
	char name[FORM_NAME_MAX];
	int op, si, mem;

	for (op = 0; op < 4; op++) {
		for (si = 1; si < 4; si++) {
			int size = all_sizes[si];

			for (mem = 0; mem < 2; mem++) {
				struct insn in = { .opreg = -1, .modrm = true, .nop = 2 };
				struct form *f;

				set_size(&in, size);
				in.op[0] = 0x0f; in.op[1] = 0xa3 + op * 8;
				in.mem = mem; in.disp = 0x40;
				if (mem) {
					in.rm = pick_base(b);
					in.reg = pick_gpr(b, in.rm);
				} else {
					pick_pair(b, size, &in.reg, &in.rm);
				}
				snprintf(name, sizeof(name), "%s %s%s, r%s", names[op], mem ? "m" : "r", szname(size), szname(size));
				f = add(b, name, &in, CLS_PLAIN, undef);
				if (f && mem)
					f->small_reg = in.reg;  /* bit offset stays in the buffer */
				in.op[1] = 0xba; in.reg = 4 + op; in.immsz = 1;
				in.imm = (b->pick * 11) & 0xff;
				snprintf(name, sizeof(name), "%s %s%s, imm8", names[op], mem ? "m" : "r", szname(size));
				add(b, name, &in, CLS_PLAIN, undef);
			}
		}
	}
	for (op = 0; op < 2; op++) {
		for (si = 1; si < 4; si++) {
			int size = all_sizes[si];

			for (mem = 0; mem < 2; mem++) {
				struct insn in = { .opreg = -1, .modrm = true, .nop = 2 };
				struct form *f;

				set_size(&in, size);
				in.op[0] = 0x0f; in.op[1] = 0xbc + op;
				in.mem = mem; in.disp = 0x48;
				if (mem) {
					in.rm = pick_base(b);
					in.reg = pick_gpr(b, in.rm);
				} else {
					pick_pair(b, size, &in.reg, &in.rm);
				}
				snprintf(name, sizeof(name), "%s r%s, %s%s", op ? "bsr" : "bsf", szname(size), mem ? "m" : "r", szname(size));
				f = add(b, name, &in, CLS_BSF, FL_CF | FL_OF | FL_SF | FL_AF | FL_PF);
				if (!f)
					continue;
				f->opbits = size * 8;
				f->bsf_dest = in.reg;
				f->bsf_src = mem ? -1 : in.rm;
			}
		}
	}
	for (si = 2; si < 4; si++) {
		struct insn in = { .opreg = pick_gpr(b, -1), .nop = 2 };

		set_size(&in, all_sizes[si]);
		in.op[0] = 0x0f; in.op[1] = 0xc8;
		snprintf(name, sizeof(name), "bswap r%s", szname(all_sizes[si]));
		add(b, name, &in, CLS_PLAIN, 0);
	}
}

static struct form *add_raw(struct builder *b, const char *name, const uint8_t *code,
			    int len, enum form_class cls, uint32_t undef, int membase)
{
	struct form *f;

	if (b->n >= b->cap || len > FORM_CODE_MAX)
		return NULL;
	f = &b->forms[b->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	memcpy(f->code, code, len);
	f->len = len;
	f->cls = cls;
	f->flags_undef = undef;
	f->membase = membase;
	f->memalign = 1;
	f->small_reg = -1;
	f->target_reg = -1;
	f->bsf_dest = f->bsf_src = -1;
	return f;
}

static const char *cc_names[16] = { "o", "no", "b", "ae", "e", "ne", "be", "a",
				    "s", "ns", "p", "np", "l", "ge", "le", "g" };

/* ---- MOV family, extensions, LEA, XCHG, CMPXCHG, XADD, conversions ---- */
static void gen_moves(struct builder *b)
{
	char name[FORM_NAME_MAX];
	int si, mem;

	for (si = 0; si < 4; si++) {
		int size = all_sizes[si], s = size == 1 ? 0 : 1;
		const char *sz = szname(size);

		for (mem = 0; mem < 2; mem++) {
			struct insn in = { .opreg = -1, .modrm = true, .nop = 1, .disp = 0x50 };

			set_size(&in, size);
			in.mem = mem;
			if (mem) {
				in.rm = pick_base(b);
				in.reg = size == 1 ? pick_byte(b, -1, false) : pick_gpr(b, in.rm);
			} else {
				pick_pair(b, size, &in.reg, &in.rm);
			}
			in.op[0] = 0x88 + s;
			snprintf(name, sizeof(name), "mov %s%s, r%s", mem ? "m" : "r", sz, sz);
			add(b, name, &in, CLS_PLAIN, 0);
			in.op[0] = 0x8a + s;
			snprintf(name, sizeof(name), "mov r%s, %s%s", sz, mem ? "m" : "r (rev)", sz);
			add(b, name, &in, CLS_PLAIN, 0);
			in.op[0] = 0x86 + s;
			snprintf(name, sizeof(name), "xchg %s%s, r%s", mem ? "m" : "r", sz, sz);
			add(b, name, &in, CLS_PLAIN, 0);
			in.op[0] = 0x0f; in.op[1] = 0xb0 + s; in.nop = 2;
			snprintf(name, sizeof(name), "cmpxchg %s%s, r%s", mem ? "m" : "r", sz, sz);
			add(b, name, &in, CLS_PLAIN, 0);
			in.op[1] = 0xc0 + s;
			snprintf(name, sizeof(name), "xadd %s%s, r%s", mem ? "m" : "r", sz, sz);
			add(b, name, &in, CLS_PLAIN, 0);
			/* C6/C7 /0 imm */
			in.op[0] = 0xc6 + s; in.nop = 1; in.reg = 0;
			if (!mem)
				in.rm = size == 1 ? pick_byte(b, -1, true) : pick_gpr(b, -1);
			in.immsz = imm_for(size); in.imm = 0x89abcdef;
			snprintf(name, sizeof(name), "mov %s%s, imm", mem ? "m" : "r", sz);
			add(b, name, &in, CLS_PLAIN, 0);
		}
		/* B0+r / B8+r */
		{
			struct insn in = { .nop = 1 };

			set_size(&in, size);
			in.opreg = size == 1 ? pick_byte(b, -1, false) : pick_gpr(b, -1);
			in.op[0] = size == 1 ? 0xb0 : 0xb8;
			in.immsz = size; in.imm = 0xfedcba9876543210ULL;
			snprintf(name, sizeof(name), "mov r%s, imm%s (b8+r)", sz, sz);
			add(b, name, &in, CLS_PLAIN, 0);
			if (size > 1) {
				in.op[0] = 0x90;
				in.immsz = 0;
				in.opreg = pick_gpr(b, RAX);
				snprintf(name, sizeof(name), "xchg r%s, acc (90+r)", sz);
				add(b, name, &in, CLS_PLAIN, 0);
			}
		}
	}
	/* MOVZX/MOVSX (0F B6/B7/BE/BF), MOVSXD (63) */
	for (si = 1; si < 4; si++) {
		int size = all_sizes[si], src, ext;

		for (ext = 0; ext < 2; ext++) {
			for (src = 1; src <= 2 && src < size; src++) {
				for (mem = 0; mem < 2; mem++) {
					struct insn in = { .opreg = -1, .modrm = true, .nop = 2, .disp = 0x58 };

					set_size(&in, size);
					in.op[0] = 0x0f; in.op[1] = (ext ? 0xbe : 0xb6) + (src == 2);
					in.mem = mem;
					in.reg = pick_gpr(b, -1);
					in.rm = mem ? pick_base(b) : pick_gpr(b, in.reg);
					/* byte source: the r/m names a byte register */
					if (src == 1 && !mem && in.rm >= 4 && in.rm < 8 && (b->pick & 1) == 0)
						in.byte_regs = true;
					snprintf(name, sizeof(name), "%s r%s, %s%s", ext ? "movsx" : "movzx",
						 szname(size), mem ? "m" : "r", szname(src));
					add(b, name, &in, CLS_PLAIN, 0);
				}
			}
		}
	}
	for (mem = 0; mem < 2; mem++) {
		struct insn in = { .opreg = -1, .modrm = true, .nop = 1, .disp = 0x60, .w = true };

		in.op[0] = 0x63; in.mem = mem;
		in.reg = pick_gpr(b, -1);
		in.rm = mem ? pick_base(b) : pick_gpr(b, in.reg);
		snprintf(name, sizeof(name), "movsxd r64, %s32", mem ? "m" : "r");
		add(b, name, &in, CLS_PLAIN, 0);
	}
	/* LEA: base+disp8 for each size, and SIB forms with index and scale. */
	for (si = 1; si < 4; si++) {
		struct insn in = { .opreg = -1, .modrm = true, .nop = 1, .mem = true, .disp = -0x33 };

		set_size(&in, all_sizes[si]);
		in.op[0] = 0x8d;
		in.reg = pick_gpr(b, -1);
		in.rm = pick_gpr(b, in.reg);
		snprintf(name, sizeof(name), "lea r%s, [base+disp8]", szname(all_sizes[si]));
		struct form *f = add(b, name, &in, CLS_PLAIN, 0);

		if (f)
			f->membase = -1;
	}
	{
		/* lea rax, [rbx+rcx*4+0x12345678]; lea r9d, [r10+r11*8-1]; lea rdx, [rsi*2]; lea rcx,[rip+0x100] */
		static const uint8_t l1[] = { 0x48, 0x8d, 0x84, 0x8b, 0x78, 0x56, 0x34, 0x12 };
		static const uint8_t l2[] = { 0x47, 0x8d, 0x4c, 0xda, 0xff };
		static const uint8_t l3[] = { 0x48, 0x8d, 0x14, 0x75, 0x00, 0x00, 0x00, 0x00 };
		static const uint8_t l4[] = { 0x48, 0x8d, 0x0d, 0x00, 0x01, 0x00, 0x00 };
		static const uint8_t l5[] = { 0x66, 0x8d, 0x44, 0x4d, 0x80 };
		static const uint8_t l6[] = { 0x67, 0x48, 0x8d, 0x04, 0x3e };

		add_raw(b, "lea r64, [b+i*4+disp32]", l1, sizeof(l1), CLS_PLAIN, 0, -1);
		add_raw(b, "lea r32, [b+i*8+disp8] rex", l2, sizeof(l2), CLS_PLAIN, 0, -1);
		add_raw(b, "lea r64, [i*2+disp32]", l3, sizeof(l3), CLS_PLAIN, 0, -1);
		add_raw(b, "lea r64, [rip+disp32]", l4, sizeof(l4), CLS_PLAIN, 0, -1);
		add_raw(b, "lea r16, [b+i*2+disp8]", l5, sizeof(l5), CLS_PLAIN, 0, -1);
		add_raw(b, "lea r64, [b32+i32] addr32", l6, sizeof(l6), CLS_PLAIN, 0, -1);
	}
	{
		static const struct { const char *name; uint8_t code[3]; int len; } conv[] = {
			{ "cbw", { 0x66, 0x98 }, 2 }, { "cwde", { 0x98 }, 1 }, { "cdqe", { 0x48, 0x98 }, 2 },
			{ "cwd", { 0x66, 0x99 }, 2 }, { "cdq", { 0x99 }, 1 }, { "cqo", { 0x48, 0x99 }, 2 },
			{ "clc", { 0xf8 }, 1 }, { "stc", { 0xf9 }, 1 }, { "cmc", { 0xf5 }, 1 },
			{ "cld", { 0xfc }, 1 }, { "std", { 0xfd }, 1 }, { "nop", { 0x90 }, 1 },
			{ "nop r/m32 (0f 1f)", { 0x0f, 0x1f, 0xc0 }, 3 },
		};
		unsigned i;

		for (i = 0; i < sizeof(conv) / sizeof(conv[0]); i++) {
			struct form *f = add_raw(b, conv[i].name, conv[i].code, conv[i].len, CLS_PLAIN, 0, -1);

			if (f && conv[i].code[0] >= 0xfc)
				f->want_df = true;
		}
	}
}

/* ---- CMOVcc, SETcc, Jcc for all 16 conditions ---- */
static void gen_cc(struct builder *b)
{
	char name[FORM_NAME_MAX];
	int cc, si, mem;

	for (cc = 0; cc < 16; cc++) {
		for (si = 1; si < 4; si++) {
			for (mem = 0; mem < 2; mem++) {
				struct insn in = { .opreg = -1, .modrm = true, .nop = 2, .disp = 0x68 };

				/* memory forms at 32 bits only: 16 x 3 x 2 would crowd the list */
				if (mem && all_sizes[si] != 4)
					continue;
				set_size(&in, all_sizes[si]);
				in.op[0] = 0x0f; in.op[1] = 0x40 + cc;
				in.mem = mem;
				if (mem) {
					in.rm = pick_base(b);
					in.reg = pick_gpr(b, in.rm);
				} else {
					pick_pair(b, all_sizes[si], &in.reg, &in.rm);
				}
				snprintf(name, sizeof(name), "cmov%s r%s, %s%s", cc_names[cc],
					 szname(all_sizes[si]), mem ? "m" : "r", szname(all_sizes[si]));
				add(b, name, &in, CLS_PLAIN, 0);
			}
		}
		for (mem = 0; mem < 2; mem++) {
			struct insn in = { .opreg = -1, .modrm = true, .nop = 2, .disp = 0x70 };

			in.op[0] = 0x0f; in.op[1] = 0x90 + cc;
			in.byte_regs = true; in.mem = mem;
			in.rm = mem ? pick_base(b) : pick_byte(b, -1, true);
			snprintf(name, sizeof(name), "set%s %s8", cc_names[cc], mem ? "m" : "r");
			add(b, name, &in, CLS_PLAIN, 0);
		}
		{
			/* jcc over "inc rax": taken lands at the end of the code */
			uint8_t j8[] = { (uint8_t)(0x70 + cc), 0x03, 0x48, 0xff, 0xc0 };
			uint8_t j32[] = { 0x0f, (uint8_t)(0x80 + cc), 0x03, 0, 0, 0, 0x48, 0xff, 0xc0 };

			snprintf(name, sizeof(name), "j%s rel8", cc_names[cc]);
			add_raw(b, name, j8, sizeof(j8), CLS_PLAIN, 0, -1);
			snprintf(name, sizeof(name), "j%s rel32", cc_names[cc]);
			add_raw(b, name, j32, sizeof(j32), CLS_PLAIN, 0, -1);
		}
	}
	{
		static const uint8_t loop[] = { 0xe2, 0x03, 0x48, 0xff, 0xc0 };
		static const uint8_t loope[] = { 0xe1, 0x03, 0x48, 0xff, 0xc0 };
		static const uint8_t loopne[] = { 0xe0, 0x03, 0x48, 0xff, 0xc0 };
		static const uint8_t jrcxz[] = { 0xe3, 0x03, 0x48, 0xff, 0xc0 };
		static const uint8_t jecxz[] = { 0x67, 0xe3, 0x03, 0x48, 0xff, 0xc0 };
		static const uint8_t jmp8[] = { 0xeb, 0x03, 0x48, 0xff, 0xc0 };
		static const uint8_t jmp32[] = { 0xe9, 0x03, 0, 0, 0, 0x48, 0xff, 0xc0 };

		add_raw(b, "loop rel8", loop, sizeof(loop), CLS_PLAIN, 0, -1);
		add_raw(b, "loope rel8", loope, sizeof(loope), CLS_PLAIN, 0, -1);
		add_raw(b, "loopne rel8", loopne, sizeof(loopne), CLS_PLAIN, 0, -1);
		add_raw(b, "jrcxz rel8", jrcxz, sizeof(jrcxz), CLS_PLAIN, 0, -1);
		add_raw(b, "jecxz rel8", jecxz, sizeof(jecxz), CLS_PLAIN, 0, -1);
		add_raw(b, "jmp rel8", jmp8, sizeof(jmp8), CLS_PLAIN, 0, -1);
		add_raw(b, "jmp rel32", jmp32, sizeof(jmp32), CLS_PLAIN, 0, -1);
	}
}

/* ---- PUSH/POP with RSP inside the buffer ---- */
static void gen_stack(struct builder *b)
{
	static const struct { const char *name; uint8_t code[8]; int len; } ops[] = {
		{ "push r64", { 0x53 }, 1 }, { "push r64 (rex)", { 0x41, 0x55 }, 2 },
		{ "pop r64", { 0x5e }, 1 }, { "pop r64 (rex)", { 0x41, 0x5f }, 2 },
		{ "push imm8", { 0x6a, 0x80 }, 2 }, { "push imm32", { 0x68, 0x78, 0x56, 0x34, 0x92 }, 5 },
		{ "push r16", { 0x66, 0x51 }, 2 }, { "pop r16", { 0x66, 0x5a }, 2 },
		{ "pushfq", { 0x9c }, 1 }, { "popfq", { 0x9d }, 1 },
		{ "push m64", { 0xff, 0x33 }, 2 }, { "pop m64", { 0x8f, 0x03 }, 2 },
	};
	unsigned i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct form *f = add_raw(b, ops[i].name, ops[i].code, ops[i].len, CLS_PLAIN, 0,
					 ops[i].code[0] == 0xff || ops[i].code[0] == 0x8f ? RBX : -1);

		if (f) {
			f->rsp_mem = true;
			f->popf = ops[i].code[0] == 0x9d;
		}
	}
}

/* ---- string instructions, with and without REP ---- */
static void gen_strings(struct builder *b)
{
	static const struct { const char *name; uint8_t op; bool rep_e; } ops[] = {
		{ "movs", 0xa4, false }, { "cmps", 0xa6, true }, { "stos", 0xaa, false },
		{ "lods", 0xac, false }, { "scas", 0xae, true },
	};
	char name[FORM_NAME_MAX];
	unsigned i;
	int si, rep;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (si = 0; si < 4; si++) {
			int size = all_sizes[si];

			for (rep = 0; rep < 3; rep++) {
				uint8_t code[4];
				int n = 0;
				struct form *f;

				if (rep == 2 && !ops[i].rep_e)
					continue;
				if (size == 2)
					code[n++] = 0x66;
				if (rep == 1)
					code[n++] = 0xf3;
				if (rep == 2)
					code[n++] = 0xf2;
				if (size == 8)
					code[n++] = 0x48;
				code[n++] = ops[i].op + (size > 1);
				snprintf(name, sizeof(name), "%s%s%s", rep == 1 ? (ops[i].rep_e ? "repe " : "rep ") :
					 rep == 2 ? "repne " : "", ops[i].name,
					 size == 1 ? "b" : size == 2 ? "w" : size == 4 ? "d" : "q");
				f = add_raw(b, name, code, n, CLS_STR, 0, -1);
				if (f)
					f->want_df = true;
			}
		}
	}
}

/* ---- SSE/SSE2 ---- */

struct sse_op {
	const char *name;
	uint8_t pfx;            /* 0, 0x66, 0xf2, 0xf3 */
	uint8_t op;             /* after 0F */
	int kind;               /* SK_* */
	uint8_t fpw;            /* 0 integer, 4 single, 8 double */
};

enum {
	SK_XX,          /* xmm, xmm/m128 (aligned) */
	SK_XXU,         /* xmm, xmm/m128 (unaligned allowed) */
	SK_XS,          /* xmm, xmm/m32|m64 scalar */
	SK_MX,          /* m128, xmm store (aligned) */
	SK_MXU,         /* m128/m64/m32, xmm store (unaligned) */
	SK_XXI,         /* xmm, xmm/m128, imm8 */
	SK_XSI,         /* scalar with imm8 */
	SK_XG,          /* xmm, r/m32|64 (W decides) */
	SK_GX,          /* r32|64, xmm/m (W decides) */
	SK_GXR,         /* r32, xmm register only */
	SK_XRR,         /* xmm, xmm register only */
	SK_XM,          /* xmm, m64 memory only */
	SK_FLAGS,       /* (u)comis: writes RFLAGS */
};

static void sse_add(struct builder *b, const struct sse_op *o, bool mem, int imm, bool w, const char *suffix)
{
	struct insn in = { .opreg = -1, .modrm = true, .nop = 2 };
	char name[FORM_NAME_MAX];
	struct form *f;
	bool gpr_reg = o->kind == SK_GX || o->kind == SK_GXR;
	bool gpr_rm = o->kind == SK_XG;

	if (o->pfx)
		in.pfx[in.npfx++] = o->pfx;
	in.w = w;
	in.op[0] = 0x0f; in.op[1] = o->op;
	in.mem = mem;
	in.reg = gpr_reg ? pick_gpr(b, -1) : (int)(b->pick++ % 16);
	if (mem) {
		in.rm = pick_base(b);
		in.disp = 0x20;
	} else {
		in.rm = gpr_rm ? pick_gpr(b, -1) : (int)((b->pick++ * 7 + 3) % 16);
	}
	if (imm >= 0) {
		in.immsz = 1;
		in.imm = imm;
	}
	snprintf(name, sizeof(name), "%s%s%s", o->name, mem ? " mem" : "", suffix);
	f = add(b, name, &in, o->fpw ? CLS_FP : CLS_PLAIN, 0);
	if (!f)
		return;
	f->fpw = o->fpw;
	if (o->kind == SK_XX || o->kind == SK_MX || o->kind == SK_XXI)
		f->memalign = 16;
	if (o->kind == SK_FLAGS)
		f->flags_undef = 0;
}

static void gen_sse(struct builder *b)
{
	static const struct sse_op ops[] = {
		/* SSE2 integer (66 0F xx) */
		{ "paddb", 0x66, 0xfc, SK_XX }, { "paddw", 0x66, 0xfd, SK_XX }, { "paddd", 0x66, 0xfe, SK_XX },
		{ "paddq", 0x66, 0xd4, SK_XX }, { "psubb", 0x66, 0xf8, SK_XX }, { "psubw", 0x66, 0xf9, SK_XX },
		{ "psubd", 0x66, 0xfa, SK_XX }, { "psubq", 0x66, 0xfb, SK_XX }, { "paddsb", 0x66, 0xec, SK_XX },
		{ "paddsw", 0x66, 0xed, SK_XX }, { "paddusb", 0x66, 0xdc, SK_XX }, { "paddusw", 0x66, 0xdd, SK_XX },
		{ "psubsb", 0x66, 0xe8, SK_XX }, { "psubsw", 0x66, 0xe9, SK_XX }, { "psubusb", 0x66, 0xd8, SK_XX },
		{ "psubusw", 0x66, 0xd9, SK_XX }, { "pmullw", 0x66, 0xd5, SK_XX }, { "pmulhw", 0x66, 0xe5, SK_XX },
		{ "pmulhuw", 0x66, 0xe4, SK_XX }, { "pmuludq", 0x66, 0xf4, SK_XX }, { "pmaddwd", 0x66, 0xf5, SK_XX },
		{ "pand", 0x66, 0xdb, SK_XX }, { "pandn", 0x66, 0xdf, SK_XX }, { "por", 0x66, 0xeb, SK_XX },
		{ "pxor", 0x66, 0xef, SK_XX }, { "pcmpeqb", 0x66, 0x74, SK_XX }, { "pcmpeqw", 0x66, 0x75, SK_XX },
		{ "pcmpeqd", 0x66, 0x76, SK_XX }, { "pcmpgtb", 0x66, 0x64, SK_XX }, { "pcmpgtw", 0x66, 0x65, SK_XX },
		{ "pcmpgtd", 0x66, 0x66, SK_XX }, { "pmaxub", 0x66, 0xde, SK_XX }, { "pminub", 0x66, 0xda, SK_XX },
		{ "pmaxsw", 0x66, 0xee, SK_XX }, { "pminsw", 0x66, 0xea, SK_XX }, { "pavgb", 0x66, 0xe0, SK_XX },
		{ "pavgw", 0x66, 0xe3, SK_XX }, { "psadbw", 0x66, 0xf6, SK_XX }, { "punpcklbw", 0x66, 0x60, SK_XX },
		{ "punpcklwd", 0x66, 0x61, SK_XX }, { "punpckldq", 0x66, 0x62, SK_XX }, { "punpcklqdq", 0x66, 0x6c, SK_XX },
		{ "punpckhbw", 0x66, 0x68, SK_XX }, { "punpckhwd", 0x66, 0x69, SK_XX }, { "punpckhdq", 0x66, 0x6a, SK_XX },
		{ "punpckhqdq", 0x66, 0x6d, SK_XX }, { "packsswb", 0x66, 0x63, SK_XX }, { "packssdw", 0x66, 0x6b, SK_XX },
		{ "packuswb", 0x66, 0x67, SK_XX }, { "psllw", 0x66, 0xf1, SK_XX }, { "pslld", 0x66, 0xf2, SK_XX },
		{ "psllq", 0x66, 0xf3, SK_XX }, { "psrlw", 0x66, 0xd1, SK_XX }, { "psrld", 0x66, 0xd2, SK_XX },
		{ "psrlq", 0x66, 0xd3, SK_XX }, { "psraw", 0x66, 0xe1, SK_XX }, { "psrad", 0x66, 0xe2, SK_XX },
		{ "movdqa load", 0x66, 0x6f, SK_XX }, { "movdqa store", 0x66, 0x7f, SK_MX },
		{ "movdqu load", 0xf3, 0x6f, SK_XXU }, { "movdqu store", 0xf3, 0x7f, SK_MXU },
		{ "movq xmm, xmm/m64", 0xf3, 0x7e, SK_XS }, { "movq xmm/m64, xmm", 0x66, 0xd6, SK_MXU },
		{ "pmovmskb", 0x66, 0xd7, SK_GXR },
		/* SSE/SSE2 floating point */
		{ "addps", 0, 0x58, SK_XX, 4 }, { "addpd", 0x66, 0x58, SK_XX, 8 },
		{ "addss", 0xf3, 0x58, SK_XS, 4 }, { "addsd", 0xf2, 0x58, SK_XS, 8 },
		{ "mulps", 0, 0x59, SK_XX, 4 }, { "mulpd", 0x66, 0x59, SK_XX, 8 },
		{ "mulss", 0xf3, 0x59, SK_XS, 4 }, { "mulsd", 0xf2, 0x59, SK_XS, 8 },
		{ "subps", 0, 0x5c, SK_XX, 4 }, { "subpd", 0x66, 0x5c, SK_XX, 8 },
		{ "subss", 0xf3, 0x5c, SK_XS, 4 }, { "subsd", 0xf2, 0x5c, SK_XS, 8 },
		{ "minps", 0, 0x5d, SK_XX, 4 }, { "minpd", 0x66, 0x5d, SK_XX, 8 },
		{ "minss", 0xf3, 0x5d, SK_XS, 4 }, { "minsd", 0xf2, 0x5d, SK_XS, 8 },
		{ "divps", 0, 0x5e, SK_XX, 4 }, { "divpd", 0x66, 0x5e, SK_XX, 8 },
		{ "divss", 0xf3, 0x5e, SK_XS, 4 }, { "divsd", 0xf2, 0x5e, SK_XS, 8 },
		{ "maxps", 0, 0x5f, SK_XX, 4 }, { "maxpd", 0x66, 0x5f, SK_XX, 8 },
		{ "maxss", 0xf3, 0x5f, SK_XS, 4 }, { "maxsd", 0xf2, 0x5f, SK_XS, 8 },
		{ "sqrtps", 0, 0x51, SK_XX, 4 }, { "sqrtpd", 0x66, 0x51, SK_XX, 8 },
		{ "sqrtss", 0xf3, 0x51, SK_XS, 4 }, { "sqrtsd", 0xf2, 0x51, SK_XS, 8 },
		{ "andps", 0, 0x54, SK_XX, 4 }, { "andpd", 0x66, 0x54, SK_XX, 8 },
		{ "andnps", 0, 0x55, SK_XX, 4 }, { "andnpd", 0x66, 0x55, SK_XX, 8 },
		{ "orps", 0, 0x56, SK_XX, 4 }, { "orpd", 0x66, 0x56, SK_XX, 8 },
		{ "xorps", 0, 0x57, SK_XX, 4 }, { "xorpd", 0x66, 0x57, SK_XX, 8 },
		{ "ucomiss", 0, 0x2e, SK_FLAGS, 4 }, { "ucomisd", 0x66, 0x2e, SK_FLAGS, 8 },
		{ "comiss", 0, 0x2f, SK_FLAGS, 4 }, { "comisd", 0x66, 0x2f, SK_FLAGS, 8 },
		{ "cvtss2sd", 0xf3, 0x5a, SK_XS, 4 }, { "cvtsd2ss", 0xf2, 0x5a, SK_XS, 8 },
		{ "cvtps2pd", 0, 0x5a, SK_XS, 4 }, { "cvtpd2ps", 0x66, 0x5a, SK_XX, 8 },
		{ "cvtdq2ps", 0, 0x5b, SK_XX, 4 }, { "cvtps2dq", 0x66, 0x5b, SK_XX, 4 },
		{ "cvttps2dq", 0xf3, 0x5b, SK_XX, 4 }, { "cvtdq2pd", 0xf3, 0xe6, SK_XS, 8 },
		{ "cvtpd2dq", 0xf2, 0xe6, SK_XX, 8 }, { "cvttpd2dq", 0x66, 0xe6, SK_XX, 8 },
		{ "unpcklps", 0, 0x14, SK_XX, 4 }, { "unpckhps", 0, 0x15, SK_XX, 4 },
		{ "unpcklpd", 0x66, 0x14, SK_XX, 8 }, { "unpckhpd", 0x66, 0x15, SK_XX, 8 },
		{ "movaps load", 0, 0x28, SK_XX, 4 }, { "movaps store", 0, 0x29, SK_MX, 4 },
		{ "movups load", 0, 0x10, SK_XXU, 4 }, { "movups store", 0, 0x11, SK_MXU, 4 },
		{ "movapd load", 0x66, 0x28, SK_XX, 8 }, { "movupd load", 0x66, 0x10, SK_XXU, 8 },
		{ "movss load", 0xf3, 0x10, SK_XS, 4 }, { "movss store", 0xf3, 0x11, SK_MXU, 4 },
		{ "movsd load", 0xf2, 0x10, SK_XS, 8 }, { "movsd store", 0xf2, 0x11, SK_MXU, 8 },
		{ "movlps/movhlps", 0, 0x12, SK_XS, 4 }, { "movhps/movlhps", 0, 0x16, SK_XS, 4 },
		{ "movlpd", 0x66, 0x12, SK_XM, 8 }, { "movhpd", 0x66, 0x16, SK_XM, 8 },
		{ "movmskps", 0, 0x50, SK_GXR, 4 }, { "movmskpd", 0x66, 0x50, SK_GXR, 8 },
	};
	static const struct sse_op imm_ops[] = {
		{ "pshufd", 0x66, 0x70, SK_XXI }, { "pshuflw", 0xf2, 0x70, SK_XXI },
		{ "pshufhw", 0xf3, 0x70, SK_XXI }, { "shufps", 0, 0xc6, SK_XXI, 4 },
		{ "shufpd", 0x66, 0xc6, SK_XXI, 8 },
	};
	static const struct sse_op cmp_ops[] = {
		{ "cmpps", 0, 0xc2, SK_XXI, 4 }, { "cmppd", 0x66, 0xc2, SK_XXI, 8 },
		{ "cmpss", 0xf3, 0xc2, SK_XSI, 4 }, { "cmpsd", 0xf2, 0xc2, SK_XSI, 8 },
	};
	static const struct { const char *name; uint8_t op; int digit; } shimm[] = {
		{ "psrlw imm", 0x71, 2 }, { "psraw imm", 0x71, 4 }, { "psllw imm", 0x71, 6 },
		{ "psrld imm", 0x72, 2 }, { "psrad imm", 0x72, 4 }, { "pslld imm", 0x72, 6 },
		{ "psrlq imm", 0x73, 2 }, { "psrldq imm", 0x73, 3 }, { "psllq imm", 0x73, 6 },
		{ "pslldq imm", 0x73, 7 },
	};
	char suffix[16];
	unsigned i;
	int imm;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const struct sse_op *o = &ops[i];

		if (o->kind != SK_MX && o->kind != SK_MXU && o->kind != SK_XM)
			sse_add(b, o, false, -1, false, "");
		if (o->kind != SK_GXR && o->kind != SK_XRR)
			sse_add(b, o, true, -1, false, "");
	}
	for (i = 0; i < sizeof(imm_ops) / sizeof(imm_ops[0]); i++) {
		sse_add(b, &imm_ops[i], false, 0x1b + 0x35 * i, false, "");
		sse_add(b, &imm_ops[i], true, 0xe4 - 0x11 * i, false, "");
	}
	for (i = 0; i < sizeof(cmp_ops) / sizeof(cmp_ops[0]); i++) {
		for (imm = 0; imm < 8; imm++) {
			snprintf(suffix, sizeof(suffix), " pred%d", imm);
			sse_add(b, &cmp_ops[i], imm == 3, imm, false, suffix);
		}
	}
	for (i = 0; i < sizeof(shimm) / sizeof(shimm[0]); i++) {
		struct insn in = { .opreg = -1, .modrm = true, .nop = 2, .npfx = 1 };

		in.pfx[0] = 0x66;
		in.op[0] = 0x0f; in.op[1] = shimm[i].op;
		in.reg = shimm[i].digit;
		in.rm = b->pick++ % 16;
		in.immsz = 1;
		in.imm = (b->pick * 13) % 70;
		add(b, shimm[i].name, &in, CLS_PLAIN, 0);
	}
	/* GPR <-> XMM moves and conversions, 32 and 64 bit */
	{
		static const struct sse_op gx[] = {
			{ "movd/q xmm, r/m", 0x66, 0x6e, SK_XG }, { "movd/q r/m, xmm", 0x66, 0x7e, SK_XG },
			{ "cvtsi2ss", 0xf3, 0x2a, SK_XG, 4 }, { "cvtsi2sd", 0xf2, 0x2a, SK_XG, 8 },
			{ "cvttss2si", 0xf3, 0x2c, SK_GX, 4 }, { "cvttsd2si", 0xf2, 0x2c, SK_GX, 8 },
			{ "cvtss2si", 0xf3, 0x2d, SK_GX, 4 }, { "cvtsd2si", 0xf2, 0x2d, SK_GX, 8 },
		};
		int w;

		for (i = 0; i < sizeof(gx) / sizeof(gx[0]); i++) {
			for (w = 0; w < 2; w++) {
				sse_add(b, &gx[i], false, -1, w, w ? " (64)" : " (32)");
				sse_add(b, &gx[i], true, -1, w, w ? " (64)" : " (32)");
			}
		}
	}
	{
		static const struct sse_op pw[] = {
			{ "pextrw", 0x66, 0xc5, SK_GXR }, { "pinsrw", 0x66, 0xc4, SK_XG },
		};

		sse_add(b, &pw[0], false, 5, false, "");
		sse_add(b, &pw[1], false, 3, false, "");
		sse_add(b, &pw[1], true, 6, false, "");
	}
	{
		/* stmxcsr [rbx+0x20]; ldmxcsr of a sane value then stmxcsr */
		static const uint8_t st[] = { 0x0f, 0xae, 0x5b, 0x20 };
		static const uint8_t ld[] = { 0xc7, 0x43, 0x20, 0x80, 0x7f, 0x00, 0x00,
					      0x0f, 0xae, 0x53, 0x20, 0x0f, 0xae, 0x5b, 0x24 };

		add_raw(b, "stmxcsr", st, sizeof(st), CLS_PLAIN, 0, RBX);
		add_raw(b, "ldmxcsr", ld, sizeof(ld), CLS_PLAIN, 0, RBX);
	}
}

/* ---- x87: short sequences over FP values in memory at [rbx] ---- */
static void gen_x87(struct builder *b)
{
	static const struct { const char *name; uint8_t code[20]; int len; uint32_t undef; } seq[] = {
		{ "fld m64; fstp m64", { 0xdd, 0x03, 0xdd, 0x5b, 0x08 }, 5 },
		{ "fld m32; fstp m32", { 0xd9, 0x03, 0xd9, 0x5b, 0x08 }, 5 },
		{ "fld m64; fstp m32", { 0xdd, 0x03, 0xd9, 0x5b, 0x08 }, 5 },
		{ "fld m64; fstp m80", { 0xdd, 0x03, 0xdb, 0x7b, 0x10 }, 5 },
		{ "fld m64 x2; fstp x2", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xdd, 0x5b, 0x10, 0xdd, 0x5b, 0x18 }, 11 },
		{ "fadd m64", { 0xdd, 0x03, 0xdc, 0x43, 0x08, 0xdd, 0x5b, 0x10 }, 8 },
		{ "fmul m64", { 0xdd, 0x03, 0xdc, 0x4b, 0x08, 0xdd, 0x5b, 0x10 }, 8 },
		{ "fsub m64", { 0xdd, 0x03, 0xdc, 0x63, 0x08, 0xdd, 0x5b, 0x10 }, 8 },
		{ "fsubr m64", { 0xdd, 0x03, 0xdc, 0x6b, 0x08, 0xdd, 0x5b, 0x10 }, 8 },
		{ "fdiv m64", { 0xdd, 0x03, 0xdc, 0x73, 0x08, 0xdd, 0x5b, 0x10 }, 8 },
		{ "fdivr m64", { 0xdd, 0x03, 0xdc, 0x7b, 0x08, 0xdd, 0x5b, 0x10 }, 8 },
		{ "fadd m32", { 0xdd, 0x03, 0xd8, 0x43, 0x08, 0xdd, 0x5b, 0x10 }, 8 },
		{ "fmul m32", { 0xdd, 0x03, 0xd8, 0x4b, 0x08, 0xdd, 0x5b, 0x10 }, 8 },
		{ "faddp st1, st0", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xde, 0xc1, 0xdd, 0x5b, 0x10 }, 10 },
		{ "fmulp st1, st0", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xde, 0xc9, 0xdd, 0x5b, 0x10 }, 10 },
		{ "fsubp st1, st0", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xde, 0xe9, 0xdd, 0x5b, 0x10 }, 10 },
		{ "fsubrp st1, st0", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xde, 0xe1, 0xdd, 0x5b, 0x10 }, 10 },
		{ "fdivp st1, st0", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xde, 0xf9, 0xdd, 0x5b, 0x10 }, 10 },
		{ "fdivrp st1, st0", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xde, 0xf1, 0xdd, 0x5b, 0x10 }, 10 },
		{ "fadd st0, st1", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xd8, 0xc1, 0xdd, 0x5b, 0x10, 0xdd, 0x5b, 0x18 }, 13 },
		{ "fxch", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xd9, 0xc9, 0xdd, 0x5b, 0x10, 0xdd, 0x5b, 0x18 }, 13 },
		{ "fchs", { 0xdd, 0x03, 0xd9, 0xe0, 0xdd, 0x5b, 0x08 }, 7 },
		{ "fabs", { 0xdd, 0x03, 0xd9, 0xe1, 0xdd, 0x5b, 0x08 }, 7 },
		{ "fsqrt", { 0xdd, 0x03, 0xd9, 0xfa, 0xdd, 0x5b, 0x08 }, 7 },
		{ "frndint", { 0xdd, 0x03, 0xd9, 0xfc, 0xdd, 0x5b, 0x08 }, 7 },
		{ "fld1; fldz; fldpi", { 0xd9, 0xe8, 0xd9, 0xee, 0xd9, 0xeb, 0xdb, 0x7b, 0x00, 0xdb, 0x7b, 0x10, 0xdb, 0x7b, 0x20 }, 15 },
		{ "fild m32; fstp m64", { 0xdb, 0x03, 0xdd, 0x5b, 0x08 }, 5 },
		{ "fild m64; fstp m80", { 0xdf, 0x2b, 0xdb, 0x7b, 0x10 }, 5 },
		{ "fild m16; fstp m64", { 0xdf, 0x03, 0xdd, 0x5b, 0x08 }, 5 },
		{ "fld m64; fistp m32", { 0xdd, 0x03, 0xdb, 0x5b, 0x08 }, 5 },
		{ "fld m64; fistp m64", { 0xdd, 0x03, 0xdf, 0x7b, 0x08 }, 5 },
		{ "fld m64; fistp m16", { 0xdd, 0x03, 0xdf, 0x5b, 0x08 }, 5 },
		{ "fld m64; fist m32; fstp", { 0xdd, 0x03, 0xdb, 0x53, 0x08, 0xdd, 0x5b, 0x10 }, 8 },
		{ "fcomi; fstp; fstp", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xdb, 0xf1, 0xdd, 0xd8, 0xdd, 0xd8 }, 11 },
		{ "fucomip; fstp", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xdf, 0xe9, 0xdd, 0xd8 }, 9 },
		{ "fcom m64; fnstsw ax", { 0xdd, 0x03, 0xdc, 0x53, 0x08, 0xdf, 0xe0, 0xdd, 0xd8 }, 9 },
		{ "fcomp m64; fnstsw ax", { 0xdd, 0x03, 0xdc, 0x5b, 0x08, 0xdf, 0xe0 }, 7 },
		{ "ftst; fnstsw ax", { 0xdd, 0x03, 0xd9, 0xe4, 0xdf, 0xe0, 0xdd, 0xd8 }, 8 },
		{ "fxam; fnstsw ax", { 0xdd, 0x03, 0xd9, 0xe5, 0xdf, 0xe0, 0xdd, 0xd8 }, 8 },
		{ "fnstcw m16", { 0xd9, 0x7b, 0x08 }, 3 },
		{ "fldcw rc=down; frndint", { 0x66, 0xc7, 0x43, 0x30, 0x7f, 0x07, 0xd9, 0x6b, 0x30, 0xdd, 0x03,
					      0xd9, 0xfc, 0xdd, 0x5b, 0x08 }, 16 },
		{ "fldcw rc=chop; fistp m32", { 0x66, 0xc7, 0x43, 0x30, 0x7f, 0x0f, 0xd9, 0x6b, 0x30, 0xdd, 0x03,
						0xdb, 0x5b, 0x08 }, 14 },
		{ "fldcw pc=single; fdiv", { 0x66, 0xc7, 0x43, 0x30, 0x7f, 0x00, 0xd9, 0x6b, 0x30, 0xdd, 0x03,
					     0xdc, 0x73, 0x08, 0xdd, 0x5b, 0x10 }, 17 },
		{ "fld m80 roundtrip", { 0xdd, 0x03, 0xdb, 0x7b, 0x10, 0xdb, 0x6b, 0x10, 0xdd, 0x5b, 0x20 }, 11 },
		{ "fninit; fnstsw ax", { 0xdb, 0xe3, 0xdf, 0xe0 }, 4 },
		{ "fnclex after fdiv 0", { 0xd9, 0xee, 0xd9, 0xe8, 0xde, 0xf1, 0xdf, 0xe0, 0xdb, 0xe2, 0xdd, 0xd8 }, 12 },
	};
	unsigned i;

	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		add_raw(b, seq[i].name, seq[i].code, seq[i].len, CLS_X87, seq[i].undef, RBX);
}

/* ---- LOCK-prefixed read-modify-write forms (and the ones LOCK makes #UD) ---- */
static void gen_lock(struct builder *b)
{
	static const char *alu[7] = { "add", "or", "adc", "sbb", "and", "sub", "xor" };
	char name[FORM_NAME_MAX];
	int op, si;

	for (si = 0; si < 4; si++) {
		int size = all_sizes[si], s = size == 1 ? 0 : 1;
		const char *sz = szname(size);
		struct insn in = { .opreg = -1, .modrm = true, .nop = 1, .mem = true, .disp = 0x18 };

		for (op = 0; op < 7; op++) {
			set_size(&in, size);
			in.pfx[in.npfx++] = 0xf0;
			in.op[0] = op * 8 + s; in.nop = 1;
			in.rm = pick_base(b);
			in.reg = size == 1 ? pick_byte(b, -1, false) : pick_gpr(b, in.rm);
			snprintf(name, sizeof(name), "lock %s m%s, r%s", alu[op], sz, sz);
			add(b, name, &in, CLS_PLAIN, (op == 1 || op == 4 || op == 6) ? FL_AF : 0);
		}
		set_size(&in, size);
		in.pfx[in.npfx++] = 0xf0;
		in.op[0] = 0x0f; in.op[1] = 0xc0 + s; in.nop = 2;
		snprintf(name, sizeof(name), "lock xadd m%s, r%s", sz, sz);
		add(b, name, &in, CLS_PLAIN, 0);
		in.op[1] = 0xb0 + s;
		snprintf(name, sizeof(name), "lock cmpxchg m%s, r%s", sz, sz);
		add(b, name, &in, CLS_PLAIN, 0);
		{
			static const struct { const char *n; uint8_t op; int digit; } un[] = {
				{ "inc", 0xfe, 0 }, { "dec", 0xfe, 1 }, { "not", 0xf6, 2 }, { "neg", 0xf6, 3 },
			};
			unsigned i;

			for (i = 0; i < 4; i++) {
				in.op[0] = un[i].op + s; in.nop = 1; in.reg = un[i].digit;
				snprintf(name, sizeof(name), "lock %s m%s", un[i].n, sz);
				add(b, name, &in, CLS_PLAIN, 0);
			}
		}
		if (size > 1) {
			static const char *bt[3] = { "bts", "btr", "btc" };
			struct form *f;

			for (op = 0; op < 3; op++) {
				in.op[0] = 0x0f; in.op[1] = 0xab + op * 8; in.nop = 2;
				in.reg = pick_gpr(b, in.rm);
				snprintf(name, sizeof(name), "lock %s m%s, r%s", bt[op], sz, sz);
				f = add(b, name, &in, CLS_PLAIN, FL_OF | FL_SF | FL_AF | FL_PF);
				if (f)
					f->small_reg = in.reg;
			}
		}
	}
	{
		/* LOCK on a register destination or a non-RMW op: #UD on both sides. */
		static const uint8_t l1[] = { 0xf0, 0x01, 0xc8 };            /* lock add eax, ecx */
		static const uint8_t l2[] = { 0xf0, 0x39, 0x03 };            /* lock cmp [rbx], eax */
		static const uint8_t l3[] = { 0xf0, 0x8b, 0x03 };            /* lock mov eax, [rbx] */
		static const uint8_t u1[] = { 0x0f, 0x0b };                  /* ud2 */
		static const uint8_t u2[] = { 0x0f, 0xff };                  /* ud0 (no modrm read) */

		add_raw(b, "lock add r32, r32 (#UD)", l1, sizeof(l1), CLS_PLAIN, 0, -1);
		add_raw(b, "lock cmp m32, r32 (#UD)", l2, sizeof(l2), CLS_PLAIN, 0, RBX);
		add_raw(b, "lock mov r32, m32 (#UD)", l3, sizeof(l3), CLS_PLAIN, 0, RBX);
		add_raw(b, "ud2", u1, sizeof(u1), CLS_PLAIN, 0, -1);
		(void)u2;
	}
}

/* ---- CMPXCHG8B/16B, POPCNT, fences, LAHF/SAHF, XLAT, non-temporal stores ---- */
static void gen_misc(struct builder *b)
{
	static const struct { const char *name; uint8_t code[8]; int len; int membase; uint8_t align; } raw[] = {
		{ "cmpxchg8b m64", { 0x0f, 0xc7, 0x0b }, 3, RBX, 8 },
		{ "lock cmpxchg8b m64", { 0xf0, 0x0f, 0xc7, 0x0e }, 4, RSI, 8 },
		{ "cmpxchg16b m128", { 0x48, 0x0f, 0xc7, 0x0b }, 4, RBX, 16 },
		{ "lock cmpxchg16b m128", { 0xf0, 0x49, 0x0f, 0xc7, 0x08 }, 5, R8, 16 },
		{ "cmpxchg16b m128 misaligned (#GP)", { 0x48, 0x0f, 0xc7, 0x4b, 0x08 }, 5, RBX, 16 },
		{ "lfence", { 0x0f, 0xae, 0xe8 }, 3, -1, 1 },
		{ "mfence", { 0x0f, 0xae, 0xf0 }, 3, -1, 1 },
		{ "sfence", { 0x0f, 0xae, 0xf8 }, 3, -1, 1 },
		{ "pause", { 0xf3, 0x90 }, 2, -1, 1 },
		{ "lahf", { 0x9f }, 1, -1, 1 },
		{ "sahf", { 0x9e }, 1, -1, 1 },
		{ "xlat", { 0xd7 }, 1, RBX, 1 },
		{ "movnti m32, r32", { 0x0f, 0xc3, 0x43, 0x10 }, 4, RBX, 4 },
		{ "movnti m64, r64", { 0x4c, 0x0f, 0xc3, 0x4e, 0x08 }, 5, RSI, 8 },
		{ "movntdq m128, xmm", { 0x66, 0x0f, 0xe7, 0x53, 0x10 }, 5, RBX, 16 },
		{ "movntps m128, xmm", { 0x0f, 0x2b, 0x5b, 0x20 }, 4, RBX, 16 },
		{ "movntpd m128, xmm", { 0x66, 0x44, 0x0f, 0x2b, 0x43, 0x30 }, 6, RBX, 16 },
		{ "movdqa load misaligned (#GP)", { 0x66, 0x0f, 0x6f, 0x43, 0x04 }, 5, RBX, 16 },
		{ "shld m32, r32, imm8", { 0x0f, 0xa4, 0x4b, 0x08, 0x05 }, 5, RBX, 1 },
		{ "shrd m64, r64, cl", { 0x48, 0x0f, 0xad, 0x56, 0x08 }, 5, RSI, 1 },
	};
	char name[FORM_NAME_MAX];
	unsigned i;
	int si, mem;

	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		struct form *f = add_raw(b, raw[i].name, raw[i].code, raw[i].len, CLS_PLAIN,
					 raw[i].code[0] == 0x9e ? 0 : 0, raw[i].membase);

		if (!f)
			continue;
		f->memalign = raw[i].align;
		if (!strncmp(raw[i].name, "shld", 4) || !strncmp(raw[i].name, "shrd", 4)) {
			f->cls = CLS_SHD;
			f->opbits = raw[i].name[6] == '3' ? 32 : 64;
			f->count_imm = raw[i].code[raw[i].len - 1] == 0x05 ? 5 : -1;
			f->disp = 8;
		}
	}
	for (si = 1; si < 4; si++) {
		for (mem = 0; mem < 2; mem++) {
			struct insn in = { .opreg = -1, .modrm = true, .nop = 2, .disp = 0x28 };

			set_size(&in, all_sizes[si]);
			/* F3 is a mandatory prefix: it goes before 66 is fine, before REX always. */
			in.pfx[in.npfx++] = 0xf3;
			in.op[0] = 0x0f; in.op[1] = 0xb8;
			in.mem = mem;
			if (mem) {
				in.rm = pick_base(b);
				in.reg = pick_gpr(b, in.rm);
			} else {
				pick_pair(b, all_sizes[si], &in.reg, &in.rm);
			}
			snprintf(name, sizeof(name), "popcnt r%s, %s%s", szname(all_sizes[si]),
				 mem ? "m" : "r", szname(all_sizes[si]));
			add(b, name, &in, CLS_PLAIN, 0);
		}
	}
}

/* ---- CALL/RET/JMP indirect, ENTER/LEAVE: every branch lands on the code's end ---- */
static void gen_branches(struct builder *b)
{
	static const struct { const char *name; uint8_t code[8]; int len; int target; bool ret; int membase; } br[] = {
		{ "call rel32", { 0xe8, 0, 0, 0, 0 }, 5, -1, false, -1 },
		{ "call r64", { 0xff, 0xd1 }, 2, RCX, false, -1 },
		{ "call r64 (rex)", { 0x41, 0xff, 0xd3 }, 3, R11, false, -1 },
		{ "jmp r64", { 0xff, 0xe2 }, 2, RDX, false, -1 },
		{ "ret", { 0xc3 }, 1, -1, true, -1 },
		{ "ret imm16", { 0xc2, 0x10, 0x00 }, 3, -1, true, -1 },
		{ "leave", { 0xc9 }, 1, -1, false, -1 },
		{ "enter 0x20, 0", { 0xc8, 0x20, 0x00, 0x00 }, 4, -1, false, -1 },
		{ "enter 0x10, 1", { 0xc8, 0x10, 0x00, 0x01 }, 4, -1, false, -1 },
	};
	unsigned i;

	for (i = 0; i < sizeof(br) / sizeof(br[0]); i++) {
		struct form *f = add_raw(b, br[i].name, br[i].code, br[i].len, CLS_PLAIN, 0, br[i].membase);

		if (!f)
			continue;
		f->rsp_mem = true;
		f->ret_target = br[i].ret;
		f->target_reg = br[i].target;
		/* LEAVE pops through RBP: keep it in the buffer too. */
		if (br[i].code[0] == 0xc9 || br[i].code[0] == 0xc8)
			f->membase = RBP, f->memalign = 8;
	}
}

/* ---- more exact x87: FPREM, FSCALE, FXTRACT, FCMOVcc, FBSTP/FBLD ---- */
static void gen_x87_more(struct builder *b)
{
	static const struct { const char *name; uint8_t code[20]; int len; } seq[] = {
		{ "fprem", { 0xdd, 0x43, 0x08, 0xdd, 0x03, 0xd9, 0xf8, 0xdf, 0xe0, 0xdd, 0x5b, 0x10, 0xdd, 0xd8 }, 14 },
		{ "fprem1", { 0xdd, 0x43, 0x08, 0xdd, 0x03, 0xd9, 0xf5, 0xdf, 0xe0, 0xdd, 0x5b, 0x10, 0xdd, 0xd8 }, 14 },
		{ "fscale", { 0xdd, 0x43, 0x08, 0xdd, 0x03, 0xd9, 0xfd, 0xdd, 0x5b, 0x10, 0xdd, 0xd8 }, 12 },
		{ "fxtract", { 0xdd, 0x03, 0xd9, 0xf4, 0xdd, 0x5b, 0x10, 0xdd, 0x5b, 0x18 }, 10 },
		{ "fcmovb; fcmove; fcmovu", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xda, 0xc1, 0xda, 0xc9, 0xda, 0xd9,
					      0xdd, 0x5b, 0x10, 0xdd, 0xd8 }, 16 },
		{ "fcmovnb; fcmovnbe", { 0xdd, 0x03, 0xdd, 0x43, 0x08, 0xdb, 0xc1, 0xdb, 0xd1, 0xdd, 0x5b, 0x10,
					 0xdd, 0xd8 }, 14 },
		{ "fbstp m80; fbld m80", { 0xdd, 0x03, 0xdf, 0x73, 0x10, 0xdf, 0x63, 0x10, 0xdd, 0x5b, 0x20 }, 11 },
		{ "fild m64; fistp m64", { 0xdf, 0x2b, 0xdf, 0x7b, 0x08 }, 5 },
		{ "fldl2t; fldlg2; fldln2; fldl2e", { 0xd9, 0xe9, 0xd9, 0xec, 0xd9, 0xed, 0xd9, 0xea, 0xdb, 0x7b,
						       0x00, 0xdb, 0x7b, 0x10, 0xdb, 0x7b, 0x20, 0xdb, 0x7b, 0x30 }, 20 },
		{ "fdecstp; fincstp; ffree", { 0xd9, 0xf6, 0xd9, 0xf7, 0xdd, 0xc0 }, 6 },
	};
	unsigned i;

	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		add_raw(b, seq[i].name, seq[i].code, seq[i].len, CLS_X87, 0, RBX);
}

/* ---- MMX (0F xx without prefix) and the SSE-era MMX forms ---- */

enum {
	MK_MM,          /* mm, mm/m64 */
	MK_MMI,         /* mm, mm/m64, imm8 */
	MK_ST,          /* mm/m64, mm (store) */
	MK_STM,         /* m64, mm (store, memory only) */
	MK_MG,          /* mm, r/m32|64 (W decides) */
	MK_MGI,         /* mm, r32/m16, imm8 */
	MK_GM,          /* r/m32|64, mm (W decides) */
	MK_GMR,         /* r32, mm register only */
	MK_GMRI,        /* r32, mm register only, imm8 */
	MK_XM,          /* xmm, mm/m64 */
	MK_MX,          /* mm, xmm/m64 (m128 aligned for the PD forms) */
	MK_XMR,         /* xmm, mm register only */
	MK_MXR,         /* mm, xmm register only */
};

struct mmx_op {
	const char *name;
	uint8_t pfx, op;
	int kind;
	uint8_t fpw;
};

static void mmx_add(struct builder *b, const struct mmx_op *o, bool mem, bool w, const char *suffix)
{
	struct insn in = { .opreg = -1, .modrm = true, .nop = 2 };
	char name[FORM_NAME_MAX];
	bool gpr_reg = o->kind == MK_GMR || o->kind == MK_GMRI;
	bool gpr_rm = o->kind == MK_MG || o->kind == MK_MGI || o->kind == MK_GM;
	struct form *f;

	if (o->pfx)
		in.pfx[in.npfx++] = o->pfx;
	in.w = w;
	in.op[0] = 0x0f; in.op[1] = o->op;
	in.mem = mem;
	/* mm registers 8-15 set REX.R/REX.B, which MMX operands ignore. */
	in.reg = gpr_reg ? pick_gpr(b, -1) : (int)(b->pick++ % 16);
	if (mem) {
		in.rm = pick_base(b);
		in.disp = 0x20;
	} else {
		in.rm = gpr_rm ? pick_gpr(b, -1) : (int)((b->pick++ * 5 + 1) % 16);
	}
	if (o->kind == MK_MMI || o->kind == MK_MGI || o->kind == MK_GMRI) {
		in.immsz = 1;
		in.imm = (b->pick * 0x35 + 0x1b) & 0xff;
	}
	snprintf(name, sizeof(name), "%s%s%s", o->name, mem ? " mem" : "", suffix);
	f = add(b, name, &in, CLS_MMX, 0);
	if (!f)
		return;
	f->fpw = o->fpw;
	if (o->kind == MK_MX && o->pfx == 0x66)
		f->memalign = 16;
}

static void gen_mmx(struct builder *b)
{
	static const struct mmx_op ops[] = {
		{ "paddb mm", 0, 0xfc, MK_MM }, { "paddw mm", 0, 0xfd, MK_MM }, { "paddd mm", 0, 0xfe, MK_MM },
		{ "paddq mm", 0, 0xd4, MK_MM }, { "psubb mm", 0, 0xf8, MK_MM }, { "psubw mm", 0, 0xf9, MK_MM },
		{ "psubd mm", 0, 0xfa, MK_MM }, { "psubq mm", 0, 0xfb, MK_MM }, { "paddsb mm", 0, 0xec, MK_MM },
		{ "paddsw mm", 0, 0xed, MK_MM }, { "paddusb mm", 0, 0xdc, MK_MM }, { "paddusw mm", 0, 0xdd, MK_MM },
		{ "psubsb mm", 0, 0xe8, MK_MM }, { "psubsw mm", 0, 0xe9, MK_MM }, { "psubusb mm", 0, 0xd8, MK_MM },
		{ "psubusw mm", 0, 0xd9, MK_MM }, { "pmullw mm", 0, 0xd5, MK_MM }, { "pmulhw mm", 0, 0xe5, MK_MM },
		{ "pmulhuw mm", 0, 0xe4, MK_MM }, { "pmuludq mm", 0, 0xf4, MK_MM }, { "pmaddwd mm", 0, 0xf5, MK_MM },
		{ "pand mm", 0, 0xdb, MK_MM }, { "pandn mm", 0, 0xdf, MK_MM }, { "por mm", 0, 0xeb, MK_MM },
		{ "pxor mm", 0, 0xef, MK_MM }, { "pcmpeqb mm", 0, 0x74, MK_MM }, { "pcmpeqw mm", 0, 0x75, MK_MM },
		{ "pcmpeqd mm", 0, 0x76, MK_MM }, { "pcmpgtb mm", 0, 0x64, MK_MM }, { "pcmpgtw mm", 0, 0x65, MK_MM },
		{ "pcmpgtd mm", 0, 0x66, MK_MM }, { "pmaxub mm", 0, 0xde, MK_MM }, { "pminub mm", 0, 0xda, MK_MM },
		{ "pmaxsw mm", 0, 0xee, MK_MM }, { "pminsw mm", 0, 0xea, MK_MM }, { "pavgb mm", 0, 0xe0, MK_MM },
		{ "pavgw mm", 0, 0xe3, MK_MM }, { "psadbw mm", 0, 0xf6, MK_MM }, { "punpcklbw mm", 0, 0x60, MK_MM },
		{ "punpcklwd mm", 0, 0x61, MK_MM }, { "punpckldq mm", 0, 0x62, MK_MM },
		{ "punpckhbw mm", 0, 0x68, MK_MM }, { "punpckhwd mm", 0, 0x69, MK_MM }, { "punpckhdq mm", 0, 0x6a, MK_MM },
		{ "packsswb mm", 0, 0x63, MK_MM }, { "packssdw mm", 0, 0x6b, MK_MM }, { "packuswb mm", 0, 0x67, MK_MM },
		{ "psllw mm", 0, 0xf1, MK_MM }, { "pslld mm", 0, 0xf2, MK_MM }, { "psllq mm", 0, 0xf3, MK_MM },
		{ "psrlw mm", 0, 0xd1, MK_MM }, { "psrld mm", 0, 0xd2, MK_MM }, { "psrlq mm", 0, 0xd3, MK_MM },
		{ "psraw mm", 0, 0xe1, MK_MM }, { "psrad mm", 0, 0xe2, MK_MM },
		{ "movq mm, mm/m64", 0, 0x6f, MK_MM }, { "movq mm/m64, mm", 0, 0x7f, MK_ST },
		{ "movntq m64, mm", 0, 0xe7, MK_STM }, { "pshufw", 0, 0x70, MK_MMI },
		{ "pinsrw mm", 0, 0xc4, MK_MGI }, { "pextrw mm", 0, 0xc5, MK_GMRI },
		{ "pmovmskb mm", 0, 0xd7, MK_GMR },
		{ "cvtpi2ps", 0, 0x2a, MK_XM }, { "cvtpi2pd", 0x66, 0x2a, MK_XM },
		{ "cvtps2pi", 0, 0x2d, MK_MX, 4 }, { "cvttps2pi", 0, 0x2c, MK_MX, 4 },
		{ "cvtpd2pi", 0x66, 0x2d, MK_MX, 8 }, { "cvttpd2pi", 0x66, 0x2c, MK_MX, 8 },
		{ "movq2dq", 0xf3, 0xd6, MK_XMR }, { "movdq2q", 0xf2, 0xd6, MK_MXR },
	};
	static const struct mmx_op gm[] = {
		{ "movd/q mm, r/m", 0, 0x6e, MK_MG }, { "movd/q r/m, mm", 0, 0x7e, MK_GM },
	};
	static const struct { const char *name; uint8_t op; int digit; } shimm[] = {
		{ "psrlw mm, imm", 0x71, 2 }, { "psraw mm, imm", 0x71, 4 }, { "psllw mm, imm", 0x71, 6 },
		{ "psrld mm, imm", 0x72, 2 }, { "psrad mm, imm", 0x72, 4 }, { "pslld mm, imm", 0x72, 6 },
		{ "psrlq mm, imm", 0x73, 2 }, { "psllq mm, imm", 0x73, 6 },
		{ "psrldq mm, imm (#UD)", 0x73, 3 },
	};
	static const struct { const char *name; uint8_t code[24]; int len; int membase; } seq[] = {
		{ "emms", { 0x0f, 0x77 }, 2, -1 },
		{ "movq mm0, m64; emms", { 0x0f, 0x6f, 0x03, 0x0f, 0x77 }, 5, RBX },
		{ "fld m64; movd mm1, eax", { 0xdd, 0x03, 0x0f, 0x6e, 0xc8 }, 5, RBX },
		{ "movq mm2, m64; emms; fld; fstp", { 0x0f, 0x6f, 0x13, 0x0f, 0x77, 0xdd, 0x43, 0x08,
						     0xdd, 0x5b, 0x10 }, 11, RBX },
		{ "movq mm0, m64; fstp m80", { 0x0f, 0x6f, 0x03, 0xdb, 0x7b, 0x10 }, 6, RBX },
		{ "paddb mm0, mm1; fnstsw ax", { 0x0f, 0xfc, 0xc1, 0xdf, 0xe0 }, 5, -1 },
		{ "maskmovq mm1, mm2", { 0x0f, 0xf7, 0xca }, 3, RDI },
		{ "rex.b maskmovq mm3, mm6", { 0x41, 0x0f, 0xf7, 0xde }, 4, RDI },
		{ "punpcklqdq mm (#UD)", { 0x0f, 0x6c, 0xc1 }, 3, -1 },
		{ "movq mm/m64 0f d6 (#UD)", { 0x0f, 0xd6, 0xc1 }, 3, -1 },
		{ "movntq mm, mm (#UD)", { 0x0f, 0xe7, 0xc1 }, 3, -1 },
	};
	unsigned i;
	int w;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const struct mmx_op *o = &ops[i];

		if (o->kind != MK_STM)
			mmx_add(b, o, false, false, "");
		if (o->kind != MK_GMR && o->kind != MK_GMRI && o->kind != MK_XMR && o->kind != MK_MXR)
			mmx_add(b, o, true, false, "");
	}
	for (i = 0; i < sizeof(gm) / sizeof(gm[0]); i++) {
		for (w = 0; w < 2; w++) {
			mmx_add(b, &gm[i], false, w, w ? " (64)" : " (32)");
			mmx_add(b, &gm[i], true, w, w ? " (64)" : " (32)");
		}
	}
	for (i = 0; i < sizeof(shimm) / sizeof(shimm[0]); i++) {
		struct insn in = { .opreg = -1, .modrm = true, .nop = 2 };

		in.op[0] = 0x0f; in.op[1] = shimm[i].op;
		in.reg = shimm[i].digit;
		in.rm = b->pick++ % 16;
		in.immsz = 1;
		in.imm = (b->pick * 13) % 70;
		add(b, shimm[i].name, &in, CLS_MMX, 0);
	}
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		add_raw(b, seq[i].name, seq[i].code, seq[i].len, CLS_MMX, 0, seq[i].membase);
}

int diff_forms_build(struct form *forms, int cap)
{
	struct builder b = { .forms = forms, .cap = cap };

	gen_alu(&b);
	gen_unary(&b);
	gen_imul(&b);
	gen_shifts(&b);
	gen_shd(&b);
	gen_bits(&b);
	gen_moves(&b);
	gen_cc(&b);
	gen_stack(&b);
	gen_strings(&b);
	gen_sse(&b);
	gen_x87(&b);
	gen_lock(&b);
	gen_misc(&b);
	gen_branches(&b);
	gen_x87_more(&b);
	gen_mmx(&b);
	return b.n;
}
