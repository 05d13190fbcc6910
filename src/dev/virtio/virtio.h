/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEV_VIRTIO_VIRTIO_H
#define VIREO_DEV_VIRTIO_VIRTIO_H

/*
 * A virtio device as its front end (blk.c, net.c, ...) sees it, whatever
 * transport carries it.  The transport here is virtio over PCI, modern
 * interface only (virtio 1.2 §4.1): vendor 0x1af4, device 0x1040 + ID,
 * revision 1, one memory BAR holding the common, notify, ISR and device
 * configuration structures and the MSI-X table and PBA.
 *
 * Threads and locking:
 *  - vCPU threads access the BAR; the transport handles it under the
 *    device lock (vdev->lock).
 *  - Queue notifications ("kicks") are recorded lock-free and handed to
 *    the VM's event-loop thread through an eventfd; ops->queue_notify runs
 *    there with the device lock held.
 *  - Back ends with their own fds (net ports, the console pty) take the
 *    lock with virtio_dev_lock()/virtio_dev_unlock() in their callbacks.
 *  - Lock order: the PCI host lock, then the device lock.  Nothing calls
 *    into the PCI host while holding the device lock: the INTx line is
 *    updated by virtio_dev_unlock() after the lock is dropped.
 *
 * Guest errors: a device that finds the guest broke the rules calls
 * virtio_dev_needs_reset(): one rate-limited log line, DEVICE_NEEDS_RESET
 * in device_status, a configuration change interrupt (§2.1.2), and no more
 * queue processing until the driver resets the device.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/virtio/virtqueue.h"
#include "vireo/util.h"

struct vm;
struct pci_dev;
struct evloop;

/* §6: reserved feature bits */
#define VIRTIO_F_INDIRECT_DESC  28
#define VIRTIO_F_EVENT_IDX      29
#define VIRTIO_F_VERSION_1      32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED    34
#define VIRTIO_BIT(b) (1ULL << (b))

/* §2.1 device status */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

/* §5 device IDs */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_BALLOON 5

#define VIRTIO_PCI_VENDOR_ID   0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040   /* §4.1.2: 0x1040 + device ID */

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_NO_VECTOR  0xffff
#define VIRTIO_CONFIG_MAX 256

/* ISR bits (§4.1.4.5) */
#define VIRTIO_ISR_QUEUE  1
#define VIRTIO_ISR_CONFIG 2

struct virtio_dev;

/* What a front end is: fixed at creation. */
struct virtio_dev_info {
	const char *name;       /* "virtio-blk" ... (log lines) */
	uint16_t device_id;     /* VIRTIO_ID_* */
	uint32_t class_code;    /* PCI class, base << 16 | sub << 8 | prog-if */
	unsigned nqueues;       /* 1..VIRTIO_MAX_QUEUES */
	uint16_t queue_max;     /* largest queue size offered (power of 2) */
	uint64_t features;      /* device feature bits; VERSION_1, INDIRECT_DESC
				 * and EVENT_IDX are added by the transport */
	unsigned config_len;    /* bytes of device configuration (<= VIRTIO_CONFIG_MAX) */
};

/*
 * Front-end callbacks, all called with the device lock held.  Any may be
 * NULL.
 */
struct virtio_dev_ops {
	/* The driver wrote config bytes [off, off+len) (already stored). */
	void (*cfg_write)(struct virtio_dev *vdev, unsigned off, unsigned len);
	/* The driver kicked queue q; the device is live (event-loop thread). */
	void (*queue_notify)(struct virtio_dev *vdev, unsigned q);
	/* FEATURES_OK was written: return 0 to accept vdev->driver_features. */
	int (*features_ok)(struct virtio_dev *vdev);
	/* DRIVER_OK was set. */
	void (*driver_ok)(struct virtio_dev *vdev);
	/* Device reset (§2.4): forget every buffer and per-driver state. */
	void (*reset)(struct virtio_dev *vdev);
};

struct virtio_queue {
	struct virtq vq;
	uint16_t size;          /* as the driver set it (queue_size) */
	uint16_t msix_vector;
	bool enabled;
};

struct virtio_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct virtio_dev {
	struct vm *vm;
	struct virtio_dev_info info;
	const struct virtio_dev_ops *ops;
	void *opaque;           /* the front end's state */
	struct pci_dev *pci;
	pthread_mutex_t lock;

