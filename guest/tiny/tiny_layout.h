/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef TINY_LAYOUT_H
#define TINY_LAYOUT_H

/* Constants shared by the tiny guests' asm and C (and tests/integration). */
#define TINY_SEL_CODE64 0x08
#define TINY_SEL_DATA   0x10
#define TINY_SEL_CODE32 0x18
#define TINY_SEL_DATA2  0x20
#define TINY_STACK_SIZE 16384
#define TINY_PML4_GPA   0x100000       /* CR3 once in long mode */

#define TINY_PORT_DEBUG_EXIT 0x501

#endif
