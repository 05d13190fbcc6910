// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the emu CPU through emu_test_run(): known answers for the
 * decoder, memory operands, LOCK operations, string ops, SSE and x87,
 * exceptions and paging; and a differential test of register-only integer
 * instructions against the host CPU (fixed seed), comparing every GPR and
 * the flags the SDM defines for each instruction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "accel/emu/cpu.h"
#include "accel/emu/emu_test.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define OF 0x800u
#define ALL (CF | PF | AF | ZF | SF | OF)

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };

static struct emu_test_state *new_state(void)
{
	static struct emu_test_state st;

	memset(&st, 0, sizeof(st));
	st.rflags = 0x2;
	st.mxcsr = 0x1f80;
	st.fxsave[0] = 0x7f;   /* FCW 0x037f */
	st.fxsave[1] = 0x03;
	st.gpr[RSP] = EMU_TEST_MEM_GVA + EMU_TEST_MEM_SIZE - 64;
	return &st;
}

static int run(struct emu_test_state *st, const uint8_t *code, size_t len)
{
	return emu_test_run(st, code, len, 1000);
}

/* ---- known answers ---- */

static void test_add_flags(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = { 0x01, 0xd8 };   /* add eax, ebx */

	st->gpr[RAX] = 0xffffffff;
	st->gpr[RBX] = 1;
	assert_int_equal(run(st, code, sizeof(code)), -1);
	assert_int_equal(st->gpr[RAX], 0);
	assert_int_equal(st->rflags & ALL, CF | PF | AF | ZF);
	assert_int_equal(st->rip, EMU_TEST_CODE_GVA + 2);
}

static void test_sub_overflow(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = { 0x48, 0x29, 0xd8 };  /* sub rax, rbx */

	st->gpr[RAX] = 0x8000000000000000ULL;
	st->gpr[RBX] = 1;
	assert_int_equal(run(st, code, sizeof(code)), -1);
	assert_int_equal(st->gpr[RAX], 0x7fffffffffffffffULL);
	assert_int_equal(st->rflags & (OF | SF | ZF | CF), OF);
}

static void test_mem_and_riprel(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = {
		0x48, 0x89, 0x07,                   /* mov [rdi], rax */
		0x48, 0x8b, 0x5f, 0x00,             /* mov rbx, [rdi+0] */
		0x48, 0x8d, 0x0d, 0xf0, 0xff, 0xff, 0xff,   /* lea rcx, [rip-16] */
		0x66, 0xc7, 0x47, 0x08, 0x34, 0x12, /* mov word [rdi+8], 0x1234 */
	};

	st->gpr[RAX] = 0x1122334455667788ULL;
	st->gpr[RDI] = EMU_TEST_MEM_GVA;
	assert_int_equal(run(st, code, sizeof(code)), -1);
	assert_int_equal(st->gpr[RBX], 0x1122334455667788ULL);
	assert_int_equal(st->gpr[RCX], EMU_TEST_CODE_GVA + 14 - 16);
	assert_int_equal(st->mem[8], 0x34);
	assert_int_equal(st->mem[9], 0x12);
	assert_int_equal(st->mem[0], 0x88);
}

static void test_lock_ops(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = {
		0xf0, 0x48, 0x0f, 0xc1, 0x07,       /* lock xadd [rdi], rax */
		0xf0, 0x48, 0x0f, 0xb1, 0x0f,       /* lock cmpxchg [rdi], rcx */
		0xf0, 0x83, 0x47, 0x08, 0x05,       /* lock add dword [rdi+8], 5 */
		0xf0, 0x0f, 0xba, 0x6f, 0x08, 0x1f, /* lock bts dword [rdi+8], 31 */
	};

	st->gpr[RDI] = EMU_TEST_MEM_GVA;
	st->gpr[RAX] = 10;
	st->gpr[RCX] = 99;
	memcpy(st->mem, &(uint64_t){ 5 }, 8);
	assert_int_equal(run(st, code, sizeof(code)), -1);
	/* xadd: mem = 15, rax = 5; cmpxchg: rax(5) != 15 -> rax = 15, ZF = 0 */
	assert_int_equal(st->gpr[RAX], 15);
	assert_int_equal(st->mem[0], 15);
	assert_int_equal(*(uint32_t *)(st->mem + 8), 0x80000005u);
	assert_int_equal(st->rflags & CF, 0);
}

static void test_lock_register_is_ud(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = { 0xf0, 0x01, 0xd8 };  /* lock add eax, ebx */

	assert_int_equal(run(st, code, sizeof(code)), 6);
	assert_int_equal(st->rip, EMU_TEST_CODE_GVA);
}

