// SPDX-License-Identifier: GPL-2.0-only
/*
 * VHD images per Microsoft's "Virtual Hard Disk Image Format Specification"
 * (October 2006): fixed (data + footer), dynamic (footer copy, dynamic disk
 * header, block allocation table, blocks of sector bitmap + data, footer)
 * and differencing (a dynamic disk whose sector bitmaps say which sectors
 * come from this file; the rest from the parent named by parent locators).
 *
 * Block allocation order (crash safety): write the new footer past the new
 * block, then the bitmap over the old footer, then the data, and only then
 * the BAT entry.  A crash leaves an unreferenced block, never a BAT entry
 * pointing at garbage, and always a footer at the end of the file.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "block/blk_int.h"
#include "vireo/log.h"

/* Hard disk footer fields (spec: "Hard Disk Footer Format"). */
#define VF_COOKIE 0
#define VF_FEATURES 8
#define VF_VERSION 12
#define VF_DATA_OFFSET 16
#define VF_TIMESTAMP 24
#define VF_CREATOR_APP 28
#define VF_CREATOR_VER 32
#define VF_CREATOR_OS 36
#define VF_ORIG_SIZE 40
#define VF_CUR_SIZE 48
#define VF_GEOMETRY 56
#define VF_TYPE 60
#define VF_CHECKSUM 64
#define VF_UUID 68
#define VF_SIZE 512

/* Dynamic disk header fields (spec: "Dynamic Disk Header Format"). */
#define VD_COOKIE 0
#define VD_DATA_OFFSET 8
#define VD_TABLE_OFFSET 16
#define VD_VERSION 24
#define VD_MAX_ENTRIES 28
#define VD_BLOCK_SIZE 32
#define VD_CHECKSUM 36
#define VD_PARENT_UUID 40
#define VD_PARENT_TIME 56
#define VD_PARENT_NAME 64
#define VD_LOCATORS 576
#define VD_SIZE 1024

#define VHD_FIXED 2
#define VHD_DYNAMIC 3
#define VHD_DIFF 4
#define VHD_BAT_FREE 0xffffffffu
#define VHD_EPOCH 946684800	/* 2000-01-01 00:00:00 UTC */
#define VHD_MAX_BAT_ENTRIES (16u * 1024 * 1024)
#define VHD_MAX_CHS (65535ULL * 16 * 255)

struct vhd {
	uint8_t footer[VF_SIZE];
	uint32_t type;
	uint64_t footer_pos;	/* where the trailing footer sits */
	uint64_t dyn_offset;
	uint8_t dyn[VD_SIZE];
	uint64_t bat_offset;
	uint32_t max_entries;
	uint32_t block_size;
	uint32_t bitmap_size;	/* bytes, sector-aligned */
	uint32_t *bat;		/* host order */
	uint8_t *bitmap;	/* cached bitmap of bitmap_block */
	uint32_t bitmap_block;
};

#define V(b) ((struct vhd *)(b)->priv)

static uint32_t vhd_checksum(const uint8_t *p, size_t len, size_t skip)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		if (i < skip || i >= skip + 4)
			sum += p[i];
	return ~sum;
}

/* CHS from a sector count (spec appendix: "CHS Calculation"). */
static void chs_calc(uint64_t sectors, uint16_t *c, uint8_t *h, uint8_t *s)
{
	uint64_t cth;
	uint32_t spt, heads;

	if (sectors > VHD_MAX_CHS)
		sectors = VHD_MAX_CHS;
	if (sectors >= 65535ULL * 16 * 63) {
		spt = 255;
		heads = 16;
		cth = sectors / spt;
	} else {
		spt = 17;
		cth = sectors / spt;
		heads = (cth + 1023) / 1024;
		if (heads < 4)
			heads = 4;
		if (cth >= heads * 1024ULL || heads > 16) {
			spt = 31;
			heads = 16;
			cth = sectors / spt;
		}
		if (cth >= heads * 1024ULL) {
			spt = 63;
			heads = 16;
			cth = sectors / spt;
		}
	}
	*c = cth / heads;
	*h = heads;
	*s = spt;
}

/*
 * Round a size up so that the CHS geometry describes it exactly, as QEMU
 * and Virtual PC read sizes from the geometry; sizes past the largest
 * geometry are kept as they are.
 */
