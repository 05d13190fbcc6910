// SPDX-License-Identifier: GPL-2.0-only
/*
 * The virtio devices of a VM from its configuration (vireo/virtio.h).
 * The standard devices come from the fixed table in src/core/devices.c;
 * these depend on options, so each is created here and linked into
 * vm->devices like any other device (reset, pause/resume, destroy).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/virtio/devices.h"
#include "dev/virtio/virtio.h"
#include "vireo/device.h"
#include "vireo/log.h"
#include "vireo/vm.h"

static void front_reset(void *opaque)
{
	virtio_dev_reset(((struct virtio_front *)opaque)->vdev);
}

static void front_pause(void *opaque)
{
	virtio_dev_pause(((struct virtio_front *)opaque)->vdev);
}

static void front_resume(void *opaque)
{
	virtio_dev_resume(((struct virtio_front *)opaque)->vdev);
}

static void front_destroy(void *opaque)
{
	struct virtio_front *fe = opaque;

	fe->destroy(fe->state);
	free(fe);
}

static const struct device_ops virtio_front_ops = {
	.name = "virtio",
	.reset = front_reset,
	.pause = front_pause,
	.resume = front_resume,
	.destroy = front_destroy,
};

/* Link a created front end into vm->devices (device_realize's job for
 * devices without options). */
static int front_attach(struct vm *vm, struct virtio_front *fe)
{
	struct device *d = calloc(1, sizeof(*d));
	struct virtio_front *copy = malloc(sizeof(*copy));

	if (!d || !copy) {
		free(d);
		free(copy);
		fe->destroy(fe->state);
		return -ENOMEM;
	}
	*copy = *fe;
	d->ops = &virtio_front_ops;
	d->opaque = copy;
	d->next = vm->devices;
	vm->devices = d;
	return 0;
}

int virtio_disk_parse(char *spec, struct virtio_disk_opts *d, char *err, size_t errlen)
{
	char *save = NULL, *tok = strtok_r(spec, ",", &save);

	memset(d, 0, sizeof(*d));
	if (!tok || !*tok) {
		snprintf(err, errlen, "give an image path, e.g. --disk disk.img[,ro]");
		return -EINVAL;
	}
	d->path = tok;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "ro")) {
			d->ro = true;
		} else if (!strncmp(tok, "format=", 7)) {
			if (blk_format_parse(tok + 7, &d->format)) {
				snprintf(err, errlen, "unknown format '%s': choose raw, qcow2 or vhd",
					 tok + 7);
				return -EINVAL;
			}
		} else if (!strncmp(tok, "serial=", 7)) {
			if (strlen(tok + 7) > VIRTIO_SERIAL_LEN) {
				snprintf(err, errlen, "serial '%s' is longer than %d characters",
					 tok + 7, VIRTIO_SERIAL_LEN);
				return -EINVAL;
			}
			strcpy(d->serial, tok + 7);
		} else {
			snprintf(err, errlen, "unknown disk option '%s' (ro, format=, serial=)", tok);
			return -EINVAL;
		}
	}
	return 0;
}

int virtio_devices_realize(struct vm *vm, const struct virtio_opts *o)
{
	struct virtio_front fe;
	int err = 0;

	for (int i = 0; i < o->ndisks && !err; i++) {
		err = virtio_blk_create(vm, &o->disks[i], i, &fe);
		if (!err)
			err = front_attach(vm, &fe);
	}
	for (int i = 0; i < o->nnets && !err; i++) {
		err = virtio_net_create(vm, o->nets[i], &fe);
		if (!err)
			err = front_attach(vm, &fe);
	}
	if (!err && o->console) {
		err = virtio_console_create(vm, &fe);
		if (!err)
			err = front_attach(vm, &fe);
	}
	if (!err && o->rng) {
		err = virtio_rng_create(vm, &fe);
		if (!err)
			err = front_attach(vm, &fe);
	}
	if (!err && o->balloon) {
		err = virtio_balloon_create(vm, o->balloon_socket, o->balloon_report, &fe);
		if (!err)
			err = front_attach(vm, &fe);
	}
	return err;
}