static void test_rep_string(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = {
		0xf3, 0x48, 0xab,           /* rep stosq */
		0x48, 0x89, 0xfe,           /* mov rsi, rdi */
		0x48, 0x83, 0xee, 0x20,     /* sub rsi, 32 */
		0xb9, 0x20, 0x00, 0x00, 0x00,   /* mov ecx, 32 */
		0xf3, 0xa4,                 /* rep movsb */
		0x48, 0x8d, 0x7c, 0x24, 0x00,   /* lea rdi, [rsp] (unused) */
	};

	st->gpr[RDI] = EMU_TEST_MEM_GVA;
	st->gpr[RCX] = 4;
	st->gpr[RAX] = 0x0101010101010101ULL;
	assert_int_equal(run(st, code, sizeof(code)), -1);
	for (int i = 0; i < 64; i++)
		assert_int_equal(st->mem[i], 1);
	assert_int_equal(st->gpr[RCX], 0);
}

static void test_repe_cmpsb(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = { 0xf3, 0xa6 };   /* repe cmpsb */

	memcpy(st->mem, "abcdef", 6);
	memcpy(st->mem + 100, "abcxef", 6);
	st->gpr[RSI] = EMU_TEST_MEM_GVA;
	st->gpr[RDI] = EMU_TEST_MEM_GVA + 100;
	st->gpr[RCX] = 6;
	assert_int_equal(run(st, code, sizeof(code)), -1);
	assert_int_equal(st->gpr[RCX], 2);
	assert_int_equal(st->gpr[RSI], EMU_TEST_MEM_GVA + 4);
	assert_int_equal(st->rflags & ZF, 0);
}

static void test_div_by_zero(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = { 0xf7, 0xf3 };   /* div ebx */

	st->gpr[RAX] = 7;
	assert_int_equal(run(st, code, sizeof(code)), 0);
	assert_int_equal(st->rip, EMU_TEST_CODE_GVA);
	assert_int_equal(st->gpr[RAX], 7);
}

static void test_idiv(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = { 0x48, 0xf7, 0xfb };   /* idiv rbx */

	st->gpr[RAX] = (uint64_t)-7;
	st->gpr[RDX] = (uint64_t)-1;
	st->gpr[RBX] = 2;
	assert_int_equal(run(st, code, sizeof(code)), -1);
	assert_int_equal(st->gpr[RAX], (uint64_t)-3);
	assert_int_equal(st->gpr[RDX], (uint64_t)-1);
}

static void test_privileged_gp(void **unused)
{
	static const uint8_t hlt[] = { 0xf4 };
	static const uint8_t cli[] = { 0xfa };
	static const uint8_t movcr[] = { 0x0f, 0x22, 0xd8 };   /* mov cr3, rax */
	static const uint8_t wrmsr[] = { 0x0f, 0x30 };

	assert_int_equal(run(new_state(), hlt, 1), 13);
	assert_int_equal(run(new_state(), cli, 1), 13);
	assert_int_equal(run(new_state(), movcr, 3), 13);
	assert_int_equal(run(new_state(), wrmsr, 2), 13);
}

static void test_undefined_ud(void **unused)
{
	static const uint8_t ud2[] = { 0x0f, 0x0b };
	static const uint8_t push_es[] = { 0x06 };           /* invalid in 64-bit mode */
	static const uint8_t vex[] = { 0xc5, 0xf8, 0x77 };   /* vzeroupper: no AVX */
	static const uint8_t lea_reg[] = { 0x8d, 0xc0 };

	assert_int_equal(run(new_state(), ud2, 2), 6);
	assert_int_equal(run(new_state(), push_es, 1), 6);
	assert_int_equal(run(new_state(), vex, 3), 6);
	assert_int_equal(run(new_state(), lea_reg, 2), 6);
}

static void test_page_fault(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = { 0x8b, 0x04, 0x25, 0x00, 0x00, 0x80, 0x00 }; /* mov eax, [0x800000] */
	static const uint8_t noncanon[] = { 0x48, 0x8b, 0x03 };                   /* mov rax, [rbx] */

	assert_int_equal(run(st, code, sizeof(code)), 14);
	st = new_state();
	st->gpr[RBX] = 0x8000000000000000ULL;
	assert_int_equal(run(st, noncanon, sizeof(noncanon)), 13);
}

static void test_stack_call_ret(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = {
		0xe8, 0x03, 0x00, 0x00, 0x00,   /* call +3 */
		0x90, 0x90, 0x90,
		0x58,                           /* pop rax (return address) */
		0x6a, 0xfe,                     /* push -2 */
		0x5b,                           /* pop rbx */
	};
	uint64_t sp = st->gpr[RSP];

	assert_int_equal(run(st, code, sizeof(code)), -1);
	assert_int_equal(st->gpr[RAX], EMU_TEST_CODE_GVA + 5);
	assert_int_equal(st->gpr[RBX], (uint64_t)-2);
	assert_int_equal(st->gpr[RSP], sp);
}