static uint64_t chs_round(uint64_t size, uint8_t geo[4])
{
	uint64_t want = (size + 511) / 512, s = want;
	uint16_t c = 0;
	uint8_t h = 0, spt = 0;

	for (int i = 0; i < 100000; i++, s++) {
		chs_calc(s, &c, &h, &spt);
		if ((uint64_t)c * h * spt >= want || (uint64_t)c * h * spt == VHD_MAX_CHS)
			break;
	}
	st_be16(geo, c);
	geo[2] = h;
	geo[3] = spt;
	if ((uint64_t)c * h * spt == VHD_MAX_CHS || (uint64_t)c * h * spt < want)
		return want * 512;
	return (uint64_t)c * h * spt * 512;
}

/* The virtual size, as QEMU's vpc driver computes it. */
static uint64_t footer_size(const uint8_t *f)
{
	static const char *const cur_size_apps[] = { "win ", "qem2", "d2v ", "CTXS", "vire" };
	uint64_t chs = (uint64_t)ld_be16(f + VF_GEOMETRY) * f[VF_GEOMETRY + 2] *
		       f[VF_GEOMETRY + 3];
	bool use_chs = memcmp(f + VF_CREATOR_APP, "tap\0", 4) != 0;

	for (size_t i = 0; i < ARRAY_SIZE(cur_size_apps); i++)
		if (!memcmp(f + VF_CREATOR_APP, cur_size_apps[i], 4))
			use_chs = false;
	if (!use_chs || chs == VHD_MAX_CHS)
		return ld_be64(f + VF_CUR_SIZE);
	return chs * 512;
}

static bool vhd_probe(const uint8_t *head, size_t len, const uint8_t *tail, uint64_t fsize)
{
	return (len >= 8 && !memcmp(head, "conectix", 8)) ||
	       (fsize >= VF_SIZE && !memcmp(tail, "conectix", 8));
}

static int bad(struct blk *b, int err, const char *what)
{
	log_warnx("%s: not a usable VHD image: %s", b->path, what);
	return err;
}

/* UTF-16 (le or be) to UTF-8, BMP only; Windows separators become '/'. */
static char *utf16_to_utf8(const uint8_t *p, size_t bytes, bool le)
{
	char *out = malloc(bytes * 2 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i + 1 < bytes; i += 2) {
		uint16_t ch = le ? (p[i] | p[i + 1] << 8) : (p[i] << 8 | p[i + 1]);
		if (!ch)
			break;
		if (ch == '\\')
			ch = '/';
		if (ch < 0x80) {
			*o++ = ch;
		} else if (ch < 0x800) {
			*o++ = 0xc0 | (ch >> 6);
			*o++ = 0x80 | (ch & 0x3f);
		} else {
			*o++ = 0xe0 | (ch >> 12);
			*o++ = 0x80 | ((ch >> 6) & 0x3f);
			*o++ = 0x80 | (ch & 0x3f);
		}
	}
	*o = 0;
	return out;
}

static size_t utf8_to_utf16(const char *s, uint8_t *out, size_t max, bool le)
{
	size_t n = 0;

	/* Paths are taken byte by byte: ASCII is what locators hold in practice. */
	for (; *s && n + 2 <= max; s++, n += 2) {
		uint16_t ch = (unsigned char)*s;
		out[n] = le ? ch & 0xff : ch >> 8;
		out[n + 1] = le ? ch >> 8 : ch & 0xff;
	}
	return n;
}

/* Pick the parent path from the locators (spec: "Parent Locator Entries"). */
static int parent_locate(struct blk *b, uint64_t fsize)
{
	struct vhd *v = V(b);
	static const char *const order[] = { "W2ru", "W2ku", "MacX" };

	for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
		for (int i = 0; i < 8; i++) {
			const uint8_t *e = v->dyn + VD_LOCATORS + 24 * i;
			uint32_t len = ld_be32(e + 8);
			uint64_t off = ld_be64(e + 16);
			uint8_t buf[1024];
			char *name;

			if (memcmp(e, order[k], 4) || !len)
				continue;
			if (len > sizeof(buf) || off > fsize || len > fsize - off)
				return bad(b, -EINVAL, "parent locator points outside the file");
			if (blk_pread_full(b->fd, buf, len, off))
				return bad(b, -EIO, "cannot read a parent locator");
			if (k == 2) {
				name = strndup((const char *)buf, len);
				if (name && !strncmp(name, "file://", 7))
					memmove(name, name + 7, strlen(name + 7) + 1);
			} else {
				name = utf16_to_utf8(buf, len, true);
			}
			if (!name)
				return -ENOMEM;
			if (!strncmp(name, "./", 2))
				memmove(name, name + 2, strlen(name + 2) + 1);
			if (!*name) {
				free(name);
				continue;
			}
			b->backing_name = name;
			return 0;
		}
	}
	b->backing_name = utf16_to_utf8(v->dyn + VD_PARENT_NAME, 512, false);
	if (!b->backing_name)
		return -ENOMEM;
	if (!*b->backing_name)
		return bad(b, -EINVAL, "differencing disk names no parent");
	return 0;
}

