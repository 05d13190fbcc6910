// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-balloon (virtio 1.2 §5.5): the monitor sets a target
 * (num_pages), the guest inflates (hands over pages: we return them to the
 * host with madvise) or deflates (takes them back: they fault in again as
 * zero pages), posts memory statistics on the stats queue, and reports
 * free pages (VIRTIO_BALLOON_F_PAGE_REPORTING), which are returned to the
 * host the same way.
 *
 * Queues, numbered without gaps as Linux and QEMU number them when
 * VIRTIO_BALLOON_F_FREE_PAGE_HINT is not offered: 0 inflateq, 1 deflateq,
 * 2 statsq, 3 reporting_vq.
 *
 * Monitor control: an optional unix socket (--balloon=PATH) taking one
 * command per line:
 *   balloon MIB   the guest should keep MIB MiB of RAM ("ok" or "error: ...")
 *   info          one JSON line: ram_mib, target_mib, actual_mib,
 *                 returned_mib (inflated and reported), stats {tag: value}
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dev/virtio/devices.h"
#include "dev/virtio/virtio.h"
#include "vireo/evloop.h"
#include "vireo/log.h"
#include "vireo/vm.h"

/* §5.5.3 feature bits */
#define VIRTIO_BALLOON_F_STATS_VQ       1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_PAGE_REPORTING 5
/* §5.5.4 config */
#define BAL_CFG_NUM_PAGES 0
#define BAL_CFG_ACTUAL    4
#define BAL_CFG_LEN       8

#define BAL_INFLATE 0
#define BAL_DEFLATE 1
#define BAL_STATS   2
#define BAL_REPORT  3
#define BAL_QUEUE_SIZE 128
#define BAL_PAGE 4096u
#define BAL_NSTATS 16               /* §5.5.6.3 tags 0..9 and room to grow */
#define BAL_MAX_CLIENTS 8
#define BAL_STATS_PERIOD_NS (2ULL * 1000 * 1000 * 1000)

struct vballoon {
	struct virtio_dev *vdev;
	struct vm *vm;
	struct evloop *loop;
	struct evtimer *stats_timer;
	bool stats_held;                /* the driver's stats buffer, kept until refresh */
	uint16_t stats_head;
	uint64_t stats[BAL_NSTATS];
	bool stats_valid[BAL_NSTATS];
	uint64_t returned_pages;        /* inflated or reported, given back to the host */
	uint64_t inflated, deflated;
	uint32_t num_pages;             /* the target, as the config shows it */
	int listen_fd;
	int clients[BAL_MAX_CLIENTS];   /* connected control clients, -1: free */
	char sock_path[108];
};

static const char *const stat_names[] = {
	"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory",
	"total_memory", "available_memory", "disk_caches", "hugetlb_allocations",
	"hugetlb_failures",
};

/* Give [hva, hva+len) back to the host: the memfd's pages are freed. */
static void return_to_host(struct vballoon *b, uint8_t *hva, uint64_t len)
{
	uint64_t done = guest_mem_discard(&b->vm->mem, hva, len);

	if (!done && ALIGN_DOWN((uintptr_t)hva + len, BAL_PAGE) > ALIGN_UP((uintptr_t)hva, BAL_PAGE))
		log_warn("virtio-balloon: madvise");
	b->returned_pages += done / BAL_PAGE;
}

/*
 * §5.5.6.1: an array of 32-bit page frame numbers (4 KiB pages).  Runs of
 * consecutive frames (what Linux mostly sends) go back in one madvise.
 */
static void balloon_pfns(struct vballoon *b, const struct vq_chain *c, bool inflate)
{
	struct guest_mem *mem = &b->vm->mem;
	uint64_t n = c->out_len / 4;
	uint8_t *run = NULL;
	uint64_t run_len = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint32_t pfn;
		uint8_t *hva;

		vq_chain_from(c, i * 4, &pfn, 4);
		hva = guest_mem_hva(mem, (uint64_t)pfn * BAL_PAGE, BAL_PAGE);
		if (!hva) {
			log_warnx_rl("virtio-balloon: pfn 0x%x is not guest RAM", pfn);
			continue;
		}
		if (!inflate) {
			b->deflated++;
			continue;
		}
		b->inflated++;
		if (run && hva == run + run_len) {
			run_len += BAL_PAGE;
			continue;
		}
		if (run)
			return_to_host(b, run, run_len);
		run = hva;
		run_len = BAL_PAGE;
	}
	if (run)
		return_to_host(b, run, run_len);
}

/* §5.5.6.3: tag (le16), value (le64), packed. */
static void balloon_stats(struct vballoon *b, const struct vq_chain *c)
{
	for (uint64_t off = 0; off + 10 <= c->out_len; off += 10) {
		uint8_t e[10];
		uint16_t tag;
		uint64_t val;

		vq_chain_from(c, off, e, sizeof(e));
		memcpy(&tag, e, 2);
		memcpy(&val, e + 2, 8);
		if (tag < BAL_NSTATS) {
			b->stats[tag] = val;
			b->stats_valid[tag] = true;
		}
	}
	b->stats_held = true;
	b->stats_head = c->head;
}

