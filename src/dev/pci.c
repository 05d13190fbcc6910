// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI host bridge and bus 0: configuration mechanism #1 at 0xcf8/0xcfc
 * (PCI Local Bus Specification 3.0, §3.2.2.3.2), type 0 headers (§6.1),
 * BAR sizing and decoding (§6.2.5.1), the capability list (§6.7), INTx
 * (§2.2.6, §6.2.4), and the reset control register at 0xcf9 that Intel
 * chipsets put there (ICH9 datasheet §13.7.5, "RST_CNT").
 *
 * Every function's config space is an array of bytes with a write mask
 * (bits the guest may change) and a write-1-to-clear mask, as in QEMU's
 * model; after a write that touches the command register or a BAR the
 * BARs are re-evaluated and moved on the VM's buses.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/log.h"
#include "vireo/pci.h"
#include "vireo/vm.h"

#define CFG_ADDR_ENABLE 0x80000000u
#define CFG_ADDR_MASK   0x80fffffcu  /* bits 30:24 and 1:0 are reserved */
#define RST_CNT_PORT_OFF 1           /* 0xcf9 */
#define RST_CNT_SYS_RST 0x02
#define RST_CNT_RST_CPU 0x04

struct pci_bar {
	bool present, prefetch;
	enum pci_bar_type type;
	uint64_t size;
	bus_fn fn;
	void *opaque;
	bool mapped;
	uint64_t mapped_addr;
};

struct pci_dev {
	struct pci_host *host;
	unsigned slot;
	char name[32];
	const struct pci_dev_ops *ops;
	void *opaque;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	uint8_t w1cmask[PCI_CFG_SIZE];
	struct pci_bar bars[PCI_NUM_BARS];
	unsigned cap_free;      /* first free byte of the capability area */
	unsigned cap_last;      /* offset of the last capability, 0 if none */
	bool intx_level;        /* the device's INTx pin */
	bool intx_driven;       /* whether this device counts toward its GSI */
};

struct pci_host {
	struct vm *vm;
	pthread_mutex_t lock;   /* recursive: cfg hooks may call pci_dev_* */
	uint32_t config_address;
	uint8_t rst_cnt;
	struct pci_dev *devs[PCI_MAX_SLOTS];
	uint64_t mmio_next;     /* BAR allocator cursors */
	uint32_t io_next;
	unsigned gsi_users[PCI_INTX_NGSI];  /* devices asserting each GSI */
};

