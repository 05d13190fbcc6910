/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_NET_FDB_H
#define VIREO_NET_FDB_H

/*
 * Forwarding database of the virtual switch: (MAC, VLAN) -> port, learnt
 * from source addresses and aged out.  A chained hash over a fixed pool of
 * entries, so a guest that sprays random source MACs fills the pool (and
 * is counted) instead of growing the switch without bound.
 * Not thread-safe: the switch's event loop owns it.
 */
#include <stdbool.h>
#include <stdint.h>

#include "vireo/util.h"

#define FDB_BUCKETS 4096u       /* power of two */
#define FDB_ENTRIES_MAX 16384u
#define FDB_NONE UINT32_MAX

struct fdb_entry {
	uint64_t key;           /* mac << 16 | vid */
	uint64_t seen_ns;       /* last time the address was a source */
	uint32_t port;
	uint32_t next;          /* index into entries[], FDB_NONE ends a chain */
};

struct fdb {
	uint32_t bucket[FDB_BUCKETS];
	struct fdb_entry *entries;
	uint32_t free_head;
	uint32_t count;
	uint64_t aging_ns;      /* entries older than this are forgotten */
	uint64_t full_drops;    /* learning refused because the pool was full */
	uint64_t moves;         /* an address seen on a new port */
};

/* Allocate the entry pool. Returns 0 or -ENOMEM; fdb_destroy() frees it. */
int fdb_init(struct fdb *f, uint64_t aging_ns) WUR;
void fdb_destroy(struct fdb *f);

/* Build a key from a 6-byte MAC and a VLAN id. */
uint64_t fdb_key(const uint8_t *mac, uint16_t vid);

/*
 * Record that `key` was seen as a source on `port` at `now`.  Moves the
 * entry when the address shows up on another port.  Silently refuses
 * (counting full_drops) when the pool is exhausted.
 */
void fdb_learn(struct fdb *f, uint64_t key, uint32_t port, uint64_t now);

/* Port for `key`, or FDB_NONE when unknown or aged out (then removed). */
uint32_t fdb_lookup(struct fdb *f, uint64_t key, uint64_t now);

/* Forget every entry older than aging_ns. Returns how many went. */
unsigned fdb_age(struct fdb *f, uint64_t now);

/* Forget every entry pointing at `port` (port detached). */
void fdb_flush_port(struct fdb *f, uint32_t port);

/* Forget everything. */
void fdb_flush(struct fdb *f);

/* Call fn for each live entry; stop early when fn returns non-zero. */
int fdb_foreach(const struct fdb *f,
		int (*fn)(const struct fdb_entry *e, void *opaque), void *opaque);

#endif
