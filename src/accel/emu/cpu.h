/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_EMU_CPU_H
#define VIREO_EMU_CPU_H

/*
 * Internal state of the emu backend's software x86-64 CPU.
 *
 * One struct emu_cpu per vCPU.  Guest-visible state lives here in the form
 * the interpreter wants (lazy flags, x87 stack as host long doubles); the
 * accel glue converts to and from the architectural structs of vireo/x86.h.
 *
 * Faults: memory accessors and instruction handlers never return on a guest
 * exception; they record it and longjmp() to the run loop (emu_cpu_raise),
 * which delivers it through the IDT.  Instructions therefore commit
 * architectural state (RIP, stack pointer) only after their last access
 * that can fault.
 */
#include <setjmp.h>
#include <stddef.h>
#include <string.h>
#include <stdbool.h>
#include <stdint.h>

#include "vireo/util.h"
#include "vireo/x86.h"

struct vm;
struct vcpu;
struct lapic;
struct emu_cpu;

/* General-purpose registers in encoding order (Intel SDM Vol. 2 §2.1.5). */
enum { R_AX, R_CX, R_DX, R_BX, R_SP, R_BP, R_SI, R_DI };
/* Segment registers in encoding order (Sreg field). */
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_NONE = 7 };

/* Exception vectors (Intel SDM Vol. 3 §6.3.1, Table 6-1). */
enum {
	EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4,
	EXC_BR = 5, EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10,
	EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14, EXC_MF = 16,
	EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
};

/* RFLAGS bits (Intel SDM Vol. 1 §3.4.3). */
#define FL_CF   0x0001u
#define FL_PF   0x0004u
#define FL_AF   0x0010u
#define FL_ZF   0x0040u
#define FL_SF   0x0080u
#define FL_TF   0x0100u
#define FL_IF   0x0200u
#define FL_DF   0x0400u
#define FL_OF   0x0800u
#define FL_IOPL 0x3000u
#define FL_NT   0x4000u
#define FL_RF   0x10000u
#define FL_VM   0x20000u
#define FL_AC   0x40000u
#define FL_VIF  0x80000u
#define FL_VIP  0x100000u
#define FL_ID   0x200000u
#define X86_CR0_NW (1ULL << 29)
#define X86_CR0_CD (1ULL << 30)
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

/* Lazy condition-code operations: flags are computed from cc_* on demand. */
enum cc_op {
	CC_EFLAGS,      /* arithmetic flags are already in cpu->rflags */
	CC_ADD, CC_ADC, CC_SUB, CC_SBB, CC_LOGIC, CC_INC, CC_DEC,
	CC_SHL, CC_SHR, CC_SAR,     /* cc_src1 = operand, cc_src2 = count (1..) */
};

/* Memory access kinds for the MMU. */
enum mmu_access { ACC_READ = 0, ACC_WRITE = 1, ACC_EXEC = 2 };

/*
 * Software TLB (direct mapped).  A tag is the page-aligned linear address,
 * or TLB_INVALID.  addend + linear address = host address.  Two sets:
 * supervisor (index 0) and user (index 1) accesses.
 */
#define EMU_TLB_BITS 12
#define EMU_TLB_SIZE (1u << EMU_TLB_BITS)
#define TLB_INVALID  1ULL
struct emu_tlb_entry {
	uint64_t tag_r, tag_w, tag_x;
	uintptr_t addend;
	bool global;
	bool listed_g, listed_n;        /* in emu_cpu.tlb_glob / tlb_used */
};

