# SPDX-License-Identifier: GPL-2.0-only
"""Crash safety: SIGKILL a writer at random points.  Afterwards qemu-img
check finds no corruption (leaks allowed; vireo disk check -r repairs
them) and every write acknowledged before a completed flush reads back."""
import json
import random
import signal
import subprocess
import time

from test_disk_lib import VIREO, make_data, qemu_img, vireo

TRIALS = 120
SIZE = 64 << 20
REGION = 256 << 10


def make_script(rng, data, nwrites=80):
    """Non-overlapping writes (one region each), a flush every few."""
    regions = rng.sample(range(SIZE // REGION), nwrites)
    writes, lines = [], []
    for i, r in enumerate(regions):
        ln = rng.randrange(1, 256) * 512
        off = r * REGION + rng.randrange(0, (REGION - ln) // 512 + 1) * 512
        src = rng.randrange(0, (1 << 20) // 512) * 512
        writes.append((off, ln, src))
        lines.append(f"write {off} {ln} {data} {src}")
        if rng.random() < 0.4:
            lines.append("flush")
    return writes, "\n".join(lines) + "\nflush\n"


def run_writer(img, script_path, after_flushes, delay):
    """Start a writer, let it acknowledge `after_flushes` flushes, wait
    `delay` seconds more (it keeps writing), then SIGKILL it.  Returns the
    number of writes acknowledged by a completed flush, and the exit code."""
    acked = seen = 0
    with open(script_path) as stdin:
        p = subprocess.Popen([VIREO, "disk", "io", img], stdin=stdin,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        while seen < after_flushes:
            line = p.stdout.readline().decode()
            if not line:
                break
            if line.startswith("flushed "):
                acked = int(line.split()[1])
                seen += 1
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate()
    for line in out.decode().splitlines():
        if line.startswith("flushed "):
            acked = int(line.split()[1])
    return acked, p.returncode


def test_sigkill_writer(tmp_path):
    rng = random.Random(4242)
    data = tmp_path / "data.bin"
    make_data(data, 2 << 20, seed=99)
    sp = tmp_path / "script.txt"

    killed = leaky = 0
    deadline = time.monotonic() + 100
    for trial in range(TRIALS):
        assert time.monotonic() < deadline, "crash test is over its time budget"
        img = tmp_path / f"t{trial % 4}.qcow2"
        if img.exists():
            img.unlink()
        cluster = rng.choice(["4K", "64K", "512"])
        vireo("disk", "create", "--cluster-size", cluster, img, str(SIZE))
        writes, script = make_script(rng, data)
        sp.write_text(script)
        acked, rc = run_writer(img, sp, rng.randrange(0, script.count("flush") - 1),
                               rng.uniform(0, 0.003))
        killed += rc == -signal.SIGKILL
        chk = qemu_img("check", "--output=json", img, check=False)
        assert chk.returncode in (0, 3), f"trial {trial}: corruption\n{chk.stdout}{chk.stderr}"
        if chk.returncode == 3:
            leaky += 1
            assert json.loads(chk.stdout).get("corruptions", 0) == 0
            if trial % 5 == 0:
                r = vireo("disk", "check", "-r", img, check=False)
                assert r.returncode == 0, r.stdout + r.stderr
                assert qemu_img("check", img, check=False).returncode == 0
        verify = "".join(f"verify {o} {n} {data} {s}\n" for o, n, s in writes[:acked])
        r = vireo("disk", "io", img, input=verify, check=False)
        assert r.returncode == 0, f"trial {trial}: acknowledged write lost\n{r.stdout}{r.stderr}"
    assert killed >= TRIALS * 3 // 4, f"only {killed} of {TRIALS} writers were killed mid-run"
    print(f"{TRIALS} trials, {killed} killed mid-run, {leaky} left leaks")


def test_sigkill_vhd_writer(tmp_path):
    """The same for dynamic VHD (qemu-img has no vpc check): the image
    still opens, vireo's check finds no corruption, acknowledged writes
    read back, and qemu-img still reads it."""
    rng = random.Random(777)
    data = tmp_path / "data.bin"
    make_data(data, 2 << 20, seed=98)
    sp = tmp_path / "s.txt"
    killed = 0
    for trial in range(40):
        img = tmp_path / f"t{trial % 2}.vhd"
        if img.exists():
            img.unlink()
        vireo("disk", "create", "-f", "vhd", "--block-size", rng.choice(["4K", "64K", "2M"]),
              img, str(SIZE))
        writes, script = make_script(rng, data, nwrites=60)
        sp.write_text(script)
        acked, rc = run_writer(img, sp, rng.randrange(0, script.count("flush") - 1),
                               rng.uniform(0, 0.003))
        killed += rc == -signal.SIGKILL
        chk = vireo("disk", "check", "--json", img, check=False)
        assert chk.returncode == 0, f"trial {trial}: {chk.stdout}{chk.stderr}"
        verify = "".join(f"verify {o} {n} {data} {s}\n" for o, n, s in writes[:acked])
        r = vireo("disk", "io", img, input=verify, check=False)
        assert r.returncode == 0, f"trial {trial}: acknowledged write lost\n{r.stdout}{r.stderr}"
        assert qemu_img("info", "-f", "vpc", img, check=False).returncode == 0
    assert killed >= 30, f"only {killed} of 40 writers were killed mid-run"
