/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_LOG_H
#define VIREO_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Messages go to stderr, prefixed "vireo: ". Thread-safe (one write per line). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same as log_warn, with an explicit positive errno value. */
void log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Only for main() and early start-up: print and exit(1). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void diex(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Rate-limited warning for guest-reachable conditions: at most `burst`
 * lines per 5 s per call site.  Usage: log_ratelimited(log_warnx, "...").
 */
struct log_ratelimit { long window_start; int count; };
bool log_ratelimit_ok(struct log_ratelimit *rl);
#define log_warnx_rl(...) do {                                  \
		static struct log_ratelimit _rl;                \
		if (log_ratelimit_ok(&_rl)) log_warnx(__VA_ARGS__); \
	} while (0)

#endif