static void test_sse(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = {
		0x66, 0x0f, 0xef, 0xc0,         /* pxor xmm0, xmm0 */
		0x66, 0x0f, 0x6f, 0x0f,         /* movdqa xmm1, [rdi] */
		0x66, 0x0f, 0xfe, 0xc1,         /* paddd xmm0, xmm1 */
		0x66, 0x0f, 0xfe, 0xc1,         /* paddd xmm0, xmm1 */
		0xf2, 0x0f, 0x2a, 0xd0,         /* cvtsi2sd xmm2, eax */
		0xf2, 0x0f, 0x59, 0xd2,         /* mulsd xmm2, xmm2 */
		0xf2, 0x48, 0x0f, 0x2c, 0xda,   /* cvttsd2si rbx, xmm2 */
		0x66, 0x0f, 0x74, 0xc9,         /* pcmpeqb xmm1, xmm1 */
		0x66, 0x0f, 0xd7, 0xc9,         /* pmovmskb ecx, xmm1 */
	};
	uint32_t v[4] = { 1, 2, 3, 0x7fffffff }, out[4];

	memcpy(st->mem, v, 16);
	st->gpr[RDI] = EMU_TEST_MEM_GVA;
	st->gpr[RAX] = 12;
	assert_int_equal(run(st, code, sizeof(code)), -1);
	memcpy(out, st->xmm[0], 16);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[3], 0xfffffffe);
	assert_int_equal(st->gpr[RBX], 144);
	assert_int_equal(st->gpr[RCX], 0xffff);
}

static void test_movdqa_misaligned_gp(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = { 0x66, 0x0f, 0x6f, 0x0f };   /* movdqa xmm1, [rdi] */

	st->gpr[RDI] = EMU_TEST_MEM_GVA + 8;
	assert_int_equal(run(st, code, sizeof(code)), 13);
}

static void test_x87(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = {
		0xdb, 0xe3,             /* fninit */
		0xd9, 0xe8,             /* fld1 */
		0xd8, 0xc0,             /* fadd st0, st0 */
		0xdb, 0x07,             /* fild dword [rdi] */
		0xde, 0xc9,             /* fmulp */
		0xdb, 0x5f, 0x04,       /* fistp dword [rdi+4] */
		0xdf, 0xe0,             /* fnstsw ax */
	};

	st->gpr[RDI] = EMU_TEST_MEM_GVA;
	memcpy(st->mem, &(int32_t){ -21 }, 4);
	assert_int_equal(run(st, code, sizeof(code)), -1);
	assert_int_equal(*(int32_t *)(st->mem + 4), -42);
	assert_int_equal((st->gpr[RAX] >> 11) & 7, 0);    /* TOP back to 0 */
}

static void test_max_insns_and_rip(void **unused)
{
	struct emu_test_state *st = new_state();
	static const uint8_t code[] = { 0xeb, 0xfe };   /* jmp $ */

	assert_int_equal(emu_test_run(st, code, sizeof(code), 100), -1);
	assert_int_equal(st->rip, EMU_TEST_CODE_GVA);
}

/* ---- hostile code: random bytes never crash the interpreter ---- */

static uint64_t fuzz_state = 0x243f6a8885a308d3ULL;

static uint64_t fuzz_rnd(void)
{
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return fuzz_state * 2685821657736338717ULL;
}

static void random_code(bool jit)
{
	static const uint8_t common[] = { 0x0f, 0x66, 0xf2, 0xf3, 0x48, 0x4c, 0xf0, 0xd9, 0xdd, 0xdf };
	uint8_t code[32];
	int exc_seen = 0;

	for (int iter = 0; iter < 20000; iter++) {
		struct emu_test_state *st = new_state();
		int exc;

		for (size_t i = 0; i < sizeof(code); i++) {
			uint64_t r = fuzz_rnd();
			code[i] = (r & 3) == 0 ? common[(r >> 8) % sizeof(common)] : (uint8_t)(r >> 16);
		}
		for (int r = 0; r < 16; r++)
			if (r != RSP)
				st->gpr[r] = (fuzz_rnd() & 1) ? EMU_TEST_MEM_GVA + (fuzz_rnd() & 0xfff)
							 : fuzz_rnd();
		st->rflags = (fuzz_rnd() & 0xcd5) | 2;
		emu_test_jit = jit;
		exc = emu_test_run(st, code, sizeof(code), 64);
		emu_test_jit = false;
		assert_true(exc >= -1 && exc < 32);
		exc_seen += exc >= 0;
	}
	assert_true(exc_seen > 0);
}

static void test_random_code(void **unused)
{
	random_code(false);
}

/* The same through the block translator (jit.c): snippets run as translated blocks. */
static void test_random_code_jit(void **unused)
{
	random_code(true);
}

/* ---- triple fault and real-mode delivery, on the CPU core directly ---- */

static uint8_t flat_ram[64 * 1024] __attribute__((aligned(4096)));

static void *flat_gpa_to_hva(struct emu_cpu *c, uint64_t gpa)
{
	return gpa < sizeof(flat_ram) ? flat_ram + gpa : NULL;
}

static struct emu_cpu *flat_cpu(void)
{
	static struct emu_cpu cpu;

	memset(&cpu, 0, sizeof(cpu));
	memset(flat_ram, 0, sizeof(flat_ram));
	cpu.gpa_to_hva = flat_gpa_to_hva;
	emu_cpu_reset(&cpu);
	cpu.seg[S_CS].selector = 0;
	cpu.seg[S_CS].base = 0;
	cpu.poll_countdown = ~0u;
	return &cpu;
}

