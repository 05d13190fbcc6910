// SPDX-License-Identifier: GPL-2.0-only
/*
 * Native side of the differential test: run one instruction form on the
 * host CPU at the same addresses the interpreter uses (code at
 * EMU_TEST_CODE_GVA, memory at EMU_TEST_MEM_GVA), with registers, RFLAGS
 * and the FXSAVE image loaded from a struct by a generated prologue.  The
 * form is followed by UD2; every run therefore ends in a signal, and the
 * signal frame (ucontext: GPRs, RFLAGS, trap number, FXSAVE-format FPU
 * state) is the result.  A fault inside the form is reported the same way,
 * with the trap number as the exception vector.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "diff.h"

#define TRAMP_VA   0x500000UL   /* generated prologue (RX) */
#define DATA_VA    0x510000UL   /* its data: 2 pages, stack at the end */
#define DATA_GPR   0x100
#define DATA_FLAGS 0x200
#define DATA_FX    0x400
#define DATA_SIZE  0x2000
#define ALTSTACK_SIZE (256 * 1024)

/* The one native run in flight in this (child) process. */
static sigjmp_buf run_env;
static struct run_result *run_out;
static const struct form *run_form;
static uint8_t host_fx[512] __attribute__((aligned(16)));

static const int greg_of[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t rip = g[REG_RIP];
	int i;

	(void)sig;
	(void)si;
	for (i = 0; i < 16; i++)
		run_out->st.gpr[i] = g[greg_of[i]];
	run_out->st.rflags = g[REG_EFL];
	run_out->st.rip = rip;
	if (uc->uc_mcontext.fpregs) {
		const uint8_t *fx = (const uint8_t *)uc->uc_mcontext.fpregs;

		memcpy(run_out->st.fxsave, fx, 512);
		memcpy(&run_out->st.mxcsr, fx + 24, 4);
		memcpy(run_out->st.xmm, fx + 160, 256);
	}
	if (rip == EMU_TEST_CODE_GVA + run_form->len && g[REG_TRAPNO] == 6)
		run_out->vector = -1;
	else if (rip < EMU_TEST_CODE_GVA || rip > EMU_TEST_CODE_GVA + run_form->len)
		run_out->vector = 1000 + (int)g[REG_TRAPNO];  /* harness fault */
	else
		run_out->vector = (int)g[REG_TRAPNO];
	siglongjmp(run_env, 1);
}

static uint8_t *emit(uint8_t *p, const void *b, size_t n)
{
	memcpy(p, b, n);
	return p + n;
}

static uint8_t *emit32(uint8_t *p, uint32_t v)
{
	return emit(p, &v, 4);
}

/* mov rsp, imm32; fxrstor; push [flags]; popfq; mov r, [abs] x16; jmp code. */
static void build_prologue(uint8_t *p)
{
	static const uint8_t mov_rsp[] = { 0x48, 0xc7, 0xc4 };
	static const uint8_t fxrstor[] = { 0x0f, 0xae, 0x0c, 0x25 };
	static const uint8_t push_m[] = { 0xff, 0x34, 0x25 };
	uint8_t *start = p, b[3];
	int32_t rel;
	int i;

	p = emit32(emit(p, mov_rsp, 3), DATA_VA + DATA_SIZE);
	p = emit32(emit(p, fxrstor, 4), DATA_VA + DATA_FX);
	p = emit32(emit(p, push_m, 3), DATA_VA + DATA_FLAGS);
	*p++ = 0x9d;
	for (i = 0; i < 16; i++) {
		int r = (i + 5) % 16;   /* RSP (4) last */

		b[0] = 0x48 | (r >= 8 ? 4 : 0);
		b[1] = 0x8b;
		b[2] = 0x04 | ((r & 7) << 3);
		p = emit(p, b, 3);
		*p++ = 0x25;
		p = emit32(p, DATA_VA + DATA_GPR + 8 * r);
	}
	*p++ = 0xe9;
	rel = (int32_t)(EMU_TEST_CODE_GVA - (TRAMP_VA + (p - start) + 4));
	p = emit32(p, (uint32_t)rel);
}

static void *map_fixed(uint64_t va, size_t len, int prot)
{
	void *p = mmap((void *)va, len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED || p != (void *)va) {
		fprintf(stderr, "emu-diff: cannot map %#lx: %s\n", (unsigned long)va,
			strerror(errno));
		return NULL;
	}
	return p;
}

int diff_native_init(void)
{
	struct sigaction sa;
	stack_t ss;
	void *tramp;
	int sigs[] = { SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGTRAP };
	unsigned i;

	tramp = map_fixed(TRAMP_VA, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
	if (!tramp || !map_fixed(DATA_VA, DATA_SIZE, PROT_READ | PROT_WRITE) ||
	    !map_fixed(EMU_TEST_CODE_GVA, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) ||
	    !map_fixed(EMU_TEST_MEM_GVA, EMU_TEST_MEM_SIZE, PROT_READ | PROT_WRITE))
		return -1;
	build_prologue(tramp);

	ss.ss_sp = malloc(ALTSTACK_SIZE);
	ss.ss_size = ALTSTACK_SIZE;
	ss.ss_flags = 0;
	if (!ss.ss_sp || sigaltstack(&ss, NULL))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL))
			return -1;
	__asm__ volatile("fxsave %0" : "=m"(host_fx));
	return 0;
}

void diff_native_run(const struct form *f, const struct emu_test_state *in,
		     struct run_result *out)
{
	uint8_t *data = (uint8_t *)DATA_VA, *code = (uint8_t *)EMU_TEST_CODE_GVA;
	static const uint8_t ud2[] = { 0x0f, 0x0b };
	void (*enter)(void) = (void (*)(void))TRAMP_VA;

	memset(out, 0, sizeof(*out));
	out->st = *in;
	memcpy(code, f->code, f->len);
	memcpy(code + f->len, ud2, 2);
	memcpy(data + DATA_GPR, in->gpr, sizeof(in->gpr));
	memcpy(data + DATA_FLAGS, &in->rflags, 8);
	memcpy(data + DATA_FX, in->fxsave, 512);
	memcpy(data + DATA_FX + 24, &in->mxcsr, 4);
	memcpy(data + DATA_FX + 160, in->xmm, 256);
	memcpy((void *)EMU_TEST_MEM_GVA, in->mem, EMU_TEST_MEM_SIZE);
	__builtin___clear_cache((char *)code, (char *)code + f->len + 2);

	run_out = out;
	run_form = f;
	if (sigsetjmp(run_env, 1) == 0)
		enter();
	/* Back from the signal handler: the host's FPU modes again. */
	__asm__ volatile("fxrstor %0" : : "m"(host_fx));
	memcpy(out->st.mem, (void *)EMU_TEST_MEM_GVA, EMU_TEST_MEM_SIZE);
	run_out = NULL;
}
