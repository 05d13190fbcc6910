// SPDX-License-Identifier: GPL-2.0-only
/* The one explicit table of a VM's standard devices (no constructor magic). */
#include <stddef.h>

#include "vireo/device.h"
#include "vireo/dev_table.h"
#include "vireo/devices.h"
#include "vireo/log.h"

static const struct device_ops *const default_devices[] = {
	/* The PCI host bridge first: PCI devices find it on vm->devices. */
	&pci_host_ops,
	&ns8250_com1_ops,
	&i8042_ops,
	&mc146818_ops,
	&debug_exit_ops,
	&acpi_pm_ops,
};

int devices_realize_default(struct vm *vm)
{
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
		int err;

		err = device_realize(vm, default_devices[i], NULL);
		if (err) {
			log_errno(err, "device %s", default_devices[i]->name);
			return err;
		}
	}
	return 0;
}
