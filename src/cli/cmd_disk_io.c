// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vireo disk io`: scripted I/O through the block layer (tests, like
 * qemu-io), and `vireo disk bench`: the same access pattern as
 * `qemu-img bench`, with requests carried by the I/O engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd_disk.h"
#include "vireo/ioeng.h"
#include "vireo/log.h"

/*
 * Script lines (sizes take K/M/G suffixes):
 *   write OFF LEN FILE FOFF   write LEN bytes read from FILE at FOFF
 *   fill OFF LEN BYTE         write LEN copies of BYTE
 *   verify OFF LEN FILE FOFF  read and compare with FILE; exit 1 on mismatch
 *   zero OFF LEN              read and require zeros
 *   discard OFF LEN
 *   flush                     then print "flushed N" (N = writes done so far)
 */
struct io_state {
	struct blk *b;
	unsigned long writes;
	unsigned long line;
	char *buf;
	size_t buflen;
};

static int need_buf(struct io_state *s, uint64_t len)
{
	char *p;

	if (len > 256 * MiB)
		return -EFBIG;
	if (len <= s->buflen)
		return 0;
	p = realloc(s->buf, len);
	if (!p)
		return -ENOMEM;
	s->buf = p;
	s->buflen = len;
	return 0;
}

static int file_bytes(const char *path, uint64_t off, uint64_t len, char *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = 0;
	for (uint64_t done = 0; done < len;) {
		ssize_t n = pread(fd, out + done, len - done, off + done);
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			close(fd);
			return err;
		}
		done += n;
	}
	close(fd);
	return 0;
}

static int io_data_cmd(struct io_state *s, const char *cmd, uint64_t off, uint64_t len,
		       const char *file, uint64_t foff)
{
	char *want;
	int err = need_buf(s, len);

	if (err)
		return err;
	if (!strcmp(cmd, "write")) {
		err = file_bytes(file, foff, len, s->buf);
		if (!err)
			err = blk_write(s->b, s->buf, off, len);
		s->writes += !err;
		return err;
	}
	want = malloc(len ? len : 1);
	if (!want)
		return -ENOMEM;
	err = file_bytes(file, foff, len, want);
	if (!err)
		err = blk_read(s->b, s->buf, off, len);
	if (!err && memcmp(want, s->buf, len)) {
		for (uint64_t i = 0; i < len; i++) {
			if (want[i] != s->buf[i]) {
				printf("mismatch at %" PRIu64 "\n", off + i);
				break;
			}
		}
		err = -EILSEQ;
	}
	free(want);
	return err;
}

static int io_simple_cmd(struct io_state *s, const char *cmd, uint64_t off, uint64_t len,
			 unsigned byte)
{
	int err = need_buf(s, len);

	if (err)
		return err;
	if (!strcmp(cmd, "fill")) {
		memset(s->buf, byte, len);
		err = blk_write(s->b, s->buf, off, len);
		s->writes += !err;
		return err;
	}
	if (!strcmp(cmd, "discard"))
		return blk_discard(s->b, off, len);
	err = blk_read(s->b, s->buf, off, len);	/* zero */
	if (!err && !blk_is_zero(s->buf, len)) {
		printf("mismatch: %" PRIu64 "+%" PRIu64 " is not zero\n", off, len);
		err = -EILSEQ;
	}
	return err;
}

static int io_line(struct io_state *s, char *line)
{
	char cmd[16], a[32], l[32], file[4096], fo[32];
	uint64_t off = 0, len = 0, foff = 0;
	unsigned byte = 0;
	int n = sscanf(line, "%15s %31s %31s %4095s %31s", cmd, a, l, file, fo);

	if (n <= 0 || cmd[0] == '#')
		return 0;
	if (!strcmp(cmd, "flush")) {
		int err = blk_flush(s->b);
		if (!err) {
			printf("flushed %lu\n", s->writes);
			fflush(stdout);
		}
		return err;
	}
	if (n < 3 || parse_size(a, 1, &off) || parse_size(l, 1, &len))
		return -EINVAL;
	if (!strcmp(cmd, "write") || !strcmp(cmd, "verify")) {
		if (n < 5 || parse_size(fo, 1, &foff))
			return -EINVAL;
		return io_data_cmd(s, cmd, off, len, file, foff);
	}
	if (!strcmp(cmd, "fill") && (n < 4 || sscanf(file, "%i", (int *)&byte) != 1))
		return -EINVAL;
	if (strcmp(cmd, "fill") && strcmp(cmd, "discard") && strcmp(cmd, "zero"))
		return -EINVAL;
	return io_simple_cmd(s, cmd, off, len, byte);
}

