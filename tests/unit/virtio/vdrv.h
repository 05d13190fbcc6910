/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_TEST_VDRV_H
#define VIREO_TEST_VDRV_H

/*
 * A minimal virtio-pci driver in C for the unit tests, doing what a guest
 * driver does (virtio 1.2 §3.1, §4.1.5): find the function by PCI ID
 * through config mechanism #1, walk the vendor capabilities, reset,
 * negotiate features, set up split queues in guest RAM, offer chains,
 * kick, and wait for used buffers.  It runs on the test thread while the
 * device works on a real event-loop thread, like a vCPU would.
 */
#include <stdbool.h>
#include <stdint.h>

#include "vfake.h"

#define VDRV_MAX_Q 8

struct vdrv_q {
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx, used_seen;
	uint16_t next_desc;
};

struct vdrv {
	struct fake_vm *f;
	unsigned slot;
	uint64_t bar;                   /* BAR0 guest address */
	uint32_t common, notify, isr, device, notify_mult;
	unsigned msix_cap, pcicfg_cap;
	struct vdrv_q q[VDRV_MAX_Q];
	uint64_t heap;                  /* bump allocator in guest RAM */
};

/* One buffer of a chain. */
struct vdrv_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* The test VM: fake core + real guest RAM, buses, PCI host, event loop. */
struct fake_vm *vdrv_vm_create(uint64_t ram);
void vdrv_vm_destroy(struct fake_vm *f);

uint32_t vdrv_cfg_read(struct fake_vm *f, unsigned slot, unsigned reg, int len);
void vdrv_cfg_write(struct fake_vm *f, unsigned slot, unsigned reg, uint32_t v, int len);

/* Find the function with this virtio device ID and map its capabilities: 0 or -1. */
int vdrv_probe(struct vdrv *d, struct fake_vm *f, uint16_t virtio_id);
uint64_t vdrv_rd(struct vdrv *d, uint32_t off, int len);
void vdrv_wr(struct vdrv *d, uint32_t off, uint64_t v, int len);

/* Reset, ACK, DRIVER, features; returns the status read back after FEATURES_OK. */
uint8_t vdrv_negotiate(struct vdrv *d, uint64_t features);
uint64_t vdrv_device_features(struct vdrv *d);
/* Set up queue q (size 0: the device's maximum) and enable it. */
void vdrv_queue(struct vdrv *d, unsigned q, uint16_t size);
void vdrv_driver_ok(struct vdrv *d);
uint8_t vdrv_status(struct vdrv *d);

/* Guest RAM for buffers. */
uint64_t vdrv_alloc(struct vdrv *d, uint64_t len);
void *vdrv_hva(struct vdrv *d, uint64_t gpa);

/* Offer a chain (direct, or through one indirect table) and kick. Returns its head. */
uint16_t vdrv_offer(struct vdrv *d, unsigned q, const struct vdrv_buf *b, int n,
		    bool indirect);
void vdrv_kick(struct vdrv *d, unsigned q);
/* Wait up to timeout_ms for the next used element: 0 (id/len set) or -1. */
int vdrv_wait_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len, int timeout_ms);
/* Wait until cond(d) or timeout; polls every ms. */
bool vdrv_wait_status(struct vdrv *d, uint8_t bits, int timeout_ms);

#endif
