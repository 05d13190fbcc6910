// SPDX-License-Identifier: GPL-2.0-only
/*
 * Minimal bus dispatch with the contract of include/vireo/bus.h, used by the
 * chip tests until src/core/bus.c is on this branch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/bus.h"

int bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	return -pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
}

int bus_map(struct bus *bus, uint64_t base, uint64_t len, bus_fn fn,
	    void *opaque, const char *name)
{
	if (!len || base + len < base)
		return -EINVAL;
	for (int i = 0; i < bus->nranges; i++) {
		struct bus_range *r = &bus->ranges[i];
		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	if (bus->nranges == bus->cap) {
		int cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *n = realloc(bus->ranges, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		bus->ranges = n;
		bus->cap = cap;
	}
	bus->ranges[bus->nranges++] = (struct bus_range){ base, len, fn, opaque, name };
	return 0;
}

int bus_unmap(struct bus *bus, uint64_t base)
{
	for (int i = 0; i < bus->nranges; i++) {
		if (bus->ranges[i].base == base) {
			bus->ranges[i] = bus->ranges[--bus->nranges];
			return 0;
		}
	}
	return -ENOENT;
}

int bus_dispatch(struct bus *bus, struct vcpu *vcpu, uint64_t addr,
		 void *data, int len, bool is_write)
{
	for (int i = 0; i < bus->nranges; i++) {
		struct bus_range *r = &bus->ranges[i];
		if (addr >= r->base && addr < r->base + r->len) {
			uint64_t off = addr - r->base;
			int n = len;
			if (off + n > r->len)
				n = r->len - off;
			r->fn(vcpu, off, data, n, is_write, r->opaque);
			return 0;
		}
	}
	return -ENOENT;
}
