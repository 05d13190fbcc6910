// SPDX-License-Identifier: GPL-2.0-only
/* PCI host bridge: config mechanism #1, BAR sizing and decoding, caps, INTx. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vireo/pci.h"
#include "fake_vm.h"

struct pci_fixture {
	struct fake_vm *f;
	struct pci_host *host;
	/* last BAR access seen by bar_fn */
	uint64_t last_off;
	int last_len, naccess;
	bool last_write;
	/* cfg_write hook record */
	unsigned hook_off;
	uint32_t hook_val;
	int hook_calls;
};

static int setup(void **state)
{
	struct pci_fixture *fx = calloc(1, sizeof(*fx));
	void *opaque;

	fx->f = fake_vm_create(256 << 20, 1);
	assert_int_equal(pci_host_ops.realize(&fx->f->vm, &opaque), 0);
	fx->host = opaque;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct pci_fixture *fx = *state;

	pci_host_ops.destroy(fx->host);
	/* Everything the host mapped is gone again. */
	assert_int_equal(fx->f->vm.pio.nranges, 0);
	assert_int_equal(fx->f->vm.mmio.nranges, 0);
	fake_vm_destroy(fx->f);
	free(fx);
	return 0;
}

static uint32_t cfg_addr(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
}

static uint32_t cfg_rd(struct fake_vm *f, unsigned slot, unsigned reg, int len)
{
	fake_out(f, 0xcf8, cfg_addr(0, slot, 0, reg), 4);
	return fake_inl(f, 0xcfc + (reg & 3), len);
}

static void cfg_wr(struct fake_vm *f, unsigned slot, unsigned reg, uint32_t v, int len)
{
	fake_out(f, 0xcf8, cfg_addr(0, slot, 0, reg), 4);
	fake_out(f, 0xcfc + (reg & 3), v, len);
}

static void bar_fn(struct vcpu *vcpu, uint64_t offset, void *data, int len,
		   bool is_write, void *opaque)
{
	struct pci_fixture *fx = opaque;

	fx->last_off = offset;
	fx->last_len = len;
	fx->last_write = is_write;
	fx->naccess++;
	if (!is_write)
		memset(data, 0x5a, len);
}

static void hook_write(struct pci_dev *dev, void *opaque, unsigned off,
		       uint32_t val, int len)
{
	struct pci_fixture *fx = opaque;

	fx->hook_off = off;
	fx->hook_val = val;
	fx->hook_calls++;
}

static const struct pci_dev_ops hook_ops = { .cfg_write = hook_write };

static const struct pci_dev_info net_info = {
	.name = "test-net",
	.vendor_id = 0x1af4, .device_id = 0x1041,
	.subsys_vendor_id = 0x1af4, .subsys_id = 0x0001,
	.revision = 1, .class_code = 0x020000, .irq_pin = 1,
};

static void test_host_bridge_ids(void **state)
{
	struct pci_fixture *fx = *state;
	struct fake_vm *f = fx->f;

	/* Linux's pci_check_type1(): a byte poke, then CONFIG_ADDRESS read-back. */
	fake_outb(f, 0xcfb, 0x01);
	fake_out(f, 0xcf8, 0x80000000, 4);
	assert_int_equal(fake_inl(f, 0xcf8, 4), 0x80000000);
	fake_out(f, 0xcf8, 0xffffffff, 4);
	assert_int_equal(fake_inl(f, 0xcf8, 4), 0x80fffffc);  /* reserved bits */

	assert_int_equal(cfg_rd(f, 0, 0x00, 4), 0x29c08086);
	assert_int_equal(cfg_rd(f, 0, 0x00, 2), 0x8086);
	assert_int_equal(cfg_rd(f, 0, 0x02, 2), 0x29c0);
	assert_int_equal(cfg_rd(f, 0, 0x03, 1), 0x29);
	assert_int_equal(cfg_rd(f, 0, 0x08, 4) >> 8, 0x060000);
	assert_int_equal(cfg_rd(f, 0, 0x0e, 1), 0x00);
	/* Read-only IDs. */
	cfg_wr(f, 0, 0x00, 0x12345678, 4);
	assert_int_equal(cfg_rd(f, 0, 0x00, 4), 0x29c08086);

	/* Empty slot, other functions, other buses, disabled address: all ones. */
	assert_int_equal(cfg_rd(f, 1, 0x00, 4), 0xffffffff);
	fake_out(f, 0xcf8, cfg_addr(0, 0, 1, 0), 4);
	assert_int_equal(fake_inl(f, 0xcfc, 4), 0xffffffff);
	fake_out(f, 0xcf8, cfg_addr(1, 0, 0, 0), 4);
	assert_int_equal(fake_inl(f, 0xcfc, 4), 0xffffffff);
	fake_out(f, 0xcf8, 0x00000000, 4);
	assert_int_equal(fake_inl(f, 0xcfc, 4), 0xffffffff);
	fake_out(f, 0xcfc, 0, 4);  /* dropped */
}