/* A decoded instruction (Intel SDM Vol. 2 §2.1, Figure 2-1). */
struct emu_insn {
	/* Handler: emu_exec, or a specialised one from emu_fast_select(). */
	void (*fn)(struct emu_cpu *cpu, struct emu_insn *in);
	uint64_t rip;           /* address of the first byte (RIP, not linear) */
	uint64_t next_rip;
	uint64_t disp;
	uint64_t imm, imm2;
	uint16_t op;            /* 0x000-0x0ff one byte, 0x100-0x1ff 0F xx,
				 * 0x200-0x2ff 0F 38 xx, 0x300-0x3ff 0F 3A xx */
	uint8_t len;
	uint8_t osize, asize;   /* operand / address size in bytes */
	uint8_t seg;            /* effective segment for memory operands */
	uint8_t rep;            /* 0, 0xf2 or 0xf3 (last one wins) */
	bool lock, opsize_prefix, seg_override;
	uint8_t rex;            /* 0 if none */
	bool has_modrm;
	uint8_t modrm, mod, reg, rm;    /* reg and rm include REX.R / REX.B */
	bool rip_rel;
	int8_t base, index;     /* -1 if none */
	uint8_t scale;
	uint8_t mandatory;      /* last of 66/F2/F3 for SSE maps (0 if none) */
};

/*
 * Decoded-instruction cache: straight-line blocks of decoded instructions
 * (ending at a control transfer, a system instruction or the page end),
 * keyed by the host address of the first byte (that is, its guest-physical
 * address), the RIP (branch targets and RIP-relative operands depend on it)
 * and the code size; valid while the page's code generation is unchanged
 * (see emu_code_*).  Instructions live in an arena that is reset when full.
 */
#define EMU_BLOCK_MAX   48
#define EMU_BLOCK_HASH  (1u << 16)
#define EMU_ARENA_INSNS (1u << 18)
struct emu_block {
	const uint8_t *hva;
	uint64_t rip;
	uint32_t gen;
	uint8_t ctx;            /* cpu->ctx when last validated through the TLB */
	uint8_t n;
	uint8_t link_next;      /* round-robin replacement of link[] */
	uint32_t *genp;
	struct emu_insn *insns;
	/*
	 * Chaining: two blocks that followed this one, valid while no TLB
	 * flush happened since (tlb_epoch) and the context is the same.
	 */
	struct emu_block *link[2];
	uint64_t link_epoch;
	/* Translation (jit.c), built after EMU_JIT_THRESHOLD runs; NULL if none. */
	void (*jit)(struct emu_cpu *cpu);
	uint32_t hits;
	uint8_t jit_ctx;        /* cpu->ctx (CPL, code size) the translation is for */
};
/*
 * A translated exit with a known target (jit.c): emu_jit_link() patches
 * the guarding TLB epoch (value and field) and the jump into the code.
 */
struct emu_jit_slot {
	uint64_t rip;           /* target */
	uint8_t *patch_epoch, *patch_field, *patch_jmp;
};
/* A jump-cache entry: the block last found at rip, for RET and indirect exits. */
struct emu_jcache_entry {
	struct emu_block *b;
	uint64_t epoch;         /* the epoch at epoch_off when filled */
	uint64_t rip;
	uint32_t epoch_off;     /* see emu_link_epoch_off() */
};
struct jit;
#define EMU_JCACHE_SIZE 4096
static inline unsigned emu_jcache_idx(uint64_t rip)
{
	return (unsigned)((rip ^ (rip >> 12)) & (EMU_JCACHE_SIZE - 1));
}
struct emu_icache {
	struct emu_block blocks[EMU_BLOCK_HASH];
	uint32_t hash_mask;     /* EMU_BLOCK_HASH - 1, or less (the test harness) */
	struct emu_insn *arena;
	uint32_t arena_used;
	struct jit *jit;        /* NULL: interpret only */
	uint32_t jit_threshold;
	uint32_t jit_flushes;   /* translations dropped: slots are stale */
	/* Jump cache for exits to a RIP known only at run time (RET, indirect). */
	struct emu_jcache_entry *jcache;
};

/* x87 state (Intel SDM Vol. 1 §8.1). */
struct emu_x87 {
	long double st[8];      /* physical registers R0-R7 */
	uint16_t fcw, fsw;      /* fsw without TOP; top kept apart */
	uint8_t top;
	uint8_t ftw;            /* abridged: bit i set = R[i] valid */
	uint16_t fop;
	uint64_t fip, fdp;
};

struct emu_cpu {
	/* Hot state first. */
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t rflags;        /* all flags except the lazy arithmetic ones */
	uint64_t cc_res, cc_src1, cc_src2;
	uint8_t cc_op, cc_size, cc_cin;

