/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_BLOCK_H
#define VIREO_BLOCK_H

/*
 * Disk images behind one interface.
 *
 * A `struct blk` is one open image file of some format (raw, qcow2, VHD)
 * plus, for formats with copy-on-write chains, its opened backing image
 * (which is itself a `struct blk`, of any format).  Front ends (virtio-blk,
 * the `vireo disk` command) use only the blk_*() functions below and never
 * learn the format.
 *
 * Addressing: offsets and lengths are in bytes of the virtual disk.  Reads
 * and writes must be multiples of BLK_SECTOR_SIZE (512) at 512-aligned
 * offsets; anything else is -EINVAL.  Accesses past blk_size() are -EINVAL.
 *
 * Durability: a write returns once the data and the metadata that locates
 * it have been handed to the host kernel in an order that keeps the image
 * consistent if the process dies at any point (leaked clusters possible,
 * never a cluster referenced without a refcount).  blk_flush() makes every
 * write that returned before it durable (fdatasync of every file written).
 *
 * Locking: a `struct blk` is not thread-safe; one thread (the monitor's
 * event loop, or the CLI) owns it.  Asynchronous I/O goes through the I/O
 * engine in vireo/ioeng.h using blk_map() to find host extents.
 *
 * Errors: every int-returning function returns 0 or -errno.  Malformed
 * images give -EINVAL (or -EFBIG for absurd sizes) and a log_warnx() line
 * naming the file and the field that is wrong.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vireo/ioeng.h"
#include "vireo/util.h"

#define BLK_SECTOR_SIZE 512u
/* Longest backing chain followed before reporting a loop. */
#define BLK_MAX_CHAIN 64
/* Largest virtual disk any driver accepts (64 TiB). */
#define BLK_MAX_SIZE (64ULL << 40)

enum blk_format {
	BLK_FORMAT_AUTO = 0,	/* probe the file's magic */
	BLK_FORMAT_RAW,
	BLK_FORMAT_QCOW2,
	BLK_FORMAT_VHD,
};

enum blk_open_flags {
	BLK_OPEN_RDONLY = 1u << 0,
	/* Do not open the backing chain (reads of unallocated ranges fail). */
	BLK_OPEN_NO_BACKING = 1u << 1,
	/* Open a qcow2 marked dirty/corrupt so that check can inspect it. */
	BLK_OPEN_CHECK = 1u << 2,
};

struct blk;

/* One extent of the allocation map, as returned by blk_block_status(). */
enum blk_status {
	BLK_STATUS_ALLOCATED = 1u << 0, /* this layer defines the contents */
	BLK_STATUS_DATA = 1u << 1,	/* contents come from a host file extent */
	BLK_STATUS_ZERO = 1u << 2,	/* contents read as zeros */
	BLK_STATUS_COMPRESSED = 1u << 3,
	BLK_STATUS_SHARED = 1u << 4,	/* host data shared (snapshot): writes copy */
};

struct blk_extent {
	uint64_t off, len;	/* virtual range */
	unsigned status;	/* enum blk_status bits */
	uint64_t host_off;	/* valid when DATA and not COMPRESSED */
	int depth;		/* 0 = top image, 1 = its backing, ... */
	const struct blk *layer; /* image that defines the range (NULL: past chain) */
};

struct blk_create_opts {
	enum blk_format format;	/* RAW, QCOW2 or VHD */
	uint64_t size;		/* virtual size in bytes (0 with backing: inherit) */
	uint32_t cluster_size;	/* qcow2: 512..2 MiB, power of 2 (0: 64 KiB) */
	uint32_t block_size;	/* VHD: data block size (0: 2 MiB) */
	bool vhd_fixed;		/* VHD: fixed instead of dynamic */
	const char *backing;	/* backing image path, as stored (relative to the image's dir) */
	enum blk_format backing_format; /* AUTO: probe */
	bool preallocate;	/* raw: fallocate the whole size */
};