static int read_footer(struct blk *b, uint64_t fsize)
{
	struct vhd *v = V(b);
	int err;

	if (fsize < VF_SIZE)
		return bad(b, -EINVAL, "file is shorter than a footer");
	v->footer_pos = ALIGN_DOWN(fsize - VF_SIZE, 512ULL);
	err = blk_pread_full(b->fd, v->footer, VF_SIZE, fsize - VF_SIZE);
	if (err)
		return err;
	if (memcmp(v->footer, "conectix", 8)) {
		/* Dynamic disks keep a copy at offset 0 (spec: "mirror"). */
		err = blk_pread_full(b->fd, v->footer, VF_SIZE, 0);
		if (err || memcmp(v->footer, "conectix", 8))
			return bad(b, -EINVAL, "no footer (cookie 'conectix') found");
		log_warnx("%s: trailing footer missing, using the copy at offset 0", b->path);
		v->footer_pos = ALIGN_UP(fsize, 512ULL);
	}
	if (vhd_checksum(v->footer, VF_SIZE, VF_CHECKSUM) != ld_be32(v->footer + VF_CHECKSUM))
		log_warnx("%s: footer checksum mismatch (continuing, as other tools do)", b->path);
	v->type = ld_be32(v->footer + VF_TYPE);
	b->size = footer_size(v->footer);
	if (b->size > BLK_MAX_SIZE)
		return bad(b, -EFBIG, "virtual size is larger than Vireo's 64 TiB limit");
	b->size = ALIGN_DOWN(b->size, (uint64_t)BLK_SECTOR_SIZE);
	return 0;
}

static int read_dynamic(struct blk *b, uint64_t fsize)
{
	struct vhd *v = V(b);
	uint64_t bat_bytes;
	int err;

	v->dyn_offset = ld_be64(v->footer + VF_DATA_OFFSET);
	if (v->dyn_offset > fsize || fsize - v->dyn_offset < VD_SIZE)
		return bad(b, -EINVAL, "dynamic disk header is past the end of the file");
	err = blk_pread_full(b->fd, v->dyn, VD_SIZE, v->dyn_offset);
	if (err)
		return err;
	if (memcmp(v->dyn, "cxsparse", 8))
		return bad(b, -EINVAL, "dynamic disk header cookie is not 'cxsparse'");
	v->bat_offset = ld_be64(v->dyn + VD_TABLE_OFFSET);
	v->max_entries = ld_be32(v->dyn + VD_MAX_ENTRIES);
	v->block_size = ld_be32(v->dyn + VD_BLOCK_SIZE);
	if (v->block_size < 512 || v->block_size > (256u << 20) ||
	    (v->block_size & (v->block_size - 1)))
		return bad(b, -EINVAL, "block size must be a power of two from 512 B to 256 MiB");
	if (v->max_entries > VHD_MAX_BAT_ENTRIES)
		return bad(b, -EFBIG, "block allocation table has too many entries");
	if ((uint64_t)v->max_entries * v->block_size < b->size)
		return bad(b, -EINVAL, "block allocation table is too small for the disk size");
	bat_bytes = (uint64_t)v->max_entries * 4;
	if (v->bat_offset > fsize || bat_bytes > fsize - v->bat_offset)
		return bad(b, -EINVAL, "block allocation table extends past the end of the file");
	v->bitmap_size = ALIGN_UP(v->block_size / 512 / 8, 512u);
	v->bat = malloc(bat_bytes ? bat_bytes : 4);
	v->bitmap = malloc(v->bitmap_size);
	if (!v->bat || !v->bitmap)
		return -ENOMEM;
	v->bitmap_block = VHD_BAT_FREE;
	err = blk_pread_full(b->fd, v->bat, bat_bytes, v->bat_offset);
	if (err)
		return bad(b, err, "cannot read the block allocation table");
	for (uint32_t i = 0; i < v->max_entries; i++)
		v->bat[i] = ld_be32(&v->bat[i]);
	if (v->type == VHD_DIFF)
		return parent_locate(b, fsize);
	return 0;
}

