/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_PCI_H
#define VIREO_PCI_H

/*
 * The PCI host bridge and bus 0 (src/dev/pci.c), the API PCI endpoint
 * devices (the virtio-pci transport) use, and the address-space facts the
 * boot code needs for e820 and the MP table.
 *
 * Configuration mechanism #1 (PCI Local Bus Specification 3.0, §3.2.2.3.2):
 * CONFIG_ADDRESS at I/O port 0xcf8 (32-bit), CONFIG_DATA at 0xcfc-0xcff.
 * One bus (0), single-function devices, 256-byte type 0 headers.  Slot 0 is
 * the host bridge, PCI_HOST_VENDOR_ID:PCI_HOST_DEVICE_ID (the ID pair of
 * Intel's Q35 MCH, as QEMU's q35 machine shows it; class 06/00/00).
 *
 * Firmware-less boot: BARs are assigned at pci_dev_add_bar() from the
 * windows below and decoding is enabled, as a BIOS would leave them; Linux
 * keeps these assignments (or reassigns them inside the same windows).
 * Afterwards a BAR lives where the guest programs it: it is mapped on the
 * VM's MMIO or PIO bus while the matching command-register decode bit is
 * set and its address is valid, and moved or unmapped on every change.
 *
 * Locking: config-space accesses, BAR moves and the cfg hooks run under the
 * host's lock.  BAR handlers are called by the bus without it (the device
 * locks its own state), exactly like any bus_fn.
 */
#include <stdbool.h>
#include <stdint.h>

#include "vireo/bus.h"
#include "vireo/device.h"
#include "vireo/memory.h"
#include "vireo/util.h"

struct vm;
struct pci_host;
struct pci_dev;

/* ---- address-space layout (x86) ---- */
/*
 * 32-bit MMIO hole for PCI BARs: [PCI_MMIO_START, PCI_MMIO_END).  RAM below
 * 4 GiB ends at PCI_MMIO_START (= GUEST_PCI_HOLE_START); the IOAPIC, HPET
 * range, local APIC and the BIOS area live in [PCI_MMIO_END, 4 GiB).  e820
 * marks [PCI_MMIO_START, 4 GiB) as not RAM (leave it a gap or reserved).
 */
#define PCI_MMIO_START   GUEST_PCI_HOLE_START   /* 0xc0000000 */
#define PCI_MMIO_END     0xfec00000ULL
/* I/O port window for I/O BARs: above every legacy ISA port. */
#define PCI_IO_START     0xc000
#define PCI_IO_END       0x10000
/*
 * INTx: slot s, pin p (1 = INTA .. 4 = INTD) drives IOAPIC pin
 * PCI_INTX_GSI_BASE + (s + p - 1) % PCI_INTX_NGSI (the usual swizzle).
 * vm_irq_set() gets 1 for asserted.  Firmware tables must say the same:
 * the DSDT's _PRT (src/arch/x86/dsdt.asl) lists these GSIs, and an MP
 * table would give each a PCI-bus source (source IRQ = slot << 2 | (p - 1),
 * irqflag 0: the PCI convention, level-triggered, active low).
 */
#define PCI_INTX_GSI_BASE 16
#define PCI_INTX_NGSI     8

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA    0xcfc
#define PCI_MAX_SLOTS      32
#define PCI_CFG_SIZE       256     /* 4096 once ECAM arrives */
#define PCI_NUM_BARS       6

#define PCI_HOST_VENDOR_ID 0x8086
#define PCI_HOST_DEVICE_ID 0x29c0

/* ---- type 0 header offsets (PCI 3.0 §6.1) ---- */
#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define  PCI_COMMAND_IO            0x0001
#define  PCI_COMMAND_MEMORY        0x0002
#define  PCI_COMMAND_MASTER        0x0004
#define  PCI_COMMAND_INTX_DISABLE  0x0400
#define PCI_STATUS         0x06
#define  PCI_STATUS_INTERRUPT      0x0008
#define  PCI_STATUS_CAP_LIST       0x0010
#define PCI_REVISION_ID    0x08
#define PCI_CLASS_PROG     0x09
#define PCI_HEADER_TYPE    0x0e
#define PCI_BASE_ADDRESS_0 0x10
#define  PCI_BASE_ADDRESS_SPACE_IO     0x01
#define  PCI_BASE_ADDRESS_MEM_TYPE_64  0x04
#define  PCI_BASE_ADDRESS_MEM_PREFETCH 0x08
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID   0x2e
#define PCI_ROM_ADDRESS    0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d
#define PCI_CAP_START      0x40    /* first byte of the capability area */

#define PCI_CAP_ID_MSIX    0x11
#define PCI_CAP_ID_VNDR    0x09

