// SPDX-License-Identifier: GPL-2.0-only
/*
 * The decompressors behind host-side kernel unpacking, one per payload
 * format the kernel build makes (scripts/Makefile.lib cmd_gzip, cmd_xzkern,
 * cmd_lzma, cmd_lz4, cmd_zstd22), each through its reference library.  The
 * output size is known in advance (the payload's size trailer), so every
 * decoder writes into one buffer of exactly that size and must fill it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ZLIB_CONST      /* z_stream.next_in is const */
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "arch/x86/kunpack.h"

/*
 * LZ4 legacy format (lz4 -l, lib/decompress_unlz4.c): the magic, then
 * blocks of a u32 LE compressed size and the block, each decompressing to
 * at most 8 MiB.  A repeated magic starts a concatenated stream; a zero size
 * or the end of the input ends it.
 */
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8 * MiB)

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int unlz4_legacy(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
			char *why, size_t n)
{
	size_t pos = 4, done = 0;

	if (in_len < 4 || get_le32(in) != LZ4_LEGACY_MAGIC) {
		snprintf(why, n, "LZ4 payload without the legacy-format magic");
		return -EINVAL;
	}
	while (in_len - pos >= 4) {
		uint32_t csize = get_le32(in + pos);
		int r;

		pos += 4;
		if (csize == LZ4_LEGACY_MAGIC)
			continue;
		if (csize == 0)
			break;
		if (csize > in_len - pos || csize > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK)) {
			snprintf(why, n, "truncated LZ4 payload: the block at offset %zu "
				 "is %u bytes, %zu are left", pos - 4, csize, in_len - pos);
			return -EINVAL;
		}
		r = LZ4_decompress_safe((const char *)in + pos, (char *)out + done, (int)csize,
					(int)MIN(out_len - done, LZ4_LEGACY_BLOCK));
		if (r < 0) {
			snprintf(why, n, "malformed LZ4 block at payload offset %zu (or it "
				 "decompresses past the payload's %zu-byte size)", pos - 4, out_len);
			return -EINVAL;
		}
		done += r;
		pos += csize;
	}
	if (done != out_len) {
		snprintf(why, n, "truncated LZ4 payload: %zu bytes decompressed, its size "
			 "trailer says %zu", done, out_len);
		return -EINVAL;
	}
	return 0;
}

/* gzip (RFC 1952) through zlib; the gzip trailer's ISIZE is the size trailer. */
static int ungzip(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
		  char *why, size_t n)
{
	z_stream zs = { 0 };
	int r;

	if (in_len > UINT32_MAX || inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		snprintf(why, n, "cannot start the gzip decoder");
		return -ENOMEM;
	}
	zs.next_in = in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = out;
	zs.avail_out = (uInt)out_len;
	r = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	if (r == Z_STREAM_END && zs.total_out == out_len)
		return 0;
	if (r == Z_BUF_ERROR && zs.avail_in == 0)
		snprintf(why, n, "truncated gzip payload (%zu of %zu bytes decompressed)",
			 (size_t)zs.total_out, out_len);
	else if (r == Z_STREAM_END || r == Z_BUF_ERROR)
		snprintf(why, n, "gzip payload does not decompress to its %zu-byte size "
			 "trailer", out_len);
	else
		snprintf(why, n, "malformed gzip payload: %s", zs.msg ? zs.msg : "inflate failed");
	return -EINVAL;
}

/* xz (.xz container) and the older lzma_alone format, both through liblzma. */
static int unxz(enum kunpack_comp comp, const uint8_t *in, size_t in_len, uint8_t *out,
		size_t out_len, char *why, size_t n)
{
	const uint64_t memlimit = 256 * MiB;   /* the kernel's own xz uses a 32 MiB dictionary */
	const char *name = comp == KUNPACK_XZ ? "xz" : "lzma";
	lzma_stream ls = LZMA_STREAM_INIT;
	lzma_ret r;

	r = comp == KUNPACK_XZ ? lzma_stream_decoder(&ls, memlimit, 0) :
				 lzma_alone_decoder(&ls, memlimit);
	if (r != LZMA_OK) {
		snprintf(why, n, "cannot start the %s decoder", name);
		return -ENOMEM;
	}
	ls.next_in = in;
	ls.avail_in = in_len;
	ls.next_out = out;
	ls.avail_out = out_len;
	/* LZMA_BUF_ERROR comes on the second call that makes no progress. */
	do
		r = lzma_code(&ls, LZMA_FINISH);
	while (r == LZMA_OK);
	lzma_end(&ls);
	if (r == LZMA_STREAM_END && ls.total_out == out_len)
		return 0;
	if (r == LZMA_BUF_ERROR && ls.avail_in == 0)
		snprintf(why, n, "truncated %s payload (%zu of %zu bytes decompressed)", name,
			 (size_t)ls.total_out, out_len);
	else if (r == LZMA_STREAM_END || r == LZMA_BUF_ERROR)
		snprintf(why, n, "%s payload does not decompress to its %zu-byte size "
			 "trailer", name, out_len);
	else if (r == LZMA_MEMLIMIT_ERROR)
		snprintf(why, n, "%s payload needs more than %llu MiB to decompress", name,
			 (unsigned long long)(memlimit / MiB));
	else
		snprintf(why, n, "malformed %s payload (liblzma error %d)", name, (int)r);
	return -EINVAL;
}

/* zstd frames, one shot: no window allocation, output bounded by out_len. */
static int unzstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
		  char *why, size_t n)
{
	size_t r = ZSTD_decompress(out, out_len, in, in_len);

	if (ZSTD_isError(r)) {
		snprintf(why, n, "malformed or truncated zstd payload: %s", ZSTD_getErrorName(r));
		return -EINVAL;
	}
	if (r != out_len) {
		snprintf(why, n, "zstd payload decompresses to %zu bytes, its size trailer "
			 "says %zu", r, out_len);
		return -EINVAL;
	}
	return 0;
}

int kunpack_decompress(enum kunpack_comp comp, const uint8_t *in, size_t in_len,
		       uint8_t *out, size_t out_len, char *why, size_t n)
{
	switch (comp) {
	case KUNPACK_GZIP:
		return ungzip(in, in_len, out, out_len, why, n);
	case KUNPACK_LZMA:
	case KUNPACK_XZ:
		return unxz(comp, in, in_len, out, out_len, why, n);
	case KUNPACK_LZ4:
		return unlz4_legacy(in, in_len, out, out_len, why, n);
	case KUNPACK_ZSTD:
		return unzstd(in, in_len, out, out_len, why, n);
	case KUNPACK_BZIP2:
	case KUNPACK_LZO:
		break;
	}
	snprintf(why, n, "%s-compressed kernels are not unpacked on the host",
		 kunpack_comp_name(comp));
	return -ENOTSUP;
}
