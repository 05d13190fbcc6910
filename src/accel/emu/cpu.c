// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CPU core: reset state, control registers and mode changes, the
 * fetch-decode-execute loop, exception dispatch with double and triple
 * fault detection (Intel SDM Vol. 3 §6.15 "Interrupt 8", Table 6-5), and
 * interrupt acceptance at instruction boundaries (§6.8, §6.9).
 */
#include <string.h>

#include "accel/emu/cpu.h"
#include "accel/emu/jit.h"
#include "accel/emu/ops.h"

static void seg_reset(struct x86_segment *s, uint16_t sel, uint64_t base, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = base;
	s->limit = 0xffff;
	s->type = type;
	s->s = 1;
	s->present = 1;
}

/* Power-on / INIT state (Intel SDM Vol. 3 §9.1.1, Table 9-1). */
void emu_cpu_reset(struct emu_cpu *c)
{
	memset(c->gpr, 0, sizeof(c->gpr));
	c->gpr[R_DX] = 0x600;   /* family 6 */
	c->rip = 0xfff0;
	c->rflags = X86_RFLAGS_FIXED;
	c->cc_op = CC_EFLAGS;
	seg_reset(&c->seg[S_CS], 0xf000, 0xffff0000, 0xb);
	for (int s = 0; s < 6; s++)
		if (s != S_CS)
			seg_reset(&c->seg[s], 0, 0, 0x3);
	memset(&c->ldt, 0, sizeof(c->ldt));
	c->ldt.limit = 0xffff;
	c->ldt.type = 2;
	c->ldt.present = 1;
	memset(&c->tr, 0, sizeof(c->tr));
	c->tr.limit = 0xffff;
	c->tr.type = 0xb;
	c->tr.present = 1;
	c->gdt.base = c->idt.base = 0;
	c->gdt.limit = c->idt.limit = 0xffff;
	c->cr0 = 0x60000010;
	c->cr2 = c->cr3 = c->cr4 = c->cr8 = c->efer = 0;
	memset(c->dr, 0, sizeof(c->dr));
	c->dr[6] = 0xffff0ff0;
	c->dr[7] = 0x400;
	c->star = c->lstar = c->cstar = c->sfmask = c->kernel_gs_base = c->tsc_aux = 0;
	c->sysenter_cs = c->sysenter_esp = c->sysenter_eip = 0;
	c->pat = 0x0007040600070406ULL;
	c->misc_enable = 1;     /* fast strings */
	c->mxcsr = 0x1f80;
	memset(c->xmm, 0, sizeof(c->xmm));
	emu_x87_reset(c);
	c->cpl = 0;
	c->halted = false;
	c->irq_inhibit = false;
	c->inhibit_icount = ~0ULL;
	c->nmi_blocked = false;
	c->delivering = -1;
	c->shutdown = false;
	emu_tlb_reset(c);
	emu_cpu_update_mode(c);
}

void emu_cpu_update_mode(struct emu_cpu *c)
{
	if (!(c->cr0 & X86_CR0_PE)) {
		c->mode = EMU_MODE_REAL;
		c->cpl = 0;
	} else if (c->efer & EFER_LMA) {
		c->mode = EMU_MODE_LONG;
	} else {
		c->mode = EMU_MODE_PROT;
		if (c->rflags & FL_VM)
			c->cpl = 3;
	}
	c->code64 = c->mode == EMU_MODE_LONG && c->seg[S_CS].l;
	c->def_size = (!c->code64 && !c->seg[S_CS].db) ? 2 : 4;
	c->stack_size = c->code64 ? 8 : c->seg[S_SS].db ? 4 : 2;
	c->ctx = (uint8_t)(c->code64 * 8 + c->def_size + c->cpl * 16);
}

