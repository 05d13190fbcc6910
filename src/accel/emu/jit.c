// SPDX-License-Identifier: GPL-2.0-only
/*
 * Block translator: decoded blocks of 64-bit guest code that ran often
 * enough become host x86-64 code.
 *
 * Guest and host share the instruction set, so an integer instruction is
 * translated by running the same opcode on the host with its operands moved
 * into host registers: the r/m operand into RAX (AH for the high-byte
 * registers), the reg operand into RDX (DH), a CL count into RCX, and a
 * memory operand through [RSI], where RSI is the host address found by an
 * inline software-TLB lookup.  Results are exactly the hardware's, flags
 * included; the guest's arithmetic flags stay in the host RFLAGS between
 * translated instructions and are written back to the lazy-flag state
 * (cc_op = CC_EFLAGS) only where C code or the run loop needs them.
 *
 * Anything else - and every TLB miss, MMIO access or write to a page that
 * holds code - calls the instruction's interpreter handler, exactly as
 * block_exec() would, so faults, SMC detection and device access keep one
 * implementation.  Register state is written back to struct emu_cpu before
 * every handler call, so a longjmp out of a handler loses nothing.
 *
 * Exits with a known target are linked directly to the target's
 * translation by the run loop (emu_jit_link), RET and indirect branches go
 * through a jump cache; every translation checks its code page's
 * generation at entry.
 *
 * Register use in translated code: RBX = struct emu_cpu *, RAX/RCX/RDX/
 * RSI/RDI scratch, R11 = saved flags across a TLB check, R12-R15 = up to
 * four cached guest GPRs (map[] in struct tctx).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/emu/cpu.h"
#include "accel/emu/jit.h"

#if EMU_JIT_HOST
#include <cpuid.h>

#define JIT_BUF_SIZE   (64u << 20)
#define JIT_BLOCK_MAX  (32u << 10)     /* worst case code for one block */
#define JIT_ENTRY_SKIP 12              /* push rbx, r12-r15; mov rbx, rdi */

enum { H_RAX, H_RCX, H_RDX, H_RBX, H_RSP, H_RBP, H_RSI, H_RDI };

/* Operands an inline form reads / writes. */
#define OP_RRM   0x01   /* reads r/m */
#define OP_WRM   0x02   /* writes r/m */
#define OP_RREG  0x04   /* reads reg */
#define OP_WREG  0x08   /* writes reg */
#define OP_CL    0x10   /* count in CL */
#define OP_BYTE  0x20   /* 8-bit operands (r/m and reg) */
#define OP_RMB   0x40   /* 8-bit r/m only (MOVZX/MOVSX r, r/m8) */
#define OP_NOMEM 0x80   /* register form only */
#define OP_LOCKOK 0x100 /* LOCK allowed with a memory operand */

/* Flag behaviour. */
enum { FL_NONE, FL_WRITE, FL_READ };   /* FL_READ: reads or partly writes */

struct form {
	uint16_t ops;
	uint8_t fl;
	int8_t immlen;          /* -1: 2 or 4 by operand size; -2: osize (MOV r, imm) */
};

struct em {
	uint8_t *p, *end;
};

/*
 * The code buffer is one memfd mapped twice: written through `buf` (read/
 * write), executed through `xbuf` (read/execute), so no page of the monitor
 * is writable and executable at once.  Offsets are the same in both views;
 * rel32 branches inside the buffer are too.
 */
struct jit {
	uint8_t *buf, *xbuf;
	size_t used;
};

/* ---- byte emitter ---- */

static void e1(struct em *e, uint8_t b)
{
	if (e->p < e->end)
		*e->p = b;
	e->p++;
}

static void e4(struct em *e, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		e1(e, (uint8_t)(v >> (8 * i)));
}

static void e8(struct em *e, uint64_t v)
{
	e4(e, (uint32_t)v);
	e4(e, (uint32_t)(v >> 32));
}

static void en(struct em *e, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		e1(e, (uint8_t)(v >> (8 * i)));
}

/* ModRM for [RBX + disp] with host register h (low 3 bits). */
static void m_rbx(struct em *e, int h, int32_t disp)
{
	if (disp >= -128 && disp < 128) {
		e1(e, (uint8_t)(0x40 | ((h & 7) << 3) | H_RBX));
		e1(e, (uint8_t)disp);
	} else {
		e1(e, (uint8_t)(0x80 | ((h & 7) << 3) | H_RBX));
		e4(e, (uint32_t)disp);
	}
}

#define OFF(f) ((int32_t)offsetof(struct emu_cpu, f))
#define GPR(r) (OFF(gpr) + 8 * (r))

/* mov h64, [rbx + disp] */
static void ld(struct em *e, int h, int32_t disp)
{
	e1(e, (uint8_t)(0x48 | (h >= 8 ? 4 : 0)));
	e1(e, 0x8b);
	m_rbx(e, h, disp);
}

/* mov [rbx + disp], h64 */
static void st(struct em *e, int h, int32_t disp)
{
	e1(e, (uint8_t)(0x48 | (h >= 8 ? 4 : 0)));
	e1(e, 0x89);
	m_rbx(e, h, disp);
}

/* mov h64, imm64 (shortest form; never touches flags) */
static void movi(struct em *e, int h, uint64_t v)
{
	if (v <= 0xffffffffULL) {
		if (h >= 8)
			e1(e, 0x41);
		e1(e, (uint8_t)(0xb8 + (h & 7)));
		e4(e, (uint32_t)v);
	} else if ((int64_t)v == (int32_t)v) {
		e1(e, (uint8_t)(0x48 | (h >= 8 ? 1 : 0)));
		e1(e, 0xc7);
		e1(e, (uint8_t)(0xc0 | (h & 7)));
		e4(e, (uint32_t)v);
	} else {
		e1(e, (uint8_t)(0x48 | (h >= 8 ? 1 : 0)));
		e1(e, (uint8_t)(0xb8 + (h & 7)));
		e8(e, v);
	}
}

/* jcc rel32 / jmp rel32 with a placeholder; returns the patch address. */
static uint8_t *jcc32(struct em *e, int cc)
{
	e1(e, 0x0f);
	e1(e, (uint8_t)(0x80 | cc));
	e4(e, 0);
	return e->p - 4;
}

static uint8_t *jmp32(struct em *e)
{
	e1(e, 0xe9);
	e4(e, 0);
	return e->p - 4;
}

static void patch(struct em *e, uint8_t *at, const uint8_t *target)
{
	int32_t rel = (int32_t)(target - (at + 4));

	if (at + 4 <= e->end)
		memcpy(at, &rel, 4);
}

/* call an absolute address (through RAX) */
static void call_abs(struct em *e, const void *fn)
{
	movi(e, H_RAX, (uint64_t)(uintptr_t)fn);
	e1(e, 0xff);
	e1(e, 0xd0);
}

/* ---- flags ---- */

/* RAX (a pushed RFLAGS image) -> cpu->rflags, cc_op = CC_EFLAGS. */
static void flags_commit_rax(struct em *e)
{
	e1(e, 0x25); e4(e, FL_ARITH);                   /* and eax, FL_ARITH */
	ld(e, H_RCX, OFF(rflags));
	e1(e, 0x48); e1(e, 0x81); e1(e, 0xe1); e4(e, (uint32_t)~FL_ARITH);  /* and rcx, ~ */
	e1(e, 0x48); e1(e, 0x09); e1(e, 0xc1);          /* or rcx, rax */
	st(e, H_RCX, OFF(rflags));
	e1(e, 0xc6); m_rbx(e, 0, OFF(cc_op)); e1(e, CC_EFLAGS);   /* mov byte [cc_op], 0 */
}

/* Host arithmetic flags -> cpu->rflags, cc_op = CC_EFLAGS. */
static void flags_store(struct em *e)
{
	e1(e, 0x9c);                                    /* pushfq */
	e1(e, 0x58);                                    /* pop rax */
	flags_commit_rax(e);
}

static uint64_t jit_flags_get(struct emu_cpu *c)
{
	return emu_flags_get(c) & FL_ARITH;
}

/* cpu flag state -> host arithmetic flags. */
static void flags_load(struct em *e)
{
	e1(e, 0x48); e1(e, 0x89); e1(e, 0xdf);          /* mov rdi, rbx */
	call_abs(e, (const void *)jit_flags_get);
	e1(e, 0x50);                                    /* push rax */
	e1(e, 0x9d);                                    /* popfq */
}

