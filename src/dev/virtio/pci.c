// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio over PCI, modern interface (virtio 1.2 §4.1).  See virtio.h for
 * the layout, the threads and the lock order.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dev/virtio/virtio.h"
#include "vireo/evloop.h"
#include "vireo/log.h"
#include "vireo/pci.h"
#include "vireo/vm.h"

/* §4.1.4 capability cfg_type values */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

/* §4.1.4.3 struct virtio_pci_common_cfg */
#define CC_DFSELECT      0x00
#define CC_DF            0x04
#define CC_GFSELECT      0x08
#define CC_GF            0x0c
#define CC_MSIX_CONFIG   0x10
#define CC_NUM_QUEUES    0x12
#define CC_STATUS        0x14
#define CC_CFG_GEN       0x15
#define CC_Q_SELECT      0x16
#define CC_Q_SIZE        0x18
#define CC_Q_MSIX        0x1a
#define CC_Q_ENABLE      0x1c
#define CC_Q_NOTIFY_OFF  0x1e
#define CC_Q_DESC        0x20
#define CC_Q_DRIVER      0x28
#define CC_Q_DEVICE      0x30
#define CC_Q_NOTIFY_DATA 0x38
#define CC_Q_RESET       0x3a

/* MSI-X (PCI 3.0 §6.8.2) */
#define MSIX_CTRL_ENABLE   0x8000
#define MSIX_CTRL_MASKALL  0x4000
#define MSIX_ENTRY_MASKED  1

static const uint64_t transport_features =
	VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |
	VIRTIO_BIT(VIRTIO_F_EVENT_IDX);

static void le_put(uint8_t *p, uint64_t v, int len)
{
	for (int i = 0; i < len; i++)
		p[i] = v >> (8 * i);
}

