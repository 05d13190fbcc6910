/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_EMU_SYS_H
#define VIREO_EMU_SYS_H

/* System instructions and control transfers across segments (sys.c). */
#include "accel/emu/cpu.h"

/* exec.c */
void emu_push(struct emu_cpu *cpu, uint64_t val, int size);
uint64_t emu_pop(struct emu_cpu *cpu, int size);
uint64_t emu_stack_peek(struct emu_cpu *cpu, uint64_t off, int size);
void emu_jump(struct emu_cpu *cpu, const struct emu_insn *in, uint64_t target);
/* INC/DEC with their flags (CF kept). */
uint64_t emu_incdec(struct emu_cpu *cpu, uint64_t v, int size, bool dec);
/* Shift/rotate group 2 operation op (0-7) with flags. */
uint64_t emu_shift_op(struct emu_cpu *cpu, int op, uint64_t v, unsigned cnt, int size);

/*
 * Execute a system / far-transfer instruction.  Sets RIP itself.  Returns
 * false if the opcode is not one it knows (the caller raises #UD).
 */
bool emu_sys_exec(struct emu_cpu *cpu, struct emu_insn *in);
/* PUSH/POP of ES/CS/SS/DS, BCD adjust, PUSHA/POPA, BOUND (not 64-bit). */
void emu_sys_legacy(struct emu_cpu *cpu, struct emu_insn *in);
bool emu_sys_io_allowed(struct emu_cpu *cpu);
void emu_sys_hlt(struct emu_cpu *cpu, struct emu_insn *in);
void emu_sys_pause(struct emu_cpu *cpu);
void emu_sys_cli_sti(struct emu_cpu *cpu, bool sti);
/* MSR access as RDMSR/WRMSR see it: 0, or -1 for #GP. */
int emu_msr_read(struct emu_cpu *cpu, uint32_t idx, uint64_t *val);
int emu_msr_write(struct emu_cpu *cpu, uint32_t idx, uint64_t val);

#endif
