// SPDX-License-Identifier: GPL-2.0-only
/* i8042: Linux's probe sequence, the aux loop IRQ, and the reset line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dev/i8042.h"
#include "fake_vm.h"

struct kbc_fixture {
	struct fake_vm *f;
	void *dev;
};

static int setup(void **state)
{
	struct kbc_fixture *fx = test_calloc(1, sizeof(*fx));

	fx->f = fake_vm_create(64 << 20, 1);
	assert_int_equal(i8042_ops.realize(&fx->f->vm, &fx->dev), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct kbc_fixture *fx = *state;

	i8042_ops.destroy(fx->dev);
	assert_int_equal(fx->f->vm.pio.nranges, 0);
	fake_vm_destroy(fx->f);
	test_free(fx);
	return 0;
}

/* i8042_command(): write the command, then poll OBF for a result byte. */
static int command(struct fake_vm *f, uint8_t cmd, int param)
{
	fake_outb(f, 0x64, cmd);
	if (param >= 0)
		fake_outb(f, 0x60, (uint8_t)param);
	if (!(fake_inb(f, 0x64) & 0x01))
		return -1;
	return fake_inb(f, 0x60);
}

static void test_linux_probe(void **state)
{
	struct fake_vm *f = ((struct kbc_fixture *)*state)->f;
	uint8_t st = fake_inb(f, 0x64);

	/* i8042_flush(): nothing queued, status is not 0xff. */
	assert_int_equal(st & 0x01, 0);
	assert_int_not_equal(st, 0xff);
	assert_int_equal(st & 0x02, 0);   /* input buffer never full */

	int ctr = command(f, 0x20, -1);
	assert_int_equal(ctr, 0x47);
	assert_int_equal(fake_inb(f, 0x64) & 0x04, 0x04);  /* SYS flag */
	fake_outb(f, 0x64, 0x60);
	assert_int_equal(fake_inb(f, 0x64) & 0x08, 0x08);  /* last write: command */
	fake_outb(f, 0x60, 0x61);
	assert_int_equal(fake_inb(f, 0x64) & 0x08, 0);
	assert_int_equal(command(f, 0x20, -1), 0x61);
	assert_int_equal(command(f, 0xaa, -1), 0x55);      /* self test */
	assert_int_equal(command(f, 0xab, -1), 0x00);      /* kbd interface test */

	/* Bit-assignment test on the aux port: 0xa7/0xa8 flip CTR bit 5. */
	assert_int_equal(command(f, 0xa7, -1), -1);
	assert_int_equal(command(f, 0x20, -1) & 0x20, 0x20);
	assert_int_equal(command(f, 0xa8, -1), -1);
	assert_int_equal(command(f, 0x20, -1) & 0x20, 0x00);
	/* Unknown commands are ignored. */
	assert_int_equal(command(f, 0xa1, -1), -1);
	assert_int_equal(f->nstops, 0);
}

static void test_aux_loop_raises_irq12(void **state)
{
	struct fake_vm *f = ((struct kbc_fixture *)*state)->f;

	/* CTR with AUXINT (and KBDINT) on, as i8042_check_aux sets it. */
	fake_outb(f, 0x64, 0x60);
	fake_outb(f, 0x60, 0x43);
	fake_outb(f, 0x64, 0xd3);
	fake_outb(f, 0x60, 0xa5);
	assert_int_equal(f->irq_level[12], 1);
	assert_int_equal(f->irq_level[1], 0);
	assert_int_equal(fake_inb(f, 0x64) & 0x21, 0x21);  /* OBF | AUXDATA */
	assert_int_equal(fake_inb(f, 0x60), 0xa5);
	assert_int_equal(f->irq_level[12], 0);
	assert_int_equal(fake_inb(f, 0x64) & 0x01, 0);

	/* MUX detection: the loop returns 0xa4 unchanged, so no MUX. */
	assert_int_equal(command(f, 0xd3, 0xf0), 0xf0);
	assert_int_equal(command(f, 0xd3, 0x56), 0x56);
	assert_int_equal(command(f, 0xd3, 0xa4), 0xa4);

	/* Without AUXINT the byte waits silently. */
	fake_outb(f, 0x64, 0x60);
	fake_outb(f, 0x60, 0x41);
	fake_outb(f, 0x64, 0xd3);
	fake_outb(f, 0x60, 0x5a);
	assert_int_equal(f->irq_level[12], 0);
	assert_int_equal(fake_inb(f, 0x60), 0x5a);
}

