// SPDX-License-Identifier: GPL-2.0-only
/*
 * System instructions (Intel SDM Vol. 2 and Vol. 3): far JMP/CALL/RET,
 * INT/IRET and interrupt delivery through the IDT in real, protected and
 * IA-32e mode (Vol. 3 §6.12, §6.14), SYSCALL/SYSRET, SWAPGS, descriptor
 * table loads, MOV CR/DR, RDMSR/WRMSR, CPUID, RDTSC(P), HLT, CLI/STI.
 */
#include <string.h>

#include "vireo/util.h"
#include "accel/emu/cpu.h"
#include "accel/emu/ops.h"
#include "accel/emu/sys.h"

static void require_cpl0(struct emu_cpu *c)
{
	if (c->cpl != 0)
		emu_raise_gp(c, 0);
}

static inline bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* ---- loading CS ---- */

static void load_cs(struct emu_cpu *c, uint16_t sel, const struct x86_segment *d, uint8_t cpl)
{
	c->seg[S_CS] = *d;
	c->seg[S_CS].selector = (uint16_t)((sel & ~3u) | cpl);
	c->seg[S_CS].type |= 1;
	c->cpl = cpl;
	emu_cpu_update_mode(c);
}

/* Fetch and check a code-segment descriptor for a far transfer. */
static void code_desc(struct emu_cpu *c, uint16_t sel, struct x86_segment *d)
{
	uint64_t raw;

	if ((sel & ~3u) == 0)
		emu_raise_gp(c, 0);
	raw = emu_desc_read(c, sel, NULL);
	emu_desc_unpack(raw, d);
	if (!d->s || !(d->type & 8))
		emu_raise_gp(c, sel & 0xfffc);
	if (!d->present)
		emu_raise(c, EXC_NP, sel & 0xfffc, true);
	if ((c->efer & EFER_LMA) && d->l && d->db)
		emu_raise_gp(c, sel & 0xfffc);
}

static void far_jump(struct emu_cpu *c, uint16_t sel, uint64_t off, bool is_call, int osize,
		     uint64_t ret_rip)
{
	struct x86_segment d;

	if (!(c->cr0 & X86_CR0_PE) || (c->rflags & FL_VM)) {
		if (is_call) {
			emu_push(c, c->seg[S_CS].selector, osize);
			emu_push(c, ret_rip, osize);
		}
		emu_seg_load_real(c, S_CS, sel);
		c->rip = off & size_mask(osize);
		return;
	}
	code_desc(c, sel, &d);
	if (d.type & 4) {              /* conforming */
		if (d.dpl > c->cpl)
			emu_raise_gp(c, sel & 0xfffc);
	} else if ((sel & 3) > c->cpl || d.dpl != c->cpl) {
		emu_raise_gp(c, sel & 0xfffc);
	}
	if (is_call) {
		uint64_t sp = c->gpr[R_SP];
		emu_push(c, c->seg[S_CS].selector, osize);
		emu_push(c, ret_rip, osize);
		(void)sp;
	}
	load_cs(c, sel, &d, c->cpl);
	if (!c->code64)
		off &= osize == 2 ? 0xffff : 0xffffffff;
	else if (!canonical(off))
		emu_raise_gp(c, 0);
	c->rip = off;
}

/* Null a data segment the new (outer) privilege level may not use. */
static void check_data_seg(struct emu_cpu *c, int s)
{
	struct x86_segment *g = &c->seg[s];
	bool conforming_code = (g->type & 0xc) == 0xc;

	if (g->unusable)
		return;
	if (g->dpl < c->cpl && !conforming_code) {
		g->selector = 0;
		g->unusable = 1;
		g->present = 0;
	}
}

static void load_ss_for_return(struct emu_cpu *c, uint16_t ss_sel, uint8_t cpl)
{
	struct x86_segment d;
	uint64_t raw;

	if ((ss_sel & ~3u) == 0) {
		if (!(c->efer & EFER_LMA) || !c->code64 || cpl == 3)
			emu_raise_gp(c, 0);
		memset(&c->seg[S_SS], 0, sizeof(c->seg[S_SS]));
		c->seg[S_SS].selector = ss_sel;
		c->seg[S_SS].unusable = 1;
		c->seg[S_SS].dpl = cpl;
		c->seg[S_SS].db = 1;
		return;
	}
	raw = emu_desc_read(c, ss_sel, NULL);
	emu_desc_unpack(raw, &d);
	if ((ss_sel & 3) != cpl || d.dpl != cpl || !d.s || (d.type & 0xa) != 2)
		emu_raise_gp(c, ss_sel & 0xfffc);
	if (!d.present)
		emu_raise(c, EXC_SS, ss_sel & 0xfffc, true);
	d.selector = ss_sel;
	c->seg[S_SS] = d;
}

static void far_ret(struct emu_cpu *c, const struct emu_insn *in, uint64_t extra)
{
	int osize = in->osize;
	uint64_t off, sel;
	struct x86_segment d;

	off = emu_stack_peek(c, 0, osize);
	sel = emu_stack_peek(c, osize, osize) & 0xffff;
	if (!(c->cr0 & X86_CR0_PE) || (c->rflags & FL_VM)) {
		c->gpr[R_SP] += 2 * osize + extra;  /* 16-bit stacks: masked below */
		if (c->stack_size == 2)
			c->gpr[R_SP] &= 0xffff;
		emu_seg_load_real(c, S_CS, (uint16_t)sel);
		c->rip = off & size_mask(osize);
		return;
	}
	code_desc(c, (uint16_t)sel, &d);
	if ((sel & 3) < c->cpl)
		emu_raise_gp(c, sel & 0xfffc);
	if ((sel & 3) == c->cpl) {
		uint64_t sp = c->gpr[R_SP] + 2 * osize + extra;
		load_cs(c, (uint16_t)sel, &d, c->cpl);
		c->gpr[R_SP] = c->stack_size == 2 ? (c->gpr[R_SP] & ~0xffffULL) | (sp & 0xffff) :
			       c->stack_size == 4 ? (sp & 0xffffffff) : sp;
	} else {
		uint64_t nsp = emu_stack_peek(c, 2 * osize + extra, osize);
		uint16_t nss = (uint16_t)emu_stack_peek(c, 3 * osize + extra, osize);
		uint8_t ncpl = sel & 3;
		load_cs(c, (uint16_t)sel, &d, ncpl);
		load_ss_for_return(c, nss, ncpl);
		emu_cpu_update_mode(c);
		c->gpr[R_SP] = nsp + extra;
		for (int s = S_ES; s <= S_GS; s++)
			if (s != S_CS && s != S_SS)
				check_data_seg(c, s);
	}
	c->rip = c->code64 ? off : off & size_mask(osize == 8 ? 4 : osize);
}

