// SPDX-License-Identifier: GPL-2.0-only
/* Storage repositories and their SQLite inventory (see vireo/sr.h). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#include "vireo/block.h"
#include "vireo/log.h"
#include "vireo/sr.h"

#define SR_DEFAULT_STATE_DIR "/var/lib/vireo"
#define NFS_SUPER_MAGIC 0x6969
#define SR_MAX_DISKS 10000

struct sr_db {
	sqlite3 *db;
};

static const char schema[] =
	"PRAGMA foreign_keys = ON;"
	"CREATE TABLE IF NOT EXISTS sr ("
	"  uuid TEXT PRIMARY KEY,"
	"  name TEXT UNIQUE NOT NULL,"
	"  type TEXT NOT NULL CHECK (type IN ('dir', 'nfs')),"
	"  path TEXT NOT NULL,"
	"  shared INTEGER NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS vdi ("
	"  sr_uuid TEXT NOT NULL REFERENCES sr(uuid) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  format TEXT NOT NULL,"
	"  virtual_size INTEGER NOT NULL,"
	"  allocated INTEGER NOT NULL,"
	"  parent TEXT NOT NULL,"
	"  error TEXT NOT NULL,"
	"  scanned INTEGER NOT NULL,"
	"  PRIMARY KEY (sr_uuid, name));"
	"PRAGMA user_version = 1;";

static int db_err(struct sr_db *db, const char *what)
{
	log_warnx("storage inventory: %s: %s", what, sqlite3_errmsg(db->db));
	return -EIO;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int sr_db_open(const char *state_dir, struct sr_db **out)
{
	char path[PATH_MAX];
	struct sr_db *db;
	int err;

	if (!state_dir)
		state_dir = getenv("VIREO_STATE_DIR");
	if (!state_dir || !*state_dir)
		state_dir = SR_DEFAULT_STATE_DIR;
	err = mkdir_p(state_dir);
	if (err) {
		log_errno(-err, "cannot create state directory %s (set VIREO_STATE_DIR?)", state_dir);
		return err;
	}
	snprintf(path, sizeof(path), "%s/storage.db", state_dir);
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	if (sqlite3_open(path, &db->db) != SQLITE_OK) {
		err = db_err(db, path);
		goto err_close;
	}
	sqlite3_busy_timeout(db->db, 5000);
	if (sqlite3_exec(db->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		err = db_err(db, "creating the schema");
		goto err_close;
	}
	*out = db;
	return 0;
err_close:
	sqlite3_close(db->db);
	free(db);
	return err;
}

void sr_db_close(struct sr_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->db);
	free(db);
}

const char *sr_type_name(enum sr_type t)
{
	return t == SR_TYPE_NFS ? "nfs" : "dir";
}

int sr_type_parse(const char *s, enum sr_type *t)
{
	if (!strcmp(s, "dir"))
		*t = SR_TYPE_DIR;
	else if (!strcmp(s, "nfs"))
		*t = SR_TYPE_NFS;
	else
		return -EINVAL;
	return 0;
}

static void uuid_make(char out[37])
{
	uint8_t u[16];

	if (getrandom(u, sizeof(u), 0) != sizeof(u)) {
		uint64_t t = now_ns();
		memcpy(u, &t, 8);
		memcpy(u + 8, &t, 8);
	}
	u[6] = (u[6] & 0x0f) | 0x40;	/* RFC 4122 version 4 */
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

static int check_path(enum sr_type type, const char *path, char abs[PATH_MAX])
{
	struct statfs sfs;
	struct stat st;
	int err;

	if (type == SR_TYPE_DIR && stat(path, &st) < 0 && errno == ENOENT) {
		err = mkdir_p(path);
		if (err)
			return err;
	}
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (!realpath(path, abs))
		return -errno;
	if (type == SR_TYPE_NFS && statfs(abs, &sfs) == 0 && sfs.f_type != NFS_SUPER_MAGIC)
		log_info("%s is not an NFS mount here; every host sharing this repository "
			 "must mount the same export at this path", abs);
	return 0;
}

int sr_create(struct sr_db *db, const char *name, enum sr_type type, const char *path,
	      struct sr *out)
{
	sqlite3_stmt *st;
	int err, rc;

	memset(out, 0, sizeof(*out));
	if (!*name || strlen(name) >= sizeof(out->name) || strchr(name, '/'))
		return -EINVAL;
	err = check_path(type, path, out->path);
	if (err)
		return err;
	uuid_make(out->uuid);
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->type = type;
	out->shared = type == SR_TYPE_NFS;
	out->created = time(NULL);
	if (sqlite3_prepare_v2(db->db, "INSERT INTO sr VALUES (?, ?, ?, ?, ?, ?)", -1, &st,
			       NULL) != SQLITE_OK)
		return db_err(db, "insert");
	sqlite3_bind_text(st, 1, out->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, out->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, sr_type_name(type), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, out->path, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, out->shared);
	sqlite3_bind_int64(st, 6, out->created);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : db_err(db, "insert");
}

static void row_to_sr(sqlite3_stmt *st, struct sr *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->uuid, sizeof(s->uuid), "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(s->name, sizeof(s->name), "%s", (const char *)sqlite3_column_text(st, 1));
	s->type = strcmp((const char *)sqlite3_column_text(st, 2), "nfs") ? SR_TYPE_DIR : SR_TYPE_NFS;
	snprintf(s->path, sizeof(s->path), "%s", (const char *)sqlite3_column_text(st, 3));
	s->shared = sqlite3_column_int(st, 4);
	s->created = sqlite3_column_int64(st, 5);
}