static void test_absent_devices_answer_at_once(void **state)
{
	struct fake_vm *f = ((struct kbc_fixture *)*state)->f;

	/* atkbd: a byte to the keyboard gets 0xfe with the timeout bit, IRQ 1. */
	int raises = f->irq_raises[1];
	fake_outb(f, 0x60, 0xff);
	assert_int_equal(fake_inb(f, 0x64) & 0x61, 0x41);  /* OBF | TIMEOUT, not aux */
	assert_int_equal(f->irq_level[1], 1);
	assert_int_equal(fake_inb(f, 0x60), 0xfe);
	assert_int_equal(f->irq_level[1], 0);
	/* psmouse: through 0xd4 to the aux device, answered on IRQ 12. */
	fake_outb(f, 0x64, 0xd4);
	fake_outb(f, 0x60, 0xf2);
	assert_int_equal(fake_inb(f, 0x64) & 0x61, 0x61);
	assert_int_equal(f->irq_level[12], 1);
	assert_int_equal(fake_inb(f, 0x60), 0xfe);
	assert_int_equal(f->irq_level[12], 0);

	/* Two queued bytes: the line drops between them (one edge each). */
	fake_outb(f, 0x60, 0xf4);
	fake_outb(f, 0x60, 0xf5);
	assert_int_equal(f->irq_raises[1], raises + 2);
	fake_inb(f, 0x60);
	assert_int_equal(f->irq_raises[1], raises + 3);
	assert_int_equal(f->irq_level[1], 1);
	fake_inb(f, 0x60);
	assert_int_equal(f->irq_level[1], 0);
	/* Empty buffer: the last byte again, no interrupt. */
	assert_int_equal(fake_inb(f, 0x60), 0xfe);
	assert_int_equal(f->irq_level[1], 0);

	/* 16 bytes queue; more are dropped without harm. */
	for (int i = 0; i < 20; i++)
		fake_outb(f, 0x60, 0xed);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(fake_inb(f, 0x64) & 0x01, 0x01);
		assert_int_equal(fake_inb(f, 0x60), 0xfe);
	}
	assert_int_equal(fake_inb(f, 0x64) & 0x01, 0);
}

static void test_reset_line(void **state)
{
	struct fake_vm *f = ((struct kbc_fixture *)*state)->f;

	fake_outb(f, 0x64, 0xff);      /* pulse nothing */
	assert_int_equal(f->nstops, 0);
	assert_int_equal(command(f, 0xd0, -1) & 0x03, 0x03);
	fake_outb(f, 0x64, 0xfe);      /* Linux's reboot=k */
	assert_int_equal(f->nstops, 1);
	assert_int_equal(f->vm.exit_status, 0);
	assert_string_equal(f->vm.stop_reason, "guest requested reset");
}

static void test_output_port_and_port_a(void **state)
{
	struct fake_vm *f = ((struct kbc_fixture *)*state)->f;

	fake_outb(f, 0x64, 0xd1);
	fake_outb(f, 0x60, 0xdf);      /* A20 on, reset high: nothing happens */
	assert_int_equal(f->nstops, 0);
	assert_int_equal(command(f, 0xd0, -1), 0xdf);
	assert_int_equal(fake_inb(f, 0x92), 0x02);
	fake_outb(f, 0x92, 0x02);
	assert_int_equal(f->nstops, 0);
	fake_outb(f, 0x92, 0x03);      /* fast reset */
	assert_int_equal(f->nstops, 1);
	fake_outb(f, 0x64, 0xd1);
	fake_outb(f, 0x60, 0xde);      /* reset line low */
	assert_int_equal(f->nstops, 2);
}

static void test_hostile_guest(void **state)
{
	struct kbc_fixture *fx = *state;
	struct fake_vm *f = fx->f;

	for (int round = 0; round < 50; round++) {
		fake_random_pio(f, 0x60, 5, 2000, 0x8042 + round);
		fake_random_pio(f, 0x92, 1, 50, 0x92 + round);
	}
	i8042_ops.reset(fx->dev);
	while (fake_inb(f, 0x64) & 0x01)
		fake_inb(f, 0x60);
	assert_int_equal(f->irq_level[1], 0);
	assert_int_equal(f->irq_level[12], 0);
	assert_int_equal(command(f, 0xaa, -1), 0x55);
	assert_int_equal(command(f, 0x20, -1), 0x47);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_linux_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aux_loop_raises_irq12, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_devices_answer_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_port_and_port_a, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_guest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