/* ---- IRET (Intel SDM Vol. 2 IRET pseudocode) ---- */

static void iret(struct emu_cpu *c, const struct emu_insn *in)
{
	int osize = in->osize;
	uint64_t rip, cs, fl, rsp = 0, ss = 0;
	uint64_t mask;
	struct x86_segment d;
	uint8_t ncpl;
	bool long_ret = c->code64;

	c->nmi_blocked = false;
	if (!(c->cr0 & X86_CR0_PE)) {
		rip = emu_stack_peek(c, 0, osize);
		cs = emu_stack_peek(c, osize, osize);
		fl = emu_stack_peek(c, 2 * osize, osize);
		c->gpr[R_SP] = (c->gpr[R_SP] & ~size_mask(c->stack_size)) |
			       ((c->gpr[R_SP] + 3 * osize) & size_mask(c->stack_size));
		emu_seg_load_real(c, S_CS, (uint16_t)cs);
		c->rip = rip & size_mask(osize);
		mask = FL_ARITH | FL_TF | FL_IF | FL_DF | FL_IOPL | FL_NT |
		       (osize == 4 ? FL_AC | FL_ID | FL_RF : 0);
		emu_flags_set(c, fl, mask);
		return;
	}
	if (c->rflags & FL_VM)
		emu_raise_gp(c, 0);   /* virtual-8086 mode is not supported */
	if ((c->rflags & FL_NT) && !(c->efer & EFER_LMA))
		emu_raise_gp(c, 0);   /* task return: task switching not supported */

	rip = emu_stack_peek(c, 0, osize);
	cs = emu_stack_peek(c, osize, osize) & 0xffff;
	fl = emu_stack_peek(c, 2 * osize, osize);
	if (fl & FL_VM && c->cpl == 0 && !(c->efer & EFER_LMA))
		emu_raise_gp(c, 0);
	code_desc(c, (uint16_t)cs, &d);
	ncpl = cs & 3;
	if (ncpl < c->cpl)
		emu_raise_gp(c, cs & 0xfffc);
	if ((d.type & 4) ? d.dpl > ncpl : d.dpl != ncpl)
		emu_raise_gp(c, cs & 0xfffc);
	if (long_ret || ncpl != c->cpl) {
		rsp = emu_stack_peek(c, 3 * osize, osize);
		ss = emu_stack_peek(c, 4 * osize, osize) & 0xffff;
	}
	if ((c->efer & EFER_LMA) && d.l && !canonical(rip))
		emu_raise_gp(c, 0);

	/* Flags: IOPL only at CPL 0, IF only when CPL <= IOPL (old CPL). */
	mask = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_RF;
	if (osize >= 4)
		mask |= FL_AC | FL_ID | (c->cpl == 0 ? FL_VIF | FL_VIP : 0);
	if (c->cpl == 0)
		mask |= FL_IOPL;
	if (c->cpl <= ((c->rflags & FL_IOPL) >> 12))
		mask |= FL_IF;
	if (osize == 2)
		mask &= 0xffff;

	{
		uint8_t old_cpl = c->cpl;
		uint64_t old_sp = c->gpr[R_SP];
		load_cs(c, (uint16_t)cs, &d, ncpl);
		if (long_ret || ncpl != old_cpl) {
			load_ss_for_return(c, (uint16_t)ss, ncpl);
			emu_cpu_update_mode(c);
			c->gpr[R_SP] = rsp;
			if (c->stack_size == 4)
				c->gpr[R_SP] &= 0xffffffff;
		} else {
			uint64_t sp = old_sp + 3 * osize;
			uint64_t m = size_mask(c->stack_size);
			c->gpr[R_SP] = (old_sp & ~m) | (sp & m);
		}
		if (ncpl != old_cpl)
			for (int s = S_ES; s <= S_GS; s++)
				if (s != S_CS && s != S_SS)
					check_data_seg(c, s);
	}
	c->cpl = ncpl;
	emu_flags_set(c, fl, mask);
	c->rip = c->code64 ? rip : rip & (osize == 2 ? 0xffff : 0xffffffff);
}

/* ---- interrupt and exception delivery ---- */

static void deliver_real(struct emu_cpu *c, int vec, uint64_t ret_rip)
{
	uint64_t ent;

	if ((uint32_t)vec * 4 + 3 > c->idt.limit)
		emu_raise_gp(c, 0);
	ent = emu_read_sys(c, c->idt.base + vec * 4, 4);
	emu_push(c, emu_flags_get(c) & 0xffff, 2);
	emu_push(c, c->seg[S_CS].selector, 2);
	emu_push(c, ret_rip & 0xffff, 2);
	c->rflags &= ~(uint64_t)(FL_IF | FL_TF | FL_AC | FL_RF);
	emu_seg_load_real(c, S_CS, (uint16_t)(ent >> 16));
	c->rip = ent & 0xffff;
}

static uint64_t tss_read(struct emu_cpu *c, uint32_t off, int size)
{
	if (c->tr.unusable || off + size - 1 > c->tr.limit)
		emu_raise(c, EXC_TS, c->tr.selector & 0xfffc, true);
	return emu_read_sys(c, c->tr.base + off, size);
}

