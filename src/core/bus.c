// SPDX-License-Identifier: GPL-2.0-only
/* PIO/MMIO dispatch: a sorted array searched with bsearch under a rwlock. */
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
	memset(bus, 0, sizeof(*bus));
}

/* Index of the first range whose end is above addr. Caller holds the lock. */
static int bus_find(const struct bus *bus, uint64_t addr)
{
	int lo = 0, hi = bus->nranges;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (r->base + r->len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_map(struct bus *bus, uint64_t base, uint64_t len, bus_fn fn,
	    void *opaque, const char *name)
{
	int i, err = 0;

	if (!len || base + len < base || !fn)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	i = bus_find(bus, base);
	if (i < bus->nranges && bus->ranges[i].base < base + len) {
		err = -EEXIST;
		goto out;
	}
	if (bus->nranges == bus->cap) {
		int cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *n = realloc(bus->ranges, cap * sizeof(*n));
		if (!n) {
			err = -ENOMEM;
			goto out;
		}
		bus->ranges = n;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i],
		(bus->nranges - i) * sizeof(*bus->ranges));
	bus->ranges[i] = (struct bus_range){ base, len, fn, opaque, name };
	bus->nranges++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

int bus_unmap(struct bus *bus, uint64_t base)
{
	int i, err = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = bus_find(bus, base);
	if (i < bus->nranges && bus->ranges[i].base == base) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nranges - i - 1) * sizeof(*bus->ranges));
		bus->nranges--;
		err = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

int bus_dispatch(struct bus *bus, struct vcpu *vcpu, uint64_t addr,
		 void *data, int len, bool is_write)
{
	struct bus_range r;
	int i;

	if (!is_write)
		memset(data, 0xff, len);
	pthread_rwlock_rdlock(&bus->lock);
	i = bus_find(bus, addr);
	if (i >= bus->nranges || bus->ranges[i].base > addr) {
		pthread_rwlock_unlock(&bus->lock);
		return -ENOENT;
	}
	r = bus->ranges[i];
	pthread_rwlock_unlock(&bus->lock);
	if (addr - r.base + len > r.len)
		len = r.len - (addr - r.base);
	r.fn(vcpu, addr - r.base, data, len, is_write, r.opaque);
	return 0;
}
