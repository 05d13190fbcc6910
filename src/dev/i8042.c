// SPDX-License-Identifier: GPL-2.0-only
/*
 * Intel 8042-compatible PS/2 controller with empty keyboard and aux ports.
 * References: IBM PS/2 Hardware Interface Technical Reference, "Keyboard /
 * Auxiliary Device Controller" (commands, status, command byte), and what
 * Linux's drivers/input/serio/i8042.c does at probe:
 *
 *  - i8042_flush() drains the output buffer by status bit 0;
 *  - i8042_controller_init() reads and writes the command byte (0x20/0x60)
 *    and expects it to read back;
 *  - i8042_controller_selftest() wants 0x55 for 0xaa;
 *  - i8042_check_aux() loops bytes back through 0xd3 and waits up to 250 ms
 *    for IRQ 12 to deliver one, so the aux loop raises IRQ 12;
 *  - atkbd/psmouse then talk to devices through 0x60 / 0xd4.  With nothing
 *    attached a real controller answers 0xfe with the status timeout bit
 *    set; Linux's libps2 aborts the command at once on SERIO_TIMEOUT, so
 *    probing ends quickly instead of waiting for ACK timeouts.
 *
 * Output bytes queue up (the 8042 has one output register; the queue stands
 * in for the devices' own buffers) and each drives IRQ 1 or IRQ 12 while at
 * the head, when the command byte enables that interrupt.  Reading 0x60
 * drops the line before the next byte raises it again, so edge-triggered
 * inputs see one edge per byte.
 *
 * Reset: command 0xfe pulses output port bit 0 (the CPU reset line), which
 * is how Linux reboots (reboot=k, the x86 default after ACPI); writing the
 * output port with bit 0 clear, or setting bit 0 of port 0x92 (fast reset)
 * do the same.  Vireo ends the VM with exit status 0 then, as Firecracker
 * does: a reboot is a power-off with a reason.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "vireo/log.h"
#include "vireo/vm.h"
#include "dev/i8042.h"

/* Status register (port 0x64 read). */
#define STR_OBF     0x01
#define STR_SYS     0x04
#define STR_CMD     0x08  /* last write went to 0x64 */
#define STR_UNLOCK  0x10  /* keyboard not inhibited by the keylock */
#define STR_AUXDATA 0x20
#define STR_TIMEOUT 0x40

/* Command byte (controller RAM byte 0). */
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40
#define CTR_RESET_VALUE (CTR_XLATE | CTR_SYS | CTR_AUXINT | CTR_KBDINT)

/* Controller commands (port 0x64 write). */
#define CMD_READ_RAM     0x20  /* 0x20-0x3f */
#define CMD_WRITE_RAM    0x60  /* 0x60-0x7f, one data byte */
#define CMD_AUX_DISABLE  0xa7
#define CMD_AUX_ENABLE   0xa8
#define CMD_AUX_TEST     0xa9
#define CMD_SELF_TEST    0xaa
#define CMD_KBD_TEST     0xab
#define CMD_KBD_DISABLE  0xad
#define CMD_KBD_ENABLE   0xae
#define CMD_READ_INPUT   0xc0
#define CMD_READ_OUTPUT  0xd0
#define CMD_WRITE_OUTPUT 0xd1
#define CMD_WRITE_KBD_OB 0xd2
#define CMD_WRITE_AUX_OB 0xd3
#define CMD_WRITE_AUX    0xd4
#define CMD_PULSE        0xf0  /* 0xf0-0xff: pulse output bits 3:0 that are 0 */

#define OUTPORT_RESET 0x01  /* active low: 0 holds the CPU in reset */
#define OUTPORT_A20   0x02
#define PORT_A_RESET  0x01
#define PORT_A_A20    0x02

#define SELF_TEST_OK  0x55
#define PS2_RESEND    0xfe  /* what a port with no device answers */
#define OBUF_SIZE     16
#define RAM_SIZE      32

struct obuf_byte {
	uint8_t data;
	bool aux;
	bool timeout;
};

struct i8042 {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t ram[RAM_SIZE];      /* ram[0] is the command byte */
	uint8_t pending;            /* command awaiting its data byte, or 0 */
	uint8_t outport;
	uint8_t port_a;
	bool last_was_cmd;
	uint8_t last_data;          /* 0x60 reads this when the buffer is empty */
	struct obuf_byte obuf[OBUF_SIZE];
	unsigned ob_head, ob_count;
	bool irq_kbd, irq_aux;      /* levels last driven */
};

