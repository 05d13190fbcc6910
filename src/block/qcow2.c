// SPDX-License-Identifier: GPL-2.0-only
/*
 * qcow2 images (QEMU docs/interop/qcow2.txt), versions 2 and 3.
 *
 * Metadata is write-through: every L1/L2/refcount change is a pwrite()
 * issued before the call returns, in the order refcount -> data -> L2 -> L1
 * ("allocate before reference").  A process killed at any point leaves at
 * worst leaked clusters (refcount without reference), which check -r
 * repairs; never a reference to a cluster whose refcount is zero.  A flush
 * is one fdatasync().  Growing the refcount table and the L1 table is done
 * copy-on-write with an fdatasync() before the header switches over.
 *
 * Tables are cached (L2 tables and refcount blocks, LRU) within a bounded
 * budget; the L1 table and refcount table are held whole, and their sizes
 * are capped (QCOW2_MAX_*) before anything is allocated.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "block/blk_int.h"
#include "block/qcow2.h"
#include "vireo/log.h"


/* ---- table cache ------------------------------------------------------ */

/* Slots get their buffer on first use: a deep chain of idle images costs
 * little, and no header can make us reserve more than n clusters each. */
static int qcache_init(struct qcache *c, unsigned n)
{
	c->n = n;
	c->tick = 0;
	c->slots = calloc(n, sizeof(*c->slots));
	return c->slots ? 0 : -ENOMEM;
}

static void qcache_free(struct qcache *c)
{
	for (unsigned i = 0; c->slots && i < c->n; i++)
		free(c->slots[i].data);
	free(c->slots);
	c->slots = NULL;
}

static void qcache_drop(struct qcache *c, uint64_t off)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->slots[i].off == off)
			c->slots[i].off = 0;
}

static struct qcache_slot *qcache_victim(struct qcache *c, uint64_t off)
{
	struct qcache_slot *v = &c->slots[0];

	for (unsigned i = 0; i < c->n; i++) {
		if (c->slots[i].off == off)
			return &c->slots[i];
		if (c->slots[i].used < v->used)
			v = &c->slots[i];
	}
	return v;
}

/* Get the cluster at host offset `off`, reading it on a miss. */
static int qcache_get(struct qcache *c, int fd, uint64_t cs, uint64_t off, uint8_t **data)
{
	struct qcache_slot *s = qcache_victim(c, off);
	int err;

	if (!s->data && !(s->data = malloc(cs)))
		return -ENOMEM;
	if (s->off != off) {
		s->off = 0;
		err = blk_pread_full(fd, s->data, cs, off);
		if (err)
			return err;
		s->off = off;
	}
	s->used = ++c->tick;
	*data = s->data;
	return 0;
}

/* Install freshly written contents for `off`. */
static void qcache_put(struct qcache *c, uint64_t cs, uint64_t off, const void *data)
{
	struct qcache_slot *s = qcache_victim(c, off);

	if (!s->data && !(s->data = malloc(cs))) {
		s->off = 0;
		return;		/* not cached: the next get reads it back */
	}
	memcpy(s->data, data, cs);
	s->off = off;
	s->used = ++c->tick;
}

/* ---- refcounts ("Host cluster management") ----------------------------- */

static uint64_t rb_entry_get(const struct qcow2 *q, const uint8_t *rb, uint64_t i)
{
	uint32_t bits = q->refcount_bits;

	switch (bits) {
	case 8: return rb[i];
	case 16: return ld_be16(rb + 2 * i);
	case 32: return ld_be32(rb + 4 * i);
	case 64: return ld_be64(rb + 8 * i);
	default:
		/* 1, 2, 4 bits: packed from the least significant bit of each byte */
		return (rb[i * bits / 8] >> ((i * bits) % 8)) & ((1u << bits) - 1);
	}
}

/* Store entry i of a refcount block; returns the byte range to write back. */
static void rb_entry_set(const struct qcow2 *q, uint8_t *rb, uint64_t i, uint64_t v,
			 uint64_t *boff, uint64_t *blen)
{
	uint32_t bits = q->refcount_bits;
	uint32_t shift, mask;

	switch (bits) {
	case 8: rb[i] = v; *boff = i; *blen = 1; return;
	case 16: st_be16(rb + 2 * i, v); *boff = 2 * i; *blen = 2; return;
	case 32: st_be32(rb + 4 * i, v); *boff = 4 * i; *blen = 4; return;
	case 64: st_be64(rb + 8 * i, v); *boff = 8 * i; *blen = 8; return;
	default:
		shift = (i * bits) % 8;
		mask = ((1u << bits) - 1) << shift;
		rb[i * bits / 8] = (rb[i * bits / 8] & ~mask) | ((v << shift) & mask);
		*boff = i * bits / 8;
		*blen = 1;
	}
}

static uint64_t rc_max(const struct qcow2 *q)
{
	return q->refcount_bits == 64 ? UINT64_MAX : (1ULL << q->refcount_bits) - 1;
}

static int rb_offset_valid(struct blk *b, uint64_t rte)
{
	struct qcow2 *q = Q(b);

	if (rte & (q->cs - 1)) {
		log_warnx("%s: refcount block at 0x%llx is not cluster-aligned (corrupt image)",
			  b->path, (unsigned long long)rte);
		return -EIO;
	}
	return 0;
}

int qcow2_rc_get(struct blk *b, uint64_t cluster, uint64_t *rc)
{
	struct qcow2 *q = Q(b);
	uint64_t bi = cluster / q->rb_entries;
	uint8_t *rb;
	int err;

	*rc = 0;
	if (bi >= q->rt_entries || !(q->rt[bi] & QCOW2_RTE_OFFSET_MASK))
		return 0;
	err = rb_offset_valid(b, q->rt[bi] & QCOW2_RTE_OFFSET_MASK);
	if (err)
		return err;
	err = qcache_get(&q->rb_cache, b->fd, q->cs, q->rt[bi] & QCOW2_RTE_OFFSET_MASK, &rb);
	if (err) {
		log_errno(-err, "%s: cannot read refcount block %llu", b->path,
			  (unsigned long long)bi);
		return err;
	}
	*rc = rb_entry_get(q, rb, cluster % q->rb_entries);
	return 0;
}

/* Set a refcount whose block exists. */
int qcow2_rc_store(struct blk *b, uint64_t cluster, uint64_t v)
{
	struct qcow2 *q = Q(b);
	uint64_t bi = cluster / q->rb_entries, boff, blen, rbo;
	uint8_t *rb;
	int err;

	if (bi >= q->rt_entries || !(q->rt[bi] & QCOW2_RTE_OFFSET_MASK))
		return -EIO;
	rbo = q->rt[bi] & QCOW2_RTE_OFFSET_MASK;
	err = rb_offset_valid(b, rbo);
	if (!err)
		err = qcache_get(&q->rb_cache, b->fd, q->cs, rbo, &rb);
	if (err)
		return err;
	rb_entry_set(q, rb, cluster % q->rb_entries, v, &boff, &blen);
	err = blk_pwrite_full(b->fd, rb + boff, blen, rbo + boff);
	if (err)
		qcache_drop(&q->rb_cache, rbo);
	if (!v && cluster < q->free_hint)
		q->free_hint = cluster;
	return err;
}

static void drop_cached(struct qcow2 *q, uint64_t off)
{
	qcache_drop(&q->l2_cache, off);
	qcache_drop(&q->rb_cache, off);
}