static void push_sys(struct emu_cpu *c, uint64_t *sp, uint64_t v, int size, bool is64)
{
	*sp -= size;
	if (!is64)
		*sp &= c->stack_size == 2 ? 0xffff : 0xffffffff;
	emu_write_sys(c, is64 ? *sp : (c->seg[S_SS].base + *sp) & 0xffffffff, v, size);
}

static void deliver_long(struct emu_cpu *c, int vec, uint32_t err, bool has_err, bool soft,
			 uint64_t ret_rip)
{
	uint64_t lo, hi, off, sp, fl = emu_flags_get(c);
	uint16_t sel;
	unsigned type, dpl, ist;
	struct x86_segment d;
	uint8_t ncpl, ocpl = c->cpl;
	uint16_t old_ss = c->seg[S_SS].selector, old_cs = c->seg[S_CS].selector;
	uint64_t old_sp = c->gpr[R_SP];
	uint32_t ierr = vec * 8 + 2 + (soft ? 0 : 1);

	if ((uint32_t)vec * 16 + 15 > c->idt.limit)
		emu_raise_gp(c, ierr);
	lo = emu_read_sys(c, c->idt.base + vec * 16, 8);
	hi = emu_read_sys(c, c->idt.base + vec * 16 + 8, 8);
	type = (lo >> 40) & 0xf;
	dpl = (lo >> 45) & 3;
	if (type != 0xe && type != 0xf)
		emu_raise_gp(c, ierr);
	if (soft && dpl < c->cpl)
		emu_raise_gp(c, ierr);
	if (!((lo >> 47) & 1))
		emu_raise(c, EXC_NP, ierr, true);
	sel = (uint16_t)(lo >> 16);
	off = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ULL) | (hi << 32);
	ist = (lo >> 32) & 7;
	code_desc(c, sel, &d);
	if (!d.l || d.db || d.dpl > c->cpl)
		emu_raise_gp(c, sel & 0xfffc);
	ncpl = (d.type & 4) ? c->cpl : d.dpl;

	if (ist)
		sp = tss_read(c, 0x24 + (ist - 1) * 8, 8);
	else if (ncpl != c->cpl)
		sp = tss_read(c, 4 + ncpl * 8, 8);
	else
		sp = c->gpr[R_SP];
	if (!canonical(sp))
		emu_raise(c, EXC_SS, 0, true);
	sp &= ~0xfULL;

	push_sys(c, &sp, old_ss, 8, true);
	push_sys(c, &sp, old_sp, 8, true);
	push_sys(c, &sp, fl, 8, true);
	push_sys(c, &sp, old_cs, 8, true);
	push_sys(c, &sp, ret_rip, 8, true);
	if (has_err)
		push_sys(c, &sp, err, 8, true);

	load_cs(c, sel, &d, ncpl);
	if (ncpl != ocpl) {
		memset(&c->seg[S_SS], 0, sizeof(c->seg[S_SS]));
		c->seg[S_SS].selector = ncpl;
		c->seg[S_SS].unusable = 1;
		c->seg[S_SS].dpl = ncpl;
		emu_cpu_update_mode(c);
	}
	c->gpr[R_SP] = sp;
	c->rip = off;
	c->rflags = fl & ~(uint64_t)(FL_TF | FL_NT | FL_RF | FL_VM | (type == 0xe ? FL_IF : 0));
	c->cc_op = CC_EFLAGS;
}

static void deliver_prot(struct emu_cpu *c, int vec, uint32_t err, bool has_err, bool soft,
			 uint64_t ret_rip)
{
	uint64_t g, off, sp, fl = emu_flags_get(c);
	uint16_t sel;
	unsigned type, dpl;
	struct x86_segment d;
	uint8_t ncpl, ocpl = c->cpl;
	uint32_t ierr = vec * 8 + 2 + (soft ? 0 : 1);
	int gsize;
	uint16_t old_ss = c->seg[S_SS].selector;
	uint64_t old_sp = c->gpr[R_SP];

	if ((uint32_t)vec * 8 + 7 > c->idt.limit)
		emu_raise_gp(c, ierr);
	g = emu_read_sys(c, c->idt.base + vec * 8, 8);
	type = (g >> 40) & 0xf;
	dpl = (g >> 45) & 3;
	if (type != 0xe && type != 0xf && type != 0x6 && type != 0x7)
		emu_raise_gp(c, ierr);   /* task gates are not supported */
	if (soft && dpl < c->cpl)
		emu_raise_gp(c, ierr);
	if (!((g >> 47) & 1))
		emu_raise(c, EXC_NP, ierr, true);
	gsize = (type & 8) ? 4 : 2;
	sel = (uint16_t)(g >> 16);
	off = (g & 0xffff) | ((g >> 32) & 0xffff0000ULL);
	code_desc(c, sel, &d);
	if (d.dpl > c->cpl)
		emu_raise_gp(c, sel & 0xfffc);
	ncpl = (d.type & 4) ? c->cpl : d.dpl;

	if (ncpl != ocpl) {
		uint16_t nss;
		uint64_t nsp;
		struct x86_segment sd;
		if (c->tr.type & 8) {
			nsp = tss_read(c, 4 + ncpl * 8, 4);
			nss = (uint16_t)tss_read(c, 8 + ncpl * 8, 2);
		} else {
			nsp = tss_read(c, 2 + ncpl * 4, 2);
			nss = (uint16_t)tss_read(c, 4 + ncpl * 4, 2);
		}
		emu_desc_unpack(emu_desc_read(c, nss, NULL), &sd);
		if ((nss & 3) != ncpl || sd.dpl != ncpl || !sd.s || (sd.type & 0xa) != 2)
			emu_raise(c, EXC_TS, nss & 0xfffc, true);
		sd.selector = nss;
		c->seg[S_SS] = sd;
		emu_cpu_update_mode(c);
		sp = nsp;
		push_sys(c, &sp, old_ss, gsize, false);
		push_sys(c, &sp, old_sp, gsize, false);
	} else {
		sp = c->gpr[R_SP];
	}
	push_sys(c, &sp, fl, gsize, false);
	push_sys(c, &sp, c->seg[S_CS].selector, gsize, false);
	push_sys(c, &sp, ret_rip, gsize, false);
	if (has_err)
		push_sys(c, &sp, err, gsize, false);
	load_cs(c, sel, &d, ncpl);
	if (c->stack_size == 2)
		c->gpr[R_SP] = (c->gpr[R_SP] & ~0xffffULL) | (sp & 0xffff);
	else
		c->gpr[R_SP] = sp & 0xffffffff;
	c->rip = off & (gsize == 2 ? 0xffff : 0xffffffff);
	c->rflags = fl & ~(uint64_t)(FL_TF | FL_NT | FL_RF | FL_VM | ((type & 1) ? 0 : FL_IF));
	c->cc_op = CC_EFLAGS;
}

