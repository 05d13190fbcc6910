// SPDX-License-Identifier: GPL-2.0-only
/* Output of `vireo disk`: text for people, JSON for programs. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd_disk.h"
#include "vireo/log.h"

void json_put_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *human(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double d = v;
	int u = 0;

	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.3g %s" : "%.0f %s", d, unit[u]);
	return buf;
}

int disk_backing_name(const char *parent, const char *child, char **out)
{
	char pabs[PATH_MAX], cdir_in[PATH_MAX], cdir[PATH_MAX], *slash;
	const char *cslash = strrchr(child, '/');

	if (!realpath(parent, pabs))
		return -errno;
	if (cslash)
		snprintf(cdir_in, sizeof(cdir_in), "%.*s", (int)(cslash - child), child);
	else
		snprintf(cdir_in, sizeof(cdir_in), ".");
	if (!realpath(cdir_in, cdir))
		return -errno;
	slash = strrchr(pabs, '/');
	if ((size_t)(slash - pabs) == strlen(cdir) && !strncmp(pabs, cdir, slash - pabs))
		*out = strdup(slash + 1);
	else
		*out = strdup(pabs);
	return *out ? 0 : -ENOMEM;
}

int disk_print_created(const char *path, bool json)
{
	struct blk_info info;
	struct blk *b;
	char h[32];
	int err = blk_open(path, BLK_FORMAT_AUTO, BLK_OPEN_RDONLY | BLK_OPEN_NO_BACKING, &b);

	if (err) {
		fprintf(stderr, "vireo disk: %s: created but cannot be opened: %s\n", path,
			strerror(-err));
		return 1;
	}
	blk_info_get(b, &info);
	if (json) {
		printf("{\"image\": ");
		json_put_str(stdout, path);
		printf(", \"format\": \"%s\", \"virtual-size\": %" PRIu64 ", \"backing-filename\": ",
		       info.format_name, info.virtual_size);
		json_put_str(stdout, info.backing);
		printf("}\n");
	} else {
		printf("Formatting '%s', fmt=%s size=%" PRIu64 " (%s)%s%s\n", path, info.format_name,
		       info.virtual_size, human(info.virtual_size, h, sizeof(h)),
		       info.backing ? " backing_file=" : "", info.backing ? info.backing : "");
	}
	blk_close(b);
	return 0;
}

static void info_json_layer(struct blk *b)
{
	struct blk_info info;

	blk_info_get(b, &info);
	printf("{\"filename\": ");
	json_put_str(stdout, blk_path(b));
	printf(", \"format\": \"%s\", \"subformat\": ", info.format_name);
	json_put_str(stdout, info.subformat);
	printf(", \"virtual-size\": %" PRIu64 ", \"actual-size\": %" PRIu64
	       ", \"file-size\": %" PRIu64 ", \"cluster-size\": %u, \"dirty-flag\": %s"
	       ", \"corrupt\": %s, \"backing-filename\": ",
	       info.virtual_size, info.allocated, info.file_size, info.cluster_size,
	       info.dirty ? "true" : "false", info.corrupt ? "true" : "false");
	json_put_str(stdout, info.backing);
	printf(", \"full-backing-filename\": ");
	json_put_str(stdout, info.backing_path);
	if (blk_backing(b)) {
		struct blk_info bi;
		blk_info_get(blk_backing(b), &bi);
		printf(", \"backing-filename-format\": \"%s\"", bi.format_name);
	}
}

static void snapshots_json(struct blk *b)
{
	struct blk_snapshot *s;
	int n;

	printf(", \"snapshots\": [");
	if (blk_snapshot_list(b, &s, &n))
		n = 0;
	for (int i = 0; i < n; i++) {
		printf("%s{\"id\": ", i ? ", " : "");
		json_put_str(stdout, s[i].id);
		printf(", \"name\": ");
		json_put_str(stdout, s[i].name);
		printf(", \"vm-state-size\": %" PRIu64 ", \"date-sec\": %u, \"date-nsec\": %u"
		       ", \"vm-clock-nsec\": %" PRIu64 "}", s[i].vm_state_size, s[i].date_sec,
		       s[i].date_nsec, s[i].vm_clock_nsec);
	}
	printf("]");
	if (n)
		free(s);
}

static void snapshots_text(struct blk *b)
{
	struct blk_snapshot *s;
	char date[32], h[32];
	int n;

	if (blk_snapshot_list(b, &s, &n) || !n)
		return;
	printf("Snapshot list:\nID        TAG                 VM SIZE                DATE\n");
	for (int i = 0; i < n; i++) {
		time_t t = s[i].date_sec;
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", localtime(&t));
		printf("%-9s %-19s %-22s %s\n", s[i].id, s[i].name,
		       human(s[i].vm_state_size, h, sizeof(h)), date);
	}
	free(s);
}

void disk_print_info(struct blk *b, bool json)
{
	struct blk_info info;
	char h1[32], h2[32];
	int depth = 0;

	if (json) {
		info_json_layer(b);
		snapshots_json(b);
		printf(", \"chain\": [");
		for (struct blk *l = b; l; l = blk_backing(l), depth++) {
			printf("%s", depth ? ", " : "");
			info_json_layer(l);
			printf(", \"depth\": %d}", depth);
		}
		printf("]}\n");
		return;
	}
	blk_info_get(b, &info);
	printf("image: %s\nfile format: %s%s%s%s\n", blk_path(b), info.format_name,
	       info.subformat ? " (" : "", info.subformat ? info.subformat : "",
	       info.subformat ? ")" : "");
	printf("virtual size: %s (%" PRIu64 " bytes)\ndisk size: %s\n",
	       human(info.virtual_size, h1, sizeof(h1)), info.virtual_size,
	       human(info.allocated, h2, sizeof(h2)));
	if (info.cluster_size)
		printf("cluster_size: %u\n", info.cluster_size);
	if (info.backing)
		printf("backing file: %s (actual path: %s)\n", info.backing,
		       info.backing_path ? info.backing_path : "?");
	if (info.dirty || info.corrupt)
		printf("flags:%s%s\n", info.dirty ? " dirty" : "", info.corrupt ? " corrupt" : "");
	snapshots_text(b);
	printf("backing chain:\n");
	for (struct blk *l = b; l; l = blk_backing(l), depth++) {
		blk_info_get(l, &info);
		printf("  [%d] %s  %s  virtual %s  allocated %s\n", depth, blk_path(l),
		       info.format_name, human(info.virtual_size, h1, sizeof(h1)),
		       human(info.allocated, h2, sizeof(h2)));
	}
}

void disk_print_check(const char *path, const struct blk_check *res, bool json)
{
	if (json) {
		printf("{\"filename\": ");
		json_put_str(stdout, path);
		printf(", \"corruptions\": %" PRIu64 ", \"leaks\": %" PRIu64
		       ", \"leaks-fixed\": %" PRIu64 ", \"allocated-clusters\": %" PRIu64
		       ", \"total-clusters\": %" PRIu64 ", \"image-end-offset\": %" PRIu64
		       ", \"check-errors\": 0, \"first-error\": ",
		       res->corruptions, res->leaks, res->leaks_fixed, res->allocated_clusters,
		       res->total_clusters, res->image_end);
		json_put_str(stdout, res->first_error[0] ? res->first_error : NULL);
		printf("}\n");
		return;
	}
	if (res->leaks_fixed)
		printf("Repaired %" PRIu64 " leaked clusters.\n", res->leaks_fixed);
	if (res->leaks > res->leaks_fixed)
		printf("%" PRIu64 " leaked clusters were found on the image.\n"
		       "This means waste of disk space, but no harm to data.\n"
		       "Run 'vireo disk check -r %s' to repair.\n",
		       res->leaks - res->leaks_fixed, path);
	if (res->corruptions)
		printf("%" PRIu64 " errors were found on the image (first: %s).\n"
		       "Data may be corrupted; copy out what you can with 'vireo disk convert'.\n",
		       res->corruptions, res->first_error);
	if (!res->corruptions && res->leaks <= res->leaks_fixed)
		printf("No errors were found on the image.\n");
	if (res->total_clusters)
		printf("%" PRIu64 "/%" PRIu64 " clusters are allocated.\n"
		       "Image end offset: %" PRIu64 "\n",
		       res->allocated_clusters, res->total_clusters, res->image_end);
}

static bool ext_merge(const struct blk_extent *a, const struct blk_extent *b)
{
	if (a->layer != b->layer || a->depth != b->depth || a->status != b->status)
		return false;
	if ((a->status & BLK_STATUS_DATA) && !(a->status & BLK_STATUS_COMPRESSED))
		return a->host_off + a->len == b->host_off;
	return true;
}

static void map_put(const struct blk_extent *e, bool json, bool first)
{
	bool data = e->status & BLK_STATUS_DATA, zero = e->status & BLK_STATUS_ZERO;
	bool off = data && !(e->status & BLK_STATUS_COMPRESSED);

	if (json) {
		printf("%s{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"depth\": %d"
		       ", \"present\": %s, \"zero\": %s, \"data\": %s, \"compressed\": %s",
		       first ? "" : ",\n", e->off, e->len, e->depth,
		       e->layer ? "true" : "false", zero ? "true" : "false",
		       data ? "true" : "false",
		       e->status & BLK_STATUS_COMPRESSED ? "true" : "false");
		if (off)
			printf(", \"offset\": %" PRIu64, e->host_off);
		if (e->layer) {
			printf(", \"file\": ");
			json_put_str(stdout, blk_path(e->layer));
		}
		printf("}");
		return;
	}
	if (!data)
		return;
	printf("%#-16" PRIx64 " %#-16" PRIx64, e->off, e->len);
	if (off)
		printf(" %#-16" PRIx64, e->host_off);
	else
		printf(" %-16s", "compressed");
	printf(" %s\n", blk_path(e->layer));
}

int disk_print_map(struct blk *b, bool json)
{
	struct blk_extent cur, next;
	uint64_t size = blk_size(b);
	bool first = true;
	int err;

	if (json)
		printf("[");
	else
		printf("%-16s %-16s %-16s %s\n", "Offset", "Length", "Mapped to", "File");
	if (!size) {
		printf(json ? "]\n" : "");
		return 0;
	}
	err = blk_block_status(b, 0, size, &cur);
	for (uint64_t off = cur.len; !err && off < size; off += next.len) {
		err = blk_block_status(b, off, size - off, &next);
		if (err)
			break;
		if (ext_merge(&cur, &next)) {
			cur.len += next.len;
			continue;
		}
		map_put(&cur, json, first);
		first = false;
		cur = next;
	}
	if (!err)
		map_put(&cur, json, first);
	if (json)
		printf("]\n");
	return err;
}

int disk_print_snapshots(struct blk *b, bool json)
{
	if (json) {
		printf("{\"filename\": ");
		json_put_str(stdout, blk_path(b));
		snapshots_json(b);
		printf("}\n");
	} else {
		snapshots_text(b);
	}
	return 0;
}

void disk_progress_init(struct disk_progress *p, bool json)
{
	p->enabled = !json && isatty(STDERR_FILENO);
	p->last_pct = -1;
}

void disk_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct disk_progress *p = opaque;
	int pct = total ? (int)(done * 100 / total) : 100, bars = pct / 5;

	if (!p->enabled || pct == p->last_pct)
		return;
	p->last_pct = pct;
	fprintf(stderr, "\r    (%3d%%) [%.*s%*s]", pct, bars, "####################", 20 - bars, "");
	fflush(stderr);
}

void disk_progress_done(struct disk_progress *p)
{
	if (p->enabled && p->last_pct >= 0)
		fprintf(stderr, "\n");
}