/* Free page reporting: the buffers are the free pages themselves. */
static void balloon_report(struct vballoon *b, const struct vq_chain *c)
{
	for (unsigned i = c->nout; i < c->nout + c->nin; i++)
		return_to_host(b, c->iov[i].iov_base, c->iov[i].iov_len);
}

static void balloon_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct vballoon *b = vdev->opaque;
	struct vq_chain *c = vdev->chain;

	while (virtio_dev_pop(vdev, q, c) == 1) {
		switch (q) {
		case BAL_INFLATE:
		case BAL_DEFLATE:
			balloon_pfns(b, c, q == BAL_INFLATE);
			break;
		case BAL_STATS:
			if (b->stats_held)  /* §5.5.6.3.1: only one buffer at a time */
				virtio_dev_push(vdev, BAL_STATS, b->stats_head, 0);
			balloon_stats(b, c);
			continue;           /* held until the next refresh */
		case BAL_REPORT:
			balloon_report(b, c);
			break;
		}
		virtio_dev_push(vdev, q, c->head, 0);
	}
}

static void balloon_reset(struct virtio_dev *vdev)
{
	struct vballoon *b = vdev->opaque;

	b->stats_held = false;
	memset(b->stats_valid, 0, sizeof(b->stats_valid));
	virtio_cfg_put(vdev, BAL_CFG_ACTUAL, 0, 4);
}

static void balloon_cfg_write(struct virtio_dev *vdev, unsigned off, unsigned len)
{
	struct vballoon *b = vdev->opaque;

	/* Only `actual` is the driver's (§5.5.4): num_pages stays ours. */
	if (off < BAL_CFG_ACTUAL || off >= BAL_CFG_LEN) {
		log_warnx_rl("virtio-balloon: driver wrote num_pages");
		virtio_cfg_put(vdev, BAL_CFG_NUM_PAGES, b->num_pages, 4);
	}
}

/* Ask for fresh statistics: give the driver its buffer back (§5.5.6.3). */
static void balloon_stats_tick(void *opaque)
{
	struct vballoon *b = opaque;

	virtio_dev_lock(b->vdev);
	if (b->stats_held && virtio_dev_vq(b->vdev, BAL_STATS)) {
		b->stats_held = false;
		virtio_dev_push(b->vdev, BAL_STATS, b->stats_head, 0);
	}
	virtio_dev_unlock(b->vdev);
}

static const struct virtio_dev_ops vballoon_ops = {
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
	.cfg_write = balloon_cfg_write,
};

int virtio_balloon_set_target(void *state, uint64_t bytes)
{
	struct vballoon *b = state;
	uint64_t ram = b->vm->mem.total;

	if (bytes > ram)
		return -EINVAL;
	virtio_dev_lock(b->vdev);
	b->num_pages = (ram - bytes) / BAL_PAGE;
	virtio_cfg_put(b->vdev, BAL_CFG_NUM_PAGES, b->num_pages, 4);
	virtio_dev_config_changed(b->vdev);
	virtio_dev_unlock(b->vdev);
	return 0;
}

uint64_t virtio_balloon_actual(void *state)
{
	struct vballoon *b = state;
	uint64_t v;

	virtio_dev_lock(b->vdev);
	v = virtio_cfg_get(b->vdev, BAL_CFG_ACTUAL, 4);
	virtio_dev_unlock(b->vdev);
	return v;
}

/* ---- the control socket ---- */

static int ctl_info(struct vballoon *b, char *out, size_t len)
{
	uint64_t ram = b->vm->mem.total / MiB;
	size_t n;

	virtio_dev_lock(b->vdev);
	n = snprintf(out, len, "{\"ram_mib\": %llu, \"target_mib\": %llu, \"actual_mib\": %llu, "
		     "\"returned_mib\": %llu, \"stats\": {", (unsigned long long)ram,
		     (unsigned long long)(ram - virtio_cfg_get(b->vdev, BAL_CFG_NUM_PAGES, 4) *
					  BAL_PAGE / MiB),
		     (unsigned long long)(virtio_cfg_get(b->vdev, BAL_CFG_ACTUAL, 4) *
					  BAL_PAGE / MiB),
		     (unsigned long long)(b->returned_pages * BAL_PAGE / MiB));
	for (unsigned t = 0, first = 1; t < ARRAY_SIZE(stat_names) && n < len; t++) {
		if (!b->stats_valid[t])
			continue;
		n += snprintf(out + n, len - n, "%s\"%s\": %llu", first ? "" : ", ",
			      stat_names[t], (unsigned long long)b->stats[t]);
		first = 0;
	}
	virtio_dev_unlock(b->vdev);
	if (n < len)
		n += snprintf(out + n, len - n, "}}\n");
	return n < len ? (int)n : -ENOSPC;
}

