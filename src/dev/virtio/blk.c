// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk (virtio 1.2 §5.2) over the block layer's image interface
 * (vireo/block.h): the front end never learns the image format.
 *
 * Requests run on the event-loop thread, synchronously, under the device
 * lock: a request is complete (used) only once blk_read/blk_write/
 * blk_flush returned, so a completed FLUSH means the data is durable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/virtio/devices.h"
#include "dev/virtio/virtio.h"
#include "vireo/block.h"
#include "vireo/log.h"

/* §5.2.3 feature bits */
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* §5.2.4 struct virtio_blk_config offsets */
#define BLK_CFG_CAPACITY        0
#define BLK_CFG_SEG_MAX         12
#define BLK_CFG_BLK_SIZE        20
#define BLK_CFG_MAX_DISCARD     36
#define BLK_CFG_MAX_DISCARD_SEG 40
#define BLK_CFG_DISCARD_ALIGN   44
#define BLK_CFG_MAX_WZ          48
#define BLK_CFG_MAX_WZ_SEG      52
#define BLK_CFG_WZ_MAY_UNMAP    56
#define BLK_CFG_LEN             60

/* §5.2.6 request types and status */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define BLK_QUEUE_SIZE   256
#define BLK_SEG_MAX      (BLK_QUEUE_SIZE - 2)
#define BLK_MAX_DISCARD_SEG 32
#define BLK_MAX_DISCARD_SECTORS (1u << 22)      /* 2 GiB per segment */
#define BLK_MAX_REQ      (32u << 20)            /* bounce-buffer cap */

struct vblk {
	struct virtio_dev *vdev;
	struct blk *blk;
	bool ro;
	char serial[VIRTIO_SERIAL_LEN];
	uint64_t nreq, nerr;
};

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_discard_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* [off, off+len) inside the disk, in bytes, without overflow. */
static bool in_disk(struct vblk *b, uint64_t sector, uint64_t len)
{
	uint64_t size = blk_size(b->blk);

	return sector <= size / BLK_SECTOR_SIZE && len <= size - sector * BLK_SECTOR_SIZE;
}

/* The data buffers of chain c: readable after the header, or writable before the status. */
static bool iov_sector_sized(const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (iov[i].iov_len % BLK_SECTOR_SIZE)
			return false;
	return true;
}

static int blk_rw_bounce(struct vblk *b, const struct vq_chain *c, bool write,
			 uint64_t off, uint64_t len)
{
	struct guest_mem *mem = b->vdev->queues[0].vq.mem;
	uint8_t *buf;
	int err;

	if (len > BLK_MAX_REQ)
		return -EINVAL;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	if (write) {
		vq_chain_from(c, sizeof(struct blk_req_hdr), buf, len);
		err = blk_write(b->blk, buf, off, len);
	} else {
		err = blk_read(b->blk, buf, off, len);
		if (!err)
			vq_chain_to(mem, c, 0, buf, len);
	}
	free(buf);
	return err;
}

/*
 * Read or write straight between the image and guest RAM when every data
 * buffer holds whole sectors (what Linux sends); bounce otherwise.
 */