struct blk_check {
	uint64_t corruptions;	/* references without refcount, bad offsets, overlaps */
	uint64_t leaks;		/* clusters with refcount but no reference */
	uint64_t leaks_fixed;
	uint64_t corruptions_fixed;
	uint64_t allocated_clusters;
	uint64_t total_clusters;
	uint64_t image_end;	/* first byte past the last used host cluster */
	char first_error[256];	/* the first problem found, for the user */
};

struct blk_snapshot {
	char id[64];
	char name[256];
	uint64_t vm_state_size;
	uint64_t disk_size;
	uint32_t date_sec, date_nsec;
	uint64_t vm_clock_nsec;
};

/* Static description of an open image (see blk_info()). */
struct blk_info {
	enum blk_format format;
	const char *format_name;
	uint64_t virtual_size;
	uint64_t file_size;	/* st_size of the image file */
	uint64_t allocated;	/* bytes the host file system allocated */
	uint32_t cluster_size;	/* qcow2 cluster / VHD block size; 0 for raw */
	const char *backing;	/* as stored in the image, or NULL */
	const char *backing_path; /* resolved path, or NULL */
	const char *subformat;	/* "v3", "dynamic", "fixed", "differencing", ... */
	bool dirty, corrupt;
};

typedef void (*blk_progress_fn)(void *opaque, uint64_t done, uint64_t total);

/* Format name ("raw", "qcow2", "vhd"; "vpc" accepted as an alias). */
const char *blk_format_name(enum blk_format f);
int blk_format_parse(const char *name, enum blk_format *out) WUR;

/*
 * Probe the format of the file at `path` from its magic.  A file with no
 * known magic is RAW.  Returns 0 or -errno.
 */
int blk_probe(const char *path, enum blk_format *out) WUR;

/*
 * Open the image at `path`.  fmt AUTO probes the magic (qcow2, VHD, else
 * raw); an explicit format is used as given (a qcow2 file opened as raw
 * shows its bytes).  Backing files are opened read-only, with the format
 * the image records (qcow2 always records it) or probed, relative to the
 * image's directory;
 * a chain longer than BLK_MAX_CHAIN or revisiting a file is -ELOOP.
 * On success *out owns the file and the chain; release with blk_close().
 */
int blk_open(const char *path, enum blk_format fmt, unsigned flags,
	     struct blk **out) WUR;

/* Close the image and its backing chain.  NULL is a no-op. */
void blk_close(struct blk *b);

/* Virtual size in bytes. */
uint64_t blk_size(const struct blk *b);
/* The open backing image, or NULL. */
struct blk *blk_backing(const struct blk *b);
const char *blk_path(const struct blk *b);
bool blk_read_only(const struct blk *b);
/* Fill *info; pointers in it stay valid until blk_close(). */
void blk_info_get(struct blk *b, struct blk_info *info);

/* Read `len` bytes at `off` (512-aligned).  Unallocated ranges come from
 * the backing chain, or read as zeros. */
int blk_read(struct blk *b, void *buf, uint64_t off, size_t len) WUR;
/* Write `len` bytes at `off` (512-aligned).  -EROFS on a read-only image. */
int blk_write(struct blk *b, const void *buf, uint64_t off, size_t len) WUR;
/* Make every completed write durable. */
int blk_flush(struct blk *b) WUR;
/*
 * Discard: after it the range reads as zeros (formats with backing files
 * record zero clusters so the backing does not show through).  Ranges that
 * do not cover whole clusters/blocks are zeroed by writing.
 */
int blk_discard(struct blk *b, uint64_t off, uint64_t len) WUR;
/*
 * Change the virtual size.  Growing always works where the format allows;
 * shrinking needs allow_shrink and fails with -ENOTEMPTY when the range cut
 * off holds allocated non-zero data (*lost_off tells where, may be NULL).
 */
int blk_resize(struct blk *b, uint64_t size, bool allow_shrink,
	       uint64_t *lost_off) WUR;
