/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_TEST_VFAKE_H
#define VIREO_TEST_VFAKE_H

/*
 * The virtio tests' stand-in for the VM core: the interrupt entry points
 * (vm_irq_set, vm_msi_send, vm_request_stop) are recorded here; everything
 * else (buses, guest memory, event loop, PCI host bridge) is the real code
 * from libvireo.
 */
#include <stdbool.h>
#include <stdint.h>

#include "vireo/vm.h"

#define FAKE_NGSI 24

struct fake_vm {
	struct vm vm;                   /* first: the core's view */
	int irq_level[FAKE_NGSI];
	int irq_raises[FAKE_NGSI];
	int msi_count;
	uint64_t msi_addr;
	uint32_t msi_data;
};

struct fake_vm *fake_vm_create(uint64_t mem_size, int ncpus);
void fake_vm_destroy(struct fake_vm *f);
uint32_t fake_inl(struct fake_vm *f, uint16_t port, int len);
void fake_out(struct fake_vm *f, uint16_t port, uint32_t val, int len);
int fake_mmio(struct fake_vm *f, uint64_t gpa, void *data, int len, bool is_write);

#endif