void emu_deliver(struct emu_cpu *c, int vec, uint32_t err, bool has_err, bool soft,
		 uint64_t ret_rip)
{
	c->halted = false;
	if (!(c->cr0 & X86_CR0_PE))
		deliver_real(c, vec, ret_rip);
	else if (c->efer & EFER_LMA)
		deliver_long(c, vec, err, has_err, soft, ret_rip);
	else
		deliver_prot(c, vec, err, has_err, soft, ret_rip);
}

/* ---- SYSCALL / SYSRET (Intel SDM Vol. 2) ---- */

static void flat_seg(struct x86_segment *s, uint16_t sel, bool code, bool l, uint8_t dpl)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->type = code ? 0xb : 0x3;
	s->s = 1;
	s->dpl = dpl;
	s->present = 1;
	s->l = l;
	s->db = !l || !code;
	s->g = 1;
}

static void syscall_op(struct emu_cpu *c, const struct emu_insn *in)
{
	uint16_t sel = (uint16_t)(c->star >> 32);

	if (!(c->efer & EFER_SCE) || !(c->efer & EFER_LMA))
		emu_raise_ud(c);
	c->gpr[R_CX] = in->next_rip;
	c->gpr[11] = emu_flags_get(c) & ~(uint64_t)FL_RF;
	flat_seg(&c->seg[S_CS], sel & 0xfffc, true, true, 0);
	flat_seg(&c->seg[S_SS], (sel + 8) & 0xfffc, false, false, 0);
	c->cpl = 0;
	emu_cpu_update_mode(c);
	c->rflags = (emu_flags_get(c) & ~c->sfmask & ~(uint64_t)FL_RF) | X86_RFLAGS_FIXED;
	c->cc_op = CC_EFLAGS;
	c->rip = c->code64 ? c->lstar : c->cstar;
	(void)c->code64;
	c->rip = (c->seg[S_CS].l) ? c->lstar : c->cstar;
}

static void sysret_op(struct emu_cpu *c, const struct emu_insn *in)
{
	uint16_t sel = (uint16_t)(c->star >> 48);

	if (!(c->efer & EFER_SCE))
		emu_raise_ud(c);
	if (c->cpl != 0 || !c->code64)
		emu_raise_gp(c, 0);
	if (in->rex & 8) {
		if (!canonical(c->gpr[R_CX]))
			emu_raise_gp(c, 0);
		flat_seg(&c->seg[S_CS], (uint16_t)((sel + 16) | 3), true, true, 3);
		c->rip = c->gpr[R_CX];
	} else {
		flat_seg(&c->seg[S_CS], (uint16_t)(sel | 3), true, false, 3);
		c->rip = c->gpr[R_CX] & 0xffffffff;
	}
	/* SS keeps a flat data descriptor: only the selector comes from STAR. */
	flat_seg(&c->seg[S_SS], (uint16_t)((sel + 8) | 3), false, false, 3);
	c->cpl = 3;
	emu_flags_set(c, (c->gpr[11] & 0x3c7fd7) | X86_RFLAGS_FIXED, ~0ULL);
	emu_cpu_update_mode(c);
}

/* ---- descriptor-table registers (group 6 / 7) ---- */

static void load_system_seg(struct emu_cpu *c, uint16_t sel, bool tss)
{
	struct x86_segment d;
	uint64_t raw, hi = 0, base;

	if ((sel & ~3u) == 0) {
		if (tss)
			emu_raise_gp(c, 0);
		memset(&c->ldt, 0, sizeof(c->ldt));
		c->ldt.selector = sel;
		c->ldt.unusable = 1;
		return;
	}
	if (sel & 4)
		emu_raise_gp(c, sel & 0xfffc);
	raw = emu_desc_read(c, sel, (c->efer & EFER_LMA) ? &hi : NULL);
	emu_desc_unpack(raw, &d);
	if (d.s || (tss ? (d.type != 9 && d.type != 1) : d.type != 2))
		emu_raise_gp(c, sel & 0xfffc);
	if (!d.present)
		emu_raise(c, EXC_NP, sel & 0xfffc, true);
	if (c->efer & EFER_LMA)
		d.base |= (hi & 0xffffffff) << 32;
	d.selector = sel;
	if (tss) {
		/* Mark busy in the GDT (type 9 -> 11). */
		base = c->gdt.base + (sel & ~7u) + 5;
		emu_write_sys(c, base, ((raw >> 40) & 0xff) | 2, 1);
		d.type |= 2;
		c->tr = d;
	} else {
		c->ldt = d;
	}
}

