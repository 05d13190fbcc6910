# SPDX-License-Identifier: GPL-2.0-only
"""Host-side bzImage unpacking (`vireo run --kernel-unpack host`, the default
for the Debian guest): the monitor decompresses the kernel, lays out its
segments and relocates it for a random KASLR base (src/arch/x86/kunpack.c).

The boots here run the unmodified Debian cloud kernel under the emu backend:
it reaches init, two boots land at different virtual bases, `nokaslr` keeps
the link address.  The interop check runs the kernel's own decompressor
under QEMU, stops it at startup_64 and compares what it wrote, byte for
byte, with what the monitor lays out: once without relocation (nokaslr) and
once for the random base that decompressor chose.
"""
import collections
import re
import shutil
import struct

import pytest

from conftest import BUILD, run
from test_guest_linux import BOOT_TIMEOUT, boot, poweroff, shell

CMDLINE = "console=ttyS0 panic=-1 cryptomgr.notests"
LINK_TEXT = 0xffffffff81000000          # __START_KERNEL_map + LOAD_PHYSICAL_ADDR
START_KERNEL_MAP = 0xffffffff80000000
KUNPACK_DUMP = BUILD / "tests" / "unit" / "arch" / "kunpack-dump"


def kallsyms_text(child):
    """The running kernel's _text, as /proc/kallsyms shows it to root."""
    shell(child, "echo 0 > /proc/sys/kernel/kptr_restrict")
    out = shell(child, "grep ' _text$' /proc/kallsyms").split()
    assert out and out[-1] == "_text", out
    return int(out[0], 16)


def boot_text(vireo, args=()):
    child = boot(vireo, list(args))
    try:
        text = kallsyms_text(child)
    except Exception:
        child.terminate(force=True)
        raise
    assert poweroff(child) == 0
    return text


