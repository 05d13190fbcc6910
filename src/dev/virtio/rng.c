// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-rng (virtio 1.2 §5.4): one request queue; every writable buffer
 * the driver offers is filled from the host's getrandom(2).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "dev/virtio/devices.h"
#include "dev/virtio/virtio.h"
#include "vireo/log.h"

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_REQ    4096     /* bytes per request; the driver asks again */

struct vrng {
	struct virtio_dev *vdev;
	uint64_t bytes;
};

static void rng_fill(struct vrng *r, const struct vq_chain *c)
{
	struct guest_mem *mem = r->vdev->queues[0].vq.mem;
	uint8_t buf[RNG_MAX_REQ];
	size_t want = MIN(c->in_len, sizeof(buf));
	ssize_t n = want ? getrandom(buf, want, 0) : 0;
	uint32_t done = 0;

	if (n > 0)
		done = vq_chain_to(mem, c, 0, buf, n);
	else if (n < 0)
		log_warn("virtio-rng: getrandom");
	r->bytes += done;
	virtio_dev_push(r->vdev, 0, c->head, done);
}

static void rng_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtq *vq;

	do {
		while (virtio_dev_pop(vdev, 0, vdev->chain) == 1)
			rng_fill(vdev->opaque, vdev->chain);
		vq = virtio_dev_vq(vdev, 0);
	} while (vq && vq_notify_enable(vq));
}

static const struct virtio_dev_ops vrng_ops = {
	.queue_notify = rng_queue_notify,
};

int virtio_rng_create(struct vm *vm, struct virtio_front *fe)
{
	static const struct virtio_dev_info info = {
		.name = "virtio-rng",
		.device_id = VIRTIO_ID_RNG,
		.class_code = 0x00ff00,
		.nqueues = 1,
		.queue_max = RNG_QUEUE_SIZE,
	};
	struct vrng *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	err = virtio_dev_create(vm, &info, &vrng_ops, r, &r->vdev);
	if (err) {
		free(r);
		return err;
	}
	fe->vdev = r->vdev;
	fe->state = r;
	fe->destroy = virtio_rng_destroy;
	return 0;
}

void virtio_rng_destroy(void *state)
{
	struct vrng *r = state;

	virtio_dev_destroy(r->vdev);
	free(r);
}
