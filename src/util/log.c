// SPDX-License-Identifier: GPL-2.0-only
/* Logging: one line per call, written with a single write(2). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vireo/log.h"

/* The one process-wide setting: the verbosity chosen on the command line. */
static enum log_level cur_level = LOG_LEVEL_WARN;

void log_set_level(enum log_level level) { cur_level = level; }
enum log_level log_get_level(void) { return cur_level; }

static void vlog(const char *fmt, va_list ap, int err)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "vireo: ");
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n > (int)sizeof(buf) - 3)
		n = sizeof(buf) - 3;
	if (err)
		n += snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(err));
	if (n > (int)sizeof(buf) - 3)
		n = sizeof(buf) - 3;
	/* The console may have put the terminal in raw mode: return the carriage. */
	if (isatty(STDERR_FILENO))
		buf[n++] = '\r';
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nothing sensible left to do */
	}
}

#define LOG_FN(name, lvl, errexpr)                         \
	void name(const char *fmt, ...)                    \
	{                                                  \
		int e = errno;                             \
		va_list ap;                                \
		if (cur_level < (lvl))                     \
			return;                            \
		va_start(ap, fmt);                         \
		vlog(fmt, ap, (errexpr));                  \
		va_end(ap);                                \
		errno = e;                                 \
	}

LOG_FN(log_warn, LOG_LEVEL_WARN, e)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)

void log_errno(int err, const char *fmt, ...)
{
	va_list ap;
	if (err < 0)
		err = -err;
	va_start(ap, fmt);
	vlog(fmt, ap, err);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap, e);
	va_end(ap);
	exit(1);
}

void diex(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap, 0);
	va_end(ap);
	exit(1);
}

bool log_ratelimit_ok(struct log_ratelimit *rl)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec - rl->window_start >= 5) {
		rl->window_start = ts.tv_sec;
		rl->count = 0;
	}
	return rl->count++ < 10;
}
