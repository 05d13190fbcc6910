# SPDX-License-Identifier: GPL-2.0-only
"""The tiny freestanding guests (guest/tiny/) under every CPU backend.

Each test runs once per backend (`kvm`, `emu`).  A backend that cannot run
VMs on this host or build is skipped with the reason `vireo accel` gives
(for emu: "not built yet" until it lands).  The same guest must print the
same lines and leave the same registers whichever backend runs it.
"""
import json
import os
import re
import time

import pexpect
import pytest

from conftest import BUILD, REPO, backend_unavailable, run

BACKENDS = ["kvm", "emu"]
TINY = BUILD / "guest" / "tiny"

# What regs.S loads before it writes 45 to the debug-exit port.
REGS_EXIT = 45
REGS_EXPECTED = {
    "rax": 0xa5a5a5a5a5a5a52d, "rbx": 0x0123456789abcdef,
    "rcx": 0xfedcba9876543210, "rdx": 0x1122334455660501,
    "rsi": 0x5555aaaa5555aaaa, "rdi": 0xdeadbeefcafef00d,
    "rbp": 0x0badc0de0badc0de, "rsp": 0x00007ffdeadbee00,
    "r8": 0x0808080808080808, "r9": 0x0909090909090909,
    "r10": 0x1010101010101010, "r11": 0x1111111111111111,
    "r12": 0x1212121212121212, "r13": 0x1313131313131313,
    "r14": 0x1414141414141414, "r15": 0x1515151515151515,
    # CF PF ZF SF DF and the fixed bit 1; IF clear.
    "rflags": 0x4c7,
}
SREGS_EXPECTED = {
    # PE MP ET NE WP PG
    "cr0": 0x80010033,
    # the tiny guests' PML4 (guest/tiny/tiny_layout.h TINY_PML4_GPA)
    "cr3": 0x100000,
    # PAE PGE OSFXSR OSXMMEXCPT
    "cr4": 0x6a0,
    # SCE LME LMA NXE
    "efer": 0xd01,
}
SEGS_EXPECTED = {
    "cs": {"selector": 0x08, "l": 1, "db": 0, "type": 11},
    "ds": {"selector": 0x20, "type": 3},
    "es": {"selector": 0x20, "type": 3},
    "ss": {"selector": 0x20, "type": 3},
    "fs": {"selector": 0x10, "base": 0x12345000},
    "gs": {"selector": 0x10, "base": 0},
}


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, vireo):
    why = backend_unavailable(vireo, request.param)
    if why:
        print(f"skipping the {request.param} backend: {why}")
        pytest.skip(f"{request.param} backend unavailable: {why}")
    return request.param


def tiny(name):
    elf = TINY / f"{name}.elf"
    if not elf.exists():
        pytest.fail(f"{elf} is missing: build first (ninja -C {BUILD})")
    return str(elf)


def run_tiny(vireo, backend, name, *args, timeout=60):
    t0 = time.monotonic()
    r = run([vireo, "run", "--accel", backend, "--kernel", tiny(name), *args],
            timeout=timeout)
    r.seconds = time.monotonic() - t0
    print(f"{name} under {backend}: exit {r.returncode} in {r.seconds:.3f} s")
    return r


def lines(r):
    return r.stdout.replace("\r", "").splitlines()


def test_hello(vireo, backend):
    r = run_tiny(vireo, backend, "hello", "--cmdline", "tiny says hi")
    assert r.returncode == 42, r.stderr
    out = lines(r)
    assert out[0] == "Hello from the vireo tiny guest", r.stdout
    assert 'hello: cmdline "tiny says hi"' in out
    assert "hello: exiting with 42" in out
    assert "guest wrote 42 to the debug-exit port" in r.stderr


def test_hello_smp_aps_wait_for_sipi(vireo, backend, tmp_path):
    """With --cpus 4 the BSP runs the guest; the APs stay in wait-for-SIPI,
    at the architectural reset state (Intel SDM Vol. 3 §10.1.1)."""
    dump = tmp_path / "state.json"
    r = run_tiny(vireo, backend, "hello", "--cpus", "4", "--dump-state", str(dump))
    assert r.returncode == 42, r.stderr
    vcpus = json.loads(dump.read_text())["vcpus"]
    assert [v["id"] for v in vcpus] == [0, 1, 2, 3]
    for ap in vcpus[1:]:
        assert int(ap["regs"]["rip"], 16) == 0xfff0
        assert int(ap["sregs"]["cs"]["selector"], 16) == 0xf000
        assert int(ap["sregs"]["cs"]["base"], 16) == 0xffff0000
        assert int(ap["sregs"]["cr0"], 16) & 1 == 0


