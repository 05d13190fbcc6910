/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_BUS_H
#define VIREO_BUS_H

/*
 * Port-I/O and MMIO dispatch.  Devices register address ranges at realize
 * time (before vCPUs run; registration after that is allowed but takes the
 * bus write lock).  Both backends route every PIO/MMIO access that is not
 * RAM through bus_dispatch().
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vireo/util.h"

struct vcpu;

/*
 * Access handler.  `offset` is relative to the registered base; `data` holds
 * `len` bytes (1, 2, 4 or 8) little-endian; on a read the handler fills it
 * (it is pre-filled with 0xff).  Called from vCPU threads, concurrently:
 * the device does its own locking.  `vcpu` may be NULL for accesses made
 * by the monitor itself.
 */
typedef void (*bus_fn)(struct vcpu *vcpu, uint64_t offset, void *data,
		       int len, bool is_write, void *opaque);

struct bus_range {
	uint64_t base, len;
	bus_fn fn;
	void *opaque;
	const char *name;
};

struct bus {
	pthread_rwlock_t lock;
	struct bus_range *ranges;  /* sorted by base, non-overlapping */
	int nranges, cap;
	const char *name;          /* "pio" or "mmio" */
};

int bus_init(struct bus *bus, const char *name) WUR;
void bus_destroy(struct bus *bus);

/*
 * Map [base, base+len) to fn.  Returns 0, -EEXIST if it overlaps an existing
 * range, -EINVAL for len 0 or wrap-around, -ENOMEM.
 */
int bus_map(struct bus *bus, uint64_t base, uint64_t len, bus_fn fn,
	    void *opaque, const char *name) WUR;
int bus_unmap(struct bus *bus, uint64_t base) WUR;

/*
 * Dispatch one access.  Returns 0 if a device handled it, -ENOENT if nothing
 * is mapped there (reads then return all ones, writes are dropped).
 * An access that straddles the end of a range is given to that range
 * truncated to what fits (the rest reads as ones).
 */
int bus_dispatch(struct bus *bus, struct vcpu *vcpu, uint64_t addr,
		 void *data, int len, bool is_write);

#endif
