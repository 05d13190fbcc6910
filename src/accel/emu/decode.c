// SPDX-License-Identifier: GPL-2.0-only
/*
 * Instruction decoder (Intel SDM Vol. 2 Chapter 2 and Appendix A opcode
 * maps): legacy prefixes, REX, one-byte / 0F / 0F38 / 0F3A maps, ModRM, SIB,
 * displacement and immediates, for 16-, 32- and 64-bit code.
 */
#include <string.h>

#include "accel/emu/cpu.h"

/* 1 where the one-byte opcode has a ModRM byte. */
static const uint8_t modrm_1b[256] = {
	/*       0 1 2 3 4 5 6 7 8 9 a b c d e f */
	/* 0 */  1,1,1,1,0,0,0,0,1,1,1,1,0,0,0,0,
	/* 1 */  1,1,1,1,0,0,0,0,1,1,1,1,0,0,0,0,
	/* 2 */  1,1,1,1,0,0,0,0,1,1,1,1,0,0,0,0,
	/* 3 */  1,1,1,1,0,0,0,0,1,1,1,1,0,0,0,0,
	/* 4 */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* 5 */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* 6 */  0,0,1,1,0,0,0,0,0,1,0,1,0,0,0,0,
	/* 7 */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* 8 */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* 9 */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* a */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* b */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* c */  1,1,0,0,1,1,1,1,0,0,0,0,0,0,0,0,
	/* d */  1,1,1,1,0,0,0,0,1,1,1,1,1,1,1,1,
	/* e */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* f */  0,0,0,0,0,0,1,1,0,0,0,0,0,0,1,1,
};

/* 0 where the 0F xx opcode has no ModRM byte. */
static const uint8_t modrm_0f[256] = {
	/*       0 1 2 3 4 5 6 7 8 9 a b c d e f */
	/* 0 */  1,1,1,1,0,0,0,0,0,0,0,0,0,1,0,1,
	/* 1 */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* 2 */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* 3 */  0,0,0,0,0,0,0,0,1,0,1,0,0,0,0,0,
	/* 4 */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* 5 */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* 6 */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* 7 */  1,1,1,1,1,1,1,0,1,1,1,1,1,1,1,1,
	/* 8 */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* 9 */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* a */  0,0,0,1,1,1,1,1,0,0,0,1,1,1,1,1,
	/* b */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* c */  1,1,1,1,1,1,1,1,0,0,0,0,0,0,0,0,
	/* d */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* e */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* f */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
};

struct fetch {
	struct emu_cpu *c;
	const uint8_t *p;       /* host pointer to the instruction, or NULL */
	uint64_t la;
	int n;
};

static uint8_t fetch8(struct fetch *f)
{
	if (f->n >= 15)
		emu_raise_gp(f->c, 0);   /* longer than 15 bytes (SDM Vol. 2 §2.3.11) */
	if (f->p)
		return f->p[f->n++];
	{
		/* Near a page end or outside RAM: byte by byte, still through the TLB. */
		struct emu_cpu *c = f->c;
		uint64_t la = f->la + f->n++;
		bool u = emu_user(c);
		const struct emu_tlb_entry *e = &c->tlb[u][(la >> 12) & (EMU_TLB_SIZE - 1)];

		if (!c->code64)
			la &= 0xffffffffULL;
		if (e->tag_x == (la & ~0xfffULL))
			return *(const uint8_t *)(uintptr_t)(la + e->addend);
		return (uint8_t)emu_read_slow(c, la, 1, ACC_EXEC, u);
	}
}

static uint64_t fetchn(struct fetch *f, int size)
{
	uint64_t v = 0;

	for (int i = 0; i < size; i++)
		v |= (uint64_t)fetch8(f) << (8 * i);
	return v;
}

static int64_t sext(uint64_t v, int size)
{
	int sh = 64 - 8 * size;
	return (int64_t)(v << sh) >> sh;
}

static void fetch_start(struct emu_cpu *c, struct fetch *f)
{
	uint64_t la = c->code64 ? c->rip : (c->seg[S_CS].base + c->rip) & 0xffffffffULL;
	bool u = emu_user(c);
	struct emu_tlb_entry *e = &c->tlb[u][(la >> 12) & (EMU_TLB_SIZE - 1)];

	f->c = c;
	f->la = la;
	f->n = 0;
	f->p = NULL;
	if ((la & 0xfff) > 0x1000 - 15)
		return;
	if (e->tag_x != (la & ~0xfffULL)) {
		emu_mmu_translate(c, la, ACC_EXEC, u);
		if (e->tag_x != (la & ~0xfffULL))
			return;  /* not RAM: byte-wise */
	}
	f->p = (const uint8_t *)(uintptr_t)(la + e->addend);
}

