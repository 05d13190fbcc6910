// SPDX-License-Identifier: GPL-2.0-only
/*
 * qcow2 internal snapshots ("Snapshots" section of the spec): a snapshot is
 * a copy of the active L1 table plus one more reference on every L2 table
 * and data cluster it reaches.  Afterwards the active tables lose their
 * COPIED flags, so the next write to any of them copies first.
 *
 * Order (each step only adds references or leaks, never frees live data):
 * raise refcounts; write the snapshot L1 copy; clear COPIED in the active
 * L2 tables and L1; write the new snapshot table; fdatasync; switch the
 * header (nb_snapshots + snapshots_offset in one write); free the old table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "vireo/log.h"

/* +1 on every cluster the active tables reach; clear COPIED on disk. */
static int share_active(struct blk *b)
{
	struct qcow2 *q = Q(b);
	int err;

	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t l2o = q->l1[i] & QCOW2_L1E_OFFSET_MASK;
		uint8_t *l2;

		if (!l2o)
			continue;
		err = qcow2_rc_update(b, l2o, q->cs, +1);
		if (!err)
			err = qcow2_l2_load(b, l2o, &l2);
		if (err)
			return err;
		for (uint64_t j = 0; j < q->l2_entries; j++) {
			uint64_t e = ld_be64(l2 + j * 8), off, len;
			if (e & QCOW2_OFLAG_COMPRESSED) {
				qcow2_compressed_extent(q, e, &off, &len);
			} else {
				off = e & QCOW2_L2E_OFFSET_MASK;
				len = q->cs;
			}
			if (!off)
				continue;
			err = qcow2_rc_update(b, off, len, +1);
			if (!err)
				err = qcow2_l2_load(b, l2o, &l2);	/* may have been evicted */
			if (err)
				return err;
			if (e & QCOW2_OFLAG_COPIED) {
				err = qcow2_l2_store(b, l2o, l2, j, e & ~QCOW2_OFLAG_COPIED);
				if (err)
					return err;
			}
		}
	}
	return 0;
}

static int write_l1_copy(struct blk *b, uint64_t *out)
{
	struct qcow2 *q = Q(b);
	uint64_t bytes = (uint64_t)q->l1_size * 8, *copy;
	int err;

	*out = 0;
	if (!bytes)
		return 0;
	copy = malloc(bytes);
	if (!copy)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->l1_size; i++)
		st_be64(&copy[i], q->l1[i] & ~QCOW2_OFLAG_COPIED);
	err = qcow2_alloc_clusters(b, (bytes + q->cs - 1) / q->cs, out);
	if (!err)
		err = blk_pwrite_full(b->fd, copy, bytes, *out);
	free(copy);
	return err;
}

static int clear_l1_copied(struct blk *b)
{
	struct qcow2 *q = Q(b);
	int err;

	for (uint32_t i = 0; i < q->l1_size; i++) {
		if (!(q->l1[i] & QCOW2_OFLAG_COPIED))
			continue;
		err = qcow2_l1_store(b, i, q->l1[i] & ~QCOW2_OFLAG_COPIED);
		if (err)
			return err;
	}
	return 0;
}

/* Append one entry to the table in `tab` (room reserved by the caller). */
static uint64_t entry_build(struct blk *b, uint8_t *p, uint64_t l1o, const char *id,
			    const char *name)
{
	struct timespec ts;
	size_t il = strlen(id), nl = strlen(name);

	clock_gettime(CLOCK_REALTIME, &ts);
	st_be64(p, l1o);
	st_be32(p + 8, Q(b)->l1_size);
	st_be16(p + 12, il);
	st_be16(p + 14, nl);
	st_be32(p + 16, ts.tv_sec);
	st_be32(p + 20, ts.tv_nsec);
	st_be32(p + 36, 16);		/* extra: vm_state_size_large, disk_size */
	st_be64(p + 48, b->size);
	memcpy(p + 56, id, il);
	memcpy(p + 56 + il, name, nl);
	return ALIGN_UP(56ULL + il + nl, 8ULL);
}

/* Parse the table: total length, the next free numeric id, name clash. */
static int table_scan(struct blk *b, const uint8_t *tab, uint64_t tlen, const char *name,
		      uint64_t *used, unsigned long *next_id)
{
	struct qcow2 *q = Q(b);
	uint64_t pos = 0;

	*next_id = 1;
	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		struct blk_snapshot s;
		uint64_t l1o, elen;
		uint32_t l1s;
		int err = qcow2_snapshot_parse(b, tab + pos, tlen - pos, &s, &l1o, &l1s, &elen);

		if (err)
			return err;
		if (!strcmp(s.name, name)) {
			log_warnx("%s: a snapshot named '%s' already exists", b->path, name);
			return -EEXIST;
		}
		if (strtoul(s.id, NULL, 10) >= *next_id)
			*next_id = strtoul(s.id, NULL, 10) + 1;
		pos += elen;
	}
	*used = pos;
	return 0;
}

int qcow2_snapshot_create(struct blk *b, const char *name)
{
	struct qcow2 *q = Q(b);
	uint64_t tlen, used, l1o, ntab_off, nlen, old_off = q->snapshots_offset;
	unsigned long next_id;
	uint8_t *tab = NULL, *ntab = NULL, hdr[12];
	char id[24];
	int err;

	if (!*name || strlen(name) > 255 || q->nb_snapshots >= QCOW2_MAX_SNAPSHOTS)
		return -EINVAL;
	if (q->refcount_bits < 2) {
		log_warnx("%s: 1-bit refcounts cannot count a snapshot's second reference; "
			  "convert the image first", b->path);
		return -ERANGE;
	}
	err = qcow2_snapshot_table_read(b, &tab, &tlen);
	if (!err)
		err = table_scan(b, tab, tlen, name, &used, &next_id);
	if (err)
		goto out;
	snprintf(id, sizeof(id), "%lu", next_id);
	ntab = calloc(1, used + 56 + strlen(id) + strlen(name) + 8);
	if (!ntab) {
		err = -ENOMEM;
		goto out;
	}
	err = share_active(b);
	if (!err)
		err = write_l1_copy(b, &l1o);
	if (!err)
		err = clear_l1_copied(b);
	if (err)
		goto out;
	memcpy(ntab, tab, used);
	nlen = used + entry_build(b, ntab + used, l1o, id, name);
	err = qcow2_alloc_clusters(b, (nlen + q->cs - 1) / q->cs, &ntab_off);
	if (!err)
		err = blk_pwrite_full(b->fd, ntab, nlen, ntab_off);
	if (!err && fdatasync(b->fd) < 0)
		err = -errno;
	if (err)
		goto out;
	st_be32(hdr, q->nb_snapshots + 1);
	st_be64(hdr + 4, ntab_off);
	err = qcow2_header_write(b, QH_NB_SNAPSHOTS, hdr, 12);
	if (err)
		goto out;
	q->nb_snapshots++;
	q->snapshots_offset = ntab_off;
	if (used)
		err = qcow2_rc_update(b, old_off, used, -1);
out:
	free(tab);
	free(ntab);
	return err;
}