static void grp6(struct emu_cpu *c, struct emu_insn *in)
{
	if (!(c->cr0 & X86_CR0_PE) || (c->rflags & FL_VM))
		emu_raise_ud(c);
	switch (in->reg & 7) {
	case 0: /* SLDT */
		emu_rm_write(c, in, c->ldt.selector, in->mod == 3 ? in->osize : 2);
		break;
	case 1: /* STR */
		emu_rm_write(c, in, c->tr.selector, in->mod == 3 ? in->osize : 2);
		break;
	case 2: /* LLDT */
		require_cpl0(c);
		load_system_seg(c, (uint16_t)emu_rm_read(c, in, 2), false);
		break;
	case 3: /* LTR */
		require_cpl0(c);
		load_system_seg(c, (uint16_t)emu_rm_read(c, in, 2), true);
		break;
	case 4: case 5: { /* VERR / VERW */
		uint16_t sel = (uint16_t)emu_rm_read(c, in, 2);
		bool ok = false;
		struct x86_segment d;
		uint64_t gdt_lim = (sel & 4) ? c->ldt.limit : c->gdt.limit;
		if ((sel & ~3u) && (sel | 7u) <= gdt_lim) {
			emu_desc_unpack(emu_desc_read(c, sel, NULL), &d);
			bool code = d.type & 8;
			if (d.s && d.dpl >= MAX(c->cpl, sel & 3))
				ok = (in->reg & 7) == 4 ? (!code || (d.type & 2)) : (!code && (d.type & 2));
		}
		emu_flags_set(c, ok ? FL_ZF : 0, FL_ZF);
		break;
	}
	default:
		emu_raise_ud(c);
	}
}

static void grp7_mem(struct emu_cpu *c, struct emu_insn *in)
{
	uint64_t ea = emu_ea(c, in), la;
	int bsz = c->code64 ? 8 : 4;
	struct x86_dtable *t;

	switch (in->reg & 7) {
	case 0: case 1: /* SGDT / SIDT */
		t = (in->reg & 7) ? &c->idt : &c->gdt;
		la = emu_seg_linear(c, in->seg, ea, 2);
		prep_write(c, la, 2 + bsz);
		emu_write(c, la, t->limit, 2);
		emu_write(c, emu_seg_linear(c, in->seg, ea + 2, bsz), t->base, bsz);
		break;
	case 2: case 3: { /* LGDT / LIDT */
		uint64_t lim, base;
		require_cpl0(c);
		t = (in->reg & 7) == 3 ? &c->idt : &c->gdt;
		lim = emu_read(c, emu_seg_linear(c, in->seg, ea, 2), 2);
		base = emu_read(c, emu_seg_linear(c, in->seg, ea + 2, bsz), bsz);
		if (!c->code64 && in->osize == 2)
			base &= 0xffffff;
		if (c->code64 && !canonical(base))
			emu_raise_gp(c, 0);
		t->limit = (uint16_t)lim;
		t->base = base;
		break;
	}
	case 4: /* SMSW */
		emu_rm_write(c, in, c->cr0 & 0xffff, 2);
		break;
	case 6: /* LMSW: can set PE, not clear it */
		require_cpl0(c);
		emu_cpu_set_cr0(c, (c->cr0 & ~0xeULL) | (emu_rm_read(c, in, 2) & 0xf) | (c->cr0 & 1));
		break;
	case 7: /* INVLPG */
		require_cpl0(c);
		emu_tlb_flush_page(c, emu_seg_linear(c, in->seg, ea, 1));
		c->code_gen++;
		break;
	default:
		emu_raise_ud(c);
	}
}

static void rdtscp_op(struct emu_cpu *c, bool with_aux)
{
	uint64_t t;

	if ((c->cr4 & (1ULL << 2)) && c->cpl != 0)  /* CR4.TSD */
		emu_raise_gp(c, 0);
	t = (c->tsc_read ? c->tsc_read(c) : c->icount) + (uint64_t)c->tsc_offset;
	c->gpr[R_AX] = t & 0xffffffff;
	c->gpr[R_DX] = t >> 32;
	if (with_aux)
		c->gpr[R_CX] = c->tsc_aux & 0xffffffff;
}

static void grp7(struct emu_cpu *c, struct emu_insn *in)
{
	if (in->mod != 3) {
		grp7_mem(c, in);
		return;
	}
	switch (in->modrm) {
	case 0xf8: /* SWAPGS */
		if (!c->code64)
			emu_raise_ud(c);
		require_cpl0(c);
		{
			uint64_t t = c->seg[S_GS].base;
			c->seg[S_GS].base = c->kernel_gs_base;
			c->kernel_gs_base = t;
		}
		break;
	case 0xf9: /* RDTSCP */
		rdtscp_op(c, true);
		break;
	case 0xca: case 0xcb: /* CLAC / STAC without SMAP */
	case 0xd0: /* XGETBV without XSAVE */
	default:
		if ((in->reg & 7) == 4) {
			emu_rm_write(c, in, c->cr0 & 0xffff, in->osize);
			break;
		}
		if ((in->reg & 7) == 6) {
			require_cpl0(c);
			emu_cpu_set_cr0(c, (c->cr0 & ~0xeULL) | (emu_rm_read(c, in, 2) & 0xf) | (c->cr0 & 1));
			break;
		}
		emu_raise_ud(c);
	}
}

/* ---- MOV CRn / DRn ---- */

static void mov_cr(struct emu_cpu *c, struct emu_insn *in, bool to_cr)
{
	int n = in->reg;
	int size = c->code64 ? 8 : 4;
	uint64_t v;

	require_cpl0(c);
	if (!to_cr) {
		switch (n) {
		case 0: v = c->cr0; break;
		case 2: v = c->cr2; break;
		case 3: v = c->cr3; break;
		case 4: v = c->cr4; break;
		case 8: v = c->get_cr8 ? c->get_cr8(c) : c->cr8; break;
		default: emu_raise_ud(c);
		}
		reg_set(c, in->rm, v, size, true);
		return;
	}
	v = reg_get(c, in->rm, size, true);
	switch (n) {
	case 0: emu_cpu_set_cr0(c, v); break;
	case 2: c->cr2 = v; break;
	case 3: emu_cpu_set_cr3(c, v); break;
	case 4: emu_cpu_set_cr4(c, v); break;
	case 8:
		if (v & ~0xfULL)
			emu_raise_gp(c, 0);
		if (c->set_cr8)
			c->set_cr8(c, v);
		c->cr8 = v;
		break;
	default: emu_raise_ud(c);
	}
}

