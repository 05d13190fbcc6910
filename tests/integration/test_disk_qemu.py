# SPDX-License-Identifier: GPL-2.0-only
"""Interoperability with qemu-img: images Vireo writes pass qemu-img check
and compare equal; images qemu-img makes read back byte-identical."""
import os

import pytest

from test_disk_lib import (apply_writes, export_raw, make_data, qemu_check_clean, qemu_img,
                           qemu_io, random_writes, reference_raw, vireo, vireo_json)

SIZE = 24 << 20


@pytest.fixture
def data(tmp_path):
    p = tmp_path / "data.bin"
    make_data(p, 2 << 20, seed=7)
    return p


@pytest.fixture
def pattern_raw(tmp_path, data):
    """A sparse raw disk with a fixed-seed pattern, and its writes."""
    writes = random_writes(11, SIZE, 40)
    raw = tmp_path / "pattern.raw"
    reference_raw(raw, SIZE, writes, data)
    return raw, writes


@pytest.mark.parametrize("cluster", [512, 4096, 65536, 2 << 20])
def test_qemu_qcow2_reads_identical(tmp_path, pattern_raw, cluster):
    raw, _ = pattern_raw
    img = tmp_path / "q.qcow2"
    qemu_img("convert", "-f", "raw", "-O", "qcow2", "-o", f"cluster_size={cluster}", raw, img)
    assert export_raw(img, tmp_path / "out.raw") == raw.read_bytes()
    info = vireo_json("disk", "info", img)
    assert info["cluster-size"] == cluster and info["virtual-size"] == SIZE


def test_qemu_compressed_reads_identical(tmp_path, pattern_raw):
    raw, _ = pattern_raw
    # Compressible content too: repeat a text pattern in part of the disk.
    buf = bytearray(raw.read_bytes())
    buf[1 << 20:2 << 20] = (b"vireo compressed cluster " * 50000)[:1 << 20]
    raw.write_bytes(buf)
    img = tmp_path / "c.qcow2"
    qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", raw, img)
    m = vireo_json("disk", "map", img)
    assert any(e["compressed"] for e in m), "qemu-img made no compressed clusters"
    assert export_raw(img, tmp_path / "out.raw") == bytes(buf)


def test_qemu_chain_three_deep(tmp_path, data):
    base, mid, top = tmp_path / "base.qcow2", tmp_path / "mid.qcow2", tmp_path / "top.qcow2"
    qemu_img("create", "-f", "qcow2", base, str(SIZE))
    qemu_io(base, ["write -P 0x11 0 4M", "write -P 0x12 8M 1M"])
    qemu_img("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", mid)
    qemu_io(mid, ["write -P 0x21 1M 1M", "write -z 8M 64k", "write -P 0x22 20M 512"])
    qemu_img("create", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "mid.qcow2",
             "-F", "qcow2", top)
    qemu_io(top, ["write -P 0x31 1536k 8k", "write -P 0x32 23M 4k", "discard 0 64k"])
    ref = tmp_path / "ref.raw"
    qemu_img("convert", "-O", "raw", top, ref)
    assert export_raw(top, tmp_path / "out.raw") == ref.read_bytes()
    chain = vireo_json("disk", "info", top)["chain"]
    assert [os.path.basename(c["filename"]) for c in chain] == ["top.qcow2", "mid.qcow2",
                                                                "base.qcow2"]


@pytest.mark.parametrize("sub", ["dynamic", "fixed"])
def test_qemu_vpc_reads_identical(tmp_path, pattern_raw, sub):
    raw, _ = pattern_raw
    img = tmp_path / f"{sub}.vhd"
    qemu_img("convert", "-f", "raw", "-O", "vpc", "-o", f"subformat={sub}", raw, img)
    ref = tmp_path / "ref.raw"
    qemu_img("convert", "-f", "vpc", "-O", "raw", img, ref)   # qemu's view of the size
    info = vireo_json("disk", "info", img)
    assert info["format"] == "vhd" and info["subformat"] == sub
    assert info["virtual-size"] == os.path.getsize(ref)
    assert export_raw(img, tmp_path / "out.raw") == ref.read_bytes()


