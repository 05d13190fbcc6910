/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_FUZZ_VIRTQUEUE_H
#define VIREO_FUZZ_VIRTQUEUE_H
#include <stddef.h>
#include <stdint.h>

/* One fuzz input (see fuzz_virtqueue.c); aborts when an invariant breaks. */
int fuzz_virtqueue_one(const uint8_t *data, size_t size);

#endif
