// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vireo sr`: storage repositories (see man/vireo-sr.1).
 *   create --type dir|nfs NAME PATH, list, disks NAME, forget NAME
 * The inventory lives in $VIREO_STATE_DIR (default /var/lib/vireo).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_disk.h"
#include "vireo/log.h"
#include "vireo/sr.h"

static int usage_sr(void)
{
	fprintf(stderr,
		"usage: vireo sr <command> [--json]\n\n"
		"  create --type dir|nfs NAME PATH   register a repository\n"
		"  list                              repositories\n"
		"  disks NAME                        scan NAME: disks with size, allocation, parent\n"
		"  forget NAME                       drop NAME from the inventory (files stay)\n\n"
		"An nfs repository is a directory that every sharing host mounts at PATH.\n"
		"State: $VIREO_STATE_DIR/storage.db (default /var/lib/vireo).\n");
	return 2;
}

static void sr_json(const struct sr *s)
{
	printf("{\"uuid\": \"%s\", \"name\": ", s->uuid);
	json_put_str(stdout, s->name);
	printf(", \"type\": \"%s\", \"path\": ", sr_type_name(s->type));
	json_put_str(stdout, s->path);
	printf(", \"shared\": %s, \"created\": %" PRId64 "}", s->shared ? "true" : "false",
	       s->created);
}

static int sr_do_create(struct sr_db *db, int argc, char **argv, bool json)
{
	enum sr_type type = SR_TYPE_DIR;
	const char *t = NULL;
	struct sr s;
	int err;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--type") && i + 1 < argc) {
			t = argv[i + 1];
			memmove(&argv[i], &argv[i + 2], (argc - i - 2) * sizeof(*argv));
			argc -= 2;
			break;
		}
	}
	if (argc != 2 || (t && sr_type_parse(t, &type)))
		return usage_sr();
	err = sr_create(db, argv[0], type, argv[1], &s);
	if (err == -EEXIST)
		fprintf(stderr, "vireo sr create: a repository named '%s' already exists\n", argv[0]);
	else if (err == -ENOTDIR || err == -ENOENT)
		fprintf(stderr, "vireo sr create: %s is not a directory%s\n", argv[1],
			type == SR_TYPE_NFS ? " (mount the NFS export there first)" : "");
	else if (err == -EINVAL)
		fprintf(stderr, "vireo sr create: bad name '%s' (1-63 chars, no '/')\n", argv[0]);
	else if (err)
		fprintf(stderr, "vireo sr create: %s\n", strerror(-err));
	if (err)
		return 1;
	if (json) {
		sr_json(&s);
		printf("\n");
	} else {
		printf("%s\n", s.uuid);
	}
	return 0;
}

static int sr_do_list(struct sr_db *db, bool json)
{
	struct sr *l;
	int n, err = sr_list(db, &l, &n);

	if (err)
		return 1;
	if (json)
		printf("[");
	else
		printf("%-20s %-4s %-36s %s\n", "NAME", "TYPE", "UUID", "PATH");
	for (int i = 0; i < n; i++) {
		if (json) {
			printf("%s", i ? ", " : "");
			sr_json(&l[i]);
		} else {
			printf("%-20s %-4s %-36s %s\n", l[i].name, sr_type_name(l[i].type),
			       l[i].uuid, l[i].path);
		}
	}
	if (json)
		printf("]\n");
	free(l);
	return 0;
}

static void vdi_json(const struct sr_vdi *v, bool first)
{
	printf("%s{\"name\": ", first ? "" : ", ");
	json_put_str(stdout, v->name);
	printf(", \"format\": \"%s\", \"virtual-size\": %" PRIu64 ", \"allocated\": %" PRIu64
	       ", \"parent\": ", v->format, v->virtual_size, v->allocated);
	json_put_str(stdout, v->parent[0] ? v->parent : NULL);
	printf(", \"error\": ");
	json_put_str(stdout, v->error[0] ? v->error : NULL);
	printf("}");
}

static int sr_do_disks(struct sr_db *db, const char *name, bool json)
{
	struct sr_vdi *l;
	struct sr s;
	int n, err = sr_get(db, name, &s);

	if (err == -ENOENT) {
		fprintf(stderr, "vireo sr: no repository named '%s' (see 'vireo sr list')\n", name);
		return 1;
	}
	if (err || sr_scan(db, &s, &l, &n))
		return 1;
	if (json)
		printf("{\"sr\": ");
	if (json) {
		sr_json(&s);
		printf(", \"disks\": [");
	} else {
		printf("%-24s %-6s %14s %14s  %s\n", "DISK", "FORMAT", "VIRTUAL", "ALLOCATED", "PARENT");
	}
	for (int i = 0; i < n; i++) {
		if (json)
			vdi_json(&l[i], i == 0);
		else
			printf("%-24s %-6s %14" PRIu64 " %14" PRIu64 "  %s%s%s\n", l[i].name,
			       l[i].format, l[i].virtual_size, l[i].allocated,
			       l[i].parent[0] ? l[i].parent : "-",
			       l[i].error[0] ? "  error: " : "", l[i].error);
	}
	if (json)
		printf("]}\n");
	free(l);
	return 0;
}

int cmd_sr(int argc, char **argv)
{
	struct sr_db *db;
	bool json = false;
	int ret, j = 0;

	/* --json may appear anywhere. */
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else
			argv[j++] = argv[i];
	}
	argc = j;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage_sr();
	if (strcmp(argv[1], "create") && strcmp(argv[1], "list") && strcmp(argv[1], "disks") &&
	    strcmp(argv[1], "scan") && strcmp(argv[1], "forget"))
		return usage_sr();
	if (sr_db_open(NULL, &db))
		return 1;
	if (!strcmp(argv[1], "create"))
		ret = sr_do_create(db, argc - 2, argv + 2, json);
	else if (!strcmp(argv[1], "list"))
		ret = argc == 2 ? sr_do_list(db, json) : usage_sr();
	else if (!strcmp(argv[1], "forget")) {
		ret = argc == 3 ? sr_forget(db, argv[2]) : -EINVAL;
		if (ret)
			fprintf(stderr, "vireo sr forget: %s\n", ret == -ENOENT ?
				"no such repository" : strerror(-ret));
		ret = ret ? 1 : 0;
	} else
		ret = argc == 3 ? sr_do_disks(db, argv[2], json) : usage_sr();
	sr_db_close(db);
	return ret;
}
