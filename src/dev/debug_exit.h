/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEV_DEBUG_EXIT_H
#define VIREO_DEV_DEBUG_EXIT_H

/*
 * Debug-exit port at QEMU's isa-debug-exit iobase (0x501, two ports): a
 * guest write of value v ends the VM with exit status v & 0xff, so test
 * guests report their result as the monitor's exit code.  Unlike QEMU
 * (which exits with (v << 1) | 1) the value is passed through unchanged.
 */
#include "vireo/device.h"

#define DEBUG_EXIT_PORT 0x501
#define DEBUG_EXIT_LEN  2

extern const struct device_ops debug_exit_ops;

#endif