@pytest.mark.parametrize("fmt,opts", [("qcow2", ["--cluster-size", "512"]),
                                      ("qcow2", ["--cluster-size", "4K"]),
                                      ("qcow2", []),
                                      ("qcow2", ["--cluster-size", "2M"]),
                                      ("vhd", []), ("vhd", ["--fixed"]),
                                      ("vhd", ["--block-size", "512K"])])
def test_vireo_written_passes_qemu(tmp_path, data, fmt, opts):
    img = tmp_path / f"v.{fmt}"
    vireo("disk", "create", "-f", fmt, *opts, img, str(SIZE))
    size = vireo_json("disk", "info", img)["virtual-size"]
    writes = random_writes(23, size, 60)
    apply_writes(img, writes, data, flush_every=10)
    ref = tmp_path / "ref.raw"
    reference_raw(ref, size, writes, data)
    if fmt == "qcow2":
        qemu_check_clean(img)
    qemu_img("compare", "-f", "vpc" if fmt == "vhd" else fmt, "-F", "raw", img, ref)
    assert vireo("disk", "check", img).returncode == 0


def test_vireo_clone_chain_passes_qemu(tmp_path, data):
    base = tmp_path / "base.qcow2"
    vireo("disk", "create", base, str(SIZE))
    w1 = random_writes(1, SIZE, 30)
    apply_writes(base, w1, data)
    vireo("disk", "clone", base, tmp_path / "c1.qcow2")
    w2 = random_writes(2, SIZE, 30)
    apply_writes(tmp_path / "c1.qcow2", w2, data)
    vireo("disk", "clone", "-f", "qcow2", tmp_path / "c1.qcow2", tmp_path / "c2.qcow2")
    w3 = random_writes(3, SIZE, 30)
    apply_writes(tmp_path / "c2.qcow2", w3, data)
    ref = tmp_path / "ref.raw"
    reference_raw(ref, SIZE, w1 + w2 + w3, data)
    # reference_raw indexes data by write number: rebuild with per-layer numbering.
    import test_disk_lib as lib
    buf = bytearray(SIZE)
    d = data.read_bytes()
    for ws in (w1, w2, w3):
        for i, (off, ln) in enumerate(ws):
            s = (i * 4096) % (1 << 20)
            buf[off:off + ln] = d[s:s + ln]
    ref.write_bytes(buf)
    for img in ("base.qcow2", "c1.qcow2", "c2.qcow2"):
        qemu_check_clean(tmp_path / img)
    qemu_img("compare", "-F", "raw", tmp_path / "c2.qcow2", ref)
    assert lib.export_raw(tmp_path / "c2.qcow2", tmp_path / "o.raw") == bytes(buf)


def test_vhd_differencing_chain(tmp_path, data):
    base = tmp_path / "base.vhd"
    vireo("disk", "create", "-f", "vhd", base, str(SIZE))
    size = vireo_json("disk", "info", base)["virtual-size"]
    w1 = random_writes(5, size, 20)
    apply_writes(base, w1, data)
    vireo("disk", "clone", "-f", "vhd", base, tmp_path / "child.vhd")
    w2 = random_writes(6, size, 20, max_len=8192)
    apply_writes(tmp_path / "child.vhd", w2, data)
    buf = bytearray(size)
    d = data.read_bytes()
    for ws in (w1, w2):
        for i, (off, ln) in enumerate(ws):
            s = (i * 4096) % (1 << 20)
            buf[off:off + ln] = d[s:s + ln]
    info = vireo_json("disk", "info", tmp_path / "child.vhd")
    assert info["subformat"] == "differencing" and info["backing-filename"] == "base.vhd"
    assert export_raw(tmp_path / "child.vhd", tmp_path / "o.raw") == bytes(buf)
    # qemu reads the base (its vpc driver has no differencing support).
    qemu_img("compare", "-f", "vpc", "-F", "raw", base, tmp_path / "o.raw", check=False)