/* Keep the host flags across a TLB check: R11 <- AH/OF, and back. */
static void flags_save_r11(struct em *e)
{
	e1(e, 0x9f);                                    /* lahf */
	e1(e, 0x0f); e1(e, 0x90); e1(e, 0xc0);          /* seto al */
	e1(e, 0x41); e1(e, 0x89); e1(e, 0xc3);          /* mov r11d, eax */
}

static void flags_restore_r11(struct em *e)
{
	e1(e, 0x44); e1(e, 0x89); e1(e, 0xd8);          /* mov eax, r11d */
	e1(e, 0x04); e1(e, 0x7f);                       /* add al, 0x7f: OF */
	e1(e, 0x9e);                                    /* sahf */
}

/* ---- the forms ---- */

static bool form_of(const struct emu_insn *in, struct form *f)
{
	uint8_t b = (uint8_t)in->op;
	int ext = in->reg & 7;

	memset(f, 0, sizeof(*f));
	if (in->op < 0x100) {
		if (b < 0x40 && (b & 7) < 4) {          /* ALU r/m, r and r, r/m */
			int op = b >> 3;
			f->ops = (b & 1) ? 0 : OP_BYTE;
			if (b & 2)
				f->ops |= OP_RRM | OP_RREG | (op == 7 ? 0 : OP_WREG);
			else
				f->ops |= OP_RRM | OP_RREG | (op == 7 ? 0 : OP_WRM | OP_LOCKOK);
			f->fl = (op == 2 || op == 3) ? FL_READ : FL_WRITE;
			return true;
		}
		switch (b) {
		case 0x63:
			f->ops = OP_RRM | OP_WREG;
			f->fl = FL_NONE;
			return in->osize == 8;
		case 0x69: case 0x6b:
			f->ops = OP_RRM | OP_WREG;
			f->fl = FL_WRITE;
			f->immlen = b == 0x6b ? 1 : -1;
			return true;
		case 0x80: case 0x81: case 0x83:
			f->ops = (b == 0x80 ? OP_BYTE : 0) | OP_RRM | (ext == 7 ? 0 : OP_WRM | OP_LOCKOK);
			f->fl = (ext == 2 || ext == 3) ? FL_READ : FL_WRITE;
			f->immlen = b == 0x81 ? -1 : 1;
			return true;
		case 0x84: case 0x85:
			f->ops = (b == 0x84 ? OP_BYTE : 0) | OP_RRM | OP_RREG;
			f->fl = FL_WRITE;
			return true;
		case 0x86: case 0x87:
			f->ops = (b == 0x86 ? OP_BYTE : 0) | OP_RRM | OP_WRM | OP_RREG | OP_WREG;
			f->fl = FL_NONE;
			return true;
		case 0x88: case 0x89:
			f->ops = (b == 0x88 ? OP_BYTE : 0) | OP_WRM | OP_RREG | (in->mod == 3 ? OP_RRM : 0);
			return true;
		case 0x8a: case 0x8b:
			f->ops = (b == 0x8a ? OP_BYTE : 0) | OP_RRM | OP_WREG | OP_RREG;
			return true;
		case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
			if (ext == 6)
				return false;
			f->ops = ((b & 1) ? 0 : OP_BYTE) | OP_RRM | OP_WRM | (b >= 0xd2 ? OP_CL : 0);
			f->fl = FL_READ;
			f->immlen = b < 0xd0 ? 1 : 0;
			return true;
		case 0xc6: case 0xc7:
			if (ext != 0)
				return false;
			f->ops = (b == 0xc6 ? OP_BYTE : 0) | OP_WRM | (in->mod == 3 ? OP_RRM : 0);
			f->immlen = b == 0xc6 ? 1 : -1;
			return true;
		case 0xf6: case 0xf7:
			f->ops = b == 0xf6 ? OP_BYTE : 0;
			switch (ext) {
			case 0:
				f->ops |= OP_RRM;
				f->fl = FL_WRITE;
				f->immlen = b == 0xf6 ? 1 : -1;
				return true;
			case 2:
				f->ops |= OP_RRM | OP_WRM | OP_LOCKOK;
				return true;
			case 3:
				f->ops |= OP_RRM | OP_WRM | OP_LOCKOK;
				f->fl = FL_WRITE;
				return true;
			default:
				return false;
			}
		case 0xfe: case 0xff:
			if (ext > 1)
				return false;
			f->ops = (b == 0xfe ? OP_BYTE : 0) | OP_RRM | OP_WRM | OP_LOCKOK;
			f->fl = FL_READ;
			return true;
		default:
			return false;
		}
	}
	if (in->op >= 0x200)
		return false;
	switch (b) {
	case 0x40 ... 0x4f:                             /* CMOVcc */
		f->ops = OP_RRM | OP_RREG | OP_WREG;
		f->fl = FL_READ;
		return true;
	case 0x90 ... 0x9f:                             /* SETcc */
		f->ops = OP_BYTE | OP_RRM | OP_WRM;
		f->fl = FL_READ;
		return true;
	case 0xa3:                                      /* BT r/m, r */
		f->ops = OP_RRM | OP_RREG | OP_NOMEM;
		f->fl = FL_READ;
		return true;
	case 0xab: case 0xb3: case 0xbb:                /* BTS/BTR/BTC r/m, r */
		f->ops = OP_RRM | OP_WRM | OP_RREG | OP_NOMEM;
		f->fl = FL_READ;
		return true;
	case 0xba:
		if (ext < 4)
			return false;
		f->ops = OP_RRM | (ext == 4 ? 0 : OP_WRM | OP_LOCKOK);
		f->fl = FL_READ;
		f->immlen = 1;
		return true;
	case 0xa4: case 0xac: case 0xa5: case 0xad:     /* SHLD / SHRD */
		f->ops = OP_RRM | OP_WRM | OP_RREG | ((b & 1) ? OP_CL : 0);
		f->fl = FL_READ;
		f->immlen = (b & 1) ? 0 : 1;
		return true;
	case 0xaf:
		f->ops = OP_RRM | OP_RREG | OP_WREG;
		f->fl = FL_WRITE;
		return true;
	case 0xb6: case 0xbe:
		f->ops = OP_RMB | OP_RRM | OP_WREG | OP_RREG;
		return true;
	case 0xb7: case 0xbf:
		f->ops = OP_RRM | OP_WREG | OP_RREG;
		return true;
	case 0xbc: case 0xbd:                           /* BSF / BSR (not TZCNT/LZCNT) */
		f->ops = OP_RRM | OP_RREG | OP_WREG;
		f->fl = FL_READ;
		return true;
	case 0xc0: case 0xc1:                           /* XADD */
		f->ops = ((b & 1) ? 0 : OP_BYTE) | OP_RRM | OP_WRM | OP_RREG | OP_WREG | OP_LOCKOK;
		f->fl = FL_WRITE;
		return true;
	default:
		return false;
	}
}

/* ---- per-instruction classification ---- */

enum kind {
	K_CALLH,        /* call the interpreter handler */
	K_SKIP,         /* no code (NOP, a followed direct JMP) */
	K_FORM,         /* struct form */
	K_LEA,
	K_MOVRI,        /* B8+r / C7 r, 32/64-bit */
	K_JCC,
	K_JMP,          /* direct JMP leaving the block */
	K_PUSH, K_POP, K_CALL, K_RET,
	K_BSWAP,
};

struct tinsn {
	enum kind k;
	struct form f;
	bool fl_read, fl_write_all;
	uint64_t target;        /* K_JCC / K_JMP / K_CALL */
};

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/*
 * Debug knobs (docs/emu.md): VIREO_EMU_JIT_MASK, one bit per enum kind that
 * may be translated inline (others call their handler); VIREO_EMU_JIT_MAX,
 * translate only the first N blocks (bisection); VIREO_EMU_JIT_DUMP, append
 * every translation's code to a file (objdump -b binary -m i386:x86-64 -D).
 */
static unsigned jit_mask = ~0u;
static long jit_max = -1;
static bool host_popcnt;

static void classify_one(const struct emu_insn *in, bool last, struct tinsn *t);

static void classify(const struct emu_insn *in, bool last, struct tinsn *t)
{
	classify_one(in, last, t);
	if (!(jit_mask & (1u << t->k))) {
		t->k = K_CALLH;
		t->fl_read = true;
		t->fl_write_all = false;
	}
}