/* Add `delta` (+1/-1) to the refcount of every cluster in [off, off+len). */
int qcow2_rc_update(struct blk *b, uint64_t off, uint64_t len, int delta)
{
	struct qcow2 *q = Q(b);
	uint64_t first = off >> q->cluster_bits;
	uint64_t last = (off + len - 1) >> q->cluster_bits;
	int err;

	for (uint64_t c = first; c <= last; c++) {
		uint64_t rc;
		err = qcow2_rc_get(b, c, &rc);
		if (err)
			return err;
		if (delta > 0 && rc == rc_max(q)) {
			log_warnx("%s: cluster 0x%llx already has the largest refcount %u-bit "
				  "entries hold", b->path, (unsigned long long)(c << q->cluster_bits),
				  q->refcount_bits);
			return -ERANGE;
		}
		if (delta < 0 && rc == 0) {
			log_warnx("%s: refcount of cluster 0x%llx would go below zero (corrupt image; "
				  "run 'vireo disk check')", b->path,
				  (unsigned long long)(c << q->cluster_bits));
			return -EIO;
		}
		rc += delta;
		err = qcow2_rc_store(b, c, rc);
		if (err)
			return err;
		if (!rc)
			drop_cached(q, c << q->cluster_bits);
	}
	return 0;
}

int qcow2_header_write(struct blk *b, uint64_t field, const void *buf, size_t len)
{
	return blk_pwrite_full(b->fd, buf, len, field);
}

/* Clusters [0, n) of the file that exist, rounded up. */
int qcow2_file_clusters(struct blk *b, uint64_t *n)
{
	uint64_t fsize;
	int err = blk_file_size(b->fd, &fsize);

	if (!err)
		*n = (fsize + Q(b)->cs - 1) >> Q(b)->cluster_bits;
	return err;
}

/*
 * Plan a larger refcount table at cluster P (past everything in use): it
 * must cover block index bi, its own clusters and the nb new refcount
 * blocks those need.  Iterate to the fixed point (a few rounds at most).
 */
static int rt_grow_plan(struct qcow2 *q, uint64_t bi, uint64_t P, uint64_t *tc, uint64_t *nb)
{
	*tc = *nb = 0;
	for (int iter = 0; iter < 16; iter++) {
		uint64_t end = P + *nb + *tc, nnb = 0, need, ntc;

		need = MAX(bi + 1, (end + q->rb_entries - 1) / q->rb_entries);
		ntc = (need * 8 + q->cs - 1) / q->cs;
		for (uint64_t i = P / q->rb_entries; i * q->rb_entries < end; i++)
			if (i >= q->rt_entries || !q->rt[i])
				nnb++;
		if (ntc == *tc && nnb == *nb)
			break;
		*tc = ntc;
		*nb = nnb;
	}
	return *tc * q->cs > QCOW2_MAX_RT_BYTES ? -EFBIG : 0;
}

/*
 * Fill the new table (host order) and the new blocks (placed at [P, P+nb))
 * so that every cluster in [P, end) has refcount 1, in a new block or,
 * written through now, in an existing one.
 */
static int rt_grow_build(struct blk *b, uint64_t P, uint64_t end, uint64_t *nrt, uint8_t *blocks)
{
	struct qcow2 *q = Q(b);
	uint64_t k = 0, boff, blen;
	int err;

	memcpy(nrt, q->rt, q->rt_entries * sizeof(*nrt));
	for (uint64_t i = P / q->rb_entries; i * q->rb_entries < end; i++)
		if (i >= q->rt_entries || !q->rt[i])
			nrt[i] = (P + k++) << q->cluster_bits;
	for (uint64_t c = P; c < end; c++) {
		uint64_t i = c / q->rb_entries;
		if (i < q->rt_entries && q->rt[i]) {
			err = qcow2_rc_store(b, c, 1);
			if (err)
				return err;
		} else {
			k = (nrt[i] >> q->cluster_bits) - P;
			rb_entry_set(q, blocks + k * q->cs, c % q->rb_entries, 1, &boff, &blen);
		}
	}
	return 0;
}

/* Write the table at `at`, sync, switch the header, free the old table. */
static int rt_grow_switch(struct blk *b, uint64_t **nrt, uint64_t entries, uint64_t tc,
			  uint64_t at)
{
	struct qcow2 *q = Q(b);
	uint64_t old_off = q->rt_offset, old_len = (uint64_t)q->rt_clusters * q->cs;
	uint64_t *t = *nrt;
	uint8_t hdr[12];
	int err;

	for (uint64_t i = 0; i < entries; i++)
		st_be64(&t[i], t[i]);	/* to disk order, in place */
	err = blk_pwrite_full(b->fd, t, tc * q->cs, at << q->cluster_bits);
	for (uint64_t i = 0; i < entries; i++)
		t[i] = ld_be64(&t[i]);
	if (!err && fdatasync(b->fd) < 0)
		err = -errno;
	if (err)
		return err;
	st_be64(hdr, at << q->cluster_bits);
	st_be32(hdr + 8, tc);
	err = qcow2_header_write(b, QH_RT_OFFSET, hdr, 12);
	if (err)
		return err;
	free(q->rt);
	q->rt = t;
	*nrt = NULL;
	q->rt_entries = entries;
	q->rt_offset = at << q->cluster_bits;
	q->rt_clusters = tc;
	return qcow2_rc_update(b, old_off, old_len, -1);
}

/*
 * The refcount table is too small for block index `bi`: write a larger one
 * (and refcount blocks for its own clusters) past the end of the file, then
 * switch the header to it (copy-on-write, "Host cluster management").
 */
static int rt_grow(struct blk *b, uint64_t bi, uint64_t want_cluster)
{
	struct qcow2 *q = Q(b);
	uint64_t P, tc, nb, *nrt = NULL;
	uint8_t *blocks = NULL;
	int err;

	err = qcow2_file_clusters(b, &P);
	if (err)
		return err;
	P = MAX(P, want_cluster + 1);
	if (rt_grow_plan(q, bi, P, &tc, &nb)) {
		log_warnx("%s: refcount table would exceed %u MiB", b->path,
			  QCOW2_MAX_RT_BYTES >> 20);
		return -EFBIG;
	}
	nrt = calloc(tc * q->cs / 8, sizeof(*nrt));
	blocks = calloc(nb ? nb : 1, q->cs);
	if (!nrt || !blocks) {
		err = -ENOMEM;
		goto out;
	}
	err = rt_grow_build(b, P, P + nb + tc, nrt, blocks);
	if (!err)
		err = blk_pwrite_full(b->fd, blocks, nb * q->cs, P << q->cluster_bits);
	for (uint64_t c = P; c < P + nb + tc; c++)
		drop_cached(q, c << q->cluster_bits);
	q->file_end = MAX(q->file_end, (P + nb + tc) << q->cluster_bits);
	if (!err)
		err = rt_grow_switch(b, &nrt, tc * q->cs / 8, tc, P + nb);
out:
	free(nrt);
	free(blocks);
	return err;
}

/* Refcount-block ranges touched by clusters [from, to) that lack a block. */
static uint64_t missing_blocks(const struct qcow2 *q, uint64_t from, uint64_t to,
			       uint64_t *max_bi, uint64_t *bis)
{
	uint64_t k = 0;

	for (uint64_t bi = from / q->rb_entries; bi * q->rb_entries < to; bi++) {
		*max_bi = bi;
		if (bi >= q->rt_entries || !q->rt[bi]) {
			if (bis)
				bis[k] = bi;
			k++;
		}
	}
	return k;
}