static void test_triple_fault(void **unused)
{
	struct emu_cpu *c = flat_cpu();
	int exc;

	/* Protected mode with an empty IDT: #UD -> #GP (IDT limit) -> #DF -> shutdown. */
	flat_ram[0x1000] = 0x0f;
	flat_ram[0x1001] = 0x0b;        /* ud2 */
	c->cr0 |= X86_CR0_PE;
	c->seg[S_CS].db = 1;
	c->seg[S_SS].db = 1;
	emu_cpu_update_mode(c);
	c->idt.limit = 0;
	c->rip = 0x1000;
	c->gpr[R_SP] = 0x8000;
	assert_int_equal(emu_cpu_run(c, 100, false, &exc), 1);
	assert_true(c->shutdown);
	assert_int_equal(c->rip, 0x1000);
}

static void test_real_mode_int(void **unused)
{
	struct emu_cpu *c = flat_cpu();
	static const uint8_t code[] = {
		0xb8, 0x34, 0x12,       /* mov ax, 0x1234 */
		0xcd, 0x21,             /* int 0x21 */
		0x40,                   /* inc ax (after iret) */
		0xf4,                   /* hlt */
	};
	static const uint8_t isr[] = { 0x43, 0xcf };   /* inc bx; iret */
	int exc;

	memcpy(flat_ram + 0x500, code, sizeof(code));
	memcpy(flat_ram + 0x600, isr, sizeof(isr));
	flat_ram[0x21 * 4] = 0x00;      /* IVT[0x21] = 0000:0600 */
	flat_ram[0x21 * 4 + 1] = 0x06;
	c->rip = 0x500;
	c->gpr[R_SP] = 0x7000;
	c->idt.limit = 0x3ff;
	assert_int_equal(emu_cpu_run(c, 100, false, &exc), 0);
	assert_true(c->halted);
	assert_int_equal(c->gpr[R_AX], 0x1235);
	assert_int_equal(c->gpr[R_BX], 1);
	assert_int_equal(c->gpr[R_SP], 0x7000);
}

/* ---- MMX and the x87 state (Intel SDM Vol. 1 §9.5-9.6, Table 9-1) ---- */

/* Run 16-bit code at 0x500 on the flat CPU; returns the exception vector or -1. */
static int run_flat(struct emu_cpu *c, const uint8_t *code, size_t len)
{
	int exc = -1;

	memcpy(flat_ram + 0x500, code, len);
	c->rip = 0x500;
	c->gpr[R_SP] = 0x7000;
	c->halted = false;
	(void)emu_cpu_run(c, 100, true, &exc);
	return exc;
}

static void test_mmx_aliases_x87(void **unused)
{
	struct emu_cpu *c = flat_cpu();
	static const uint8_t code[] = {
		0x0f, 0x6f, 0x1e, 0x00, 0x20,   /* movq mm3, [0x2000] */
		0x0f, 0x7f, 0x16, 0x00, 0x30,   /* movq [0x3000], mm2 */
		0xf4,                           /* hlt */
	};
	const uint64_t v = 0x0123456789abcdefULL;
	uint8_t img[512], r3[10];
	uint64_t out;
	uint16_t fsw;

	memcpy(flat_ram + 0x2000, &v, 8);
	c->x87.top = 5;
	c->x87.ftw = 0x04;              /* only R2 valid */
	c->x87.st[2] = 3.0L;            /* mantissa 0xc000000000000000 */
	assert_int_equal(run_flat(c, code, sizeof(code)), -1);
	assert_true(c->halted);
	/* MM2 reads R2's mantissa; MM3 wrote R3 with bits 79:64 all ones. */
	memcpy(&out, flat_ram + 0x3000, 8);
	assert_int_equal(out, 0xc000000000000000ULL);
	memcpy(r3, &c->x87.st[3], 10);
	assert_memory_equal(r3, &v, 8);
	assert_int_equal(r3[8], 0xff);
	assert_int_equal(r3[9], 0xff);
	/* TOP = 0 and every register valid, as FXSAVE shows them. */
	assert_int_equal(c->x87.top, 0);
	assert_int_equal(c->x87.ftw, 0xff);
	emu_fxsave(c, img);
	memcpy(&fsw, img + 2, 2);
	assert_int_equal((fsw >> 11) & 7, 0);
	assert_int_equal(img[4], 0xff);
	assert_memory_equal(img + 32 + 16 * 3, r3, 10);     /* ST(3) = R3 = MM3 */
}

static void test_mmx_emms(void **unused)
{
	struct emu_cpu *c = flat_cpu();
	static const uint8_t code[] = {
		0x0f, 0xfc, 0xc1,               /* paddb mm0, mm1 */
		0x0f, 0x77,                     /* emms */
		0xf4,
	};

	c->x87.top = 3;
	assert_int_equal(run_flat(c, code, sizeof(code)), -1);
	assert_int_equal(c->x87.ftw, 0);
	assert_int_equal(c->x87.top, 0);
}

