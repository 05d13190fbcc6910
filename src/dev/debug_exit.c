// SPDX-License-Identifier: GPL-2.0-only
/*
 * Debug-exit port (see debug_exit.h).  A write at 0x501 or 0x502 carries a
 * little-endian value v (the bytes that fall inside the two ports: a dword
 * write is cut to its low word by the bus); the VM stops with exit status
 * v & 0xff.  Reads return all ones, as from an empty port.
 */
#include <errno.h>
#include <stdlib.h>

#include "vireo/log.h"
#include "vireo/vm.h"
#include "dev/debug_exit.h"

struct debug_exit {
	struct vm *vm;
};

static void debug_exit_pio(struct vcpu *vcpu, uint64_t offset, void *data,
			   int len, bool is_write, void *opaque)
{
	struct debug_exit *d = opaque;
	const uint8_t *b = data;
	uint32_t v = 0;

	if (!is_write)
		return;
	for (int i = len - 1; i >= 0; i--)
		v = v << 8 | b[i];
	vm_request_stop(d->vm, v & 0xff, "guest wrote %u to the debug-exit port", v);
}

static int debug_exit_realize(struct vm *vm, void **opaque)
{
	struct debug_exit *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->vm = vm;
	err = vm_map_pio(vm, DEBUG_EXIT_PORT, DEBUG_EXIT_LEN, debug_exit_pio, d,
			 "debug-exit");
	if (err) {
		log_errno(err, "debug-exit: cannot map port 0x%x", DEBUG_EXIT_PORT);
		free(d);
		return err;
	}
	*opaque = d;
	return 0;
}

static void debug_exit_destroy(void *opaque)
{
	struct debug_exit *d = opaque;

	if (!d)
		return;
	if (bus_unmap(&d->vm->pio, DEBUG_EXIT_PORT) < 0)
		log_debug("debug-exit: port was not mapped");
	free(d);
}

const struct device_ops debug_exit_ops = {
	.name = "debug-exit",
	.realize = debug_exit_realize,
	.destroy = debug_exit_destroy,
};
