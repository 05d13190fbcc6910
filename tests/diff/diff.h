/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_TEST_DIFF_H
#define VIREO_TEST_DIFF_H

/*
 * Differential test of the emu interpreter against the host CPU: each
 * instruction form runs natively (diff_native.c) and through emu_test_run()
 * from the same random state, and the results are compared (emu_diff.c).
 * Forms come from tables (diff_forms.c).
 */
#include <stdbool.h>
#include <stdint.h>

#include "accel/emu/emu_test.h"

/* RFLAGS arithmetic bits (Intel SDM Vol.1 §3.4.3.1). */
#define FL_CF 0x001u
#define FL_PF 0x004u
#define FL_AF 0x010u
#define FL_ZF 0x040u
#define FL_SF 0x080u
#define FL_OF 0x800u
#define FL_DF 0x400u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

/* GPR indices in encoding order (struct emu_test_state.gpr). */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

/* How a form's inputs are shaped and which results the manual defines. */
enum form_class {
	CLS_PLAIN,      /* flags_undef is all there is */
	CLS_SHIFT,      /* SHL/SHR/SAR: count-dependent CF/OF/AF (SDM "SAL/SAR/SHL/SHR") */
	CLS_ROT,        /* ROL/ROR */
	CLS_RCX,        /* RCL/RCR */
	CLS_SHD,        /* SHLD/SHRD */
	CLS_BSF,        /* BSF/BSR: destination undefined for a zero source */
	CLS_DIV,        /* DIV/IDIV: inputs biased to avoid #DE most of the time */
	CLS_STR,        /* string ops: RSI/RDI into memory, small RCX */
	CLS_FP,         /* SSE floating point: FP-shaped XMM and memory */
	CLS_X87,        /* x87 sequence over FP values in memory */
	CLS_MMX,        /* MMX: random x87 registers, TOP and tags (fpw: FP-shaped XMM/memory) */
};

#define FORM_NAME_MAX 48
#define FORM_CODE_MAX 32

struct form {
	char name[FORM_NAME_MAX];
	uint8_t code[FORM_CODE_MAX];
	uint8_t len;
	enum form_class cls;
	uint32_t flags_undef;   /* RFLAGS bits left undefined by the manual */
	int8_t membase;         /* GPR pointed into the memory buffer, -1 none */
	uint8_t memalign;       /* alignment of that pointer (1, 8, 16) */
	uint8_t opbits;         /* operand size in bits (shift classes) */
	int8_t count_imm;       /* shift count immediate; -1 = CL, -2 = 1 (D0/D1) */
	int8_t disp;            /* displacement of the memory operand */
	int8_t bsf_dest, bsf_src;  /* CLS_BSF registers (src -1: memory); CLS_SHD dest */
	bool want_df;           /* randomise DF too (string ops) */
	int8_t small_reg;       /* GPR limited to a small signed range, -1 none */
	bool rsp_mem;           /* RSP points into the memory buffer (push/pop) */
	bool popf;              /* the qword at RSP is a sane RFLAGS image */
	bool ret_target;        /* the qword at RSP, and target_reg, hold the code's end */
	int8_t target_reg;      /* GPR holding the code's end (indirect branches), -1 none */
	uint8_t fpw;            /* CLS_FP lane width: 4 (single) or 8 (double) */
};

/* Fill `forms` (capacity cap); returns the count. */
int diff_forms_build(struct form *forms, int cap);

/* Result of one run (native or emu). */
struct run_result {
	int vector;             /* -1 completed, else exception vector */
	struct emu_test_state st;
};

/*
 * Native runner: set up the fixed mappings (code at EMU_TEST_CODE_GVA,
 * memory at EMU_TEST_MEM_GVA) in this process.  Call only in a child
 * process that the caller forks for the form (faults are caught, but a
 * runaway instruction may still corrupt the process).
 */
int diff_native_init(void);
void diff_native_run(const struct form *f, const struct emu_test_state *in,
		     struct run_result *out);

#endif
