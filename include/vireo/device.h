/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEVICE_H
#define VIREO_DEVICE_H

/*
 * One interface for every device (STYLE.md "Devices"): realize from the VM's
 * configuration, reset, pause/resume, destroy (save/load arrive with the
 * snapshot layer).  The explicit device table is in src/core/devices.c.
 */
#include "vireo/util.h"

struct vm;

struct device_ops {
	const char *name;
	/* Create the device, map its ranges; store state in *opaque. */
	int (*realize)(struct vm *vm, void **opaque) WUR;
	void (*reset)(void *opaque);
	void (*pause)(void *opaque);
	void (*resume)(void *opaque);
	void (*destroy)(void *opaque);
};

struct device {
	const struct device_ops *ops;
	void *opaque;
	struct device *next;
};

/* Realize ops into vm->devices. */
int device_realize(struct vm *vm, const struct device_ops *ops, void **opaque) WUR;
/* Destroy every device of the VM, newest first. */
void device_destroy_all(struct vm *vm);
void device_reset_all(struct vm *vm);

#endif