def test_commit_and_flatten(tmp_path, data):
    base, mid, top = (tmp_path / n for n in ("base.qcow2", "mid.vhd", "top.qcow2"))
    vireo("disk", "create", "-f", "vhd", tmp_path / "base.vhd", "16M")
    size = vireo_json("disk", "info", tmp_path / "base.vhd")["virtual-size"]
    vireo("disk", "create", base, str(size))
    apply_writes(base, random_writes(1, size, 20), data)
    vireo("disk", "clone", base, top)
    apply_writes(top, random_writes(2, size, 20), data)
    want = export_raw(top, tmp_path / "want.raw")
    # flatten: one standalone image with the chain's contents
    vireo("disk", "convert", "-O", "qcow2", "--flatten", top, tmp_path / "flat.qcow2")
    assert vireo_json("disk", "info", tmp_path / "flat.qcow2")["backing-filename"] is None
    qemu_img("compare", "-F", "raw", tmp_path / "flat.qcow2", tmp_path / "want.raw")
    # convert without --flatten keeps the chain
    vireo("disk", "convert", "-O", "qcow2", top, tmp_path / "top2.qcow2")
    assert vireo_json("disk", "info", tmp_path / "top2.qcow2")["backing-filename"] == "base.qcow2"
    assert export_raw(tmp_path / "top2.qcow2", tmp_path / "o2.raw") == want
    # raw cannot keep a chain
    p = vireo("disk", "convert", "-O", "raw", top, tmp_path / "x.raw", check=False)
    assert p.returncode == 2 and "--flatten" in p.stderr
    # commit: the parent now holds what the child showed; the child is emptied
    vireo("disk", "clone", base, tmp_path / "keep.qcow2")
    apply_writes(tmp_path / "keep.qcow2", random_writes(3, size, 5), data)
    vireo("disk", "commit", top)
    qemu_check_clean(base)
    qemu_check_clean(top)
    qemu_img("compare", "-F", "raw", base, tmp_path / "want.raw")
    assert export_raw(top, tmp_path / "o3.raw") == want
    assert all(e["depth"] == 1 for e in vireo_json("disk", "map", top) if e["data"])
    # --keep leaves the child's clusters where they are
    vireo("disk", "commit", "--keep", tmp_path / "keep.qcow2")
    assert any(e["depth"] == 0 for e in vireo_json("disk", "map", tmp_path / "keep.qcow2"))
    qemu_check_clean(tmp_path / "keep.qcow2")
    del mid


def test_vhd_commit_empties_child(tmp_path, data):
    base = tmp_path / "base.vhd"
    vireo("disk", "create", "-f", "vhd", base, "16M")
    size = vireo_json("disk", "info", base)["virtual-size"]
    apply_writes(base, random_writes(8, size, 10), data)
    child = tmp_path / "child.vhd"
    vireo("disk", "clone", "-f", "vhd", base, child)
    apply_writes(child, random_writes(9, size, 10), data)
    want = export_raw(child, tmp_path / "want.raw")
    grown = os.path.getsize(child)
    vireo("disk", "commit", child)
    assert os.path.getsize(child) < grown
    assert export_raw(child, tmp_path / "after.raw") == want
    assert export_raw(base, tmp_path / "base.raw") == want
    assert vireo("disk", "check", child).returncode == 0
    qemu_img("compare", "-f", "vpc", "-F", "raw", base, tmp_path / "want.raw")


def test_resize_grow_and_guarded_shrink(tmp_path, data):
    img = tmp_path / "r.qcow2"
    vireo("disk", "create", "--cluster-size", "512", img, "1M")
    vireo("disk", "resize", img, "+3G")       # forces L1 growth with 512 B clusters
    assert vireo_json("disk", "info", img)["virtual-size"] == (1 << 20) + (3 << 30)
    vireo("disk", "io", img, input=f"write {2 << 30} 64K {data} 0\nflush\n")
    qemu_check_clean(img)
    p = vireo("disk", "resize", img, "1G", check=False)
    assert p.returncode == 1 and "--shrink" in p.stderr
    p = vireo("disk", "resize", "--shrink", img, "1G", check=False)
    assert p.returncode == 1 and "would be lost" in p.stderr
    vireo("disk", "io", img, input=f"discard {2 << 30} 64K\nflush\n")
    vireo("disk", "resize", "--shrink", img, "1G")
    assert qemu_img("info", "--output=json", img).stdout.count(str(1 << 30)) >= 1
    qemu_check_clean(img)
    raw = tmp_path / "r.raw"
    vireo("disk", "create", "-f", "raw", raw, "1M")
    vireo("disk", "resize", raw, "2M")
    assert os.path.getsize(raw) == 2 << 20


