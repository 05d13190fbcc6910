/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEVICES_H
#define VIREO_DEVICES_H

#include "vireo/util.h"

struct vm;

/*
 * Realize the standard PC devices of a Vireo VM (the one explicit device
 * table, src/core/devices.c): serial console, PS/2 controller (reset line),
 * RTC/CMOS, PCI host bridge, debug-exit port, ACPI power management.
 */
int devices_realize_default(struct vm *vm) WUR;

#endif