/* A kind that neither reads nor writes the arithmetic flags. */
static void set_kind(struct tinsn *t, enum kind k)
{
	t->k = k;
	t->fl_read = false;
}

static void classify_one(const struct emu_insn *in, bool last, struct tinsn *t)
{
	bool mem = in->has_modrm && in->mod != 3;

	memset(t, 0, sizeof(*t));
	t->k = K_CALLH;
	t->fl_read = true;
	if (in->rep && !(in->op == 0x1b8 && in->rep == 0xf3))
		return;
	if (in->seg_override && in->seg < S_FS)
		return;
	if (mem && in->asize != 8)
		return;
	if (in->op == 0x11f || (in->op == 0x90 && !(in->rex & 1) && !in->rep && !in->lock)) {
		set_kind(t, K_SKIP);
		return;
	}
	if (in->lock) {
		if (!mem || !form_of(in, &t->f) || !(t->f.ops & OP_LOCKOK))
			return;
	}
	switch (in->op) {
	case 0x70 ... 0x7f: case 0x180 ... 0x18f:
		t->target = in->next_rip + in->imm;
		if (!canonical(t->target))
			return;
		t->k = K_JCC;
		return;
	case 0xe9: case 0xeb:
		if (!last) {            /* followed by block_build: execution continues */
			set_kind(t, K_SKIP);
			return;
		}
		if (!emu_fast_is_jmp(in))
			return;
		t->target = in->imm2;
		set_kind(t, K_JMP);
		return;
	case 0xe8:
		t->target = in->next_rip + in->imm;
		if (!canonical(t->target) || in->opsize_prefix)
			return;
		set_kind(t, K_CALL);
		return;
	case 0xc3:
		if (in->opsize_prefix)
			return;
		set_kind(t, K_RET);
		return;
	case 0x50 ... 0x57:
		if (in->opsize_prefix)
			return;
		set_kind(t, K_PUSH);
		return;
	case 0x58 ... 0x5f:
		if (in->opsize_prefix)
			return;
		set_kind(t, K_POP);
		return;
	case 0x8d:
		if (!mem || in->osize == 2)
			return;
		set_kind(t, K_LEA);
		return;
	case 0xb8 ... 0xbf:
		if (in->osize == 2)
			return;
		set_kind(t, K_MOVRI);
		return;
	case 0x1c8 ... 0x1cf:
		if (in->osize == 2)
			return;
		set_kind(t, K_BSWAP);
		return;
	case 0x1b8:                     /* POPCNT (F3 0F B8), if the host has it */
		if (in->rep != 0xf3 || !host_popcnt)
			return;
		t->f.ops = OP_RRM | OP_WREG;
		t->f.fl = FL_WRITE;
		t->k = K_FORM;
		t->fl_read = false;
		t->fl_write_all = true;
		return;
	default:
		break;
	}
	if (in->rep)
		return;
	if (!form_of(in, &t->f))
		return;
	if ((t->f.ops & OP_NOMEM) && mem)
		return;
	if (in->lock && !(t->f.ops & OP_LOCKOK))
		return;
	if ((t->f.ops & OP_WRM) && (t->f.ops & OP_WREG) && !mem) {
		int a = in->rm, r = in->reg;
		if ((t->f.ops & OP_BYTE) && !in->rex) {
			a &= 3;
			r &= 3;
		}
		if (a == r)
			return;
	}
	t->k = K_FORM;
	t->fl_read = t->f.fl == FL_READ;
	t->fl_write_all = t->f.fl == FL_WRITE;
}

/* ---- translation ---- */

struct tctx {
	struct em e;
	struct emu_cpu *c;
	const struct emu_block *b;
	bool fl_host;           /* guest arithmetic flags are in the host RFLAGS */
	bool user;
	/* Out-of-line slow paths, emitted after the block body. */
	struct slow {
		uint8_t *jump_at;       /* jcc to patch */
		uint8_t *join;          /* where to continue */
		unsigned idx;
		bool restore_r11;       /* host flags saved in R11 */
		bool fl_host_before;
		bool fl_host_after;
		uint16_t dirty_before;  /* cached guest registers to write back first */
		uint16_t reload_after;  /* cached guest registers live at the join */
	} slow[EMU_BLOCK_MAX + 2];
	unsigned nslow;
	/* Exits: add icount, store RIP, return. */
	struct exitp {
		uint8_t *jump_at;
		unsigned count;         /* instructions retired at this exit */
		uint64_t rip;
		bool store_rip;
		bool flags;             /* flags in host: store them */
		uint16_t dirty;         /* cached guest registers to write back */
		uint16_t loaded;        /* cached guest registers held in R12-R15 */
	} exits[2 * EMU_BLOCK_MAX + 4];
	unsigned nexit;
	/* Chaining slots of this block (struct emu_jit_slot), before its code. */
	struct emu_jit_slot *slots;
	unsigned nslots, maxslots;
	uint8_t *entry;
	bool entry_flags_dead;  /* the block overwrites all flags before any use or fault */
	bool jc_ok;             /* this exit may go through the jump cache */
	/*
	 * Register cache: up to four guest GPRs of the block live in R12-R15
	 * (map[guest] = host register, or -1), loaded on first use, written
	 * back before handler calls, slow paths and exits.
	 */
	int8_t map[16];
	uint16_t mapped, loaded, dirty;
	uint8_t *loop_head;     /* after the cached registers' loads */
	uint8_t *bail_at;       /* entry check failed: back to the run loop */
	/*
	 * Forward branches inside the block: a taken Jcc whose target is a
	 * later instruction of this block jumps there (through a pad that
	 * fixes the instruction count and reloads cached registers) instead of
	 * leaving.  At such a label the state is canonical: flags in the host,
	 * every cached register loaded (and counted dirty).
	 */
	int8_t jtarget[EMU_BLOCK_MAX];  /* Jcc i: index of its in-block target, or -1 */
	bool is_label[EMU_BLOCK_MAX];
	uint8_t *label[EMU_BLOCK_MAX];
	struct pad {
		uint8_t *jump_at;
		unsigned from, to;      /* Jcc index, target index */
		uint16_t loaded, dirty;
	} pads[EMU_BLOCK_MAX];
	unsigned npads;
};

/*
 * Exits through the jump cache: after RET and the interpreter's plain
 * control transfers only.  Any other handler (HLT, STI, MOV SS, IRET,
 * SYSCALL, I/O...) may have set state the run loop must see first.
 */
static bool jc_branch(const struct emu_insn *in)
{
	switch (in->op) {
	case 0xc2: case 0xc3: case 0xe8: case 0xe9: case 0xeb:
		return true;
	case 0xff:
		return (in->reg & 7) == 2 || (in->reg & 7) == 4;
	default:
		return false;
	}
}

static void add_exit(struct tctx *t, uint8_t *at, unsigned count, bool store_rip, uint64_t rip,
		     bool flags)
{
	struct exitp *x = &t->exits[t->nexit++];

	x->jump_at = at;
	x->count = count;
	x->store_rip = store_rip;
	x->rip = rip;
	x->flags = flags;
	x->dirty = t->dirty;
	x->loaded = t->loaded;
}

/* mov dst64, src64 */
static void movrr(struct em *e, int dst, int src)
{
	e1(e, (uint8_t)(0x48 | (src >= 8 ? 4 : 0) | (dst >= 8 ? 1 : 0)));
	e1(e, 0x89);
	e1(e, (uint8_t)(0xc0 | ((src & 7) << 3) | (dst & 7)));
}

/* Host register h <- guest GPR g (through the register cache). */
static void gload(struct tctx *t, int h, int g)
{
	int c = t->map[g];

	if (c < 0) {
		ld(&t->e, h, GPR(g));
		return;
	}
	if (!(t->loaded & (1u << g))) {
		ld(&t->e, c, GPR(g));
		t->loaded |= (uint16_t)(1u << g);
	}
	movrr(&t->e, h, c);
}

/* Guest GPR g <- host register h. */
static void gstore(struct tctx *t, int g, int h)
{
	int c = t->map[g];

	if (c < 0) {
		st(&t->e, h, GPR(g));
		return;
	}
	movrr(&t->e, c, h);
	t->loaded |= (uint16_t)(1u << g);
	t->dirty |= (uint16_t)(1u << g);
}

