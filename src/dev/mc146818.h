/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEV_MC146818_H
#define VIREO_DEV_MC146818_H

/*
 * Motorola MC146818A real-time clock and CMOS RAM at index port 0x70 and
 * data port 0x71, ISA IRQ 8.  The clock runs from the host's UTC clock;
 * CMOS holds the PC/AT memory-size bytes the way SeaBIOS reads them from
 * QEMU (see mc146818.c) and the century at 0x32.
 */
#include "vireo/device.h"

#define MC146818_INDEX_PORT 0x70
#define MC146818_DATA_PORT  0x71
#define MC146818_IRQ        8

/* CMOS offsets other layers may care about. */
#define CMOS_BASE_MEM_LO    0x15  /* KiB below 640 KiB */
#define CMOS_EXT_MEM_LO     0x17  /* KiB above 1 MiB, capped at 0xffff */
#define CMOS_EXT_MEM2_LO    0x30  /* same value, second copy */
#define CMOS_CENTURY        0x32
#define CMOS_MEM_16M_LO     0x34  /* 64 KiB units between 16 MiB and the PCI hole */
#define CMOS_MEM_4G_LO      0x5b  /* 64 KiB units above 4 GiB, 3 bytes */
#define CMOS_NCPUS_MINUS_1  0x5f  /* QEMU/SeaBIOS: number of CPUs - 1 */

extern const struct device_ops mc146818_ops;

#endif