static uint64_t le_get(const uint8_t *p, int len)
{
	uint64_t v = 0;

	for (int i = len - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void virtio_cfg_put(struct virtio_dev *vdev, unsigned off, uint64_t v, int len)
{
	if (off + len <= VIRTIO_CONFIG_MAX)
		le_put(vdev->config + off, v, len);
}

uint64_t virtio_cfg_get(const struct virtio_dev *vdev, unsigned off, int len)
{
	return off + len <= VIRTIO_CONFIG_MAX ? le_get(vdev->config + off, len) : 0;
}

/* ---- locking and interrupts ---- */

void virtio_dev_lock(struct virtio_dev *vdev)
{
	pthread_mutex_lock(&vdev->lock);
}

static bool msix_enabled(struct virtio_dev *vdev)
{
	return atomic_load(&vdev->msix_ctrl) & MSIX_CTRL_ENABLE;
}

/*
 * Bring INTx in line with the ISR, without the device lock (lock order).
 * Two threads may race here; re-reading the ISR after setting the line
 * makes the last writer leave the level the ISR asks for.
 */
static void intx_sync(struct virtio_dev *vdev)
{
	for (int tries = 0; tries < 8; tries++) {
		uint8_t isr = atomic_load(&vdev->isr);

		pci_dev_set_intx(vdev->pci, isr && !msix_enabled(vdev));
		if (atomic_load(&vdev->isr) == isr)
			return;
	}
}

void virtio_dev_unlock(struct virtio_dev *vdev)
{
	pthread_mutex_unlock(&vdev->lock);
	if (atomic_exchange(&vdev->intx_dirty, false))
		intx_sync(vdev);
}

static void msix_fire(struct virtio_dev *vdev, uint16_t vector)
{
	struct virtio_msix_entry *e;

	if (vector >= vdev->info.nqueues + 1)
		return;     /* NO_VECTOR: the driver wants no interrupt */
	e = &vdev->msix[vector];
	if ((e->ctrl & MSIX_ENTRY_MASKED) ||
	    (atomic_load(&vdev->msix_ctrl) & MSIX_CTRL_MASKALL)) {
		vdev->msix_pba |= 1ULL << vector;
		return;
	}
	vdev->msix_pba &= ~(1ULL << vector);
	vm_msi_send(vdev->vm, (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data);
}

/* Deliver pending vectors that are no longer masked (PCI 3.0 §6.8.3.5). */
static void msix_flush_pending(struct virtio_dev *vdev)
{
	for (unsigned v = 0; v < vdev->info.nqueues + 1; v++)
		if (vdev->msix_pba & (1ULL << v))
			msix_fire(vdev, v);
}

/* Interrupt the driver: `isr_bit` for INTx, `vector` for MSI-X (§4.1.4.5). */
static void dev_interrupt(struct virtio_dev *vdev, uint8_t isr_bit, uint16_t vector)
{
	if (msix_enabled(vdev)) {
		msix_fire(vdev, vector);
		return;
	}
	atomic_fetch_or(&vdev->isr, isr_bit);
	atomic_store(&vdev->intx_dirty, true);
}

bool virtio_dev_live(const struct virtio_dev *vdev)
{
	return (vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vdev->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)) &&
	       !vdev->paused;
}

struct virtq *virtio_dev_vq(struct virtio_dev *vdev, unsigned q)
{
	if (q >= vdev->info.nqueues || !virtio_dev_live(vdev) ||
	    !vdev->queues[q].enabled || !vdev->queues[q].vq.ready)
		return NULL;
	return &vdev->queues[q].vq;
}

bool virtio_dev_has(const struct virtio_dev *vdev, unsigned bit)
{
	return bit < 64 && (vdev->driver_features & VIRTIO_BIT(bit));
}

void virtio_dev_config_changed(struct virtio_dev *vdev)
{
	vdev->config_gen++;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		dev_interrupt(vdev, VIRTIO_ISR_CONFIG, vdev->config_vector);
}

void virtio_dev_needs_reset(struct virtio_dev *vdev, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vdev->nneeds_reset++;
	log_warnx_rl("%s (slot %u): guest error, device needs reset: %s",
		     vdev->info.name, pci_dev_slot(vdev->pci), msg);
	if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* §2.1.2: tell a running driver with a config change notification. */
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_dev_config_changed(vdev);
}

int virtio_dev_pop(struct virtio_dev *vdev, unsigned q, struct vq_chain *c)
{
	struct virtq *vq = virtio_dev_vq(vdev, q);
	char why[160];
	int r;

	if (!vq)
		return 0;
	r = vq_pop(vq, c, why, sizeof(why));
	if (r < 0) {
		virtio_dev_needs_reset(vdev, "queue %u: %s", q, why);
		return 0;
	}
	return r;
}

void virtio_dev_signal(struct virtio_dev *vdev, unsigned q)
{
	struct virtq *vq = virtio_dev_vq(vdev, q);

	if (vq && vq_should_signal(vq))
		dev_interrupt(vdev, VIRTIO_ISR_QUEUE, vdev->queues[q].msix_vector);
}

void virtio_dev_push(struct virtio_dev *vdev, unsigned q, uint16_t head, uint32_t len)
{
	struct virtq *vq = virtio_dev_vq(vdev, q);

	if (!vq)
		return;
	vq_push(vq, head, len);
	virtio_dev_signal(vdev, q);
}

/* ---- reset and status (§2.1, §2.4, §3.1) ---- */

static void dev_reset_locked(struct virtio_dev *vdev)
{
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	vdev->driver_features = 0;
	vdev->dfselect = vdev->gfselect = 0;
	vdev->status = 0;
	vdev->queue_sel = 0;
	vdev->config_vector = VIRTIO_NO_VECTOR;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct virtio_queue *vqs = &vdev->queues[q];

		vq_reset(&vqs->vq);
		vqs->size = vdev->info.queue_max;
		vqs->msix_vector = VIRTIO_NO_VECTOR;
		vqs->enabled = false;
	}
	atomic_store(&vdev->kick_pending, 0);
	atomic_store(&vdev->isr, 0);
	atomic_store(&vdev->intx_dirty, true);
	vdev->nresets++;
}

void virtio_dev_reset(struct virtio_dev *vdev)
{
	virtio_dev_lock(vdev);
	dev_reset_locked(vdev);
	for (unsigned v = 0; v < VIRTIO_MAX_QUEUES + 1; v++)
		vdev->msix[v] = (struct virtio_msix_entry){ .ctrl = MSIX_ENTRY_MASKED };
	vdev->msix_pba = 0;
	atomic_store(&vdev->msix_ctrl, 0);
	virtio_dev_unlock(vdev);
	/* A system reset disables MSI-X too (the host lock, after ours). */
	if (vdev->msix_cap)
		pci_dev_cfg_write(vdev->pci, vdev->msix_cap + 2,
				  pci_dev_cfg_read(vdev->pci, vdev->msix_cap + 2, 2) &
				  ~(MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL), 2);
}

static void status_features_ok(struct virtio_dev *vdev, uint8_t *val)
{
	uint64_t f = vdev->driver_features;

	/* §2.2.2, §6.1: a subset of ours, and the modern interface only. */
	if ((f & ~vdev->host_features) || !(f & VIRTIO_BIT(VIRTIO_F_VERSION_1)) ||
	    (vdev->ops->features_ok && vdev->ops->features_ok(vdev))) {
		log_warnx_rl("%s: driver features 0x%llx refused", vdev->info.name,
			     (unsigned long long)f);
		*val &= ~VIRTIO_STATUS_FEATURES_OK;
		return;
	}
	for (unsigned q = 0; q < vdev->info.nqueues; q++) {
		vdev->queues[q].vq.event_idx = f & VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
		vdev->queues[q].vq.indirect = f & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	}
}

static void status_write(struct virtio_dev *vdev, uint8_t val)
{
	uint8_t old = vdev->status;

	if (!val) {
		dev_reset_locked(vdev);
		return;
	}
	/* Once set, FEATURES_OK stays and features cannot change (§3.1.1). */
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK))
		status_features_ok(vdev, &val);
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(val & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_dev_needs_reset(vdev, "DRIVER_OK without FEATURES_OK");
		return;
	}
	/* The device owns NEEDS_RESET; the driver cannot clear it but by reset. */
	vdev->status = val | (old & VIRTIO_STATUS_NEEDS_RESET);
	vdev->status &= ~(VIRTIO_STATUS_NEEDS_RESET & ~old);
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (vdev->ops->driver_ok)
			vdev->ops->driver_ok(vdev);
		/* Buffers may have been made available before DRIVER_OK. */
		for (unsigned q = 0; q < vdev->info.nqueues; q++)
			atomic_fetch_or(&vdev->kick_pending, 1u << q);
		if (vdev->kick_fd >= 0 && eventfd_write(vdev->kick_fd, 1) < 0)
			log_warn("%s: kick", vdev->info.name);
	}
}

