# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers of the virtio benchmarks (sourced by bench/virtio-*.sh).
#
# bench_initrd OUT INIT_SCRIPT: the default guest's initrd with /init
# replaced by INIT_SCRIPT (a second cpio archive appended; the kernel
# unpacks both and the later /init wins).  The script gets a prologue that
# mounts /proc, /sys, /dev, /tmp and loads the virtio modules.

BUILD=${VIREO_BUILD:-build}
KERNEL=$BUILD/guest/vmlinuz
BASE_INITRD=$BUILD/guest/initrd.img

bench_need() {
	for f in "$BUILD/vireo" "$KERNEL" "$BASE_INITRD"; do
		[ -e "$f" ] || { echo "$0: $f is missing: run make build guest" >&2; exit 1; }
	done
	command -v qemu-system-x86_64 >/dev/null ||
		{ echo "$0: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }
}

# Print why emu cannot run VMs and return 0, or return 1 when it can.
emu_not_ready() {
	local line
	line=$("$BUILD/vireo" accel 2>/dev/null | grep '^emu ' || true)
	case "$line" in
	*unavailable*) echo "$line" | sed 's/^emu *unavailable *//'; return 0 ;;
	"") echo "vireo accel does not list emu"; return 0 ;;
	esac
	return 1
}

bench_initrd() {
	local out=$1 script=$2 root
	root=$(mktemp -d)
	cat > "$root/init" <<'PROLOGUE'
#!/bin/sh
export PATH=/sbin:/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp && mount -t tmpfs tmpfs /tmp
kver=$(uname -r)
while read -r mod; do
	[ -n "$mod" ] && insmod "/lib/modules/$kver/$mod" 2>/dev/null
done < /lib/modules/modules.load
# Seconds since boot with centisecond resolution.
now() { cut -d' ' -f1 /proc/uptime; }
PROLOGUE
	cat "$script" >> "$root/init"
	chmod 755 "$root/init"
	cp "$BASE_INITRD" "$out"
	(cd "$root" && echo init | cpio -o -H newc --quiet -R 0:0 | gzip -9n) >> "$out"
	rm -rf "$root"
}

median() {  # median of the numbers on stdin
	sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