/* Write k new refcount blocks for ranges bis[] at clusters [at, at+k). */
static int rc_write_blocks(struct blk *b, const uint64_t *bis, uint64_t k, uint64_t at)
{
	struct qcow2 *q = Q(b);
	uint8_t *blocks = calloc(k, q->cs);
	uint64_t boff, blen, rte;
	int err = 0;

	if (!blocks)
		return -ENOMEM;
	/* Each block's own refcount lives in whichever block covers it. */
	for (uint64_t j = 0; j < k && !err; j++) {
		uint64_t loc = at + j, r = loc / q->rb_entries, m;
		for (m = 0; m < k && bis[m] != r; m++)
			;
		if (m < k)
			rb_entry_set(q, blocks + m * q->cs, loc % q->rb_entries, 1, &boff, &blen);
		else
			err = qcow2_rc_store(b, loc, 1);
	}
	if (!err)
		err = blk_pwrite_full(b->fd, blocks, k * q->cs, at << q->cluster_bits);
	for (uint64_t j = 0; j < k; j++)
		drop_cached(q, (at + j) << q->cluster_bits);
	q->file_end = MAX(q->file_end, (at + k) << q->cluster_bits);
	for (uint64_t j = 0; j < k && !err; j++) {
		st_be64(&rte, (at + j) << q->cluster_bits);
		err = blk_pwrite_full(b->fd, &rte, 8, q->rt_offset + bis[j] * 8);
		if (!err)
			q->rt[bis[j]] = (at + j) << q->cluster_bits;
	}
	free(blocks);
	return err;
}

/*
 * Create the refcount blocks that the run [start, start+n) lacks.  They go
 * right after the run (never inside it, so runs longer than one block's
 * range stay contiguous) and count themselves.  Returns 0 when every block
 * exists, 1 when the caller must search again from *from, or -errno.
 */
static int rc_add_blocks(struct blk *b, uint64_t start, uint64_t n, uint64_t *from)
{
	struct qcow2 *q = Q(b);
	uint64_t k = 0, kk, max_bi = 0, rc, *bis;
	int err;

	for (int i = 0; i < 64; i++) {
		kk = missing_blocks(q, start, start + n + k, &max_bi, NULL);
		if (kk == k)
			break;
		k = kk;
	}
	if (!k)
		return 0;
	if (max_bi >= q->rt_entries) {
		err = rt_grow(b, max_bi, start + n + k);
		return err ? err : 1;
	}
	for (uint64_t c = start + n; c < start + n + k; c++) {
		err = qcow2_rc_get(b, c, &rc);
		if (err)
			return err;
		if (rc) {
			*from = c + 1;
			return 1;
		}
	}
	bis = calloc(k, sizeof(*bis));
	if (!bis)
		return -ENOMEM;
	missing_blocks(q, start, start + n + k, &max_bi, bis);
	err = rc_write_blocks(b, bis, k, start + n);
	free(bis);
	return err ? err : 1;
}

/* First run of n clusters with refcount 0 at or after `from`. */
static int find_free_run(struct blk *b, uint64_t from, uint64_t n, uint64_t *out)
{
	struct qcow2 *q = Q(b);
	uint64_t start = from, rc;

	for (uint64_t c = start; c < start + n; c++) {
		int err = qcow2_rc_get(b, c, &rc);
		if (err)
			return err;
		if (rc)
			start = c + 1;
		if (((c + n) << q->cluster_bits) > QCOW2_L2E_OFFSET_MASK)
			return -EFBIG;
	}
	*out = start;
	return 0;
}

/* Allocate n contiguous clusters (refcount 1 each); returns the host offset. */
int qcow2_alloc_clusters(struct blk *b, uint64_t n, uint64_t *out)
{
	struct qcow2 *q = Q(b);
	uint64_t from = q->free_hint, start;
	int err;

	for (int tries = 0;; tries++) {
		if (tries > 1000)
			return -EIO;
		err = find_free_run(b, from, n, &start);
		if (err)
			return err;
		if (start > q->free_hint && from == q->free_hint && n == 1)
			q->free_hint = start;
		err = rc_add_blocks(b, start, n, &from);
		if (err < 0)
			return err;
		if (!err)
			break;
	}
	for (uint64_t c = start; c < start + n; c++) {
		err = qcow2_rc_store(b, c, 1);
		if (err)
			return err;
	}
	if (start == q->free_hint)
		q->free_hint = start + n;
	q->file_end = MAX(q->file_end, (start + n) << q->cluster_bits);
	*out = start << q->cluster_bits;
	return 0;
}

/* ---- L1 / L2 ("Cluster mapping") ------------------------------------- */

int qcow2_l1_store(struct blk *b, uint32_t idx, uint64_t v)
{
	struct qcow2 *q = Q(b);
	uint64_t be = htobe64(v);
	int err = blk_pwrite_full(b->fd, &be, 8, q->l1_offset + (uint64_t)idx * 8);

	if (!err)
		q->l1[idx] = v;
	return err;
}

int qcow2_l2_offset_check(struct blk *b, uint64_t off, const char *what)
{
	if (off & (Q(b)->cs - 1)) {
		log_warnx("%s: %s at 0x%llx is not cluster-aligned (corrupt image; run 'vireo disk check')",
			  b->path, what, (unsigned long long)off);
		return -EIO;
	}
	return 0;
}

int qcow2_l2_load(struct blk *b, uint64_t l2_off, uint8_t **l2)
{
	struct qcow2 *q = Q(b);
	int err = qcow2_l2_offset_check(b, l2_off, "L2 table");

	if (err)
		return err;
	err = qcache_get(&q->l2_cache, b->fd, q->cs, l2_off, l2);
	if (err)
		log_errno(-err, "%s: cannot read L2 table at 0x%llx", b->path,
			  (unsigned long long)l2_off);
	return err;
}

/*
 * Find the L2 table for guest cluster `gc`.  With `alloc`, allocate it or
 * copy it when it is shared with a snapshot (no COPIED flag); otherwise
 * *l2_off = 0 means "no table".
 */
static int l2_get(struct blk *b, uint64_t gc, bool alloc, uint64_t *l2_off, uint8_t **l2)
{
	struct qcow2 *q = Q(b);
	uint64_t l1i = gc / q->l2_entries, l1e, off, noff;
	uint8_t *old;
	int err;

	if (l1i >= q->l1_size) {
		log_warnx("%s: L1 table too small for the virtual size (corrupt image)", b->path);
		return -EIO;
	}
	l1e = q->l1[l1i];
	off = l1e & QCOW2_L1E_OFFSET_MASK;
	*l2_off = 0;
	if (off && (!alloc || (l1e & QCOW2_OFLAG_COPIED))) {
		*l2_off = off;
		return qcow2_l2_load(b, off, l2);
	}
	if (!alloc)
		return 0;
	if (off) {
		err = qcow2_l2_load(b, off, &old);
		if (err)
			return err;
		memcpy(q->cbuf, old, q->cs);
	} else {
		memset(q->cbuf, 0, q->cs);
	}
	err = qcow2_alloc_clusters(b, 1, &noff);
	if (err)
		return err;
	err = blk_pwrite_full(b->fd, q->cbuf, q->cs, noff);
	if (err)
		return err;
	qcache_put(&q->l2_cache, q->cs, noff, q->cbuf);
	err = qcow2_l1_store(b, l1i, noff | QCOW2_OFLAG_COPIED);
	if (err)
		return err;
	if (off) {
		err = qcow2_rc_update(b, off, q->cs, -1);
		if (err)
			return err;
	}
	*l2_off = noff;
	return qcow2_l2_load(b, noff, l2);
}

int qcow2_l2_store(struct blk *b, uint64_t l2_off, uint8_t *l2, uint64_t idx, uint64_t v)
{
	st_be64(l2 + idx * 8, v);
	return blk_pwrite_full(b->fd, l2 + idx * 8, 8, l2_off + idx * 8);
}

