/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_NET_TAP_H
#define VIREO_NET_TAP_H

#include <stdint.h>

#include "vireo/util.h"

/*
 * Open (creating if needed) the tap interface `ifname`: IFF_TAP|IFF_NO_PI,
 * non-blocking, close-on-exec, and bring it up.  One read() or write() is
 * one Ethernet frame.  Returns the fd or -errno (-EPERM without
 * CAP_NET_ADMIN, -EINVAL for a bad name).
 */
int tap_open(const char *ifname) WUR;

/* Set the interface's MAC (so the host stack sends from the port's MAC). */
int tap_set_mac(const char *ifname, const uint8_t mac[6]) WUR;

#endif
