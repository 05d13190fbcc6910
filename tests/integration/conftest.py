# SPDX-License-Identifier: GPL-2.0-only
"""Shared fixtures for Vireo's integration tests."""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("VIREO_BUILD", REPO / "build"))


@pytest.fixture(scope="session")
def vireo():
    exe = BUILD / "vireo"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: build first (make build)")
    return str(exe)


@pytest.fixture(scope="session")
def guest_dir():
    d = BUILD / "guest"
    if not (d / "vmlinuz").exists():
        pytest.fail(f"{d}/vmlinuz is missing: run `make guest`")
    return d


def run(args, **kw):
    """Run a command with a timeout; return CompletedProcess with text output."""
    kw.setdefault("timeout", 60)
    return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def backend_unavailable(vireo, name):
    """The `vireo accel` line saying why backend `name` cannot run here, or None."""
    r = run([vireo, "accel"], timeout=30)
    for line in r.stdout.splitlines():
        if line.startswith(name + " ") and "unavailable" in line:
            return line
    return None


@pytest.fixture(scope="module")
def emu_ok(vireo, guest_dir):
    """Skip, with `vireo accel`'s reason, where the emu backend cannot start VMs."""
    why = backend_unavailable(vireo, "emu")
    if why:
        pytest.skip(f"emu backend unavailable: {why}")