/* MOV to CR0 (Intel SDM Vol. 3 §2.5, §9.8.5 for IA-32e activation). */
void emu_cpu_set_cr0(struct emu_cpu *c, uint64_t v)
{
	uint64_t changed;

	if (v >> 32)
		emu_raise_gp(c, 0);
	v |= X86_CR0_ET;
	if ((v & X86_CR0_PG) && !(v & X86_CR0_PE))
		emu_raise_gp(c, 0);
	if ((v & X86_CR0_NW) && !(v & X86_CR0_CD))
		emu_raise_gp(c, 0);
	changed = v ^ c->cr0;
	if ((changed & X86_CR0_PG) && (v & X86_CR0_PG) && (c->efer & EFER_LME)) {
		if (!(c->cr4 & X86_CR4_PAE))
			emu_raise_gp(c, 0);
		c->efer |= EFER_LMA;
	}
	if ((changed & X86_CR0_PG) && !(v & X86_CR0_PG)) {
		if (c->code64)
			emu_raise_gp(c, 0);
		c->efer &= ~EFER_LMA;
	}
	c->cr0 = v;
	if (changed & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE)) {
		emu_tlb_flush(c, false);
		c->code_gen++;
	}
	emu_cpu_update_mode(c);
}

void emu_cpu_set_cr4(struct emu_cpu *c, uint64_t v)
{
	/* Supported: VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT. */
	const uint64_t ok = 0x7ff;
	uint64_t changed = v ^ c->cr4;

	if (v & ~ok)
		emu_raise_gp(c, 0);
	if ((c->efer & EFER_LMA) && !(v & X86_CR4_PAE))
		emu_raise_gp(c, 0);
	c->cr4 = v;
	if (changed & (X86_CR4_PGE | X86_CR4_PAE | X86_CR4_PSE)) {
		emu_tlb_flush(c, false);
		c->code_gen++;
	}
}

void emu_cpu_set_cr3(struct emu_cpu *c, uint64_t v)
{
	if ((c->efer & EFER_LMA) && (v >> 52))
		emu_raise_gp(c, 0);
	c->cr3 = v;
	emu_tlb_flush(c, true);
	c->code_gen++;
}

int emu_cpu_set_efer(struct emu_cpu *c, uint64_t v)
{
	const uint64_t ok = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

	if (v & ~ok)
		return -1;
	if ((c->cr0 & X86_CR0_PG) && ((v ^ c->efer) & EFER_LME))
		return -1;
	v = (v & ~EFER_LMA) | (c->efer & EFER_LMA);
	if ((v ^ c->efer) & EFER_NXE)
		emu_tlb_flush(c, false);
	c->efer = v;
	emu_cpu_update_mode(c);
	return 0;
}

_Noreturn void emu_raise(struct emu_cpu *c, int vec, uint32_t err, bool has_err)
{
	c->exc_vec = vec;
	c->exc_err = err;
	c->exc_has_err = has_err;
	longjmp(c->jmp, 1);
}

static bool contributory(int v)
{
	return v == EXC_DE || (v >= EXC_TS && v <= EXC_GP);
}

/*
 * An exception was raised: decide between delivering it, a double fault
 * and a triple fault.  Returns 1 on triple fault (shutdown), else 0.
 */
static int exception_dispatch(struct emu_cpu *c)
{
	int vec = c->exc_vec, first = c->delivering;
	uint32_t err = c->exc_err;
	bool has_err = c->exc_has_err;

	if (first >= 0) {
		if (first == EXC_DF) {
			c->shutdown = true;
			return 1;
		}
		if ((contributory(first) && contributory(vec)) ||
		    (first == EXC_PF && (contributory(vec) || vec == EXC_PF))) {
			vec = EXC_DF;
			err = 0;
			has_err = true;
		}
	}
	c->delivering = vec;
	c->exc_vec = vec;
	if (c->trace_exc)
		c->trace_exc(c, vec, err);
	emu_deliver(c, vec, err, has_err, false, c->rip);
	c->delivering = -1;
	return 0;
}