static void test_bar_sizing_and_moving(void **state)
{
	struct pci_fixture *fx = *state;
	struct fake_vm *f = fx->f;
	struct pci_dev *dev;
	uint8_t buf[4];

	assert_int_equal(pci_register_device(fx->host, &net_info, NULL, NULL, &dev), 0);
	assert_int_equal(pci_dev_slot(dev), 1);
	assert_int_equal(pci_dev_add_bar(dev, 0, PCI_BAR_MEM32, 0x1000, false, bar_fn, fx), 0);
	assert_int_equal(pci_dev_add_bar(dev, 1, PCI_BAR_IO, 0x20, false, bar_fn, fx), 0);
	assert_int_equal(pci_dev_add_bar(dev, 2, PCI_BAR_MEM64, 0x4000, true, bar_fn, fx), 0);
	assert_int_equal(pci_dev_add_bar(dev, 3, PCI_BAR_MEM32, 0x1000, false, bar_fn, fx), -EBUSY);
	assert_int_equal(pci_dev_add_bar(dev, 4, PCI_BAR_MEM32, 0x1001, false, bar_fn, fx), -EINVAL);
	assert_int_equal(pci_dev_add_bar(dev, 5, PCI_BAR_MEM64, 0x1000, false, bar_fn, fx), -EINVAL);

	/* Firmware-less assignment: naturally aligned in the windows. */
	assert_int_equal(pci_dev_bar_addr(dev, 0), 0xc0000000);
	assert_int_equal(pci_dev_bar_addr(dev, 1), 0xc000);
	assert_int_equal(pci_dev_bar_addr(dev, 2), 0xc0004000);
	assert_int_equal(cfg_rd(f, 1, 0x00, 4), 0x10411af4);
	assert_int_equal(cfg_rd(f, 1, 0x04, 2) & 3, 3);
	assert_int_equal(cfg_rd(f, 1, 0x10, 4), 0xc0000000);
	assert_int_equal(cfg_rd(f, 1, 0x14, 4), 0xc001);
	assert_int_equal(cfg_rd(f, 1, 0x18, 4), 0xc000400c);
	assert_int_equal(cfg_rd(f, 1, 0x1c, 4), 0);

	/* The BARs decode where they were put. */
	assert_int_equal(fake_mmio(f, 0xc0000010, buf, 4, false), 0);
	assert_int_equal(fx->last_off, 0x10);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(fake_inl(f, 0xc004, 2), 0x5a5a);
	assert_int_equal(fx->last_off, 4);
	assert_int_equal(fake_mmio(f, 0xc0004ff8, buf, 4, true), 0);
	assert_int_equal(fx->last_off, 0xff8);
	assert_true(fx->last_write);

	/* Sizing the way Linux does it: decode off, all ones, read, restore. */
	cfg_wr(f, 1, 0x04, 0, 2);
	assert_int_equal(fake_mmio(f, 0xc0000010, buf, 4, false), -ENOENT);
	assert_int_equal(fake_inl(f, 0xc004, 1), 0xff);
	cfg_wr(f, 1, 0x10, 0xffffffff, 4);
	assert_int_equal(cfg_rd(f, 1, 0x10, 4), 0xfffff000);
	cfg_wr(f, 1, 0x14, 0xffffffff, 4);
	assert_int_equal(cfg_rd(f, 1, 0x14, 4), 0xffffffe1);
	cfg_wr(f, 1, 0x18, 0xffffffff, 4);
	cfg_wr(f, 1, 0x1c, 0xffffffff, 4);
	assert_int_equal(cfg_rd(f, 1, 0x18, 4), 0xffffc00c);
	assert_int_equal(cfg_rd(f, 1, 0x1c, 4), 0xffffffff);
	/* No expansion ROM. */
	cfg_wr(f, 1, 0x30, 0xfffff800, 4);
	assert_int_equal(cfg_rd(f, 1, 0x30, 4), 0);

	/* The guest moves everything and turns decoding back on. */
	cfg_wr(f, 1, 0x10, 0xd0000000, 4);
	cfg_wr(f, 1, 0x14, 0xd000, 4);
	cfg_wr(f, 1, 0x18, 0x00000000, 4);
	cfg_wr(f, 1, 0x1c, 0x00000001, 4);   /* above 4 GiB */
	cfg_wr(f, 1, 0x04, 0x0003, 2);
	assert_int_equal(pci_dev_bar_addr(dev, 0), 0xd0000000);
	assert_int_equal(pci_dev_bar_addr(dev, 2), 0x100000000ULL);
	assert_int_equal(fake_mmio(f, 0xc0000010, buf, 4, false), -ENOENT);
	assert_int_equal(fake_mmio(f, 0xd0000020, buf, 4, false), 0);
	assert_int_equal(fx->last_off, 0x20);
	assert_int_equal(fake_mmio(f, 0x100000100ULL, buf, 2, true), 0);
	assert_int_equal(fx->last_off, 0x100);
	assert_int_equal(fake_inl(f, 0xc004, 1), 0xff);
	fx->naccess = 0;
	assert_int_equal(fake_inl(f, 0xd01f, 1), 0x5a);
	assert_int_equal(fx->naccess, 1);
	assert_int_equal(fx->last_off, 0x1f);

	/* Memory decode only: the I/O BAR goes dark, memory stays. */
	cfg_wr(f, 1, 0x04, 0x0002, 2);
	assert_int_equal(fake_inl(f, 0xd000, 1), 0xff);
	assert_int_equal(fake_mmio(f, 0xd0000000, buf, 4, false), 0);
	/* A BAR moved onto the host bridge's ports is refused, not fatal. */
	cfg_wr(f, 1, 0x14, 0x0cf8, 4);
	cfg_wr(f, 1, 0x04, 0x0003, 2);
	assert_int_equal(cfg_rd(f, 0, 0x00, 4), 0x29c08086);
}