	uint8_t cpl;
	uint8_t mode;           /* EMU_MODE_* */
	bool code64;            /* CS.L in long mode */
	uint8_t def_size;       /* default operand size from CS.D: 2 or 4 */
	uint8_t stack_size;     /* 2, 4 or 8 */
	uint8_t ctx;            /* code size and CPL: what a cached block depends on */
	bool irq_inhibit;       /* STI / MOV SS shadow for one instruction */
	bool nmi_blocked;       /* from NMI delivery until the next IRET */
	uint64_t inhibit_icount;        /* no interrupts while icount equals this */
	uint64_t code_gen;      /* bumped on INVLPG / TLB flush */
	uint64_t pause_count;

	struct emu_tlb_entry tlb[2][EMU_TLB_SIZE];
	/*
	 * Entries filled since the last flush, non-global (tlb_used) and global
	 * (tlb_glob): a flush visits only these, a CR3 write only the first.
	 */
	uint16_t tlb_used[2 * EMU_TLB_SIZE], tlb_glob[2 * EMU_TLB_SIZE];
	uint32_t tlb_nused, tlb_nglob;

	struct x86_segment seg[6], ldt, tr;
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
	uint64_t dr[8];

	/* MSRs kept by the CPU itself. */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip, pat, misc_enable;
	uint64_t kvm_system_time, kvm_wall_clock;
	int64_t tsc_offset;

	struct emu_x87 x87;
	bool x87_stub_failed;
	uint8_t xmm[16][16] __attribute__((aligned(16)));
	uint32_t mxcsr;

	/* The instruction being executed and exception bookkeeping. */
	struct emu_insn insn;
	jmp_buf jmp;
	int exc_vec;
	uint32_t exc_err;
	bool exc_has_err;
	int delivering;         /* vector being delivered, or -1 */
	bool halted;
	bool wait_sipi;         /* AP before its first SIPI */
	bool shutdown;
	uint64_t icount;        /* instructions retired */

	/* Environment hooks (NULL in the test harness). */
	struct vm *vm;
	struct vcpu *vcpu;
	struct lapic *lapic;
	uint64_t apic_base;     /* used when lapic is NULL */
	/* Test harness: stop when RIP leaves [stop_lo, stop_hi). */
	uint64_t stop_lo, stop_hi;
	/* Guest RAM lookup: host address of the page holding gpa, or NULL. */
	void *(*gpa_to_hva)(struct emu_cpu *cpu, uint64_t gpa);
	void *mem_opaque;
	/* Set asynchronously: leave the run loop at the next boundary. */
	volatile int exit_request;
	/* Hooks for the platform (interrupts, I/O); defaults work without a VM. */
	uint32_t (*io_in)(struct emu_cpu *cpu, uint16_t port, int len);
	void (*io_out)(struct emu_cpu *cpu, uint16_t port, uint32_t val, int len);
	uint64_t (*mmio_read)(struct emu_cpu *cpu, uint64_t gpa, int len);
	void (*mmio_write)(struct emu_cpu *cpu, uint64_t gpa, uint64_t val, int len);
	int (*msr_read)(struct emu_cpu *cpu, uint32_t idx, uint64_t *val);
	int (*msr_write)(struct emu_cpu *cpu, uint32_t idx, uint64_t val);
	void (*cpuid)(struct emu_cpu *cpu, uint32_t leaf, uint32_t sub, uint32_t out[4]);
	uint64_t (*tsc_read)(struct emu_cpu *cpu);
	uint64_t (*get_cr8)(struct emu_cpu *cpu);
	void (*set_cr8)(struct emu_cpu *cpu, uint64_t val);
	volatile int nmi_pending;
	int flush_request;
	/*
	 * Self-modifying code detection, shared by the VM's vCPUs: one word per
	 * 4 KiB page of RAM (ram_base .. + ram_pages); bit 0 = decoded code is
	 * cached from the page, bits 31:1 = generation, bumped on a write.  Pages
	 * with bit 0 set get no write TLB entries, so writes take the slow path.
	 */
	uint32_t *page_gen;
	uint8_t *ram_base;
	uint64_t ram_pages;
	struct emu_icache *icache;
	struct emu_block *last_block;   /* block just executed, for chaining */
	bool insn_ready;                /* cpu->insn already holds the decode at RIP */
	uint64_t tlb_epoch;             /* bumped on every TLB flush */
	/* Bumped on flushes that drop global entries too (not on CR3 writes). */
	uint64_t tlb_epoch_global;
	void (*code_page_added)(struct emu_cpu *cpu);   /* flush other vCPUs' write TLBs */
	void (*trace_exc)(struct emu_cpu *cpu, int vec, uint32_t err);  /* debug */
	unsigned debug;          /* VIREO_EMU_DEBUG level */
	uint64_t debug_next;       /* another thread wants the TLB flushed */
	void (*mark_dirty)(struct emu_cpu *cpu, uint64_t gpa);
	unsigned poll_countdown;
	/* HLT: return when an interrupt may be pending or exit was requested. */
	void (*halt)(struct emu_cpu *cpu);
	/* Called when exit_request is set or every few thousand instructions. */
	void (*poll)(struct emu_cpu *cpu);
	int (*irq_pending)(struct emu_cpu *cpu);   /* vector or -1 (IF=1 only) */
	int (*irq_ack)(struct emu_cpu *cpu, int vector);
	volatile int irq_hint;   /* set by the platform when an IRQ may be pending */
	/* Translated code left through an empty chaining slot (jit.c). */
	struct emu_jit_slot *jit_slot;
};