def pci_header_ids():
    text = (REPO / "include" / "vireo" / "pci.h").read_text()
    vendor = int(re.search(r"#define PCI_HOST_VENDOR_ID (0x[0-9a-fA-F]+)", text)[1], 16)
    device = int(re.search(r"#define PCI_HOST_DEVICE_ID (0x[0-9a-fA-F]+)", text)[1], 16)
    return vendor, device


def test_pci_probe(vireo, backend):
    vendor, device = pci_header_ids()
    r = run_tiny(vireo, backend, "pci-probe")
    assert r.returncode == 43, r.stdout + r.stderr
    out = lines(r)
    assert (f"pci-probe: 00:00.0 vendor {vendor:04x} device {device:04x} class 06/00"
            in out), r.stdout
    assert f"pci-probe: host bridge {vendor:04x}:{device:04x} at 00:00.0" in out


def test_irq(vireo, backend):
    r = run_tiny(vireo, backend, "irq")
    out = lines(r)
    assert "irq: 3 timer interrupts on vector 32 (PIT, IRQ0)" in out, r.stdout + r.stderr
    assert r.returncode == 44, r.stdout + r.stderr
    assert any(re.fullmatch(r"irq: UART THRE interrupt on vector 36 \(COM1, IRQ4\), "
                            r"IIR [0-9a-f]2", l) for l in out), r.stdout


def test_irq_apic(vireo, backend):
    """The PIT through the IOAPIC pin the MADT names for ISA IRQ0 (the kvm
    backend's GSI routing must agree with it), COM1 through pin 4."""
    r = run_tiny(vireo, backend, "irq-apic")
    out = lines(r)
    assert "irq-apic: the MADT routes ISA IRQ0 to IOAPIC pin 2" in out, r.stdout + r.stderr
    assert "irq-apic: 3 timer interrupts on vector 48 (PIT, IOAPIC pin 2)" in out, r.stdout
    assert any(re.fullmatch(r"irq-apic: UART THRE interrupt on vector 52 \(COM1, IOAPIC "
                            r"pin 4\), IIR [0-9a-f]2", l) for l in out), r.stdout
    assert r.returncode == 47, r.stdout + r.stderr


def test_regs(vireo, backend, tmp_path):
    dump = tmp_path / "state.json"
    r = run_tiny(vireo, backend, "regs", "--dump-state", str(dump))
    assert r.returncode == REGS_EXIT, r.stdout + r.stderr
    m = re.search(r"regs: rip after the exit write is 0x([0-9a-f]+)", r.stdout)
    assert m, r.stdout
    state = json.loads(dump.read_text())
    assert len(state["vcpus"]) == 1
    cpu = state["vcpus"][0]
    regs = {k: int(v, 16) for k, v in cpu["regs"].items()}
    for name, want in REGS_EXPECTED.items():
        assert regs[name] == want, f"{name}: {regs[name]:#x} != {want:#x}"
    assert regs["rip"] == int(m[1], 16)
    sregs = cpu["sregs"]
    for name, want in SREGS_EXPECTED.items():
        assert int(sregs[name], 16) == want, f"{name}: {sregs[name]} != {want:#x}"
    for seg, fields in SEGS_EXPECTED.items():
        for field, want in fields.items():
            got = sregs[seg][field]
            got = int(got, 16) if isinstance(got, str) else got
            assert got == want, f"{seg}.{field}: {got:#x} != {want:#x}"


def spawn_spin(vireo, backend, *args):
    child = pexpect.spawn(vireo, ["run", "--accel", backend, "--kernel", tiny("spin"),
                                  *args], encoding="utf-8", codec_errors="replace",
                          timeout=30)
    child.logfile_read = open(os.environ.get("VIREO_CONSOLE_LOG", "/dev/null"), "a")
    return child


def finish(child, timeout=10):
    child.expect(pexpect.EOF, timeout=timeout)
    child.close()
    return child.exitstatus


