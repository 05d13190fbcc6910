# SPDX-License-Identifier: GPL-2.0-only
"""Backend selection as the kvm backend sees it: `--accel kvm` on hosts with
and without hardware virtualization, and what `--accel auto` picks."""
import os
import re

import pytest

from conftest import BUILD, run

HELLO = BUILD / "guest" / "tiny" / "hello.elf"


def host_has_hw_virt():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                if "vmx" in flags or "svm" in flags:
                    return True
    return False


def kvm_usable():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


@pytest.fixture
def hello():
    if not HELLO.exists():
        pytest.fail(f"{HELLO} is missing: build first")
    return str(HELLO)


def accel_lines(vireo):
    r = run([vireo, "accel"])
    assert r.returncode == 0, r.stderr
    return {l.split()[0]: l for l in r.stdout.splitlines()}


def test_accel_reports_kvm_honestly(vireo):
    kvm = accel_lines(vireo)["kvm"]
    if not kvm_usable():
        assert "unavailable" in kvm and "/dev/kvm" in kvm
    elif host_has_hw_virt():
        assert re.match(r"kvm\s+ok\b", kvm), kvm
    else:
        assert re.match(r"kvm\s+slow\s+no vmx/svm in /proc/cpuinfo", kvm), kvm
        assert "one instruction at a time" in kvm


def test_auto_picks_kvm_only_with_hw_virt(vireo):
    r = run([vireo, "accel"])
    auto = [l for l in r.stdout.splitlines() if l.startswith("auto picks")]
    assert len(auto) == 1, r.stdout
    if host_has_hw_virt() and kvm_usable():
        assert auto[0] == "auto picks kvm"
    else:
        assert "kvm" not in auto[0].split(":")[0], auto[0]
        assert auto[0] == "auto picks emu" or "emu" in auto[0], auto[0]


def test_kvm_without_hw_virt_warns(vireo, hello):
    if not kvm_usable():
        pytest.skip("no usable /dev/kvm on this host")
    r = run([vireo, "run", "--accel", "kvm", "--kernel", hello])
    assert r.returncode == 42, r.stderr
    warned = "emulates guest kernel code one instruction at a time" in r.stderr
    if host_has_hw_virt():
        assert not warned, r.stderr
    else:
        assert warned, r.stderr


def test_auto_without_emu_says_why(vireo, hello):
    """Until the emu backend lands, auto on a host without VT-x/AMD-V fails
    with a reason a person can act on instead of silently using PVM."""
    lines = accel_lines(vireo)
    if host_has_hw_virt() or "unavailable" not in lines["emu"]:
        pytest.skip("auto has a backend to pick on this host and build")
    r = run([vireo, "run", "--kernel", hello])
    assert r.returncode == 1
    assert "emu backend is not built yet" in r.stderr
    assert "--accel kvm" in r.stderr


def test_kvm_guest_internal_error_is_reported(vireo, tmp_path):
    """A guest the CPU cannot run ends the VM with a logged reason, not a hang:
    a PVH kernel whose entry point is outside guest RAM faults at once."""
    if not kvm_usable():
        pytest.skip("no usable /dev/kvm on this host")
    elf = bytearray(HELLO.read_bytes())
    # Point the PVH note's entry at 0xfffff000: nothing mapped there (it reads
    # as all ones, an invalid opcode stream with no IDT): a triple fault.
    import struct
    e_phoff, = struct.unpack_from("<Q", elf, 0x20)
    e_phnum, = struct.unpack_from("<H", elf, 0x38)
    for i in range(e_phnum):
        p_type, _, p_offset = struct.unpack_from("<IIQ", elf, e_phoff + i * 56)
        if p_type == 4:  # PT_NOTE
            namesz, descsz, ntype = struct.unpack_from("<III", elf, p_offset)
            assert ntype == 18 and namesz == 4
            struct.pack_into("<I", elf, p_offset + 12 + 4, 0xfffff000)
    bad = tmp_path / "bad.elf"
    bad.write_bytes(bytes(elf))
    r = run([vireo, "run", "--accel", "kvm", "--kernel", str(bad)], timeout=30)
    assert r.returncode != 0
    assert r.returncode != 42
    assert re.search(r"triple fault|internal error|shut down", r.stderr), r.stderr


def test_kvm_enters_linux(vireo, tmp_path):
    """The default guest's Linux kernel under kvm: the loader's 64-bit entry
    state is accepted (no VM-entry failure, no internal error), the kernel
    runs (RIP leaves the entry point, still in long mode), and Ctrl-a x stops
    it.  On a PVM host it gets nowhere near a prompt: that is the emu
    backend's job there."""
    import pexpect
    import json
    if not kvm_usable():
        pytest.skip("no usable /dev/kvm on this host")
    kernel = BUILD / "guest" / "vmlinuz"
    if not kernel.exists():
        pytest.skip(f"{kernel} is not built (make guest)")
    dump = tmp_path / "state.json"
    child = pexpect.spawn(vireo, ["run", "--accel", "kvm", "--kernel", str(kernel),
                                  "--dump-state", str(dump)],
                          encoding="utf-8", codec_errors="replace", timeout=30)
    with pytest.raises(pexpect.TIMEOUT):
        child.expect(["internal error", "VM entry failed", "triple fault"], timeout=5)
    child.send("\x01x")
    child.expect(pexpect.EOF, timeout=15)
    child.close()
    assert child.exitstatus == 0, child.before
    cpu = json.loads(dump.read_text())["vcpus"][0]
    assert cpu["sregs"]["cs"]["l"] == 1
    assert int(cpu["regs"]["rip"], 16) != 0x1000200   # bzImage 64-bit entry