/* What an endpoint is. */
struct pci_dev_info {
	const char *name;          /* for log lines and bus range names */
	uint16_t vendor_id, device_id;
	uint16_t subsys_vendor_id, subsys_id;
	uint8_t revision;
	uint32_t class_code;       /* base << 16 | sub-class << 8 | prog-if */
	uint8_t irq_pin;           /* 0: no INTx, 1..4: INTA..INTD */
};

enum pci_bar_type { PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

/*
 * Optional config-space hooks for the device-specific area (offsets
 * >= PCI_CAP_START), called with the host lock held; they may read and
 * modify the config bytes through pci_dev_cfg() and must not call back into
 * the pci_* API except pci_dev_cfg(), pci_dev_set_intx() and
 * pci_dev_bar_addr().  cfg_read runs before the bytes are returned (e.g. to
 * fill virtio's pci_cfg data window), cfg_write after the write was applied
 * through the write masks (`val` is the value the guest wrote, len bytes).
 */
struct pci_dev_ops {
	void (*cfg_read)(struct pci_dev *dev, void *opaque, unsigned off, int len);
	void (*cfg_write)(struct pci_dev *dev, void *opaque, unsigned off,
			  uint32_t val, int len);
};

/*
 * The host bridge of a VM: the opaque of the pci_host_ops device, looked up
 * in vm->devices (so pci_host_ops must come before any PCI device in the
 * device table).  NULL if the VM has no PCI host bridge.
 */
extern const struct device_ops pci_host_ops;
struct pci_host *pci_host_get(struct vm *vm);

/*
 * Put a device in the first free slot (or -ENOSPC).  `ops` may be NULL;
 * both ops and opaque must outlive the device.  The new device has no BARs
 * and no capabilities; its interrupt line register holds its INTx GSI.
 * Call before the vCPUs run.  Returns 0 and *out, or -errno.
 */
int pci_register_device(struct pci_host *host, const struct pci_dev_info *info,
			const struct pci_dev_ops *ops, void *opaque,
			struct pci_dev **out) WUR;

/*
 * Give the device BAR `bar` (0-5; a 64-bit BAR also takes bar + 1) of
 * `size` bytes (a power of two; >= 16 for memory, >= 4 and <= 256 for I/O)
 * handled by fn/opaque with offsets relative to the BAR's base.  The BAR
 * gets an address from the host's allocator and is mapped at once.
 * Returns 0, -EINVAL (bad bar/size/type), -EBUSY (BAR in use), -ENOSPC
 * (window full), or a bus_map error.
 */
int pci_dev_add_bar(struct pci_dev *dev, int bar, enum pci_bar_type type,
		    uint64_t size, bool prefetchable, bus_fn fn, void *opaque) WUR;

/*
 * Append a capability of `len` bytes (>= 2, including the ID and next
 * bytes, which this fills in) to the capability list.  `body` (len - 2
 * bytes, may be NULL for zeros) initialises the rest.  The capability is
 * read-only to the guest except where pci_dev_set_wmask() says otherwise.
 * Returns 0 and its config offset in *off, or -ENOSPC / -EINVAL.
 */
int pci_dev_add_cap(struct pci_dev *dev, uint8_t id, const void *body,
		    unsigned len, unsigned *off) WUR;

/* Make config bits guest-writable: wmask has len bytes starting at off. */
int pci_dev_set_wmask(struct pci_dev *dev, unsigned off, const uint8_t *wmask,
		      unsigned len) WUR;

/*
 * The device's config bytes (PCI_CFG_SIZE).  Outside the cfg hooks, take
 * no lock only before the vCPUs run; afterwards use pci_dev_cfg_read/write.
 */
uint8_t *pci_dev_cfg(struct pci_dev *dev);
/* Locked little-endian access to the device's own config bytes (any thread). */
uint32_t pci_dev_cfg_read(struct pci_dev *dev, unsigned off, int len);
void pci_dev_cfg_write(struct pci_dev *dev, unsigned off, uint32_t val, int len);

/* The BAR's current guest address (0 if it has none). */
uint64_t pci_dev_bar_addr(struct pci_dev *dev, int bar);
/* Slot number on bus 0 (devfn >> 3). */
unsigned pci_dev_slot(const struct pci_dev *dev);

/*
 * Drive the device's INTx pin (level-triggered; shared GSIs are ORed).
 * Honours the command register's Interrupt Disable bit and keeps the
 * status register's Interrupt Status bit.  Any thread.
 */
void pci_dev_set_intx(struct pci_dev *dev, int level);

/* GSI of slot/pin (1..4) under the swizzle above; for the MP table. */
static inline unsigned pci_intx_gsi(unsigned slot, unsigned pin)
{
	return PCI_INTX_GSI_BASE + (slot + pin - 1) % PCI_INTX_NGSI;
}

#endif
