// SPDX-License-Identifier: GPL-2.0-only
/*
 * MAC addresses: parsing, generation from Vireo's locally administered
 * prefix (IEEE 802-2014 8.2.2: U/L bit set, I/G bit clear), and a host-wide
 * registry so no two ports on the host share one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vireo/log.h"
#include "vireo/net.h"

int net_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char sep[5], tail;
	int n;

	if (!s)
		return -EINVAL;
	n = sscanf(s, "%2x%c%2x%c%2x%c%2x%c%2x%c%2x%c", &v[0], &sep[0], &v[1], &sep[1],
		   &v[2], &sep[2], &v[3], &sep[3], &v[4], &sep[4], &v[5], &tail);
	if (n != 11 || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 5; i++)
		if (sep[i] != sep[0] || (sep[i] != ':' && sep[i] != '-'))
			return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

char *net_mac_format(const uint8_t mac[6], char *buf)
{
	snprintf(buf, NET_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

bool net_mac_valid(const uint8_t mac[6])
{
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int net_run_dir(char *buf, size_t len)
{
	const char *env = getenv("VIREO_RUN_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/vireo");
	else if (xdg && *xdg)
		n = snprintf(buf, len, "%s/vireo", xdg);
	else
		n = snprintf(buf, len, "/tmp/vireo-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return mkdir_p(buf);
}

static int mac_path(const uint8_t mac[6], char *buf, size_t len)
{
	char dir[4096];
	int err = net_run_dir(dir, sizeof(dir) - 8), n;

	if (err)
		return err;
	strcat(dir, "/macs");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	n = snprintf(buf, len, "%s/%02x-%02x-%02x-%02x-%02x-%02x", dir,
		     mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Read the holder of an entry: its pid (0 if unreadable) and text. */
static pid_t mac_holder(const char *path, char *text, size_t len)
{
	char buf[256];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long pid = 0;

	text[0] = '\0';
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (sscanf(buf, "%ld", &pid) != 1)
		return 0;
	snprintf(text, len, "%s", strchr(buf, ' ') ? strchr(buf, ' ') + 1 : "");
	return (pid_t)pid;
}

/* Is the entry held?  An empty entry may be one being written right now. */
static bool mac_held(const char *path, pid_t pid)
{
	struct stat st;

	if (pid > 0)
		return kill(pid, 0) == 0 || errno == EPERM;
	return stat(path, &st) == 0 && st.st_mtime + 2 > time(NULL);
}

static int mac_create(const char *path, const char *owner)
{
	char line[300];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "%ld %s\n", (long)getpid(), owner ? owner : "");
	if (write(fd, line, (size_t)MIN(n, (int)sizeof(line) - 1)) < 0) {
		int err = -errno;

		close(fd);
		unlink(path);
		return err;
	}
	close(fd);
	return 0;
}

int net_mac_reserve(const uint8_t mac[6], const char *owner, char *err, size_t errlen)
{
	char path[4200], holder[256], str[NET_MAC_STRLEN];
	pid_t pid;
	int r;

	if (!net_mac_valid(mac)) {
		if (err)
			snprintf(err, errlen, "MAC %s is not a unicast address",
				 net_mac_format(mac, str));
		return -EINVAL;
	}
	r = mac_path(mac, path, sizeof(path));
	if (r)
		return r;
	for (int attempt = 0; attempt < 2; attempt++) {
		r = mac_create(path, owner);
		if (r != -EEXIST)
			return r;
		pid = mac_holder(path, holder, sizeof(holder));
		if (mac_held(path, pid))
			break;
		/* The holder died without releasing: reclaim. */
		unlink(path);
	}
	if (err)
		snprintf(err, errlen, "MAC %s is already in use by %s (pid %ld)",
			 net_mac_format(mac, str), holder[0] ? holder : "another port",
			 (long)pid);
	return -EADDRINUSE;
}

int net_mac_generate(const char *owner, uint8_t mac[6])
{
	for (int attempt = 0; attempt < 64; attempt++) {
		int r;

		mac[0] = NET_MAC_PREFIX0;
		mac[1] = NET_MAC_PREFIX1;
		mac[2] = NET_MAC_PREFIX2;
		if (getrandom(mac + 3, 3, 0) != 3)
			return -EIO;
		r = net_mac_reserve(mac, owner, NULL, 0);
		if (r != -EADDRINUSE && r != -EINVAL)
			return r;
	}
	return -EADDRINUSE;
}

void net_mac_release(const uint8_t mac[6])
{
	char path[4200], holder[256];

	if (mac_path(mac, path, sizeof(path)))
		return;
	if (mac_holder(path, holder, sizeof(holder)) == getpid())
		unlink(path);
}
