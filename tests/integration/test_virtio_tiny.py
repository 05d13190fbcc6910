# SPDX-License-Identifier: GPL-2.0-only
"""virtio devices driven by the tiny guests' minimal virtio-pci driver.

guest/tiny/virtio-blk.c and virtio-net.c find their device by PCI ID, walk
the vendor capabilities, negotiate VIRTIO_F_VERSION_1, set up split queues
and poll them.  Each test runs once per CPU backend; a backend that cannot
run VMs here is skipped with the reason `vireo accel` gives, and the tests
skip while the tiny guests are not built.
"""
import os
import subprocess
import time

import pytest

from conftest import BUILD, backend_unavailable, run

BACKENDS = ["kvm", "emu"]
TINY = BUILD / "guest" / "tiny"


def tiny(name):
    elf = TINY / f"{name}.elf"
    if not elf.exists():
        pytest.skip(f"{elf} is not built (the tiny-guest runtime is not in this build)")
    return str(elf)


@pytest.fixture(params=BACKENDS)
def accel(request, vireo):
    why = backend_unavailable(vireo, request.param)
    if why:
        pytest.skip(f"{request.param} backend unavailable: {why}")
    return request.param


def test_tiny_virtio_blk(vireo, accel, tmp_path):
    elf = tiny("virtio-blk")
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.write(b"TINY-MARKER-SECTOR0".ljust(512, b"\0"))
        f.truncate(1 << 20)
    r = run([vireo, "run", "--accel", accel, "--kernel", elf, "--disk", str(disk)],
            timeout=120)
    print(r.stdout, r.stderr)
    assert "sector 0 says 'TINY-MARKER-SECTOR0'" in r.stdout
    assert "sector 1 written, flushed and read back" in r.stdout
    assert r.returncode == 50, r.stderr
    # What the guest wrote is in the image on the host.
    data = disk.read_bytes()[512:1024]
    assert data == bytes((i * 7 + 3) & 0xff for i in range(512))


# guest/tiny/virtio-dma-code.c: DMA_CODE_SECTOR and what it holds.
DMA_CODE_SECTOR = 4
NEW_CODE = bytes([0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3])      # mov eax, 2; ret


def test_tiny_virtio_dma_over_code(vireo, accel, tmp_path):
    """A guest runs a function, has virtio-blk read new code over it, runs it
    again and must get the new code.  KVM: the hardware keeps DMA coherent
    with instruction fetch.  emu: only the guest_mem write hook tells the
    decoded-instruction cache that the device changed the page (no CPU
    store touches it); without it the guest runs the stale `mov eax, 1`
    and exits 0x11."""
    elf = tiny("virtio-dma-code")
    disk = tmp_path / "code.img"
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
        f.seek(DMA_CODE_SECTOR * 512)
        f.write(NEW_CODE.ljust(512, b"\xcc"))          # int3 padding
    r = run([vireo, "run", "--accel", accel, "--kernel", elf, "--disk", str(disk)],
            timeout=120)
    print(r.stdout, r.stderr)
    assert "before the DMA the function returns 1" in r.stdout
    assert "STALE" not in r.stdout, "the emu ran decoded code the device overwrote"
    assert "after the DMA the function returns 2" in r.stdout
    assert r.returncode == 0x22, r.stderr


@pytest.mark.parametrize("fmt", ["qcow2", "vhd"])
def test_tiny_virtio_blk_formats(vireo, accel, tmp_path, fmt):
    """The same guest over qcow2 and VHD images: the front end does not know
    the format; what it wrote reads back through `vireo disk io`."""
    elf = tiny("virtio-blk")
    disk = tmp_path / f"disk.{fmt}"
    r = run([vireo, "disk", "create", "-f", fmt, str(disk), "1M"], timeout=30)
    assert r.returncode == 0, r.stderr
    r = run([vireo, "run", "--accel", accel, "--kernel", elf, "--disk",
             f"{disk},format={fmt}"], timeout=120)
    print(r.stdout, r.stderr)
    assert r.returncode == 50, r.stderr
    assert "sector 0 says ''" in r.stdout
    raw = tmp_path / "check.raw"
    r = run([vireo, "disk", "convert", "-O", "raw", str(disk), str(raw)], timeout=60)
    assert r.returncode == 0, r.stderr
    assert raw.read_bytes()[512:1024] == bytes((i * 7 + 3) & 0xff for i in range(512))


def test_tiny_virtio_blk_read_only(vireo, accel, tmp_path):
    elf = tiny("virtio-blk")
    disk = tmp_path / "ro.img"
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    r = run([vireo, "run", "--accel", accel, "--kernel", elf, "--disk", f"{disk},ro"],
            timeout=120)
    print(r.stdout, r.stderr)
    assert r.returncode == 3          # the write fails with VIRTIO_BLK_S_IOERR
    assert disk.read_bytes() == bytes(1 << 20)


