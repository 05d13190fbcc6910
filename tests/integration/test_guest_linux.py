# SPDX-License-Identifier: GPL-2.0-only
"""The main job: the default Debian guest boots to a shell and does real work.

These boot the unmodified Debian cloud kernel with the default initrd under
the emu backend (the only one that runs Linux on hosts without VT-x/AMD-V),
type commands on the serial console with pexpect, and check the answers
against the host's.  They skip, saying why, while `vireo run --accel emu`
cannot start a VM on this build.
"""
import gzip
import hashlib
import os
import re
import subprocess
import time

import pexpect

from conftest import run

BOOT_TIMEOUT = int(os.environ.get("VIREO_BOOT_TIMEOUT", "240"))
PROMPT = "vireo:"


def boot(vireo, args=(), timeout=BOOT_TIMEOUT):
    child = pexpect.spawn(vireo, ["run", "--accel", "emu", *args], encoding="utf-8",
                          codec_errors="replace", timeout=timeout, dimensions=(50, 200))
    child.logfile_read = open(os.environ.get("VIREO_CONSOLE_LOG", "/tmp/vireo-console.log"), "a")
    child.expect("vireo guest ready")
    child.expect(PROMPT)
    # A serial line has no window size: tell the shell's line editor, so long
    # command lines are not wrapped and redrawn.
    child.sendline("stty cols 1000")
    child.expect(PROMPT)
    return child


def shell(child, cmd, timeout=60):
    """Run cmd in the guest shell; return its output (between echo and prompt)."""
    marker = f"__d{time.monotonic_ns() % 100000}__"
    child.sendline(f"{cmd}; echo {marker}")
    child.expect(marker + r"\r*\n", timeout=timeout)   # the echo of our command line
    child.expect(marker, timeout=timeout)              # the marker printed after cmd
    out = child.before
    child.expect(PROMPT, timeout=timeout)
    return out.replace("\r", "")


def poweroff(child):
    child.sendline("poweroff")
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    return child.exitstatus


def busybox_from_initrd(guest_dir):
    """The busybox binary inside the default initrd, extracted on the host."""
    data = gzip.decompress((guest_dir / "initrd.img").read_bytes())
    out = subprocess.run(["cpio", "-i", "--quiet", "--to-stdout", "bin/busybox"],
                         input=data, capture_output=True, check=True)
    assert len(out.stdout) > 100000, "busybox not found in the initrd"
    return out.stdout


def test_default_guest_shell(vireo, guest_dir, emu_ok):
    child = boot(vireo)
    try:
        kver = (guest_dir / "kernel-version").read_text().strip()
        assert shell(child, "uname -r").strip() == kver

        cpuinfo = shell(child, "cat /proc/cpuinfo")
        assert re.search(r"^processor\s*:\s*0$", cpuinfo, re.M)
        assert "sse2" in cpuinfo and " lm " in cpuinfo + " "
        assert " mmx " in cpuinfo                   # the x86-64-v1 baseline
        # IA32_ARCH_CAPABILITIES says the interpreter does not speculate:
        # no Meltdown (so no page-table isolation), MDS, SSB, L1TF.
        flags = re.search(r"^flags\s*:(.*)$", cpuinfo, re.M).group(1).split()
        bugs = re.search(r"^bugs\s*:(.*)$", cpuinfo, re.M).group(1).split()
        assert "arch_capabilities" in flags and "pti" not in flags
        for bug in ("cpu_meltdown", "mds", "spec_store_bypass", "l1tf", "itlb_multihit",
                    "its"):
            assert bug not in bugs, bugs
        # ITS_NO: no aligned ITS thunks, and no return thunk at all (no
        # retbleed either), so returns are patched back to plain RET.
        vuln = "/sys/devices/system/cpu/vulnerabilities"
        assert shell(child, f"cat {vuln}/indirect_target_selection").strip() == "Not affected"
        assert shell(child, f"cat {vuln}/retbleed").strip() == "Not affected"
        assert shell(child, f"cat {vuln}/spectre_v2").strip().startswith("Mitigation: Retpolines;")
        log = shell(child, "dmesg")
        assert "Spectre V2 : Mitigation: Retpolines" in log
        assert "return thunk" not in log and "ITS:" not in log, log

        assert shell(child, "echo $(( (123456789 * 987) % 1000003 + 2**20 ))").strip() == \
            str((123456789 * 987) % 1000003 + 2**20)

        host = hashlib.sha256(busybox_from_initrd(guest_dir)).hexdigest()
        guest = shell(child, "sha256sum /bin/busybox", timeout=120).split()[0]
        assert guest == host

        # Timer interrupts: three one-second sleeps take three seconds, not zero.
        t0 = time.monotonic()
        out = shell(child, "for i in 1 2 3; do sleep 1; echo tick$i; done", timeout=60)
        elapsed = time.monotonic() - t0
        assert out.split() == ["tick1", "tick2", "tick3"]
        assert 2.5 < elapsed < 30, elapsed
    except Exception:
        child.terminate(force=True)
        raise
    assert poweroff(child) == 0


def test_two_cpus(vireo, guest_dir, emu_ok):
    child = boot(vireo, ["--cpus", "2"])
    try:
        assert shell(child, "grep -c ^processor /proc/cpuinfo").strip() == "2"
        assert shell(child, "cat /sys/devices/system/cpu/online").strip() == "0-1"
    except Exception:
        child.terminate(force=True)
        raise
    assert poweroff(child) == 0


def test_ctrl_a_x_quits(vireo, guest_dir, emu_ok):
    child = boot(vireo)
    child.send("\x01x")
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0


def test_kernel_self_tests_and_clean_log(vireo, guest_dir, emu_ok):
    """With the crypto self-tests on, the kernel checks hundreds of algorithms
    (SSE2 and integer paths) on our CPU; the log has no failures or splats."""
    r = run([vireo, "run", "--accel", "emu", "--kernel", str(guest_dir / "vmlinuz"),
             "--initrd", str(guest_dir / "initrd-bench.img"),
             "--cmdline", "console=ttyS0 panic=-1"], timeout=BOOT_TIMEOUT)
    log = r.stdout
    assert r.returncode == 0, r.stderr
    assert "vireo bench: init reached" in log
    assert "alg: self-tests for" in log             # they ran
    bad = [l for l in log.splitlines()
           if re.search(r"alg: .*(fail|error)|WARNING:|BUG:|Oops|Call Trace|"
                        r"unchecked MSR|Unknown (NMI|interrupt)|spurious", l, re.I)]
    assert not bad, "\n".join(bad[:20])