static void test_mmx_cr0_em_ts(void **unused)
{
	static const uint8_t movq[] = { 0x0f, 0x6f, 0xc1, 0xf4 };     /* movq mm0, mm1 */
	static const uint8_t emms[] = { 0x0f, 0x77, 0xf4 };
	static const uint8_t fld1[] = { 0xd9, 0xe8, 0xf4 };
	struct emu_cpu *c;

	/* CR0.EM=1: MMX and EMMS are #UD (x87 would be #NM); nothing changes. */
	c = flat_cpu();
	c->cr0 |= X86_CR0_EM;
	c->x87.top = 4;
	c->x87.ftw = 0x10;
	assert_int_equal(run_flat(c, movq, sizeof(movq)), EXC_UD);
	assert_int_equal(c->x87.top, 4);
	assert_int_equal(c->x87.ftw, 0x10);
	assert_int_equal(run_flat(c, emms, sizeof(emms)), EXC_UD);
	assert_int_equal(c->x87.ftw, 0x10);
	assert_int_equal(run_flat(c, fld1, sizeof(fld1)), EXC_NM);

	/* CR0.TS=1: #NM, so that a lazy-FPU kernel can switch the state in. */
	c = flat_cpu();
	c->cr0 |= X86_CR0_TS;
	c->x87.top = 4;
	assert_int_equal(run_flat(c, movq, sizeof(movq)), EXC_NM);
	assert_int_equal(run_flat(c, emms, sizeof(emms)), EXC_NM);
	assert_int_equal(c->x87.top, 4);
	c->cr0 &= ~X86_CR0_TS;
	assert_int_equal(run_flat(c, movq, sizeof(movq)), -1);
	assert_int_equal(c->x87.top, 0);
}

static void test_mmx_x87_reads_mm(void **unused)
{
	struct emu_cpu *c = flat_cpu();
	static const uint8_t code[] = {
		0x0f, 0x6f, 0x06, 0x00, 0x20,   /* movq mm0, [0x2000] */
		0xdb, 0x3e, 0x00, 0x30,         /* fstp tword [0x3000]: ST(0) = R0 = MM0 */
		0xf4,
	};
	const uint64_t v = 0x8000000000000001ULL;

	memcpy(flat_ram + 0x2000, &v, 8);
	assert_int_equal(run_flat(c, code, sizeof(code)), -1);
	assert_memory_equal(flat_ram + 0x3000, &v, 8);
	assert_int_equal(flat_ram[0x3008], 0xff);
	assert_int_equal(flat_ram[0x3009], 0xff);
	assert_int_equal(c->x87.top, 1);        /* the pop moved TOP */
	assert_int_equal(c->x87.ftw, 0xfe);
}

static void test_arch_capabilities_msr(void **unused)
{
	struct emu_cpu *c = flat_cpu();
	static const uint8_t rd[] = {
		0x66, 0xb9, 0x0a, 0x01, 0x00, 0x00,     /* mov ecx, 0x10a */
		0x0f, 0x32,                             /* rdmsr */
		0xf4,
	};
	static const uint8_t wr[] = {
		0x66, 0xb9, 0x0a, 0x01, 0x00, 0x00,     /* mov ecx, 0x10a */
		0x0f, 0x30,                             /* wrmsr */
		0xf4,
	};
	uint64_t v;

	assert_int_equal(run_flat(c, rd, sizeof(rd)), -1);
	v = (c->gpr[R_DX] << 32) | (uint32_t)c->gpr[R_AX];
	/* RDCL_NO, SSB_NO, MDS_NO, TAA_NO...; no IBRS_ALL, RSBA or TSX_CTRL. */
	assert_int_equal(v & 0x13b, 0x139);
	assert_true(v & (1ULL << 20));          /* BHI_NO */
	assert_true(v & (1ULL << 62));          /* ITS_NO */
	assert_int_equal(v & ((1u << 1) | (1u << 2) | (1u << 7) | (1u << 19)), 0);
	assert_int_equal(run_flat(c, wr, sizeof(wr)), EXC_GP);
}

/* ---- differential test against the host CPU ---- */

struct native_state {
	uint64_t gpr[16];
	uint64_t rflags;
};

struct form {
	const char *name;
	uint8_t bytes[16];
	uint8_t len;
	uint32_t flag_mask;
};

#define F(n, m, ...) { n, { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }), m }