/* Write the cached registers in mask back to struct emu_cpu. */
static void spill(struct tctx *t, uint16_t mask)
{
	for (int g = 0; g < 16; g++)
		if (mask & (1u << g))
			st(&t->e, t->map[g], GPR(g));
}

/* Reload the cached registers in mask from struct emu_cpu. */
static void reload(struct tctx *t, uint16_t mask)
{
	for (int g = 0; g < 16; g++)
		if (mask & (1u << g))
			ld(&t->e, t->map[g], GPR(g));
}

/* Before C code that reads or writes guest registers: write back, forget. */
static void sync_regs(struct tctx *t)
{
	spill(t, t->dirty);
	t->dirty = 0;
	t->loaded = 0;
}

/* Epilogue: restore the callee-saved registers, back to the run loop. */
static void emit_ret(struct em *e)
{
	e1(e, 0x41); e1(e, 0x5f);                       /* pop r15 */
	e1(e, 0x41); e1(e, 0x5e);                       /* pop r14 */
	e1(e, 0x41); e1(e, 0x5d);                       /* pop r13 */
	e1(e, 0x41); e1(e, 0x5c);                       /* pop r12 */
	e1(e, 0x5b);                                    /* pop rbx */
	e1(e, 0xc3);                                    /* ret */
}

/*
 * Before a chained jump: leave (jumps appended to out[]) when the poll
 * countdown has run down or an exit, interrupt or NMI is requested.
 */
static void emit_attention(struct em *e, uint8_t **out, unsigned *nout)
{
	/* cmp dword [rbx + poll_countdown], 1; jbe out */
	e1(e, 0x83); m_rbx(e, 7, OFF(poll_countdown)); e1(e, 1);
	out[(*nout)++] = jcc32(e, 0x6);
	/* mov eax, [exit_request]; or eax, [irq_hint]; or eax, [nmi_pending]; jnz out */
	e1(e, 0x8b); m_rbx(e, H_RAX, OFF(exit_request));
	e1(e, 0x0b); m_rbx(e, H_RAX, OFF(irq_hint));
	e1(e, 0x0b); m_rbx(e, H_RAX, OFF(nmi_pending));
	out[(*nout)++] = jcc32(e, 0x5);
}

#define BOFF(f) ((int32_t)offsetof(struct emu_block, f))
#define JOFF(f) ((int32_t)offsetof(struct emu_jcache_entry, f))

/*
 * Epilogue: optional flag store, RIP, icount += count, then either a
 * direct jump into the translation of the block at a known target RIP
 * (chaining, through a slot that the run loop fills on the first exit) or
 * a return to the run loop.  A chained jump is taken only while no exit,
 * interrupt or NMI is requested, the poll countdown has room, no TLB flush
 * happened since the slot was filled, and the target block is still the
 * valid translation of that RIP for this context.
 */
static void emit_exit_t(struct tctx *t, unsigned count, bool store_rip, uint64_t rip, bool flags,
			uint16_t dirty, uint16_t loaded)
{
	struct em *e = &t->e;
	struct emu_jit_slot *sl = NULL;
	uint8_t *out[4], *miss[8];
	unsigned nout = 0, nmiss = 0;
	bool jcache = !store_rip && t->jc_ok && t->c->icache->jcache;

	/*
	 * A loop back to this block's start whose first instructions overwrite
	 * every arithmetic flag before anything reads them or can fault: the
	 * flags need storing only when the loop is left.
	 */
	bool loop = store_rip && rip == t->b->rip;
	bool keep_r11 = loop && flags && t->entry_flags_dead;

	if (!loop)
		spill(t, dirty);        /* MOVs: the host flags survive */

	if (keep_r11) {
		e1(e, 0x9c);                            /* pushfq */
		e1(e, 0x41); e1(e, 0x5b);               /* pop r11 */
	} else if (flags) {
		flags_store(e);
	}
	/* add qword [rbx + icount], imm32 */
	e1(e, 0x48);
	e1(e, 0x81);
	m_rbx(e, 0, OFF(icount));
	e4(e, count);
	if (loop) {
		/* A loop back to this block's start: no lookup, no validation. */
		emit_attention(e, out, &nout);
		e1(e, 0xff); m_rbx(e, 1, OFF(poll_countdown));
		/* The loop head expects every cached register loaded. */
		reload(t, t->mapped & ~loaded);
		patch(e, jmp32(e), t->loop_head);
		for (unsigned i = 0; i < nout; i++)
			patch(e, out[i], e->p);
		spill(t, dirty);
		if (keep_r11) {
			e1(e, 0x4c); e1(e, 0x89); e1(e, 0xd8);  /* mov rax, r11 */
			flags_commit_rax(e);
		}
		movi(e, H_RAX, rip);
		st(e, H_RAX, OFF(rip));
		goto ret;
	}
	if (store_rip && t->nslots < t->maxslots) {
		/*
		 * A direct link: while the slot is empty the jump goes to `miss`,
		 * which asks the run loop to link it; emu_jit_link() then patches
		 * the TLB epoch and the jump to the target's translation, whose
		 * own entry checks that its code page is unchanged.
		 */
		uint8_t *miss_at;

		sl = &t->slots[t->nslots++];
		memset(sl, 0, sizeof(*sl));
		sl->rip = rip;
		emit_attention(e, out, &nout);
		e1(e, 0x48); e1(e, 0xb8);                       /* mov rax, imm64 (patched) */
		sl->patch_epoch = e->p;
		e8(e, ~0ULL);
		/* cmp rax, [rbx + disp32]: the epoch field, patched too */
		e1(e, 0x48); e1(e, 0x3b); e1(e, 0x83);
		sl->patch_field = e->p;
		e4(e, (uint32_t)OFF(tlb_epoch));
		miss_at = jcc32(e, 0x5);
		e1(e, 0xff); m_rbx(e, 1, OFF(poll_countdown));  /* dec dword [countdown] */
		sl->patch_jmp = jmp32(e);                       /* jmp target (patched) */
		patch(e, miss_at, e->p);
		patch(e, sl->patch_jmp, e->p);
		movi(e, H_RDX, (uint64_t)(uintptr_t)sl);
		st(e, H_RDX, OFF(jit_slot));
		for (unsigned i = 0; i < nout; i++)
			patch(e, out[i], e->p);
		movi(e, H_RAX, rip);
		st(e, H_RAX, OFF(rip));
		goto ret;
	}
	if (store_rip) {
		movi(e, H_RAX, rip);
		st(e, H_RAX, OFF(rip));
	}
	if (!jcache)
		goto ret;
	emit_attention(e, out, &nout);
	{
		/* RDX = &jcache[(rip ^ rip >> 12) & mask], RSI = rip */
		ld(e, H_RSI, OFF(rip));
		e1(e, 0x48); e1(e, 0x89); e1(e, 0xf1);          /* mov rcx, rsi */
		e1(e, 0x48); e1(e, 0xc1); e1(e, 0xe9); e1(e, 12);       /* shr rcx, 12 */
		e1(e, 0x48); e1(e, 0x31); e1(e, 0xf1);          /* xor rcx, rsi */
		e1(e, 0x81); e1(e, 0xe1); e4(e, EMU_JCACHE_SIZE - 1);   /* and ecx, mask */
		e1(e, 0x6b); e1(e, 0xc9); e1(e, (uint8_t)sizeof(struct emu_jcache_entry)); /* imul ecx, ecx, sz */
		movi(e, H_RDX, (uint64_t)(uintptr_t)t->c->icache->jcache);
		e1(e, 0x48); e1(e, 0x01); e1(e, 0xca);          /* add rdx, rcx */
		/* cmp rsi, [rdx + rip]; jne out */
		e1(e, 0x48); e1(e, 0x3b); e1(e, 0x72); e1(e, (uint8_t)JOFF(rip));
		out[nout++] = jcc32(e, 0x5);
	}
	/* mov rax, [rdx + b]; test rax, rax; jz miss */
	e1(e, 0x48); e1(e, 0x8b); e1(e, 0x42); e1(e, (uint8_t)JOFF(b));
	e1(e, 0x48); e1(e, 0x85); e1(e, 0xc0);
	miss[nmiss++] = jcc32(e, 0x4);
	/* mov ecx, [rdx + epoch_off]; mov rcx, [rbx + rcx]; cmp rcx, [rdx + epoch]; jne miss */
	e1(e, 0x8b); e1(e, 0x4a); e1(e, (uint8_t)JOFF(epoch_off));
	e1(e, 0x48); e1(e, 0x8b); e1(e, 0x0c); e1(e, 0x0b);
	e1(e, 0x48); e1(e, 0x3b); e1(e, 0x4a); e1(e, (uint8_t)JOFF(epoch));
	miss[nmiss++] = jcc32(e, 0x5);
	/* mov rcx, [rax + rip]; cmp rcx, [rdx + rip]; jne miss */
	e1(e, 0x48); e1(e, 0x8b); e1(e, 0x48); e1(e, (uint8_t)BOFF(rip));
	e1(e, 0x48); e1(e, 0x3b); e1(e, 0x4a); e1(e, (uint8_t)JOFF(rip));
	miss[nmiss++] = jcc32(e, 0x5);
	/* cmp byte [rax + jit_ctx], ctx; jne miss */
	e1(e, 0x80); e1(e, 0x78); e1(e, (uint8_t)BOFF(jit_ctx)); e1(e, t->c->ctx);
	miss[nmiss++] = jcc32(e, 0x5);
	/* mov rcx, [rax + genp]; mov ecx, [rcx]; cmp ecx, [rax + gen]; jne miss */
	e1(e, 0x48); e1(e, 0x8b); e1(e, 0x48); e1(e, (uint8_t)BOFF(genp));
	e1(e, 0x8b); e1(e, 0x09);
	e1(e, 0x3b); e1(e, 0x48); e1(e, (uint8_t)BOFF(gen));
	miss[nmiss++] = jcc32(e, 0x5);
	/* mov rcx, [rax + jit]; test rcx, rcx; jz miss */
	e1(e, 0x48); e1(e, 0x8b); e1(e, 0x48); e1(e, (uint8_t)BOFF(jit));
	e1(e, 0x48); e1(e, 0x85); e1(e, 0xc9);
	miss[nmiss++] = jcc32(e, 0x4);
	/* dec dword [rbx + poll_countdown]; add rcx, JIT_ENTRY_SKIP; jmp rcx */
	e1(e, 0xff); m_rbx(e, 1, OFF(poll_countdown));
	e1(e, 0x48); e1(e, 0x83); e1(e, 0xc1); e1(e, JIT_ENTRY_SKIP);
	e1(e, 0xff); e1(e, 0xe1);
	/* miss: the run loop fills the jump cache after its lookup */
	for (unsigned i = 0; i < nmiss; i++)
		patch(e, miss[i], e->p);
	for (unsigned i = 0; i < nout; i++)
		patch(e, out[i], e->p);
ret:
	emit_ret(e);
}

