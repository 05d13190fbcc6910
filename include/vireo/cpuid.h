/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_CPUID_H
#define VIREO_CPUID_H

/*
 * The one CPUID policy both backends present.  It advertises only what the
 * emu interpreter implements (the kvm backend intersects it with what KVM
 * supports), so a guest sees the same CPU under either backend and the
 * stock kernel patches itself for exactly that feature set.
 */
#include <stdint.h>

struct vm;

/* out = {eax, ebx, ecx, edx} for CPUID(leaf, subleaf) on vCPU vcpu_id. */
void x86_cpuid(struct vm *vm, int vcpu_id, uint32_t leaf, uint32_t subleaf,
	       uint32_t out[4]);

/* Highest basic and extended leaves of the policy (for table builders). */
#define X86_CPUID_MAX_BASIC 0x0b
#define X86_CPUID_MAX_EXT   0x80000008
#define X86_CPUID_KVM_BASE  0x40000000

#endif
