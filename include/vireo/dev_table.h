/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEV_TABLE_H
#define VIREO_DEV_TABLE_H

/* The device_ops of the standard devices, listed in src/core/devices.c. */
#include "vireo/device.h"

extern const struct device_ops acpi_pm_ops;      /* src/dev/acpi_pm.c */
extern const struct device_ops debug_exit_ops;   /* src/dev/debug_exit.c */
extern const struct device_ops i8042_ops;        /* src/dev/i8042.c */
extern const struct device_ops mc146818_ops;     /* src/dev/mc146818.c */
extern const struct device_ops ns8250_com1_ops;  /* src/dev/ns8250.c */
extern const struct device_ops pci_host_ops;     /* src/dev/pci.c */

#endif