/* Set c->rip to v (before calling a handler that may fault). */
static void set_rip(struct em *e, uint64_t v)
{
	movi(e, H_RAX, v);
	st(e, H_RAX, OFF(rip));
}

/* Call in->fn(c, in). */
static void call_handler(struct em *e, const struct emu_insn *in)
{
	set_rip(e, in->rip);
	e1(e, 0x48); e1(e, 0x89); e1(e, 0xdf);          /* mov rdi, rbx */
	movi(e, H_RSI, (uint64_t)(uintptr_t)in);
	call_abs(e, (const void *)in->fn);
}

/* After a handler mid-block: leave unless RIP is next_rip and the page's code unchanged. */
static void check_after_handler(struct tctx *t, const struct emu_insn *in, unsigned idx)
{
	struct em *e = &t->e;

	movi(e, H_RAX, in->next_rip);
	e1(e, 0x48); e1(e, 0x39); m_rbx(e, H_RAX, OFF(rip));      /* cmp [rbx+rip], rax */
	add_exit(t, jcc32(e, 0x5), idx + 1, false, 0, false);       /* jne */
	movi(e, H_RAX, (uint64_t)(uintptr_t)t->b->genp);
	e1(e, 0x81); e1(e, 0x38); e4(e, t->b->gen);                 /* cmp dword [rax], gen */
	add_exit(t, jcc32(e, 0x5), idx + 1, false, 0, false);
}

/* RSI <- effective address of in's memory operand (no flags touched). */
static void emit_ea(struct tctx *t, const struct emu_insn *in)
{
	struct em *e = &t->e;

	if (in->rip_rel) {
		movi(e, H_RSI, in->next_rip + in->disp);
	} else {
		if (in->base >= 0)
			gload(t, H_RSI, in->base);
		if (in->index >= 0) {
			gload(t, H_RDI, in->index);
			if (in->base < 0) {
				/* lea rsi, [rdi*scale + disp32] */
				e1(e, 0x48); e1(e, 0x8d); e1(e, 0x34);
				e1(e, (uint8_t)((in->scale << 6) | (H_RDI << 3) | 5));
				e4(e, (uint32_t)in->disp);
			} else {
				/* lea rsi, [rsi + rdi*scale + disp32] */
				e1(e, 0x48); e1(e, 0x8d); e1(e, 0xb4);
				e1(e, (uint8_t)((in->scale << 6) | (H_RDI << 3) | H_RSI));
				e4(e, (uint32_t)in->disp);
			}
		} else if (in->base >= 0) {
			if (in->disp) {
				/* lea rsi, [rsi + disp32] */
				e1(e, 0x48); e1(e, 0x8d); e1(e, 0xb6);
				e4(e, (uint32_t)in->disp);
			}
		} else {
			movi(e, H_RSI, in->disp);
		}
	}
	if (in->seg_override && in->seg >= S_FS) {
		ld(e, H_RDI, OFF(seg) + (int32_t)(in->seg * sizeof(struct x86_segment)) +
			     (int32_t)offsetof(struct x86_segment, base));
		/* lea rsi, [rsi + rdi] */
		e1(e, 0x48); e1(e, 0x8d); e1(e, 0x34); e1(e, 0x3e);
	}
}

/*
 * Inline TLB lookup of [RSI, RSI+size): on a hit RSI becomes the host
 * address; on a miss jump to a slow path (returned patch address).
 * Clobbers RAX, RDI and the host flags.
 */
static uint8_t *emit_tlb(struct tctx *t, int size, bool write)
{
	struct em *e = &t->e;
	int32_t base = OFF(tlb) + (int32_t)((t->user ? 1 : 0) * EMU_TLB_SIZE *
					    sizeof(struct emu_tlb_entry));
	int32_t tag = base + (int32_t)(write ? offsetof(struct emu_tlb_entry, tag_w)
					    : offsetof(struct emu_tlb_entry, tag_r));
	int32_t add = base + (int32_t)offsetof(struct emu_tlb_entry, addend);
	uint8_t *at;

	e1(e, 0x48); e1(e, 0x89); e1(e, 0xf7);                  /* mov rdi, rsi */
	e1(e, 0x48); e1(e, 0xc1); e1(e, 0xef); e1(e, 12);       /* shr rdi, 12 */
	e1(e, 0x81); e1(e, 0xe7); e4(e, EMU_TLB_SIZE - 1);      /* and edi, mask */
	e1(e, 0x6b); e1(e, 0xff); e1(e, (uint8_t)sizeof(struct emu_tlb_entry)); /* imul edi, edi, sz */
	e1(e, 0x48); e1(e, 0x8d); e1(e, 0x46); e1(e, (uint8_t)(size - 1));      /* lea rax, [rsi+size-1] */
	e1(e, 0x48); e1(e, 0x25); e4(e, 0xfffff000u);           /* and rax, -4096 */
	/* cmp rax, [rbx + rdi + tag] */
	e1(e, 0x48); e1(e, 0x3b); e1(e, 0x84); e1(e, 0x3b); e4(e, (uint32_t)tag);
	at = jcc32(e, 0x5);
	/* add rsi, [rbx + rdi + addend] */
	e1(e, 0x48); e1(e, 0x03); e1(e, 0xb4); e1(e, 0x3b); e4(e, (uint32_t)add);
	return at;
}

/*
 * A slow path for instruction idx, recording the state it starts from:
 * host flags (saved in R11 across the TLB lookup) and dirty cached registers.
 */
static struct slow *new_slow(struct tctx *t, unsigned idx)
{
	struct slow *s = &t->slow[t->nslow++];

	s->idx = idx;
	s->fl_host_before = t->fl_host;
	s->dirty_before = t->dirty;
	s->restore_r11 = t->fl_host;
	return s;
}

