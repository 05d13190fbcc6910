// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target over the split virtqueue parser (virtio 1.2 §2.7): the
 * input is a queue configuration and the first 64 KiB of guest RAM (rings,
 * descriptor tables, indirect tables), i.e. everything a driver controls.
 * The device side pops, copies, pushes and signals as a front end would.
 * Invariants checked: no crash, every buffer lies inside guest RAM, the
 * chain totals match its buffers, a chain never exceeds VQ_MAX_SEGS.
 *
 * Input: byte 0 = log2(queue size) (mod 9); byte 1 = bit 0 event index,
 * bit 1 indirect descriptors, bits 2-4 ring placement; byte 2.. = RAM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/virtio/virtqueue.h"
#include "fuzz_virtqueue.h"

#define FUZZ_RAM (64 * 1024)

static void check_chain(const struct guest_mem *mem, const struct vq_chain *c)
{
	uint64_t out = 0, in = 0;

	if (c->nout + c->nin > VQ_MAX_SEGS)
		abort();
	for (unsigned i = 0; i < c->nout + c->nin; i++) {
		const uint8_t *p = c->iov[i].iov_base;

		if (p < mem->base || c->iov[i].iov_len > mem->total ||
		    p + c->iov[i].iov_len > mem->base + mem->total)
			abort();
		if (i < c->nout)
			out += c->iov[i].iov_len;
		else
			in += c->iov[i].iov_len;
	}
	if (out != c->out_len || in != c->in_len)
		abort();
}

int fuzz_virtqueue_one(const uint8_t *data, size_t size)
{
	static const uint64_t placements[8][3] = {
		{ 0x0000, 0x1000, 0x2000 }, { 0x8000, 0x9000, 0xa000 },
		{ 0x0000, 0x0000, 0x0000 }, { 0xf000, 0xfff0, 0xfff8 },
		{ 0x0010, 0x0002, 0x0004 }, { 0x0008, 0x1000, 0x2000 },
		{ 0x1000, 0x2001, 0x3000 }, { 0x10000, 0x1000, 0x2000 },
	};
	struct guest_mem mem;
	struct virtq vq = { 0 };
	struct vq_chain *c;
	uint8_t scratch[512];
	char why[160];

	if (size < 2 || guest_mem_create(&mem, FUZZ_RAM))
		return 0;
	c = malloc(sizeof(*c));
	if (!c)
		abort();
	memcpy(mem.base, data + 2, size - 2 < FUZZ_RAM ? size - 2 : FUZZ_RAM);
	vq.mem = &mem;
	vq.size = 1u << (data[0] % 9);
	vq.event_idx = data[1] & 1;
	vq.indirect = data[1] & 2;
	vq.desc_gpa = placements[(data[1] >> 2) & 7][0];
	vq.avail_gpa = placements[(data[1] >> 2) & 7][1];
	vq.used_gpa = placements[(data[1] >> 2) & 7][2];
	if (vq_map(&vq, why, sizeof(why)) == 0) {
		for (unsigned n = 0; n < 2u * vq.size + 2; n++) {
			int r = vq_pop(&vq, c, why, sizeof(why));

			if (r <= 0)
				break;
			check_chain(&mem, c);
			vq_chain_from(c, 1, scratch, sizeof(scratch));
			memset(scratch, 0xa5, sizeof(scratch));
			vq_chain_to(&mem, c, 3, scratch, sizeof(scratch));
			vq_push(&vq, c->head, (uint32_t)c->in_len);
			vq_should_signal(&vq);
			vq_notify_enable(&vq);
		}
	}
	free(c);
	guest_mem_destroy(&mem);
	return 0;
}

#ifdef VIREO_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_virtqueue_one(data, size);
}
#endif