static void mov_dr(struct emu_cpu *c, struct emu_insn *in, bool to_dr)
{
	int n = in->reg & 7;
	int size = c->code64 ? 8 : 4;

	require_cpl0(c);
	if (in->reg > 7)
		emu_raise_ud(c);
	if (n == 4 || n == 5) {
		if (c->cr4 & (1ULL << 3))   /* CR4.DE */
			emu_raise_ud(c);
		n += 2;
	}
	if (to_dr) {
		uint64_t v = reg_get(c, in->rm, size, true);
		if (n >= 6 && (v >> 32))
			emu_raise_gp(c, 0);
		c->dr[n] = v;
	} else {
		uint64_t v = c->dr[n];
		if (n == 6) v |= 0xffff0ff0;
		if (n == 7) v |= 0x400;
		reg_set(c, in->rm, v, size, true);
	}
}

/* ---- the rest ---- */

bool emu_sys_io_allowed(struct emu_cpu *c)
{
	if (!(c->cr0 & X86_CR0_PE))
		return true;
	if (c->rflags & FL_VM)
		return false;   /* would need the TSS I/O bitmap */
	return c->cpl <= ((c->rflags & FL_IOPL) >> 12);
}

void emu_sys_hlt(struct emu_cpu *c, struct emu_insn *in)
{
	require_cpl0(c);
	c->halted = true;
}

void emu_sys_pause(struct emu_cpu *c)
{
	c->pause_count++;
}

void emu_sys_cli_sti(struct emu_cpu *c, bool sti)
{
	if ((c->cr0 & X86_CR0_PE) && c->cpl > ((c->rflags & FL_IOPL) >> 12))
		emu_raise_gp(c, 0);
	if (sti) {
		if (!(c->rflags & FL_IF))
			c->irq_inhibit = true;
		c->rflags |= FL_IF;
	} else {
		c->rflags &= ~(uint64_t)FL_IF;
	}
}

static void cpuid_op(struct emu_cpu *c)
{
	uint32_t out[4] = { 0, 0, 0, 0 };

	if (c->cpuid)
		c->cpuid(c, (uint32_t)c->gpr[R_AX], (uint32_t)c->gpr[R_CX], out);
	c->gpr[R_AX] = out[0];
	c->gpr[R_BX] = out[1];
	c->gpr[R_CX] = out[2];
	c->gpr[R_DX] = out[3];
}

static void load_far_ptr(struct emu_cpu *c, struct emu_insn *in, int sreg)
{
	int osz = in->osize;
	uint64_t ea, off, sel;

	if (in->mod == 3)
		emu_raise_ud(c);
	ea = emu_ea(c, in);
	off = emu_read(c, emu_seg_linear(c, in->seg, ea, osz), osz);
	sel = emu_read(c, emu_seg_linear(c, in->seg, ea + osz, 2), 2);
	emu_seg_load(c, sreg, (uint16_t)sel);
	reg_set(c, in->reg, off, osz, true);
	if (sreg == S_SS)
		c->irq_inhibit = true;
}

static void far_indirect(struct emu_cpu *c, struct emu_insn *in, bool call)
{
	int osz = in->osize;
	uint64_t ea, off, sel;

	if (in->mod == 3)
		emu_raise_ud(c);
	ea = emu_ea(c, in);
	off = emu_read(c, emu_seg_linear(c, in->seg, ea, osz), osz);
	sel = emu_read(c, emu_seg_linear(c, in->seg, ea + osz, 2), 2);
	far_jump(c, (uint16_t)sel, off, call, osz, in->next_rip);
}

static bool sys_0f(struct emu_cpu *c, struct emu_insn *in)
{
	uint64_t v;

	switch (in->op & 0xff) {
	case 0x00: grp6(c, in); break;
	case 0x01: grp7(c, in); break;
	case 0x05: syscall_op(c, in); return true;
	case 0x06: require_cpl0(c); c->cr0 &= ~X86_CR0_TS; break;
	case 0x07: sysret_op(c, in); return true;
	case 0x08: case 0x09: require_cpl0(c); break;   /* INVD / WBINVD */
	case 0x20: mov_cr(c, in, false); break;
	case 0x22: mov_cr(c, in, true); c->rip = in->next_rip; return true;
	case 0x21: mov_dr(c, in, false); break;
	case 0x23: mov_dr(c, in, true); break;
	case 0x30: /* WRMSR */
		require_cpl0(c);
		if (emu_msr_write(c, (uint32_t)c->gpr[R_CX],
				  (c->gpr[R_AX] & 0xffffffff) | (c->gpr[R_DX] << 32)))
			emu_raise_gp(c, 0);
		break;
	case 0x32: /* RDMSR */
		require_cpl0(c);
		if (emu_msr_read(c, (uint32_t)c->gpr[R_CX], &v))
			emu_raise_gp(c, 0);
		c->gpr[R_AX] = v & 0xffffffff;
		c->gpr[R_DX] = v >> 32;
		break;
	case 0x31: rdtscp_op(c, false); break;
	case 0x33: emu_raise_gp(c, 0);
	case 0xa0: emu_push(c, c->seg[S_FS].selector, c->code64 ? (in->opsize_prefix ? 2 : 8) : in->osize); break;
	case 0xa8: emu_push(c, c->seg[S_GS].selector, c->code64 ? (in->opsize_prefix ? 2 : 8) : in->osize); break;
	case 0xa1: case 0xa9: {
		int s = c->code64 ? (in->opsize_prefix ? 2 : 8) : in->osize;
		v = emu_stack_peek(c, 0, s);
		emu_seg_load(c, (in->op & 0xff) == 0xa1 ? S_FS : S_GS, (uint16_t)v);
		c->gpr[R_SP] = (c->gpr[R_SP] & ~size_mask(c->stack_size)) |
			       ((c->gpr[R_SP] + s) & size_mask(c->stack_size));
		break;
	}
	case 0xa2: cpuid_op(c); break;
	case 0xb2: load_far_ptr(c, in, S_SS); break;
	case 0xb4: load_far_ptr(c, in, S_FS); break;
	case 0xb5: load_far_ptr(c, in, S_GS); break;
	case 0xae: /* group 15 fences and CLFLUSH reach here only via sse.c */
	default:
		return false;
	}
	c->rip = in->next_rip;
	return true;
}

