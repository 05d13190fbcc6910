# SPDX-License-Identifier: GPL-2.0-only
"""virtio devices under the default Debian guest (unmodified Linux drivers).

Linux runs only under the emu backend on these hosts (see ARCHITECTURE.md);
every test skips, printing why, while `vireo accel` says emu is unavailable
or when the guest does not reach "vireo guest ready" within
VIREO_BOOT_TIMEOUT seconds.
"""
import gzip
import http.server
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pexpect
import pytest

from conftest import run

BOOT_TIMEOUT = int(os.environ.get("VIREO_BOOT_TIMEOUT", "300"))
PROMPT = "vireo:"


def boot(vireo, args=(), memory="512M", initrd=None):
    cmd = ["run", "--accel", "emu", "--memory", memory, *args]
    if initrd:
        cmd += ["--initrd", str(initrd)]
    child = pexpect.spawn(vireo, cmd, encoding="utf-8", codec_errors="replace",
                          timeout=BOOT_TIMEOUT, dimensions=(50, 200))
    child.logfile_read = open(os.environ.get("VIREO_CONSOLE_LOG",
                                             "/tmp/vireo-virtio-console.log"), "a")
    try:
        child.expect("vireo guest ready")
        child.boot_log = child.before       # monitor messages and the kernel log
        child.expect(PROMPT)
        # A wide terminal: long command lines are not wrapped in the echo.
        child.sendline("stty cols 4000")
        child.expect(PROMPT)
    except (pexpect.TIMEOUT, pexpect.EOF):
        child.terminate(force=True)
        pytest.skip(f"the default guest did not reach 'vireo guest ready' under "
                    f"--accel emu within {BOOT_TIMEOUT} s")
    return child


def shell(child, cmd, timeout=120):
    """Run cmd in the guest shell; return (output, exit status)."""
    tag = time.monotonic_ns()
    # The echoed command line shows "__D""ONE_...", only the output __DONE_...
    child.sendline(f'{cmd}; echo "__D""ONE_{tag}__ $?"')
    child.expect(rf"__DONE_{tag}__ (\d+)", timeout=timeout)
    out, status = child.before, int(child.match.group(1))
    child.expect(PROMPT, timeout=timeout)
    out = out.replace("\r", "")
    return out.split("\n", 1)[1] if "\n" in out else "", status


def poweroff(child):
    child.sendline("poweroff")
    child.expect(pexpect.EOF, timeout=120)
    child.close()
    return child.exitstatus