/* Compressed cluster descriptor: host offset and byte length. */
void qcow2_compressed_extent(const struct qcow2 *q, uint64_t e, uint64_t *off, uint64_t *len)
{
	uint32_t x = 62 - (q->cluster_bits - 8);
	uint64_t nsect = ((e >> x) & ((1ULL << (q->cluster_bits - 8)) - 1)) + 1;

	*off = e & ((1ULL << x) - 1);
	*len = nsect * 512 - (*off & 511);
}

/* Drop the references an L2 entry holds. */
static int entry_release(struct blk *b, uint64_t e)
{
	struct qcow2 *q = Q(b);
	uint64_t off, len;

	if (e & QCOW2_OFLAG_COMPRESSED) {
		qcow2_compressed_extent(q, e, &off, &len);
		return qcow2_rc_update(b, off, len, -1);
	}
	off = e & QCOW2_L2E_OFFSET_MASK;
	return off ? qcow2_rc_update(b, off, q->cs, -1) : 0;
}

static int read_compressed(struct blk *b, uint64_t e, uint8_t *out)
{
	struct qcow2 *q = Q(b);
	uint64_t off, len;
	z_stream zs;
	int err, zr;

	qcow2_compressed_extent(q, e, &off, &len);
	if (off >= q->file_end) {
		log_warnx("%s: compressed cluster at 0x%llx is past the end of the file",
			  b->path, (unsigned long long)off);
		return -EIO;
	}
	if (len > 2 * q->cs)
		len = 2 * q->cs;
	err = blk_pread_zfill(b->fd, q->zbuf, len, off);
	if (err)
		return err;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, -12) != Z_OK)
		return -ENOMEM;
	zs.next_in = q->zbuf;
	zs.avail_in = len;
	zs.next_out = out;
	zs.avail_out = q->cs;
	zr = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR) || zs.avail_out) {
		log_warnx("%s: compressed cluster at 0x%llx does not inflate to a full cluster",
			  b->path, (unsigned long long)off);
		return -EIO;
	}
	return 0;
}

/* Read [in, in+n) of guest cluster gc whose L2 entry is e (0: none). */
static int read_piece(struct blk *b, uint64_t gc, uint64_t e, uint64_t in, uint64_t n, uint8_t *buf)
{
	struct qcow2 *q = Q(b);
	uint64_t voff = (gc << q->cluster_bits) + in, host;
	int err;

	if (e & QCOW2_OFLAG_COMPRESSED) {
		err = read_compressed(b, e, q->cbuf);
		if (!err)
			memcpy(buf, q->cbuf + in, n);
		return err;
	}
	if ((e & QCOW2_OFLAG_ZERO) && q->version >= 3) {
		memset(buf, 0, n);
		return 0;
	}
	host = e & QCOW2_L2E_OFFSET_MASK;
	if (!host)
		return blk_read_backing(b, buf, voff, n);
	err = qcow2_l2_offset_check(b, host, "data cluster");
	if (err)
		return err;
	if (host >= q->file_end) {
		log_warnx("%s: data cluster at 0x%llx is past the end of the file (corrupt image; "
			  "run 'vireo disk check')", b->path, (unsigned long long)host);
		return -EIO;
	}
	/* Data clusters at the end of the file may be shorter than a cluster. */
	return blk_pread_zfill(b->fd, buf, n, host + in);
}

static int entry_lookup(struct blk *b, uint64_t gc, uint64_t *e)
{
	struct qcow2 *q = Q(b);
	uint64_t l2_off;
	uint8_t *l2;
	int err = l2_get(b, gc, false, &l2_off, &l2);

	*e = 0;
	if (err || !l2_off)
		return err;
	*e = ld_be64(l2 + (gc % q->l2_entries) * 8);
	return 0;
}

