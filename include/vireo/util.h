/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_UTIL_H
#define VIREO_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define KiB (1024ULL)
#define MiB (1024ULL * 1024)
#define GiB (1024ULL * 1024 * 1024)
#define WUR __attribute__((warn_unused_result))

/*
 * Parse a size such as "512", "512M", "2G", "64k" (binary units; a bare
 * number means MiB when default_unit is MiB).  Returns 0 or -EINVAL/-ERANGE.
 */
int parse_size(const char *s, uint64_t default_unit, uint64_t *out) WUR;

/* Read a whole file into a malloc'd buffer (caller frees). Caps at max bytes: -EFBIG. */
int read_file(const char *path, size_t max, void **buf, size_t *len) WUR;

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

#endif
