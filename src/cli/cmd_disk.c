// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vireo disk`: create, inspect, check, clone, resize, convert, commit,
 * snapshot and map disk images (see man/vireo-disk.1).  Every subcommand
 * takes --json for machine-readable output.  Exit status: 0 success,
 * 1 error, 2 usage; check: 2 corruption found, 3 leaks only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd_disk.h"
#include "vireo/block.h"
#include "vireo/log.h"

struct disk_opts {
	bool json;
	enum blk_format fmt;	/* -f: format of the (source) image */
	enum blk_format out_fmt; /* -O / create -f */
	uint64_t cluster_size, block_size;
	bool fixed, repair, shrink, flatten, preallocate, keep;
	const char *backing;
	enum blk_format backing_fmt;
};

static int usage_disk(void)
{
	fprintf(stderr,
		"usage: vireo disk <command> [options]\n\n"
		"  create  [-f raw|qcow2|vhd] [--cluster-size N] [--block-size N] [--fixed]\n"
		"          [-b BACKING [-F FMT]] [--preallocate] IMAGE [SIZE]\n"
		"  info    [-f FMT] IMAGE              format, sizes, backing chain, snapshots\n"
		"  check   [-r] [-f FMT] IMAGE         find leaks and corruption (-r: repair leaks)\n"
		"  clone   [-f qcow2|vhd] PARENT CHILD copy-on-write child, constant time\n"
		"  resize  [--shrink] IMAGE [+]SIZE    grow (or shrink, if nothing is lost)\n"
		"  convert [-f FMT] -O FMT [--flatten] [--cluster-size N] SRC DST\n"
		"  commit  [--keep] IMAGE              merge IMAGE into its backing file, then empty it\n"
		"  snapshot list IMAGE | snapshot create IMAGE NAME   internal snapshots (qcow2)\n"
		"  map     IMAGE                       allocation map across the chain\n"
		"  io      IMAGE < SCRIPT              scripted I/O (tests): write/read/discard/flush\n"
		"  bench   [-c N] [-d DEPTH] [-s SIZE] [-S STEP] [-w] [-e auto|uring|threads] IMAGE\n"
		"All commands take --json.\n");
	return 2;
}

enum { OPT_JSON = 256, OPT_CLUSTER, OPT_BLOCK, OPT_FIXED, OPT_SHRINK, OPT_FLATTEN, OPT_PREALLOC,
       OPT_KEEP };

