/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_VIRTIO_H
#define VIREO_VIRTIO_H

/*
 * The virtio devices of a VM (src/dev/virtio/), as the monitor configures
 * them: one struct virtio_opts, filled from `vireo run` options (or later
 * the daemon's VM config), turned into PCI functions on the VM's host
 * bridge by virtio_devices_realize().  Device order on the bus: disks,
 * network cards, console, rng, balloon, in the order given.
 */
#include <stdbool.h>
#include <stdint.h>

#include "vireo/block.h"
#include "vireo/util.h"

struct vm;

#define VIRTIO_MAX_DISKS 8
#define VIRTIO_MAX_NICS  4
#define VIRTIO_SERIAL_LEN 20    /* virtio-blk GET_ID (§5.2.6) */

struct virtio_disk_opts {
	const char *path;
	enum blk_format format;     /* BLK_FORMAT_AUTO probes */
	bool ro;
	char serial[VIRTIO_SERIAL_LEN + 1];  /* "" : "vireo-disk<N>" */
};

struct virtio_opts {
	struct virtio_disk_opts disks[VIRTIO_MAX_DISKS];
	int ndisks;
	/* Port specs as net_port_open() takes them (vireo/net.h). */
	const char *nets[VIRTIO_MAX_NICS];
	int nnets;
	bool console;               /* virtio-console on a host pty */
	bool rng;
	bool balloon;
	const char *balloon_socket; /* control socket path, may be NULL */
	bool balloon_report;        /* offer free page reporting */
};

/*
 * Parse a `--disk PATH[,ro][,format=raw|qcow2|vhd][,serial=S]` value into
 * *d.  `spec` must outlive d (path points into a copy owned by the caller:
 * the function writes NULs into `spec`).  Returns 0 or -EINVAL with a
 * message for the user in err.
 */
int virtio_disk_parse(char *spec, struct virtio_disk_opts *d, char *err, size_t errlen) WUR;

/*
 * Create every device `o` asks for and link them into vm->devices (reset,
 * pause/resume, destroy with the VM).  Needs the PCI host bridge realized
 * and vm->loop.  Returns 0 or -errno after logging which device failed and
 * why (a missing image, a MAC in use, ...).
 */
int virtio_devices_realize(struct vm *vm, const struct virtio_opts *o) WUR;

#endif
