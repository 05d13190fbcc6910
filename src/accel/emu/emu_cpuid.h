/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_EMU_CPUID_H
#define VIREO_EMU_CPUID_H

#include <stdint.h>

/*
 * CPUID as the emu CPU implements it (used by the test harness, and by the
 * backend until the shared policy x86_cpuid() of src/arch/x86/cpuid.c is
 * on the branch).  Advertises only what the interpreter implements.
 */
void emu_cpuid_policy(uint32_t leaf, uint32_t subleaf, int ncpus, int apic_id,
		      uint32_t out[4]);

#endif