/* Accept an external interrupt or NMI if one is deliverable now. */
static void check_interrupts(struct emu_cpu *c)
{
	if (c->icount == c->inhibit_icount)
		return;
	if (c->nmi_pending && !c->nmi_blocked) {
		c->nmi_pending = 0;
		c->nmi_blocked = true;
		c->halted = false;
		c->delivering = 256 + EXC_NMI;
		emu_deliver(c, EXC_NMI, 0, false, false, c->rip);
		c->delivering = -1;
		return;
	}
	if ((c->rflags & FL_IF) && c->irq_pending) {
		int vec = c->irq_pending(c);
		if (vec < 0) {
			c->irq_hint = 0;
			return;
		}
		if (c->irq_ack)
			vec = c->irq_ack(c, vec);
		c->halted = false;
		c->delivering = 256 + vec;   /* faults while delivering are benign-serial */
		emu_deliver(c, vec, 0, false, false, c->rip);
		c->delivering = -1;
	}
}

/* Instructions after which a block ends: control transfers and anything that
 * changes the mode, interrupt state or address space, or talks to devices. */
static bool ends_block(const struct emu_insn *in)
{
	uint8_t b = (uint8_t)in->op;

	if (in->op >= 0x200)
		return false;
	if (in->op >= 0x100) {
		switch (b) {
		case 0x00 ... 0x0b: case 0x20 ... 0x23: case 0x30 ... 0x35:
		case 0xa1: case 0xa9: case 0xae:
		case 0xb2: case 0xb4: case 0xb5: case 0xc7: case 0xff:
			return true;
		default:
			return false;
		}
	}
	switch (b) {
	case 0x07: case 0x17: case 0x1f: case 0x6c ... 0x6f:
	case 0x8e: case 0x9a: case 0x9d: case 0xc2: case 0xc3: case 0xc4: case 0xc5:
	case 0xca ... 0xcf: case 0xe0 ... 0xe8: case 0xea: case 0xec ... 0xef:
	case 0xf1: case 0xf4: case 0xfa: case 0xfb:
		return true;
	case 0xff:
		return (in->reg & 7) >= 2 && (in->reg & 7) <= 5;
	default:
		return false;
	}
}

void emu_icache_reset(struct emu_icache *ic)
{
	for (unsigned i = 0; i <= ic->hash_mask; i++)
		ic->blocks[i].link[0] = ic->blocks[i].link[1] = NULL;
	for (unsigned i = 0; i <= ic->hash_mask; i++)
		ic->blocks[i].hva = NULL;
	ic->arena_used = 0;
	emu_jit_flush(ic);
}

/*
 * Decode a block starting at RIP (linear la) into b.  Conditional branches
 * do not end it (the not-taken path continues; a taken branch leaves the
 * block), and direct JMPs within the page are followed, so short loops are
 * unrolled into one block.  Everything stays on the first page, whose code
 * generation guards the block.
 */
static void block_build(struct emu_cpu *c, struct emu_block *b, uint64_t la)
{
	struct emu_icache *ic = c->icache;
	uint64_t rip = c->rip, page = la & ~0xfffULL;
	unsigned n = 0;

	if (ic->arena_used + EMU_BLOCK_MAX > EMU_ARENA_INSNS)
		emu_icache_reset(ic);
	b->insns = &ic->arena[ic->arena_used];
	for (;;) {
		struct emu_insn *in = &b->insns[n];
		uint64_t next_la;

		c->rip = rip;
		emu_decode(c, in);
		emu_fast_select(c, in);
		n++;
		next_la = la + in->len;
		if (emu_fast_is_jmp(in)) {
			/* Direct JMP: continue at the target if it is on this page. */
			uint64_t tla = la + (in->imm2 - in->rip);
			if ((tla & ~0xfffULL) != page)
				break;
			in->next_rip = in->imm2;
			next_la = tla;
		}
		rip = in->next_rip;
		la = next_la;
		if (ends_block(in) || n == EMU_BLOCK_MAX || (la & ~0xfffULL) != page ||
		    (la & 0xfff) > 0x1000 - 15)
			break;
		/* The test harness stops at the end of its snippet. */
		if (c->stop_hi && (rip < c->stop_lo || rip >= c->stop_hi))
			break;
	}
	c->rip = b->insns[0].rip;
	b->n = (uint8_t)n;
	b->link[0] = b->link[1] = NULL;
	b->jit = NULL;
	b->hits = 0;
	ic->arena_used += n;
}

