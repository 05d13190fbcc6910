/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_TEST_BLOCK_UTIL_H
#define VIREO_TEST_BLOCK_UTIL_H

/* Scratch directory and helpers for the block unit tests. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct scratch {
	char dir[64];
	char path[128];
};

static inline void scratch_init(struct scratch *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/vireo-blk-XXXXXX");
	if (!mkdtemp(s->dir))
		abort();
}

static inline const char *scratch_path(struct scratch *s, const char *name)
{
	snprintf(s->path, sizeof(s->path), "%s/%s", s->dir, name);
	return s->path;
}

static inline void scratch_fini(struct scratch *s)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", s->dir);
}

/* Deterministic bytes: a xorshift stream from `seed`. */
static inline void pattern_fill(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x >> 24;
	}
}

#endif
