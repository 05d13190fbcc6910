// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPUID leaves of the emu CPU (Intel SDM Vol. 2 CPUID; KVM paravirtual
 * leaves per Documentation/virt/kvm/x86/cpuid.rst).
 */
#include <string.h>

#include "accel/emu/emu_cpuid.h"

/* Leaf 1 EDX: FPU PSE TSC MSR PAE CX8 APIC PGE CMOV PAT CLFSH MMX FXSR SSE SSE2. */
#define EMU_CPUID_1_EDX ((1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | \
			 (1u << 8) | (1u << 9) | (1u << 13) | (1u << 15) | (1u << 16) | \
			 (1u << 19) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))
/* Leaf 1 ECX: CX16 POPCNT TSC_DEADLINE HYPERVISOR. */
#define EMU_CPUID_1_ECX ((1u << 13) | (1u << 23) | (1u << 24) | (1u << 31))
/* 0x80000001 EDX: SYSCALL NX RDTSCP LM; ECX: LAHF_LM. */
#define EMU_CPUID_81_EDX ((1u << 11) | (1u << 20) | (1u << 27) | (1u << 29))
#define EMU_CPUID_81_ECX (1u << 0)

static void str4(uint32_t *out, const char *s)
{
	memcpy(out, s, 4);
}

void emu_cpuid_policy(uint32_t leaf, uint32_t subleaf, int ncpus, int apic_id,
		      uint32_t out[4])
{
	static const char brand[48] = "Vireo emu x86-64 CPU";

	out[0] = out[1] = out[2] = out[3] = 0;
	switch (leaf) {
	case 0:
		out[0] = 7;
		str4(&out[1], "Genu");
		str4(&out[3], "ineI");
		str4(&out[2], "ntel");
		break;
	case 1:
		out[0] = 0x00000f61;    /* family 15, model 6, stepping 1 (like kvm64) */
		out[1] = (8u << 8) | ((uint32_t)(ncpus & 0xff) << 16) | ((uint32_t)apic_id << 24);
		out[2] = EMU_CPUID_1_ECX;
		out[3] = EMU_CPUID_1_EDX | (ncpus > 1 ? (1u << 28) : 0);
		break;
	case 0x40000000:
		out[0] = 0x40000001;
		str4(&out[1], "KVMK");
		str4(&out[2], "VMKV");
		str4(&out[3], "M\0\0\0");
		break;
	case 0x40000001:
		/* KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT */
		out[0] = (1u << 3) | (1u << 24);
		break;
	case 0x80000000:
		out[0] = 0x80000008;
		break;
	case 0x80000001:
		out[2] = EMU_CPUID_81_ECX;
		out[3] = EMU_CPUID_81_EDX;
		break;
	case 0x80000002: case 0x80000003: case 0x80000004:
		memcpy(out, brand + 16 * (leaf - 0x80000002), 16);
		break;
	case 0x80000008:
		out[0] = 0x3028;        /* 48-bit linear, 40-bit physical */
		break;
	default:
		break;
	}
	(void)subleaf;
}
