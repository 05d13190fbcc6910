/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_EMU_JIT_H
#define VIREO_EMU_JIT_H

/*
 * Block translator of the emu backend (jit.c): 64-bit guest blocks that ran
 * EMU_JIT_THRESHOLD times become host code (x86-64 hosts only).
 */
#include "accel/emu/cpu.h"

#define EMU_JIT_THRESHOLD 16

#if defined(__x86_64__)
#define EMU_JIT_HOST 1
#else
#define EMU_JIT_HOST 0
#endif

/* Map the code buffer of a vCPU's block cache: 0 or -errno. */
int emu_jit_init(struct emu_icache *ic);
void emu_jit_destroy(struct emu_icache *ic);
/* Drop every translation (blocks stay usable by the interpreter). */
void emu_jit_flush(struct emu_icache *ic);
/* Link the translated exit of slot sl to block b's translation (directly). */
void emu_jit_link(struct emu_cpu *c, struct emu_jit_slot *sl, struct emu_block *b);
/* Translate block b (sets b->jit on success; leaves it NULL otherwise). */
void emu_jit_translate(struct emu_cpu *c, struct emu_block *b);

#endif