/*
 * The cached block at RIP, building it on a miss; NULL when the bytes are
 * not cacheable (near a page end, not RAM, no cache): decode one by one.
 */
static struct emu_block *block_lookup(struct emu_cpu *c)
{
	uint64_t la = c->code64 ? c->rip : (c->seg[S_CS].base + c->rip) & 0xffffffffULL;
	bool u = emu_user(c);
	struct emu_tlb_entry *t = &c->tlb[u][(la >> 12) & (EMU_TLB_SIZE - 1)];
	const uint8_t *hva;
	struct emu_block *b;
	uint32_t *g, gen;

	if (!c->icache)
		return NULL;
	if ((la & 0xfff) > 0x1000 - 15) {
		/*
		 * Near the page end: cache it only if the instruction ends on this
		 * page (the page's code generation guards one page).  Otherwise the
		 * caller executes the copy decoded here.
		 */
		emu_decode(c, &c->insn);
		if ((la & 0xfff) + c->insn.len > 0x1000) {
			c->insn_ready = true;
			return NULL;
		}
	}
	if (t->tag_x != (la & ~0xfffULL)) {
		emu_mmu_translate(c, la, ACC_EXEC, u);
		if (t->tag_x != (la & ~0xfffULL))
			return NULL;
	}
	hva = (const uint8_t *)(uintptr_t)(la + t->addend);
	g = emu_code_gen(c, hva);
	if (!g)
		return NULL;
	b = &c->icache->blocks[(((uintptr_t)hva >> 1) ^ (c->rip >> 13)) & c->icache->hash_mask];
	gen = __atomic_load_n(g, __ATOMIC_ACQUIRE);
	if (b->hva == hva && b->rip == c->rip && (b->ctx & 15) == (c->ctx & 15) && b->gen == gen) {
		b->ctx = c->ctx;
		return b;
	}
	if (!(gen & 1)) {
		uint32_t want = gen | 1;
		if (__atomic_compare_exchange_n(g, &gen, want, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			gen = want;
			/* This page now holds code: no vCPU may keep a write TLB entry. */
			emu_tlb_drop_writes(c, hva);
			if (c->code_page_added)
				c->code_page_added(c);
		}
	}
	/* Unusable (also to links) until fully built: the build may fault. */
	b->hva = NULL;
	b->rip = ~0ULL;
	b->jit = NULL;
	block_build(c, b, la);
	b->hva = hva;
	b->rip = c->rip;
	b->ctx = c->ctx;
	b->gen = gen;
	b->genp = g;
	return b;
}

/* The block at RIP: through the previous block's links if still valid, else the hash. */
static struct emu_block *block_next(struct emu_cpu *c)
{
	struct emu_block *p = c->last_block, *s;