int disk_cmd_io(int argc, char **argv)
{
	struct io_state s = { 0 };
	enum blk_format fmt = BLK_FORMAT_AUTO;
	char line[8192];
	int err = 0;

	if (argc == 4 && !strcmp(argv[1], "-f") && !blk_format_parse(argv[2], &fmt)) {
		argv += 2;
		argc -= 2;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: vireo disk io [-f FMT] IMAGE < SCRIPT\n");
		return 2;
	}
	err = blk_open(argv[1], fmt, 0, &s.b);
	if (err) {
		fprintf(stderr, "vireo disk io: %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	while (!err && fgets(line, sizeof(line), stdin)) {
		s.line++;
		err = io_line(&s, line);
		if (err)
			fprintf(stderr, "vireo disk io: line %lu: %s: %s", s.line,
				strerror(-err), line);
	}
	if (!err)
		err = blk_flush(s.b);
	blk_close(s.b);
	free(s.buf);
	if (!err)
		printf("ok\n");
	return err ? 1 : 0;
}

/* ---- bench ------------------------------------------------------------- */

struct bench {
	struct blk *b;
	struct ioeng *eng;
	uint64_t size, count, submitted, completed, offset, step, bufsize;
	bool write;
	bool buf_per_req;	/* -B: a buffer per request, else one shared */
	int err;
	struct bench_slot {
		struct blk_aio aio;
		struct bench *bench;
		unsigned idx;
	} *slots;
	unsigned *free_slots, nfree;
	char *bufs;
};

static void bench_done(struct blk_aio *a, int err)
{
	struct bench_slot *slot = a->opaque;
	struct bench *bn = slot->bench;

	bn->free_slots[bn->nfree++] = slot->idx;
	if (err && !bn->err)
		bn->err = err;
	bn->completed++;
}

static uint64_t bench_next_offset(struct bench *bn)
{
	uint64_t off = bn->offset;

	/* qemu-img bench's rule (7.2): wrap modulo the image size, so offsets
	 * keep the alignment of STEP and the size.  Where that would run past
	 * the end (qemu-img 7.2 fails the request there), wrap modulo the
	 * usable range as later qemu-img does. */
	bn->offset = (bn->offset + bn->step) % bn->size;
	if (bn->offset + bn->bufsize > bn->size)
		bn->offset = bn->size > bn->bufsize ? bn->offset % (bn->size - bn->bufsize) : 0;
	bn->offset = ALIGN_DOWN(bn->offset, (uint64_t)BLK_SECTOR_SIZE);
	return off;
}

/* Start one request in free slot i (the block layer picks the path). */
static int bench_issue(struct bench *bn, unsigned i)
{
	struct blk_aio *a = &bn->slots[i].aio;
	int err;

	a->op = bn->write ? BLK_AIO_WRITE : BLK_AIO_READ;
	/* qemu-img bench (up to at least 7.2) passes its first I/O vector to
	 * every request, so all of them copy from or to the same, cache-hot
	 * buffer; do the same unless -B asks for a buffer per request (what a
	 * guest's queue looks like: DEPTH x SIZE bytes streamed from memory). */
	a->buf = bn->bufs + (bn->buf_per_req ? i * bn->bufsize : 0);
	a->off = bench_next_offset(bn);
	a->len = bn->bufsize;
	a->done = bench_done;
	a->opaque = &bn->slots[i];
	/* Take the slot first: a synchronous request may run other callbacks,
	 * which push their slots, before blk_aio_submit() returns. */
	bn->nfree--;
	err = blk_aio_submit(bn->b, bn->eng, a);
	if (err)
		bn->free_slots[bn->nfree++] = i;
	else
		bn->submitted++;
	return err;
}

static int bench_run(struct bench *bn)
{
	int err;

	while (bn->completed < bn->count && !bn->err) {
		while (bn->submitted < bn->count && bn->nfree && !bn->err) {
			err = bench_issue(bn, bn->free_slots[bn->nfree - 1]);
			if (err == -EAGAIN)
				break;
			if (err)
				return err;
		}
		err = ioeng_reap(bn->eng, 1);	/* kicks the batch first */
		if (err < 0)
			return err;
	}
	return bn->err;
}

/* Options in qemu-img bench's spelling; returns 0 or 2 (usage). */
static int bench_parse(int argc, char **argv, struct bench *bn, enum ioeng_kind *kind,
		       unsigned *depth)
{
	uint64_t v;
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "c:d:s:S:o:we:B")) != -1) {
		if (c == 'w') {
			bn->write = true;
			continue;
		}
		if (c == 'B') {
			bn->buf_per_req = true;
			continue;
		}
		if (c == 'e') {
			*kind = !strcmp(optarg, "uring") ? IOENG_URING :
				!strcmp(optarg, "threads") ? IOENG_THREADS : IOENG_AUTO;
			continue;
		}
		if (c == '?' || parse_size(optarg, 1, &v))
			return 2;
		switch (c) {
		case 'c': bn->count = v; break;
		case 'd': *depth = v; break;
		case 's': bn->bufsize = v; break;
		case 'S': bn->step = v; break;
		case 'o': bn->offset = v; break;
		}
	}
	if (optind != argc - 1 || !*depth || *depth > 1024 || !bn->bufsize ||
	    bn->bufsize % BLK_SECTOR_SIZE || bn->bufsize > 64 * MiB || bn->offset % BLK_SECTOR_SIZE) {
		fprintf(stderr, "usage: vireo disk bench [-c COUNT] [-d DEPTH] [-s SIZE] [-S STEP] "
			"[-o OFFSET] [-w] [-B] [-e auto|uring|threads] IMAGE\n");
		return 2;
	}
	if (!bn->step)
		bn->step = bn->bufsize;
	return 0;
}

