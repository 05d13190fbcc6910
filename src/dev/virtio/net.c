// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net (virtio 1.2 §5.1) over a network port (vireo/net.h): the
 * front end does not know whether a switch, a tap device or a private NAT
 * serves it.  One receive and one transmit queue, no offloads: every frame
 * travels whole with the 12-byte struct virtio_net_hdr of VERSION_1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "dev/virtio/devices.h"
#include "dev/virtio/virtio.h"
#include "vireo/evloop.h"
#include "vireo/log.h"
#include "vireo/net.h"
#include "vireo/vm.h"

/* §5.1.3 feature bits */
#define VIRTIO_NET_F_MAC    5
#define VIRTIO_NET_F_STATUS 16
/* §5.1.4 config: mac[6], status */
#define NET_CFG_MAC     0
#define NET_CFG_STATUS  6
#define NET_CFG_LEN     8
#define VIRTIO_NET_S_LINK_UP 1

#define NET_QUEUE_SIZE 256
#define NET_RX 0
#define NET_TX 1
#define NET_HDR_LEN 12          /* §5.1.6: with VERSION_1, num_buffers included */

struct vnet {
	struct virtio_dev *vdev;
	struct evloop *loop;
	struct net_port *port;
	int port_fd;
	bool rx_watch;
	uint8_t pend[NET_FRAME_MAX];    /* a received frame not yet delivered */
	ssize_t pend_len;               /* 0: none */
	uint64_t rx_frames, tx_frames, rx_dropped, tx_dropped;
};

static void net_watch(struct vnet *n, bool on)
{
	if (n->rx_watch != on && evloop_mod(n->loop, n->port_fd, on ? EPOLLIN : 0) == 0)
		n->rx_watch = on;
}

/* Hand one frame to the guest in one chain (no VIRTIO_NET_F_MRG_RXBUF). */
static void net_deliver(struct vnet *n, struct vq_chain *c, struct guest_mem *mem)
{
	uint8_t hdr[NET_HDR_LEN] = { 0 };
	uint32_t len = 0;

	hdr[10] = 1;    /* num_buffers */
	if (c->in_len >= NET_HDR_LEN + (uint64_t)n->pend_len) {
		vq_chain_to(mem, c, 0, hdr, sizeof(hdr));
		vq_chain_to(mem, c, NET_HDR_LEN, n->pend, n->pend_len);
		len = NET_HDR_LEN + n->pend_len;
		n->rx_frames++;
	} else {
		n->rx_dropped++;    /* the driver's buffer is too small */
	}
	n->pend_len = 0;
	virtio_dev_push(n->vdev, NET_RX, c->head, len);
}

static void net_rx(struct vnet *n)
{
	struct virtio_dev *vdev = n->vdev;

	for (;;) {
		struct virtq *vq = virtio_dev_vq(vdev, NET_RX);

		if (!n->pend_len) {
			ssize_t r = net_port_recv(n->port, n->pend, sizeof(n->pend));

			if (r <= 0)
				return;     /* -EAGAIN: the port fd wakes us */
			n->pend_len = r;
		}
		if (!vq || !vq_has_avail(vq)) {
			net_watch(n, false);    /* keep the frame; wait for buffers */
			return;
		}
		if (virtio_dev_pop(vdev, NET_RX, vdev->chain) != 1)
			return;
		net_deliver(n, vdev->chain, vq->mem);
	}
}

static void net_tx_one(struct vnet *n, const struct vq_chain *c)
{
	uint8_t frame[NET_FRAME_MAX];
	uint64_t len = c->out_len >= NET_HDR_LEN ? c->out_len - NET_HDR_LEN : 0;
	int err;

	if (!len || len > sizeof(frame)) {
		n->tx_dropped++;
		return;
	}
	vq_chain_from(c, NET_HDR_LEN, frame, len);
	err = net_port_send(n->port, frame, len);
	if (err) {
		n->tx_dropped++;    /* a full port drops, as a NIC would */
		if (err != -EAGAIN)
			log_warnx_rl("virtio-net: port send: %s", strerror(-err));
		return;
	}
	n->tx_frames++;
}

static void net_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct vnet *n = vdev->opaque;
	struct virtq *vq;

	if (q == NET_RX) {
		net_watch(n, true);
		net_rx(n);
		return;
	}
	do {
		while (virtio_dev_pop(vdev, NET_TX, vdev->chain) == 1) {
			net_tx_one(n, vdev->chain);
			virtio_dev_push(vdev, NET_TX, vdev->chain->head, 0);
		}
		vq = virtio_dev_vq(vdev, NET_TX);
	} while (vq && vq_notify_enable(vq));
}

static void net_reset(struct virtio_dev *vdev)
{
	struct vnet *n = vdev->opaque;

	net_watch(n, false);
	n->pend_len = 0;
}

static void net_port_ready(int fd, uint32_t events, void *opaque)
{
	struct vnet *n = opaque;

	virtio_dev_lock(n->vdev);
	if (virtio_dev_vq(n->vdev, NET_RX))
		net_rx(n);
	else
		net_watch(n, false);
	virtio_dev_unlock(n->vdev);
}

static const struct virtio_dev_ops vnet_ops = {
	.queue_notify = net_queue_notify,
	.reset = net_reset,
};

int virtio_net_create(struct vm *vm, const char *spec, struct virtio_front *fe)
{
	static const struct virtio_dev_info info = {
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		.class_code = 0x020000,
		.nqueues = 2,
		.queue_max = NET_QUEUE_SIZE,
		.features = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS),
		.config_len = NET_CFG_LEN,
	};
	struct vnet *n = calloc(1, sizeof(*n));
	uint8_t mac[6];
	int err;

	if (!n)
		return -ENOMEM;
	n->loop = vm->loop;
	err = net_port_open(spec, &n->port);
	if (err) {
		log_errno(-err, "virtio-net: cannot open network port '%s'", spec);
		goto err_free;
	}
	n->port_fd = net_port_fd(n->port);
	err = virtio_dev_create(vm, &info, &vnet_ops, n, &n->vdev);
	if (err)
		goto err_port;
	net_port_mac(n->port, mac);
	for (int i = 0; i < 6; i++)
		virtio_cfg_put(n->vdev, NET_CFG_MAC + i, mac[i], 1);
	virtio_cfg_put(n->vdev, NET_CFG_STATUS, VIRTIO_NET_S_LINK_UP, 2);
	err = evloop_add(vm->loop, n->port_fd, 0, net_port_ready, n);
	if (err)
		goto err_dev;
	fe->vdev = n->vdev;
	fe->state = n;
	fe->destroy = virtio_net_destroy;
	return 0;

err_dev:
	virtio_dev_destroy(n->vdev);
err_port:
	net_port_close(n->port);
err_free:
	free(n);
	return err;
}

void virtio_net_destroy(void *state)
{
	struct vnet *n = state;

	evloop_del(n->loop, n->port_fd);
	virtio_dev_destroy(n->vdev);
	net_port_close(n->port);
	free(n);
}