	if (p && p->link_epoch == c->tlb_epoch) {
		for (int i = 0; i < 2; i++) {
			s = p->link[i];
			if (s && s->rip == c->rip && s->ctx == c->ctx &&
			    __atomic_load_n(s->genp, __ATOMIC_RELAXED) == s->gen)
				return s;
		}
	}
	s = block_lookup(c);
	if (p && s && p->hva) {
		if (p->link_epoch != c->tlb_epoch) {
			p->link[0] = p->link[1] = NULL;
			p->link_epoch = c->tlb_epoch;
		}
		p->link[p->link_next] = s;
		p->link_next ^= 1;
	}
	return s;
}

/* Execute a cached block; stops early when control leaves the straight line
 * or a write changed the block's page. */
static void block_exec(struct emu_cpu *c, const struct emu_block *b)
{
	const uint32_t *g = b->genp;
	uint32_t gen = b->gen;
	struct emu_insn *in = b->insns, *end = b->insns + b->n;

	/*
	 * Handlers commit RIP last, so a fault leaves c->rip at the faulting
	 * instruction: no per-instruction bookkeeping beyond the count.
	 */
	do {
		in->fn(c, in);
		if (c->rip != in->next_rip || __atomic_load_n(g, __ATOMIC_RELAXED) != gen)
			break;
	} while (++in < end);
	c->icount += (uint64_t)(in - b->insns) + (in < end);
}

int emu_cpu_run(struct emu_cpu *c, uint64_t max_insns, bool stop_on_exc, int *exc_out)
{
	uint64_t end = max_insns ? c->icount + max_insns : ~0ULL;

	if (exc_out)
		*exc_out = -1;
	if (setjmp(c->jmp)) {
		/*
		 * A guest exception.  RIP still points at the faulting instruction:
		 * handlers commit RIP after their last access that can fault.
		 */
		c->last_block = NULL;
		c->insn_ready = false;
		c->jit_slot = NULL;
		if (c->delivering >= 256)
			c->delivering = -1;
		if (stop_on_exc) {
			if (exc_out)
				*exc_out = c->exc_vec;
			c->delivering = -1;
			return 0;
		}
		if (exception_dispatch(c))
			return 1;
	}
	for (;;) {
		unsigned pc = --c->poll_countdown;
		if (__builtin_expect(c->exit_request | c->irq_hint | c->nmi_pending | c->halted, 0) ||
		    __builtin_expect(pc == 0, 0)) {
			if (pc == 0) {
				c->poll_countdown = 1024;
				if (c->poll)
					c->poll(c);
			}
			if (__atomic_exchange_n(&c->flush_request, 0, __ATOMIC_ACQ_REL))
				emu_tlb_flush(c, false);
			if (c->exit_request)
				return 0;
			c->last_block = NULL;
			check_interrupts(c);
			if (c->halted) {
				if (!c->halt)
					return 0;
				c->halt(c);
				continue;
			}
		}
		if (c->icount >= end)
			return 0;
		if (c->stop_hi && (c->rip < c->stop_lo || c->rip >= c->stop_hi))
			return 0;
		{
			struct emu_jit_slot *slot = c->jit_slot;
			uint32_t flushes = c->icache ? c->icache->jit_flushes : 0;
			struct emu_block *b;

			c->jit_slot = NULL;
			b = block_next(c);
			c->last_block = b;
			/* Link the translated exit we came from to this block. */
			if (b && b->jit && b->jit_ctx == c->ctx) {
				struct emu_jcache_entry *jc = &c->icache->jcache[emu_jcache_idx(c->rip)];
				if (slot && b->rip == slot->rip && flushes == c->icache->jit_flushes)
					emu_jit_link(c, slot, b);
				jc->b = b;
				jc->rip = c->rip;
				jc->epoch_off = emu_link_epoch_off(c, c->rip);
				jc->epoch = emu_epoch_at(c, jc->epoch_off);
			}
			if (b) {
				if (b->jit && b->jit_ctx == c->ctx) {
					b->jit(c);
				} else if (c->icache->jit &&
					   ++b->hits > c->icache->jit_threshold) {
					emu_jit_translate(c, b);
					if (b->jit) {
						b->jit(c);
					} else {
						b->hits = 0;
						block_exec(c, b);
					}
				} else {
					block_exec(c, b);
				}
			} else {
				c->icount++;
				if (!c->insn_ready)
					emu_decode(c, &c->insn);
				c->insn_ready = false;
				emu_fast_select(c, &c->insn);
				c->insn.fn(c, &c->insn);
			}
		}
		if (c->irq_inhibit) {
			c->irq_inhibit = false;
			c->inhibit_icount = c->icount;
		}
	}
}