bool emu_sys_exec(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;

	if (in->op >= 0x100)
		return sys_0f(c, in);
	switch (op) {
	case 0x9a: case 0xea:
		if (c->code64)
			emu_raise_ud(c);
		far_jump(c, (uint16_t)in->imm2, in->imm, op == 0x9a, in->osize, in->next_rip);
		return true;
	case 0xff:
		far_indirect(c, in, (in->reg & 7) == 3);
		return true;
	case 0xc4: case 0xc5:
		if (c->code64 || in->mod == 3)
			emu_raise_ud(c);   /* VEX is not supported */
		load_far_ptr(c, in, op == 0xc4 ? S_ES : S_DS);
		break;
	case 0xca: case 0xcb:
		far_ret(c, in, op == 0xca ? in->imm : 0);
		return true;
	case 0xcc:
		emu_deliver(c, EXC_BP, 0, false, true, in->next_rip);
		return true;
	case 0xcd:
		if ((c->rflags & FL_VM) && ((c->rflags & FL_IOPL) >> 12) < 3)
			emu_raise_gp(c, 0);
		emu_deliver(c, (int)in->imm, 0, false, true, in->next_rip);
		return true;
	case 0xce:
		if (c->code64)
			emu_raise_ud(c);
		if (emu_flags_get(c) & FL_OF) {
			emu_deliver(c, EXC_OF, 0, false, true, in->next_rip);
			return true;
		}
		break;
	case 0xf1:
		emu_deliver(c, EXC_DB, 0, false, false, in->next_rip);
		return true;
	case 0xcf:
		iret(c, in);
		return true;
	case 0xd4: case 0xd5: {
		uint8_t al = c->gpr[R_AX] & 0xff, ah = (c->gpr[R_AX] >> 8) & 0xff, base = (uint8_t)in->imm;
		if (c->code64)
			emu_raise_ud(c);
		if (op == 0xd4) {
			if (!base)
				emu_raise(c, EXC_DE, 0, false);
			ah = al / base;
			al = al % base;
		} else {
			al = (uint8_t)(al + ah * base);
			ah = 0;
		}
		reg_set(c, R_AX, (uint64_t)al | ((uint64_t)ah << 8), 2, false);
		emu_flags_set(c, (al ? 0 : FL_ZF) | ((al & 0x80) ? FL_SF : 0) | emu_parity_table[al],
			      FL_ARITH);
		break;
	}
	default:
		return false;
	}
	c->rip = in->next_rip;
	return true;
}

static void bcd_adjust(struct emu_cpu *c, uint8_t op)
{
	uint64_t f = emu_flags_get(c);
	uint8_t al = c->gpr[R_AX] & 0xff, old_al = al;
	bool cf = f & FL_CF, af = f & FL_AF, ncf = false, naf = false;

	switch (op) {
	case 0x27: case 0x2f: /* DAA / DAS */
		if ((al & 0xf) > 9 || af) {
			al = op == 0x27 ? al + 6 : al - 6;
			ncf = cf || (op == 0x27 ? old_al > 0xf9 : old_al < 6);
			naf = true;
		}
		if (old_al > 0x99 || cf) {
			al = op == 0x27 ? al + 0x60 : al - 0x60;
			ncf = true;
		}
		reg_set(c, R_AX, al, 1, false);
		emu_flags_set(c, (ncf ? FL_CF : 0) | (naf ? FL_AF : 0) | (al ? 0 : FL_ZF) |
			      ((al & 0x80) ? FL_SF : 0) | emu_parity_table[al], FL_ARITH);
		return;
	default: { /* AAA / AAS */
		uint16_t ax = c->gpr[R_AX] & 0xffff;
		if ((al & 0xf) > 9 || af) {
			ax = op == 0x37 ? ax + 0x106 : ax - 0x106;
			ncf = naf = true;
		}
		ax &= 0xff0f;
		reg_set(c, R_AX, ax, 2, false);
		emu_flags_set(c, (ncf ? FL_CF : 0) | (naf ? FL_AF : 0), FL_ARITH);
		return;
	}
	}
}

void emu_sys_legacy(struct emu_cpu *c, struct emu_insn *in)
{
	uint8_t op = (uint8_t)in->op;
	int s = in->osize;

	switch (op) {
	case 0x06: case 0x0e: case 0x16: case 0x1e:
		emu_push(c, c->seg[op >> 3].selector, s);
		break;
	case 0x07: case 0x17: case 0x1f: {
		uint64_t v = emu_stack_peek(c, 0, s);
		emu_seg_load(c, op >> 3, (uint16_t)v);
		c->gpr[R_SP] = (c->gpr[R_SP] & ~size_mask(c->stack_size)) |
			       ((c->gpr[R_SP] + s) & size_mask(c->stack_size));
		if (op == 0x17)
			c->irq_inhibit = true;
		break;
	}
	case 0x27: case 0x2f: case 0x37: case 0x3f:
		bcd_adjust(c, op);
		break;
	case 0x60: { /* PUSHA */
		uint64_t sp = c->gpr[R_SP];
		uint64_t vals[8];
		for (int i = 0; i < 8; i++)
			vals[i] = i == R_SP ? sp : c->gpr[i];
		uint64_t nsp = sp;
		for (int i = 0; i < 8; i++) {
			nsp = (nsp - s) & size_mask(c->stack_size);
			emu_write(c, emu_seg_linear(c, S_SS, nsp, s), vals[i], s);
		}
		c->gpr[R_SP] = (sp & ~size_mask(c->stack_size)) | nsp;
		break;
	}
	case 0x61: { /* POPA */
		uint64_t vals[8];
		for (int i = 0; i < 8; i++)
			vals[7 - i] = emu_stack_peek(c, (uint64_t)i * s, s);
		for (int i = 0; i < 8; i++)
			if (i != R_SP)
				reg_set(c, i, vals[i], s, false);
		c->gpr[R_SP] = (c->gpr[R_SP] & ~size_mask(c->stack_size)) |
			       ((c->gpr[R_SP] + 8 * s) & size_mask(c->stack_size));
		break;
	}
	default:
		emu_raise_ud(c);   /* BOUND and friends */
	}
	(void)in;
}