static void test_capabilities(void **state)
{
	struct pci_fixture *fx = *state;
	struct fake_vm *f = fx->f;
	struct pci_dev *dev;
	const uint8_t vndr[14] = { 14, 1, 2, 3 };
	const uint8_t msix[10] = { 0x03, 0x00 };     /* table size 4 */
	const uint8_t ctl_wmask[2] = { 0x00, 0xc0 }; /* enable, function mask */
	unsigned off1, off2;

	assert_int_equal(pci_register_device(fx->host, &net_info, &hook_ops, fx, &dev), 0);
	assert_int_equal(cfg_rd(f, 1, 0x06, 2) & 0x10, 0);
	assert_int_equal(pci_dev_add_cap(dev, PCI_CAP_ID_VNDR, vndr, 16, &off1), 0);
	assert_int_equal(pci_dev_add_cap(dev, PCI_CAP_ID_MSIX, msix, 12, &off2), 0);
	assert_int_equal(off1, 0x40);
	assert_int_equal(off2, 0x50);
	assert_int_equal(pci_dev_set_wmask(dev, off2 + 2, ctl_wmask, 2), 0);
	assert_int_equal(pci_dev_set_wmask(dev, 0x10, ctl_wmask, 2), -EINVAL);

	/* Walk the list as a driver does. */
	assert_int_equal(cfg_rd(f, 1, 0x06, 2) & 0x10, 0x10);
	assert_int_equal(cfg_rd(f, 1, 0x34, 1), 0x40);
	assert_int_equal(cfg_rd(f, 1, 0x40, 2), 0x5009);
	assert_int_equal(cfg_rd(f, 1, 0x42, 1), 14);
	assert_int_equal(cfg_rd(f, 1, 0x50, 4), 0x00030011);

	/* Only masked bits change; the device hears about the write. */
	cfg_wr(f, 1, 0x52, 0xffff, 2);
	assert_int_equal(cfg_rd(f, 1, 0x52, 2), 0xc003);
	assert_int_equal(fx->hook_calls, 1);
	assert_int_equal(fx->hook_off, 0x52);
	assert_int_equal(fx->hook_val, 0xffff);
	cfg_wr(f, 1, 0x40, 0xffffffff, 4);
	assert_int_equal(cfg_rd(f, 1, 0x40, 4), 0x010e5009);
	assert_int_equal(fx->hook_calls, 2);
	/* Header writes do not reach the hook. */
	cfg_wr(f, 1, 0x3c, 0x05, 1);
	assert_int_equal(fx->hook_calls, 2);
	assert_int_equal(cfg_rd(f, 1, 0x3c, 1), 0x05);
	assert_int_equal(pci_dev_cfg_read(dev, 0x52, 2), 0xc003);
	pci_dev_cfg_write(dev, 0x54, 0xdeadbeef, 4);
	assert_int_equal(cfg_rd(f, 1, 0x54, 4), 0xdeadbeef);
}