static void vhd_close(struct blk *b)
{
	struct vhd *v = V(b);

	if (!v)
		return;
	free(v->bat);
	free(v->bitmap);
	free(v);
	b->priv = NULL;
}

static int vhd_open(struct blk *b)
{
	uint64_t fsize;
	struct vhd *v;
	int err;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	b->priv = v;
	err = blk_file_size(b->fd, &fsize);
	if (!err)
		err = read_footer(b, fsize);
	if (err)
		goto err_free;
	switch (v->type) {
	case VHD_FIXED:
		if (b->size > v->footer_pos)
			err = bad(b, -EINVAL, "fixed disk is shorter than its size (truncated?)");
		break;
	case VHD_DYNAMIC:
	case VHD_DIFF:
		err = read_dynamic(b, fsize);
		break;
	default:
		err = bad(b, -ENOTSUP, "disk type is not fixed, dynamic or differencing");
	}
	if (err)
		goto err_free;
	return 0;
err_free:
	vhd_close(b);
	return err;
}

static int bitmap_load(struct blk *b, uint32_t bi)
{
	struct vhd *v = V(b);
	int err;

	if (v->bitmap_block == bi)
		return 0;
	v->bitmap_block = VHD_BAT_FREE;
	err = blk_pread_full(b->fd, v->bitmap, v->bitmap_size, (uint64_t)v->bat[bi] * 512);
	if (err)
		return bad(b, err, "cannot read a block bitmap");
	v->bitmap_block = bi;
	return 0;
}

static bool bit_test(const uint8_t *bm, uint64_t i)
{
	return bm[i / 8] & (0x80 >> (i % 8));	/* most significant bit first */
}

static int block_check(struct blk *b, uint32_t bi)
{
	struct vhd *v = V(b);
	uint64_t off = (uint64_t)v->bat[bi] * 512;

	if (off + v->bitmap_size + v->block_size > v->footer_pos + VF_SIZE + v->block_size)
		return bad(b, -EIO, "a BAT entry points past the end of the file");
	return 0;
}

/* Status of [off, off+len) within one block. */
static int vhd_block_status(struct blk *b, uint64_t off, uint64_t len, struct blk_extent *ext)
{
	struct vhd *v = V(b);
	uint32_t bi;
	uint64_t in, n, s0, s;
	int err;

	if (v->type == VHD_FIXED) {
		ext->status = BLK_STATUS_ALLOCATED | BLK_STATUS_DATA;
		ext->host_off = off;
		ext->len = len;
		return 0;
	}
	bi = off / v->block_size;
	in = off % v->block_size;
	n = MIN(len, v->block_size - in);
	ext->len = n;
	if (v->bat[bi] == VHD_BAT_FREE) {
		ext->status = v->type == VHD_DIFF ? 0 : BLK_STATUS_ALLOCATED | BLK_STATUS_ZERO;
		return 0;
	}
	err = block_check(b, bi);
	if (err)
		return err;
	ext->status = BLK_STATUS_ALLOCATED | BLK_STATUS_DATA;
	ext->host_off = (uint64_t)v->bat[bi] * 512 + v->bitmap_size + in;
	if (v->type != VHD_DIFF)
		return 0;
	err = bitmap_load(b, bi);
	if (err)
		return err;
	s0 = in / 512;
	for (s = s0; s < (in + n) / 512 && bit_test(v->bitmap, s) == bit_test(v->bitmap, s0); s++)
		;
	ext->len = (s - s0) * 512;
	if (!bit_test(v->bitmap, s0))
		ext->status = 0;
	return 0;
}

static int vhd_read(struct blk *b, void *buf, uint64_t off, size_t len)
{
	struct vhd *v = V(b);
	uint8_t *p = buf;
	int err;

	if (v->type == VHD_FIXED)
		return blk_pread_full(b->fd, buf, len, off);
	while (len) {
		struct blk_extent ext = { 0 };
		err = vhd_block_status(b, off, len, &ext);
		if (err)
			return err;
		if (ext.status & BLK_STATUS_DATA)
			err = blk_pread_zfill(b->fd, p, ext.len, ext.host_off);
		else if (ext.status & BLK_STATUS_ZERO)
			memset(p, 0, ext.len);
		else
			err = blk_read_backing(b, p, off, ext.len);
		if (err)
			return err;
		p += ext.len;
		off += ext.len;
		len -= ext.len;
	}
	return 0;
}