/* ---- MSRs (Intel SDM Vol. 4) owned by the CPU itself ---- */

/*
 * IA32_ARCH_CAPABILITIES (SDM Vol. 4 Table 2-2; Linux msr-index.h ARCH_CAP_*):
 * only the "not susceptible" bits, each true of an in-order interpreter
 * that neither speculates nor has fill buffers, an L1D, a shared TLB or a
 * branch predictor: RDCL_NO (0, Meltdown/L1TF), SKIP_L1DFL_VMENTRY (3, no
 * VMX to enter), SSB_NO (4), MDS_NO (5), IF_PSCHANGE_MC_NO (6, iTLB
 * multihit), TAA_NO (8), SBDR_SSDP_NO (13), FBSDP_NO (14), PSDP_NO (15)
 * (MMIO stale data), BHI_NO (20), PBRSB_NO (24), GDS_NO (26), RFDS_NO (27),
 * ITS_NO (62, indirect target selection: Linux otherwise assumes any guest
 * may run on an affected host and patches every return and indirect
 * branch into an aligned thunk).  Not set: the bits that announce a
 * mechanism (IBRS_ALL, TSX_CTRL, FB_CLEAR, DOITM...) or a weakness (RSBA,
 * RRSBA).  Read-only: WRMSR is #GP.
 */
#define X86_ARCH_CAP_EMU ((1ULL << 0) | (1ULL << 3) | (1ULL << 4) | (1ULL << 5) | \
			  (1ULL << 6) | (1ULL << 8) | (1ULL << 13) | (1ULL << 14) | \
			  (1ULL << 15) | (1ULL << 20) | (1ULL << 24) | (1ULL << 26) | \
			  (1ULL << 27) | (1ULL << 62))

int emu_msr_read(struct emu_cpu *c, uint32_t idx, uint64_t *val)
{
	switch (idx) {
	case MSR_EFER: *val = c->efer; return 0;
	case MSR_STAR: *val = c->star; return 0;
	case MSR_LSTAR: *val = c->lstar; return 0;
	case MSR_CSTAR: *val = c->cstar; return 0;
	case MSR_SYSCALL_MASK: *val = c->sfmask; return 0;
	case MSR_FS_BASE: *val = c->seg[S_FS].base; return 0;
	case MSR_GS_BASE: *val = c->seg[S_GS].base; return 0;
	case MSR_KERNEL_GS_BASE: *val = c->kernel_gs_base; return 0;
	case MSR_TSC_AUX: *val = c->tsc_aux; return 0;
	case MSR_IA32_SYSENTER_CS: *val = c->sysenter_cs; return 0;
	case MSR_IA32_SYSENTER_ESP: *val = c->sysenter_esp; return 0;
	case MSR_IA32_SYSENTER_EIP: *val = c->sysenter_eip; return 0;
	case MSR_IA32_CR_PAT: *val = c->pat; return 0;
	case MSR_IA32_MISC_ENABLE: *val = c->misc_enable; return 0;
	case MSR_IA32_ARCH_CAPABILITIES: *val = X86_ARCH_CAP_EMU; return 0;
	case MSR_IA32_TSC:
		*val = (c->tsc_read ? c->tsc_read(c) : c->icount) + (uint64_t)c->tsc_offset;
		return 0;
	default:
		break;
	}
	if (c->msr_read)
		return c->msr_read(c, idx, val);
	return -1;
}

int emu_msr_write(struct emu_cpu *c, uint32_t idx, uint64_t v)
{
	switch (idx) {
	case MSR_EFER: return emu_cpu_set_efer(c, v);
	case MSR_STAR: c->star = v; return 0;
	case MSR_LSTAR:
		if (!canonical(v)) return -1;
		c->lstar = v; return 0;
	case MSR_CSTAR:
		if (!canonical(v)) return -1;
		c->cstar = v; return 0;
	case MSR_SYSCALL_MASK: c->sfmask = v & 0xffffffff; return 0;
	case MSR_FS_BASE:
		if (!canonical(v)) return -1;
		c->seg[S_FS].base = v; return 0;
	case MSR_GS_BASE:
		if (!canonical(v)) return -1;
		c->seg[S_GS].base = v; return 0;
	case MSR_KERNEL_GS_BASE:
		if (!canonical(v)) return -1;
		c->kernel_gs_base = v; return 0;
	case MSR_TSC_AUX: c->tsc_aux = v & 0xffffffff; return 0;
	case MSR_IA32_SYSENTER_CS: c->sysenter_cs = v; return 0;
	case MSR_IA32_SYSENTER_ESP: c->sysenter_esp = v; return 0;
	case MSR_IA32_SYSENTER_EIP: c->sysenter_eip = v; return 0;
	case MSR_IA32_CR_PAT: c->pat = v; return 0;
	case MSR_IA32_MISC_ENABLE: c->misc_enable = v; return 0;
	case MSR_IA32_ARCH_CAPABILITIES: return -1;
	case MSR_IA32_TSC: {
		uint64_t now = c->tsc_read ? c->tsc_read(c) : c->icount;
		c->tsc_offset = (int64_t)(v - now);
		return 0;
	}
	default:
		break;
	}
	if (c->msr_write)
		return c->msr_write(c, idx, v);
	return -1;
}
