// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vireo run`: boot one VM in the foreground with its serial console on the
 * terminal, no daemon (like `lkvm run` or `qemu -kernel`).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "vireo/accel.h"
#include "vireo/boot.h"
#include "vireo/console.h"
#include "vireo/devices.h"
#include "vireo/log.h"
#include "vireo/net.h"
#include "vireo/virtio.h"
#include "vireo/vm.h"
#include "vireo/vmstate.h"

#define RUN_DEFAULT_MEMORY (512 * MiB)
/*
 * cryptomgr.notests: the kernel's crypto self-tests are ~60 % of a boot's
 * instructions (shared EMU.md); Vireo's CPU is checked by its own differential
 * tests instead.  A --cmdline replaces the whole default.
 */
#define RUN_DEFAULT_CMDLINE "console=ttyS0 panic=-1 cryptomgr.notests"

struct run_opts {
	struct vm_config cfg;
	const char *dump_state;
	char kernel_buf[PATH_MAX], initrd_buf[PATH_MAX];
	void *kernel_image;                     /* read once by run_check_kernel */
	size_t kernel_len;
	struct virtio_opts virtio;
	char *disk_specs[VIRTIO_MAX_DISKS];     /* strdup'd: disks[] points into them */
	char net_specs[VIRTIO_MAX_NICS][512];
	bool mac_given[VIRTIO_MAX_NICS];
	char balloon_buf[108];                  /* sun_path */
};

static const char run_usage[] =
	"usage: vireo run [options]\n"
	"\n"
	"Boot a VM in the foreground with its serial console on this terminal.\n"
	"With no options it boots the default guest built by `make guest`.\n"
	"\n"
	"  -k, --kernel FILE     kernel: bzImage, vmlinux ELF or PVH ELF\n"
	"                        (default: the default guest's vmlinuz)\n"
	"  -i, --initrd FILE     initial ramdisk (default: the default guest's\n"
	"                        initrd.img when --kernel is not given)\n"
	"  -c, --cmdline STRING  kernel command line (default: \"" RUN_DEFAULT_CMDLINE "\")\n"
	"  -m, --memory SIZE     guest RAM, e.g. 512M, 2G (default 512M; plain\n"
	"                        numbers are MiB)\n"
	"  -n, --cpus N          number of vCPUs, 1-64 (default 1)\n"
	"  -a, --accel NAME      CPU backend: auto (default), kvm or emu; auto picks\n"
	"                        kvm where the host has VT-x/AMD-V, emu otherwise\n"
	"      --kernel-unpack host|guest\n"
	"                        who decompresses a bzImage: host (default when\n"
	"                        Vireo reads its compression: gzip, lzma, xz, lz4,\n"
	"                        zstd) loads the kernel relocated to a random\n"
	"                        KASLR base; guest runs the kernel's own decompressor\n"
	"      --dump-state FILE after the VM stops, write every vCPU's registers\n"
	"                        to FILE as JSON\n"
	"\n"
	"Paravirtual (virtio-pci) devices, see vireo-run(1):\n"
	"      --disk PATH[,ro][,format=raw|qcow2|vhd][,serial=S]\n"
	"                        a virtio-blk disk (repeatable, up to 8)\n"
	"      --net nat[,hostfwd=tcp:HOSTPORT-:GUESTPORT]... | switch=SOCKET | tap=IFNAME\n"
	"                        a virtio-net card (repeatable, up to 4)\n"
	"      --mac MAC         MAC of the last --net (default: a generated locally\n"
	"                        administered MAC, unique on this host)\n"
	"      --console2        a virtio-console (/dev/hvc0) on a host pty\n"
	"      --rng             a virtio-rng fed from getrandom(2)\n"
	"      --balloon[=SOCKET][,no-report]\n"
	"                        a virtio-balloon; SOCKET takes 'balloon MIB' and\n"
	"                        'info' commands; no-report: no free page reporting\n"
	"  -v, --verbose         more log output (repeat for debug)\n"
	"  -h, --help            this help\n"
	"\n"
	"Console: Ctrl-a x quits, Ctrl-a p pauses and resumes, Ctrl-a h shows\n"
	"the escapes.\n"
	"Exit status: 0 when the guest powers off or reboots (or Ctrl-a x); the\n"
	"value the guest writes to the debug-exit port 0x501; 1 with a reason on\n"
	"stderr when the VM cannot start or fails; 2 for a usage error.\n";

