// SPDX-License-Identifier: GPL-2.0-only
/* Forwarding database: chained hash over a fixed entry pool. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/fdb.h"

static uint32_t fdb_hash(uint64_t key)
{
	/* Fibonacci hashing: MACs from one vendor share their top bytes. */
	return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> 52) & (FDB_BUCKETS - 1);
}

uint64_t fdb_key(const uint8_t *mac, uint16_t vid)
{
	uint64_t k = 0;

	for (int i = 0; i < 6; i++)
		k = k << 8 | mac[i];
	return k << 16 | (vid & 0xfff);
}

static void fdb_reset(struct fdb *f)
{
	for (uint32_t i = 0; i < FDB_BUCKETS; i++)
		f->bucket[i] = FDB_NONE;
	for (uint32_t i = 0; i < FDB_ENTRIES_MAX; i++)
		f->entries[i].next = i + 1 < FDB_ENTRIES_MAX ? i + 1 : FDB_NONE;
	f->free_head = 0;
	f->count = 0;
}

int fdb_init(struct fdb *f, uint64_t aging_ns)
{
	memset(f, 0, sizeof(*f));
	f->entries = calloc(FDB_ENTRIES_MAX, sizeof(*f->entries));
	if (!f->entries)
		return -ENOMEM;
	f->aging_ns = aging_ns;
	fdb_reset(f);
	return 0;
}

void fdb_destroy(struct fdb *f)
{
	free(f->entries);
	f->entries = NULL;
}

void fdb_flush(struct fdb *f)
{
	fdb_reset(f);
}

/* Unlink entry `i`, whose predecessor in the chain is `*link`. */
static void fdb_unlink(struct fdb *f, uint32_t *link, uint32_t i)
{
	*link = f->entries[i].next;
	f->entries[i].next = f->free_head;
	f->free_head = i;
	f->count--;
}

void fdb_learn(struct fdb *f, uint64_t key, uint32_t port, uint64_t now)
{
	uint32_t b = fdb_hash(key), i;
	struct fdb_entry *e;

	for (i = f->bucket[b]; i != FDB_NONE; i = f->entries[i].next) {
		e = &f->entries[i];
		if (e->key != key)
			continue;
		if (e->port != port) {
			e->port = port;
			f->moves++;
		}
		e->seen_ns = now;
		return;
	}
	if (f->free_head == FDB_NONE) {
		f->full_drops++;
		return;
	}
	i = f->free_head;
	e = &f->entries[i];
	f->free_head = e->next;
	e->key = key;
	e->port = port;
	e->seen_ns = now;
	e->next = f->bucket[b];
	f->bucket[b] = i;
	f->count++;
}

static bool fdb_stale(const struct fdb *f, const struct fdb_entry *e, uint64_t now)
{
	return now > e->seen_ns && now - e->seen_ns > f->aging_ns;
}

uint32_t fdb_lookup(struct fdb *f, uint64_t key, uint64_t now)
{
	uint32_t *link = &f->bucket[fdb_hash(key)];

	for (uint32_t i = *link; i != FDB_NONE; link = &f->entries[i].next, i = *link) {
		struct fdb_entry *e = &f->entries[i];

		if (e->key != key)
			continue;
		if (fdb_stale(f, e, now)) {
			fdb_unlink(f, link, i);
			return FDB_NONE;
		}
		return e->port;
	}
	return FDB_NONE;
}

/* Remove every entry for which drop() is true; returns how many. */
static unsigned fdb_sweep(struct fdb *f, bool (*drop)(const struct fdb *f,
		const struct fdb_entry *e, uint64_t arg), uint64_t arg)
{
	unsigned n = 0;

	for (uint32_t b = 0; b < FDB_BUCKETS; b++) {
		uint32_t *link = &f->bucket[b];
		uint32_t i = *link;

		while (i != FDB_NONE) {
			if (drop(f, &f->entries[i], arg)) {
				fdb_unlink(f, link, i);
				n++;
			} else {
				link = &f->entries[i].next;
			}
			i = *link;
		}
	}
	return n;
}

static bool drop_stale(const struct fdb *f, const struct fdb_entry *e, uint64_t now)
{
	return fdb_stale(f, e, now);
}

static bool drop_port(const struct fdb *f, const struct fdb_entry *e, uint64_t port)
{
	return e->port == port;
}

unsigned fdb_age(struct fdb *f, uint64_t now)
{
	return fdb_sweep(f, drop_stale, now);
}

void fdb_flush_port(struct fdb *f, uint32_t port)
{
	fdb_sweep(f, drop_port, port);
}

int fdb_foreach(const struct fdb *f,
		int (*fn)(const struct fdb_entry *e, void *opaque), void *opaque)
{
	for (uint32_t b = 0; b < FDB_BUCKETS; b++)
		for (uint32_t i = f->bucket[b]; i != FDB_NONE; i = f->entries[i].next) {
			int r = fn(&f->entries[i], opaque);

			if (r)
				return r;
		}
	return 0;
}
