/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEV_TABLE_H
#define VIREO_DEV_TABLE_H

/* The device_ops of the standard devices, listed in src/core/devices.c. */
#include "vireo/device.h"

extern const struct device_ops acpi_pm_ops;

#endif