/* Directory holding the default guest: $VIREO_GUEST_DIR, else <exe dir>/guest. */
static int default_guest_path(const char *name, char *out, size_t len)
{
	const char *env = getenv("VIREO_GUEST_DIR");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env)
		return snprintf(out, len, "%s/%s", env, name) < (int)len ? 0 : -ENAMETOOLONG;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	return snprintf(out, len, "%s/guest/%s", exe, name) < (int)len ? 0 : -ENAMETOOLONG;
}

static uint64_t host_mem_total(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb = 0;
	char line[128];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

static int parse_accel(const char *s, enum accel_kind *out)
{
	if (!strcmp(s, "auto"))
		*out = ACCEL_AUTO;
	else if (!strcmp(s, "kvm"))
		*out = ACCEL_KVM;
	else if (!strcmp(s, "emu"))
		*out = ACCEL_EMU;
	else
		return -EINVAL;
	return 0;
}

static int parse_kernel_unpack(const char *s, enum kernel_unpack *out)
{
	if (!strcmp(s, "host"))
		*out = KERNEL_UNPACK_HOST;
	else if (!strcmp(s, "guest"))
		*out = KERNEL_UNPACK_GUEST;
	else
		return -EINVAL;
	return 0;
}

static int run_parse_disk(struct run_opts *o, const char *arg)
{
	struct virtio_opts *v = &o->virtio;
	char err[256];
	char *copy;

	if (v->ndisks == VIRTIO_MAX_DISKS) {
		fprintf(stderr, "vireo run: --disk %s: at most %d disks\n", arg, VIRTIO_MAX_DISKS);
		return -EINVAL;
	}
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	o->disk_specs[v->ndisks] = copy;
	if (virtio_disk_parse(copy, &v->disks[v->ndisks], err, sizeof(err))) {
		fprintf(stderr, "vireo run: --disk %s: %s\n", arg, err);
		return -EINVAL;
	}
	v->ndisks++;
	return 0;
}

/*
 * --net: "nat", "switch=PATH" or "tap=IFNAME" with options, as the port
 * layer takes them; "hostfwd=tcp:HOSTPORT-:GUESTPORT" is accepted as the
 * short form of tcp::HOSTPORT-:GUESTPORT.
 */
static int run_parse_net(struct run_opts *o, const char *arg)
{
	struct virtio_opts *v = &o->virtio;
	char *out = o->net_specs[v->nnets];
	size_t cap = sizeof(o->net_specs[0]), n = 0;
	const char *p = arg;

	if (v->nnets == VIRTIO_MAX_NICS) {
		fprintf(stderr, "vireo run: --net %s: at most %d network cards\n", arg,
			VIRTIO_MAX_NICS);
		return -EINVAL;
	}
	if (strcmp(arg, "nat") && strncmp(arg, "nat,", 4) && strncmp(arg, "switch=", 7) &&
	    strncmp(arg, "tap=", 4)) {
		fprintf(stderr, "vireo run: --net %s: give nat[,hostfwd=tcp:HOSTPORT-:GUESTPORT], "
			"switch=SOCKET or tap=IFNAME\n", arg);
		return -EINVAL;
	}
	while (*p && n + 2 < cap) {
		if (!strncmp(p, "hostfwd=tcp:", 12) || !strncmp(p, "hostfwd=udp:", 12)) {
			bool short_form = p[12] >= '0' && p[12] <= '9' &&
					  strstr(p + 12, "-:") && !memchr(p + 12, '.', strcspn(p + 12, "-"));
			memcpy(out + n, p, 12);
			n += 12;
			p += 12;
			if (short_form)
				out[n++] = ':';
			continue;
		}
		out[n++] = *p++;
	}
	if (*p) {
		fprintf(stderr, "vireo run: --net %s: too long\n", arg);
		return -EINVAL;
	}
	out[n] = '\0';
	v->nets[v->nnets++] = out;
	return 0;
}

static int run_parse_mac(struct run_opts *o, const char *arg)
{
	struct virtio_opts *v = &o->virtio;
	uint8_t mac[6];
	size_t len;
	char *spec;

	if (!v->nnets || o->mac_given[v->nnets - 1]) {
		fprintf(stderr, "vireo run: --mac %s: give it after the --net it belongs to\n", arg);
		return -EINVAL;
	}
	if (net_mac_parse(arg, mac) || !net_mac_valid(mac)) {
		fprintf(stderr, "vireo run: --mac %s: give a unicast MAC such as "
			"52:54:00:12:34:56\n", arg);
		return -EINVAL;
	}
	spec = o->net_specs[v->nnets - 1];
	len = strlen(spec);
	if (strstr(spec, "mac=") ||
	    snprintf(spec + len, sizeof(o->net_specs[0]) - len, ",mac=%s", arg) >=
	    (int)(sizeof(o->net_specs[0]) - len)) {
		fprintf(stderr, "vireo run: --mac %s: the --net already names a MAC\n", arg);
		return -EINVAL;
	}
	o->mac_given[v->nnets - 1] = true;
	return 0;
}

/* --balloon[=SOCKET][,no-report] */
static int run_parse_balloon(struct run_opts *o, const char *arg)
{
	size_t len = arg ? strlen(arg) : 0;
	const char *opt = ",no-report";

	o->virtio.balloon = true;
	o->virtio.balloon_report = true;
	if (!arg)
		return 0;
	if (!strcmp(arg, opt + 1)) {
		o->virtio.balloon_report = false;
		return 0;
	}
	if (len >= strlen(opt) && !strcmp(arg + len - strlen(opt), opt)) {
		o->virtio.balloon_report = false;
		len -= strlen(opt);
	}
	if (!len || len >= sizeof(o->balloon_buf)) {
		fprintf(stderr, "vireo run: --balloon=%s: give a socket path (at most %zu "
			"bytes) and/or no-report\n", arg, sizeof(o->balloon_buf) - 1);
		return -EINVAL;
	}
	memcpy(o->balloon_buf, arg, len);
	o->balloon_buf[len] = '\0';
	o->virtio.balloon_socket = o->balloon_buf;
	return 0;
}

static int run_parse_value(struct run_opts *o, int c, const char *arg)
{
	char *end;
	long n;

	switch (c) {
	case 'k': o->cfg.kernel = arg; return 0;
	case 'i': o->cfg.initrd = arg; return 0;
	case 'c': o->cfg.cmdline = arg; return 0;
	case 'D': o->dump_state = arg; return 0;
	case 'd': return run_parse_disk(o, arg);
	case 'N': return run_parse_net(o, arg);
	case 'M': return run_parse_mac(o, arg);
	case 'C': o->virtio.console = true; return 0;
	case 'R': o->virtio.rng = true; return 0;
	case 'B': return run_parse_balloon(o, arg);
	case 'm':
		if (parse_size(arg, MiB, &o->cfg.mem_size) || o->cfg.mem_size < 16 * MiB) {
			fprintf(stderr, "vireo run: --memory %s: give a size of at least 16M, "
				"e.g. 512M or 2G\n", arg);
			return -EINVAL;
		}
		o->cfg.mem_size = ALIGN_UP(o->cfg.mem_size, 2 * MiB);
		return 0;
	case 'n':
		n = strtol(arg, &end, 10);
		if (*end || end == arg || n < 1 || n > VM_MAX_VCPUS) {
			fprintf(stderr, "vireo run: --cpus %s: give a number from 1 to %d\n",
				arg, VM_MAX_VCPUS);
			return -EINVAL;
		}
		o->cfg.ncpus = n;
		return 0;
	case 'a':
		if (parse_accel(arg, &o->cfg.accel)) {
			fprintf(stderr, "vireo run: --accel %s: choose auto, kvm or emu\n", arg);
			return -EINVAL;
		}
		return 0;
	case 'U':
		if (parse_kernel_unpack(arg, &o->cfg.kernel_unpack)) {
			fprintf(stderr, "vireo run: --kernel-unpack %s: choose host or guest\n", arg);
			return -EINVAL;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

/* Returns 0 to run, 1 after --help, -EINVAL on a usage error (reported). */
static int run_parse(struct run_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'n' },
		{ "accel", required_argument, NULL, 'a' },
		{ "kernel-unpack", required_argument, NULL, 'U' },
		{ "dump-state", required_argument, NULL, 'D' },
		{ "disk", required_argument, NULL, 'd' },
		{ "net", required_argument, NULL, 'N' },
		{ "mac", required_argument, NULL, 'M' },
		{ "console2", no_argument, NULL, 'C' },
		{ "rng", no_argument, NULL, 'R' },
		{ "balloon", optional_argument, NULL, 'B' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, verbose = 0;

	o->cfg = (struct vm_config){ .mem_size = RUN_DEFAULT_MEMORY, .ncpus = 1,
				     .accel = ACCEL_AUTO, .cmdline = RUN_DEFAULT_CMDLINE };
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:i:c:m:n:a:vh", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(run_usage, stdout);
			return 1;
		}
		if (c == 'v') {
			verbose++;
			continue;
		}
		if (c == '?' || c == ':') {
			fprintf(stderr, "vireo run: unknown or incomplete option '%s'; "
				"see 'vireo run --help'\n", argv[optind - 1]);
			return -EINVAL;
		}
		if (run_parse_value(o, c, optarg))
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr, "vireo run: unexpected argument '%s'; see 'vireo run --help'\n",
			argv[optind]);
		return -EINVAL;
	}
	log_set_level(verbose >= 2 ? LOG_LEVEL_DEBUG : verbose ? LOG_LEVEL_INFO : LOG_LEVEL_WARN);
	return 0;
}

/* Fill in the default guest; checks the files exist so the message is clear. */
static int run_defaults(struct run_opts *o)
{
	if (o->cfg.kernel)
		return 0;
	if (default_guest_path("vmlinuz", o->kernel_buf, sizeof(o->kernel_buf)))
		return -ENAMETOOLONG;
	if (access(o->kernel_buf, R_OK)) {
		fprintf(stderr, "vireo run: no --kernel given and the default guest is not "
			"built (%s is missing): run `make guest`\n", o->kernel_buf);
		return -ENOENT;
	}
	o->cfg.kernel = o->kernel_buf;
	if (!o->cfg.initrd &&
	    !default_guest_path("initrd.img", o->initrd_buf, sizeof(o->initrd_buf)) &&
	    !access(o->initrd_buf, R_OK))
		o->cfg.initrd = o->initrd_buf;
	return 0;
}

/*
 * Reject a missing file or a non-kernel before anything else is set up;
 * keeps the image in o->kernel_image for the boot loader.
 */
static int run_check_kernel(struct run_opts *o)
{
	const struct vm_config *cfg = &o->cfg;
	enum kernel_kind kind;
	char why[256];
	int err = read_file(cfg->kernel, 512 * MiB, &o->kernel_image, &o->kernel_len);

	if (err) {
		fprintf(stderr, "vireo run: cannot read kernel %s: %s\n", cfg->kernel,
			err == -EINVAL ? "not a regular file" :
			err == -EFBIG ? "larger than 512 MiB" : strerror(-err));
		return err;
	}
	err = kernel_probe(o->kernel_image, o->kernel_len, &kind, why, sizeof(why));
	if (err)
		fprintf(stderr, "vireo run: %s: %s\n", cfg->kernel, why);
	if (!err && cfg->initrd && access(cfg->initrd, R_OK)) {
		err = -errno;
		fprintf(stderr, "vireo run: cannot read initrd %s: %s\n", cfg->initrd,
			strerror(-err));
	}
	return err;
}

static int run_check_memory(const struct vm_config *cfg)
{
	uint64_t host = host_mem_total();

	if (host && cfg->mem_size > host) {
		fprintf(stderr, "vireo run: --memory %llu MiB is more than this host's %llu MiB "
			"of RAM\n", (unsigned long long)(cfg->mem_size / MiB),
			(unsigned long long)(host / MiB));
		return -ENOMEM;
	}
	return 0;
}

/* Missing disk images are reported before anything else is set up. */
static int run_check_disks(const struct virtio_opts *v)
{
	for (int i = 0; i < v->ndisks; i++) {
		if (access(v->disks[i].path, v->disks[i].ro ? R_OK : R_OK | W_OK)) {
			fprintf(stderr, "vireo run: --disk %s: %s\n", v->disks[i].path,
				strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int run_boot(struct vm *vm, const struct run_opts *o)
{
	char why[512];
	int err = boot_load_image(vm, o->kernel_image, o->kernel_len, why, sizeof(why));

	if (err) {
		fprintf(stderr, "vireo run: %s: %s\n", vm->cfg.kernel, why);
		return err;
	}
	err = vm->accel->set_sregs(vm->vcpus[0], &vm->boot_sregs);
	if (!err)
		err = vm->accel->set_regs(vm->vcpus[0], &vm->boot_regs);
	if (err)
		fprintf(stderr, "vireo run: cannot set the boot CPU state: %s\n", strerror(-err));
	return err;
}

static int run_vm(struct run_opts *o, const struct accel_ops *accel)
{
	struct vm *vm;
	int err, status;

	err = vm_create(&o->cfg, accel, &vm);
	if (err) {
		fprintf(stderr, "vireo run: cannot create the VM (%s backend): %s\n",
			accel->name, strerror(-err));
		return 1;
	}
	err = console_create(vm, STDIN_FILENO, STDOUT_FILENO, &vm->console);
	if (!err)
		err = devices_realize_default(vm);
	if (!err)
		err = virtio_devices_realize(vm, &o->virtio);
	if (err) {
		fprintf(stderr, "vireo run: cannot set up devices: %s\n", strerror(-err));
		goto err_destroy;
	}
	err = run_boot(vm, o);
	if (err)
		goto err_destroy;
	err = vm_start(vm);
	status = vm_wait(vm);
	console_destroy(vm->console);
	vm->console = NULL;
	if (status)
		fprintf(stderr, "vireo run: %s (exit status %d)\n", vm->stop_reason, status);
	else
		log_info("%s", vm->stop_reason);
	if (o->dump_state && vmstate_dump_json(vm, o->dump_state))
		status = status ? status : 1;
	vm_destroy(vm);
	return status;

err_destroy:
	console_destroy(vm->console);
	vm->console = NULL;
	vm_destroy(vm);
	return 1;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	const struct accel_ops *accel;
	char why[256] = "";
	int err;

	memset(&o, 0, sizeof(o));
	err = run_parse(&o, argc, argv);
	if (err)
		err = err > 0 ? 0 : 2;
	else if (run_defaults(&o) || run_check_kernel(&o) || run_check_memory(&o.cfg) ||
		 run_check_disks(&o.virtio))
		err = 1;
	else if (accel_select(o.cfg.accel, &accel, why, sizeof(why))) {
		fprintf(stderr, "vireo run: %s\n", why);
		err = 1;
	} else {
		if (why[0])
			log_warnx("%s", why);
		err = run_vm(&o, accel);
	}
	for (int i = 0; i < VIRTIO_MAX_DISKS; i++)
		free(o.disk_specs[i]);
	free(o.kernel_image);
	return err;
}