/*
 * Begin an instruction that touches memory: EA, TLB lookup.  Host flags
 * that hold the guest's are saved in R11 first even when the instruction
 * does not need them: a fault on the slow path must deliver the exact
 * RFLAGS of the faulting instruction, and a later one too, so they are
 * restored on the fast path even where no instruction reads them.
 */
static void mem_begin(struct tctx *t, const struct emu_insn *in, unsigned idx, int size,
		      bool write, struct slow **sp)
{
	struct slow *s = new_slow(t, idx);

	emit_ea(t, in);
	if (s->restore_r11)
		flags_save_r11(&t->e);
	s->jump_at = emit_tlb(t, size, write);
	if (s->restore_r11)
		flags_restore_r11(&t->e);
	*sp = s;
}

/* Operand size in bytes of a form's r/m operand. */
static int form_size(const struct emu_insn *in, const struct form *f)
{
	if (f->ops & (OP_BYTE | OP_RMB))
		return 1;
	if (in->op == 0x1b7 || in->op == 0x1bf)
		return 2;
	if (in->op == 0x63)
		return 4;
	return in->osize;
}

/* Host encoding of an 8-bit guest register: (host reg, guest gpr index). */
static void byte_reg(const struct emu_insn *in, int g, int hlow, int *h, int *gi)
{
	if (!in->rex && g >= 4 && g < 8) {
		*h = hlow + 4;          /* AH / DH */
		*gi = g - 4;
	} else {
		*h = hlow;
		*gi = g;
	}
}

static void emit_form(struct tctx *t, const struct emu_insn *in, const struct tinsn *ti,
		      unsigned idx)
{
	struct em *e = &t->e;
	const struct form *f = &ti->f;
	bool mem = in->mod != 3;
	int hrm = H_RAX, grm = in->rm, hreg = H_RDX, greg = in->reg;
	int immlen = f->immlen;
	struct slow *s = NULL;
	uint8_t modrm;

	if (f->ops & (OP_BYTE | OP_RMB))
		byte_reg(in, in->rm, H_RAX, &hrm, &grm);
	if (f->ops & OP_BYTE)
		byte_reg(in, in->reg, H_RDX, &hreg, &greg);
	if (immlen == -1)
		immlen = in->osize == 2 ? 2 : 4;

	if (ti->fl_read && !t->fl_host) {
		flags_load(e);
		t->fl_host = true;
	}
	if (mem)
		mem_begin(t, in, idx, form_size(in, f), (f->ops & OP_WRM) != 0, &s);
	if (!mem && (f->ops & (OP_RRM | OP_WRM)))
		gload(t, H_RAX, grm);
	if (f->ops & (OP_RREG | OP_WREG))     /* WREG: 8/16-bit results merge */
		gload(t, H_RDX, greg);
	if (f->ops & OP_CL)
		gload(t, H_RCX, R_CX);

	/* The instruction itself. */
	if (in->lock && mem)
		e1(e, 0xf0);
	if (in->op == 0x1b8)
		e1(e, 0xf3);
	if (in->osize == 2 && !(f->ops & OP_BYTE))
		e1(e, 0x66);
	if (in->osize == 8 && !(f->ops & OP_BYTE))
		e1(e, 0x48);
	if (in->op >= 0x100)
		e1(e, 0x0f);
	e1(e, (uint8_t)in->op);
	if ((in->op >= 0x80 && in->op <= 0x83) || (in->op >= 0xc0 && in->op < 0x100) ||
	    in->op == 0x1ba)
		modrm = (uint8_t)((in->reg & 7) << 3);          /* group: /digit */
	else if (in->op >= 0x190 && in->op <= 0x19f)
		modrm = 0;
	else
		modrm = (uint8_t)((hreg & 7) << 3);
	if (mem)
		modrm |= H_RSI;                                 /* [rsi] */
	else
		modrm |= 0xc0 | (hrm & 7);
	e1(e, modrm);
	if (immlen > 0)
		en(e, in->imm, immlen);

	/* Results back to the guest registers. */
	if (!mem && (f->ops & OP_WRM))
		gstore(t, grm, H_RAX);
	if (f->ops & OP_WREG)
		gstore(t, greg, H_RDX);

	if (ti->fl_write_all || ti->fl_read)
		t->fl_host = true;
	if (s) {
		s->join = e->p;
		s->reload_after = t->loaded;
		s->fl_host_after = t->fl_host;   /* exact even if dead: a later fault reports them */
	}
}

static void emit_lea(struct tctx *t, const struct emu_insn *in)
{
	struct em *e = &t->e;
	struct emu_insn tmp = *in;

	tmp.seg_override = false;       /* LEA computes the offset only */
	emit_ea(t, &tmp);
	if (in->osize == 4) {
		e1(e, 0x89); e1(e, 0xf6);                       /* mov esi, esi */
	}
	gstore(t, in->reg, H_RSI);
}

static void emit_push(struct tctx *t, const struct emu_insn *in, unsigned idx, uint64_t value,
		      bool is_imm)
{
	struct em *e = &t->e;
	struct slow *s = new_slow(t, idx);
	int r = ((uint8_t)in->op & 7) | ((in->rex & 1) ? 8 : 0);

	gload(t, H_RSI, R_SP);
	e1(e, 0x48); e1(e, 0x8d); e1(e, 0x76); e1(e, 0xf8);     /* lea rsi, [rsi-8] */
	e1(e, 0x48); e1(e, 0x89); e1(e, 0xf1);                  /* mov rcx, rsi */
	if (s->restore_r11)
		flags_save_r11(e);
	s->jump_at = emit_tlb(t, 8, true);
	if (s->restore_r11)
		flags_restore_r11(e);
	if (is_imm)
		movi(e, H_RAX, value);
	else
		gload(t, H_RAX, r);
	e1(e, 0x48); e1(e, 0x89); e1(e, 0x06);                  /* mov [rsi], rax */
	gstore(t, R_SP, H_RCX);
	s->join = e->p;
	s->reload_after = t->loaded;
	s->fl_host_after = t->fl_host;
}

static void emit_pop(struct tctx *t, const struct emu_insn *in, unsigned idx, bool ret)
{
	struct em *e = &t->e;
	struct slow *s = new_slow(t, idx);
	int r = ((uint8_t)in->op & 7) | ((in->rex & 1) ? 8 : 0);

	gload(t, H_RSI, R_SP);
	if (s->restore_r11)
		flags_save_r11(e);
	s->jump_at = emit_tlb(t, 8, false);
	e1(e, 0x48); e1(e, 0x8b); e1(e, 0x16);                  /* mov rdx, [rsi] */
	if (ret) {
		/* non-canonical return address: the handler raises #GP */
		e1(e, 0x48); e1(e, 0x89); e1(e, 0xd1);          /* mov rcx, rdx */
		e1(e, 0x48); e1(e, 0xc1); e1(e, 0xe1); e1(e, 16);       /* shl rcx, 16 */
		e1(e, 0x48); e1(e, 0xc1); e1(e, 0xf9); e1(e, 16);       /* sar rcx, 16 */
		e1(e, 0x48); e1(e, 0x39); e1(e, 0xd1);          /* cmp rcx, rdx */
		{
			/* reuse the slow path: jne -> handler */
			struct slow *s2 = &t->slow[t->nslow++];
			*s2 = *s;
			s2->jump_at = jcc32(e, 0x5);
			s2->join = NULL;
		}
	}
	if (s->restore_r11)
		flags_restore_r11(e);
	/* rsp += 8 (lea keeps the flags) */
	gload(t, H_RCX, R_SP);
	e1(e, 0x48); e1(e, 0x8d); e1(e, 0x49); e1(e, 0x08);     /* lea rcx, [rcx+8] */
	gstore(t, R_SP, H_RCX);
	if (ret)
		st(e, H_RDX, OFF(rip));
	else
		gstore(t, r, H_RDX);
	s->join = ret ? NULL : e->p;
	s->reload_after = t->loaded;
	s->fl_host_after = t->fl_host;
}

