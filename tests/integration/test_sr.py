# SPDX-License-Identifier: GPL-2.0-only
"""`vireo sr`: repositories in a SQLite inventory under $VIREO_STATE_DIR,
their disks with size, allocation and parent."""
import json
import os
import sqlite3

from test_disk_lib import vireo


def env(tmp_path):
    e = dict(os.environ)
    e["VIREO_STATE_DIR"] = str(tmp_path / "state")
    return e


def test_sr_create_list_disks(tmp_path):
    e = env(tmp_path)
    local, shared = tmp_path / "local", tmp_path / "nfsmnt"
    shared.mkdir()
    out = json.loads(vireo("sr", "create", "--type", "dir", "--json", "local", local, env=e).stdout)
    assert out["type"] == "dir" and out["path"] == str(local) and not out["shared"]
    assert local.is_dir()                     # created for a dir SR
    vireo("sr", "create", "--type", "nfs", "shared", shared, env=e)
    lst = json.loads(vireo("sr", "list", "--json", env=e).stdout)
    assert [(s["name"], s["type"], s["shared"]) for s in lst] == [
        ("local", "dir", False), ("shared", "nfs", True)]
    assert "local" in vireo("sr", "list", env=e).stdout

    vireo("disk", "create", local / "base.qcow2", "1G")
    vireo("disk", "io", local / "base.qcow2", input="fill 0 2M 1\n")
    vireo("disk", "clone", local / "base.qcow2", local / "vm1.qcow2")
    vireo("disk", "create", "-f", "vhd", local / "data.vhd", "100M")
    vireo("disk", "create", "-f", "raw", local / "scratch.img", "10M")
    (local / "notes.txt").write_text("not a disk")
    (local / "broken.qcow2").write_bytes(b"QFI\xfb\0\0\0\3")
    got = json.loads(vireo("sr", "disks", "--json", "local", env=e).stdout)
    disks = {d["name"]: d for d in got["disks"]}
    assert set(disks) == {"base.qcow2", "vm1.qcow2", "data.vhd", "scratch.img", "broken.qcow2"}
    assert disks["vm1.qcow2"]["parent"] == "base.qcow2"
    assert disks["base.qcow2"]["parent"] is None
    assert disks["base.qcow2"]["virtual-size"] == 1 << 30
    assert disks["base.qcow2"]["allocated"] >= 2 << 20
    assert disks["vm1.qcow2"]["allocated"] < 1 << 20
    assert disks["data.vhd"]["format"] == "vhd"
    assert disks["scratch.img"]["format"] == "raw"
    assert disks["broken.qcow2"]["error"]
    text = vireo("sr", "disks", "local", env=e).stdout
    assert "vm1.qcow2" in text and "base.qcow2" in text

    # The inventory is a real SQLite database.
    db = sqlite3.connect(tmp_path / "state" / "storage.db")
    names = sorted(r[0] for r in db.execute(
        "SELECT vdi.name FROM vdi JOIN sr ON sr.uuid = vdi.sr_uuid WHERE sr.name = 'local'"))
    assert names == sorted(disks)
    db.close()


def test_sr_errors(tmp_path):
    e = env(tmp_path)
    vireo("sr", "create", "a", tmp_path / "a", env=e)
    p = vireo("sr", "create", "a", tmp_path / "b", env=e, check=False)
    assert p.returncode == 1 and "already exists" in p.stderr
    p = vireo("sr", "create", "--type", "nfs", "n", tmp_path / "missing", env=e, check=False)
    assert p.returncode == 1 and "mount the NFS export" in p.stderr
    p = vireo("sr", "create", "--type", "iscsi", "x", tmp_path, env=e, check=False)
    assert p.returncode == 2
    p = vireo("sr", "disks", "nope", env=e, check=False)
    assert p.returncode == 1 and "no repository" in p.stderr
    vireo("sr", "forget", "a", env=e)
    assert json.loads(vireo("sr", "list", "--json", env=e).stdout) == []
    assert (tmp_path / "a").is_dir()          # files are left alone
