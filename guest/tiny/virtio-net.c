// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net: read the MAC from the device configuration, post a receive
 * buffer, send an ARP request for 10.0.2.2 (the NAT gateway of
 * `--net nat`, or whatever answers on the test's switch) and wait for the
 * ARP reply (virtio 1.2 §5.1.6).  Exit status 51 on success; 1 no device,
 * 2 features refused, 3 transmit timed out, 4 no reply.
 */
#include "tiny.h"
#include "virtio-pci.h"

#define VIRTIO_NET_EXIT 51
#define VIRTIO_NET_F_MAC (1ULL << 5)
#define NET_HDR 12

static struct vqueue rxq __attribute__((aligned(4096)));
static struct vqueue txq __attribute__((aligned(4096)));
static uint8_t rxbuf[4][2048];
static uint8_t frame[NET_HDR + 42];

static void build_arp(const uint8_t mac[6])
{
	static const uint8_t head[] = { 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1 };
	static const uint8_t sip[4] = { 10, 0, 2, 15 }, tip[4] = { 10, 0, 2, 2 };
	uint8_t *f = frame + NET_HDR;

	for (int i = 0; i < 6; i++) {
		f[i] = 0xff;
		f[6 + i] = mac[i];
		f[22 + i] = mac[i];
		f[32 + i] = 0;
	}
	for (unsigned i = 0; i < sizeof(head); i++)
		f[12 + i] = head[i];
	for (int i = 0; i < 4; i++) {
		f[28 + i] = sip[i];
		f[38 + i] = tip[i];
	}
}

/*
 * Wait for an ARP reply from 10.0.2.2 among the received frames.  A host
 * link sends its own traffic too (IPv6 MLD reports, neighbour and router
 * solicitations), so each buffer goes back to the device once it has been
 * looked at, and up to 16 frames are read before giving up.
 */
static int wait_reply(struct vdev *d)
{
	for (int n = 0; n < 16; n++) {
		struct vbuf b = { rxbuf[n % 4], sizeof(rxbuf[n % 4]), true };
		const uint8_t *f = rxbuf[n % 4] + NET_HDR;
		uint32_t len;

		if (vdev_wait(&rxq, &len, 10000))
			return -1;
		printf("virtio-net: received %u bytes, ethertype %02x%02x\n", len - NET_HDR,
		       f[12], f[13]);
		if (f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && f[28] == 10 && f[31] == 2) {
			printf("virtio-net: 10.0.2.2 is at %02x:%02x:%02x:%02x:%02x:%02x\n",
			       f[22], f[23], f[24], f[25], f[26], f[27]);
			return 0;
		}
		vdev_offer(d, &rxq, &b, 1);
	}
	return -1;
}

int tiny_main(const struct hvm_start_info *si)
{
	struct vdev d = { 0 };
	uint8_t mac[6];

	serial_init();
	if (vdev_probe(&d, 1)) {
		printf("virtio-net: no virtio-net device\n");
		return 1;
	}
	if (vdev_init(&d, VIRTIO_NET_F_MAC)) {
		printf("virtio-net: FEATURES_OK refused\n");
		return 2;
	}
	vdev_queue(&d, &rxq, 0);
	vdev_queue(&d, &txq, 1);
	vdev_driver_ok(&d);
	for (int i = 0; i < 6; i++)
		mac[i] = d.device[i];
	printf("virtio-net: mac %02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2],
	       mac[3], mac[4], mac[5]);
	for (int i = 0; i < 4; i++) {
		struct vbuf b = { rxbuf[i], sizeof(rxbuf[i]), true };

		vdev_offer(&d, &rxq, &b, 1);
	}
	build_arp(mac);
	{
		struct vbuf b = { frame, sizeof(frame), false };

		vdev_offer(&d, &txq, &b, 1);
	}
	if (vdev_wait(&txq, NULL, 10000)) {
		printf("virtio-net: transmit timed out\n");
		return 3;
	}
	printf("virtio-net: sent an ARP request for 10.0.2.2\n");
	if (wait_reply(&d)) {
		printf("virtio-net: no ARP reply\n");
		return 4;
	}
	return VIRTIO_NET_EXIT;
}