@pytest.mark.parametrize("mode", ["spin", "hlt"])
def test_stop_and_pause_reach_a_busy_vcpu(vireo, backend, mode):
    """Ctrl-a p and Ctrl-a x must reach a vCPU spinning or halted with
    interrupts off (accel.h: vcpu_kick), and pause must really stop it."""
    child = spawn_spin(vireo, backend, "--cmdline", mode)
    if mode == "hlt":
        child.expect("spin: halting with interrupts off")
    else:
        child.expect("spin: spinning with interrupts off")
        child.expect(r"spin: \d+")
    t0 = time.monotonic()
    child.send("\x01p")
    child.expect(r"\[vireo: paused; C-a p resumes\]", timeout=5)
    print(f"{mode} under {backend}: paused in {time.monotonic() - t0:.3f} s")
    if mode == "spin":
        # Paused means no guest progress: no heartbeat for a while.
        with pytest.raises(pexpect.TIMEOUT):
            child.expect(r"spin: \d+", timeout=1.5)
    child.send("\x01p")
    child.expect(r"\[vireo: resumed\]", timeout=5)
    if mode == "spin":
        child.expect(r"spin: \d+", timeout=20)
    t0 = time.monotonic()
    child.send("\x01x")
    status = finish(child)
    print(f"{mode} under {backend}: stopped in {time.monotonic() - t0:.3f} s")
    assert status == 0


@pytest.mark.parametrize("ncpus", [1, 2, 4])
def test_smp_init_sipi(vireo, backend, tmp_path, ncpus):
    """The BSP wakes every AP with INIT-SIPI-SIPI through its local APIC; each
    runs the real-mode trampoline at 0x3000 and halts there."""
    dump = tmp_path / "state.json"
    r = run_tiny(vireo, backend, "smp", "--cpus", str(ncpus), "--dump-state", str(dump))
    out = lines(r)
    assert f"smp: the MADT lists {ncpus} CPU(s)" in out, r.stdout + r.stderr
    assert f"smp: {ncpus - 1} of {ncpus - 1} AP(s) ran the trampoline" in out, r.stdout
    assert r.returncode == 46, r.stderr
    vcpus = json.loads(dump.read_text())["vcpus"]
    assert len(vcpus) == ncpus
    for ap in vcpus[1:]:
        cs = ap["sregs"]["cs"]
        assert int(cs["selector"], 16) == 0x300 and int(cs["base"], 16) == 0x3000
        assert int(ap["sregs"]["cr0"], 16) & 1 == 0          # still real mode
        assert 0 < int(ap["regs"]["rip"], 16) < 0x20         # inside the trampoline


# Guests whose whole run is deterministic: same output, same final registers.
DETERMINISTIC = [("hello", ("--cmdline", "same on both")), ("pci-probe", ()), ("regs", ())]


@pytest.mark.parametrize("name,args", DETERMINISTIC, ids=[n for n, _ in DETERMINISTIC])
def test_backends_agree(vireo, tmp_path, name, args):
    """Differential test (shared EMU.md, "Knowing it is right"): the host's KVM
    and Vireo's emu are independent x86 implementations; the same guest must
    print the same and leave the same architectural state under both."""
    for b in BACKENDS:
        why = backend_unavailable(vireo, b)
        if why:
            print(f"skipping: needs both backends; {why}")
            pytest.skip(f"needs both backends: {why}")
    results = {}
    for b in BACKENDS:
        dump = tmp_path / f"{b}.json"
        r = run_tiny(vireo, b, name, *args, "--dump-state", str(dump))
        results[b] = (r.returncode, r.stdout, json.loads(dump.read_text()))
    (kst, kout, kstate), (est, eout, estate) = results["kvm"], results["emu"]
    assert kst == est
    assert kout == eout
    for kcpu, ecpu in zip(kstate["vcpus"], estate["vcpus"]):
        assert kcpu["regs"] == ecpu["regs"]
        for key in ("cs", "ds", "es", "fs", "gs", "ss", "cr0", "cr3", "cr4", "efer"):
            assert kcpu["sregs"][key] == ecpu["sregs"][key], key


def cpuid_leaves(stdout):
    """{(leaf, sub): (eax, ebx, ecx, edx)} and the vendor/brand strings."""
    leaves, names = {}, {}
    for l in stdout.replace("\r", "").splitlines():
        m = re.fullmatch(r"cpuid ([0-9a-f]{8})\.(\d+) ([0-9a-f]{8}) ([0-9a-f]{8}) "
                         r"([0-9a-f]{8}) ([0-9a-f]{8})", l)
        if m:
            leaves[(int(m[1], 16), int(m[2]))] = tuple(int(m[i], 16) for i in range(3, 7))
        m = re.fullmatch(r'cpuid (vendor|brand) "(.*)"', l)
        if m:
            names[m[1]] = m[2]
    return leaves, names