int sr_list(struct sr_db *db, struct sr **list, int *n)
{
	sqlite3_stmt *st;
	struct sr *l = NULL;
	int cnt = 0, rc;

	*list = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db->db, "SELECT uuid, name, type, path, shared, created FROM sr "
			       "ORDER BY name", -1, &st, NULL) != SQLITE_OK)
		return db_err(db, "list");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sr *nl = realloc(l, (cnt + 1) * sizeof(*l));
		if (!nl) {
			free(l);
			sqlite3_finalize(st);
			return -ENOMEM;
		}
		l = nl;
		row_to_sr(st, &l[cnt++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(l);
		return db_err(db, "list");
	}
	*list = l;
	*n = cnt;
	return 0;
}

int sr_get(struct sr_db *db, const char *name, struct sr *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->db, "SELECT uuid, name, type, path, shared, created FROM sr "
			       "WHERE name = ?1 OR uuid = ?1", -1, &st, NULL) != SQLITE_OK)
		return db_err(db, "lookup");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_to_sr(st, out);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_err(db, "lookup");
}

int sr_forget(struct sr_db *db, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->db, "DELETE FROM sr WHERE name = ?1 OR uuid = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return db_err(db, "delete");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(db, "delete");
	return sqlite3_changes(db->db) ? 0 : -ENOENT;
}

static void vdi_probe(const char *dir, const char *name, struct sr_vdi *v)
{
	char path[PATH_MAX];
	struct blk_info info;
	struct blk *b;
	int err;

	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	err = blk_open(path, BLK_FORMAT_AUTO, BLK_OPEN_RDONLY | BLK_OPEN_NO_BACKING, &b);
	if (err) {
		snprintf(v->format, sizeof(v->format), "?");
		snprintf(v->error, sizeof(v->error), "%s", strerror(-err));
		return;
	}
	blk_info_get(b, &info);
	snprintf(v->format, sizeof(v->format), "%s", info.format_name);
	v->virtual_size = info.virtual_size;
	v->allocated = info.allocated;
	snprintf(v->parent, sizeof(v->parent), "%s", info.backing ? info.backing : "");
	blk_close(b);
}

static bool is_disk_name(const char *n)
{
	static const char *const ext[] = { ".qcow2", ".vhd", ".img", ".raw", ".vpc" };
	size_t l = strlen(n);

	for (size_t i = 0; i < ARRAY_SIZE(ext); i++)
		if (l > strlen(ext[i]) && !strcmp(n + l - strlen(ext[i]), ext[i]))
			return true;
	return false;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct sr_vdi *)a)->name, ((const struct sr_vdi *)b)->name);
}

static int record(struct sr_db *db, const struct sr *sr, const struct sr_vdi *l, int n)
{
	sqlite3_stmt *del, *ins;
	int64_t now = time(NULL);
	int rc = SQLITE_DONE;

	if (sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_err(db, "begin");
	if (sqlite3_prepare_v2(db->db, "DELETE FROM vdi WHERE sr_uuid = ?", -1, &del, NULL) ||
	    sqlite3_prepare_v2(db->db, "INSERT INTO vdi VALUES (?, ?, ?, ?, ?, ?, ?, ?)", -1,
			       &ins, NULL)) {
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
		return db_err(db, "scan");
	}
	sqlite3_bind_text(del, 1, sr->uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(del);
	for (int i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_reset(ins);
		sqlite3_bind_text(ins, 1, sr->uuid, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, l[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, l[i].format, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 4, l[i].virtual_size);
		sqlite3_bind_int64(ins, 5, l[i].allocated);
		sqlite3_bind_text(ins, 6, l[i].parent, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 7, l[i].error, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 8, now);
		rc = sqlite3_step(ins);
	}
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	if (rc != SQLITE_DONE) {
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
		return db_err(db, "scan");
	}
	return sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 :
	       db_err(db, "commit");
}

int sr_scan(struct sr_db *db, const struct sr *sr, struct sr_vdi **list, int *n)
{
	struct sr_vdi *l = NULL;
	struct dirent *de;
	int cnt = 0, err = 0;
	DIR *d;

	*list = NULL;
	*n = 0;
	d = opendir(sr->path);
	if (!d) {
		err = -errno;
		log_errno(-err, "repository %s: cannot read %s (is it mounted?)", sr->name, sr->path);
		return err;
	}
	while ((de = readdir(d)) && cnt < SR_MAX_DISKS) {
		struct sr_vdi *nl;
		if (de->d_name[0] == '.' || !is_disk_name(de->d_name))
			continue;
		nl = realloc(l, (cnt + 1) * sizeof(*l));
		if (!nl) {
			err = -ENOMEM;
			break;
		}
		l = nl;
		vdi_probe(sr->path, de->d_name, &l[cnt++]);
	}
	closedir(d);
	if (!err) {
		qsort(l, cnt, sizeof(*l), by_name);
		err = record(db, sr, l, cnt);
	}
	if (err) {
		free(l);
		return err;
	}
	*list = l;
	*n = cnt;
	return 0;
}
