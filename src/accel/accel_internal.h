/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_ACCEL_INTERNAL_H
#define VIREO_ACCEL_INTERNAL_H

/*
 * Private helpers of src/accel/, exposed for unit tests.
 */
#include <stddef.h>

/*
 * 1 if the text of a /proc/cpuinfo lists "vmx" or "svm" as a whole word on
 * a "flags" line, else 0.  `text` is NUL-terminated.
 */
int accel_cpuinfo_has_hw_virt(const char *text);

#endif