static const struct option long_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "cluster-size", required_argument, NULL, OPT_CLUSTER },
	{ "block-size", required_argument, NULL, OPT_BLOCK },
	{ "fixed", no_argument, NULL, OPT_FIXED },
	{ "shrink", no_argument, NULL, OPT_SHRINK },
	{ "flatten", no_argument, NULL, OPT_FLATTEN },
	{ "preallocate", no_argument, NULL, OPT_PREALLOC },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "repair", no_argument, NULL, 'r' },
	{ "format", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_fmt(const char *s, enum blk_format *f)
{
	if (blk_format_parse(s, f)) {
		fprintf(stderr, "vireo disk: unknown format '%s' (raw, qcow2, vhd)\n", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_size_arg(const char *s, uint64_t *v)
{
	if (parse_size(s, 1, v)) {
		fprintf(stderr, "vireo disk: bad size '%s' (examples: 512, 64K, 10M, 20G)\n", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_one(int c, struct disk_opts *o)
{
	switch (c) {
	case OPT_JSON: o->json = true; return 0;
	case OPT_CLUSTER: return parse_size_arg(optarg, &o->cluster_size);
	case OPT_BLOCK: return parse_size_arg(optarg, &o->block_size);
	case OPT_FIXED: o->fixed = true; return 0;
	case OPT_SHRINK: o->shrink = true; return 0;
	case OPT_FLATTEN: o->flatten = true; return 0;
	case OPT_PREALLOC: o->preallocate = true; return 0;
	case OPT_KEEP: o->keep = true; return 0;
	case 'r': o->repair = true; return 0;
	case 'f': return parse_fmt(optarg, &o->fmt);
	case 'O': return parse_fmt(optarg, &o->out_fmt);
	case 'F': return parse_fmt(optarg, &o->backing_fmt);
	case 'b': o->backing = optarg; return 0;
	default: return -EINVAL;
	}
}

/* Parse options; returns the index of the first operand or -1. */
static int parse_opts(int argc, char **argv, struct disk_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:O:F:b:rh", long_opts, NULL)) != -1) {
		if (c == 'h' || parse_one(c, o))
			return -1;
	}
	return optind;
}

static int fail(const char *what, const char *path, int err)
{
	fprintf(stderr, "vireo disk %s: %s: %s\n", what, path, strerror(-err));
	return 1;
}

/* ---- create / clone ----------------------------------------------------- */

static int do_create(int argc, char **argv)
{
	struct blk_create_opts co = { 0 };
	struct disk_opts o;
	int i = parse_opts(argc, argv, &o), err;

	if (i < 0 || argc - i < 1 || argc - i > 2 || (argc - i == 1 && !o.backing))
		return usage_disk();
	co.format = o.fmt ? o.fmt : BLK_FORMAT_QCOW2;
	if (argc - i == 2 && parse_size_arg(argv[i + 1], &co.size))
		return 2;
	co.cluster_size = o.cluster_size;
	co.block_size = o.block_size;
	co.vhd_fixed = o.fixed;
	co.backing = o.backing;
	co.backing_format = o.backing_fmt;
	co.preallocate = o.preallocate;
	err = blk_create(argv[i], &co);
	if (err)
		return fail("create", argv[i], err);
	return disk_print_created(argv[i], o.json);
}

static int do_clone(int argc, char **argv)
{
	struct blk_create_opts co = { 0 };
	struct disk_opts o;
	char *name;
	int i = parse_opts(argc, argv, &o), err;

	if (i < 0 || argc - i != 2)
		return usage_disk();
	co.format = o.fmt ? o.fmt : BLK_FORMAT_QCOW2;
	if (co.format == BLK_FORMAT_RAW) {
		fprintf(stderr, "vireo disk clone: raw images cannot have a parent; use -f qcow2 or -f vhd\n");
		return 2;
	}
	err = disk_backing_name(argv[i], argv[i + 1], &name);
	if (err)
		return fail("clone", argv[i], err);
	co.backing = name;
	err = blk_create(argv[i + 1], &co);
	free(name);
	if (err)
		return fail("clone", argv[i + 1], err);
	return disk_print_created(argv[i + 1], o.json);
}

/* ---- info / check / map / snapshot -------------------------------------- */

static int open_or_fail(const char *what, const char *path, enum blk_format f,
			unsigned flags, struct blk **b)
{
	int err = blk_open(path, f, flags, b);

	if (err)
		fail(what, path, err);
	return err;
}

static int do_info(int argc, char **argv)
{
	struct disk_opts o;
	struct blk *b;
	int i = parse_opts(argc, argv, &o);

	if (i < 0 || argc - i != 1)
		return usage_disk();
	if (open_or_fail("info", argv[i], o.fmt, BLK_OPEN_RDONLY, &b))
		return 1;
	disk_print_info(b, o.json);
	blk_close(b);
	return 0;
}

static int do_check(int argc, char **argv)
{
	struct blk_check res;
	struct disk_opts o;
	struct blk *b;
	unsigned flags = BLK_OPEN_NO_BACKING | BLK_OPEN_CHECK;
	int i = parse_opts(argc, argv, &o), err;

	if (i < 0 || argc - i != 1)
		return usage_disk();
	if (!o.repair)
		flags |= BLK_OPEN_RDONLY;
	if (open_or_fail("check", argv[i], o.fmt, flags, &b))
		return 1;
	err = blk_check(b, &res, o.repair);
	blk_close(b);
	if (err)
		return fail("check", argv[i], err);
	disk_print_check(argv[i], &res, o.json);
	if (res.corruptions)
		return 2;
	return res.leaks > res.leaks_fixed ? 3 : 0;
}

static int do_map(int argc, char **argv)
{
	struct disk_opts o;
	struct blk *b;
	int i = parse_opts(argc, argv, &o), err;

	if (i < 0 || argc - i != 1)
		return usage_disk();
	if (open_or_fail("map", argv[i], o.fmt, BLK_OPEN_RDONLY, &b))
		return 1;
	err = disk_print_map(b, o.json);
	blk_close(b);
	return err ? fail("map", argv[i], err) : 0;
}

static int do_snapshot(int argc, char **argv)
{
	struct disk_opts o;
	struct blk *b;
	int i = parse_opts(argc, argv, &o), err;
	bool create;

	if (i < 0 || argc - i < 2)
		return usage_disk();
	create = !strcmp(argv[i], "create");
	if ((!create && strcmp(argv[i], "list")) || argc - i != (create ? 3 : 2))
		return usage_disk();
	if (open_or_fail("snapshot", argv[i + 1], o.fmt, create ? 0 : BLK_OPEN_RDONLY, &b))
		return 1;
	if (create) {
		err = blk_snapshot_create(b, argv[i + 2]);
		if (!err)
			err = blk_flush(b);
	} else {
		err = disk_print_snapshots(b, o.json);
	}
	blk_close(b);
	if (err == -ENOTSUP)
		fprintf(stderr, "vireo disk snapshot: internal snapshots need a qcow2 image; "
			"for other formats use 'vireo disk clone'\n");
	if (err)
		return fail("snapshot", argv[i + 1], err);
	if (create && o.json)
		printf("{\"image\": \"%s\", \"snapshot\": \"%s\"}\n", argv[i + 1], argv[i + 2]);
	return 0;
}

/* ---- resize / convert / commit ------------------------------------------ */

static int do_resize(int argc, char **argv)
{
	struct disk_opts o;
	uint64_t size, lost = 0;
	const char *s;
	struct blk *b;
	int i = parse_opts(argc, argv, &o), err;

	if (i < 0 || argc - i != 2)
		return usage_disk();
	s = argv[i + 1];
	if (parse_size_arg(s + (*s == '+'), &size))
		return 2;
	if (open_or_fail("resize", argv[i], o.fmt, 0, &b))
		return 1;
	if (*s == '+')
		size += blk_size(b);
	size = ALIGN_UP(size, (uint64_t)BLK_SECTOR_SIZE);
	err = blk_resize(b, size, o.shrink, &lost);
	if (!err)
		err = blk_flush(b);
	if (err == -EPERM)
		fprintf(stderr, "vireo disk resize: %s: shrinking needs --shrink\n", argv[i]);
	else if (err == -ENOTEMPTY)
		fprintf(stderr, "vireo disk resize: %s: refusing to shrink: allocated data at "
			"offset %" PRIu64 " would be lost; move it below %" PRIu64 " first\n",
			argv[i], lost, size);
	else if (err)
		fail("resize", argv[i], err);
	if (!err && o.json)
		printf("{\"image\": \"%s\", \"virtual-size\": %" PRIu64 "}\n", argv[i], blk_size(b));
	blk_close(b);
	return err ? 1 : 0;
}

static int do_convert(int argc, char **argv)
{
	struct blk_create_opts co = { 0 };
	struct disk_opts o;
	struct disk_progress pr;
	struct blk *src, *dst;
	char *bname = NULL;
	int i = parse_opts(argc, argv, &o), err;
	bool top_only;

	if (i < 0 || argc - i != 2)
		return usage_disk();
	if (open_or_fail("convert", argv[i], o.fmt, BLK_OPEN_RDONLY, &src))
		return 1;
	co.format = o.out_fmt ? o.out_fmt : BLK_FORMAT_QCOW2;
	co.size = blk_size(src);
	co.cluster_size = o.cluster_size;
	co.block_size = o.block_size;
	co.vhd_fixed = o.fixed;
	top_only = blk_backing(src) && !o.flatten;
	if (top_only && co.format == BLK_FORMAT_RAW) {
		fprintf(stderr, "vireo disk convert: %s has a backing file and raw cannot keep one; "
			"add --flatten to copy the whole chain\n", argv[i]);
		blk_close(src);
		return 2;
	}
	if (top_only) {
		err = disk_backing_name(blk_path(blk_backing(src)), argv[i + 1], &bname);
		co.backing = bname;
		if (err) {
			blk_close(src);
			return fail("convert", argv[i], err);
		}
	}
	err = blk_create(argv[i + 1], &co);
	free(bname);
	if (!err)
		err = blk_open(argv[i + 1], co.format, 0, &dst);
	if (err) {
		blk_close(src);
		return fail("convert", argv[i + 1], err);
	}
	disk_progress_init(&pr, o.json);
	err = blk_copy(src, dst, top_only, disk_progress, &pr);
	disk_progress_done(&pr);
	blk_close(dst);
	blk_close(src);
	if (err)
		return fail("convert", argv[i + 1], err);
	return disk_print_created(argv[i + 1], o.json);
}

static int do_commit(int argc, char **argv)
{
	struct disk_progress pr;
	struct disk_opts o;
	int i = parse_opts(argc, argv, &o), err;

	if (i < 0 || argc - i != 1)
		return usage_disk();
	disk_progress_init(&pr, o.json);
	err = blk_commit(argv[i], o.keep, disk_progress, &pr);
	disk_progress_done(&pr);
	if (err)
		return fail("commit", argv[i], err);
	if (o.json)
		printf("{\"image\": \"%s\", \"committed\": true}\n", argv[i]);
	else
		printf("Image committed.\n");
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} disk_cmds[] = {
	{ "create", do_create }, { "info", do_info }, { "check", do_check },
	{ "clone", do_clone }, { "resize", do_resize }, { "convert", do_convert },
	{ "commit", do_commit }, { "snapshot", do_snapshot }, { "map", do_map },
	{ "io", disk_cmd_io }, { "bench", disk_cmd_bench },
};

int cmd_disk(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage_disk();
	for (size_t i = 0; i < ARRAY_SIZE(disk_cmds); i++)
		if (!strcmp(argv[1], disk_cmds[i].name))
			return disk_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vireo disk: unknown command '%s'\n", argv[1]);
	return usage_disk();
}