def test_internal_snapshots(tmp_path, data):
    img = tmp_path / "s.qcow2"
    qemu_img("create", "-f", "qcow2", img, "8M")
    qemu_io(img, ["write -P 0x41 0 1M"])
    qemu_img("snapshot", "-c", "by-qemu", img)
    snaps = vireo_json("disk", "snapshot", "list", img)["snapshots"]
    assert [s["name"] for s in snaps] == ["by-qemu"]
    # Vireo writes over shared clusters (copy-on-write), then snapshots itself.
    vireo("disk", "io", img, input="fill 0 64K 0x42\nflush\n")
    vireo("disk", "snapshot", "create", img, "by-vireo")
    vireo("disk", "io", img, input="fill 64K 64K 0x43\nflush\n")
    qemu_check_clean(img)
    listing = qemu_img("snapshot", "-l", img).stdout
    assert "by-qemu" in listing and "by-vireo" in listing
    for snap, first, second in (("by-qemu", 0x41, 0x41), ("by-vireo", 0x42, 0x41)):
        out = tmp_path / f"{snap}.raw"
        qemu_img("convert", "-l", f"snapshot.name={snap}", "-O", "raw", img, out)
        b = out.read_bytes()
        assert b[0] == first and b[65536] == second, snap
    live = export_raw(img, tmp_path / "live.raw")
    assert live[0] == 0x42 and live[65536] == 0x43 and live[131072] == 0x41


def test_check_repairs_leaks(tmp_path):
    img = tmp_path / "l.qcow2"
    vireo("disk", "create", img, "8M")
    # Leak a cluster: append one and give it a refcount of 1 in the block.
    with open(img, "r+b") as f:
        hdr = f.read(112)
        rt_off = int.from_bytes(hdr[48:56], "big")
        f.seek(0, 2)
        idx = f.tell() // 65536
        f.write(b"\0" * 65536)
        f.seek(rt_off)
        rb_off = int.from_bytes(f.read(8), "big")
        f.seek(rb_off + 2 * idx)
        f.write((1).to_bytes(2, "big"))
    p = vireo("disk", "check", "--json", img, check=False)
    assert p.returncode == 3
    assert qemu_img("check", img, check=False).returncode == 3
    p = vireo("disk", "check", "-r", "--json", img)
    assert '"leaks-fixed": 1' in p.stdout
    qemu_check_clean(img)


@pytest.mark.parametrize("bits", [1, 8, 64])
def test_qemu_refcount_widths_written_by_vireo(tmp_path, data, bits):
    """Images with unusual refcount widths (qemu-img -o refcount_bits):
    Vireo allocates in them and qemu-img check stays clean."""
    img = tmp_path / "rc.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", f"refcount_bits={bits},cluster_size=4096", img, "8M")
    writes = random_writes(31, 8 << 20, 40)
    apply_writes(img, writes, data, flush_every=8)
    ref = tmp_path / "ref.raw"
    reference_raw(ref, 8 << 20, writes, data)
    qemu_check_clean(img)
    qemu_img("compare", "-F", "raw", img, ref)
    p = vireo("disk", "snapshot", "create", img, "s", check=False)
    if bits > 1:
        assert p.returncode == 0, p.stderr
    else:
        # 1-bit refcounts cannot count a snapshot's second reference.
        assert p.returncode == 1 and "1-bit refcounts" in p.stderr
    qemu_check_clean(img)


def test_qemu_v2_image(tmp_path, data):
    img = tmp_path / "v2.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", "compat=0.10", img, "8M")
    writes = random_writes(41, 8 << 20, 20)
    apply_writes(img, writes, data)
    ref = tmp_path / "ref.raw"
    reference_raw(ref, 8 << 20, writes, data)
    qemu_check_clean(img)
    qemu_img("compare", "-F", "raw", img, ref)
    assert vireo_json("disk", "info", img)["subformat"] == "v2"
