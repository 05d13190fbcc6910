/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_TEST_VSW_H
#define VIREO_TEST_VSW_H

/* Helpers for driving the switch core with synthetic frames. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/vsw.h"

#define SINK_MAX 64

/* A fake port peer: remembers what the switch sent it. */
struct sink {
	unsigned count;
	size_t len[SINK_MAX];
	uint8_t frame[SINK_MAX][VSW_FRAME_MAX + 4];
	int fail;               /* make xmit fail (queue full) */
};

static inline int sink_xmit(void *opaque, const void *frame, size_t len)
{
	struct sink *s = opaque;

	if (s->fail)
		return -EAGAIN;
	if (s->count < SINK_MAX) {
		memcpy(s->frame[s->count], frame, len);
		s->len[s->count] = len;
	}
	s->count++;
	return 0;
}

static inline void mac_of(uint8_t mac[6], uint8_t n)
{
	static const uint8_t base[6] = { 0x02, 0x56, 0x52, 0, 0, 0 };

	memcpy(mac, base, 6);
	mac[5] = n;
}

/* Build an Ethernet frame dst <- src, optionally 802.1Q-tagged; returns its length. */
static inline size_t frame_build(uint8_t *f, const uint8_t *dst, const uint8_t *src,
				 int vid, size_t len)
{
	size_t h = 12;

	memset(f, 0, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	if (vid >= 0) {
		f[12] = 0x81;
		f[13] = 0x00;
		f[14] = (uint8_t)(vid >> 8);
		f[15] = (uint8_t)vid;
		h = 16;
	}
	f[h] = 0x08;    /* IPv4, payload of zeros */
	f[h + 1] = 0x00;
	for (size_t i = h + 2; i < len; i++)
		f[i] = (uint8_t)i;
	return len;
}

static inline int frame_vid(const uint8_t *f)
{
	if (f[12] == 0x81 && f[13] == 0x00)
		return (f[14] & 0x0f) << 8 | f[15];
	return -1;
}

#endif
