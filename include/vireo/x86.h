/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_X86_H
#define VIREO_X86_H

/*
 * Architectural x86-64 vCPU state, the same for every accel backend.  The
 * layout mirrors what KVM exposes so the kvm backend converts field by field;
 * the emu backend keeps its own internal representation and converts too.
 * Snapshots serialise these field by field (never raw).
 */
#include <stdbool.h>
#include <stdint.h>

struct x86_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

struct x86_segment {
	uint64_t base;
	uint32_t limit;     /* byte granular (already scaled by G) */
	uint16_t selector;
	uint8_t type, present, dpl, db, s, l, g, avl;
	uint8_t unusable;
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
};

struct x86_sregs {
	struct x86_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t apic_base;
};

/* FXSAVE-format FPU/SSE state (Intel SDM Vol. 1 §10.5.1), 512 bytes. */
struct x86_fpu {
	uint8_t fxsave[512] __attribute__((aligned(16)));
};

struct x86_msr {
	uint32_t index;
	uint64_t value;
};

/* Local APIC register page (4 KiB, the xAPIC MMIO layout). */
struct x86_lapic_state {
	uint8_t regs[1024];
};

/* Architectural MSR and bit numbers used across layers. */
#define MSR_IA32_TSC            0x00000010
#define MSR_IA32_APICBASE       0x0000001b
#define MSR_IA32_APICBASE_BSP   (1ULL << 8)
#define MSR_IA32_APICBASE_ENABLE (1ULL << 11)
#define MSR_IA32_MISC_ENABLE    0x000001a0
#define MSR_IA32_ARCH_CAPABILITIES 0x0000010a
#define MSR_IA32_TSC_DEADLINE   0x000006e0
#define MSR_IA32_SYSENTER_CS    0x00000174
#define MSR_IA32_SYSENTER_ESP   0x00000175
#define MSR_IA32_SYSENTER_EIP   0x00000176
#define MSR_IA32_CR_PAT         0x00000277
#define MSR_EFER                0xc0000080
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_FS_BASE             0xc0000100
#define MSR_GS_BASE             0xc0000101
#define MSR_KERNEL_GS_BASE      0xc0000102
#define MSR_TSC_AUX             0xc0000103
#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

#define X86_CR0_PE (1ULL << 0)
#define X86_CR0_MP (1ULL << 1)
#define X86_CR0_EM (1ULL << 2)
#define X86_CR0_TS (1ULL << 3)
#define X86_CR0_ET (1ULL << 4)
#define X86_CR0_NE (1ULL << 5)
#define X86_CR0_WP (1ULL << 16)
#define X86_CR0_AM (1ULL << 18)
#define X86_CR0_PG (1ULL << 31)
#define X86_CR4_PSE (1ULL << 4)
#define X86_CR4_PAE (1ULL << 5)
#define X86_CR4_PGE (1ULL << 7)
#define X86_CR4_OSFXSR (1ULL << 9)
#define X86_CR4_OSXMMEXCPT (1ULL << 10)

#define X86_RFLAGS_CF (1ULL << 0)
#define X86_RFLAGS_FIXED (1ULL << 1)
#define X86_RFLAGS_IF (1ULL << 9)

#endif
