# SPDX-License-Identifier: GPL-2.0-only
"""Differential test (as OpenBSD vmd's regress does): the same fixed-seed
random writes, discards and overwrites through raw and through every
format must read back the same."""
import pytest

from test_disk_lib import export_raw, make_data, qemu_check_clean, qemu_img, vireo, vireo_json

SIZE = 32 << 20
SEED = 20261121


def script(data, size, seed=SEED, count=150):
    import random
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        kind = rng.random()
        ln = rng.choice([512, 4096, 65536, 131072 + 512, 1 << 20, rng.randrange(1, 64) * 512])
        off = rng.randrange(0, (size - ln) // 512 + 1) * 512
        if kind < 0.75:
            lines.append(f"write {off} {ln} {data} {rng.randrange(0, 1 << 20) // 512 * 512}")
        elif kind < 0.85:
            lines.append(f"fill {off} {ln} {rng.randrange(0, 256)}")
        elif kind < 0.95:
            lines.append(f"discard {off} {ln}")
        else:
            lines.append("flush")
    return "\n".join(lines) + "\n"


FORMATS = [("qcow2", ["--cluster-size", "512"]), ("qcow2", ["--cluster-size", "4K"]),
           ("qcow2", []), ("qcow2", ["--cluster-size", "2M"]), ("vhd", []),
           ("vhd", ["--fixed"])]


@pytest.mark.parametrize("fmt,opts", FORMATS, ids=lambda x: str(x))
def test_same_pattern_same_bytes(tmp_path, fmt, opts):
    data = tmp_path / "data.bin"
    make_data(data, 3 << 20, seed=SEED)
    img = tmp_path / f"img.{fmt}"
    vireo("disk", "create", "-f", fmt, *opts, img, str(SIZE))
    size = vireo_json("disk", "info", img)["virtual-size"]     # VHD rounds to CHS
    raw = tmp_path / "ref.raw"
    vireo("disk", "create", "-f", "raw", raw, str(size))
    s = script(data, size)
    vireo("disk", "io", raw, input=s)
    vireo("disk", "io", img, input=s)
    assert export_raw(img, tmp_path / "out.raw") == raw.read_bytes()
    if fmt == "qcow2":
        qemu_check_clean(img)
    qemu_img("compare", "-f", "vpc" if fmt == "vhd" else fmt, "-F", "raw", img, raw)


@pytest.mark.parametrize("fmt", ["qcow2", "vhd"])
def test_same_pattern_through_overlay(tmp_path, fmt):
    """Base written with one pattern, a clone with another: the clone reads
    like a raw disk that received both."""
    data = tmp_path / "data.bin"
    make_data(data, 3 << 20, seed=SEED + 1)
    base = tmp_path / f"base.{fmt}"
    vireo("disk", "create", "-f", fmt, base, str(SIZE))
    size = vireo_json("disk", "info", base)["virtual-size"]
    raw = tmp_path / "ref.raw"
    vireo("disk", "create", "-f", "raw", raw, str(size))
    s1, s2 = script(data, size, SEED), script(data, size, SEED + 2)
    vireo("disk", "io", base, input=s1)
    vireo("disk", "clone", "-f", fmt, base, tmp_path / f"child.{fmt}")
    vireo("disk", "io", tmp_path / f"child.{fmt}", input=s2)
    vireo("disk", "io", raw, input=s1 + s2)
    assert export_raw(tmp_path / f"child.{fmt}", tmp_path / "out.raw") == raw.read_bytes()
    if fmt == "qcow2":
        qemu_check_clean(tmp_path / "child.qcow2")
        qemu_img("compare", "-F", "raw", tmp_path / "child.qcow2", raw)


@pytest.mark.parametrize("cluster", ["512", "4K", "64K"])
def test_snapshots_and_growth_interleaved(tmp_path, cluster):
    """Rounds of random writes and discards, with internal snapshots and
    growth in between: the live disk matches raw, every snapshot still
    reads as the disk did when it was taken (checked through qemu-img),
    and qemu-img check stays clean."""
    import random
    rng = random.Random(SEED + int(cluster.rstrip("K")))
    data = tmp_path / "data.bin"
    make_data(data, 3 << 20, seed=SEED + 3)
    img, raw = tmp_path / "s.qcow2", tmp_path / "ref.raw"
    size = 8 << 20
    vireo("disk", "create", "--cluster-size", cluster, img, str(size))
    vireo("disk", "create", "-f", "raw", raw, str(size))
    snaps = {}
    for rnd in range(6):
        s = script(data, size, seed=rng.randrange(1 << 30), count=40)
        vireo("disk", "io", img, input=s)
        vireo("disk", "io", raw, input=s)
        choice = rng.choice(["snap", "grow", "snap", "none"])
        if choice == "snap":
            name = f"s{rnd}"
            vireo("disk", "snapshot", "create", img, name)
            snaps[name] = raw.read_bytes()
        elif choice == "grow":
            size += 3 << 20
            vireo("disk", "resize", img, str(size))
            vireo("disk", "resize", raw, str(size))
    assert snaps, "the fixed seed took no snapshot"
    qemu_check_clean(img)
    assert export_raw(img, tmp_path / "live.raw") == raw.read_bytes()
    for name, want in snaps.items():
        out = tmp_path / f"{name}.raw"
        qemu_img("convert", "-l", f"snapshot.name={name}", "-O", "raw", img, out)
        assert out.read_bytes()[:len(want)] == want, name
