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