static void set_line(struct i8042 *k, unsigned irq, bool *cur, bool level)
{
	if (*cur == level)
		return;
	*cur = level;
	vm_irq_set(k->vm, irq, level);
}

static void update_irq(struct i8042 *k)
{
	const struct obuf_byte *b = &k->obuf[k->ob_head];
	uint8_t ctr = k->ram[0];
	bool kbd = k->ob_count && !b->aux && (ctr & CTR_KBDINT);
	bool aux = k->ob_count && b->aux && (ctr & CTR_AUXINT);

	set_line(k, I8042_KBD_IRQ, &k->irq_kbd, kbd);
	set_line(k, I8042_AUX_IRQ, &k->irq_aux, aux);
}

static void obuf_push(struct i8042 *k, uint8_t data, bool aux, bool timeout)
{
	if (k->ob_count == OBUF_SIZE) {
		log_warnx_rl("i8042: output buffer full, byte 0x%02x dropped", data);
		return;
	}
	k->obuf[(k->ob_head + k->ob_count) % OBUF_SIZE] =
		(struct obuf_byte){ data, aux, timeout };
	k->ob_count++;
}

static uint8_t status_read(struct i8042 *k)
{
	const struct obuf_byte *b = &k->obuf[k->ob_head];
	uint8_t s = STR_UNLOCK;

	if (k->ram[0] & CTR_SYS)
		s |= STR_SYS;
	if (k->last_was_cmd)
		s |= STR_CMD;
	if (k->ob_count) {
		s |= STR_OBF;
		if (b->aux)
			s |= STR_AUXDATA;
		if (b->timeout)
			s |= STR_TIMEOUT;
	}
	return s;
}

static uint8_t data_read(struct i8042 *k)
{
	if (!k->ob_count)
		return k->last_data;
	k->last_data = k->obuf[k->ob_head].data;
	k->ob_head = (k->ob_head + 1) % OBUF_SIZE;
	k->ob_count--;
	/* OBF falls with the read: one edge per byte (see the top comment). */
	set_line(k, I8042_KBD_IRQ, &k->irq_kbd, false);
	set_line(k, I8042_AUX_IRQ, &k->irq_aux, false);
	return k->last_data;
}

static void request_reset(struct i8042 *k, const char *how)
{
	log_debug("i8042: reset via %s", how);
	vm_request_stop(k->vm, 0, "guest requested reset");
}

static void outport_write(struct i8042 *k, uint8_t val)
{
	k->outport = val;
	if (!(val & OUTPORT_RESET))
		request_reset(k, "output port write");
}

/* A data byte following a command that takes one. */
static void pending_data(struct i8042 *k, uint8_t cmd, uint8_t val)
{
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_SIZE) {
		k->ram[cmd - CMD_WRITE_RAM] = val;
		return;
	}
	switch (cmd) {
	case CMD_WRITE_OUTPUT:
		outport_write(k, val);
		break;
	case CMD_WRITE_KBD_OB:
		obuf_push(k, val, false, false);
		break;
	case CMD_WRITE_AUX_OB:
		obuf_push(k, val, true, false);  /* the aux loop Linux probes with */
		break;
	case CMD_WRITE_AUX:
		obuf_push(k, PS2_RESEND, true, true);  /* no mouse */
		break;
	}
}

static void data_write(struct i8042 *k, uint8_t val)
{
	uint8_t cmd = k->pending;

	k->last_was_cmd = false;
	k->pending = 0;
	if (cmd)
		pending_data(k, cmd, val);
	else
		obuf_push(k, PS2_RESEND, false, true);  /* to the keyboard: none */
}

static void command_write(struct i8042 *k, uint8_t cmd)
{
	k->last_was_cmd = true;
	k->pending = 0;
	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + RAM_SIZE) {
		obuf_push(k, k->ram[cmd - CMD_READ_RAM], false, false);
		return;
	}
	if ((cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_SIZE) ||
	    cmd == CMD_WRITE_OUTPUT || cmd == CMD_WRITE_KBD_OB ||
	    cmd == CMD_WRITE_AUX_OB || cmd == CMD_WRITE_AUX) {
		k->pending = cmd;
		return;
	}
	if (cmd >= CMD_PULSE) {
		if (!(cmd & OUTPORT_RESET))
			request_reset(k, "command 0xfe");
		return;
	}
	switch (cmd) {
	case CMD_AUX_DISABLE:
		k->ram[0] |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		k->ram[0] &= ~CTR_AUXDIS;
		break;
	case CMD_KBD_DISABLE:
		k->ram[0] |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ram[0] &= ~CTR_KBDDIS;
		break;
	case CMD_SELF_TEST:
		obuf_push(k, SELF_TEST_OK, false, false);
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		obuf_push(k, 0x00, false, false);  /* interface OK */
		break;
	case CMD_READ_INPUT:
		obuf_push(k, 0x00, false, false);
		break;
	case CMD_READ_OUTPUT:
		obuf_push(k, k->outport, false, false);
		break;
	default:
		log_warnx_rl("i8042: unsupported command 0x%02x ignored", cmd);
		break;
	}
}