enum { EMU_MODE_REAL, EMU_MODE_PROT, EMU_MODE_LONG };

/*
 * Offset in struct emu_cpu of the epoch that guards a link to code at
 * linear address la: tlb_epoch_global when its page is mapped by a global
 * TLB entry (a CR3 write keeps those), else tlb_epoch.
 */
static inline uint32_t emu_link_epoch_off(const struct emu_cpu *c, uint64_t la)
{
	const struct emu_tlb_entry *e = &c->tlb[c->cpl == 3][(la >> 12) & (EMU_TLB_SIZE - 1)];

	if (e->tag_x == (la & ~0xfffULL) && e->global)
		return (uint32_t)offsetof(struct emu_cpu, tlb_epoch_global);
	return (uint32_t)offsetof(struct emu_cpu, tlb_epoch);
}

static inline uint64_t emu_epoch_at(const struct emu_cpu *c, uint32_t off)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)c + off, sizeof(v));
	return v;
}

/* ---- cpu.c ---- */
/* Forget every cached block (and translation). */
void emu_icache_reset(struct emu_icache *ic);
void emu_cpu_reset(struct emu_cpu *cpu);
/* Recompute cpl/mode/code64/def_size/stack_size from CR0/EFER/CS/SS. */
void emu_cpu_update_mode(struct emu_cpu *cpu);
/*
 * Run until exit_request, a stop condition or shutdown.  Returns 0 on
 * exit_request / stop, 1 on shutdown (triple fault), and for the test
 * harness the last exception vector through *exc_out (-1 if none) when
 * cpu->stop_on_exception is set.
 */
int emu_cpu_run(struct emu_cpu *cpu, uint64_t max_insns, bool stop_on_exc, int *exc_out);
_Noreturn void emu_raise(struct emu_cpu *cpu, int vec, uint32_t err, bool has_err);
static inline _Noreturn void emu_raise_ud(struct emu_cpu *cpu) { emu_raise(cpu, EXC_UD, 0, false); }
static inline _Noreturn void emu_raise_gp(struct emu_cpu *cpu, uint32_t err) { emu_raise(cpu, EXC_GP, err, true); }
/* Deliver an interrupt/exception through the IDT (Intel SDM Vol. 3 §6.12). */
void emu_deliver(struct emu_cpu *cpu, int vec, uint32_t err, bool has_err,
		 bool soft, uint64_t ret_rip);
void emu_cpu_set_cr0(struct emu_cpu *cpu, uint64_t val);
void emu_cpu_set_cr4(struct emu_cpu *cpu, uint64_t val);
void emu_cpu_set_cr3(struct emu_cpu *cpu, uint64_t val);
int emu_cpu_set_efer(struct emu_cpu *cpu, uint64_t val);

