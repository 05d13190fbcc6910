# SPDX-License-Identifier: GPL-2.0-only
"""Hostile images: truncated files, tables larger than the file, offsets
past the end, backing-chain loops, absurd sizes.  Each gives a clear error
(exit 1 and a message naming the problem), never a crash, and stays within
a 1 GiB address-space limit."""
import random
import struct

import pytest

from test_disk_lib import qemu_img, vireo

SIZE = 16 << 20


def run_all(img, expect=None):
    """info, check and a full read through convert: no crash, bounded memory."""
    results = []
    for args in (["disk", "info", img], ["disk", "check", img],
                 ["disk", "map", "--json", img],
                 ["disk", "convert", "-O", "raw", "--flatten", img, str(img) + ".out"]):
        p = vireo(*args, check=False, limit=True, timeout=60)
        assert p.returncode >= 0, f"{args}: killed by signal {-p.returncode}\n{p.stderr}"
        assert p.returncode in (0, 1, 2, 3), f"{args}: exit {p.returncode}\n{p.stderr}"
        assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
        results.append(p)
    if expect:
        info = results[0]
        assert info.returncode == 1, info.stdout
        assert expect in info.stderr, info.stderr
    import os
    if os.path.exists(str(img) + ".out"):
        os.unlink(str(img) + ".out")
    return results


def patch(path, off, fmt, *vals):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(struct.pack(fmt, *vals))


@pytest.fixture
def qcow(tmp_path):
    img = tmp_path / "h.qcow2"
    qemu_img("create", "-f", "qcow2", img, str(SIZE))
    subprocess_io(img)
    return img


def subprocess_io(img):
    import subprocess
    subprocess.run(["qemu-io", "-c", "write -P 0x5a 0 1M", "-c", "write -P 0x6b 8M 64k",
                    str(img)], check=True, capture_output=True)


def test_truncated_header(tmp_path):
    img = tmp_path / "t.qcow2"
    qemu_img("create", "-f", "qcow2", img, "1M")
    img.write_bytes(img.read_bytes()[:200])
    run_all(img, expect="shorter than one cluster")


def set_backing(path, name):
    """Point a backing-less qcow2 (made by vireo) at `name`."""
    with open(path, "r+b") as f:
        f.seek(8)
        f.write(struct.pack(">QI", 1024, len(name)))
        f.seek(1024)
        f.write(name.encode())


def test_truncated_tables(qcow):
    with open(qcow, "r+b") as f:
        f.truncate(65536 + 100)
    run_all(qcow, expect="past the end of the file")


def test_absurd_l1_size(qcow):
    patch(qcow, 36, ">I", 0xffffffff)
    run_all(qcow, expect="L1 table is larger than 32 MiB")


def test_l1_table_bigger_than_file(qcow):
    patch(qcow, 36, ">I", 1 << 20)       # 8 MiB of L1 in a small file
    run_all(qcow, expect="L1 table extends past the end of the file")


def test_refcount_table_absurd(qcow):
    patch(qcow, 56, ">I", 0x7fffffff)
    run_all(qcow, expect="refcount table size is out of range")


def test_absurd_virtual_size(qcow):
    patch(qcow, 24, ">Q", 1 << 62)
    run_all(qcow, expect="64 TiB")


def test_bad_cluster_bits_and_refcount_order(qcow, tmp_path):
    patch(qcow, 20, ">I", 31)
    run_all(qcow, expect="cluster size must be")
    img = tmp_path / "r.qcow2"
    qemu_img("create", "-f", "qcow2", img, "1M")
    patch(img, 96, ">I", 9)
    run_all(img, expect="refcount_order")


def l1_entry(path):
    with open(path, "rb") as f:
        hdr = f.read(112)
    return struct.unpack(">Q", hdr[40:48])[0]


def test_l2_offset_past_end(qcow):
    patch(qcow, l1_entry(qcow), ">Q", (1 << 63) | (1 << 40))
    r = run_all(qcow)
    assert r[3].returncode == 1 and "L2 table" in r[3].stderr
    assert r[1].returncode == 2            # check reports corruption


def test_data_offset_past_end(qcow):
    with open(qcow, "rb") as f:
        f.seek(l1_entry(qcow))
        l2 = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
    patch(qcow, l2, ">Q", (1 << 63) | (1 << 38))
    r = run_all(qcow)
    assert r[3].returncode == 1 and "past the end of the file" in r[3].stderr
    assert r[1].returncode == 2


def test_unaligned_l2(qcow):
    patch(qcow, l1_entry(qcow), ">Q", (1 << 63) | 0x10200)
    r = run_all(qcow)
    assert r[3].returncode == 1 and "not cluster-aligned" in r[3].stderr


def test_garbage_compressed_cluster(tmp_path):
    raw = tmp_path / "c.raw"
    raw.write_bytes(b"abc" * (1 << 20))
    img = tmp_path / "c.qcow2"
    qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", raw, img)
    data = bytearray(img.read_bytes())
    # Overwrite the compressed payload (everything after the metadata).
    for i in range(5 * 65536, len(data)):
        data[i] = (i * 7) & 0xff
    img.write_bytes(data)
    r = run_all(img)
    assert r[3].returncode == 1


