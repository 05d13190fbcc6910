/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_SR_H
#define VIREO_SR_H

/*
 * Storage repositories (SRs): named places where disk images live, kept in
 * a SQLite inventory at <state dir>/storage.db.  The state dir is the
 * argument of sr_db_open(), else $VIREO_STATE_DIR, else /var/lib/vireo.
 *
 * Types: "dir" is a local directory; "nfs" is a directory that every host
 * sharing the SR mounts at the same path (Vireo does not mount it; it only
 * checks that the path is a directory and notes whether it is NFS).  A
 * repository's disks are found by scanning its directory: the files are
 * the source of truth, the inventory is a cache of the last scan.
 *
 * All functions return 0 or -errno; a struct sr_db belongs to one thread.
 */

#include <stdbool.h>
#include <stdint.h>

#include "vireo/util.h"

enum sr_type { SR_TYPE_DIR, SR_TYPE_NFS };

struct sr {
	char uuid[37];
	char name[64];
	enum sr_type type;
	char path[4096];	/* absolute */
	bool shared;
	int64_t created;	/* Unix time */
};

struct sr_vdi {
	char name[256];		/* file name inside the SR */
	char format[8];
	uint64_t virtual_size;
	uint64_t allocated;	/* bytes allocated on the host */
	char parent[4096];	/* backing file as stored, "" for none */
	char error[128];	/* why the file could not be opened, "" if fine */
};

struct sr_db;

int sr_db_open(const char *state_dir, struct sr_db **out) WUR;
void sr_db_close(struct sr_db *db);

const char *sr_type_name(enum sr_type t);
int sr_type_parse(const char *s, enum sr_type *t) WUR;

/* Register a repository.  -EEXIST if the name is taken; -ENOTDIR if the
 * path is not a directory (a "dir" SR's directory is created if missing). */
int sr_create(struct sr_db *db, const char *name, enum sr_type type, const char *path,
	      struct sr *out) WUR;
/* All repositories, by name; *list is malloc'd. */
int sr_list(struct sr_db *db, struct sr **list, int *n) WUR;
/* Look up by name or uuid: -ENOENT if unknown. */
int sr_get(struct sr_db *db, const char *name, struct sr *out) WUR;
/* Drop a repository from the inventory (its files are left alone). */
int sr_forget(struct sr_db *db, const char *name) WUR;
/* Scan the repository's directory, refresh the inventory and return its
 * disks sorted by name; *list is malloc'd. */
int sr_scan(struct sr_db *db, const struct sr *sr, struct sr_vdi **list, int *n) WUR;

#endif