static void footer_seal(uint8_t *f)
{
	st_be32(f + VF_CHECKSUM, 0);
	st_be32(f + VF_CHECKSUM, vhd_checksum(f, VF_SIZE, VF_CHECKSUM));
}

static int alloc_block(struct blk *b, uint32_t bi)
{
	struct vhd *v = V(b);
	uint64_t pos = v->footer_pos, be;
	uint8_t *bm;
	int err;

	err = blk_pwrite_full(b->fd, v->footer, VF_SIZE, pos + v->bitmap_size + v->block_size);
	if (err)
		return err;
	bm = malloc(v->bitmap_size);
	if (!bm)
		return -ENOMEM;
	/* Dynamic: every sector of an allocated block is ours (QEMU does the same). */
	memset(bm, v->type == VHD_DIFF ? 0 : 0xff, v->bitmap_size);
	err = blk_pwrite_full(b->fd, bm, v->bitmap_size, pos);
	/* The block's data area may hold stale bytes from an older footer. */
	if (!err && v->type != VHD_DIFF) {
		memset(bm, 0, MIN(v->bitmap_size, (uint32_t)VF_SIZE));
		err = blk_pwrite_full(b->fd, bm, MIN(v->bitmap_size, (uint32_t)VF_SIZE),
				      pos + v->bitmap_size);
	}
	free(bm);
	if (err)
		return err;
	v->footer_pos = pos + v->bitmap_size + v->block_size;
	be = htobe32(pos / 512);
	err = blk_pwrite_full(b->fd, &be, 4, v->bat_offset + (uint64_t)bi * 4);
	if (err)
		return err;
	v->bat[bi] = pos / 512;
	v->bitmap_block = VHD_BAT_FREE;
	return 0;
}

/* Differencing: mark sectors [s0, s1) of block bi as present here. */
static int bitmap_set(struct blk *b, uint32_t bi, uint64_t s0, uint64_t s1)
{
	struct vhd *v = V(b);
	uint64_t first = s0 / 8 / 512 * 512, last = ALIGN_UP((s1 + 7) / 8, 512ULL);
	bool changed = false;
	int err = bitmap_load(b, bi);

	if (err)
		return err;
	for (uint64_t s = s0; s < s1; s++) {
		if (!bit_test(v->bitmap, s)) {
			v->bitmap[s / 8] |= 0x80 >> (s % 8);
			changed = true;
		}
	}
	if (!changed)
		return 0;
	return blk_pwrite_full(b->fd, v->bitmap + first, last - first,
			       (uint64_t)v->bat[bi] * 512 + first);
}

/* Write within one block; a differencing block is filled from the parent
 * sector by sector as its bitmap requires nothing more. */
static int write_block(struct blk *b, const uint8_t *p, uint64_t off, uint64_t n)
{
	struct vhd *v = V(b);
	uint32_t bi = off / v->block_size;
	uint64_t in = off % v->block_size;
	int err;

	if (v->bat[bi] == VHD_BAT_FREE) {
		if (v->footer_pos / 512 + (v->bitmap_size + (uint64_t)v->block_size) / 512 >= VHD_BAT_FREE)
			return -EFBIG;
		err = alloc_block(b, bi);
		if (err)
			return err;
	}
	err = block_check(b, bi);
	if (!err)
		err = blk_pwrite_full(b->fd, p, n, (uint64_t)v->bat[bi] * 512 + v->bitmap_size + in);
	if (!err && v->type == VHD_DIFF)
		err = bitmap_set(b, bi, in / 512, (in + n) / 512);
	return err;
}

