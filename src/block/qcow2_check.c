// SPDX-License-Identifier: GPL-2.0-only
/*
 * qcow2 consistency check: rebuild the reference count of every host
 * cluster from the tables that point at it (header, L1/L2, refcount
 * structures, snapshot table and snapshot L1s) and compare with the stored
 * refcounts.  Stored > counted is a leak (repairable: lower the refcount);
 * stored < counted is corruption (a write could reuse a live cluster).
 * Also checks the COPIED flag of the active tables ("Cluster mapping").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "vireo/log.h"

struct refmap {
	struct blk *b;
	struct blk_check *res;
	uint32_t *ref;
	uint64_t n;		/* clusters in the file */
	unsigned logged;
};

static void problem(struct refmap *m, bool corrupt, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct refmap *m, bool corrupt, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (corrupt)
		m->res->corruptions++;
	else
		m->res->leaks++;
	if (!m->res->first_error[0] && corrupt)
		snprintf(m->res->first_error, sizeof(m->res->first_error), "%s", msg);
	if (m->logged++ < 20)
		log_warnx("%s: %s: %s", m->b->path, corrupt ? "ERROR" : "Leaked", msg);
}

static void ref_add(struct refmap *m, uint64_t off, uint64_t len, const char *what)
{
	struct qcow2 *q = Q(m->b);

	if (!len)
		return;
	for (uint64_t c = off >> q->cluster_bits; c <= (off + len - 1) >> q->cluster_bits; c++) {
		if (c >= m->n) {
			problem(m, true, "%s at 0x%llx is past the end of the file", what,
				(unsigned long long)off);
			return;
		}
		if (m->ref[c] < UINT32_MAX)
			m->ref[c]++;
	}
}

static void check_copied(struct refmap *m, uint64_t e, uint64_t off, const char *what)
{
	uint64_t rc;

	if (qcow2_rc_get(m->b, off >> Q(m->b)->cluster_bits, &rc))
		return;
	if (!!(e & QCOW2_OFLAG_COPIED) != (rc == 1))
		problem(m, true, "%s at 0x%llx: COPIED flag %s but refcount is %llu", what,
			(unsigned long long)off, e & QCOW2_OFLAG_COPIED ? "set" : "clear",
			(unsigned long long)rc);
}

static void walk_l2(struct refmap *m, const uint8_t *l2, bool active)
{
	struct qcow2 *q = Q(m->b);

	for (uint64_t i = 0; i < q->l2_entries; i++) {
		uint64_t e = ld_be64(l2 + i * 8), off, len;

		if (e & QCOW2_OFLAG_COMPRESSED) {
			qcow2_compressed_extent(q, e, &off, &len);
			if (e & QCOW2_OFLAG_COPIED)
				problem(m, true, "compressed cluster at 0x%llx has the COPIED flag",
					(unsigned long long)off);
			ref_add(m, off, len, "compressed cluster");
			continue;
		}
		off = e & QCOW2_L2E_OFFSET_MASK;
		if (!off)
			continue;
		if (off & (q->cs - 1)) {
			problem(m, true, "data cluster at 0x%llx is not cluster-aligned",
				(unsigned long long)off);
			continue;
		}
		ref_add(m, off, q->cs, "data cluster");
		if (active)
			check_copied(m, e, off, "data cluster");
	}
}

static int walk_l1(struct refmap *m, const uint64_t *l1, uint32_t l1_size, bool active)
{
	struct qcow2 *q = Q(m->b);
	uint8_t *l2 = malloc(q->cs);

	if (!l2)
		return -ENOMEM;
	for (uint32_t i = 0; i < l1_size; i++) {
		uint64_t off = l1[i] & QCOW2_L1E_OFFSET_MASK;

		if (!off)
			continue;
		if (off & (q->cs - 1)) {
			problem(m, true, "L2 table at 0x%llx is not cluster-aligned",
				(unsigned long long)off);
			continue;
		}
		ref_add(m, off, q->cs, "L2 table");
		if (active)
			check_copied(m, l1[i], off, "L2 table");
		if (off >> q->cluster_bits >= m->n ||
		    blk_pread_full(m->b->fd, l2, q->cs, off)) {
			problem(m, true, "L2 table at 0x%llx cannot be read", (unsigned long long)off);
			continue;
		}
		walk_l2(m, l2, active);
	}
	free(l2);
	return 0;
}

