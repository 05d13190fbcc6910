/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEV_NS8250_H
#define VIREO_DEV_NS8250_H

/*
 * 16550A-compatible UART (National Semiconductor PC16550D datasheet).
 * ns8250_com1_ops: COM1 at I/O ports 0x3f8-0x3ff, ISA IRQ 4, connected to
 * the VM's console (vm->console): transmitted bytes go to console_write(),
 * console input is queued for the receiver.
 */
#include "vireo/device.h"

#define NS8250_COM1_BASE 0x3f8
#define NS8250_COM1_IRQ  4
#define NS8250_NREGS     8

extern const struct device_ops ns8250_com1_ops;

#endif