static int qcow2_read(struct blk *b, void *buf, uint64_t off, size_t len)
{
	struct qcow2 *q = Q(b);
	uint8_t *p = buf;

	while (len) {
		uint64_t gc = off >> q->cluster_bits, in = off & (q->cs - 1);
		uint64_t n = MIN(len, q->cs - in), e;
		int err = entry_lookup(b, gc, &e);

		if (!err)
			err = read_piece(b, gc, e, in, n, p);
		if (err)
			return err;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Write [in, in+n) of guest cluster gc. */
/* Does guest cluster gc, whose L2 entry is e, read as all zeros? */
static bool source_is_zero(struct blk *b, uint64_t gc, uint64_t e)
{
	struct qcow2 *q = Q(b);

	if (e & QCOW2_OFLAG_COMPRESSED)
		return false;
	if ((e & QCOW2_OFLAG_ZERO) && q->version >= 3)
		return true;
	if (e & QCOW2_L2E_OFFSET_MASK)
		return false;
	if (b->backing)
		return (gc << q->cluster_bits) >= blk_size(b->backing);
	return true;	/* no backing (or not opened): reads as zeros */
}

/* Copy-on-write of guest cluster gc (entry e) into a new cluster. */
static int write_cow(struct blk *b, uint64_t gc, uint64_t e, uint64_t in, uint64_t n,
		     const uint8_t *src, uint64_t *noff)
{
	struct qcow2 *q = Q(b);
	uint64_t fresh = q->file_end;
	int err;

	err = qcow2_alloc_clusters(b, 1, noff);
	if (err)
		return err;
	/*
	 * Past everything ever written, the file is a hole: when the old
	 * contents are zeros, writing the new bytes alone is enough.
	 */
	if (*noff >= fresh && source_is_zero(b, gc, e))
		return blk_pwrite_full(b->fd, src, n, *noff + in);
	if (n < q->cs) {
		err = read_piece(b, gc, e, 0, q->cs, q->wbuf);
		if (err)
			return err;
	}
	memcpy(q->wbuf + in, src, n);
	return blk_pwrite_full(b->fd, q->wbuf, q->cs, *noff);
}

/* Write [in, in+n) of guest cluster gc. */
static int write_piece(struct blk *b, uint64_t gc, uint64_t in, uint64_t n, const uint8_t *src)
{
	struct qcow2 *q = Q(b);
	uint64_t l2_off, idx = gc % q->l2_entries, e, host, noff;
	uint8_t *l2;
	int err;

	err = l2_get(b, gc, true, &l2_off, &l2);
	if (err)
		return err;
	e = ld_be64(l2 + idx * 8);
	host = e & QCOW2_L2E_OFFSET_MASK;
	if (!(e & QCOW2_OFLAG_COMPRESSED) && (e & QCOW2_OFLAG_COPIED) && host &&
	    !((e & QCOW2_OFLAG_ZERO) && q->version >= 3)) {
		err = qcow2_l2_offset_check(b, host, "data cluster");
		return err ? err : blk_pwrite_full(b->fd, src, n, host + in);
	}
	err = write_cow(b, gc, e, in, n, src, &noff);
	if (err)
		return err;
	/* alloc may have evicted our table from the cache: reload it. */
	err = qcow2_l2_load(b, l2_off, &l2);
	if (err)
		return err;
	err = qcow2_l2_store(b, l2_off, l2, idx, noff | QCOW2_OFLAG_COPIED);
	if (err)
		return err;
	return entry_release(b, e);
}

static int qcow2_write(struct blk *b, const void *buf, uint64_t off, size_t len)
{
	struct qcow2 *q = Q(b);
	const uint8_t *p = buf;

	while (len) {
		uint64_t gc = off >> q->cluster_bits, in = off & (q->cs - 1);
		uint64_t n = MIN(len, q->cs - in);
		int err = write_piece(b, gc, in, n, p);

		if (err)
			return err;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int qcow2_flush(struct blk *b)
{
	return fdatasync(b->fd) < 0 ? -errno : 0;
}

/* Whole cluster gc reads as zeros from now on; its storage is released. */
static int zap_cluster(struct blk *b, uint64_t gc)
{
	struct qcow2 *q = Q(b);
	bool need_zero_flag = b->backing_name != NULL;
	uint64_t l2_off, idx = gc % q->l2_entries, e;
	uint8_t *l2;
	int err;

	err = l2_get(b, gc, false, &l2_off, &l2);
	if (err)
		return err;
	if (!l2_off && !need_zero_flag)
		return 0;
	if (need_zero_flag && q->version < 3) {
		/* v2 has no zero flag: write zeros. */
		memset(q->cbuf, 0, q->cs);
		return write_piece(b, gc, 0, q->cs, q->cbuf);
	}
	err = l2_get(b, gc, true, &l2_off, &l2);
	if (err)
		return err;
	e = ld_be64(l2 + idx * 8);
	if (e == (need_zero_flag ? QCOW2_OFLAG_ZERO : 0))
		return 0;
	err = qcow2_l2_store(b, l2_off, l2, idx, need_zero_flag ? QCOW2_OFLAG_ZERO : 0);
	if (err)
		return err;
	return entry_release(b, e);
}

static int qcow2_discard(struct blk *b, uint64_t off, uint64_t len)
{
	struct qcow2 *q = Q(b);
	uint64_t end = off + len;
	int err = 0;

	while (off < end && !err) {
		uint64_t gc = off >> q->cluster_bits, in = off & (q->cs - 1);
		uint64_t n = MIN(end - off, q->cs - in);
		/* The last cluster may extend past the virtual size. */
		bool whole = n == q->cs || (in == 0 && off + n >= b->size);

		if (whole) {
			err = zap_cluster(b, gc);
		} else {
			uint8_t *z = calloc(1, n);
			if (!z)
				return -ENOMEM;
			err = write_piece(b, gc, in, n, z);
			free(z);
		}
		off += n;
	}
	return err;
}

/* Status of one cluster's entry; *host is where its data starts. */
static int entry_status(struct blk *b, uint64_t e, uint64_t in, unsigned *st, uint64_t *host)
{
	struct qcow2 *q = Q(b);

	*host = 0;
	if (e & QCOW2_OFLAG_COMPRESSED) {
		*st = BLK_STATUS_ALLOCATED | BLK_STATUS_DATA | BLK_STATUS_COMPRESSED;
	} else if ((e & QCOW2_OFLAG_ZERO) && q->version >= 3) {
		*st = BLK_STATUS_ALLOCATED | BLK_STATUS_ZERO;
	} else if (e & QCOW2_L2E_OFFSET_MASK) {
		*st = BLK_STATUS_ALLOCATED | BLK_STATUS_DATA;
		if (!(e & QCOW2_OFLAG_COPIED))
			*st |= BLK_STATUS_SHARED;
		*host = (e & QCOW2_L2E_OFFSET_MASK) + in;
		if ((*host - in) & (q->cs - 1))
			return qcow2_l2_offset_check(b, *host - in, "data cluster");
	} else {
		*st = 0;
	}
	return 0;
}

static int qcow2_block_status(struct blk *b, uint64_t off, uint64_t len, struct blk_extent *ext)
{
	struct qcow2 *q = Q(b);
	uint64_t end = off + len, pos = off, first_host = 0, l2_span = q->cs * q->l2_entries;
	unsigned first_status = 0, steps = 0;
	int err;

	/* Bounded work per call: at most 8192 cluster entries. */
	while (pos < end && steps++ < 8192) {
		uint64_t gc = pos >> q->cluster_bits, in = pos & (q->cs - 1);
		uint64_t n = MIN(end - pos, q->cs - in), e, host;
		unsigned st;

		if (!(q->l1[gc / q->l2_entries] & QCOW2_L1E_OFFSET_MASK)) {
			/* No L2 table: the whole span is unallocated in one step. */
			n = MIN(end - pos, l2_span - pos % l2_span);
			e = 0;
		} else {
			err = entry_lookup(b, gc, &e);
			if (err)
				return err;
		}
		err = entry_status(b, e, in, &st, &host);
		if (err)
			return err;
		if (pos == off) {
			first_status = st;
			first_host = host;
		} else if (st != first_status || (st & BLK_STATUS_COMPRESSED) ||
			   ((st & BLK_STATUS_DATA) && host != first_host + (pos - off))) {
			break;
		}
		pos += n;
	}
	ext->len = pos - off;
	ext->status = first_status;
	ext->host_off = first_host;
	return 0;
}

/* ---- resize ------------------------------------------------------------ */

static int l1_grow(struct blk *b, uint32_t new_size)
{
	struct qcow2 *q = Q(b);
	uint64_t bytes = (uint64_t)new_size * 8, nclusters = (bytes + q->cs - 1) / q->cs;
	uint64_t noff, *nl1, old_off = q->l1_offset, old_bytes = (uint64_t)q->l1_size * 8;
	uint8_t hdr[12];
	int err;

	if (bytes > QCOW2_MAX_L1_BYTES)
		return -EFBIG;
	nl1 = calloc(nclusters, q->cs);
	if (!nl1)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->l1_size; i++)
		st_be64(&nl1[i], q->l1[i]);
	err = qcow2_alloc_clusters(b, nclusters, &noff);
	if (err)
		goto out;
	err = blk_pwrite_full(b->fd, nl1, nclusters * q->cs, noff);
	if (err)
		goto out;
	if (fdatasync(b->fd) < 0) {
		err = -errno;
		goto out;
	}
	st_be32(hdr, new_size);
	st_be64(hdr + 4, noff);
	err = qcow2_header_write(b, QH_L1_SIZE, hdr, 12);
	if (err)
		goto out;
	for (uint32_t i = 0; i < new_size; i++)
		nl1[i] = ld_be64(&nl1[i]);
	free(q->l1);
	q->l1 = nl1;
	nl1 = NULL;
	q->l1_size = new_size;
	q->l1_offset = noff;
	if (old_off && old_bytes)
		err = qcow2_rc_update(b, old_off, old_bytes, -1);
out:
	free(nl1);
	return err;
}

static int qcow2_resize(struct blk *b, uint64_t size)
{
	struct qcow2 *q = Q(b);
	uint64_t need = (size + q->cs * q->l2_entries - 1) / (q->cs * q->l2_entries);
	uint64_t be;
	int err;

	if (q->nb_snapshots && size < b->size) {
		log_warnx("%s: cannot shrink an image that has internal snapshots", b->path);
		return -ENOTSUP;
	}
	if (need > q->l1_size) {
		err = l1_grow(b, need);
		if (err)
			return err;
	}
	if (size < b->size) {
		/* Release whole clusters past the new end (already checked empty). */
		for (uint64_t gc = (size + q->cs - 1) >> q->cluster_bits;
		     gc < (b->size + q->cs - 1) >> q->cluster_bits; gc++) {
			uint64_t l2_off, e;
			uint8_t *l2;
			err = l2_get(b, gc, false, &l2_off, &l2);
			if (err)
				return err;
			if (!l2_off) {
				gc = (gc / q->l2_entries + 1) * q->l2_entries - 1;
				continue;
			}
			e = ld_be64(l2 + (gc % q->l2_entries) * 8);
			if (!e)
				continue;
			err = qcow2_l2_store(b, l2_off, l2, gc % q->l2_entries, 0);
			if (!err)
				err = entry_release(b, e);
			if (err)
				return err;
		}
	}
	be = htobe64(size);
	err = qcow2_header_write(b, QH_SIZE, &be, 8);
	if (!err)
		b->size = size;
	return err;
}

/* ---- open / close ------------------------------------------------------ */

static bool qcow2_probe(const uint8_t *head, size_t len, const uint8_t *tail, uint64_t fsize)
{
	return len >= 8 && ld_be32(head) == QCOW2_MAGIC && ld_be32(head + 4) >= 2;
}

int qcow2_bad(struct blk *b, int err, const char *what)
{
	log_warnx("%s: not a usable qcow2 image: %s", b->path, what);
	return err;
}

static int parse_extensions(struct blk *b, const uint8_t *hdr, uint64_t limit)
{
	struct qcow2 *q = Q(b);
	uint64_t pos = q->header_length;

	while (pos + 8 <= limit) {
		uint32_t type = ld_be32(hdr + pos), len = ld_be32(hdr + pos + 4);
		pos += 8;
		if (type == QEXT_END)
			return 0;
		if (len > limit - pos)
			return qcow2_bad(b, -EINVAL, "header extension runs past the header cluster");
		if (type == QEXT_BACKING_FORMAT) {
			char fmt[32];
			enum blk_format f;
			snprintf(fmt, sizeof(fmt), "%.*s", (int)MIN(len, 31u), (const char *)hdr + pos);
			if (blk_format_parse(fmt, &f)) {
				log_warnx("%s: backing format '%s' is not supported", b->path, fmt);
				return -ENOTSUP;
			}
			b->backing_format = f;
		}
		pos += ALIGN_UP((uint64_t)len, 8ULL);
	}
	return 0;
}

static int check_incompat(struct blk *b)
{
	struct qcow2 *q = Q(b);
	bool writing = !(b->flags & BLK_OPEN_RDONLY);

	if (q->incompat & ~QCOW2_INCOMPAT_KNOWN)
		return qcow2_bad(b, -ENOTSUP, "unknown incompatible feature bits");
	if (q->incompat & QCOW2_INCOMPAT_DATA_FILE)
		return qcow2_bad(b, -ENOTSUP, "external data files are not supported");
	if (q->incompat & QCOW2_INCOMPAT_EXTL2)
		return qcow2_bad(b, -ENOTSUP, "extended L2 entries (subclusters) are not supported");
	if (q->incompat & QCOW2_INCOMPAT_COMPRESSION)
		return qcow2_bad(b, -ENOTSUP, "compression types other than deflate (zstd) are not supported");
	if ((q->incompat & (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)) && writing &&
	    !(b->flags & BLK_OPEN_CHECK)) {
		log_warnx("%s: image is marked %s; run 'vireo disk check -r' (or open read-only)",
			  b->path, q->incompat & QCOW2_INCOMPAT_CORRUPT ? "corrupt" : "dirty");
		return -EROFS;
	}
	return 0;
}

static int parse_header(struct blk *b, const uint8_t *h, uint64_t fsize)
{
	struct qcow2 *q = Q(b);

	q->version = ld_be32(h + QH_VERSION);
	if (q->version != 2 && q->version != 3)
		return qcow2_bad(b, -ENOTSUP, "only versions 2 and 3 are supported");
	q->cluster_bits = ld_be32(h + QH_CLUSTER_BITS);
	if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return qcow2_bad(b, -EINVAL, "cluster size must be 512 B .. 2 MiB");
	q->cs = 1ULL << q->cluster_bits;
	q->l2_entries = q->cs / 8;
	if (fsize < q->cs)
		return qcow2_bad(b, -EINVAL, "file is shorter than one cluster (truncated?)");
	b->size = ld_be64(h + QH_SIZE);
	if (ld_be32(h + QH_CRYPT))
		return qcow2_bad(b, -ENOTSUP, "encrypted images are not supported");
	q->l1_size = ld_be32(h + QH_L1_SIZE);
	q->l1_offset = ld_be64(h + QH_L1_OFFSET);
	q->rt_offset = ld_be64(h + QH_RT_OFFSET);
	q->rt_clusters = ld_be32(h + QH_RT_CLUSTERS);
	q->nb_snapshots = ld_be32(h + QH_NB_SNAPSHOTS);
	q->snapshots_offset = ld_be64(h + QH_SNAPSHOTS_OFFSET);
	q->refcount_order = 4;
	q->header_length = QCOW2_HDR_V2_LEN;
	if (q->version >= 3) {
		q->incompat = ld_be64(h + QH_INCOMPAT);
		q->compat = ld_be64(h + QH_COMPAT);
		q->autoclear = ld_be64(h + QH_AUTOCLEAR);
		q->refcount_order = ld_be32(h + QH_REFCOUNT_ORDER);
		q->header_length = ld_be32(h + QH_HEADER_LENGTH);
		if (q->header_length < QCOW2_HDR_V3_LEN || q->header_length > q->cs ||
		    q->header_length & 7)
			return qcow2_bad(b, -EINVAL, "header_length is out of range");
		if (q->header_length > QH_COMPRESSION_TYPE && h[QH_COMPRESSION_TYPE])
			return qcow2_bad(b, -ENOTSUP, "compression types other than deflate are not supported");
	}
	if (q->refcount_order > 6)
		return qcow2_bad(b, -EINVAL, "refcount_order is larger than 6");
	q->refcount_bits = 1u << q->refcount_order;
	q->rb_entries = q->cs * 8 / q->refcount_bits;
	return check_incompat(b);
}

static int check_tables(struct blk *b, uint64_t fsize)
{
	struct qcow2 *q = Q(b);
	uint64_t cover;

	if (b->size > BLK_MAX_SIZE)
		return qcow2_bad(b, -EFBIG, "virtual size is larger than Vireo's 64 TiB limit");
	if ((uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		return qcow2_bad(b, -EFBIG, "L1 table is larger than 32 MiB");
	cover = (uint64_t)q->l1_size * q->l2_entries * q->cs;
	if (cover < b->size)
		return qcow2_bad(b, -EINVAL, "L1 table is too small for the virtual size");
	if (q->l1_size && (q->l1_offset & (q->cs - 1)))
		return qcow2_bad(b, -EINVAL, "L1 table offset is not cluster-aligned");
	if (q->l1_size && (q->l1_offset > fsize || (uint64_t)q->l1_size * 8 > fsize - q->l1_offset))
		return qcow2_bad(b, -EINVAL, "L1 table extends past the end of the file");
	if (!q->rt_clusters || (uint64_t)q->rt_clusters * q->cs > QCOW2_MAX_RT_BYTES)
		return qcow2_bad(b, -EINVAL, "refcount table size is out of range");
	if (q->rt_offset & (q->cs - 1))
		return qcow2_bad(b, -EINVAL, "refcount table offset is not cluster-aligned");
	if (q->rt_offset > fsize || (uint64_t)q->rt_clusters * q->cs > fsize - q->rt_offset)
		return qcow2_bad(b, -EINVAL, "refcount table extends past the end of the file");
	if (q->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
		return qcow2_bad(b, -EINVAL, "too many snapshots");
	if (q->nb_snapshots && (q->snapshots_offset & (q->cs - 1) || q->snapshots_offset >= fsize))
		return qcow2_bad(b, -EINVAL, "snapshot table offset is invalid");
	return 0;
}

static int load_tables(struct blk *b)
{
	struct qcow2 *q = Q(b);
	int err;

	q->l1 = calloc(q->l1_size ? q->l1_size : 1, 8);
	q->rt_entries = (uint64_t)q->rt_clusters * q->cs / 8;
	q->rt = calloc(q->rt_entries, 8);
	if (!q->l1 || !q->rt)
		return -ENOMEM;
	err = blk_pread_full(b->fd, q->l1, (uint64_t)q->l1_size * 8, q->l1_offset);
	if (!err)
		err = blk_pread_full(b->fd, q->rt, q->rt_entries * 8, q->rt_offset);
	if (err)
		return qcow2_bad(b, err, "cannot read the L1 or refcount table");
	for (uint32_t i = 0; i < q->l1_size; i++)
		q->l1[i] = ld_be64(&q->l1[i]);
	for (uint64_t i = 0; i < q->rt_entries; i++)
		q->rt[i] = ld_be64(&q->rt[i]);
	return 0;
}

static int read_backing_name(struct blk *b, const uint8_t *hdr)
{
	uint64_t boff = ld_be64(hdr + QH_BACKING_OFFSET);
	uint32_t blen = ld_be32(hdr + QH_BACKING_SIZE);

	if (!boff)
		return 0;
	if (!blen || blen > QCOW2_MAX_BACKING_NAME || boff > Q(b)->cs || blen > Q(b)->cs - boff)
		return qcow2_bad(b, -EINVAL, "backing file name is out of the header cluster");
	b->backing_name = strndup((const char *)hdr + boff, blen);
	if (!b->backing_name)
		return -ENOMEM;
	if (strlen(b->backing_name) != blen)
		return qcow2_bad(b, -EINVAL, "backing file name contains a NUL byte");
	return 0;
}

static int qcow2_setup(struct blk *b, uint64_t fsize)
{
	struct qcow2 *q = Q(b);
	unsigned n = MAX(16u, MIN(1024u, (unsigned)((8 * MiB) >> q->cluster_bits)));
	int err;

	err = qcache_init(&q->l2_cache, n);
	if (!err)
		err = qcache_init(&q->rb_cache, MAX(4u, n / 4));
	if (err)
		return err;
	q->cbuf = malloc(q->cs);
	q->wbuf = malloc(q->cs);
	q->zbuf = malloc(2 * q->cs);
	if (!q->cbuf || !q->wbuf || !q->zbuf)
		return -ENOMEM;
	return load_tables(b);
}

static void qcow2_close(struct blk *b)
{
	struct qcow2 *q = Q(b);

	if (!q)
		return;
	qcache_free(&q->l2_cache);
	qcache_free(&q->rb_cache);
	free(q->l1);
	free(q->rt);
	free(q->cbuf);
	free(q->wbuf);
	free(q->zbuf);
	free(q);
	b->priv = NULL;
}

static int qcow2_open(struct blk *b)
{
	uint8_t *hdr = NULL;
	struct qcow2 *q;
	uint64_t fsize;
	int err;

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	b->priv = q;
	err = blk_file_size(b->fd, &fsize);
	if (err)
		goto err_close;
	hdr = calloc(1, QCOW2_HDR_LEN);
	if (!hdr) {
		err = -ENOMEM;
		goto err_close;
	}
	err = blk_pread_zfill(b->fd, hdr, QCOW2_HDR_LEN, 0);
	if (!err)
		err = parse_header(b, hdr, fsize);
	if (!err) {
		/* Now that the cluster size is known and checked: the whole cluster. */
		free(hdr);
		hdr = calloc(1, q->cs);
		err = hdr ? blk_pread_zfill(b->fd, hdr, q->cs, 0) : -ENOMEM;
	}
	if (!err)
		err = check_tables(b, fsize);
	if (!err && q->version >= 3) {
		uint64_t boff = ld_be64(hdr + QH_BACKING_OFFSET);
		err = parse_extensions(b, hdr, boff && boff < q->cs ? boff : q->cs);
	}
	if (!err)
		err = read_backing_name(b, hdr);
	if (!err)
		err = qcow2_setup(b, fsize);
	q->file_end = fsize;
	if (!err && q->autoclear && !(b->flags & BLK_OPEN_RDONLY)) {
		/* We do not maintain bitmaps: clear what we don't understand. */
		uint64_t zero = 0;
		err = qcow2_header_write(b, QH_AUTOCLEAR, &zero, 8);
		q->autoclear = 0;
	}
	if (err)
		goto err_close;
	free(hdr);
	return 0;

err_close:
	free(hdr);
	qcow2_close(b);
	return err;
}

/* ---- create ------------------------------------------------------------ */

static int qcow2_create(int fd, const char *path, const struct blk_create_opts *o)
{
	uint32_t cs = o->cluster_size ? o->cluster_size : 65536, cbits = 0;
	uint64_t pos = QCOW2_HDR_LEN;
	struct blk tmp = { .fd = fd, .flags = BLK_OPEN_NO_BACKING };
	uint8_t *buf;
	int err;

	while ((1u << cbits) < cs)
		cbits++;
	if ((1u << cbits) != cs || cbits < QCOW2_MIN_CLUSTER_BITS || cbits > QCOW2_MAX_CLUSTER_BITS) {
		log_warnx("%s: cluster size must be a power of two from 512 to 2M", path);
		return -EINVAL;
	}
	buf = calloc(3, cs);
	if (!buf)
		return -ENOMEM;
	st_be32(buf, QCOW2_MAGIC);
	st_be32(buf + QH_VERSION, 3);
	st_be32(buf + QH_CLUSTER_BITS, cbits);
	st_be64(buf + QH_RT_OFFSET, cs);
	st_be32(buf + QH_RT_CLUSTERS, 1);
	st_be32(buf + QH_REFCOUNT_ORDER, 4);
	st_be32(buf + QH_HEADER_LENGTH, QCOW2_HDR_LEN);
	if (o->backing) {
		const char *fname = o->backing_format == BLK_FORMAT_VHD ? "vpc" :
				    blk_format_name(o->backing_format);
		size_t flen = strlen(fname), blen = strlen(o->backing);
		uint64_t need = pos + 8 + ALIGN_UP(flen, 8) + 8 + blen;
		if (blen > QCOW2_MAX_BACKING_NAME || need > cs) {
			log_warnx("%s: backing file name too long for %u-byte clusters", path, cs);
			err = -ENAMETOOLONG;
			goto out;
		}
		st_be32(buf + pos, QEXT_BACKING_FORMAT);
		st_be32(buf + pos + 4, flen);
		memcpy(buf + pos + 8, fname, flen);
		pos += 8 + ALIGN_UP(flen, 8);
		pos += 8;	/* end-of-extensions marker: zeros */
		memcpy(buf + pos, o->backing, blen);
		st_be64(buf + QH_BACKING_OFFSET, pos);
		st_be32(buf + QH_BACKING_SIZE, blen);
	}
	st_be64(buf + cs, 2ULL * cs);		/* refcount table -> block at cluster 2 */
	st_be16(buf + 2 * cs, 1);		/* header */
	st_be16(buf + 2 * cs + 2, 1);		/* refcount table */
	st_be16(buf + 2 * cs + 4, 1);		/* refcount block */
	err = blk_pwrite_full(fd, buf, 3ULL * cs, 0);
	if (err)
		goto out;
	tmp.path = (char *)(uintptr_t)path;
	err = qcow2_open(&tmp);		/* reads the backing name back: tmp owns it */
	if (err)
		goto out;
	err = qcow2_resize(&tmp, o->size);
	qcow2_close(&tmp);
out:
	free(tmp.backing_name);
	free(buf);
	return err;
}

/* ---- info, snapshots, backing ------------------------------------------ */

static void qcow2_info(struct blk *b, struct blk_info *info)
{
	struct qcow2 *q = Q(b);

	info->cluster_size = q->cs;
	info->subformat = q->version >= 3 ? "v3" : "v2";
	info->dirty = q->incompat & QCOW2_INCOMPAT_DIRTY;
	info->corrupt = q->incompat & QCOW2_INCOMPAT_CORRUPT;
}

/* One entry of the snapshot table ("Snapshot table"); *len is its size. */
int qcow2_snapshot_parse(struct blk *b, const uint8_t *p, uint64_t avail,
			  struct blk_snapshot *s, uint64_t *l1_off, uint32_t *l1_size,
			  uint64_t *len)
{
	uint16_t id_len, name_len;
	uint32_t extra;

	if (avail < 40)
		return qcow2_bad(b, -EINVAL, "snapshot table is truncated");
	*l1_off = ld_be64(p);
	*l1_size = ld_be32(p + 8);
	id_len = ld_be16(p + 12);
	name_len = ld_be16(p + 14);
	extra = ld_be32(p + 36);
	if (extra > 1024)
		return qcow2_bad(b, -EINVAL, "snapshot extra data is too large");
	*len = ALIGN_UP(40ULL + extra + id_len + name_len, 8ULL);
	if (*len > avail)
		return qcow2_bad(b, -EINVAL, "snapshot table is truncated");
	memset(s, 0, sizeof(*s));
	s->date_sec = ld_be32(p + 16);
	s->date_nsec = ld_be32(p + 20);
	s->vm_clock_nsec = ld_be64(p + 24);
	s->vm_state_size = ld_be32(p + 32);
	if (extra >= 8)
		s->vm_state_size = ld_be64(p + 40);
	s->disk_size = extra >= 16 ? ld_be64(p + 48) : b->size;
	snprintf(s->id, sizeof(s->id), "%.*s", (int)id_len, (const char *)p + 40 + extra);
	snprintf(s->name, sizeof(s->name), "%.*s", (int)name_len,
		 (const char *)p + 40 + extra + id_len);
	return 0;
}

/* Read the snapshot table (bounded) into a malloc'd buffer. */
int qcow2_snapshot_table_read(struct blk *b, uint8_t **tab, uint64_t *len)
{
	struct qcow2 *q = Q(b);
	uint64_t fsize, max;
	int err;

	*tab = NULL;
	*len = 0;
	if (!q->nb_snapshots)
		return 0;
	err = blk_file_size(b->fd, &fsize);
	if (err)
		return err;
	/* Each entry is at most 40 + 1024 + 2 * 65535 bytes; cap the read. */
	max = MIN(fsize - q->snapshots_offset, (uint64_t)q->nb_snapshots * 1024 + 64 * KiB);
	max = MIN(max, 64 * MiB);
	*tab = malloc(max ? max : 1);
	if (!*tab)
		return -ENOMEM;
	*len = max;
	return blk_pread_zfill(b->fd, *tab, max, q->snapshots_offset);
}

static int qcow2_snapshot_list(struct blk *b, struct blk_snapshot **list, int *n)
{
	struct qcow2 *q = Q(b);
	struct blk_snapshot *l;
	uint64_t tlen, pos = 0;
	uint8_t *tab;
	int err;

	err = qcow2_snapshot_table_read(b, &tab, &tlen);
	if (err || !q->nb_snapshots) {
		free(tab);
		return err;
	}
	l = calloc(q->nb_snapshots, sizeof(*l));
	if (!l) {
		free(tab);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		uint64_t l1o, elen;
		uint32_t l1s;
		err = qcow2_snapshot_parse(b, tab + pos, tlen - pos, &l[i], &l1o, &l1s, &elen);
		if (err) {
			free(l);
			free(tab);
			return err;
		}
		pos += elen;
	}
	free(tab);
	*list = l;
	*n = q->nb_snapshots;
	return 0;
}

static int qcow2_set_backing(struct blk *b, const char *name, enum blk_format fmt)
{
	struct qcow2 *q = Q(b);
	uint8_t *hdr = calloc(1, q->cs);
	const char *fname = fmt == BLK_FORMAT_VHD ? "vpc" : blk_format_name(fmt);
	uint64_t pos = q->header_length, nlen = name ? strlen(name) : 0;
	int err;

	if (!hdr)
		return -ENOMEM;
	err = blk_pread_full(b->fd, hdr, q->cs, 0);
	if (err)
		goto out;
	/* Rewrite the extension area with only a backing-format extension. */
	if (q->version < 3) {
		pos = QCOW2_HDR_V2_LEN;
	} else if (name && fmt != BLK_FORMAT_AUTO) {
		size_t flen = strlen(fname);
		st_be32(hdr + pos, QEXT_BACKING_FORMAT);
		st_be32(hdr + pos + 4, flen);
		memset(hdr + pos + 8, 0, ALIGN_UP(flen, 8));
		memcpy(hdr + pos + 8, fname, flen);
		pos += 8 + ALIGN_UP(flen, 8);
	}
	if (pos + 8 + nlen > q->cs || nlen > QCOW2_MAX_BACKING_NAME) {
		err = -ENAMETOOLONG;
		goto out;
	}
	memset(hdr + pos, 0, q->cs - pos);
	pos += q->version >= 3 ? 8 : 0;
	memcpy(hdr + pos, name ? name : "", nlen);
	st_be64(hdr + QH_BACKING_OFFSET, nlen ? pos : 0);
	st_be32(hdr + QH_BACKING_SIZE, nlen);
	err = blk_pwrite_full(b->fd, hdr, q->cs, 0);
	if (err)
		goto out;
	free(b->backing_name);
	b->backing_name = nlen ? strdup(name) : NULL;
	b->backing_format = fmt;
out:
	free(hdr);
	return err;
}


/*
 * Drop every cluster the active L1 reaches (after a commit): clear the L1
 * entry first, then release the L2 table's clusters and the table, so a
 * crash leaves leaks only.  Not with snapshots: their L1s share the tables.
 */
static int qcow2_make_empty(struct blk *b)
{
	struct qcow2 *q = Q(b);
	uint8_t *l2;
	int err;

	if (q->nb_snapshots) {
		log_warnx("%s: has internal snapshots: left as it is", b->path);
		return 0;
	}
	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t off = q->l1[i] & QCOW2_L1E_OFFSET_MASK;

		if (!off)
			continue;
		err = qcow2_l2_load(b, off, &l2);
		if (err)
			return err;
		memcpy(q->cbuf, l2, q->cs);
		err = qcow2_l1_store(b, i, 0);
		for (uint64_t j = 0; !err && j < q->l2_entries; j++)
			err = entry_release(b, ld_be64(q->cbuf + j * 8));
		if (!err)
			err = qcow2_rc_update(b, off, q->cs, -1);
		if (err)
			return err;
	}
	return 0;
}

const struct blk_driver blk_qcow2_driver = {
	.name = "qcow2",
	.format = BLK_FORMAT_QCOW2,
	.probe = qcow2_probe,
	.open = qcow2_open,
	.close = qcow2_close,
	.read = qcow2_read,
	.write = qcow2_write,
	.flush = qcow2_flush,
	.discard = qcow2_discard,
	.resize = qcow2_resize,
	.block_status = qcow2_block_status,
	.check = qcow2_check,
	.create = qcow2_create,
	.snapshot_list = qcow2_snapshot_list,
	.snapshot_create = qcow2_snapshot_create,
	.set_backing = qcow2_set_backing,
	.make_empty = qcow2_make_empty,
	.info = qcow2_info,
};
