// SPDX-License-Identifier: GPL-2.0-only
/* The device registry of a VM: realize, reset, destroy in order. */
#include <errno.h>
#include <stdlib.h>

#include "vireo/device.h"
#include "vireo/vm.h"

int device_realize(struct vm *vm, const struct device_ops *ops, void **opaque)
{
	struct device *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	err = ops->realize(vm, &d->opaque);
	if (err) {
		free(d);
		return err;
	}
	d->ops = ops;
	d->next = vm->devices;
	vm->devices = d;
	if (opaque)
		*opaque = d->opaque;
	return 0;
}

void device_destroy_all(struct vm *vm)
{
	while (vm->devices) {
		struct device *d = vm->devices;
		vm->devices = d->next;
		if (d->ops->destroy)
			d->ops->destroy(d->opaque);
		free(d);
	}
}

void device_reset_all(struct vm *vm)
{
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->reset)
			d->ops->reset(d->opaque);
}
