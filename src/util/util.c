// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vireo/util.h"

int parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
	char *end;
	uint64_t mul = default_unit;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = KiB; end++; break;
	case 'm': case 'M': mul = MiB; end++; break;
	case 'g': case 'G': mul = GiB; end++; break;
	case 't': case 'T': mul = GiB * 1024; end++; break;
	case 'b': case 'B': mul = 1; end++; break;
	default: return -EINVAL;
	}
	if ((*end == 'i' || *end == 'I') && mul != 1)
		end++;
	if ((*end == 'b' || *end == 'B') && mul != 1)
		end++;
	if (*end)
		return -EINVAL;
	if (v && mul > UINT64_MAX / v)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

int read_file(const char *path, size_t max, void **bufp, size_t *lenp)
{
	struct stat st;
	size_t len, done = 0;
	char *buf;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto err_close;
	}
	if ((uint64_t)st.st_size > max) {
		err = -EFBIG;
		goto err_close;
	}
	len = st.st_size;
	buf = malloc(len ? len : 1);
	if (!buf) {
		err = -ENOMEM;
		goto err_close;
	}
	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto err_free;
		}
		done += n;
	}
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
err_free:
	free(buf);
err_close:
	close(fd);
	return err;
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