static int blk_rw(struct vblk *b, const struct vq_chain *c, bool write, uint64_t sector,
		  uint64_t len)
{
	struct guest_mem *mem = b->vdev->queues[0].vq.mem;
	uint64_t off = sector * BLK_SECTOR_SIZE;
	unsigned first = write ? 0 : c->nout, n = write ? c->nout : c->nin;
	struct iovec iov[VQ_MAX_SEGS];
	size_t skip = write ? sizeof(struct blk_req_hdr) : 0, k = 0;
	int err = 0;

	/* The data iovecs: drop the header bytes (write) or the status byte (read). */
	for (unsigned i = first; i < first + n; i++) {
		struct iovec v = c->iov[i];

		if (skip >= v.iov_len) {
			skip -= v.iov_len;
			continue;
		}
		v.iov_base = (uint8_t *)v.iov_base + skip;
		v.iov_len -= skip;
		skip = 0;
		iov[k++] = v;
	}
	if (!write && k)
		iov[k - 1].iov_len -= 1;     /* the status byte */
	if (!iov_sector_sized(iov, k))
		return blk_rw_bounce(b, c, write, off, len);
	for (size_t i = 0; i < k && !err; i++) {
		if (!iov[i].iov_len)
			continue;
		err = write ? blk_write(b->blk, iov[i].iov_base, off, iov[i].iov_len) :
			      blk_read(b->blk, iov[i].iov_base, off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	if (!write && !err)
		for (unsigned i = c->nout; i < c->nout + c->nin; i++)
			guest_mem_mark_dirty(mem, c->gpa[i], c->iov[i].iov_len);
	return err;
}

static uint8_t blk_discard_req(struct vblk *b, const struct vq_chain *c, bool zeroes)
{
	uint64_t data = c->out_len - sizeof(struct blk_req_hdr);
	unsigned nseg = data / sizeof(struct blk_discard_seg);

	if (b->ro)
		return VIRTIO_BLK_S_IOERR;
	if (!nseg || data % sizeof(struct blk_discard_seg) ||
	    nseg > (zeroes ? 1 : BLK_MAX_DISCARD_SEG))
		return VIRTIO_BLK_S_UNSUPP;
	for (unsigned i = 0; i < nseg; i++) {
		struct blk_discard_seg s;
		uint64_t len;

		vq_chain_from(c, sizeof(struct blk_req_hdr) + i * sizeof(s), &s, sizeof(s));
		len = (uint64_t)s.num_sectors * BLK_SECTOR_SIZE;
		if (!in_disk(b, s.sector, len) || s.num_sectors > BLK_MAX_DISCARD_SECTORS)
			return VIRTIO_BLK_S_IOERR;
		/* blk_discard leaves the range reading as zeros: both requests. */
		if (len && blk_discard(b->blk, s.sector * BLK_SECTOR_SIZE, len))
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* Serve one request; returns the status byte and sets *written. */
static uint8_t blk_serve(struct vblk *b, const struct vq_chain *c,
			 const struct blk_req_hdr *h, uint32_t *written)
{
	uint64_t len;

	*written = 0;
	switch (h->type) {
	case VIRTIO_BLK_T_IN:
		len = c->in_len - 1;
		if (len % BLK_SECTOR_SIZE || !in_disk(b, h->sector, len))
			return VIRTIO_BLK_S_IOERR;
		if (blk_rw(b, c, false, h->sector, len))
			return VIRTIO_BLK_S_IOERR;
		*written = len;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		len = c->out_len - sizeof(*h);
		if (b->ro || len % BLK_SECTOR_SIZE || !in_disk(b, h->sector, len))
			return VIRTIO_BLK_S_IOERR;
		return blk_rw(b, c, true, h->sector, len) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		return blk_flush(b->blk) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		/* §5.2.6.1: 20 bytes, NUL-padded; fewer if the buffer is short. */
		*written = vq_chain_to(b->vdev->queues[0].vq.mem, c, 0, b->serial,
				       MIN(c->in_len - 1, VIRTIO_SERIAL_LEN));
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
		return blk_discard_req(b, c, false);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_discard_req(b, c, true);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void blk_request(struct vblk *b, struct vq_chain *c)
{
	struct virtio_dev *vdev = b->vdev;
	struct blk_req_hdr h;
	uint32_t written;
	uint8_t status;

	/* §5.2.6: a device-readable header and a device-writable status byte. */
	if (c->out_len < sizeof(h) || c->in_len < 1) {
		virtio_dev_needs_reset(vdev, "request %u without header or status byte", c->head);
		return;
	}
	vq_chain_from(c, 0, &h, sizeof(h));
	b->nreq++;
	status = blk_serve(b, c, &h, &written);
	if (status != VIRTIO_BLK_S_OK)
		b->nerr++;
	vq_chain_to(vdev->queues[0].vq.mem, c, c->in_len - 1, &status, 1);
	virtio_dev_push(vdev, 0, c->head, written + 1);
}

static void blk_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct vblk *b = vdev->opaque;
	struct virtq *vq;

	do {
		while (virtio_dev_pop(vdev, 0, vdev->chain) == 1)
			blk_request(b, vdev->chain);
		vq = virtio_dev_vq(vdev, 0);
	} while (vq && vq_notify_enable(vq));
}

static const struct virtio_dev_ops vblk_ops = {
	.queue_notify = blk_queue_notify,
};

static void blk_config_init(struct vblk *b)
{
	struct virtio_dev *vdev = b->vdev;

	virtio_cfg_put(vdev, BLK_CFG_CAPACITY, blk_size(b->blk) / BLK_SECTOR_SIZE, 8);
	virtio_cfg_put(vdev, BLK_CFG_SEG_MAX, BLK_SEG_MAX, 4);
	virtio_cfg_put(vdev, BLK_CFG_BLK_SIZE, BLK_SECTOR_SIZE, 4);
	virtio_cfg_put(vdev, BLK_CFG_MAX_DISCARD, BLK_MAX_DISCARD_SECTORS, 4);
	virtio_cfg_put(vdev, BLK_CFG_MAX_DISCARD_SEG, BLK_MAX_DISCARD_SEG, 4);
	virtio_cfg_put(vdev, BLK_CFG_DISCARD_ALIGN, 8, 4);   /* 4 KiB granularity */
	virtio_cfg_put(vdev, BLK_CFG_MAX_WZ, BLK_MAX_DISCARD_SECTORS, 4);
	virtio_cfg_put(vdev, BLK_CFG_MAX_WZ_SEG, 1, 4);
	virtio_cfg_put(vdev, BLK_CFG_WZ_MAY_UNMAP, 1, 1);
}

int virtio_blk_create(struct vm *vm, const struct virtio_disk_opts *o, int index,
		      struct virtio_front *fe)
{
	struct virtio_dev_info info = {
		.name = "virtio-blk",
		.device_id = VIRTIO_ID_BLOCK,
		.class_code = 0x018000,     /* mass storage, other */
		.nqueues = 1,
		.queue_max = BLK_QUEUE_SIZE,
		.features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
			    VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |
			    VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES),
		.config_len = BLK_CFG_LEN,
	};
	struct vblk *b = calloc(1, sizeof(*b));
	int err;

	if (!b)
		return -ENOMEM;
	b->ro = o->ro;
	err = blk_open(o->path, o->format, o->ro ? BLK_OPEN_RDONLY : 0, &b->blk);
	if (err) {
		log_errno(-err, "virtio-blk: cannot open disk image %s", o->path);
		goto err_free;
	}
	if (b->ro)
		info.features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	if (o->serial[0])
		memcpy(b->serial, o->serial, strnlen(o->serial, VIRTIO_SERIAL_LEN));
	else
		snprintf(b->serial, sizeof(b->serial), "vireo-disk%d", index);
	err = virtio_dev_create(vm, &info, &vblk_ops, b, &b->vdev);
	if (err)
		goto err_close;
	blk_config_init(b);
	fe->vdev = b->vdev;
	fe->state = b;
	fe->destroy = virtio_blk_destroy;
	return 0;

err_close:
	blk_close(b->blk);
err_free:
	free(b);
	return err;
}

void virtio_blk_destroy(void *state)
{
	struct vblk *b = state;

	virtio_dev_destroy(b->vdev);
	blk_close(b->blk);
	free(b);
}