def test_host_unpack_reaches_init(vireo, guest_dir, emu_ok):
    r = run([vireo, "run", "-v", "--accel", "emu", "--kernel-unpack", "host",
             "--kernel", str(guest_dir / "vmlinuz"),
             "--initrd", str(guest_dir / "initrd-bench.img"), "--cmdline", CMDLINE],
            timeout=BOOT_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert "vireo bench: init reached" in r.stdout
    m = re.search(r"boot: unpacked the (\w+) kernel on the host .*_text at (0x[0-9a-f]+)",
                  r.stderr)
    assert m, r.stderr
    text = int(m.group(2), 16)
    assert (text - START_KERNEL_MAP) % (2 << 20) == 0
    assert LINK_TEXT <= text < START_KERNEL_MAP + (1 << 30)


def test_kaslr_bases_differ(vireo, guest_dir, emu_ok):
    """Two boots, two bases (504 slots: a third boot if they collide)."""
    seen = []
    for _ in range(3):
        text = boot_text(vireo)
        assert (text - START_KERNEL_MAP) % (2 << 20) == 0, hex(text)
        assert LINK_TEXT <= text < START_KERNEL_MAP + (1 << 30), hex(text)
        seen.append(text)
        if len(set(seen)) == 2:
            return
    pytest.fail(f"three boots at the same base: {[hex(t) for t in seen]}")


def test_nokaslr_keeps_link_address(vireo, guest_dir, emu_ok):
    assert boot_text(vireo, ["--cmdline", CMDLINE + " nokaslr"]) == LINK_TEXT


# --- Interop: the kernel's own decompressor, under QEMU, as the reference. ---

def kunpack_dump(kernel, out, virt=None):
    """Run kunpack-dump; return its key/value lines and the PT_LOAD ranges."""
    args = [str(KUNPACK_DUMP), str(kernel), str(out)] + ([hex(virt)] if virt else [])
    r = run(args, timeout=120)
    assert r.returncode == 0, r.stderr
    info, segs = {}, []
    for line in r.stdout.splitlines():
        key, *vals = line.split()
        if key == "segment":
            segs.append(tuple(int(v, 16) for v in vals))
        else:
            info[key] = vals[0]
    return info, segs


def qemu_decompress(kernel, cmdline, mem_mb, entry, size, out):
    """Boot kernel under QEMU (TCG), stop at startup_64, save [entry, +size)."""
    qemu = (f"exec qemu-system-x86_64 -M pc -accel tcg -m {mem_mb} -display none "
            f"-serial null -monitor none -no-reboot -nodefaults -S -gdb stdio "
            f"-kernel {kernel} -append '{cmdline}'")
    r = run(["gdb", "-batch", "-nx", "-ex", f"target remote | {qemu}",
             "-ex", f"hbreak *{entry:#x}", "-ex", "continue",
             "-ex", f'monitor pmemsave {entry:#x} {size:#x} "{out}"', "-ex", "kill"],
            timeout=300)
    assert out.exists(), r.stdout + r.stderr


def first_difference(a, b, segs):
    for off, size in segs:
        if a[off:off + size] != b[off:off + size]:
            i = next(i for i in range(size) if a[off + i] != b[off + i])
            return off + i
    return None


def kaslr_delta(unrelocated, relocated, segs):
    """The virtual offset the decompressor applied: the commonest difference
    of changed 32-bit words that is a multiple of 2 MiB (in the first MiB of
    text: thousands of relocations, a fraction of a second)."""
    diffs = collections.Counter()
    off, size = segs[0]
    for o in range(off, off + min(size, 1 << 20) - 4, 4):
        a, = struct.unpack_from("<I", unrelocated, o)
        b, = struct.unpack_from("<I", relocated, o)
        if a != b and (b - a) % (2 << 20) == 0:
            diffs[(b - a) & 0xffffffff] += 1
    return diffs.most_common(1)[0][0] if diffs else 0


@pytest.mark.skipif(not shutil.which("qemu-system-x86_64") or not shutil.which("gdb"),
                    reason="needs qemu-system-x86_64 and gdb (apt-get install "
                           "qemu-system-x86 gdb)")
def test_same_bytes_as_kernel_decompressor(guest_dir, tmp_path):
    kernel = guest_dir / "vmlinuz"
    if not KUNPACK_DUMP.exists():
        pytest.fail(f"{KUNPACK_DUMP} is missing: build first")
    info, segs = kunpack_dump(kernel, tmp_path / "host0.bin")
    # Debian's vmlinux.bin is laid out for an unpack in guest RAM (boot.c).
    assert info["in_place"] == "yes"
    load, size = int(info["load_phys"], 16), int(info["image_size"], 16)
    entry = load + int(info["entry"], 16)
    host0 = (tmp_path / "host0.bin").read_bytes()

    # nokaslr: no relocation, the kernel at LOAD_PHYSICAL_ADDR.
    qemu_decompress(kernel, "console=ttyS0 nokaslr", 512, entry, size, tmp_path / "q0.bin")
    at = first_difference(host0, (tmp_path / "q0.bin").read_bytes(), segs)
    assert at is None, f"differs from the kernel's decompressor at +{at:#x}"

    # KASLR with too little RAM for another physical slot: the decompressor
    # keeps the kernel at LOAD_PHYSICAL_ADDR and randomizes only the virtual
    # base.  Relocate for the same base on the host and compare.
    mem_mb = (load + size) // (1 << 20) + 16
    for _ in range(2):
        qemu_decompress(kernel, "console=ttyS0", mem_mb, entry, size, tmp_path / "q1.bin")
        q1 = (tmp_path / "q1.bin").read_bytes()
        delta = kaslr_delta(host0, q1, segs)
        if delta:
            break
    assert delta, "the kernel's decompressor chose no KASLR offset twice"
    kunpack_dump(kernel, tmp_path / "host1.bin", load + delta)
    at = first_difference((tmp_path / "host1.bin").read_bytes(), q1, segs)
    assert at is None, f"relocated for +{delta:#x}: differs at +{at:#x}"