static int vhd_write(struct blk *b, const void *buf, uint64_t off, size_t len)
{
	struct vhd *v = V(b);
	const uint8_t *p = buf;

	if (v->type == VHD_FIXED)
		return blk_pwrite_full(b->fd, buf, len, off);
	while (len) {
		uint64_t n = MIN(len, v->block_size - off % v->block_size);
		int err = write_block(b, p, off, n);
		if (err)
			return err;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int vhd_flush(struct blk *b)
{
	return fdatasync(b->fd) < 0 ? -errno : 0;
}

static int vhd_discard(struct blk *b, uint64_t off, uint64_t len)
{
	uint8_t *z = calloc(1, 64 * KiB);
	int err = 0;

	if (!z)
		return -ENOMEM;
	/* Blocks cannot be returned without compaction: zero what is allocated. */
	while (len && !err) {
		struct blk_extent ext = { 0 };
		err = vhd_block_status(b, off, MIN(len, 64 * KiB), &ext);
		if (!err && !(ext.status & BLK_STATUS_ZERO))
			err = vhd_write(b, z, off, ext.len);
		off += ext.len;
		len -= ext.len;
	}
	free(z);
	return err;
}

static int footer_rewrite(struct blk *b, uint64_t size, uint64_t at)
{
	struct vhd *v = V(b);
	uint8_t geo[4];
	int err;

	size = chs_round(size, geo);
	st_be64(v->footer + VF_CUR_SIZE, size);
	memcpy(v->footer + VF_GEOMETRY, geo, 4);
	memcpy(v->footer + VF_CREATOR_APP, "vire", 4);
	footer_seal(v->footer);
	err = blk_pwrite_full(b->fd, v->footer, VF_SIZE, at);
	if (!err && v->type != VHD_FIXED)
		err = blk_pwrite_full(b->fd, v->footer, VF_SIZE, 0);
	if (!err)
		b->size = footer_size(v->footer);
	return err;
}

static int vhd_resize(struct blk *b, uint64_t size)
{
	struct vhd *v = V(b);
	uint8_t geo[4];
	uint64_t real = chs_round(size, geo);

	if (v->type == VHD_FIXED) {
		uint64_t old = v->footer_pos;
		uint8_t z[VF_SIZE] = { 0 };
		int err;
		if (ftruncate(b->fd, real + VF_SIZE) < 0)
			return -errno;
		err = footer_rewrite(b, size, real);
		if (!err && real > old)
			err = blk_pwrite_full(b->fd, z, VF_SIZE, old);
		if (!err)
			v->footer_pos = real;
		return err;
	}
	if (real > (uint64_t)v->max_entries * v->block_size) {
		log_warnx("%s: the block allocation table has room for %llu bytes; "
			  "convert to a new image to grow further", b->path,
			  (unsigned long long)v->max_entries * v->block_size);
		return -ENOSPC;
	}
	return footer_rewrite(b, size, v->footer_pos);
}

static void vhd_info(struct blk *b, struct blk_info *info)
{
	struct vhd *v = V(b);

	info->cluster_size = v->type == VHD_FIXED ? 0 : v->block_size;
	info->subformat = v->type == VHD_FIXED ? "fixed" :
			  v->type == VHD_DYNAMIC ? "dynamic" : "differencing";
}

static int vhd_check(struct blk *b, struct blk_check *res, bool repair)
{
	struct vhd *v = V(b);
	uint64_t fsize, nblocks, per_block;
	uint8_t *seen = NULL;
	int err = blk_file_size(b->fd, &fsize);

	if (err)
		return err;
	if (vhd_checksum(v->footer, VF_SIZE, VF_CHECKSUM) != ld_be32(v->footer + VF_CHECKSUM)) {
		res->corruptions++;
		snprintf(res->first_error, sizeof(res->first_error), "footer checksum mismatch");
	}
	if (v->type == VHD_FIXED)
		return 0;
	if (vhd_checksum(v->dyn, VD_SIZE, VD_CHECKSUM) != ld_be32(v->dyn + VD_CHECKSUM)) {
		res->corruptions++;
		if (!res->first_error[0])
			snprintf(res->first_error, sizeof(res->first_error),
				 "dynamic header checksum mismatch");
	}
	per_block = v->bitmap_size + (uint64_t)v->block_size;
	nblocks = fsize / 512 + 1;
	seen = calloc((nblocks + 7) / 8, 1);
	if (!seen)
		return -ENOMEM;
	for (uint32_t i = 0; i < v->max_entries; i++) {
		uint64_t s = v->bat[i];
		if (s == VHD_BAT_FREE)
			continue;
		res->allocated_clusters++;
		if (s * 512 + per_block > fsize) {
			res->corruptions++;
			if (!res->first_error[0])
				snprintf(res->first_error, sizeof(res->first_error),
					 "block %u at 0x%llx is past the end of the file", i,
					 (unsigned long long)s * 512);
			continue;
		}
		/* Overlap check on the block's first sector. */
		if (seen[s / 8] & (1u << (s % 8))) {
			res->corruptions++;
			if (!res->first_error[0])
				snprintf(res->first_error, sizeof(res->first_error),
					 "block %u overlaps another block", i);
		}
		seen[s / 8] |= 1u << (s % 8);
		res->image_end = MAX(res->image_end, s * 512 + per_block);
	}
	res->total_clusters = v->max_entries;
	free(seen);
	return 0;
}

static int write_locators(uint8_t *dyn, int fd, uint64_t pos, const char *rel, const char *abs)
{
	const char *names[2] = { rel, abs };
	static const char codes[2][5] = { "W2ru", "W2ku" };
	int err;

	for (int i = 0; i < 2; i++) {
		uint8_t buf[1024] = { 0 };
		uint8_t *e = dyn + VD_LOCATORS + 24 * i;
		size_t n = utf8_to_utf16(names[i], buf, sizeof(buf), true);

		memcpy(e, codes[i], 4);
		st_be32(e + 4, sizeof(buf) / 512);	/* data space, in sectors */
		st_be32(e + 8, n);
		st_be64(e + 16, pos);
		err = blk_pwrite_full(fd, buf, sizeof(buf), pos);
		if (err)
			return err;
		pos += sizeof(buf);
	}
	return 0;
}

/* Differencing fields: parent UUID, time stamp, name, locators. */
static int diff_setup(int fd, const char *path, const struct blk_create_opts *o,
		      uint8_t *dyn, uint64_t loc_pos)
{
	struct blk *parent;
	char *ppath = NULL, abs[PATH_MAX];
	const char *base;
	struct stat st;
	int err;

	if (o->backing[0] == '/' || !strrchr(path, '/'))
		ppath = strdup(o->backing);
	else if (asprintf(&ppath, "%.*s/%s", (int)(strrchr(path, '/') - path), path, o->backing) < 0)
		ppath = NULL;
	if (!ppath)
		return -ENOMEM;
	err = blk_open(ppath, o->backing_format, BLK_OPEN_RDONLY | BLK_OPEN_NO_BACKING, &parent);
	if (err)
		goto out;
	if (parent->drv->format == BLK_FORMAT_VHD)
		memcpy(dyn + VD_PARENT_UUID, V(parent)->footer + VF_UUID, 16);
	if (fstat(parent->fd, &st) == 0)
		st_be32(dyn + VD_PARENT_TIME, st.st_mtime - VHD_EPOCH);
	blk_close(parent);
	base = strrchr(o->backing, '/') ? strrchr(o->backing, '/') + 1 : o->backing;
	utf8_to_utf16(base, dyn + VD_PARENT_NAME, 512, false);
	if (!realpath(ppath, abs)) {
		err = -errno;
		goto out;
	}
	err = write_locators(dyn, fd, loc_pos, o->backing, abs);
out:
	free(ppath);
	return err;
}

static void footer_init(uint8_t *f, uint32_t type, uint64_t size, uint64_t data_offset)
{
	uint8_t geo[4];

	memcpy(f + VF_COOKIE, "conectix", 8);
	st_be32(f + VF_FEATURES, 2);
	st_be32(f + VF_VERSION, 0x00010000);
	st_be64(f + VF_DATA_OFFSET, data_offset);
	st_be32(f + VF_TIMESTAMP, time(NULL) - VHD_EPOCH);
	memcpy(f + VF_CREATOR_APP, "vire", 4);
	st_be32(f + VF_CREATOR_VER, 0x00010000);
	memcpy(f + VF_CREATOR_OS, "Wi2k", 4);
	size = chs_round(size, geo);
	st_be64(f + VF_ORIG_SIZE, size);
	st_be64(f + VF_CUR_SIZE, size);
	memcpy(f + VF_GEOMETRY, geo, 4);
	st_be32(f + VF_TYPE, type);
	if (getrandom(f + VF_UUID, 16, 0) != 16)
		st_be64(f + VF_UUID, time(NULL));
	footer_seal(f);
}

static int vhd_create(int fd, const char *path, const struct blk_create_opts *o)
{
	uint8_t f[VF_SIZE] = { 0 }, dyn[VD_SIZE] = { 0 }, geo[4];
	uint32_t bs = o->block_size ? o->block_size : 2 * MiB;
	uint64_t size = chs_round(o->size, geo), entries, bat_bytes, pos;
	uint32_t *bat;
	int err;

	if (o->vhd_fixed) {
		if (o->backing)
			return -EINVAL;
		footer_init(f, VHD_FIXED, o->size, UINT64_MAX);
		if (ftruncate(fd, size) < 0)
			return -errno;
		return blk_pwrite_full(fd, f, VF_SIZE, size);
	}
	if (bs < 512 || bs > (256u << 20) || (bs & (bs - 1)))
		return -EINVAL;
	entries = (size + bs - 1) / bs;
	if (entries > VHD_MAX_BAT_ENTRIES)
		return -EFBIG;
	bat_bytes = ALIGN_UP(entries * 4, 512ULL);
	entries = bat_bytes / 4;	/* the padding is room to grow */
	footer_init(f, o->backing ? VHD_DIFF : VHD_DYNAMIC, o->size, VF_SIZE);
	memcpy(dyn + VD_COOKIE, "cxsparse", 8);
	st_be64(dyn + VD_DATA_OFFSET, UINT64_MAX);
	st_be64(dyn + VD_TABLE_OFFSET, VF_SIZE + VD_SIZE);
	st_be32(dyn + VD_VERSION, 0x00010000);
	st_be32(dyn + VD_MAX_ENTRIES, entries);
	st_be32(dyn + VD_BLOCK_SIZE, bs);
	pos = VF_SIZE + VD_SIZE + bat_bytes;
	if (o->backing) {
		err = diff_setup(fd, path, o, dyn, pos);
		if (err)
			return err;
		pos += 2048;
	}
	st_be32(dyn + VD_CHECKSUM, vhd_checksum(dyn, VD_SIZE, VD_CHECKSUM));
	bat = malloc(bat_bytes);
	if (!bat)
		return -ENOMEM;
	memset(bat, 0xff, bat_bytes);
	err = blk_pwrite_full(fd, f, VF_SIZE, 0);
	if (!err)
		err = blk_pwrite_full(fd, dyn, VD_SIZE, VF_SIZE);
	if (!err)
		err = blk_pwrite_full(fd, bat, bat_bytes, VF_SIZE + VD_SIZE);
	if (!err)
		err = blk_pwrite_full(fd, f, VF_SIZE, pos);
	free(bat);
	return err;
}

/* End of the metadata of a dynamic disk: header, BAT, parent locators. */
static uint64_t metadata_end(const struct vhd *v)
{
	uint64_t end = MAX(v->dyn_offset + VD_SIZE,
			   v->bat_offset + ALIGN_UP((uint64_t)v->max_entries * 4, 512ULL));

	for (int i = 0; i < 8; i++) {
		const uint8_t *e = v->dyn + VD_LOCATORS + 24 * i;
		if (ld_be32(e) && ld_be32(e + 8))
			end = MAX(end, ld_be64(e + 16) + ALIGN_UP((uint64_t)ld_be32(e + 8), 512ULL));
	}
	return ALIGN_UP(end, 512ULL);
}

/*
 * Differencing disk after a commit: free every block.  The BAT goes first
 * (blocks become unreferenced), then the footer moves down to the end of
 * the metadata, then the file is truncated after it.
 */
static int vhd_make_empty(struct blk *b)
{
	struct vhd *v = V(b);
	uint64_t bytes = (uint64_t)v->max_entries * 4, end;
	uint32_t *bat;
	int err;

	if (v->type != VHD_DIFF)
		return 0;
	bat = malloc(bytes ? bytes : 4);
	if (!bat)
		return -ENOMEM;
	memset(bat, 0xff, bytes);
	err = blk_pwrite_full(b->fd, bat, bytes, v->bat_offset);
	free(bat);
	if (err)
		return err;
	memset(v->bat, 0xff, bytes);
	v->bitmap_block = VHD_BAT_FREE;
	end = metadata_end(v);
	if (end >= v->footer_pos)
		return 0;
	if (fdatasync(b->fd) < 0)
		return -errno;
	err = blk_pwrite_full(b->fd, v->footer, VF_SIZE, end);
	if (!err && ftruncate(b->fd, end + VF_SIZE) < 0)
		err = -errno;
	if (!err)
		v->footer_pos = end;
	return err;
}

const struct blk_driver blk_vhd_driver = {
	.name = "vhd",
	.format = BLK_FORMAT_VHD,
	.probe = vhd_probe,
	.open = vhd_open,
	.close = vhd_close,
	.read = vhd_read,
	.write = vhd_write,
	.flush = vhd_flush,
	.discard = vhd_discard,
	.resize = vhd_resize,
	.block_status = vhd_block_status,
	.check = vhd_check,
	.create = vhd_create,
	.info = vhd_info,
	.make_empty = vhd_make_empty,
};