static void decode_modrm16(struct fetch *f, struct emu_insn *in)
{
	static const int8_t base16[8] = { R_BX, R_BX, R_BP, R_BP, R_SI, R_DI, R_BP, R_BX };
	static const int8_t index16[8] = { R_SI, R_DI, R_SI, R_DI, -1, -1, -1, -1 };

	in->base = base16[in->rm & 7];
	in->index = index16[in->rm & 7];
	in->scale = 0;
	if (in->mod == 0 && (in->rm & 7) == 6) {
		in->base = -1;
		in->disp = (uint64_t)sext(fetchn(f, 2), 2);
	} else if (in->mod == 1) {
		in->disp = (uint64_t)sext(fetch8(f), 1);
	} else if (in->mod == 2) {
		in->disp = (uint64_t)sext(fetchn(f, 2), 2);
	}
	if (!in->seg_override && in->base == R_BP)
		in->seg = S_SS;
}

static void decode_modrm32(struct fetch *f, struct emu_insn *in, bool mode64)
{
	int rm = in->modrm & 7;

	in->base = (int8_t)in->rm;
	in->index = -1;
	in->scale = 0;
	if (rm == 4) {
		uint8_t sib = fetch8(f);
		int idx = ((sib >> 3) & 7) | ((in->rex & 2) ? 8 : 0);
		int base = (sib & 7) | ((in->rex & 1) ? 8 : 0);
		in->scale = sib >> 6;
		in->index = idx == 4 ? -1 : idx;
		in->base = (int8_t)base;
		if ((sib & 7) == 5 && in->mod == 0) {
			in->base = -1;
			in->disp = (uint64_t)sext(fetchn(f, 4), 4);
		}
	} else if (rm == 5 && in->mod == 0) {
		in->base = -1;
		in->disp = (uint64_t)sext(fetchn(f, 4), 4);
		in->rip_rel = mode64;
	}
	if (in->mod == 1)
		in->disp = (uint64_t)sext(fetch8(f), 1);
	else if (in->mod == 2)
		in->disp = (uint64_t)sext(fetchn(f, 4), 4);
	if (!in->seg_override && (in->base == R_SP || in->base == R_BP))
		in->seg = S_SS;
}

/* Immediate bytes of a one-byte opcode. */
static void decode_imm_1b(struct fetch *f, struct emu_insn *in, bool mode64)
{
	uint8_t b = (uint8_t)in->op;
	int z = in->osize == 2 ? 2 : 4;

	if (b < 0x40 && (b & 7) == 4) { in->imm = fetch8(f); return; }
	if (b < 0x40 && (b & 7) == 5) { in->imm = (uint64_t)sext(fetchn(f, z), z); return; }
	switch (b) {
	case 0x68: case 0x69: case 0x81: case 0xa9: case 0xc7:
		in->imm = (uint64_t)sext(fetchn(f, z), z);
		break;
	case 0x6a: case 0x6b: case 0x80: case 0x82: case 0x83:
	case 0x70 ... 0x7f: case 0xe0 ... 0xe3: case 0xeb:
		in->imm = (uint64_t)sext(fetch8(f), 1);
		break;
	case 0xa8: case 0xb0 ... 0xb7: case 0xc0: case 0xc1: case 0xc6:
	case 0xcd: case 0xd4: case 0xd5: case 0xe4 ... 0xe7:
		in->imm = fetch8(f);
		break;
	case 0xb8 ... 0xbf:
		in->imm = fetchn(f, in->osize);
		break;
	case 0xa0 ... 0xa3:
		in->imm = fetchn(f, in->asize);
		break;
	case 0xc2: case 0xca:
		in->imm = fetchn(f, 2);
		break;
	case 0xc8:
		in->imm = fetchn(f, 2);
		in->imm2 = fetch8(f);
		break;
	case 0xe8: case 0xe9:
		z = mode64 ? 4 : z;
		in->imm = (uint64_t)sext(fetchn(f, z), z);
		break;
	case 0x9a: case 0xea:
		in->imm = fetchn(f, z);
		in->imm2 = fetchn(f, 2);
		break;
	case 0xf6: case 0xf7:
		if (in->reg < 2 || (in->reg & 7) < 2)
			in->imm = b == 0xf6 ? fetch8(f) : (uint64_t)sext(fetchn(f, z), z);
		break;
	default:
		break;
	}
}

