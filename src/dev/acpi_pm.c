// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ACPI power-management registers of a hardware-reduced platform
 * (ACPI 6.4 §4.8.3.7 sleep control/status, §4.8.3.6 reset register), in I/O
 * space at ACPI_PM_IO_BASE as the FADT describes them.  Entering S5 powers
 * the VM off (exit status 0); the reset register ends the VM too, as a
 * reboot does in Firecracker: the next boot is the caller's decision.
 */
#include <errno.h>
#include <stdlib.h>

#include "vireo/acpi.h"
#include "vireo/device.h"
#include "vireo/dev_table.h"
#include "vireo/log.h"
#include "vireo/vm.h"

#define SLP_EN      (1u << 5)
#define SLP_TYP(v)  (((v) >> 2) & 7)
#define WAK_STS     (1u << 7)

struct acpi_pm {
	struct vm *vm;
};

static void acpi_pm_io(struct vcpu *vcpu, uint64_t off, void *data, int len,
		       bool is_write, void *opaque)
{
	struct acpi_pm *pm = opaque;
	uint8_t v = *(uint8_t *)data;

	if (!is_write) {
		/* Sleep status: never asleep; the other registers read as 0. */
		*(uint8_t *)data = 0;
		for (int i = 1; i < len; i++)
			((uint8_t *)data)[i] = 0;
		return;
	}
	switch (ACPI_PM_IO_BASE + off) {
	case ACPI_PM_SLEEP_CTL:
		if ((v & SLP_EN) && SLP_TYP(v) == ACPI_S5_SLP_TYP)
			vm_request_stop(pm->vm, 0, "the guest powered off");
		else if (v & SLP_EN)
			log_warnx_rl("acpi_pm: sleep type %u not supported; ignored", SLP_TYP(v));
		break;
	case ACPI_PM_RESET:
		if (v == ACPI_PM_RESET_VALUE)
			vm_request_stop(pm->vm, 0, "the guest rebooted (reboot ends the VM)");
		break;
	default:
		break;   /* sleep status: write-1-to-clear of a bit never set */
	}
}

static int acpi_pm_realize(struct vm *vm, void **opaque)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int err;

	if (!pm)
		return -ENOMEM;
	pm->vm = vm;
	err = vm_map_pio(vm, ACPI_PM_IO_BASE, ACPI_PM_IO_LEN, acpi_pm_io, pm, "acpi-pm");
	if (err) {
		free(pm);
		return err;
	}
	*opaque = pm;
	return 0;
}

static void acpi_pm_destroy(void *opaque)
{
	free(opaque);
}

const struct device_ops acpi_pm_ops = {
	.name = "acpi-pm",
	.realize = acpi_pm_realize,
	.destroy = acpi_pm_destroy,
};