static void test_intx_shared(void **state)
{
	struct pci_fixture *fx = *state;
	struct fake_vm *f = fx->f;
	struct pci_dev *a, *b;
	struct pci_dev_info ia = net_info, ib = net_info;

	ia.irq_pin = 2;   /* slot 1, INTB -> 16 + (1 + 1) % 8 = 18 */
	ib.irq_pin = 1;   /* slot 2, INTA -> 16 + 2 % 8 = 18 */
	assert_int_equal(pci_register_device(fx->host, &ia, NULL, NULL, &a), 0);
	assert_int_equal(pci_register_device(fx->host, &ib, NULL, NULL, &b), 0);
	assert_int_equal(pci_intx_gsi(1, 2), 18);
	assert_int_equal(cfg_rd(f, 1, 0x3c, 2), 0x0212);
	assert_int_equal(cfg_rd(f, 2, 0x3c, 2), 0x0112);

	pci_dev_set_intx(a, 1);
	assert_int_equal(f->irq_level[18], 1);
	assert_int_equal(cfg_rd(f, 1, 0x06, 2) & 0x08, 0x08);
	pci_dev_set_intx(b, 1);
	pci_dev_set_intx(a, 0);
	assert_int_equal(f->irq_level[18], 1);   /* b still holds it */
	pci_dev_set_intx(b, 0);
	assert_int_equal(f->irq_level[18], 0);
	assert_int_equal(f->irq_raises[18], 1);

	/* Interrupt Disable masks the pin but not the status bit. */
	pci_dev_set_intx(a, 1);
	cfg_wr(f, 1, 0x04, 0x0400, 2);
	assert_int_equal(f->irq_level[18], 0);
	assert_int_equal(cfg_rd(f, 1, 0x06, 2) & 0x08, 0x08);
	cfg_wr(f, 1, 0x04, 0x0000, 2);
	assert_int_equal(f->irq_level[18], 1);
	pci_dev_set_intx(a, 0);
	assert_int_equal(f->irq_level[18], 0);
}

static void test_reset_control_and_lookup(void **state)
{
	struct pci_fixture *fx = *state;
	struct fake_vm *f = fx->f;
	struct device d = { .ops = &pci_host_ops, .opaque = fx->host };

	assert_null(pci_host_get(&f->vm));
	f->vm.devices = &d;
	assert_ptr_equal(pci_host_get(&f->vm), fx->host);
	f->vm.devices = NULL;

	/* Linux's reboot=pci: read 0xcf9, write SYS_RST, then RST_CPU. */
	assert_int_equal(fake_inb(f, 0xcf9), 0);
	fake_outb(f, 0xcf9, 0x02);
	assert_int_equal(f->nstops, 0);
	fake_outb(f, 0xcf9, 0x06);
	assert_int_equal(f->nstops, 1);
	assert_int_equal(f->vm.exit_status, 0);
	assert_non_null(strstr(f->vm.stop_reason, "reset"));
}