/* ---- common configuration (§4.1.4.3) ---- */

static uint64_t common_read_field(struct virtio_dev *vdev, unsigned off)
{
	struct virtio_queue *q = vdev->queue_sel < vdev->info.nqueues ?
				 &vdev->queues[vdev->queue_sel] : NULL;

	switch (off) {
	case CC_DFSELECT: return vdev->dfselect;
	case CC_DF: return vdev->dfselect < 2 ? (uint32_t)(vdev->host_features >> (32 * vdev->dfselect)) : 0;
	case CC_GFSELECT: return vdev->gfselect;
	case CC_GF: return vdev->gfselect < 2 ? (uint32_t)(vdev->driver_features >> (32 * vdev->gfselect)) : 0;
	case CC_MSIX_CONFIG: return vdev->config_vector;
	case CC_NUM_QUEUES: return vdev->info.nqueues;
	case CC_STATUS: return vdev->status;
	case CC_CFG_GEN: return vdev->config_gen;
	case CC_Q_SELECT: return vdev->queue_sel;
	}
	if (!q)
		return 0;   /* §4.1.4.3.2: queue_size 0 marks an absent queue */
	switch (off) {
	case CC_Q_SIZE: return q->size;
	case CC_Q_MSIX: return q->msix_vector;
	case CC_Q_ENABLE: return q->enabled;
	case CC_Q_NOTIFY_OFF: return vdev->queue_sel;
	case CC_Q_DESC: return q->vq.desc_gpa;
	case CC_Q_DRIVER: return q->vq.avail_gpa;
	case CC_Q_DEVICE: return q->vq.used_gpa;
	case CC_Q_NOTIFY_DATA: return vdev->queue_sel;
	default: return 0;
	}
}