/* ---- flags.c ---- */
uint64_t emu_flags_get(struct emu_cpu *cpu);      /* full RFLAGS */
bool emu_flags_cf(const struct emu_cpu *cpu);
void emu_flags_set(struct emu_cpu *cpu, uint64_t val, uint64_t mask);
bool emu_cond(struct emu_cpu *cpu, int cc);       /* Jcc condition 0-15 */
uint64_t emu_alu(struct emu_cpu *cpu, int op, uint64_t a, uint64_t b, int size);
extern const uint8_t emu_parity_table[256];

/* ---- mmu.c ---- */
/* The page-generation word for host address p, or NULL if not tracked. */
static inline uint32_t *emu_code_gen(struct emu_cpu *c, const void *p)
{
	uint64_t off = (uint64_t)((const uint8_t *)p - c->ram_base);
	if (!c->page_gen || off >= c->ram_pages * 4096)
		return NULL;
	return &c->page_gen[off >> 12];
}
/* A write hits page p: drop the decoded code cached from it. */
static inline void emu_code_written(struct emu_cpu *c, const void *p)
{
	uint32_t *g = emu_code_gen(c, p);
	uint32_t v;
	if (!g)
		return;
	v = __atomic_load_n(g, __ATOMIC_RELAXED);
	while ((v & 1) && !__atomic_compare_exchange_n(g, &v, (v + 2) & ~1u, false,
						       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		;
}
void emu_tlb_flush(struct emu_cpu *cpu, bool keep_global);
/* Invalidate every entry (reset: the array may hold anything). */
void emu_tlb_reset(struct emu_cpu *cpu);
void emu_tlb_flush_page(struct emu_cpu *cpu, uint64_t la);
/* Drop write permission of every TLB entry mapping the page of host address hva. */
void emu_tlb_drop_writes(struct emu_cpu *cpu, const void *hva);
/* Translate la; raise #PF if not permitted.  user: a CPL3 access. */
uint64_t emu_mmu_translate(struct emu_cpu *cpu, uint64_t la, int acc, bool user);
/* Try a walk without side effects on failure: 0 and *gpa, or -EFAULT. */
int emu_mmu_probe(struct emu_cpu *cpu, uint64_t la, uint64_t *gpa);
uint64_t emu_read_slow(struct emu_cpu *cpu, uint64_t la, int size, int acc, bool user);
void emu_write_slow(struct emu_cpu *cpu, uint64_t la, uint64_t val, int size, bool user);
/* Host pointer for a naturally contained RAM access, or NULL (MMIO / crosses page). */
void *emu_mem_ptr(struct emu_cpu *cpu, uint64_t la, int size, int acc, bool user);
uint64_t emu_phys_read(struct emu_cpu *cpu, uint64_t gpa, int size);
void emu_phys_write(struct emu_cpu *cpu, uint64_t gpa, uint64_t val, int size);

static inline bool emu_user(const struct emu_cpu *cpu) { return cpu->cpl == 3; }

static inline uint64_t emu_read(struct emu_cpu *cpu, uint64_t la, int size)
{
	bool u = emu_user(cpu);
	struct emu_tlb_entry *e = &cpu->tlb[u][(la >> 12) & (EMU_TLB_SIZE - 1)];
	if (__builtin_expect(e->tag_r == (la & ~0xfffULL) && (la & 0xfff) <= 0x1000u - size, 1)) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)(la + e->addend);
		/* memcpy: guest accesses may be misaligned (one mov on x86). */
		switch (size) {
		case 1: return *p;
		case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
		case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
		default: { uint64_t v; memcpy(&v, p, 8); return v; }
		}
	}
	return emu_read_slow(cpu, la, size, ACC_READ, u);
}

