// SPDX-License-Identifier: GPL-2.0-only
/*
 * emu_test_run(): run a code snippet in 64-bit mode at CPL3 on a private
 * address space, without a VM (contract in emu_test.h).
 *
 * Guest-physical layout: page tables at 0x1000-0x5fff (PML4, PDPT, PD and
 * two PTs), the code at EMU_TEST_CODE_GVA and the scratch memory at
 * EMU_TEST_MEM_GVA, identity mapped, user, writable, executable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "accel/emu/cpu.h"
#include "accel/emu/emu_cpuid.h"
#include "accel/emu/emu_test.h"
#include "accel/emu/jit.h"

#define PT_BASE   0x1000ULL
#define PT_PAGES  5
#define CODE_MAX  (2 * 4096)

struct test_env {
	struct emu_cpu cpu;            /* first: the hooks cast back */
	uint8_t tables[PT_PAGES * 4096] __attribute__((aligned(4096)));
	uint8_t code[CODE_MAX] __attribute__((aligned(4096)));
	uint8_t *mem;
	uint32_t code_gen[CODE_MAX / 4096];
};

/*
 * With emu_test_jit set, snippets run as cached blocks through the block
 * translator (translated on their first run) instead of one instruction at
 * a time through the interpreter.
 */
bool emu_test_jit;

static void *test_gpa_to_hva(struct emu_cpu *c, uint64_t gpa)
{
	struct test_env *e = (struct test_env *)c;

	if (gpa >= PT_BASE && gpa < PT_BASE + sizeof(e->tables))
		return e->tables + (gpa - PT_BASE);
	if (gpa >= EMU_TEST_CODE_GVA && gpa < EMU_TEST_CODE_GVA + CODE_MAX)
		return e->code + (gpa - EMU_TEST_CODE_GVA);
	if (gpa >= EMU_TEST_MEM_GVA && gpa < EMU_TEST_MEM_GVA + EMU_TEST_MEM_SIZE)
		return e->mem + (gpa - EMU_TEST_MEM_GVA);
	return NULL;
}

static void test_cpuid(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	emu_cpuid_policy(leaf, sub, 1, 0, out);
}

static uint64_t test_tsc(struct emu_cpu *c)
{
	return c->icount;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void build_tables(struct test_env *e)
{
	const uint64_t flags = 0x7;   /* P | W | U */
	uint8_t *t = e->tables;

	memset(t, 0, sizeof(e->tables));
	put64(t + 0x0000, (PT_BASE + 0x1000) | flags);                  /* PML4[0] */
	put64(t + 0x1000, (PT_BASE + 0x2000) | flags);                  /* PDPT[0] */
	put64(t + 0x2000 + 2 * 8, (PT_BASE + 0x3000) | flags);          /* PD[2]: 4 MiB */
	put64(t + 0x2000 + 3 * 8, (PT_BASE + 0x4000) | flags);          /* PD[3]: 6 MiB */
	for (uint64_t off = 0; off < CODE_MAX; off += 4096)
		put64(t + 0x3000 + (off >> 12) * 8, (EMU_TEST_CODE_GVA + off) | flags);
	for (uint64_t off = 0; off < EMU_TEST_MEM_SIZE; off += 4096)
		put64(t + 0x4000 + (off >> 12) * 8, (EMU_TEST_MEM_GVA + off) | flags);
}

static void user_seg(struct x86_segment *s, uint16_t sel, bool code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = code ? 0xb : 0x3;
	s->s = 1;
	s->dpl = 3;
	s->present = 1;
	s->l = code;
	s->db = !code;
	s->g = 1;
}

static void cpu_setup(struct test_env *e, const struct emu_test_state *st, size_t len)
{
	struct emu_cpu *c = &e->cpu;

	c->gpa_to_hva = test_gpa_to_hva;
	c->cpuid = test_cpuid;
	c->tsc_read = test_tsc;
	emu_cpu_reset(c);
	c->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	c->cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	c->efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
	c->cr3 = PT_BASE;
	for (int s = 0; s < 6; s++)
		user_seg(&c->seg[s], s == S_CS ? 0x33 : 0x2b, s == S_CS);
	c->cpl = 3;
	emu_cpu_update_mode(c);
	memcpy(c->gpr, st->gpr, sizeof(c->gpr));
	c->rflags = (st->rflags | X86_RFLAGS_FIXED) & 0x3f7fd7;
	c->cc_op = CC_EFLAGS;
	c->rip = EMU_TEST_CODE_GVA;
	c->stop_lo = EMU_TEST_CODE_GVA;
	c->stop_hi = EMU_TEST_CODE_GVA + len;
	c->poll_countdown = 1024;   /* bounds chained translated blocks too */
	(void)emu_fxrstor(c, st->fxsave);
	memcpy(c->xmm, st->xmm, sizeof(c->xmm));
	c->mxcsr = st->mxcsr;
	emu_tlb_reset(c);
}

/*
 * The block cache and translator of this thread, kept across runs (a
 * translator maps 64 MiB of code buffer): a few hash buckets, emptied
 * before each run.  Never freed: one per harness thread.
 */
static struct emu_icache *test_icache(void)
{
	static __thread struct emu_icache *ic;

	if (!ic) {
		ic = calloc(1, sizeof(*ic));
		if (!ic)
			return NULL;
		ic->hash_mask = 63;
		ic->arena = calloc(EMU_ARENA_INSNS, sizeof(struct emu_insn));
		if (!ic->arena || emu_jit_init(ic) != 0) {
			free(ic->arena);
			free(ic);
			ic = NULL;
			return NULL;
		}
	}
	emu_icache_reset(ic);
	memset(ic->jcache, 0, EMU_JCACHE_SIZE * sizeof(*ic->jcache));
	ic->jit_threshold = 0;
	return ic;
}

int emu_test_run(struct emu_test_state *st, const uint8_t *code, size_t len,
		 unsigned max_insns)
{
	struct test_env *e;
	int exc = -1;

	if (len == 0 || len > CODE_MAX)
		return -EINVAL;
	e = aligned_alloc(4096, ALIGN_UP(sizeof(*e), 4096));
	if (!e)
		return -ENOMEM;
	memset(&e->cpu, 0, sizeof(e->cpu));
	e->mem = st->mem;
	build_tables(e);
	memset(e->code, 0xcc, sizeof(e->code));
	memcpy(e->code, code, len);
	cpu_setup(e, st, len);
	if (emu_test_jit && EMU_JIT_HOST) {
		struct emu_icache *ic = test_icache();
		if (ic) {
			memset(e->code_gen, 0, sizeof(e->code_gen));
			e->cpu.icache = ic;
			e->cpu.page_gen = e->code_gen;
			e->cpu.ram_base = e->code;
			e->cpu.ram_pages = CODE_MAX / 4096;
		}
	}

	emu_cpu_run(&e->cpu, max_insns ? max_insns : 1, true, &exc);

	memcpy(st->gpr, e->cpu.gpr, sizeof(st->gpr));
	st->rflags = emu_flags_get(&e->cpu);
	st->rip = e->cpu.rip;
	emu_fxsave(&e->cpu, st->fxsave);
	memcpy(st->xmm, e->cpu.xmm, sizeof(st->xmm));
	st->mxcsr = e->cpu.mxcsr;
	emu_x87_destroy(&e->cpu);
	free(e);
	return exc;
}
