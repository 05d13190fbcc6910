// SPDX-License-Identifier: GPL-2.0-only
/*
 * Backend selection: --accel auto|kvm|emu.
 *
 * auto picks kvm only where the host has hardware virtualization (vmx or svm
 * in /proc/cpuinfo) and /dev/kvm works; elsewhere it picks emu.  A /dev/kvm
 * without vmx/svm is a paravirtual KVM (PVM): it runs guest user mode natively
 * but emulates every guest kernel-mode instruction, so it is only offered when
 * asked for by name, with a warning.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/accel.h"
#include "vireo/util.h"
#include "accel/accel_internal.h"

/*
 * The emu backend lives on another branch until it lands: a weak reference
 * lets this file link without it (its address is then NULL).
 */
extern const struct accel_ops accel_emu_ops __attribute__((weak));

#define CPUINFO_MAX (4 * MiB)

static bool word_in(const char *s, const char *end, const char *word)
{
	size_t n = strlen(word);

	while (s < end) {
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		const char *w = s;
		while (s < end && *s != ' ' && *s != '\t')
			s++;
		if ((size_t)(s - w) == n && !memcmp(w, word, n))
			return true;
	}
	return false;
}

int accel_cpuinfo_has_hw_virt(const char *text)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		const char *colon;

		if (!end)
			end = line + strlen(line);
		colon = memchr(line, ':', (size_t)(end - line));
		if (colon && !strncmp(line, "flags", 5) &&
		    (word_in(colon + 1, end, "vmx") || word_in(colon + 1, end, "svm")))
			return 1;
		line = *end ? end + 1 : NULL;
	}
	return 0;
}

int accel_host_has_hw_virt(void)
{
	void *buf;
	size_t len;
	char *text;
	int ret;

	if (read_file("/proc/cpuinfo", CPUINFO_MAX, &buf, &len) < 0)
		return 0;
	text = realloc(buf, len + 1);
	if (!text) {
		free(buf);
		return 0;
	}
	text[len] = '\0';
	ret = accel_cpuinfo_has_hw_virt(text);
	free(text);
	return ret;
}

static int select_emu(const struct accel_ops **out, char *why, size_t len)
{
	const struct accel_ops *emu = &accel_emu_ops;
	int r;

	if (!emu) {
		snprintf(why, len, "the emu backend is not built yet");
		return -ENOSYS;
	}
	why[0] = '\0';
	r = emu->probe(why, len);
	if (r < 0)
		return r;
	*out = emu;
	return 0;
}

static int select_kvm(const struct accel_ops **out, char *why, size_t len)
{
	int r;

	why[0] = '\0';
	r = accel_kvm_ops.probe(why, len);
	if (r < 0)
		return r;
	*out = &accel_kvm_ops;
	return 0;
}

static int select_auto(const struct accel_ops **out, char *why, size_t len)
{
	int r;

	if (accel_host_has_hw_virt()) {
		why[0] = '\0';
		r = accel_kvm_ops.probe(why, len);
		if (r == 1) {
			*out = &accel_kvm_ops;
			return 0;
		}
	}
	r = select_emu(out, why, len);
	if (r == -ENOSYS && !&accel_emu_ops)
		snprintf(why, len, "this host has no hardware virtualization "
			 "(no vmx/svm in /proc/cpuinfo), so --accel auto picks "
			 "emu, and the emu backend is not built yet; "
			 "--accel kvm runs on the host's paravirtual KVM, slowly");
	return r;
}

int accel_select(enum accel_kind kind, const struct accel_ops **out,
		 char *why, size_t len)
{
	switch (kind) {
	case ACCEL_AUTO:
		return select_auto(out, why, len);
	case ACCEL_KVM:
		return select_kvm(out, why, len);
	case ACCEL_EMU:
		return select_emu(out, why, len);
	}
	snprintf(why, len, "unknown accelerator kind %d", (int)kind);
	return -EINVAL;
}