static const struct form forms[] = {
	F("add r32", ALL, 0x01, 0xd8), F("add r64", ALL, 0x48, 0x01, 0xd8),
	F("add r16", ALL, 0x66, 0x01, 0xd8), F("add r8", ALL, 0x00, 0xd8),
	F("add ah,bh", ALL, 0x00, 0xfc), F("add r8 rex", ALL, 0x40, 0x00, 0xf7),
	F("or r32", ALL & ~AF, 0x09, 0xd8), F("or r8", ALL & ~AF, 0x08, 0xd8),
	F("adc r32", ALL, 0x11, 0xd8), F("adc r64", ALL, 0x48, 0x11, 0xd8),
	F("adc r8", ALL, 0x10, 0xd8), F("sbb r32", ALL, 0x19, 0xd8),
	F("sbb r64", ALL, 0x48, 0x19, 0xd8), F("sbb r16", ALL, 0x66, 0x19, 0xd8),
	F("and r32", ALL & ~AF, 0x21, 0xd8), F("and r64", ALL & ~AF, 0x48, 0x21, 0xd8),
	F("sub r32", ALL, 0x29, 0xd8), F("sub r64", ALL, 0x48, 0x29, 0xd8),
	F("sub r8", ALL, 0x28, 0xd8), F("sub r16", ALL, 0x66, 0x29, 0xd8),
	F("xor r32", ALL & ~AF, 0x31, 0xd8), F("xor r16", ALL & ~AF, 0x66, 0x31, 0xd8),
	F("cmp r32", ALL, 0x39, 0xd8), F("cmp r64", ALL, 0x48, 0x39, 0xd8),
	F("cmp r8", ALL, 0x38, 0xd8), F("cmp eax imm", ALL, 0x3d, 0x00, 0x00, 0x00, 0x80),
	F("add imm8", ALL, 0x83, 0xc0, 0x7f), F("sub imm8", ALL, 0x48, 0x83, 0xe8, 0x80),
	F("and imm32", ALL & ~AF, 0x48, 0x25, 0xff, 0x00, 0xff, 0x80),
	F("test r32", ALL & ~AF, 0x85, 0xd8), F("test r8", ALL & ~AF, 0x84, 0xd8),
	F("inc r32", ALL, 0xff, 0xc0), F("dec r64", ALL, 0x48, 0xff, 0xc8),
	F("inc ah", ALL, 0xfe, 0xc4), F("dec r16", ALL, 0x66, 0xff, 0xc9),
	F("neg r32", ALL, 0xf7, 0xd8), F("neg r64", ALL, 0x48, 0xf7, 0xd8),
	F("not r64", ALL, 0x48, 0xf7, 0xd0), F("neg r8", ALL, 0xf6, 0xdb),
	F("shl r32 cl", CF | ZF | SF | PF, 0xd3, 0xe0), F("shr r32 cl", CF | ZF | SF | PF, 0xd3, 0xe8),
	F("sar r32 cl", CF | ZF | SF | PF, 0xd3, 0xf8), F("shl r64 cl", CF | ZF | SF | PF, 0x48, 0xd3, 0xe0),
	F("shr r64 cl", CF | ZF | SF | PF, 0x48, 0xd3, 0xe8), F("sar r64 cl", CF | ZF | SF | PF, 0x48, 0xd3, 0xf8),
	F("shl r32 1", CF | ZF | SF | PF | OF, 0xd1, 0xe0), F("shr r32 1", CF | ZF | SF | PF | OF, 0xd1, 0xe8),
	F("sar r64 1", CF | ZF | SF | PF | OF, 0x48, 0xd1, 0xf8), F("shl r8 1", CF | ZF | SF | PF | OF, 0xd0, 0xe0),
	F("shl r32 5", CF | ZF | SF | PF, 0xc1, 0xe0, 0x05), F("sar r16 3", CF | ZF | SF | PF, 0x66, 0xc1, 0xf8, 0x03),
	F("shr r8 3", CF | ZF | SF | PF, 0xc0, 0xe8, 0x03),
	F("rol r32 cl", CF, 0xd3, 0xc0), F("ror r32 cl", CF, 0xd3, 0xc8),
	F("rol r64 cl", CF, 0x48, 0xd3, 0xc0), F("ror r64 1", CF | OF, 0x48, 0xd1, 0xc8),
	F("rol r8 1", CF | OF, 0xd0, 0xc0), F("rcl r32 1", CF | OF, 0xd1, 0xd0),
	F("rcr r32 1", CF | OF, 0xd1, 0xd8), F("rcl r64 cl", CF, 0x48, 0xd3, 0xd0),
	F("rcr r16 cl", CF, 0x66, 0xd3, 0xd8), F("rcl r8 cl", CF, 0xd2, 0xd0),
	F("imul r32", CF | OF, 0x0f, 0xaf, 0xc3), F("imul r64", CF | OF, 0x48, 0x0f, 0xaf, 0xc3),
	F("imul r16", CF | OF, 0x66, 0x0f, 0xaf, 0xc3), F("imul imm32", CF | OF, 0x69, 0xc3, 0x10, 0x32, 0x54, 0x76),
	F("imul imm8", CF | OF, 0x48, 0x6b, 0xc3, 0x85), F("imul1 r32", CF | OF, 0xf7, 0xeb),
	F("imul1 r64", CF | OF, 0x48, 0xf7, 0xeb), F("mul r32", CF | OF, 0xf7, 0xe3),
	F("mul r64", CF | OF, 0x48, 0xf7, 0xe3), F("mul r8", CF | OF, 0xf6, 0xe3),
	F("imul1 r8", CF | OF, 0xf6, 0xeb), F("mul r16", CF | OF, 0x66, 0xf7, 0xe3),
	F("bsf r32", ZF, 0x0f, 0xbc, 0xc3), F("bsr r64", ZF, 0x48, 0x0f, 0xbd, 0xc3),
	F("bt r32", CF, 0x0f, 0xa3, 0xd8), F("bts r64", CF, 0x48, 0x0f, 0xab, 0xd8),
	F("btr r32", CF, 0x0f, 0xb3, 0xd8), F("btc r64", CF, 0x48, 0x0f, 0xbb, 0xd8),
	F("bt imm", CF, 0x0f, 0xba, 0xe0, 0x07), F("btc imm r64", CF, 0x48, 0x0f, 0xba, 0xf8, 0x3f),
	F("shld r32 cl", CF | ZF | SF | PF, 0x0f, 0xa5, 0xd8), F("shrd r64 cl", CF | ZF | SF | PF, 0x48, 0x0f, 0xad, 0xd8),
	F("shld r64 imm", CF | ZF | SF | PF, 0x48, 0x0f, 0xa4, 0xd8, 0x0d),
	F("shrd r32 1", CF | ZF | SF | PF | OF, 0x0f, 0xac, 0xd8, 0x01),
	F("cmove", ALL, 0x0f, 0x44, 0xc3), F("cmovl", ALL, 0x0f, 0x4c, 0xc3),
	F("cmovg r64", ALL, 0x48, 0x0f, 0x4f, 0xc3), F("cmovbe r16", ALL, 0x66, 0x0f, 0x46, 0xc3),
	F("cmovp", ALL, 0x0f, 0x4a, 0xc3), F("cmovo r64", ALL, 0x48, 0x0f, 0x40, 0xc3),
	F("sete", ALL, 0x0f, 0x94, 0xc0), F("setl", ALL, 0x0f, 0x9c, 0xc0),
	F("seta", ALL, 0x0f, 0x97, 0xc0), F("setp", ALL, 0x0f, 0x9a, 0xc0),
	F("setle bh", ALL, 0x0f, 0x9e, 0xc7), F("sets sil", ALL, 0x40, 0x0f, 0x98, 0xc6),
	F("movzx r32 r8", ALL, 0x0f, 0xb6, 0xc3), F("movsx r32 r16", ALL, 0x0f, 0xbf, 0xc3),
	F("movsx r64 r8", ALL, 0x48, 0x0f, 0xbe, 0xc3), F("movsxd", ALL, 0x48, 0x63, 0xc3),
	F("movzx r16 ah", ALL, 0x66, 0x0f, 0xb6, 0xc4),
	F("xchg r32", ALL, 0x87, 0xd8), F("xchg r64", ALL, 0x48, 0x87, 0xd8),
	F("xchg eax,ecx", ALL, 0x91), F("xchg r8", ALL, 0x86, 0xe3),
	F("cbw", ALL, 0x66, 0x98), F("cwde", ALL, 0x98), F("cdqe", ALL, 0x48, 0x98),
	F("cwd", ALL, 0x66, 0x99), F("cdq", ALL, 0x99), F("cqo", ALL, 0x48, 0x99),
	F("bswap r32", ALL, 0x0f, 0xc8), F("bswap r64", ALL, 0x48, 0x0f, 0xcb),
	F("lea sib", ALL, 0x8d, 0x04, 0x5b), F("lea r64 disp", ALL, 0x48, 0x8d, 0x44, 0x58, 0x10),
	F("lea r16", ALL, 0x66, 0x8d, 0x04, 0x19),
	F("xadd r32", ALL, 0x0f, 0xc1, 0xd8), F("xadd r8", ALL, 0x0f, 0xc0, 0xd8),
	F("cmpxchg r32", ALL, 0x0f, 0xb1, 0xd8), F("cmpxchg r64", ALL, 0x48, 0x0f, 0xb1, 0xd8),
	F("popcnt r32", ALL, 0xf3, 0x0f, 0xb8, 0xc3), F("popcnt r64", ALL, 0xf3, 0x48, 0x0f, 0xb8, 0xc3),
	F("lahf", ALL, 0x9f), F("sahf", ALL, 0x9e), F("clc", ALL, 0xf8), F("stc", ALL, 0xf9),
	F("cmc", ALL, 0xf5), F("mov r8 imm", ALL, 0xb4, 0x55),
	F("mov r64 imm64", ALL, 0x49, 0xb8, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88),
	F("mov r32 r32", ALL, 0x89, 0xd8), F("mov r16", ALL, 0x66, 0x89, 0xd8),
};

