/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_BLOCK_QCOW2_H
#define VIREO_BLOCK_QCOW2_H

/* On-disk layout of qcow2 (QEMU docs/interop/qcow2.txt), all big-endian. */

#define QCOW2_MAGIC 0x514649fbu		/* "QFI\xfb" */
#define QCOW2_HDR_V2_LEN 72
#define QCOW2_HDR_V3_LEN 104
#define QCOW2_HDR_LEN 112		/* v3 with compression_type, padded to 8 */

/* Header field offsets ("Header" section of the spec). */
#define QH_VERSION 4
#define QH_BACKING_OFFSET 8
#define QH_BACKING_SIZE 16
#define QH_CLUSTER_BITS 20
#define QH_SIZE 24
#define QH_CRYPT 32
#define QH_L1_SIZE 36
#define QH_L1_OFFSET 40
#define QH_RT_OFFSET 48
#define QH_RT_CLUSTERS 56
#define QH_NB_SNAPSHOTS 60
#define QH_SNAPSHOTS_OFFSET 64
#define QH_INCOMPAT 72
#define QH_COMPAT 80
#define QH_AUTOCLEAR 88
#define QH_REFCOUNT_ORDER 96
#define QH_HEADER_LENGTH 100
#define QH_COMPRESSION_TYPE 104

#define QCOW2_INCOMPAT_DIRTY (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ULL << 4)
#define QCOW2_INCOMPAT_KNOWN 0x1fULL

/* Header extension types ("Header extensions"). */
#define QEXT_END 0x00000000u
#define QEXT_BACKING_FORMAT 0xe2792acau
#define QEXT_FEATURE_TABLE 0x6803f857u
#define QEXT_DATA_FILE 0x44415441u

/* L1/L2 entries ("Cluster mapping"). */
#define QCOW2_OFLAG_COPIED (1ULL << 63)
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO 1ULL
#define QCOW2_L1E_OFFSET_MASK 0x00fffffffffffe00ULL
#define QCOW2_L2E_OFFSET_MASK 0x00fffffffffffe00ULL
#define QCOW2_L1E_RESERVED 0x7f000000000001ffULL
#define QCOW2_RTE_OFFSET_MASK 0xfffffffffffffe00ULL

/* Limits, as QEMU enforces them, so that no header makes us allocate more. */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MAX_L1_BYTES (32u * 1024 * 1024)
#define QCOW2_MAX_RT_BYTES (8u * 1024 * 1024)
#define QCOW2_MAX_SNAPSHOTS 65536
#define QCOW2_MAX_BACKING_NAME 1023
/* check: largest image (in clusters) we will build a reference map for. */
#define QCOW2_CHECK_MAX_CLUSTERS (32u * 1024 * 1024)

#include "block/blk_int.h"

struct qcache_slot {
	uint64_t off;		/* host offset of the cached cluster; 0 = empty */
	uint64_t used;		/* LRU stamp */
	uint8_t *data;
};

struct qcache {
	struct qcache_slot *slots;
	unsigned n;
	uint64_t tick;
};

struct qcow2 {
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cs;		/* cluster size */
	uint64_t l2_entries;
	uint32_t l1_size;
	uint64_t l1_offset;
	uint64_t *l1;		/* host byte order */
	uint64_t rt_offset;
	uint32_t rt_clusters;
	uint64_t rt_entries;
	uint64_t *rt;		/* host byte order */
	uint32_t refcount_order, refcount_bits;
	uint64_t rb_entries;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompat, compat, autoclear;
	uint32_t header_length;
	struct qcache l2_cache, rb_cache;
	uint64_t free_hint;	/* no free cluster below this index */
	uint64_t file_end;	/* file size, plus clusters allocated since open */
	uint8_t *cbuf;		/* one cluster: L2 copies, compressed reads */
	uint8_t *wbuf;		/* one cluster: copy-on-write of data */
	uint8_t *zbuf;		/* compressed input, two clusters */
};

#define Q(b) ((struct qcow2 *)(b)->priv)

/* Shared by qcow2.c, qcow2_check.c and qcow2_snapshot.c. */
int qcow2_rc_get(struct blk *b, uint64_t cluster, uint64_t *rc);
int qcow2_rc_store(struct blk *b, uint64_t cluster, uint64_t v);
int qcow2_rc_update(struct blk *b, uint64_t off, uint64_t len, int delta);
int qcow2_alloc_clusters(struct blk *b, uint64_t n, uint64_t *out);
void qcow2_compressed_extent(const struct qcow2 *q, uint64_t e, uint64_t *off, uint64_t *len);
int qcow2_l2_load(struct blk *b, uint64_t l2_off, uint8_t **l2);
int qcow2_l2_store(struct blk *b, uint64_t l2_off, uint8_t *l2, uint64_t idx, uint64_t v);
int qcow2_l1_store(struct blk *b, uint32_t idx, uint64_t v);
int qcow2_header_write(struct blk *b, uint64_t field, const void *buf, size_t len);
int qcow2_snapshot_table_read(struct blk *b, uint8_t **tab, uint64_t *len);
int qcow2_snapshot_parse(struct blk *b, const uint8_t *p, uint64_t avail,
			 struct blk_snapshot *s, uint64_t *l1_off, uint32_t *l1_size,
			 uint64_t *len);
int qcow2_file_clusters(struct blk *b, uint64_t *n);
/* Log "not a usable qcow2 image: what" and return err. */
int qcow2_bad(struct blk *b, int err, const char *what);
int qcow2_l2_offset_check(struct blk *b, uint64_t off, const char *what);
int qcow2_check(struct blk *b, struct blk_check *res, bool repair);
int qcow2_snapshot_create(struct blk *b, const char *name);

#endif