static void test_slots_run_out(void **state)
{
	struct pci_fixture *fx = *state;
	struct pci_dev *dev;
	struct pci_dev_info bad = net_info;

	bad.irq_pin = 5;
	assert_int_equal(pci_register_device(fx->host, &bad, NULL, NULL, &dev), -EINVAL);
	for (int i = 1; i < PCI_MAX_SLOTS; i++)
		assert_int_equal(pci_register_device(fx->host, &net_info, NULL, NULL, &dev), 0);
	assert_int_equal(pci_register_device(fx->host, &net_info, NULL, NULL, &dev), -ENOSPC);
	/* The MMIO window runs out too, without wrapping. */
	assert_int_equal(pci_dev_add_bar(dev, 0, PCI_BAR_MEM32, 1ULL << 29, false, bar_fn, fx), 0);
	assert_int_equal(pci_dev_add_bar(dev, 1, PCI_BAR_MEM32, 1ULL << 29, false, bar_fn, fx), -ENOSPC);
}

static void test_bar_over_existing_range(void **state)
{
	struct pci_fixture *fx = *state;
	struct fake_vm *f = fx->f;
	struct pci_dev *dev;

	/* Something already owns the first I/O BAR address. */
	assert_int_equal(bus_map(&f->vm.pio, 0xc000, 0x100, bar_fn, fx, "other"), 0);
	assert_int_equal(pci_register_device(fx->host, &net_info, NULL, NULL, &dev), 0);
	assert_int_equal(pci_dev_add_bar(dev, 0, PCI_BAR_IO, 0x20, false, bar_fn, fx), -EEXIST);
	/* The BAR is withdrawn: reads 0, sizes to 0, decodes nothing. */
	assert_int_equal(pci_dev_bar_addr(dev, 0), 0);
	cfg_wr(f, 1, 0x10, 0xffffffff, 4);
	assert_int_equal(cfg_rd(f, 1, 0x10, 4), 0);
	/* The next BAR still gets a usable address. */
	assert_int_equal(pci_dev_add_bar(dev, 1, PCI_BAR_IO, 0x100, false, bar_fn, fx), 0);
	assert_int_equal(pci_dev_bar_addr(dev, 1), 0xc100);
	assert_int_equal(bus_unmap(&f->vm.pio, 0xc000), 0);
}

/* Random config cycles with a device present: the bridge keeps answering. */
static void test_hostile_guest(void **state)
{
	struct pci_fixture *fx = *state;
	struct fake_vm *f = fx->f;
	struct pci_dev *dev;

	assert_int_equal(pci_register_device(fx->host, &net_info, &hook_ops, fx, &dev), 0);
	assert_int_equal(pci_dev_add_bar(dev, 0, PCI_BAR_MEM32, 0x1000, false, bar_fn, fx), 0);
	assert_int_equal(pci_dev_add_bar(dev, 1, PCI_BAR_IO, 0x40, false, bar_fn, fx), 0);
	assert_int_equal(pci_dev_add_bar(dev, 2, PCI_BAR_MEM64, 0x4000, true, bar_fn, fx), 0);
	for (int round = 0; round < 50; round++) {
		/* Aim CONFIG_ADDRESS at the device now and then. */
		fake_out(f, 0xcf8, cfg_addr(0, round & 1, 0, (round * 4) & 0x3f), 4);
		fake_random_pio(f, 0xcf8, 8, 2000, 0xcf8 + round);
	}
	assert_int_equal(cfg_rd(f, 0, 0x00, 4), 0x29c08086);
	assert_int_equal(cfg_rd(f, 1, 0x00, 4), 0x10411af4);
	/* The device can still be put back in order and decodes. */
	cfg_wr(f, 1, 0x04, 0, 2);
	cfg_wr(f, 1, 0x10, 0xe0000000, 4);
	cfg_wr(f, 1, 0x04, 0x0002, 2);
	uint8_t buf[4];
	assert_int_equal(fake_mmio(f, 0xe0000004, buf, 4, false), 0);
	assert_int_equal(fx->last_off, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_bridge_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing_and_moving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_control_and_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_run_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_over_existing_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_guest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