/* The host side: load registers, run the instruction, store registers and RFLAGS. */
static uint8_t *native_build(const struct form *f)
{
	static const int regs[] = { 0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
	uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *q = p;

	if (p == MAP_FAILED)
		return NULL;
	static const uint8_t pro[] = { 0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57,
				       0x49, 0x89, 0xff,                        /* mov r15, rdi */
				       0x41, 0xff, 0xb7, 0x80, 0, 0, 0, 0x9d }; /* push [r15+128]; popf */
	memcpy(q, pro, sizeof(pro));
	q += sizeof(pro);
	for (size_t i = 0; i < ARRAY_LEN(regs); i++) {
		int r = regs[i];
		*q++ = (uint8_t)(0x49 | (r >= 8 ? 4 : 0));
		*q++ = 0x8b;
		*q++ = (uint8_t)(0x47 | ((r & 7) << 3));
		*q++ = (uint8_t)(r * 8);
	}
	memcpy(q, f->bytes, f->len);
	q += f->len;
	static const uint8_t mid[] = { 0x9c, 0x41, 0x8f, 0x87, 0x80, 0, 0, 0 };  /* pushf; pop [r15+128] */
	memcpy(q, mid, sizeof(mid));
	q += sizeof(mid);
	for (size_t i = 0; i < ARRAY_LEN(regs); i++) {
		int r = regs[i];
		*q++ = (uint8_t)(0x49 | (r >= 8 ? 4 : 0));
		*q++ = 0x89;
		*q++ = (uint8_t)(0x47 | ((r & 7) << 3));
		*q++ = (uint8_t)(r * 8);
	}
	static const uint8_t epi[] = { 0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3 };
	memcpy(q, epi, sizeof(epi));
	return p;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64* with a fixed seed: reproducible inputs. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static uint64_t interesting(void)
{
	static const uint64_t edge[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
					 0x7fffffff, 0x80000000, 0xffffffff,
					 0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL };
	uint64_t r = rnd();

	switch (r & 7) {
	case 0: return edge[(r >> 8) % ARRAY_LEN(edge)];
	case 1: return (r >> 8) & 0x3f;
	case 2: return edge[(r >> 8) % ARRAY_LEN(edge)] - ((r >> 16) & 1);
	default: return rnd();
	}
}

static void test_differential(void **unused)
{
	int checked = 0;

	for (size_t fi = 0; fi < ARRAY_LEN(forms); fi++) {
		const struct form *f = &forms[fi];
		uint8_t *native = native_build(f);
		void (*fn)(struct native_state *);

		assert_non_null(native);
		fn = (void (*)(struct native_state *))(uintptr_t)native;
		for (int iter = 0; iter < 300; iter++) {
			struct native_state ns;
			struct emu_test_state *st = new_state();
			uint64_t in_flags = (rnd() & ALL) | 0x2;
			int exc;

			for (int r = 0; r < 16; r++)
				ns.gpr[r] = interesting();
			ns.gpr[RSP] = st->gpr[RSP];
			ns.gpr[15] = 0;
			ns.rflags = in_flags;
			memcpy(st->gpr, ns.gpr, sizeof(st->gpr));
			st->rflags = in_flags;
			fn(&ns);
			ns.gpr[15] = 0;
			ns.gpr[RSP] = st->gpr[RSP];
			exc = emu_test_run(st, f->bytes, f->len, 1);
			if (exc != -1)
				fail_msg("%s: exception %d", f->name, exc);
			for (int r = 0; r < 16; r++) {
				if (st->gpr[r] != ns.gpr[r])
					fail_msg("%s: gpr %d: emu 0x%llx host 0x%llx (iteration %d)",
						 f->name, r, (unsigned long long)st->gpr[r],
						 (unsigned long long)ns.gpr[r], iter);
			}
			if ((st->rflags & f->flag_mask) != (ns.rflags & f->flag_mask))
				fail_msg("%s: flags emu 0x%llx host 0x%llx mask 0x%x in 0x%llx "
					 "rax 0x%llx rbx 0x%llx rcx 0x%llx",
					 f->name, (unsigned long long)st->rflags,
					 (unsigned long long)ns.rflags, f->flag_mask,
					 (unsigned long long)in_flags,
					 (unsigned long long)ns.gpr[0], (unsigned long long)ns.gpr[3],
					 (unsigned long long)ns.gpr[1]);
			checked++;
		}
		munmap(native, 4096);
	}
	assert_true(checked > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_flags),
		cmocka_unit_test(test_sub_overflow),
		cmocka_unit_test(test_mem_and_riprel),
		cmocka_unit_test(test_lock_ops),
		cmocka_unit_test(test_lock_register_is_ud),
		cmocka_unit_test(test_rep_string),
		cmocka_unit_test(test_repe_cmpsb),
		cmocka_unit_test(test_div_by_zero),
		cmocka_unit_test(test_idiv),
		cmocka_unit_test(test_privileged_gp),
		cmocka_unit_test(test_undefined_ud),
		cmocka_unit_test(test_page_fault),
		cmocka_unit_test(test_stack_call_ret),
		cmocka_unit_test(test_sse),
		cmocka_unit_test(test_movdqa_misaligned_gp),
		cmocka_unit_test(test_x87),
		cmocka_unit_test(test_max_insns_and_rip),
		cmocka_unit_test(test_random_code),
		cmocka_unit_test(test_random_code_jit),
		cmocka_unit_test(test_triple_fault),
		cmocka_unit_test(test_real_mode_int),
		cmocka_unit_test(test_mmx_aliases_x87),
		cmocka_unit_test(test_mmx_emms),
		cmocka_unit_test(test_mmx_cr0_em_ts),
		cmocka_unit_test(test_mmx_x87_reads_mm),
		cmocka_unit_test(test_arch_capabilities_msr),
		cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
