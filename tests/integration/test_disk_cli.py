# SPDX-License-Identifier: GPL-2.0-only
"""`vireo disk` command line: JSON on every subcommand, O(1) clone,
progress bar on a terminal, usage errors that say what to do."""
import os
import pty
import subprocess
import time

import pytest

from test_disk_lib import VIREO, make_data, qemu_img, vireo, vireo_json


def test_json_everywhere(tmp_path):
    img = tmp_path / "j.qcow2"
    out = vireo_json("disk", "create", img, "64M")
    assert out["format"] == "qcow2" and out["virtual-size"] == 64 << 20
    vireo("disk", "io", img, input="fill 0 1M 1\n")
    info = vireo_json("disk", "info", img)
    assert info["virtual-size"] == 64 << 20 and info["actual-size"] > 0
    assert info["chain"][0]["depth"] == 0
    chk = vireo_json("disk", "check", img)
    assert chk["corruptions"] == 0 and chk["leaks"] == 0
    child = vireo_json("disk", "clone", img, tmp_path / "c.qcow2")
    assert child["backing-filename"] == "j.qcow2"
    m = vireo_json("disk", "map", tmp_path / "c.qcow2")
    assert m[0]["depth"] == 1 and m[0]["data"] and m[0]["length"] == 1 << 20
    assert vireo_json("disk", "resize", img, "128M")["virtual-size"] == 128 << 20
    assert vireo_json("disk", "convert", "-O", "vhd", img, tmp_path / "x.vhd")["format"] == "vhd"
    assert vireo_json("disk", "snapshot", "create", img, "s1")["snapshot"] == "s1"
    assert vireo_json("disk", "snapshot", "list", img)["snapshots"][0]["name"] == "s1"
    assert vireo_json("disk", "commit", tmp_path / "c.qcow2")["committed"]


def test_info_chain_sizes(tmp_path):
    base = tmp_path / "base.qcow2"
    vireo("disk", "create", base, "1G")
    vireo("disk", "io", base, input="fill 0 4M 7\n")
    vireo("disk", "clone", base, tmp_path / "mid.qcow2")
    vireo("disk", "clone", tmp_path / "mid.qcow2", tmp_path / "top.qcow2")
    info = vireo_json("disk", "info", tmp_path / "top.qcow2")
    assert [c["depth"] for c in info["chain"]] == [0, 1, 2]
    assert all(c["virtual-size"] == 1 << 30 for c in info["chain"])
    assert info["chain"][2]["actual-size"] >= 4 << 20
    assert info["chain"][0]["actual-size"] < 1 << 20
    text = vireo("disk", "info", tmp_path / "top.qcow2").stdout
    assert "backing chain:" in text and "base.qcow2" in text


@pytest.mark.parametrize("fmt", ["qcow2", "vhd"])
def test_clone_is_constant_time(tmp_path, fmt):
    """Cloning a 2 TiB parent writes a few KiB and takes milliseconds."""
    big = tmp_path / f"big.{fmt}"
    vireo("disk", "create", "-f", fmt, big, "2T" if fmt == "qcow2" else "1T")
    t0 = time.monotonic()
    vireo("disk", "clone", "-f", fmt, big, tmp_path / f"child.{fmt}")
    assert time.monotonic() - t0 < 1.0
    assert os.path.getsize(tmp_path / f"child.{fmt}") < 8 << 20
    if fmt == "qcow2":
        qemu_img("check", tmp_path / "child.qcow2")


def test_progress_bar_on_tty(tmp_path):
    src = tmp_path / "s.qcow2"
    vireo("disk", "create", src, "64M")
    data = tmp_path / "d.bin"
    make_data(data, 2 << 20, 3)
    vireo("disk", "io", src, input="".join(f"write {i << 20} 1M {data} 0\n" for i in range(64)))
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(VIREO, [VIREO, "disk", "convert", "-O", "raw", str(src), str(tmp_path / "o.raw")])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert b"(100%)" in out and b"####" in out
    # Not on a pipe:
    p = vireo("disk", "convert", "-O", "raw", src, tmp_path / "o2.raw")
    assert "%" not in p.stderr


def test_usage_errors_are_actionable(tmp_path):
    p = vireo("disk", "frobnicate", check=False)
    assert p.returncode == 2 and "unknown command" in p.stderr
    p = vireo("disk", "create", "-f", "vmdk", tmp_path / "x", "1M", check=False)
    assert p.returncode == 2 and "unknown format" in p.stderr
    p = vireo("disk", "create", tmp_path / "x", "12Q", check=False)
    assert p.returncode == 2 and "bad size" in p.stderr
    p = vireo("disk", "info", tmp_path / "nope.qcow2", check=False)
    assert p.returncode == 1 and "No such file" in p.stderr
    vireo("disk", "create", "-f", "raw", tmp_path / "r.raw", "1M")
    p = vireo("disk", "clone", "-f", "raw", tmp_path / "r.raw", tmp_path / "c.raw", check=False)
    assert p.returncode == 2 and "raw images cannot have a parent" in p.stderr
    p = vireo("disk", "commit", tmp_path / "r.raw", check=False)
    assert p.returncode == 1 and "no backing file" in p.stderr
    p = vireo("disk", "snapshot", "create", tmp_path / "r.raw", "s", check=False)
    assert p.returncode == 1 and "qcow2" in p.stderr
    p = vireo("disk", "create", "--cluster-size", "3000", tmp_path / "y.qcow2", "1M", check=False)
    assert p.returncode == 1 and "power of two" in p.stderr
    assert not (tmp_path / "y.qcow2").exists()
    p = vireo("disk", "create", tmp_path / "r.raw", "1M", check=False)
    assert p.returncode == 1 and "exists" in p.stderr


def test_raw_sparse_map(tmp_path):
    img = tmp_path / "s.raw"
    vireo("disk", "create", "-f", "raw", img, "64M")
    vireo("disk", "io", "-f", "raw", img, input="fill 16M 1M 9\n")
    m = vireo_json("disk", "map", "-f", "raw", img)
    data = [e for e in m if e["data"]]
    assert data and data[0]["start"] == 16 << 20 and data[0]["length"] == 1 << 20
    assert os.stat(img).st_blocks * 512 < 4 << 20
    vireo("disk", "io", "-f", "raw", img, input=f"discard {16 << 20} 1M\nzero {16 << 20} 1M\n")
    assert not [e for e in vireo_json("disk", "map", "-f", "raw", img) if e["data"]]


def test_bench_runs(tmp_path):
    img = tmp_path / "b.qcow2"
    vireo("disk", "create", img, "16M")
    vireo("disk", "io", img, input="fill 0 16M 1\n")
    for eng in ("uring", "threads"):
        p = vireo("disk", "bench", "-c", "2000", "-d", "8", "-e", eng, img, check=False)
        if eng == "uring" and p.returncode != 0:
            continue            # kernel without io_uring: the thread pool covers it
        assert p.returncode == 0, p.stderr
        assert "Run completed in" in p.stdout
    p = vireo("disk", "bench", "-w", "-c", "500", "-S", str(4096 * 97), img)
    assert "Run completed" in p.stdout
    assert subprocess.run(["qemu-img", "check", str(img)]).returncode == 0
