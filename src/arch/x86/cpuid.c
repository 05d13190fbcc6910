// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CPUID policy (Intel SDM Vol. 2A, CPUID).  Feature masks list what the
 * emu interpreter implements; change them only together with the emu code.
 */
#include <string.h>

#include "vireo/cpuid.h"
#include "vireo/vm.h"

/*
 * Leaf 1 EDX: FPU TSC MSR PAE CX8 APIC PGE CMOV PAT PSE CLFSH MMX FXSR SSE
 * SSE2 (the x86-64-v1 baseline; glibc's ISA-level check needs MMX).
 */
#define F1_EDX ((1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | \
		(1u << 8) | (1u << 9) | (1u << 13) | (1u << 15) | (1u << 16) | \
		(1u << 19) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))
/* Leaf 1 ECX: CX16 (13), POPCNT (23), TSC_DEADLINE (24), HYPERVISOR (31). */
#define F1_ECX ((1u << 13) | (1u << 23) | (1u << 24) | (1u << 31))
/* 0x80000001 EDX: SYSCALL (11), NX (20), RDTSCP (27), LM (29). */
#define F81_EDX ((1u << 11) | (1u << 20) | (1u << 27) | (1u << 29))
/* 0x80000001 ECX: LAHF_LM (0). */
#define F81_ECX (1u << 0)

/*
 * Leaf 7 subleaf 0 EDX: ARCH_CAPABILITIES (29).  The emu CPU answers
 * RDMSR IA32_ARCH_CAPABILITIES with the "not affected" bits that hold for
 * an interpreter that does not speculate (X86_ARCH_CAP_EMU); under kvm the
 * bit is intersected with KVM's supported CPUID and KVM answers the MSR.
 */
#define F7_EDX (1u << 29)

/* KVM paravirtual leaves (Documentation/virt/kvm/x86/cpuid.rst). */
#define KVM_FEATURE_CLOCKSOURCE2        (1u << 3)
#define KVM_FEATURE_CLOCKSOURCE_STABLE  (1u << 24)

static void cpuid_str(uint32_t out[3], const char *s)
{
	memcpy(out, s, 12);
}

/* Bits needed to number n things. */
static uint32_t bits_for(int n)
{
	uint32_t b = 0;
	while ((1 << b) < n)
		b++;
	return b;
}

static void cpuid_basic(struct vm *vm, int vcpu_id, uint32_t leaf,
			uint32_t subleaf, uint32_t out[4])
{
	int ncpus = vm ? vm->cfg.ncpus : 1;   /* nvcpus grows during vcpu_init */
	uint32_t v[3];

	switch (leaf) {
	case 0:
		out[0] = X86_CPUID_MAX_BASIC;
		cpuid_str(v, "GenuineIntel");   /* order: ebx, edx, ecx */
		out[1] = v[0];
		out[3] = v[1];
		out[2] = v[2];
		break;
	case 1:
		/* Family 6 model 0x3a stepping 9 (an Ivy Bridge-like signature). */
		out[0] = 0x000306a9;
		/* CLFLUSH line size 8 qwords, APIC ID in 31:24. */
		out[1] = (8u << 8) | ((uint32_t)vcpu_id << 24);
		out[2] = F1_ECX;
		out[3] = F1_EDX;
		break;
	case 0x07:
		/* EAX = 0: subleaf 0 is the highest; other subleaves are all zero. */
		if (subleaf == 0)
			out[3] = F7_EDX;
		break;
	case 0x0b:
		/* Extended topology: one thread per core, ncpus cores per package. */
		if (subleaf == 0) {
			out[0] = 0;
			out[1] = 1;
			out[2] = (1u << 8) | subleaf;
		} else if (subleaf == 1) {
			out[0] = bits_for(ncpus);
			out[1] = ncpus;
			out[2] = (2u << 8) | subleaf;
		} else {
			out[2] = subleaf;
		}
		out[3] = vcpu_id;
		break;
	default:
		break;   /* other leaves up to 0xa: nothing advertised */
	}
}

static void cpuid_ext(uint32_t leaf, uint32_t out[4])
{
	static const char brand[48] = "Vireo virtual CPU";

	switch (leaf) {
	case 0x80000000:
		out[0] = X86_CPUID_MAX_EXT;
		break;
	case 0x80000001:
		out[2] = F81_ECX;
		out[3] = F81_EDX;
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004:
		memcpy(out, brand + (leaf - 0x80000002) * 16, 16);
		break;
	case 0x80000007:
		out[3] = 1u << 8;   /* invariant TSC */
		break;
	case 0x80000008:
		out[0] = 39 | (48 << 8);   /* physical, linear address bits */
		break;
	default:
		break;
	}
}

void x86_cpuid(struct vm *vm, int vcpu_id, uint32_t leaf, uint32_t subleaf,
	       uint32_t out[4])
{
	memset(out, 0, 4 * sizeof(out[0]));
	if (leaf <= X86_CPUID_MAX_BASIC) {
		cpuid_basic(vm, vcpu_id, leaf, subleaf, out);
	} else if (leaf == X86_CPUID_KVM_BASE) {
		uint32_t v[3];
		cpuid_str(v, "KVMKVMKVM\0\0\0");
		out[0] = X86_CPUID_KVM_BASE + 1;
		out[1] = v[0];
		out[2] = v[1];
		out[3] = v[2];
	} else if (leaf == X86_CPUID_KVM_BASE + 1) {
		out[0] = KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE;
	} else if (leaf >= 0x80000000 && leaf <= X86_CPUID_MAX_EXT) {
		cpuid_ext(leaf, out);
	} else if (leaf > X86_CPUID_MAX_EXT || (leaf > X86_CPUID_MAX_BASIC && leaf < 0x40000000)) {
		/* Out of range: Intel returns the highest basic leaf's data. */
		cpuid_basic(vm, vcpu_id, X86_CPUID_MAX_BASIC, subleaf, out);
	}
}