static int translate(struct tctx *t, const struct emu_block *b)
{
	struct em *e = &t->e;
	struct tinsn ti[EMU_BLOCK_MAX];
	unsigned n = b->n;
	bool ended = false;

	for (unsigned i = 0; i < n; i++)
		classify(&b->insns[i], i == n - 1, &ti[i]);
	for (unsigned i = 0; i < n; i++) {
		const struct emu_insn *in = &b->insns[i];
		bool mem = in->has_modrm && in->mod != 3;

		if (ti[i].k == K_FORM && !mem && ti[i].fl_write_all && !ti[i].fl_read) {
			t->entry_flags_dead = true;
			break;
		}
		/* Register-only moves that neither touch flags nor fault. */
		if (!((ti[i].k == K_FORM && !mem && !ti[i].fl_read && !ti[i].fl_write_all) ||
		      ti[i].k == K_MOVRI || ti[i].k == K_SKIP || ti[i].k == K_BSWAP))
			break;
	}

	/* Register cache: the (up to) four GPRs the inline code uses most. */
	{
		unsigned uses[16] = { 0 };

		for (unsigned i = 0; i < n; i++) {
			const struct emu_insn *in = &b->insns[i];

			if (ti[i].k == K_CALLH || ti[i].k == K_SKIP)
				continue;
			if (ti[i].k == K_PUSH || ti[i].k == K_POP || ti[i].k == K_CALL ||
			    ti[i].k == K_RET) {
				uses[R_SP] += 2;
				if (ti[i].k == K_PUSH || ti[i].k == K_POP)
					uses[((uint8_t)in->op & 7) | ((in->rex & 1) ? 8 : 0)]++;
				continue;
			}
			if (in->has_modrm) {
				if (in->mod == 3)
					uses[in->rm & 15]++;
				uses[in->reg & 15]++;
				if (in->mod != 3 && in->base >= 0)
					uses[in->base]++;
				if (in->mod != 3 && in->index >= 0)
					uses[in->index]++;
			}
		}
		for (int g = 0; g < 16; g++)
			t->map[g] = -1;
		for (int k = 0; k < 4; k++) {
			int best = -1;
			for (int g = 0; g < 16; g++)
				if (t->map[g] < 0 && uses[g] >= 2 && (best < 0 || uses[g] > uses[best]))
					best = g;
			if (best < 0)
				break;
			t->map[best] = (int8_t)(12 + k);
			t->mapped |= (uint16_t)(1u << best);
		}
	}

	for (unsigned i = 0; i < n; i++) {
		t->jtarget[i] = -1;
		if (ti[i].k != K_JCC)
			continue;
		for (unsigned j = i + 1; j < n; j++) {
			if (b->insns[j].rip == ti[i].target) {
				t->jtarget[i] = (int8_t)j;
				t->is_label[j] = true;
				break;
			}
		}
	}

	/* Chaining slots first (one per exit with a known target), then code. */
	t->maxslots = 2;
	for (unsigned i = 0; i < n; i++)
		t->maxslots += ti[i].k == K_JCC;
	t->slots = (struct emu_jit_slot *)(void *)e->p;
	e->p += ALIGN_UP(t->maxslots * sizeof(struct emu_jit_slot), 16);
	if (e->p > e->end)
		return -ENOSPC;
	t->entry = e->p;

	e1(e, 0x53);                                    /* push rbx */
	e1(e, 0x41); e1(e, 0x54);                       /* push r12 */
	e1(e, 0x41); e1(e, 0x55);                       /* push r13 */
	e1(e, 0x41); e1(e, 0x56);                       /* push r14 */
	e1(e, 0x41); e1(e, 0x57);                       /* push r15 */
	e1(e, 0x48); e1(e, 0x89); e1(e, 0xfb);          /* mov rbx, rdi */
	/* JIT_ENTRY_SKIP bytes above: a chained jump enters here */
	t->fl_host = false;
	/* Entered through a direct link too: the code page must be unchanged. */
	movi(e, H_RAX, (uint64_t)(uintptr_t)b->genp);
	e1(e, 0x81); e1(e, 0x38); e4(e, b->gen);                    /* cmp dword [rax], gen */
	t->bail_at = jcc32(e, 0x5);
	/*
	 * Load the cached registers now; a loop back to the start re-enters
	 * after the loads with them still in R12-R15, so they count as dirty.
	 */
	reload(t, t->mapped);
	t->loaded = t->dirty = t->mapped;
	t->loop_head = e->p;

	for (unsigned i = 0; i < n && !ended; i++) {
		const struct emu_insn *in = &b->insns[i];
		bool last = i == n - 1;

		if (t->is_label[i]) {
			/* Canonical state, which the pads of forward branches also reach. */
			if (!t->fl_host) {
				flags_load(e);
				t->fl_host = true;
			}
			reload(t, t->mapped & ~t->loaded);
			t->loaded = t->dirty = t->mapped;
			t->label[i] = e->p;
		}

		switch (ti[i].k) {
		case K_SKIP:
			break;
		case K_FORM:
			emit_form(t, in, &ti[i], i);
			break;
		case K_LEA:
			emit_lea(t, in);
			break;
		case K_MOVRI: {
			int r = ((uint8_t)in->op & 7) | ((in->rex & 1) ? 8 : 0);
			if (in->osize == 8) {
				movi(e, H_RAX, in->imm);
			} else {
				e1(e, 0xb8); e4(e, (uint32_t)in->imm);  /* mov eax, imm32 */
			}
			gstore(t, r, H_RAX);
			break;
		}
		case K_BSWAP: {
			int r = ((uint8_t)in->op & 7) | ((in->rex & 1) ? 8 : 0);
			gload(t, H_RAX, r);
			if (in->osize == 8)
				e1(e, 0x48);
			e1(e, 0x0f); e1(e, 0xc8);
			gstore(t, r, H_RAX);
			break;
		}
		case K_PUSH:
			emit_push(t, in, i, 0, false);
			break;
		case K_POP:
			emit_pop(t, in, i, false);
			break;
		case K_CALL:
			emit_push(t, in, i, in->next_rip, true);
			emit_exit_t(t, i + 1, true, ti[i].target, t->fl_host, t->dirty, t->loaded);
			t->slow[t->nslow - 1].join = NULL;
			ended = true;
			break;
		case K_RET:
			emit_pop(t, in, i, true);
			t->jc_ok = true;
			emit_exit_t(t, i + 1, false, 0, t->fl_host, t->dirty, t->loaded);
			t->jc_ok = false;
			ended = true;
			break;
		case K_JCC:
			if (!t->fl_host) {
				flags_load(e);
				t->fl_host = true;
			}
			if (t->jtarget[i] >= 0) {
				struct pad *pd = &t->pads[t->npads++];
				pd->jump_at = jcc32(e, (int)(in->op & 15));
				pd->from = i;
				pd->to = (unsigned)t->jtarget[i];
				pd->loaded = t->loaded;
				pd->dirty = t->dirty;
			} else {
				add_exit(t, jcc32(e, (int)(in->op & 15)), i + 1, true, ti[i].target, true);
			}
			if (last) {
				emit_exit_t(t, i + 1, true, in->next_rip, true, t->dirty, t->loaded);
				ended = true;
			}
			break;
		case K_JMP:
			emit_exit_t(t, i + 1, true, ti[i].target, t->fl_host, t->dirty, t->loaded);
			ended = true;
			break;
		case K_CALLH:
			if (t->fl_host) {
				flags_store(e);
				t->fl_host = false;
			}
			sync_regs(t);
			call_handler(e, in);
			if (last) {
				t->jc_ok = jc_branch(in);
				emit_exit_t(t, i + 1, false, 0, false, 0, 0);
				t->jc_ok = false;
				ended = true;
			} else {
				check_after_handler(t, in, i);
			}
			break;
		}
	}
	if (!ended)
		emit_exit_t(t, n, true, b->insns[n - 1].next_rip, t->fl_host, t->dirty, t->loaded);
	/*
	 * Pads of forward branches: the skipped instructions did not run (take
	 * them off the count the later exits add), flags stay in the host, the
	 * cached registers are loaded as the label expects (MOV/LEA only).
	 */
	for (unsigned k = 0; k < t->npads; k++) {
		struct pad *pd = &t->pads[k];
		int32_t skipped = (int32_t)(pd->to - pd->from - 1);

		patch(e, pd->jump_at, e->p);
		if (!t->label[pd->to]) {        /* not reached: leave instead */
			emit_exit_t(t, pd->from + 1, true, b->insns[pd->to].rip, true, pd->dirty,
				    pd->loaded);
			continue;
		}
		if (skipped) {
			ld(e, H_RAX, OFF(icount));
			e1(e, 0x48); e1(e, 0x8d); e1(e, 0x80); e4(e, (uint32_t)-skipped); /* lea rax, [rax - k] */
			st(e, H_RAX, OFF(icount));
		}
		reload(t, t->mapped & ~pd->loaded);
		patch(e, jmp32(e), t->label[pd->to]);
	}
	/* Out-of-line code below: handlers have written every register back. */
	t->dirty = 0;
	t->loaded = 0;

	/* Slow paths: the interpreter handler does the whole instruction. */
	for (unsigned k = 0; k < t->nslow; k++) {
		struct slow *s = &t->slow[k];
		const struct emu_insn *in = &b->insns[s->idx];
		bool last = s->idx == n - 1 || !s->join;

		patch(e, s->jump_at, e->p);
		if (s->restore_r11)
			flags_restore_r11(e);
		if (s->fl_host_before)
			flags_store(e);
		spill(t, s->dirty_before);
		call_handler(e, in);
		if (last) {
			t->jc_ok = jc_branch(in);
			emit_exit_t(t, s->idx + 1, false, 0, false, 0, 0);
			t->jc_ok = false;
			continue;
		}
		check_after_handler(t, in, s->idx);
		reload(t, s->reload_after);
		if (s->fl_host_after)
			flags_load(e);
		patch(e, jmp32(e), s->join);
	}
	/* Stale code page at entry: RIP is this block's start, nothing done. */
	patch(e, t->bail_at, e->p);
	movi(e, H_RAX, b->rip);
	st(e, H_RAX, OFF(rip));
	emit_ret(e);
	for (unsigned k = 0; k < t->nexit; k++) {
		struct exitp *x = &t->exits[k];
		patch(e, x->jump_at, e->p);
		emit_exit_t(t, x->count, x->store_rip, x->rip, x->flags, x->dirty, x->loaded);
	}
	return e->p <= e->end ? 0 : -ENOSPC;
}

