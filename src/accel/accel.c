// SPDX-License-Identifier: GPL-2.0-only
/* Backend selection: kvm where the host has VT-x/AMD-V, emu otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vireo/accel.h"

/*
 * Each backend lives in its own folder and may be left out of a build;
 * a missing one is reported, not linked against.
 */
extern const struct accel_ops accel_kvm_ops __attribute__((weak));
extern const struct accel_ops accel_emu_ops __attribute__((weak));

int accel_host_has_hw_virt(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		found = strstr(line, " vmx") || strstr(line, " svm");
	}
	fclose(f);
	return found;
}

static int accel_try(const struct accel_ops *ops, const char *name,
		     char *why, size_t len)
{
	if (!ops) {
		snprintf(why, len, "the %s backend is not built yet in this version of vireo", name);
		return -ENOSYS;
	}
	return ops->probe(why, len);
}

int accel_select(enum accel_kind kind, const struct accel_ops **out,
		 char *why, size_t len)
{
	const struct accel_ops *kvm = &accel_kvm_ops, *emu = &accel_emu_ops;
	int r;

	why[0] = '\0';
	if (kind == ACCEL_AUTO) {
		/* kvm only where it runs guest kernels at full speed. */
		if (kvm && accel_host_has_hw_virt() && kvm->probe(why, len) == 1) {
			*out = kvm;
			return 0;
		}
		why[0] = '\0';
		kind = ACCEL_EMU;
	}
	r = accel_try(kind == ACCEL_KVM ? kvm : emu, kind == ACCEL_KVM ? "kvm" : "emu",
		      why, len);
	if (r < 0)
		return r;
	*out = kind == ACCEL_KVM ? kvm : emu;
	return 0;
}