static int walk_snapshots(struct refmap *m)
{
	struct qcow2 *q = Q(m->b);
	uint64_t tlen, pos = 0;
	uint8_t *tab;
	int err;

	err = qcow2_snapshot_table_read(m->b, &tab, &tlen);
	for (uint32_t i = 0; !err && i < q->nb_snapshots; i++) {
		struct blk_snapshot s;
		uint64_t l1o, elen, *l1;
		uint32_t l1s;

		err = qcow2_snapshot_parse(m->b, tab + pos, tlen - pos, &s, &l1o, &l1s, &elen);
		if (err) {
			problem(m, true, "snapshot table entry %u is malformed", i);
			err = 0;
			break;
		}
		pos += elen;
		if ((uint64_t)l1s * 8 > QCOW2_MAX_L1_BYTES || (l1o & (q->cs - 1))) {
			problem(m, true, "snapshot '%s' has an invalid L1 table", s.name);
			continue;
		}
		ref_add(m, l1o, (uint64_t)l1s * 8, "snapshot L1 table");
		l1 = malloc((uint64_t)l1s * 8 + 8);
		if (!l1) {
			err = -ENOMEM;
			break;
		}
		if (blk_pread_full(m->b->fd, l1, (uint64_t)l1s * 8, l1o)) {
			problem(m, true, "snapshot '%s' L1 table cannot be read", s.name);
		} else {
			for (uint32_t j = 0; j < l1s; j++)
				l1[j] = ld_be64(&l1[j]);
			err = walk_l1(m, l1, l1s, false);
		}
		free(l1);
	}
	if (!err)
		ref_add(m, q->snapshots_offset, pos, "snapshot table");
	free(tab);
	return err;
}

static void walk_refcount_structs(struct refmap *m)
{
	struct qcow2 *q = Q(m->b);

	ref_add(m, 0, q->cs, "header");
	ref_add(m, q->rt_offset, (uint64_t)q->rt_clusters * q->cs, "refcount table");
	for (uint64_t i = 0; i < q->rt_entries; i++) {
		uint64_t off = q->rt[i] & QCOW2_RTE_OFFSET_MASK;

		if (!off)
			continue;
		if (off & (q->cs - 1))
			problem(m, true, "refcount block %llu is not cluster-aligned",
				(unsigned long long)i);
		else
			ref_add(m, off, q->cs, "refcount block");
	}
}

/* Compare stored refcounts with the counted references. */
static int compare(struct refmap *m, bool repair)
{
	struct qcow2 *q = Q(m->b);
	uint64_t limit = MIN(q->rt_entries * q->rb_entries, MAX(m->n, 1) + q->rb_entries);

	for (uint64_t c = 0; c < limit; c++) {
		uint64_t rc, want = c < m->n ? m->ref[c] : 0;
		int err;

		if (!(q->rt[c / q->rb_entries] & QCOW2_RTE_OFFSET_MASK)) {
			if (want)
				problem(m, true, "cluster 0x%llx is in use but has no refcount block",
					(unsigned long long)(c << q->cluster_bits));
			c = (c / q->rb_entries + 1) * q->rb_entries - 1;
			continue;
		}
		err = qcow2_rc_get(m->b, c, &rc);
		if (err)
			return err;
		if (want) {
			m->res->allocated_clusters++;
			m->res->image_end = (c + 1) << q->cluster_bits;
		}
		if (rc == want)
			continue;
		if (rc < want) {
			problem(m, true, "cluster 0x%llx has refcount %llu but %llu references",
				(unsigned long long)(c << q->cluster_bits),
				(unsigned long long)rc, (unsigned long long)want);
			continue;
		}
		problem(m, false, "cluster 0x%llx has refcount %llu but %llu references",
			(unsigned long long)(c << q->cluster_bits),
			(unsigned long long)rc, (unsigned long long)want);
		if (repair) {
			err = qcow2_rc_store(m->b, c, want);
			if (err)
				return err;
			m->res->leaks_fixed++;
		}
	}
	return 0;
}

int qcow2_check(struct blk *b, struct blk_check *res, bool repair)
{
	struct qcow2 *q = Q(b);
	struct refmap m = { .b = b, .res = res };
	int err;

	err = qcow2_file_clusters(b, &m.n);
	if (err)
		return err;
	if (m.n > QCOW2_CHECK_MAX_CLUSTERS) {
		log_warnx("%s: %llu clusters is more than check handles (%u)", b->path,
			  (unsigned long long)m.n, QCOW2_CHECK_MAX_CLUSTERS);
		return -EFBIG;
	}
	res->total_clusters = (b->size + q->cs - 1) >> q->cluster_bits;
	m.ref = calloc(m.n ? m.n : 1, sizeof(*m.ref));
	if (!m.ref)
		return -ENOMEM;
	walk_refcount_structs(&m);
	ref_add(&m, q->l1_offset, (uint64_t)q->l1_size * 8, "L1 table");
	err = walk_l1(&m, q->l1, q->l1_size, true);
	if (!err)
		err = walk_snapshots(&m);
	if (!err)
		err = compare(&m, repair);
	if (!err && repair && res->leaks_fixed && fdatasync(b->fd) < 0)
		err = -errno;
	free(m.ref);
	return err;
}
