#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Build the default guest from Debian packages only (downloaded with
# `apt-get download`, unpacked with dpkg-deb, never installed):
#   OUT/vmlinuz     Debian's linux-image-cloud-amd64 kernel, unmodified
#   OUT/initrd.img  busybox-static, the kernel's own virtio modules, /init
#   OUT/initrd-bench.img  busybox and an /init that prints a line and powers
#                   off (bench/boot.sh)
# A second run with the same package versions and inputs rebuilds nothing.
set -eu

out=${1:-build/guest}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Modules the initrd loads, in the order given (dependencies are added).
MODULES="virtio_pci virtio_blk virtio_net virtio_console virtio_balloon virtio-rng"

sudo_if_needed() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The versioned kernel package the cloud-amd64 metapackage points at.
kernel_pkg() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

kpkg=$(kernel_pkg)
if [ -z "$kpkg" ]; then
	echo "make-guest: package lists are missing; running apt-get update"
	sudo_if_needed apt-get update -q
	kpkg=$(kernel_pkg)
fi
[ -n "$kpkg" ] || { echo "make-guest: cannot find linux-image-cloud-amd64 in apt" >&2; exit 1; }
kver_pkg=$(apt-cache policy "$kpkg" | awk '/Candidate:/ { print $2 }')
bb_ver=$(apt-cache policy busybox-static | awk '/Candidate:/ { print $2 }')
inputs=$(cat "$0" "$here/initramfs/"* | sha256sum | cut -c1-16)
stamp="$kpkg=$kver_pkg busybox-static=$bb_ver inputs=$inputs"

if [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ] && [ -f "$out/initrd-bench.img" ] &&
   [ -f "$out/.stamp" ] &&
   [ "$(cat "$out/.stamp")" = "$stamp" ]; then
	echo "make-guest: $out is up to date ($kpkg $kver_pkg)"
	exit 0
fi

work="$out/work"
rm -rf "$work"
mkdir -p "$work/debs"
echo "make-guest: downloading $kpkg $kver_pkg and busybox-static $bb_ver"
(cd "$work/debs" && apt-get download -q "$kpkg" busybox-static 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
ls "$work/debs/"linux-image-*.deb "$work/debs/"busybox-static*.deb >/dev/null
dpkg-deb -x "$work/debs/"linux-image-*.deb "$work/kernel"
dpkg-deb -x "$work/debs/"busybox-static*.deb "$work/busybox"

kver=$(ls "$work/kernel/lib/modules")
moddir="$work/kernel/lib/modules/$kver"
root="$work/root"
mkdir -p "$root/bin" "$root/sbin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" \
	"$root/tmp" "$root/root" "$root/lib/modules/$kver"
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$here/initramfs/init" "$root/init"
chmod 755 "$root/init"
cp "$here/initramfs/inittab" "$root/etc/inittab"
cp "$here/initramfs/profile" "$root/etc/profile"

# Resolve module dependencies with modinfo (depth first: dependencies load first).
loaded=""
add_module() {
	case " $loaded " in *" $1 "*) return 0 ;; esac
	path=$(cd "$moddir" && find kernel -name "$1.ko" | head -n 1)
	[ -n "$path" ] || { echo "make-guest: module $1 not in $kpkg" >&2; exit 1; }
	for dep in $(modinfo -F depends "$moddir/$path" | tr ',' ' '); do
		add_module "$dep"
	done
	path=$(cd "$moddir" && find kernel -name "$1.ko" | head -n 1)
	mkdir -p "$root/lib/modules/$kver/$(dirname "$path")"
	cp "$moddir/$path" "$root/lib/modules/$kver/$path"
	echo "$path" >> "$root/lib/modules/modules.load"
	loaded="$loaded $1"
}
: > "$root/lib/modules/modules.load"
for m in $MODULES; do
	add_module "$m"
done

# A reproducible newc cpio, gzip-compressed (the kernel has RD_GZIP).
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet) |
	gzip -9n > "$out/initrd.img.tmp"
# The benchmark's initrd: busybox and init-bench only.
bench="$work/bench"
mkdir -p "$bench/bin" "$bench/proc" "$bench/sys" "$bench/dev"
cp "$work/busybox/bin/busybox" "$bench/bin/busybox"
cp "$here/initramfs/init-bench" "$bench/init"
chmod 755 "$bench/init"
(cd "$bench" && find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet) |
	gzip -9n > "$out/initrd-bench.img"
cp "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/initrd.img.tmp" "$out/initrd.img"
echo "$kver" > "$out/kernel-version"
echo "$stamp" > "$out/.stamp"
rm -rf "$work"
echo "make-guest: built $out/vmlinuz ($kver) and $out/initrd.img ($(wc -c < "$out/initrd.img") bytes; modules:$loaded)"
