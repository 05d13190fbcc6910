/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEV_VIRTIO_DEVICES_H
#define VIREO_DEV_VIRTIO_DEVICES_H

/*
 * The virtio front ends' constructors, for virtio_devices_realize()
 * (src/dev/virtio/devices.c) and the unit tests.  Each fills a struct
 * virtio_front: its transport, its own state and how to free it.
 */
#include "vireo/util.h"
#include "vireo/virtio.h"

struct vm;
struct virtio_dev;

struct virtio_front {
	struct virtio_dev *vdev;
	void *state;
	void (*destroy)(void *state);
};

/* Returns 0 with *fe filled, or -errno (logged). */
int virtio_blk_create(struct vm *vm, const struct virtio_disk_opts *o, int index,
		      struct virtio_front *fe) WUR;
void virtio_blk_destroy(void *state);

int virtio_net_create(struct vm *vm, const char *spec, struct virtio_front *fe) WUR;
void virtio_net_destroy(void *state);

int virtio_console_create(struct vm *vm, struct virtio_front *fe) WUR;
void virtio_console_destroy(void *state);
/* The host side of the console: the pty's path (for logs and tests). */
const char *virtio_console_path(void *state);

int virtio_rng_create(struct vm *vm, struct virtio_front *fe) WUR;
void virtio_rng_destroy(void *state);

/* socket_path may be NULL (no control socket); report: offer free page
 * reporting (VIRTIO_BALLOON_F_PAGE_REPORTING). */
int virtio_balloon_create(struct vm *vm, const char *socket_path, bool report,
			  struct virtio_front *fe) WUR;
void virtio_balloon_destroy(void *state);
/* Monitor side: ask the guest to give back memory so that it keeps `bytes`
 * (rounded to 4 KiB pages; at most the RAM size).  Any thread. */
int virtio_balloon_set_target(void *state, uint64_t bytes) WUR;
/* Pages the guest has handed over (num_pages it acknowledged in `actual`). */
uint64_t virtio_balloon_actual(void *state);

#endif