def test_tiny_virtio_net_nat(vireo, accel):
    elf = tiny("virtio-net")
    r = run([vireo, "run", "--accel", accel, "--kernel", elf, "--net", "nat"], timeout=120)
    print(r.stdout, r.stderr)
    assert "mac 02:56:52:" in r.stdout          # generated, locally administered
    assert "10.0.2.2 is at" in r.stdout          # slirp's ARP reply came back
    assert r.returncode == 51, r.stderr


def test_tiny_virtio_net_switch(vireo, accel, tmp_path):
    """A port on a `vireo switch` whose NAT uplink answers the ARP request."""
    elf = tiny("virtio-net")
    sock = tmp_path / "sw.sock"
    sw = subprocess.Popen([vireo, "switch", "--name", f"vt{os.getpid()}", "--socket", str(sock),
                           "--uplink", "nat"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        r = run([vireo, "run", "--accel", accel, "--kernel", elf, "--net", f"switch={sock}"],
                timeout=120)
        print(r.stdout, r.stderr)
        assert "10.0.2.2 is at" in r.stdout
        assert r.returncode == 51, r.stderr
    finally:
        run([vireo, "switch", "ctl", "--socket", str(sock), "shutdown"], timeout=30)
        try:
            sw.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sw.kill()
            sw.wait()


def test_tiny_virtio_net_mac_option(vireo, accel):
    elf = tiny("virtio-net")
    mac = "02:11:22:33:44:%02x" % (os.getpid() & 0xff)
    r = run([vireo, "run", "--accel", accel, "--kernel", elf, "--net", "nat",
             "--mac", mac], timeout=120)
    print(r.stdout, r.stderr)
    assert f"mac {mac}" in r.stdout
    assert r.returncode == 51, r.stderr


def test_tiny_virtio_hostile_driver(vireo, accel, tmp_path):
    """Malformed chains put the device in NEEDS_RESET; the monitor lives on."""
    elf = tiny("virtio-hostile")
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    r = run([vireo, "run", "--accel", accel, "--kernel", elf, "--disk", str(disk)],
            timeout=120)
    print(r.stdout, r.stderr)
    assert "buffer outside RAM -> status 4f (NEEDS_RESET)" in r.stdout
    assert "descriptor loop -> status 4f (NEEDS_RESET)" in r.stdout
    assert "after reset a read works" in r.stdout
    assert "is not guest RAM" in r.stderr and "loops" in r.stderr
    assert r.returncode == 52, r.stderr


def test_tiny_virtio_net_mac_in_use(vireo, accel):
    """A MAC another VM on this host holds is refused, naming the holder."""
    spin = tiny("spin")
    elf = tiny("virtio-net")
    mac = "02:aa:bb:cc:%02x:%02x" % ((os.getpid() >> 8) & 0xff, os.getpid() & 0xff)
    holder = subprocess.Popen([vireo, "run", "--accel", accel, "--kernel", spin, "--net", "nat",
                               "--mac", mac], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        assert holder.poll() is None, holder.stderr.read()
        r = run([vireo, "run", "--accel", accel, "--kernel", elf, "--net", "nat", "--mac", mac],
                timeout=60)
        assert r.returncode == 1
        assert f"MAC {mac} is already in use" in r.stderr
        assert f"pid {holder.pid}" in r.stderr
    finally:
        holder.kill()
        holder.wait()


def test_tiny_virtio_net_tap(vireo, accel):
    """A host tap with 10.0.2.2 on it: the host kernel answers the ARP request.

    The tap lives in a network namespace of the test's own, so the answer
    does not depend on the machine's routes and sysctls: a CI host with a
    10.0.2.0/24 route of its own (slirp4netns, a container network) and
    rp_filter=1 drops the request as martian.  IPv6 is off on the tap so the
    host's MLD and DAD frames do not crowd the guest's receive buffers.
    """
    elf = tiny("virtio-net")
    ns = f"vtv{os.getpid() % 100000}"
    tap = "vtap0"
    r = run(["ip", "netns", "add", ns], timeout=10)
    if r.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {r.stderr.strip()}")
    try:
        inns = ["ip", "netns", "exec", ns]
        r = run(inns + ["ip", "tuntap", "add", "dev", tap, "mode", "tap"], timeout=10)
        if r.returncode != 0:
            pytest.skip(f"cannot create a tap device here: {r.stderr.strip()}")
        for cmd in (["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0",
                     f"net.ipv4.conf.{tap}.rp_filter=0", f"net.ipv4.conf.{tap}.arp_ignore=0",
                     f"net.ipv6.conf.{tap}.disable_ipv6=1"],
                    ["ip", "addr", "add", "10.0.2.2/24", "dev", tap],
                    ["ip", "link", "set", tap, "up"]):
            c = run(inns + cmd, timeout=10)
            assert c.returncode == 0, (cmd, c.stderr)
        r = run(inns + [vireo, "run", "--accel", accel, "--kernel", elf, "--net", f"tap={tap}"],
                timeout=120)
        print(r.stdout, r.stderr)
        assert "10.0.2.2 is at" in r.stdout
        assert r.returncode == 51, r.stderr
    finally:
        run(["ip", "netns", "del", ns], timeout=10)
