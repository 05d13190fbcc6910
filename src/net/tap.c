// SPDX-License-Identifier: GPL-2.0-only
/* Tap devices (Documentation/networking/tuntap.rst). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/tap.h"

static int ifreq_init(struct ifreq *ifr, const char *ifname)
{
	memset(ifr, 0, sizeof(*ifr));
	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	memcpy(ifr->ifr_name, ifname, strlen(ifname));
	return 0;
}

static int tap_up(const char *ifname)
{
	struct ifreq ifr;
	int s, err = 0;

	if (ifreq_init(&ifr, ifname))
		return -EINVAL;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
	close(s);
	return err;
}

int tap_open(const char *ifname)
{
	struct ifreq ifr;
	int fd, err;

	if (ifreq_init(&ifr, ifname))
		return -EINVAL;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		goto err_close;
	}
	err = tap_up(ifname);
	if (err)
		goto err_close;
	return fd;

err_close:
	close(fd);
	return err;
}

int tap_set_mac(const char *ifname, const uint8_t mac[6])
{
	struct ifreq ifr;
	int s, err = 0;

	if (ifreq_init(&ifr, ifname))
		return -EINVAL;
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
		err = -errno;
	close(s);
	return err;
}
