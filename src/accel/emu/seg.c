// SPDX-License-Identifier: GPL-2.0-only
/*
 * Segmentation (Intel SDM Vol. 3 Chapter 3 and §5.5-5.8): descriptor
 * tables, segment register loads with their protection checks, and linear
 * addresses.  Limit checks on data accesses are not implemented (64-bit
 * guests and flat 32-bit ones do not depend on them).
 */
#include "accel/emu/cpu.h"

void emu_desc_unpack(uint64_t d, struct x86_segment *s)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->type = (d >> 40) & 0xf;
	s->s = (d >> 44) & 1;
	s->dpl = (d >> 45) & 3;
	s->present = (d >> 47) & 1;
	s->avl = (d >> 52) & 1;
	s->l = (d >> 53) & 1;
	s->db = (d >> 54) & 1;
	s->g = (d >> 55) & 1;
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
	s->unusable = 0;
}

uint64_t emu_desc_read(struct emu_cpu *c, uint16_t sel, uint64_t *hi)
{
	const struct x86_dtable *t = &c->gdt;
	struct x86_dtable ldt;
	uint32_t idx = sel & ~7u;

	if (sel & 4) {
		if (c->ldt.unusable || !c->ldt.present)
			emu_raise_gp(c, sel & 0xfffc);
		ldt.base = c->ldt.base;
		ldt.limit = (uint16_t)MIN(c->ldt.limit, 0xffffu);
		t = &ldt;
	}
	if (idx + 7 > t->limit || (hi && idx + 15 > t->limit))
		emu_raise_gp(c, sel & 0xfffc);
	if (hi)
		*hi = emu_read_sys(c, t->base + idx + 8, 8);
	return emu_read_sys(c, t->base + idx, 8);
}

static void desc_set_accessed(struct emu_cpu *c, uint16_t sel, uint64_t d)
{
	uint64_t base = (sel & 4) ? c->ldt.base : c->gdt.base;

	if (!(d & (1ULL << 40)))
		emu_write_sys(c, base + (sel & ~7u) + 5, ((d >> 40) & 0xff) | 1, 1);
}

void emu_seg_load_real(struct emu_cpu *c, int sreg, uint16_t sel)
{
	struct x86_segment *s = &c->seg[sreg];

	s->selector = sel;
	s->base = (uint64_t)sel << 4;
	s->present = 1;
	s->unusable = 0;
	if (c->rflags & FL_VM) {
		s->limit = 0xffff;
		s->type = sreg == S_CS ? 0xb : 0x3;
		s->s = 1;
		s->dpl = 3;
		s->db = s->l = s->g = 0;
	}
	if (sreg == S_CS || sreg == S_SS)
		emu_cpu_update_mode(c);
}

static void seg_load_null(struct emu_cpu *c, int sreg, uint16_t sel)
{
	struct x86_segment *s = &c->seg[sreg];

	s->selector = sel;
	s->unusable = 1;
	s->present = 0;
	/* Intel clears the base of a null DS/ES (FS/GS bases are MSRs in 64-bit mode). */
	if (!(c->efer & EFER_LMA) || sreg < S_FS)
		s->base = 0;
}

void emu_seg_load(struct emu_cpu *c, int sreg, uint16_t sel)
{
	struct x86_segment ns;
	uint64_t d;
	uint8_t rpl = sel & 3;

	if (!(c->cr0 & X86_CR0_PE) || (c->rflags & FL_VM)) {
		emu_seg_load_real(c, sreg, sel);
		return;
	}
	if ((sel & ~3u) == 0) {
		/* Null selector (SDM Vol. 2 MOV: "If segment selector is NULL"). */
		if (sreg == S_SS && !(c->code64 && c->cpl < 3 && rpl == c->cpl))
			emu_raise_gp(c, 0);
		seg_load_null(c, sreg, sel);
		if (sreg == S_SS) {
			c->seg[S_SS].dpl = c->cpl;
			emu_cpu_update_mode(c);
		}
		return;
	}
	d = emu_desc_read(c, sel, NULL);
	emu_desc_unpack(d, &ns);
	if (sreg == S_SS) {
		if (rpl != c->cpl || ns.dpl != c->cpl || !ns.s || (ns.type & 0xa) != 0x2)
			emu_raise_gp(c, sel & 0xfffc);
		if (!ns.present)
			emu_raise(c, EXC_SS, sel & 0xfffc, true);
	} else {
		/* Data, or readable code. */
		if (!ns.s || ((ns.type & 8) && !(ns.type & 2)))
			emu_raise_gp(c, sel & 0xfffc);
		/* Non-conforming: DPL >= max(CPL, RPL). */
		if (!((ns.type & 0xc) == 0xc) && ns.dpl < MAX(c->cpl, rpl))
			emu_raise_gp(c, sel & 0xfffc);
		if (!ns.present)
			emu_raise(c, EXC_NP, sel & 0xfffc, true);
	}
	desc_set_accessed(c, sel, d);
	ns.type |= 1;
	ns.selector = sel;
	if ((c->efer & EFER_LMA) && sreg >= S_FS && c->code64)
		ns.base = (uint32_t)ns.base;
	c->seg[sreg] = ns;
	if (sreg == S_SS)
		emu_cpu_update_mode(c);
}

uint64_t emu_seg_linear(struct emu_cpu *c, int sreg, uint64_t ea, int size)
{
	if (c->code64)
		return sreg >= S_FS ? c->seg[sreg].base + ea : ea;
	return (c->seg[sreg].base + ea) & 0xffffffffULL;
}