def test_cpuid_identity(vireo, backend):
    """Identification and topology come from the shared policy on every backend."""
    r = run_tiny(vireo, backend, "cpuid", "--cpus", "2")
    assert r.returncode == 48, r.stderr
    leaves, names = cpuid_leaves(r.stdout)
    assert names == {"vendor": "GenuineIntel", "brand": "Vireo virtual CPU"}
    assert leaves[(0, 0)][0] == 0xb
    assert leaves[(0x80000000, 0)][0] == 0x80000008
    assert leaves[(1, 0)][0] == 0x306a9
    assert leaves[(1, 0)][1] >> 24 == 0                      # the BSP's APIC ID
    assert leaves[(0x40000000, 0)][1:] == (0x4b4d564b, 0x564b4d56, 0x4d)  # KVMKVMKVM
    assert leaves[(0xb, 0)][1:3] == (1, 0x100)               # SMT level: 1 thread
    assert leaves[(0xb, 1)][1:3] == (2, 0x201)               # core level: --cpus 2


def test_cpuid_features_within_policy(vireo, tmp_path):
    """Under kvm the feature bits are the policy's (emu presents exactly the
    policy) intersected with the host's: never a bit the policy lacks.  A
    paravirtual KVM overrides the guest's CPUID with the host CPU's features;
    the backend detects that and says so, and this check is skipped there."""
    for b in BACKENDS:
        why = backend_unavailable(vireo, b)
        if why:
            pytest.skip(f"needs both backends: {why}")
    rk = run([vireo, "run", "-v", "--accel", "kvm", "--kernel", tiny("cpuid")])
    re_ = run([vireo, "run", "--accel", "emu", "--kernel", tiny("cpuid")])
    assert rk.returncode == re_.returncode == 48
    if "overrides the CPUID policy" in rk.stderr:
        why = [l for l in rk.stderr.splitlines() if "overrides the CPUID policy" in l][0]
        print(f"skipping: {why}")
        pytest.skip(f"this host's KVM overrides guest CPUID: {why}")
    kvm, _ = cpuid_leaves(rk.stdout)
    emu, _ = cpuid_leaves(re_.stdout)
    for leaf in [(1, 0), (7, 0), (0x80000001, 0), (0x80000007, 0), (0x40000001, 0)]:
        for i, reg in ((2, "ecx"), (3, "edx")) if leaf != (0x40000001, 0) else ((0, "eax"),):
            extra = kvm[leaf][i] & ~emu[leaf][i]
            assert not extra, f"leaf {leaf[0]:#x} {reg}: kvm adds {extra:#x}"


def test_kvmclock(vireo, backend):
    """kvmclock tells the real time and runs at the PIT's speed: 10 ticks at
    100 Hz take 100 ms on it (interrupt latency may add a little)."""
    before = time.time()
    r = run_tiny(vireo, backend, "kvmclock")
    after = time.time()
    assert r.returncode == 49, r.stdout + r.stderr
    now = re.search(r"kvmclock: now (\d+) s since the epoch", r.stdout)
    took = re.search(r"kvmclock: 10 PIT ticks took (\d+) us", r.stdout)
    assert now and took, r.stdout
    assert before - 2 <= int(now[1]) <= after + 2
    assert 90_000 <= int(took[1]) <= 500_000, took[0]


def test_halted_vcpu_sleeps(vireo, backend):
    """A vCPU halted with interrupts off costs no host CPU: kvm halts in the
    kernel, emu parks the thread (HLT must never busy-wait)."""
    child = spawn_spin(vireo, backend, "--cmdline", "hlt")
    child.expect("spin: halting with interrupts off")
    clk = os.sysconf("SC_CLK_TCK")

    def cpu_seconds():
        with open(f"/proc/{child.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / clk   # utime + stime

    c0, t0 = cpu_seconds(), time.monotonic()
    time.sleep(2)
    used = (cpu_seconds() - c0) / (time.monotonic() - t0)
    print(f"halted under {backend}: {used * 100:.1f} % of a host CPU")
    child.send("\x01x")
    assert finish(child) == 0
    assert used < 0.10