	/* Guarded by lock. */
	uint64_t host_features, driver_features;
	uint32_t dfselect, gfselect;
	uint8_t status, config_gen;
	uint16_t queue_sel, config_vector;
	bool paused;
	struct virtio_queue queues[VIRTIO_MAX_QUEUES];
	struct virtio_msix_entry msix[VIRTIO_MAX_QUEUES + 1];
	uint64_t msix_pba;
	uint8_t config[VIRTIO_CONFIG_MAX];
	unsigned nresets, nneeds_reset;     /* statistics (tests, docs) */
	struct vq_chain *chain;             /* scratch for front ends */

	/* Lock-free. */
	atomic_uint kick_pending;           /* bit per queue */
	atomic_uchar isr;
	atomic_ushort msix_ctrl;            /* copy of the MSI-X message control */
	atomic_bool intx_dirty;
	int kick_fd;                        /* eventfd to the event loop */
	unsigned msix_cap, pcicfg_cap;      /* config offsets */
};

/*
 * Create the transport for a front end: a PCI function on the VM's host
 * bridge with its BAR and capabilities, and the kick eventfd on the VM's
 * event loop.  `opaque` is the front end's state (vdev->opaque).  Call
 * before the vCPUs run.  Returns 0 and *out, or -errno (-ENODEV: the VM has
 * no PCI host bridge).
 */
int virtio_dev_create(struct vm *vm, const struct virtio_dev_info *info,
		      const struct virtio_dev_ops *ops, void *opaque,
		      struct virtio_dev **out) WUR;
/* Unregister from the event loop and free.  The PCI function stays until
 * the host bridge goes (it has no unplug).  NULL is fine. */
void virtio_dev_destroy(struct virtio_dev *vdev);

/* Device reset from the monitor (system reset), pause and resume. */
void virtio_dev_reset(struct virtio_dev *vdev);
void virtio_dev_pause(struct virtio_dev *vdev);
void virtio_dev_resume(struct virtio_dev *vdev);

/*
 * Run the front end for every queue kicked since the last call, on the
 * caller's thread.  The event loop calls this on a kick; tests and the
 * fuzz targets call it directly.  Takes the device lock.
 */
void virtio_dev_poll(struct virtio_dev *vdev);

/* Take/drop the device lock; unlock also brings the INTx line up to date. */
void virtio_dev_lock(struct virtio_dev *vdev);
void virtio_dev_unlock(struct virtio_dev *vdev);

/* Lock held: DRIVER_OK set, no NEEDS_RESET, not paused. */
bool virtio_dev_live(const struct virtio_dev *vdev);
/* Lock held: the queue if it is enabled and the device live, else NULL. */
struct virtq *virtio_dev_vq(struct virtio_dev *vdev, unsigned q);
/* Lock held: negotiated feature test. */
bool virtio_dev_has(const struct virtio_dev *vdev, unsigned bit);

/*
 * Lock held: vq_pop on queue q, turning a malformed chain into NEEDS_RESET.
 * Returns 1 with a chain in *c, 0 when there is none (or the device is not
 * live any more).
 */
int virtio_dev_pop(struct virtio_dev *vdev, unsigned q, struct vq_chain *c);
/* Lock held: return a chain and interrupt the driver if it wants one. */
void virtio_dev_push(struct virtio_dev *vdev, unsigned q, uint16_t head, uint32_t len);
/* Lock held: interrupt for queue q if the driver wants one now. */
void virtio_dev_signal(struct virtio_dev *vdev, unsigned q);

/* Lock held: the guest broke the rules; see the top of this file. */
void virtio_dev_needs_reset(struct virtio_dev *vdev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Lock held: device config changed (generation and interrupt, §4.1.4.3). */
void virtio_dev_config_changed(struct virtio_dev *vdev);

/* Little-endian config helpers (lock held, or before the vCPUs run). */
void virtio_cfg_put(struct virtio_dev *vdev, unsigned off, uint64_t v, int len);
uint64_t virtio_cfg_get(const struct virtio_dev *vdev, unsigned off, int len);

/* The BAR layout (offsets in BAR 0), for tests and the tiny guests. */
#define VIRTIO_PCI_BAR          0
#define VIRTIO_PCI_BAR_SIZE     0x8000
#define VIRTIO_PCI_COMMON_OFF   0x0000
#define VIRTIO_PCI_COMMON_LEN   0x40
#define VIRTIO_PCI_ISR_OFF      0x1000
#define VIRTIO_PCI_DEVICE_OFF   0x2000
#define VIRTIO_PCI_NOTIFY_OFF   0x3000
#define VIRTIO_PCI_NOTIFY_MULT  4
#define VIRTIO_PCI_MSIX_OFF     0x4000
#define VIRTIO_PCI_PBA_OFF      0x5000

#endif
