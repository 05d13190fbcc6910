# SPDX-License-Identifier: GPL-2.0-only
"""`vireo` and `vireo run` command-line behaviour: help, version, bad input."""
import os
import re

import pytest

from conftest import run


def test_version(vireo):
    r = run([vireo, "--version"])
    assert r.returncode == 0
    assert re.fullmatch(r"vireo \d+\.\d+\.\d+\n", r.stdout)


def test_help_lists_run(vireo):
    r = run([vireo, "--help"])
    assert r.returncode == 0
    assert "run" in r.stdout and "usage: vireo" in r.stdout


def test_run_help_documents_every_flag(vireo):
    r = run([vireo, "run", "--help"])
    assert r.returncode == 0
    for flag in ("--kernel", "--initrd", "--cmdline", "--memory", "--cpus", "--accel",
                 "--kernel-unpack", "--dump-state", "Ctrl-a x"):
        assert flag in r.stdout, flag


def test_unknown_command(vireo):
    r = run([vireo, "frobnicate"])
    assert r.returncode == 2
    assert "'frobnicate' is not a vireo command" in r.stderr


def one_line_error(r, status=1):
    assert r.returncode == status, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_unknown_flag(vireo):
    line = one_line_error(run([vireo, "run", "--bogus"]), status=2)
    assert "unknown or incomplete option '--bogus'" in line


def test_missing_kernel(vireo, tmp_path):
    line = one_line_error(run([vireo, "run", "--kernel", str(tmp_path / "nope")]))
    assert "cannot read kernel" in line and "No such file" in line


def test_unreadable_kernel(vireo, tmp_path):
    if os.geteuid() == 0:
        # root reads anything: use a directory, which is unreadable as a kernel.
        line = one_line_error(run([vireo, "run", "--kernel", str(tmp_path)]))
        assert "not a regular file" in line
    else:
        k = tmp_path / "k"
        k.write_bytes(b"x")
        k.chmod(0)
        line = one_line_error(run([vireo, "run", "--kernel", str(k)]))
        assert "Permission denied" in line


def test_not_a_kernel(vireo, tmp_path):
    k = tmp_path / "notes.txt"
    k.write_text("hello, I am not a kernel\n" * 100)
    line = one_line_error(run([vireo, "run", "--kernel", str(k)]))
    assert "not a kernel" in line


def test_truncated_bzimage(vireo, guest_dir, tmp_path):
    k = tmp_path / "vmlinuz.trunc"
    k.write_bytes((guest_dir / "vmlinuz").read_bytes()[:4096])
    line = one_line_error(run([vireo, "run", "--kernel", str(k)]))
    assert "truncated" in line


def test_missing_initrd(vireo, guest_dir, tmp_path):
    line = one_line_error(run([vireo, "run", "--kernel", str(guest_dir / "vmlinuz"),
                               "--initrd", str(tmp_path / "missing.img")]))
    assert "cannot read initrd" in line


def test_too_much_memory(vireo, guest_dir):
    line = one_line_error(run([vireo, "run", "--memory", "64T"]))
    assert "more than this host's" in line


def test_bad_memory_size(vireo):
    line = one_line_error(run([vireo, "run", "--memory", "lots"]), status=2)
    assert "--memory lots" in line


def test_bad_cpus(vireo):
    for bad in ("0", "65", "two"):
        line = one_line_error(run([vireo, "run", "--cpus", bad]), status=2)
        assert "--cpus" in line


def test_bad_accel(vireo):
    line = one_line_error(run([vireo, "run", "--accel", "xen"]), status=2)
    assert "choose auto, kvm or emu" in line


def test_bad_kernel_unpack(vireo):
    line = one_line_error(run([vireo, "run", "--kernel-unpack", "firmware"]), status=2)
    assert "--kernel-unpack firmware: choose host or guest" in line


def test_corrupt_payload_is_refused(vireo, guest_dir, tmp_path):
    """A bzImage whose payload does not unpack stops before the guest runs:
    the first LZ4 block claims more bytes than the payload has."""
    img = bytearray((guest_dir / "vmlinuz").read_bytes())
    setup = ((img[0x1f1] or 4) + 1) * 512
    payload = setup + int.from_bytes(img[0x248:0x24c], "little")
    if img[payload:payload + 4] != bytes.fromhex("02214c18"):
        pytest.skip("the default guest's kernel is not LZ4-compressed")
    img[payload + 4:payload + 8] = (0x7fffff00).to_bytes(4, "little")
    k = tmp_path / "vmlinuz.bad"
    k.write_bytes(img)
    line = one_line_error(run([vireo, "run", "--accel", "emu", "--kernel", str(k)]))
    assert "cannot unpack the kernel on the host: truncated LZ4 payload" in line


def test_default_guest_missing_is_explained(vireo, tmp_path):
    env = dict(os.environ, VIREO_GUEST_DIR=str(tmp_path))
    line = one_line_error(run([vireo, "run"], env=env))
    assert "make guest" in line


def test_accel_lists_backends(vireo):
    r = run([vireo, "accel"])
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("kvm ") and lines[1].startswith("emu ")
    assert lines[2].startswith("auto picks ")
    # The host's answer decides kvm's line: never "ok" without VT-x/AMD-V.
    hw = any(f in open("/proc/cpuinfo").read().split() for f in ("vmx", "svm"))
    if not hw:
        assert "ok" not in lines[0].split()[1]
