// SPDX-License-Identifier: GPL-2.0-only
/* Debug-exit port: the guest's value becomes the exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dev/debug_exit.h"
#include "fake_vm.h"

static int setup(void **state)
{
	struct fake_vm *f = fake_vm_create(64 << 20, 1);
	void *dev;

	assert_int_equal(debug_exit_ops.realize(&f->vm, &dev), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake_vm *f = *state;

	/* The device's opaque is the only range on the PIO bus. */
	assert_int_equal(f->vm.pio.nranges, 1);
	debug_exit_ops.destroy(f->vm.pio.ranges[0].opaque);
	assert_int_equal(f->vm.pio.nranges, 0);
	fake_vm_destroy(f);
	return 0;
}

static void test_byte_write(void **state)
{
	struct fake_vm *f = *state;

	assert_int_equal(fake_inb(f, 0x501), 0xff);  /* reads do nothing */
	assert_int_equal(f->nstops, 0);
	fake_outb(f, 0x501, 42);
	assert_int_equal(f->nstops, 1);
	assert_int_equal(f->vm.state, VM_STOPPED);
	assert_int_equal(f->vm.exit_status, 42);
	assert_string_equal(f->vm.stop_reason, "guest wrote 42 to the debug-exit port");
}

static void test_wide_write_truncates_status(void **state)
{
	struct fake_vm *f = *state;

	fake_out(f, 0x501, 0x1234, 2);
	assert_int_equal(f->vm.exit_status, 0x34);
	assert_string_equal(f->vm.stop_reason, "guest wrote 4660 to the debug-exit port");
}

static void test_zero_and_second_port(void **state)
{
	struct fake_vm *f = *state;

	fake_outb(f, 0x502, 0);
	assert_int_equal(f->nstops, 1);
	assert_int_equal(f->vm.exit_status, 0);
	fake_outb(f, 0x501, 7);      /* the first request wins */
	assert_int_equal(f->vm.exit_status, 0);
	fake_outb(f, 0x503, 9);      /* not ours */
	assert_int_equal(f->nstops, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_byte_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide_write_truncates_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_and_second_port, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