static void decode_imm_0f(struct fetch *f, struct emu_insn *in, bool mode64)
{
	uint8_t b = (uint8_t)in->op;
	int z = in->osize == 2 && !mode64 ? 2 : 4;

	switch (b) {
	case 0x80 ... 0x8f:
		in->imm = (uint64_t)sext(fetchn(f, z), z);
		break;
	case 0x70 ... 0x73: case 0xa4: case 0xac: case 0xba:
	case 0xc2: case 0xc4: case 0xc5: case 0xc6:
		in->imm = fetch8(f);
		break;
	default:
		break;
	}
}

void emu_decode(struct emu_cpu *c, struct emu_insn *in)
{
	struct fetch f;
	bool mode64 = c->code64;
	bool opsz = false, adsz = false;
	uint8_t b;

	fetch_start(c, &f);
	memset(in, 0, sizeof(*in));
	in->rip = c->rip;
	in->seg = S_DS;
	in->base = in->index = -1;

	for (;;) {
		b = fetch8(&f);
		switch (b) {
		case 0xf0: in->lock = true; in->rex = 0; continue;
		case 0xf2: case 0xf3: in->rep = b; in->mandatory = b; in->rex = 0; continue;
		case 0x66: opsz = true; in->mandatory = 0x66; in->rex = 0; continue;
		case 0x67: adsz = true; in->rex = 0; continue;
		case 0x26: case 0x2e: case 0x36: case 0x3e:
			if (!mode64) {
				in->seg = (b >> 3) & 3;
				in->seg_override = true;
			}
			in->rex = 0;
			continue;
		case 0x64: case 0x65:
			in->seg = b == 0x64 ? S_FS : S_GS;
			in->seg_override = true;
			in->rex = 0;
			continue;
		case 0x40 ... 0x4f:
			if (mode64) {
				in->rex = b;
				continue;
			}
			break;
		default:
			break;
		}
		break;
	}
	in->opsize_prefix = opsz;
	if (b == 0x0f) {
		b = fetch8(&f);
		if (b == 0x38)
			in->op = 0x200 | fetch8(&f);
		else if (b == 0x3a)
			in->op = 0x300 | fetch8(&f);
		else
			in->op = 0x100 | b;
		in->has_modrm = in->op >= 0x200 || modrm_0f[b];
	} else {
		in->op = b;
		in->has_modrm = modrm_1b[b];
	}

	if (mode64) {
		in->osize = (in->rex & 8) ? 8 : opsz ? 2 : 4;
		in->asize = adsz ? 4 : 8;
	} else {
		in->osize = opsz ? 6 - c->def_size : c->def_size;
		in->asize = adsz ? 6 - c->def_size : c->def_size;
	}

	if (in->has_modrm) {
		in->modrm = fetch8(&f);
		in->mod = in->modrm >> 6;
		in->reg = ((in->modrm >> 3) & 7) | ((in->rex & 4) ? 8 : 0);
		in->rm = (in->modrm & 7) | ((in->rex & 1) ? 8 : 0);
		if (in->mod != 3) {
			if (in->asize == 2)
				decode_modrm16(&f, in);
			else
				decode_modrm32(&f, in, mode64);
		}
	}

	if (in->op < 0x100)
		decode_imm_1b(&f, in, mode64);
	else if (in->op < 0x200)
		decode_imm_0f(&f, in, mode64);
	else if (in->op >= 0x300)
		in->imm = fetch8(&f);

	in->len = (uint8_t)f.n;
	in->next_rip = in->rip + f.n;
	if (!mode64)
		in->next_rip &= 0xffffffffULL;
}

uint64_t emu_ea(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t ea = emu_ea_sum(c, in);

	if (in->asize == 4)
		ea &= 0xffffffffULL;
	else if (in->asize == 2)
		ea &= 0xffff;
	return ea;
}

uint64_t emu_ea_linear(struct emu_cpu *c, const struct emu_insn *in, int size)
{
	return emu_seg_linear(c, in->seg, emu_ea(c, in), size);
}