def guest_kernel_initrd_with(guest_dir, tmp_path, programs):
    """The default initrd plus host programs (and their libraries) appended
    as a second cpio archive: the kernel unpacks both."""
    root = tmp_path / "overlay"
    for prog in programs:
        path = shutil.which(prog, path="/usr/sbin:/sbin:/usr/bin:/bin")
        if not path:
            pytest.skip(f"{prog} is not installed on the host")
        files = [path]
        ldd = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        files += re.findall(r"(/\S+\.so[.\d]*)", ldd)
        for f in files:
            dst = root / f.lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(f), dst)
        (root / "sbin").mkdir(exist_ok=True)
        link = root / "sbin" / prog
        if not link.exists():
            link.symlink_to(path)
    names = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True,
                           check=True).stdout
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=root,
                          input=names.encode(), capture_output=True, check=True).stdout
    out = tmp_path / "initrd-plus.img"
    out.write_bytes((guest_dir / "initrd.img").read_bytes() + gzip.compress(cpio))
    return out


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_disk_ext4_roundtrip(vireo, guest_dir, emu_ok, tmp_path, fmt):
    """mkfs.ext4 in the guest, write a file, power off, read it on the host."""
    img = tmp_path / f"fresh.{fmt}"
    r = run([vireo, "disk", "create", "-f", fmt, str(img), "64M"], timeout=30)
    assert r.returncode == 0, r.stderr
    initrd = guest_kernel_initrd_with(guest_dir, tmp_path, ["mkfs.ext4"])
    child = boot(vireo, ["--disk", f"{img},format={fmt}"], initrd=initrd)
    try:
        mkfs = "mkfs.ext4 -q -F /dev/vda"
        out, st = shell(child, "mkfs.ext4 -V", timeout=60)
        if "ISA level" in out:
            # The host's glibc needs the x86-64 baseline (MMX included); a guest
            # CPU without it cannot run host binaries: busybox mke2fs instead,
            # the file system still mounted and written by the kernel's ext4.
            print(f"guest cannot run the host's mkfs.ext4 ({out.strip()}): using busybox mke2fs")
            mkfs = "mke2fs -q /dev/vda"
        out, st = shell(child, f"{mkfs} && mkdir -p /mnt && "
                        "mount -t ext4 /dev/vda /mnt && echo hello-from-vireo > /mnt/f && "
                        "umount /mnt && sync", timeout=600)
        assert st == 0, out
    except Exception:
        child.terminate(force=True)
        raise
    assert poweroff(child) == 0
    raw = img
    if fmt != "raw":
        if shutil.which("qemu-img"):    # interoperable: qemu-img finds it clean
            r = run(["qemu-img", "check", "-f", fmt, str(img)], timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
        raw = tmp_path / "converted.raw"
        r = run([vireo, "disk", "convert", "-O", "raw", str(img), str(raw)], timeout=60)
        assert r.returncode == 0, r.stderr
    r = run(["debugfs", "-R", "cat /f", str(raw)], timeout=60)
    assert r.stdout.strip() == "hello-from-vireo", r.stderr


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"vireo-nat-ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


UDHCPC_SCRIPT = ("printf '#!/bin/sh\\n[ \"$1\" = bound ] || exit 0\\n"
                 "ifconfig $interface $ip netmask ${subnet:-255.255.255.0} up\\n"
                 "route add default gw $router\\n' > /tmp/u.sh && chmod +x /tmp/u.sh")


class SharedVM:
    """One guest with a read-only disk, a NAT card, hvc0 and an rng."""


@pytest.fixture(scope="module")
def vm(vireo, guest_dir, emu_ok, tmp_path_factory):
    """Booting Linux under emu takes ~40 s: these tests share one guest."""
    v = SharedVM()
    v.img = tmp_path_factory.mktemp("virtio") / "ro.img"
    v.img.write_bytes(b"READONLY".ljust(1 << 20, b"\0"))
    v.before = v.img.read_bytes()
    v.hport = free_port()
    v.child = boot(vireo, ["--disk", f"{v.img},ro,serial=VIREO-RO-1", "--net", f"nat,hostfwd=tcp:{v.hport}-:8080",
                           "--console2", "--rng"])
    yield v
    assert poweroff(v.child) == 0
    assert v.img.read_bytes() == v.before


def test_disk_read_only(vm):
    out, _ = shell(vm.child, "cat /sys/block/vda/ro")
    assert out.strip().endswith("1")
    out, st = shell(vm.child, "dd if=/dev/zero of=/dev/vda bs=512 count=1 oflag=direct")
    assert st != 0, out
    out, st = shell(vm.child, "head -c 8 /dev/vda")
    assert "READONLY" in out
    out, st = shell(vm.child, "cat /sys/block/vda/serial")    # GET_ID
    assert out.strip() == "VIREO-RO-1", out


def test_net_nat_dhcp_http_and_hostfwd(vm):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out, st = shell(vm.child, UDHCPC_SCRIPT + " && ip link set eth0 up && "
                        "udhcpc -i eth0 -n -q -t 10 -s /tmp/u.sh && ifconfig eth0")
        assert st == 0 and "10.0.2.15" in out, out
        out, st = shell(vm.child, f"wget -q -O - http://10.0.2.2:{server.server_port}/")
        assert "vireo-nat-ok" in out, out
        # A server in the guest, reached from the host through the forward.
        shell(vm.child, "mkdir -p /tmp/www && echo guest-httpd-ok > /tmp/www/index.html && "
              "httpd -p 8080 -h /tmp/www")
        body = urllib.request.urlopen(f"http://127.0.0.1:{vm.hport}/", timeout=30).read()
        assert b"guest-httpd-ok" in body
    finally:
        server.shutdown()


def test_hwrng(vm):
    out, _ = shell(vm.child, "cat /sys/class/misc/hw_random/rng_current")
    assert "virtio_rng" in out
    out, st = shell(vm.child, "dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -tx1 | wc -w")
    assert st == 0 and out.strip().split()[-1] == "64", out


def test_console2_hvc0(vm):
    m = re.search(r"/dev/hvc0 is (/dev/pts/\d+)", vm.child.boot_log)
    assert m, "the pty path was not printed"
    fd = os.open(m.group(1), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        shell(vm.child, "echo from-guest-hvc0 > /dev/hvc0")
        data = b""
        deadline = time.monotonic() + 30
        while b"from-guest-hvc0" not in data and time.monotonic() < deadline:
            try:
                data += os.read(fd, 4096)
            except BlockingIOError:
                time.sleep(0.05)
        assert b"from-guest-hvc0" in data
        vm.child.sendline("read -t 30 line < /dev/hvc0; echo got:$line")
        time.sleep(1)
        os.write(fd, b"from-host\n")
        vm.child.expect("got:from-host", timeout=60)
        vm.child.expect(PROMPT)
    finally:
        os.close(fd)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def balloon_cmd(sock, line):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        s.sendall(line.encode() + b"\n")
        return s.recv(4096).decode()


def test_balloon_lowers_rss(vireo, guest_dir, emu_ok, tmp_path):
    """Inflating the balloon by N MiB lowers the monitor's RSS by >= 0.8 N MiB.

    Free page reporting is off here, so the drop is the inflation's alone.
    """
    sock = tmp_path / "balloon.sock"
    child = boot(vireo, [f"--balloon={sock},no-report"], memory="512M")
    try:
        # Touch most of the guest's RAM so the host has really allocated it.
        # (/tmp is a tmpfs of half the RAM.)
        shell(child, "dd if=/dev/zero of=/tmp/fill bs=1M count=240 2>/dev/null; sync",
              timeout=600)
        shell(child, "rm /tmp/fill")
        time.sleep(3)
        peak = rss_kib(child.pid)
        inflate_mib = 200
        assert balloon_cmd(sock, f"balloon {512 - inflate_mib}").startswith("ok")
        deadline = time.monotonic() + 300
        info = ""
        while time.monotonic() < deadline:
            info = balloon_cmd(sock, "info")
            if re.search(rf'"actual_mib": {inflate_mib}\b', info):
                break
            time.sleep(2)
        assert re.search(rf'"actual_mib": {inflate_mib}\b', info), info
        time.sleep(2)
        after = rss_kib(child.pid)
        print(f"RSS peak {peak} KiB, after inflating {inflate_mib} MiB: {after} KiB")
        assert peak - after >= 0.8 * inflate_mib * 1024
        # Deflate: the guest gets its memory back and keeps working.
        assert balloon_cmd(sock, "balloon 512").startswith("ok")
        out, st = shell(child, "free -m")
        assert st == 0
    except Exception:
        child.terminate(force=True)
        raise
    assert poweroff(child) == 0
