/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_CLI_CMD_DISK_H
#define VIREO_CLI_CMD_DISK_H

/* Helpers of `vireo disk` (cmd_disk*.c), private to the CLI. */

#include <stdbool.h>
#include <stdio.h>

#include "vireo/block.h"

/* Write s as a JSON string literal. */
void json_put_str(FILE *f, const char *s);

/* The name a child stores for `parent`: bare name when both share a
 * directory, else the parent's absolute path.  *out is malloc'd. */
int disk_backing_name(const char *parent, const char *child, char **out);

/* Output of each command; text for people, or one JSON document. */
int disk_print_created(const char *path, bool json);
void disk_print_info(struct blk *b, bool json);
void disk_print_check(const char *path, const struct blk_check *res, bool json);
int disk_print_map(struct blk *b, bool json);
int disk_print_snapshots(struct blk *b, bool json);

/* Progress bar on stderr, drawn only when stderr is a terminal and the
 * output is not JSON.  Pass a struct disk_progress * as the opaque. */
struct disk_progress {
	bool enabled;
	int last_pct;
};
void disk_progress_init(struct disk_progress *p, bool json);
void disk_progress(void *opaque, uint64_t done, uint64_t total);
void disk_progress_done(struct disk_progress *p);

/* `vireo disk io` and `vireo disk bench`. */
int disk_cmd_io(int argc, char **argv);
int disk_cmd_bench(int argc, char **argv);

#endif
