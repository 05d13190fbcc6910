# SPDX-License-Identifier: GPL-2.0-only
"""Helpers shared by the storage integration tests (no tests here)."""
import json
import os
import random
import resource
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VIREO_BUILD", os.path.join(REPO, "build"))
VIREO = os.path.join(BUILD, "vireo")

# Hostile-file runs get this much address space; more means a bug.
MEM_LIMIT = 1 << 30


def _limit_memory():
    # AddressSanitizer reserves terabytes of address space: no limit there.
    if not os.environ.get("VIREO_TEST_ASAN"):
        resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))


def vireo(*args, check=True, input=None, env=None, limit=False, timeout=120):
    """Run the vireo binary; returns CompletedProcess with text output."""
    p = subprocess.run([VIREO, *map(str, args)], capture_output=True, text=True,
                       input=input, env=env, timeout=timeout,
                       preexec_fn=_limit_memory if limit else None)
    if check and p.returncode != 0:
        raise AssertionError(f"vireo {' '.join(map(str, args))} -> {p.returncode}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def vireo_json(*args, **kw):
    return json.loads(vireo(*args, "--json", **kw).stdout)


def qemu_img(*args, check=True):
    p = subprocess.run(["qemu-img", *map(str, args)], capture_output=True, text=True,
                       timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"qemu-img {' '.join(map(str, args))} -> {p.returncode}\n"
                             f"{p.stdout}{p.stderr}")
    return p


def qemu_io(img, cmds, fmt=None):
    args = ["qemu-io"]
    if fmt:
        args += ["-f", fmt]
    for c in cmds:
        args += ["-c", c]
    subprocess.run(args + [str(img)], check=True, capture_output=True, timeout=120)


def qemu_check_clean(img):
    p = qemu_img("check", "--output=json", img, check=False)
    assert p.returncode == 0, f"qemu-img check {img}: {p.stdout}{p.stderr}"
    return json.loads(p.stdout)


def random_writes(seed, size, count, max_len=256 * 1024, align=512):
    """A fixed-seed list of (offset, length) writes inside `size` bytes."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        length = rng.randrange(1, max_len // align + 1) * align
        off = rng.randrange(0, (size - length) // align + 1) * align
        out.append((off, length))
    return out


def make_data(path, nbytes, seed):
    rng = random.Random(seed)
    with open(path, "wb") as f:
        f.write(rng.randbytes(nbytes))


def apply_writes(img, writes, data_file, fmt=None, flush_every=0):
    """Write `writes` into img through `vireo disk io`, data from data_file
    (write i takes bytes at i * 4096 of the data file)."""
    lines = []
    for i, (off, length) in enumerate(writes):
        lines.append(f"write {off} {length} {data_file} {(i * 4096) % (1 << 20)}")
        if flush_every and (i + 1) % flush_every == 0:
            lines.append("flush")
    args = ["disk", "io"] + (["-f", fmt] if fmt else []) + [img]
    vireo(*args, input="\n".join(lines) + "\n")


def reference_raw(path, size, writes, data_file):
    """The raw image the same writes produce, built in Python."""
    data = open(data_file, "rb").read()
    buf = bytearray(size)
    for i, (off, length) in enumerate(writes):
        src = (i * 4096) % (1 << 20)
        buf[off:off + length] = data[src:src + length]
    with open(path, "wb") as f:
        f.write(buf)


def export_raw(img, out):
    """Everything vireo reads from img, as a raw file."""
    vireo("disk", "convert", "-O", "raw", "--flatten", img, out)
    return open(out, "rb").read()