def test_backing_loop(tmp_path):
    a, b = tmp_path / "a.qcow2", tmp_path / "b.qcow2"
    vireo("disk", "create", a, "1M")
    vireo("disk", "clone", a, b)
    # Point a at b: a -> b -> a
    vireo("disk", "create", tmp_path / "tmp.qcow2", "1M")
    with open(a, "r+b") as f:
        hdr = bytearray(f.read(65536))
    name = b"b.qcow2"
    hdr[8:16] = struct.pack(">Q", 1024)
    hdr[16:20] = struct.pack(">I", len(name))
    hdr[1024:1024 + len(name)] = name
    with open(a, "r+b") as f:
        f.write(hdr)
    r = run_all(b, expect="loops")
    del r
    self_loop = tmp_path / "s.qcow2"
    vireo("disk", "create", self_loop, "1M")
    with open(self_loop, "r+b") as f:
        f.write(hdr[:8])
        f.seek(8)
        f.write(struct.pack(">QI", 1024, 7))
        f.seek(1024)
        f.write(b"s.qcow2")
    run_all(self_loop, expect="loops")


def test_chain_too_deep(tmp_path):
    vireo("disk", "create", tmp_path / "l0.qcow2", "1M")
    for i in range(1, 70):
        vireo("disk", "create", tmp_path / f"l{i}.qcow2", "1M")
        set_backing(tmp_path / f"l{i}.qcow2", f"l{i - 1}.qcow2")
    run_all(tmp_path / "l69.qcow2", expect="longer than")


def test_missing_backing(tmp_path):
    a = tmp_path / "a.qcow2"
    vireo("disk", "create", a, "1M")
    vireo("disk", "clone", a, tmp_path / "b.qcow2")
    a.unlink()
    run_all(tmp_path / "b.qcow2", expect="not found")


@pytest.fixture
def vhd(tmp_path):
    img = tmp_path / "h.vhd"
    vireo("disk", "create", "-f", "vhd", img, str(SIZE))
    vireo("disk", "io", img, input="fill 0 1M 0x33\n")
    return img


def test_vhd_bat_past_end(vhd):
    patch(vhd, 512 + 16, ">Q", 1 << 40)
    run_all(vhd, expect="block allocation table extends past")


def test_vhd_absurd_entries(vhd):
    patch(vhd, 512 + 28, ">I", 0xffffffff)
    run_all(vhd, expect="too many entries")


def test_vhd_bad_block_size(vhd):
    patch(vhd, 512 + 32, ">I", 12345)
    run_all(vhd, expect="block size")


def test_vhd_bat_entry_past_end(vhd):
    patch(vhd, 1536, ">I", 0x7fffffff)
    r = run_all(vhd)
    assert r[1].returncode == 2 and r[3].returncode == 1


def test_vhd_truncated(vhd, tmp_path):
    data = vhd.read_bytes()
    t = tmp_path / "t.vhd"
    t.write_bytes(data[:700])
    run_all(t, expect="past the end of the file")


@pytest.mark.parametrize("fmt", ["qcow2", "vhd"])
def test_random_corruption(tmp_path, fmt):
    """Seeded byte flips in the metadata area: never a crash."""
    base = tmp_path / f"base.{fmt}"
    vireo("disk", "create", "-f", fmt, "--cluster-size" if fmt == "qcow2" else "--block-size",
          "4K", base, "4M")
    vireo("disk", "io", base, input="fill 0 1M 0x11\nfill 2M 512K 0x22\n")
    good = base.read_bytes()
    meta = min(len(good), 6 * 4096)
    rng = random.Random(1234)
    for i in range(30):
        bad = bytearray(good)
        for _ in range(rng.randrange(1, 8)):
            pos = rng.randrange(0, meta) if fmt == "qcow2" else rng.choice(
                [rng.randrange(0, 3072), len(bad) - 512 + rng.randrange(0, 512)])
            bad[pos] = rng.randrange(256)
        img = tmp_path / f"x{i}.{fmt}"
        img.write_bytes(bad)
        run_all(img)
        img.unlink()


def test_vhd_parent_locator_loop(tmp_path):
    """A differencing VHD whose parent locators name itself."""
    vireo("disk", "create", "-f", "vhd", tmp_path / "p.vhd", "4M")
    vireo("disk", "clone", "-f", "vhd", tmp_path / "p.vhd", tmp_path / "c.vhd")
    data = (tmp_path / "c.vhd").read_bytes()
    utf16 = "p.vhd".encode("utf-16-le")
    assert utf16 in data
    (tmp_path / "c.vhd").write_bytes(data.replace(utf16, "c.vhd".encode("utf-16-le")))
    run_all(tmp_path / "c.vhd", expect="loops")
