/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_CONSOLE_H
#define VIREO_CONSOLE_H

/*
 * The serial console's host side.  `vireo run` connects it to stdin/stdout
 * (raw mode on a terminal, restored at exit).  Input passes through the
 * escape handler: Ctrl-a x quits the VM, Ctrl-a a sends a literal Ctrl-a,
 * Ctrl-a h prints help, as in QEMU's -serial mon:stdio.
 */
#include <stddef.h>
#include <stdint.h>

#include "vireo/util.h"

struct vm;
struct console;

/* Bytes from the user to the guest device; runs on the event-loop thread. */
typedef void (*console_input_fn)(void *opaque, const uint8_t *buf, size_t len);

/* in_fd may be -1 (no input).  Does not take ownership of the fds. */
int console_create(struct vm *vm, int in_fd, int out_fd, struct console **out) WUR;
void console_destroy(struct console *con);
/* Output from the guest device: any thread.  con may be NULL (no console: dropped). */
void console_write(struct console *con, const uint8_t *buf, size_t len);
/* The device that receives input (one at a time).  con may be NULL. */
void console_set_input(struct console *con, console_input_fn fn, void *opaque);

#endif