/* ---- interface ---- */

int emu_jit_init(struct emu_icache *ic)
{
	struct jit *j = calloc(1, sizeof(*j));
	unsigned a, b, c, d;
	int fd;

	if (!j)
		return -ENOMEM;
	/* Translated code uses LAHF/SAHF (64-bit mode needs LAHF_LM). */
	if (!__get_cpuid(0x80000001, &a, &b, &c, &d) || !(c & 1)) {
		free(j);
		return -ENOTSUP;
	}
	host_popcnt = __builtin_cpu_supports("popcnt");
	if (getenv("VIREO_EMU_JIT_MASK"))
		jit_mask = (unsigned)strtoul(getenv("VIREO_EMU_JIT_MASK"), NULL, 0);
	if (getenv("VIREO_EMU_JIT_MAX"))
		jit_max = atol(getenv("VIREO_EMU_JIT_MAX"));
	fd = memfd_create("vireo-jit", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, JIT_BUF_SIZE) < 0) {
		int err = -errno;
		if (fd >= 0)
			close(fd);
		free(j);
		return err;
	}
	j->buf = mmap(NULL, JIT_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	j->xbuf = mmap(NULL, JIT_BUF_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_NORESERVE, fd, 0);
	close(fd);
	ic->jcache = calloc(EMU_JCACHE_SIZE, sizeof(*ic->jcache));
	if (j->buf == MAP_FAILED || j->xbuf == MAP_FAILED || !ic->jcache) {
		int err = ic->jcache ? -errno : -ENOMEM;
		if (j->buf != MAP_FAILED)
			munmap(j->buf, JIT_BUF_SIZE);
		if (j->xbuf != MAP_FAILED)
			munmap(j->xbuf, JIT_BUF_SIZE);
		free(ic->jcache);
		ic->jcache = NULL;
		free(j);
		return err;
	}
	ic->jit = j;
	return 0;
}

void emu_jit_destroy(struct emu_icache *ic)
{
	if (!ic || !ic->jit)
		return;
	munmap(ic->jit->buf, JIT_BUF_SIZE);
	munmap(ic->jit->xbuf, JIT_BUF_SIZE);
	free(ic->jit);
	free(ic->jcache);
	ic->jit = NULL;
	ic->jcache = NULL;
}

/* Forget every translation (the blocks stay, as interpreter blocks). */
void emu_jit_flush(struct emu_icache *ic)
{
	if (!ic->jit)
		return;
	for (unsigned i = 0; i <= ic->hash_mask; i++) {
		ic->blocks[i].jit = NULL;
		ic->blocks[i].hits = 0;
	}
	ic->jit->used = 0;
	ic->jit_flushes++;
}

void emu_jit_link(struct emu_cpu *c, struct emu_jit_slot *sl, struct emu_block *b)
{
	struct jit *j = c->icache->jit;
	const uint8_t *target = (const uint8_t *)(void *)b->jit + JIT_ENTRY_SKIP;
	const uint8_t *next = j->xbuf + (sl->patch_jmp + 4 - j->buf);
	int32_t rel = (int32_t)(target - next);         /* both in the 64 MiB buffer */
	uint32_t off = emu_link_epoch_off(c, b->rip);
	uint64_t epoch = emu_epoch_at(c, off);

	memcpy(sl->patch_epoch, &epoch, 8);
	memcpy(sl->patch_field, &off, 4);
	memcpy(sl->patch_jmp, &rel, 4);
}

void emu_jit_translate(struct emu_cpu *c, struct emu_block *b)
{
	struct emu_icache *ic = c->icache;
	struct jit *j = ic->jit;
	struct tctx *t;

	if (!j || !c->code64 || b->n == 0)
		return;
	if (jit_max >= 0) {
		/* Debug bisection: translate only the first N blocks; log the last. */
		static long nblk;
		long k = __atomic_fetch_add(&nblk, 1, __ATOMIC_RELAXED);
		if (k >= jit_max)
			return;
		if (k == jit_max - 1) {
			fprintf(stderr, "emu jit: block %ld at rip 0x%llx, %d instructions:", k,
				(unsigned long long)b->rip, b->n);
			for (int i = 0; i < b->n; i++) {
				/* 64-bit code: linear = RIP; the block stays on its page */
				const uint8_t *p = b->hva - (b->rip & 0xfff) + (b->insns[i].rip & 0xfff);
				fprintf(stderr, "\n  %llx:", (unsigned long long)b->insns[i].rip);
				for (int k2 = 0; k2 < b->insns[i].len; k2++)
					fprintf(stderr, " %02x", p[k2]);
			}
			fprintf(stderr, "\n");
		}
	}
	if (j->used + JIT_BLOCK_MAX > JIT_BUF_SIZE)
		emu_jit_flush(ic);
	t = calloc(1, sizeof(*t));
	if (!t)
		return;
	t->c = c;
	t->b = b;
	t->user = emu_user(c);
	t->e.p = j->buf + j->used;
	t->e.end = j->buf + JIT_BUF_SIZE;
	if (t->e.end > t->e.p + JIT_BLOCK_MAX)
		t->e.end = t->e.p + JIT_BLOCK_MAX;
	if (translate(t, b) == 0) {
		if (getenv("VIREO_EMU_JIT_DUMP")) {
			FILE *f = fopen(getenv("VIREO_EMU_JIT_DUMP"), "a");
			if (f) {
				fwrite(j->buf + j->used, 1, (size_t)(t->e.p - (j->buf + j->used)), f);
				fclose(f);
			}
		}
		b->jit = (void (*)(struct emu_cpu *))(void *)(j->xbuf + (t->entry - j->buf));
		b->jit_ctx = c->ctx;
		j->used = ALIGN_UP((size_t)(t->e.p - j->buf), 16);
	}
	free(t);
}

#else   /* !EMU_JIT_HOST: the interpreter runs everything */

int emu_jit_init(struct emu_icache *ic)
{
	(void)ic;
	return -ENOTSUP;
}

void emu_jit_destroy(struct emu_icache *ic)
{
	(void)ic;
}

void emu_jit_flush(struct emu_icache *ic)
{
	ic->jit_flushes++;
}

void emu_jit_link(struct emu_cpu *c, struct emu_jit_slot *sl, struct emu_block *b)
{
	(void)c;
	(void)sl;
	(void)b;
}

void emu_jit_translate(struct emu_cpu *c, struct emu_block *b)
{
	(void)c;
	(void)b;
}

#endif
