/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEV_I8042_H
#define VIREO_DEV_I8042_H

/*
 * PS/2 controller (Intel 8042 / "keyboard controller") at ports 0x60 and
 * 0x64, with no keyboard or mouse attached, plus System Control Port A at
 * 0x92.  Its reason to exist is the reset line: command 0xfe (pulse output
 * port bit 0), an output-port write with bit 0 clear, or port 0x92 bit 0
 * ask for a reboot, which ends the VM (exit status 0) as in Firecracker.
 */
#include "vireo/device.h"

#define I8042_DATA_PORT    0x60
#define I8042_CMD_PORT     0x64
#define I8042_PORT_A       0x92  /* System Control Port A */
#define I8042_KBD_IRQ      1
#define I8042_AUX_IRQ      12

extern const struct device_ops i8042_ops;

#endif