static int bench_setup(struct bench *bn, enum ioeng_kind kind, unsigned depth)
{
	int err;

	bn->size = blk_size(bn->b);
	if (bn->bufsize > bn->size || bn->offset > bn->size - bn->bufsize)
		return -EINVAL;
	err = ioeng_create(kind, depth, &bn->eng);
	if (err)
		return err;
	bn->slots = calloc(depth, sizeof(*bn->slots));
	bn->free_slots = calloc(depth, sizeof(*bn->free_slots));
	bn->bufs = aligned_alloc(4096, ALIGN_UP(depth * bn->bufsize, 4096ULL));
	if (!bn->slots || !bn->free_slots || !bn->bufs)
		return -ENOMEM;
	for (unsigned i = 0; i < depth; i++) {
		bn->slots[i].bench = bn;
		bn->slots[i].idx = i;
		bn->free_slots[bn->nfree++] = i;
	}
	memset(bn->bufs, 0xa5, depth * bn->bufsize);
	return 0;
}

int disk_cmd_bench(int argc, char **argv)
{
	struct bench bn = { .count = 75000, .bufsize = 4096 };
	enum ioeng_kind kind = IOENG_AUTO;
	unsigned depth = 64;
	uint64_t t0;
	int err;

	if (bench_parse(argc, argv, &bn, &kind, &depth))
		return 2;
	err = blk_open(argv[optind], BLK_FORMAT_AUTO, bn.write ? 0 : BLK_OPEN_RDONLY, &bn.b);
	if (err) {
		fprintf(stderr, "vireo disk bench: %s: %s\n", argv[optind], strerror(-err));
		return 1;
	}
	err = bench_setup(&bn, kind, depth);
	if (!err) {
		printf("Sending %" PRIu64 " %s requests, %" PRIu64 " bytes each, %u in parallel "
		       "(engine %s)\n", bn.count, bn.write ? "write" : "read", bn.bufsize, depth,
		       ioeng_name(bn.eng));
		t0 = now_ns();
		/* Like qemu-img bench: no flush inside the timed run. */
		err = bench_run(&bn);
		printf("Run completed in %.3f seconds.\n", (now_ns() - t0) / 1e9);
		if (!err && bn.write)
			err = blk_flush(bn.b);
	}
	ioeng_destroy(bn.eng);
	free(bn.slots);
	free(bn.free_slots);
	free(bn.bufs);
	blk_close(bn.b);
	if (err)
		fprintf(stderr, "vireo disk bench: %s\n", strerror(-err));
	return err ? 1 : 0;
}
