/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_FUZZ_TRANSPORT_H
#define VIREO_FUZZ_TRANSPORT_H
#include <stddef.h>
#include <stdint.h>

/* One fuzz input for the transport target (see fuzz_transport.c). */
int fuzz_transport_one(const uint8_t *data, size_t size);

#endif