/* Width of the field at off (0: none starts there). */
static int common_field_width(unsigned off)
{
	switch (off) {
	case CC_DFSELECT: case CC_DF: case CC_GFSELECT: case CC_GF: return 4;
	case CC_STATUS: case CC_CFG_GEN: return 1;
	case CC_Q_DESC: case CC_Q_DRIVER: case CC_Q_DEVICE: return 8;
	default: return off < VIRTIO_PCI_COMMON_LEN && off % 2 == 0 ? 2 : 0;
	}
}

static void common_read(struct virtio_dev *vdev, unsigned off, uint8_t *data, int len)
{
	uint8_t buf[VIRTIO_PCI_COMMON_LEN + 8] = { 0 };

	for (unsigned f = 0; f < VIRTIO_PCI_COMMON_LEN; ) {
		int w = common_field_width(f);

		le_put(buf + f, common_read_field(vdev, f), w);
		f += w;
	}
	if (off < VIRTIO_PCI_COMMON_LEN)
		memcpy(data, buf + off, len);
}

static void queue_enable(struct virtio_dev *vdev, struct virtio_queue *q)
{
	char why[160];

	if (q->enabled)
		return;
	/* §3.1.1: queues are set up after FEATURES_OK, which fixes the ring
	 * layout (VIRTIO_F_EVENT_IDX adds a field to each ring). */
	if (!(vdev->status & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_dev_needs_reset(vdev, "queue %u enabled before FEATURES_OK",
				       vdev->queue_sel);
		return;
	}
	q->vq.size = q->size;
	if (vq_map(&q->vq, why, sizeof(why))) {
		virtio_dev_needs_reset(vdev, "queue %u: %s", vdev->queue_sel, why);
		return;
	}
	q->enabled = true;
}

/* A 64-bit queue address written as one qword or as two dwords. */
static void set_addr64(uint64_t *addr, unsigned rel, uint64_t val, int len)
{
	if (len == 8 && rel == 0)
		*addr = val;
	else if (len == 4 && rel == 0)
		*addr = (*addr & ~0xffffffffULL) | (uint32_t)val;
	else if (len == 4 && rel == 4)
		*addr = (*addr & 0xffffffffULL) | val << 32;
}

static void queue_write(struct virtio_dev *vdev, unsigned off, uint64_t val, int len)
{
	struct virtio_queue *q;
	bool msix_ok;

	if (vdev->queue_sel >= vdev->info.nqueues)
		return;
	q = &vdev->queues[vdev->queue_sel];
	/* §4.1.4.3.2: queue fields change only while the queue is disabled. */
	if (q->enabled && off != CC_Q_MSIX)
		return;
	if (off >= CC_Q_DESC && off < CC_Q_NOTIFY_DATA) {
		uint64_t *addr = off < CC_Q_DRIVER ? &q->vq.desc_gpa :
				 off < CC_Q_DEVICE ? &q->vq.avail_gpa : &q->vq.used_gpa;

		set_addr64(addr, (off - CC_Q_DESC) % 8, val, len);
		return;
	}
	switch (off) {
	case CC_Q_SIZE:
		/* The driver may shrink the queue; §2.7: a power of 2 (checked at enable). */
		q->size = val && val <= vdev->info.queue_max ? val : 0;
		break;
	case CC_Q_MSIX:
		msix_ok = val < vdev->info.nqueues + 1;
		q->msix_vector = msix_ok ? val : VIRTIO_NO_VECTOR;  /* §4.1.5.1.2 */
		break;
	case CC_Q_ENABLE:
		if (val == 1)
			queue_enable(vdev, q);
		break;
	}
}

static void common_write(struct virtio_dev *vdev, unsigned off, const uint8_t *data, int len)
{
	uint64_t val = le_get(data, len);

	switch (off) {
	case CC_DFSELECT: vdev->dfselect = val; return;
	case CC_GFSELECT: vdev->gfselect = val; return;
	case CC_GF:
		if (vdev->gfselect < 2 && !(vdev->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned sh = 32 * vdev->gfselect;

			vdev->driver_features &= ~(0xffffffffULL << sh);
			vdev->driver_features |= (val & 0xffffffffULL) << sh;
		}
		return;
	case CC_MSIX_CONFIG:
		vdev->config_vector = val < vdev->info.nqueues + 1 ? val : VIRTIO_NO_VECTOR;
		return;
	case CC_STATUS: status_write(vdev, val); return;
	case CC_Q_SELECT: vdev->queue_sel = val; return;
	case CC_Q_RESET: return;    /* VIRTIO_F_RING_RESET is not offered */
	}
	if (off >= CC_Q_SIZE)
		queue_write(vdev, off, val, len);
}

/* ---- MSI-X table and PBA ---- */

static void msix_table_access(struct virtio_dev *vdev, unsigned off, uint8_t *data,
			      int len, bool is_write)
{
	unsigned v = off / 16, field = off % 16;
	uint32_t *words;

	if (v >= vdev->info.nqueues + 1 || (len != 4 && len != 8) || field % 4 ||
	    field + len > 16)
		return;
	words = &vdev->msix[v].addr_lo;
	if (!is_write) {
		memcpy(data, (uint8_t *)words + field, len);
		return;
	}
	memcpy((uint8_t *)words + field, data, len);
	vdev->msix[v].ctrl &= MSIX_ENTRY_MASKED;
	if (!(vdev->msix[v].ctrl & MSIX_ENTRY_MASKED) && (vdev->msix_pba & (1ULL << v)))
		msix_fire(vdev, v);
}

/* ---- the BAR ---- */

static void notify_write(struct virtio_dev *vdev, unsigned off)
{
	unsigned q = off / VIRTIO_PCI_NOTIFY_MULT;

	if (q >= vdev->info.nqueues)
		return;
	atomic_fetch_or(&vdev->kick_pending, 1u << q);
	if (eventfd_write(vdev->kick_fd, 1) < 0)
		log_warn("%s: kick", vdev->info.name);
}

static void bar_access_locked(struct virtio_dev *vdev, uint64_t off, uint8_t *data,
			      int len, bool is_write)
{
	if (off < VIRTIO_PCI_COMMON_LEN) {
		if (off + len > VIRTIO_PCI_COMMON_LEN || (off & (len - 1)))
			return;     /* not a naturally aligned access inside the struct */
		if (!is_write)
			common_read(vdev, off, data, len);
		else if (common_field_width(off) >= len ||
			 (len == 4 && common_field_width(off & ~7u) == 8))
			common_write(vdev, off, data, len);
	} else if (off == VIRTIO_PCI_ISR_OFF && !is_write) {
		/* §4.1.4.5.1: reading the ISR clears it and deasserts INTx. */
		memset(data, 0, len);
		data[0] = atomic_exchange(&vdev->isr, 0);
		atomic_store(&vdev->intx_dirty, true);
	} else if (off >= VIRTIO_PCI_DEVICE_OFF &&
		   off + len <= VIRTIO_PCI_DEVICE_OFF + vdev->info.config_len) {
		unsigned c = off - VIRTIO_PCI_DEVICE_OFF;

		if (!is_write) {
			memcpy(data, vdev->config + c, len);
		} else if (vdev->ops->cfg_write) {
			memcpy(vdev->config + c, data, len);
			vdev->ops->cfg_write(vdev, c, len);
		}
	} else if (off >= VIRTIO_PCI_MSIX_OFF && off < VIRTIO_PCI_PBA_OFF) {
		msix_table_access(vdev, off - VIRTIO_PCI_MSIX_OFF, data, len, is_write);
	} else if (off >= VIRTIO_PCI_PBA_OFF && off + len <= VIRTIO_PCI_PBA_OFF + 8 &&
		   !is_write) {
		le_put(data, vdev->msix_pba >> (8 * (off - VIRTIO_PCI_PBA_OFF)), len);
	}
}

static void virtio_pci_bar(struct vcpu *vcpu, uint64_t off, void *data, int len,
			   bool is_write, void *opaque)
{
	struct virtio_dev *vdev = opaque;

	if (!is_write)
		memset(data, 0, len);
	/* Notifications are the hot path: no lock, just a flag and an eventfd. */
	if (is_write && off >= VIRTIO_PCI_NOTIFY_OFF &&
	    off < VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * vdev->info.nqueues) {
		notify_write(vdev, off - VIRTIO_PCI_NOTIFY_OFF);
		return;
	}
	virtio_dev_lock(vdev);
	bar_access_locked(vdev, off, data, len, is_write);
	virtio_dev_unlock(vdev);
}

/* ---- config space hooks: MSI-X enable, the pci_cfg window (§4.1.4.9) ---- */

static bool overlaps(unsigned off, int len, unsigned start, unsigned n)
{
	return off < start + n && off + len > start;
}

static void pcicfg_window(struct virtio_dev *vdev, bool is_write)
{
	uint8_t *cfg = pci_dev_cfg(vdev->pci), *cap = cfg + vdev->pcicfg_cap;
	uint32_t off = le_get(cap + 8, 4), len = le_get(cap + 12, 4);

	/* §4.1.4.9.1: only BAR 0 here, naturally aligned 1, 2 or 4 bytes. */
	if (cap[4] != VIRTIO_PCI_BAR || (len != 1 && len != 2 && len != 4) ||
	    (off & (len - 1)) || off >= VIRTIO_PCI_BAR_SIZE)
		return;
	virtio_pci_bar(NULL, off, cap + 16, len, is_write, vdev);
}

static void virtio_pci_cfg_read(struct pci_dev *dev, void *opaque, unsigned off, int len)
{
	struct virtio_dev *vdev = opaque;

	if (overlaps(off, len, vdev->pcicfg_cap + 16, 4))
		pcicfg_window(vdev, false);
}

static void virtio_pci_cfg_write(struct pci_dev *dev, void *opaque, unsigned off,
				 uint32_t val, int len)
{
	struct virtio_dev *vdev = opaque;
	uint8_t *cfg = pci_dev_cfg(dev);

	if (overlaps(off, len, vdev->msix_cap + 2, 2)) {
		uint16_t ctrl = le_get(cfg + vdev->msix_cap + 2, 2);
		uint16_t old = atomic_exchange(&vdev->msix_ctrl, ctrl);

		virtio_dev_lock(vdev);
		if ((ctrl & MSIX_CTRL_ENABLE) && !(ctrl & MSIX_CTRL_MASKALL))
			msix_flush_pending(vdev);
		if ((old ^ ctrl) & MSIX_CTRL_ENABLE)
			atomic_store(&vdev->intx_dirty, true);
		virtio_dev_unlock(vdev);
	}
	if (overlaps(off, len, vdev->pcicfg_cap + 16, 4))
		pcicfg_window(vdev, true);
}

static const struct pci_dev_ops virtio_pci_dev_ops = {
	.cfg_read = virtio_pci_cfg_read,
	.cfg_write = virtio_pci_cfg_write,
};

/* One virtio_pci_cap (§4.1.4) pointing into BAR 0. */
static int add_vcap(struct virtio_dev *vdev, uint8_t type, uint32_t off, uint32_t len,
		    const void *extra, unsigned extra_len, unsigned *cap_off)
{
	uint8_t body[24] = { 0 };
	unsigned total = 16 + extra_len;

	body[0] = total;        /* cap_len */
	body[1] = type;
	body[2] = VIRTIO_PCI_BAR;
	le_put(body + 6, off, 4);
	le_put(body + 10, len, 4);
	if (extra_len)
		memcpy(body + 14, extra, extra_len);
	return pci_dev_add_cap(vdev->pci, PCI_CAP_ID_VNDR, body, total, cap_off);
}

static int add_caps(struct virtio_dev *vdev)
{
	uint8_t mult[4] = { VIRTIO_PCI_NOTIFY_MULT }, zero[4] = { 0 };
	uint8_t msix[10] = { 0 }, wm[13];
	unsigned nvec = vdev->info.nqueues + 1, off;
	int err;

	err = add_vcap(vdev, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF,
		       VIRTIO_PCI_COMMON_LEN, NULL, 0, &off);
	if (!err)
		err = add_vcap(vdev, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
			       VIRTIO_PCI_NOTIFY_MULT * vdev->info.nqueues, mult, 4, &off);
	if (!err)
		err = add_vcap(vdev, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1, NULL, 0, &off);
	if (!err && vdev->info.config_len)
		err = add_vcap(vdev, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF,
			       vdev->info.config_len, NULL, 0, &off);
	if (!err)
		err = add_vcap(vdev, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, zero, 4, &vdev->pcicfg_cap);
	if (err)
		return err;
	/* pci_cfg: bar, offset, length and data are the driver's (§4.1.4.9). */
	memset(wm, 0xff, sizeof(wm));
	err = pci_dev_set_wmask(vdev->pci, vdev->pcicfg_cap + 4, wm, 1);
	if (!err)
		err = pci_dev_set_wmask(vdev->pci, vdev->pcicfg_cap + 8, wm, 12);
	if (err)
		return err;
	/* MSI-X: table and PBA in BAR 0 (BIR in the low 3 bits). */
	le_put(msix, nvec - 1, 2);
	le_put(msix + 2, VIRTIO_PCI_MSIX_OFF | VIRTIO_PCI_BAR, 4);
	le_put(msix + 6, VIRTIO_PCI_PBA_OFF | VIRTIO_PCI_BAR, 4);
	err = pci_dev_add_cap(vdev->pci, PCI_CAP_ID_MSIX, msix, 12, &vdev->msix_cap);
	if (err)
		return err;
	wm[0] = 0;
	wm[1] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;
	return pci_dev_set_wmask(vdev->pci, vdev->msix_cap + 2, wm, 2);
}

/* ---- kicks on the event loop ---- */

void virtio_dev_poll(struct virtio_dev *vdev)
{
	unsigned pending;

	virtio_dev_lock(vdev);
	if (vdev->paused) {
		virtio_dev_unlock(vdev);
		return;     /* kick_pending stays; resume replays it */
	}
	pending = atomic_exchange(&vdev->kick_pending, 0);
	for (unsigned q = 0; q < vdev->info.nqueues; q++)
		if ((pending & (1u << q)) && virtio_dev_vq(vdev, q) && vdev->ops->queue_notify)
			vdev->ops->queue_notify(vdev, q);
	virtio_dev_unlock(vdev);
}

static void kick_ready(int fd, uint32_t events, void *opaque)
{
	eventfd_t cnt;

	if (eventfd_read(fd, &cnt) == 0)
		virtio_dev_poll(opaque);
}

void virtio_dev_pause(struct virtio_dev *vdev)
{
	virtio_dev_lock(vdev);
	vdev->paused = true;
	virtio_dev_unlock(vdev);
}

void virtio_dev_resume(struct virtio_dev *vdev)
{
	virtio_dev_lock(vdev);
	vdev->paused = false;
	atomic_fetch_or(&vdev->kick_pending, (1u << vdev->info.nqueues) - 1);
	if (eventfd_write(vdev->kick_fd, 1) < 0)
		log_warn("%s: kick", vdev->info.name);
	virtio_dev_unlock(vdev);
}

static int pci_setup(struct virtio_dev *vdev)
{
	struct pci_host *host = pci_host_get(vdev->vm);
	struct pci_dev_info pinfo = {
		.name = vdev->info.name,
		.vendor_id = VIRTIO_PCI_VENDOR_ID,
		.device_id = VIRTIO_PCI_DEVICE_BASE + vdev->info.device_id,
		.subsys_vendor_id = VIRTIO_PCI_VENDOR_ID,
		.subsys_id = VIRTIO_PCI_DEVICE_BASE + vdev->info.device_id,
		.revision = 1,          /* §4.1.2.1: modern-only devices */
		.class_code = vdev->info.class_code,
		.irq_pin = 1,
	};
	int err;

	if (!host)
		return -ENODEV;
	err = pci_register_device(host, &pinfo, &virtio_pci_dev_ops, vdev, &vdev->pci);
	if (!err)
		err = pci_dev_add_bar(vdev->pci, VIRTIO_PCI_BAR, PCI_BAR_MEM32,
				      VIRTIO_PCI_BAR_SIZE, false, virtio_pci_bar, vdev);
	if (!err)
		err = add_caps(vdev);
	return err;
}

int virtio_dev_create(struct vm *vm, const struct virtio_dev_info *info,
		      const struct virtio_dev_ops *ops, void *opaque,
		      struct virtio_dev **out)
{
	struct virtio_dev *vdev;
	int err;

	if (!info->nqueues || info->nqueues > VIRTIO_MAX_QUEUES ||
	    info->config_len > VIRTIO_CONFIG_MAX || !info->queue_max ||
	    info->queue_max > VQ_MAX_SIZE || (info->queue_max & (info->queue_max - 1)))
		return -EINVAL;
	vdev = calloc(1, sizeof(*vdev));
	if (!vdev)
		return -ENOMEM;
	vdev->chain = malloc(sizeof(*vdev->chain));
	if (!vdev->chain) {
		err = -ENOMEM;
		goto err_free;
	}
	vdev->vm = vm;
	vdev->info = *info;
	vdev->ops = ops;
	vdev->opaque = opaque;
	vdev->host_features = info->features | transport_features;
	pthread_mutex_init(&vdev->lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vdev->queues[q].vq.mem = &vm->mem;
	vdev->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vdev->kick_fd < 0) {
		err = -errno;
		goto err_lock;
	}
	err = pci_setup(vdev);
	if (err) {
		log_errno(-err, "%s: cannot set up its PCI function", info->name);
		goto err_fd;
	}
	err = evloop_add(vm->loop, vdev->kick_fd, EPOLLIN, kick_ready, vdev);
	if (err)
		goto err_fd;
	virtio_dev_reset(vdev);
	*out = vdev;
	return 0;

err_fd:
	close(vdev->kick_fd);
err_lock:
	pthread_mutex_destroy(&vdev->lock);
	free(vdev->chain);
err_free:
	free(vdev);
	return err;
}

void virtio_dev_destroy(struct virtio_dev *vdev)
{
	if (!vdev)
		return;
	evloop_del(vdev->vm->loop, vdev->kick_fd);
	close(vdev->kick_fd);
	pthread_mutex_destroy(&vdev->lock);
	free(vdev->chain);
	free(vdev);
}