static inline void emu_write(struct emu_cpu *cpu, uint64_t la, uint64_t val, int size)
{
	bool u = emu_user(cpu);
	struct emu_tlb_entry *e = &cpu->tlb[u][(la >> 12) & (EMU_TLB_SIZE - 1)];
	if (__builtin_expect(e->tag_w == (la & ~0xfffULL) && (la & 0xfff) <= 0x1000u - size, 1)) {
		uint8_t *p = (uint8_t *)(uintptr_t)(la + e->addend);
		switch (size) {
		case 1: *p = (uint8_t)val; return;
		case 2: { uint16_t v = (uint16_t)val; memcpy(p, &v, 2); return; }
		case 4: { uint32_t v = (uint32_t)val; memcpy(p, &v, 4); return; }
		default: memcpy(p, &val, 8); return;
		}
	}
	emu_write_slow(cpu, la, val, size, u);
}

/* Supervisor (implicit) accesses: descriptor tables, TSS, IDT. */
static inline uint64_t emu_read_sys(struct emu_cpu *cpu, uint64_t la, int size)
{
	return emu_read_slow(cpu, la, size, ACC_READ, false);
}
static inline void emu_write_sys(struct emu_cpu *cpu, uint64_t la, uint64_t val, int size)
{
	emu_write_slow(cpu, la, val, size, false);
}

/* ---- seg.c ---- */
/* Load a segment register (MOV/POP Sreg, far transfers).  Faults as the SDM says. */
void emu_seg_load(struct emu_cpu *cpu, int sreg, uint16_t sel);
/* Real-mode style load: base = sel << 4. */
void emu_seg_load_real(struct emu_cpu *cpu, int sreg, uint16_t sel);
/* Read the 8-byte descriptor for sel (GDT or LDT); raises #GP(sel) if beyond the limit. */
uint64_t emu_desc_read(struct emu_cpu *cpu, uint16_t sel, uint64_t *hi);
void emu_desc_unpack(uint64_t d, struct x86_segment *s);
uint64_t emu_seg_linear(struct emu_cpu *cpu, int sreg, uint64_t ea, int size);

/* ---- exec.c ---- */
void emu_decode(struct emu_cpu *cpu, struct emu_insn *in);
/* fast.c: choose in->fn for a freshly decoded instruction. */
void emu_fast_select(struct emu_cpu *cpu, struct emu_insn *in);
/* True if in is a direct near JMP with its (canonical) target in imm2. */
bool emu_fast_is_jmp(const struct emu_insn *in);
void emu_exec(struct emu_cpu *cpu, struct emu_insn *in);
/* Operand helpers shared with fpu.c / sse.c. */
/* disp + base + index << scale (+ next RIP): the offset before address-size truncation. */
static inline uint64_t emu_ea_sum(const struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t ea = in->disp;

	if (in->rip_rel)
		ea += in->next_rip;
	if (in->base >= 0)
		ea += cpu->gpr[in->base];
	if (in->index >= 0)
		ea += cpu->gpr[in->index] << in->scale;
	return ea;
}
uint64_t emu_ea(struct emu_cpu *cpu, const struct emu_insn *in);
uint64_t emu_ea_linear(struct emu_cpu *cpu, const struct emu_insn *in, int size);
uint64_t emu_rm_read(struct emu_cpu *cpu, const struct emu_insn *in, int size);
void emu_rm_write(struct emu_cpu *cpu, const struct emu_insn *in, uint64_t val, int size);

/* ---- fpu.c ---- */
void emu_x87_exec(struct emu_cpu *cpu, struct emu_insn *in);
void emu_x87_reset(struct emu_cpu *cpu);
/* Free the native-execution stub (at vCPU teardown). */
void emu_x87_destroy(struct emu_cpu *cpu);
void emu_fxsave(struct emu_cpu *cpu, uint8_t *buf);
int emu_fxrstor(struct emu_cpu *cpu, const uint8_t *buf);

/* ---- sse.c ---- */
/* Returns false if the opcode is not an SSE instruction it implements. */
bool emu_sse_exec(struct emu_cpu *cpu, struct emu_insn *in);

/* ---- mmx.c ---- */
/* True if in (0F map, with its mandatory prefix) is an MMX register form. */
bool emu_mmx_form(const struct emu_insn *in);
/* Execute an instruction for which emu_mmx_form() is true (faults longjmp). */
void emu_mmx_exec(struct emu_cpu *cpu, struct emu_insn *in);

#endif
