// SPDX-License-Identifier: GPL-2.0-only
/*
 * The serial console's host side: stdin/stdout of `vireo run`.  A terminal
 * goes to raw mode (restored on exit) and input passes the Ctrl-a escape
 * handler, as QEMU's -serial mon:stdio does.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "vireo/console.h"
#include "vireo/evloop.h"
#include "vireo/log.h"
#include "vireo/vm.h"

#define CONSOLE_ESCAPE 0x01   /* Ctrl-a */

struct console {
	struct vm *vm;
	int in_fd, out_fd;
	bool raw;                 /* in_fd was switched to raw mode */
	struct termios saved;
	bool escape;              /* previous byte was Ctrl-a */
	pthread_mutex_t lock;     /* serialises output and the input sink */
	console_input_fn input_fn;
	void *input_opaque;
	unsigned toggles;         /* C-a p seen, not yet acted on (under lock) */
};

static void console_out(struct console *con, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(con->out_fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;   /* output closed: drop, never stall the guest */
		p += n;
		len -= n;
	}
}

void console_write(struct console *con, const uint8_t *buf, size_t len)
{
	if (!con)
		return;
	pthread_mutex_lock(&con->lock);
	console_out(con, buf, len);
	pthread_mutex_unlock(&con->lock);
}

void console_set_input(struct console *con, console_input_fn fn, void *opaque)
{
	if (!con)
		return;
	pthread_mutex_lock(&con->lock);
	con->input_fn = fn;
	con->input_opaque = opaque;
	pthread_mutex_unlock(&con->lock);
}

static void console_deliver(struct console *con, const uint8_t *buf, size_t len)
{
	if (len && con->input_fn)
		con->input_fn(con->input_opaque, buf, len);
}

static const char console_help[] =
	"\r\nC-a h    print this help\r\n"
	"C-a x    exit the VM\r\n"
	"C-a p    pause the VM; again to resume\r\n"
	"C-a a    send C-a\r\n";

/* C-a p: pause a running VM, resume a paused one (vm_pause waits for the vCPUs). */
static void console_toggle_pause(struct console *con)
{
	static const char paused[] = "\r\n[vireo: paused; C-a p resumes]\r\n";
	static const char resumed[] = "\r\n[vireo: resumed]\r\n";

	if (vm_get_state(con->vm) == VM_PAUSED) {
		if (vm_resume(con->vm) == 0)
			console_write(con, (const uint8_t *)resumed, sizeof(resumed) - 1);
	} else if (vm_pause(con->vm) == 0) {
		console_write(con, (const uint8_t *)paused, sizeof(paused) - 1);
	}
}

/* Returns the byte to give the guest, or -1 if the escape handler took it. */
static int console_escape(struct console *con, uint8_t c)
{
	if (!con->escape) {
		if (c != CONSOLE_ESCAPE)
			return c;
		con->escape = true;
		return -1;
	}
	con->escape = false;
	switch (c) {
	case 'x':
	case 'X':
		vm_request_stop(con->vm, 0, "console: C-a x");
		return -1;
	case 'h':
	case '?':
		console_out(con, console_help, sizeof(console_help) - 1);
		return -1;
	case 'p':
	case 'P':
		/*
		 * Done by console_readable once con->lock is released: vm_pause
		 * waits for every vCPU to park, and a vCPU writing guest output
		 * needs the lock to get there.
		 */
		con->toggles++;
		return -1;
	case CONSOLE_ESCAPE:
	case 'a':
		return CONSOLE_ESCAPE;   /* a literal Ctrl-a */
	default:
		return -1;               /* unknown escape: swallowed, as QEMU does */
	}
}

static void console_readable(int fd, uint32_t events, void *opaque)
{
	struct console *con = opaque;
	uint8_t buf[256], out[256];
	size_t nout = 0;
	unsigned toggles;
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		evloop_del(con->vm->loop, fd);   /* EOF: no more input */
		return;
	}
	pthread_mutex_lock(&con->lock);
	for (ssize_t i = 0; i < n; i++) {
		int c = console_escape(con, buf[i]);
		if (c >= 0)
			out[nout++] = c;
	}
	console_deliver(con, out, nout);
	toggles = con->toggles;
	con->toggles = 0;
	pthread_mutex_unlock(&con->lock);
	while (toggles--)
		console_toggle_pause(con);
}

int console_create(struct vm *vm, int in_fd, int out_fd, struct console **out)
{
	struct console *con = calloc(1, sizeof(*con));
	int err;

	if (!con)
		return -ENOMEM;
	con->vm = vm;
	con->in_fd = in_fd;
	con->out_fd = out_fd;
	pthread_mutex_init(&con->lock, NULL);
	if (in_fd >= 0 && isatty(in_fd) && tcgetattr(in_fd, &con->saved) == 0) {
		struct termios raw = con->saved;
		cfmakeraw(&raw);   /* the guest's bytes pass untouched both ways */
		if (tcsetattr(in_fd, TCSANOW, &raw) == 0)
			con->raw = true;
	}
	if (in_fd >= 0) {
		err = evloop_add(vm->loop, in_fd, EPOLLIN, console_readable, con);
		if (err && err != -EPERM)   /* -EPERM: a regular file, no input */
			goto err_restore;
	}
	*out = con;
	return 0;
err_restore:
	if (con->raw)
		tcsetattr(in_fd, TCSANOW, &con->saved);
	free(con);
	return err;
}

void console_destroy(struct console *con)
{
	if (!con)
		return;
	if (con->raw)
		tcsetattr(con->in_fd, TCSANOW, &con->saved);
	pthread_mutex_destroy(&con->lock);
	free(con);
}