static uint32_t le_get(const uint8_t *p, int len)
{
	uint32_t v = 0;

	for (int i = len - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void le_put(uint8_t *p, uint32_t v, int len)
{
	for (int i = 0; i < len; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Initialise a device's bytes and masks from its info (§6.1, §6.2). */
static void cfg_init(struct pci_dev *dev, const struct pci_dev_info *info)
{
	uint8_t *c = dev->cfg;

	le_put(c + PCI_VENDOR_ID, info->vendor_id, 2);
	le_put(c + PCI_DEVICE_ID, info->device_id, 2);
	c[PCI_REVISION_ID] = info->revision;
	le_put(c + PCI_CLASS_PROG, info->class_code, 3);
	c[PCI_HEADER_TYPE] = 0x00;      /* type 0, single function */
	le_put(c + PCI_SUBSYSTEM_VENDOR_ID, info->subsys_vendor_id, 2);
	le_put(c + PCI_SUBSYSTEM_ID, info->subsys_id, 2);
	c[PCI_INTERRUPT_PIN] = info->irq_pin;
	if (info->irq_pin)
		c[PCI_INTERRUPT_LINE] = pci_intx_gsi(dev->slot, info->irq_pin);

	/* Command: I/O, memory, bus master, parity, SERR#, INTx disable. */
	le_put(dev->wmask + PCI_COMMAND, 0x0547, 2);
	/* Status: the error bits are write-1-to-clear. */
	le_put(dev->w1cmask + PCI_STATUS, 0xf900, 2);
	dev->wmask[0x0c] = 0xff;        /* cache line size */
	dev->wmask[0x0d] = 0xff;        /* latency timer */
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->cap_free = PCI_CAP_START;
}

static uint64_t bar_addr(const struct pci_dev *dev, int i)
{
	const uint8_t *p = dev->cfg + PCI_BASE_ADDRESS_0 + 4 * i;
	uint32_t lo = le_get(p, 4);

	switch (dev->bars[i].type) {
	case PCI_BAR_IO:
		return lo & ~3u;
	case PCI_BAR_MEM32:
		return lo & ~0xfu;
	case PCI_BAR_MEM64:
		return (lo & ~0xfu) | (uint64_t)le_get(p + 4, 4) << 32;
	}
	return 0;
}

/*
 * Whether BAR i should decode now: its decode bit is on, its address is
 * set, and it lies wholly inside the address space it belongs to.  A BAR
 * caught mid-sizing with decoding on (all ones written) maps briefly at the
 * top of the space, as on hardware; Linux turns decoding off to size.
 */
static bool bar_decodes(const struct pci_dev *dev, int i, uint64_t addr)
{
	const struct pci_bar *bar = &dev->bars[i];
	uint16_t cmd = le_get(dev->cfg + PCI_COMMAND, 2);

	if (!addr)
		return false;
	switch (bar->type) {
	case PCI_BAR_IO:
		return (cmd & PCI_COMMAND_IO) && addr + bar->size <= PCI_IO_END;
	case PCI_BAR_MEM32:
		return (cmd & PCI_COMMAND_MEMORY) && addr + bar->size <= 1ULL << 32;
	case PCI_BAR_MEM64:
		return (cmd & PCI_COMMAND_MEMORY) && addr + bar->size > addr;
	}
	return false;
}

static struct bus *bar_bus(struct pci_dev *dev, int i)
{
	struct vm *vm = dev->host->vm;

	return dev->bars[i].type == PCI_BAR_IO ? &vm->pio : &vm->mmio;
}

static void bar_unmap(struct pci_dev *dev, int i)
{
	struct pci_bar *bar = &dev->bars[i];

	if (!bar->mapped)
		return;
	if (bus_unmap(bar_bus(dev, i), bar->mapped_addr) < 0)
		log_warnx("pci %s: BAR%d at 0x%llx was not on the bus", dev->name,
			  i, (unsigned long long)bar->mapped_addr);
	bar->mapped = false;
}

/* Make the bus follow BAR i's register and the command register. */
static void bar_update(struct pci_dev *dev, int i)
{
	struct pci_bar *bar = &dev->bars[i];
	uint64_t addr = bar_addr(dev, i);
	bool decode = bar_decodes(dev, i, addr);
	int err;

	if (bar->mapped && (!decode || addr != bar->mapped_addr))
		bar_unmap(dev, i);
	if (!decode || bar->mapped)
		return;
	err = bus_map(bar_bus(dev, i), addr, bar->size, bar->fn, bar->opaque,
		      dev->name);
	if (err) {
		/* The guest placed it over something else: it stays dark. */
		log_warnx_rl("pci %s: BAR%d at 0x%llx (size 0x%llx) not mapped: %s",
			     dev->name, i, (unsigned long long)addr,
			     (unsigned long long)bar->size, strerror(-err));
		return;
	}
	bar->mapped = true;
	bar->mapped_addr = addr;
}

static void bars_update(struct pci_dev *dev)
{
	for (int i = 0; i < PCI_NUM_BARS; i++)
		if (dev->bars[i].present)
			bar_update(dev, i);
}

/* Add or remove this device's contribution to its shared GSI. */
static void intx_update(struct pci_dev *dev)
{
	struct pci_host *host = dev->host;
	uint16_t cmd = le_get(dev->cfg + PCI_COMMAND, 2);
	uint8_t pin = dev->cfg[PCI_INTERRUPT_PIN];
	bool drive = dev->intx_level && pin && !(cmd & PCI_COMMAND_INTX_DISABLE);
	unsigned gsi, idx;

	if (drive == dev->intx_driven)
		return;
	dev->intx_driven = drive;
	gsi = pci_intx_gsi(dev->slot, pin);
	idx = gsi - PCI_INTX_GSI_BASE;
	if (drive) {
		if (host->gsi_users[idx]++ == 0)
			vm_irq_set(host->vm, gsi, 1);
	} else {
		if (--host->gsi_users[idx] == 0)
			vm_irq_set(host->vm, gsi, 0);
	}
}

static bool overlaps(unsigned off, int len, unsigned start, unsigned end)
{
	return off < end && start < off + len;
}

/* A guest write through CONFIG_DATA: masks, then side effects. */
static void cfg_write(struct pci_dev *dev, unsigned off, uint32_t val, int len)
{
	uint32_t v = val;

	for (int i = 0; i < len; i++, v >>= 8) {
		unsigned o = off + i;
		uint8_t b = (uint8_t)v;

		dev->cfg[o] = (dev->cfg[o] & ~dev->wmask[o]) | (b & dev->wmask[o]);
		dev->cfg[o] &= ~(b & dev->w1cmask[o]);
	}
	if (overlaps(off, len, PCI_COMMAND, PCI_COMMAND + 2) ||
	    overlaps(off, len, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_0 + 24))
		bars_update(dev);
	if (overlaps(off, len, PCI_COMMAND, PCI_COMMAND + 2))
		intx_update(dev);
	if (off + len > PCI_CAP_START && dev->ops && dev->ops->cfg_write)
		dev->ops->cfg_write(dev, dev->opaque, off, val, len);
}

static uint32_t cfg_read(struct pci_dev *dev, unsigned off, int len)
{
	if (off + len > PCI_CAP_START && dev->ops && dev->ops->cfg_read)
		dev->ops->cfg_read(dev, dev->opaque, off, len);
	return le_get(dev->cfg + off, len);
}

/* The function CONFIG_ADDRESS selects, or NULL (reads as all ones). */
static struct pci_dev *selected_dev(struct pci_host *host)
{
	uint32_t a = host->config_address;
	unsigned bus = (a >> 16) & 0xff, slot = (a >> 11) & 0x1f, fn = (a >> 8) & 7;

	if (!(a & CFG_ADDR_ENABLE) || bus != 0 || fn != 0)
		return NULL;
	return host->devs[slot];
}

static void config_data_access(struct pci_host *host, unsigned port_off,
			       uint8_t *data, int len, bool is_write)
{
	struct pci_dev *dev = selected_dev(host);
	unsigned off = (host->config_address & 0xfc) + port_off;

	if (!dev || len > 4 || off + len > PCI_CFG_SIZE)
		return;  /* master abort: reads stay all ones */
	if (is_write)
		cfg_write(dev, off, le_get(data, len), len);
	else
		le_put(data, cfg_read(dev, off, len), len);
}

static void rst_cnt_write(struct pci_host *host, uint8_t val)
{
	bool reset = (val & RST_CNT_RST_CPU) && !(host->rst_cnt & RST_CNT_RST_CPU);

	host->rst_cnt = val & (RST_CNT_SYS_RST | RST_CNT_RST_CPU);
	if (reset)
		vm_request_stop(host->vm, 0, "guest requested reset (port 0xcf9)");
}

static void config_address_access(struct pci_host *host, unsigned off,
				  uint8_t *data, int len, bool is_write)
{
	/* Only a dword access at 0xcf8 is CONFIG_ADDRESS (§3.2.2.3.2). */
	if (off == 0 && len == 4) {
		if (is_write)
			host->config_address = le_get(data, 4) & CFG_ADDR_MASK;
		else
			le_put(data, host->config_address, 4);
	} else if (off == RST_CNT_PORT_OFF && len == 1) {
		if (is_write)
			rst_cnt_write(host, data[0]);
		else
			data[0] = host->rst_cnt;
	}
	/* Other byte/word accesses (Linux's pci_check_type1 pokes 0xcfb): ignored. */
}

static void pci_host_pio(struct vcpu *vcpu, uint64_t offset, void *data,
			 int len, bool is_write, void *opaque)
{
	struct pci_host *host = opaque;

	pthread_mutex_lock(&host->lock);
	if (offset < 4)
		config_address_access(host, offset, data, len, is_write);
	else
		config_data_access(host, offset - 4, data, len, is_write);
	pthread_mutex_unlock(&host->lock);
}

static int dev_alloc(struct pci_host *host, const struct pci_dev_info *info,
		     const struct pci_dev_ops *ops, void *opaque,
		     struct pci_dev **out)
{
	struct pci_dev *dev;
	unsigned slot;

	for (slot = 0; slot < PCI_MAX_SLOTS && host->devs[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS)
		return -ENOSPC;
	if (info->irq_pin > 4)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->host = host;
	dev->slot = slot;
	dev->ops = ops;
	dev->opaque = opaque;
	snprintf(dev->name, sizeof(dev->name), "%02x.0 %s", slot,
		 info->name ? info->name : "pci");
	cfg_init(dev, info);
	host->devs[slot] = dev;
	*out = dev;
	return 0;
}

int pci_register_device(struct pci_host *host, const struct pci_dev_info *info,
			const struct pci_dev_ops *ops, void *opaque,
			struct pci_dev **out)
{
	int err;

	pthread_mutex_lock(&host->lock);
	err = dev_alloc(host, info, ops, opaque, out);
	pthread_mutex_unlock(&host->lock);
	return err;
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static int bar_check(struct pci_dev *dev, int i, enum pci_bar_type type,
		     uint64_t size)
{
	int last = type == PCI_BAR_MEM64 ? i + 1 : i;

	if (i < 0 || last >= PCI_NUM_BARS || !is_pow2(size))
		return -EINVAL;
	if (type == PCI_BAR_IO ? (size < 4 || size > 256) : (size < 16 || size > 1ULL << 31))
		return -EINVAL;
	if (dev->bars[i].present || dev->bars[last].present ||
	    (i > 0 && dev->bars[i - 1].type == PCI_BAR_MEM64 && dev->bars[i - 1].present))
		return -EBUSY;
	return 0;
}

/* Firmware-less assignment: the next naturally aligned free address. */
static int bar_alloc(struct pci_host *host, enum pci_bar_type type,
		     uint64_t size, uint64_t *addr)
{
	if (type == PCI_BAR_IO) {
		uint64_t a = ALIGN_UP((uint64_t)host->io_next, size);
		if (a + size > PCI_IO_END)
			return -ENOSPC;
		host->io_next = a + size;
		*addr = a;
	} else {
		uint64_t a = ALIGN_UP(host->mmio_next, size);
		if (a + size > PCI_MMIO_END)
			return -ENOSPC;
		host->mmio_next = a + size;
		*addr = a;
	}
	return 0;
}

static void bar_program(struct pci_dev *dev, int i, uint64_t addr)
{
	struct pci_bar *bar = &dev->bars[i];
	uint32_t off = PCI_BASE_ADDRESS_0 + 4 * i, flags;

	if (bar->type == PCI_BAR_IO) {
		flags = PCI_BASE_ADDRESS_SPACE_IO;
		le_put(dev->wmask + off, ~(uint32_t)(bar->size - 1) & ~3u, 4);
	} else {
		flags = bar->prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0;
		if (bar->type == PCI_BAR_MEM64) {
			flags |= PCI_BASE_ADDRESS_MEM_TYPE_64;
			le_put(dev->wmask + off + 4, 0xffffffffu, 4);
			le_put(dev->cfg + off + 4, addr >> 32, 4);
		}
		le_put(dev->wmask + off, ~(uint32_t)(bar->size - 1) & ~0xfu, 4);
	}
	le_put(dev->cfg + off, (uint32_t)addr | flags, 4);
}

int pci_dev_add_bar(struct pci_dev *dev, int i, enum pci_bar_type type,
		    uint64_t size, bool prefetchable, bus_fn fn, void *opaque)
{
	struct pci_host *host = dev->host;
	struct pci_bar *bar;
	uint64_t addr;
	int err;

	if (!fn)
		return -EINVAL;
	pthread_mutex_lock(&host->lock);
	err = bar_check(dev, i, type, size);
	if (!err)
		err = bar_alloc(host, type, size, &addr);
	if (err)
		goto out;
	bar = &dev->bars[i];
	*bar = (struct pci_bar){ .present = true, .type = type, .size = size,
				 .prefetch = prefetchable && type != PCI_BAR_IO,
				 .fn = fn, .opaque = opaque };
	bar_program(dev, i, addr);
	/* Decoding on, as firmware would leave an assigned device. */
	dev->cfg[PCI_COMMAND] |= type == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	bars_update(dev);
	if (!bar->mapped) {
		/* Something already sits there: withdraw the BAR entirely. */
		unsigned off = PCI_BASE_ADDRESS_0 + 4 * i;
		unsigned n = type == PCI_BAR_MEM64 ? 8 : 4;

		memset(dev->cfg + off, 0, n);
		memset(dev->wmask + off, 0, n);
		*bar = (struct pci_bar){ 0 };
		err = -EEXIST;
	}
out:
	pthread_mutex_unlock(&host->lock);
	return err;
}

int pci_dev_add_cap(struct pci_dev *dev, uint8_t id, const void *body,
		    unsigned len, unsigned *off)
{
	struct pci_host *host = dev->host;
	unsigned o;
	int err = 0;

	if (len < 2)
		return -EINVAL;
	pthread_mutex_lock(&host->lock);
	o = ALIGN_UP(dev->cap_free, 4u);  /* §6.7: dword aligned */
	if (o + len > PCI_CFG_SIZE) {
		err = -ENOSPC;
		goto out;
	}
	dev->cfg[o] = id;
	dev->cfg[o + 1] = 0;
	if (body)
		memcpy(dev->cfg + o + 2, body, len - 2);
	if (dev->cap_last)
		dev->cfg[dev->cap_last + 1] = (uint8_t)o;
	else
		dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)o;
	dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	dev->cap_last = o;
	dev->cap_free = o + len;
	*off = o;
out:
	pthread_mutex_unlock(&host->lock);
	return err;
}

int pci_dev_set_wmask(struct pci_dev *dev, unsigned off, const uint8_t *wmask,
		      unsigned len)
{
	if (off < PCI_CAP_START || off + len > PCI_CFG_SIZE || off + len < off)
		return -EINVAL;
	pthread_mutex_lock(&dev->host->lock);
	memcpy(dev->wmask + off, wmask, len);
	pthread_mutex_unlock(&dev->host->lock);
	return 0;
}

uint8_t *pci_dev_cfg(struct pci_dev *dev)
{
	return dev->cfg;
}

uint32_t pci_dev_cfg_read(struct pci_dev *dev, unsigned off, int len)
{
	uint32_t v = 0;

	if (len < 1 || len > 4 || off + len > PCI_CFG_SIZE)
		return 0xffffffffu;
	pthread_mutex_lock(&dev->host->lock);
	v = le_get(dev->cfg + off, len);
	pthread_mutex_unlock(&dev->host->lock);
	return v;
}

void pci_dev_cfg_write(struct pci_dev *dev, unsigned off, uint32_t val, int len)
{
	if (len < 1 || len > 4 || off + len > PCI_CFG_SIZE)
		return;
	pthread_mutex_lock(&dev->host->lock);
	le_put(dev->cfg + off, val, len);
	pthread_mutex_unlock(&dev->host->lock);
}

uint64_t pci_dev_bar_addr(struct pci_dev *dev, int i)
{
	uint64_t addr = 0;

	if (i < 0 || i >= PCI_NUM_BARS)
		return 0;
	pthread_mutex_lock(&dev->host->lock);
	if (dev->bars[i].present)
		addr = bar_addr(dev, i);
	pthread_mutex_unlock(&dev->host->lock);
	return addr;
}

unsigned pci_dev_slot(const struct pci_dev *dev)
{
	return dev->slot;
}

void pci_dev_set_intx(struct pci_dev *dev, int level)
{
	pthread_mutex_lock(&dev->host->lock);
	dev->intx_level = !!level;
	if (level)
		dev->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		dev->cfg[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
	intx_update(dev);
	pthread_mutex_unlock(&dev->host->lock);
}

struct pci_host *pci_host_get(struct vm *vm)
{
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops == &pci_host_ops)
			return d->opaque;
	return NULL;
}

static int host_lock_init(pthread_mutex_t *lock)
{
	pthread_mutexattr_t attr;
	int err;

	err = pthread_mutexattr_init(&attr);
	if (err)
		return -err;
	err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	if (!err)
		err = pthread_mutex_init(lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return -err;
}

static const struct pci_dev_info host_bridge_info = {
	.name = "host-bridge",
	.vendor_id = PCI_HOST_VENDOR_ID,
	.device_id = PCI_HOST_DEVICE_ID,
	.class_code = 0x060000,         /* bridge, host bridge */
};

static int pci_host_realize(struct vm *vm, void **opaque)
{
	struct pci_host *host;
	struct pci_dev *bridge;
	int err;

	host = calloc(1, sizeof(*host));
	if (!host)
		return -ENOMEM;
	host->vm = vm;
	host->mmio_next = PCI_MMIO_START;
	host->io_next = PCI_IO_START;
	err = host_lock_init(&host->lock);
	if (err)
		goto err_free;
	err = dev_alloc(host, &host_bridge_info, NULL, NULL, &bridge);
	if (err)
		goto err_lock;
	/* The bridge always decodes memory and I/O; its command is read-only. */
	le_put(bridge->cfg + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
	memset(bridge->wmask, 0, PCI_CFG_SIZE);
	err = vm_map_pio(vm, PCI_CONFIG_ADDRESS, 8, pci_host_pio, host, "pci-host");
	if (err) {
		log_errno(err, "pci: cannot map ports 0xcf8-0xcff");
		goto err_bridge;
	}
	*opaque = host;
	return 0;

err_bridge:
	free(bridge);
err_lock:
	pthread_mutex_destroy(&host->lock);
err_free:
	free(host);
	return err;
}

static void pci_host_reset(void *opaque)
{
	struct pci_host *host = opaque;

	pthread_mutex_lock(&host->lock);
	host->config_address = 0;
	host->rst_cnt = 0;
	pthread_mutex_unlock(&host->lock);
}

static void pci_host_destroy(void *opaque)
{
	struct pci_host *host = opaque;

	if (!host)
		return;
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_dev *dev = host->devs[s];
		if (!dev)
			continue;
		for (int i = 0; i < PCI_NUM_BARS; i++)
			bar_unmap(dev, i);
		free(dev);
	}
	if (bus_unmap(&host->vm->pio, PCI_CONFIG_ADDRESS) < 0)
		log_debug("pci: ports 0xcf8 were not mapped");
	pthread_mutex_destroy(&host->lock);
	free(host);
}

const struct device_ops pci_host_ops = {
	.name = "pci-host",
	.realize = pci_host_realize,
	.reset = pci_host_reset,
	.destroy = pci_host_destroy,
};