/*
 * Allocation map: describe the extent that starts at `off` (at most `len`
 * bytes) in *ext, following the backing chain.  ext->len > 0 on success.
 */
int blk_block_status(struct blk *b, uint64_t off, uint64_t len,
		     struct blk_extent *ext) WUR;
/*
 * Consistency check.  `repair` fixes leaks (and nothing that could lose
 * data).  Returns 0 when the check ran (look at *res), -errno otherwise.
 */
int blk_check(struct blk *b, struct blk_check *res, bool repair) WUR;
/* Internal snapshots (qcow2).  *list is malloc'd; other formats give n = 0. */
int blk_snapshot_list(struct blk *b, struct blk_snapshot **list, int *n) WUR;
/* Create an internal snapshot of the active state (qcow2 only, else -ENOTSUP). */
int blk_snapshot_create(struct blk *b, const char *name) WUR;
/*
 * Point the image at a different backing file (qcow2, VHD differencing)
 * without copying data: the caller guarantees the contents match.
 */
int blk_set_backing(struct blk *b, const char *backing, enum blk_format fmt) WUR;

/*
 * Fast path for the I/O engine: if [off, off+len) starts in a range this
 * top image stores as plain host data that may be overwritten in place,
 * return its file descriptor, host offset and the length of that run
 * (*pnum <= len).  Returns 0 with *fd = -1 when the range needs the slow
 * path (blk_read/blk_write).
 */
int blk_map(struct blk *b, uint64_t off, uint64_t len, bool for_write,
	    int *fd, uint64_t *host_off, uint64_t *pnum) WUR;

/*
 * Asynchronous requests for the monitor (virtio-blk): reads and writes
 * that land on host data writable in place (blk_map) are carried by the
 * I/O engine; the rest (allocation, copy-on-write, backing reads, discard)
 * run synchronously inside blk_aio_submit().  Either way the callback runs
 * later, inside ioeng_reap(), with 0 or -errno.
 *
 * Ordering: like virtio, requests in flight are unordered; FLUSH covers
 * requests that completed before it was submitted.  DISCARD and writes
 * that allocate first wait for every request in flight on the engine (so
 * that no in-place write can land in a cluster being freed and reused):
 * other requests' callbacks may therefore run inside blk_aio_submit().
 */
enum blk_aio_op { BLK_AIO_READ, BLK_AIO_WRITE, BLK_AIO_FLUSH, BLK_AIO_DISCARD };

struct blk_aio {
	enum blk_aio_op op;
	void *buf;		/* READ/WRITE */
	uint64_t off;		/* 512-aligned, like blk_read() */
	size_t len;
	void (*done)(struct blk_aio *a, int err);
	void *opaque;
	/* Private. */
	struct ioeng_req req;
	struct blk *blk;
};

/* Start one request; returns 0 (the callback will run) or -errno (it will
 * not: bad arguments, -EAGAIN when the engine is at its depth). */
int blk_aio_submit(struct blk *b, struct ioeng *e, struct blk_aio *a) WUR;

/* True when all len bytes of buf are zero. */
bool blk_is_zero(const void *buf, size_t len);

/* Create a new image file (O_EXCL: an existing file is -EEXIST). */
int blk_create(const char *path, const struct blk_create_opts *opts) WUR;

/*
 * Copy the whole virtual contents of src into dst (same size or larger),
 * skipping ranges that read as zero.  With top_only, copy only the ranges
 * that src's top image allocates (for chains kept by dst's backing file).
 */
int blk_copy(struct blk *src, struct blk *dst, bool top_only,
	     blk_progress_fn progress, void *opaque) WUR;

/*
 * Merge the top image into its backing file: every range the top allocates
 * is written into the backing image, reopened read-write.  Then, unless
 * `keep`, the top is emptied (qcow2, VHD differencing) so that it reads
 * through to the updated backing file.  Images above the backing that
 * share it see the change too.
 */
int blk_commit(const char *path, bool keep, blk_progress_fn progress, void *opaque) WUR;

#endif