static void ctl_command(struct vballoon *b, char *line, int fd)
{
	char reply[1024];
	unsigned long long mib;
	int n;

	if (sscanf(line, "balloon %llu", &mib) == 1) {
		/* mib * MiB must not wrap into a small, acceptable target. */
		if (mib > b->vm->mem.total / MiB || virtio_balloon_set_target(b, mib * MiB))
			n = snprintf(reply, sizeof(reply), "error: the target is more than "
				     "the guest's %llu MiB\n",
				     (unsigned long long)(b->vm->mem.total / MiB));
		else
			n = snprintf(reply, sizeof(reply), "ok\n");
	} else if (!strcmp(line, "info")) {
		n = ctl_info(b, reply, sizeof(reply));
	} else {
		n = snprintf(reply, sizeof(reply), "error: commands are 'balloon MIB' "
			     "and 'info'\n");
	}
	if (n > 0 && write(fd, reply, n) < 0)
		log_debug("virtio-balloon: control reply: %s", strerror(errno));
}

static void ctl_close(struct vballoon *b, int fd)
{
	for (int i = 0; i < BAL_MAX_CLIENTS; i++)
		if (b->clients[i] == fd)
			b->clients[i] = -1;
	evloop_del(b->loop, fd);
	close(fd);
}

static void ctl_client(int fd, uint32_t events, void *opaque)
{
	char buf[512], *save = NULL;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n <= 0) {
		ctl_close(opaque, fd);
		return;
	}
	buf[n] = '\0';
	for (char *l = strtok_r(buf, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save))
		ctl_command(opaque, l, fd);
}

static void ctl_accept(int fd, uint32_t events, void *opaque)
{
	struct vballoon *b = opaque;
	/* Non-blocking: a client that never reads its replies must not stall the loop. */
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), slot = -1;

	if (c < 0)
		return;
	for (int i = 0; i < BAL_MAX_CLIENTS && slot < 0; i++)
		if (b->clients[i] < 0)
			slot = i;
	if (slot < 0 || evloop_add(b->loop, c, EPOLLIN, ctl_client, b)) {
		close(c);   /* too many clients */
		return;
	}
	b->clients[slot] = c;
}

static int ctl_listen(struct vballoon *b, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	b->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b->listen_fd < 0)
		return -errno;
	/* A stale socket from an earlier run goes; any other file stays. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	/* Only this user may steer the balloon. */
	if (bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		goto err_close;
	}
	if (chmod(path, 0600) || listen(b->listen_fd, 4)) {
		err = -errno;
		unlink(path);
		goto err_close;
	}
	strcpy(b->sock_path, path);
	err = evloop_add(b->loop, b->listen_fd, EPOLLIN, ctl_accept, b);
	if (err) {
		unlink(path);
		goto err_close;
	}
	return 0;

err_close:
	close(b->listen_fd);
	b->listen_fd = -1;
	return err;
}

int virtio_balloon_create(struct vm *vm, const char *socket_path, bool report,
			  struct virtio_front *fe)
{
	struct virtio_dev_info info = {
		.name = "virtio-balloon",
		.device_id = VIRTIO_ID_BALLOON,
		.class_code = 0x050000,     /* memory controller, RAM */
		.nqueues = 4,
		.queue_max = BAL_QUEUE_SIZE,
		.features = VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) |
			    VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
			    VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING),
		.config_len = BAL_CFG_LEN,
	};
	struct vballoon *b = calloc(1, sizeof(*b));
	int err;

	if (!b)
		return -ENOMEM;
	if (!report)
		info.features &= ~VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING);
	b->vm = vm;
	b->loop = vm->loop;
	b->listen_fd = -1;
	for (int i = 0; i < BAL_MAX_CLIENTS; i++)
		b->clients[i] = -1;
	err = virtio_dev_create(vm, &info, &vballoon_ops, b, &b->vdev);
	if (err)
		goto err_free;
	err = evtimer_create(vm->loop, balloon_stats_tick, b, &b->stats_timer);
	if (!err)
		err = evtimer_arm(b->stats_timer, BAL_STATS_PERIOD_NS, BAL_STATS_PERIOD_NS);
	if (err)
		goto err_dev;
	if (socket_path) {
		err = ctl_listen(b, socket_path);
		if (err) {
			log_errno(-err, "virtio-balloon: cannot listen on %s", socket_path);
			goto err_dev;
		}
	}
	fe->vdev = b->vdev;
	fe->state = b;
	fe->destroy = virtio_balloon_destroy;
	return 0;

err_dev:
	if (b->stats_timer)
		evtimer_destroy(b->stats_timer);
	virtio_dev_destroy(b->vdev);
err_free:
	free(b);
	return err;
}

void virtio_balloon_destroy(void *state)
{
	struct vballoon *b = state;

	for (int i = 0; i < BAL_MAX_CLIENTS; i++)
		if (b->clients[i] >= 0)
			ctl_close(b, b->clients[i]);
	if (b->listen_fd >= 0) {
		evloop_del(b->loop, b->listen_fd);
		close(b->listen_fd);
		unlink(b->sock_path);
	}
	evtimer_destroy(b->stats_timer);
	virtio_dev_destroy(b->vdev);
	free(b);
}