static void i8042_pio(struct vcpu *vcpu, uint64_t offset, void *data,
		      int len, bool is_write, void *opaque)
{
	struct i8042 *k = opaque;
	uint8_t *b = data;

	/* Mapped as two 1-byte ranges; `offset` is 0 for both. */
	(void)offset;
	pthread_mutex_lock(&k->lock);
	if (is_write)
		data_write(k, b[0]);
	else
		b[0] = data_read(k);
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_cmd_pio(struct vcpu *vcpu, uint64_t offset, void *data,
			  int len, bool is_write, void *opaque)
{
	struct i8042 *k = opaque;
	uint8_t *b = data;

	pthread_mutex_lock(&k->lock);
	if (is_write)
		command_write(k, b[0]);
	else
		b[0] = status_read(k);
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

/* System Control Port A (0x92): bit 0 fast reset (0 -> 1), bit 1 A20. */
static void port_a_pio(struct vcpu *vcpu, uint64_t offset, void *data,
		       int len, bool is_write, void *opaque)
{
	struct i8042 *k = opaque;
	uint8_t *b = data;
	bool reset;

	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		b[0] = k->port_a;
		pthread_mutex_unlock(&k->lock);
		return;
	}
	reset = (b[0] & PORT_A_RESET) && !(k->port_a & PORT_A_RESET);
	k->port_a = b[0] & (PORT_A_RESET | PORT_A_A20);
	if (reset)
		request_reset(k, "port 0x92");
	pthread_mutex_unlock(&k->lock);
}

static void i8042_reset(void *opaque)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	for (unsigned i = 0; i < RAM_SIZE; i++)
		k->ram[i] = 0;
	k->ram[0] = CTR_RESET_VALUE;
	k->pending = 0;
	k->outport = OUTPORT_RESET | OUTPORT_A20;
	k->port_a = PORT_A_A20;
	k->last_was_cmd = false;
	k->ob_head = k->ob_count = 0;
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

static const struct {
	uint16_t port;
	bus_fn fn;
	const char *name;
} i8042_ports[] = {
	{ I8042_DATA_PORT, i8042_pio, "i8042-data" },
	{ I8042_CMD_PORT, i8042_cmd_pio, "i8042-cmd" },
	{ I8042_PORT_A, port_a_pio, "port-a" },
};

static void unmap_ports(struct i8042 *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (bus_unmap(&k->vm->pio, i8042_ports[i].port) < 0)
			log_debug("i8042: port 0x%x was not mapped", i8042_ports[i].port);
}

static int i8042_realize(struct vm *vm, void **opaque)
{
	struct i8042 *k;
	size_t i;
	int err;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->vm = vm;
	err = -pthread_mutex_init(&k->lock, NULL);
	if (err)
		goto err_free;
	i8042_reset(k);
	for (i = 0; i < ARRAY_SIZE(i8042_ports); i++) {
		err = vm_map_pio(vm, i8042_ports[i].port, 1, i8042_ports[i].fn, k,
				 i8042_ports[i].name);
		if (err) {
			log_errno(err, "i8042: cannot map port 0x%x", i8042_ports[i].port);
			goto err_unmap;
		}
	}
	*opaque = k;
	return 0;

err_unmap:
	unmap_ports(k, i);
	pthread_mutex_destroy(&k->lock);
err_free:
	free(k);
	return err;
}

static void i8042_destroy(void *opaque)
{
	struct i8042 *k = opaque;

	if (!k)
		return;
	unmap_ports(k, ARRAY_SIZE(i8042_ports));
	pthread_mutex_destroy(&k->lock);
	free(k);
}

const struct device_ops i8042_ops = {
	.name = "i8042",
	.realize = i8042_realize,
	.reset = i8042_reset,
	.destroy = i8042_destroy,
};
