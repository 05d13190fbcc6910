// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-console (virtio 1.2 §5.3), one port without MULTIPORT: the guest's
 * /dev/hvc0.  The host side is a pseudo-terminal whose path is printed at
 * start ("screen /dev/pts/N" or any program reads and writes it).
 *
 * Output the host does not read is dropped once the pty buffer is full, as
 * a serial line without flow control would: the guest never stalls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "dev/virtio/devices.h"
#include "dev/virtio/virtio.h"
#include "vireo/evloop.h"
#include "vireo/log.h"
#include "vireo/vm.h"

#define CON_QUEUE_SIZE 64
#define CON_RX 0
#define CON_TX 1
#define CON_BUF 4096

/* §5.3.4 struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr */
#define CON_CFG_COLS 0
#define CON_CFG_ROWS 2
#define CON_CFG_LEN  12

struct vcon {
	struct virtio_dev *vdev;
	struct evloop *loop;
	int master, slave;          /* the slave stays open: no EIO while unused */
	bool rx_watch;              /* master fd polled for input */
	char path[64];
	uint8_t pend[CON_BUF];      /* read from the pty, not yet in the guest */
	size_t pend_len, pend_off;
	uint64_t rx_bytes, tx_bytes, tx_dropped;
};

static void con_watch(struct vcon *c, bool on)
{
	if (c->rx_watch == on)
		return;
	if (evloop_mod(c->loop, c->master, on ? EPOLLIN : 0) == 0)
		c->rx_watch = on;
}

/*
 * Host input into the guest's receive buffers.  Input is read into pend
 * first and handed over as buffers come, so nothing read is ever lost;
 * without buffers the fd is not polled until the driver kicks.
 */
static void con_rx(struct vcon *c)
{
	struct virtio_dev *vdev = c->vdev;
	struct vq_chain *ch = vdev->chain;

	for (;;) {
		struct virtq *vq = virtio_dev_vq(vdev, CON_RX);
		size_t n;

		if (c->pend_off == c->pend_len) {
			ssize_t r = read(c->master, c->pend, sizeof(c->pend));

			if (r <= 0)
				return;     /* EAGAIN: the watch wakes us */
			c->pend_len = r;
			c->pend_off = 0;
		}
		if (!vq || !vq_has_avail(vq)) {
			con_watch(c, false);
			return;
		}
		if (virtio_dev_pop(vdev, CON_RX, ch) != 1)
			return;
		n = vq_chain_to(vq->mem, ch, 0, c->pend + c->pend_off,
				c->pend_len - c->pend_off);
		c->pend_off += n;
		c->rx_bytes += n;
		virtio_dev_push(vdev, CON_RX, ch->head, n);
	}
}

static void con_tx(struct vcon *c)
{
	struct virtio_dev *vdev = c->vdev;
	struct vq_chain *ch = vdev->chain;

	while (virtio_dev_pop(vdev, CON_TX, ch) == 1) {
		for (unsigned i = 0; i < ch->nout; i++) {
			ssize_t n = write(c->master, ch->iov[i].iov_base, ch->iov[i].iov_len);

			if (n < (ssize_t)ch->iov[i].iov_len)
				c->tx_dropped += ch->iov[i].iov_len - (n > 0 ? n : 0);
			c->tx_bytes += n > 0 ? n : 0;
		}
		virtio_dev_push(vdev, CON_TX, ch->head, 0);
	}
}

static void con_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct vcon *c = vdev->opaque;

	if (q == CON_TX) {
		struct virtq *vq;

		do {
			con_tx(c);
			vq = virtio_dev_vq(vdev, CON_TX);
		} while (vq && vq_notify_enable(vq));
	} else {
		con_watch(c, true);     /* buffers arrived: poll the host side */
		con_rx(c);
	}
}

static void con_reset(struct virtio_dev *vdev)
{
	struct vcon *c = vdev->opaque;

	con_watch(c, false);
	c->pend_len = c->pend_off = 0;
}

static void con_input(int fd, uint32_t events, void *opaque)
{
	struct vcon *c = opaque;

	virtio_dev_lock(c->vdev);
	if (virtio_dev_vq(c->vdev, CON_RX))
		con_rx(c);
	else
		con_watch(c, false);
	virtio_dev_unlock(c->vdev);
}

static const struct virtio_dev_ops vcon_ops = {
	.queue_notify = con_queue_notify,
	.reset = con_reset,
};

static int pty_open(struct vcon *c)
{
	struct termios t;
	const char *name;

	c->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (c->master < 0)
		return -errno;
	if (grantpt(c->master) || unlockpt(c->master) || !(name = ptsname(c->master)))
		return -errno;
	snprintf(c->path, sizeof(c->path), "%s", name);
	c->slave = open(c->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->slave < 0)
		return -errno;
	/* Raw: bytes pass unchanged both ways, no echo (the guest echoes). */
	if (tcgetattr(c->slave, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(c->slave, TCSANOW, &t);
	}
	return 0;
}

int virtio_console_create(struct vm *vm, struct virtio_front *fe)
{
	static const struct virtio_dev_info info = {
		.name = "virtio-console",
		.device_id = VIRTIO_ID_CONSOLE,
		.class_code = 0x078000,     /* communication, other */
		.nqueues = 2,
		.queue_max = CON_QUEUE_SIZE,
		.config_len = CON_CFG_LEN,
	};
	struct vcon *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->master = c->slave = -1;
	c->loop = vm->loop;
	err = pty_open(c);
	if (err) {
		log_errno(-err, "virtio-console: cannot open a pseudo-terminal");
		goto err_close;
	}
	err = virtio_dev_create(vm, &info, &vcon_ops, c, &c->vdev);
	if (err)
		goto err_close;
	virtio_cfg_put(c->vdev, CON_CFG_COLS, 80, 2);
	virtio_cfg_put(c->vdev, CON_CFG_ROWS, 25, 2);
	err = evloop_add(vm->loop, c->master, 0, con_input, c);
	if (err)
		goto err_dev;
	fprintf(stderr, "vireo: virtio-console: the guest's /dev/hvc0 is %s\n", c->path);
	fe->vdev = c->vdev;
	fe->state = c;
	fe->destroy = virtio_console_destroy;
	return 0;

err_dev:
	virtio_dev_destroy(c->vdev);
err_close:
	if (c->slave >= 0)
		close(c->slave);
	if (c->master >= 0)
		close(c->master);
	free(c);
	return err;
}

const char *virtio_console_path(void *state)
{
	return ((struct vcon *)state)->path;
}

void virtio_console_destroy(void *state)
{
	struct vcon *c = state;

	evloop_del(c->loop, c->master);
	virtio_dev_destroy(c->vdev);
	close(c->slave);
	close(c->master);
	free(c);
}
