# SPDX-License-Identifier: GPL-2.0-only
"""Integration tests of `vireo switch` with real traffic.

Endpoints are kernel network stacks in network namespaces, each behind a
tap interface that `vireo switch attach` bridges onto a switch port (the
same net_port API a VM's virtio-net uses).  Tests that need namespaces skip
when not root.  The NAT tests that speak raw frames over a SOCK_SEQPACKET
port need no privilege.  All traffic stays on loopback or inside the
namespaces created here.
"""
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VIREO_BUILD", os.path.join(ROOT, "build"))
VIREO = os.path.join(BUILD, "vireo")

IS_ROOT = os.geteuid() == 0
HAS_IP = shutil.which("ip") is not None
needs_netns = pytest.mark.skipif(not (IS_ROOT and HAS_IP and os.path.exists("/dev/net/tun")),
                                 reason="needs root, iproute2 and /dev/net/tun for "
                                        "network namespaces and taps")


def run(*args, check=True, timeout=30, **kw):
    r = subprocess.run(list(args), check=False, timeout=timeout, capture_output=True,
                       text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d: %s%s" % (" ".join(args), r.returncode, r.stdout,
                                                     r.stderr))
    return r


def ctl(sock_path, req, fds=False):
    """One control request over the switch's SOCK_SEQPACKET socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock_path)
    s.send(json.dumps(req).encode())
    reply = json.loads(s.recv(1 << 22))
    s.close()
    return reply


class Env:
    """Switch processes, namespaces and helpers, torn down at the end."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.tag = "%x" % (os.getpid() & 0xffff)
        self.env = dict(os.environ, VIREO_RUN_DIR=tmp)
        self.procs = []
        self.switches = []
        self.netns = []
        self.counter = 0

    def name(self, prefix):
        self.counter += 1
        return "%s%s%d" % (prefix, self.tag, self.counter)

    def spawn(self, *args, ns=None):
        """Run vireo with args, inside network namespace ns if given."""
        cmd = [VIREO] + list(args)
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        p = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def wait_line(self, p, what, timeout=10):
        """Read p's stdout until a line containing `what`."""
        end = time.time() + timeout
        while time.time() < end:
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                line = p.stdout.readline()
                if what in line:
                    return line
                if not line and p.poll() is not None:
                    break
        raise AssertionError("no '%s' from %s: %s" % (what, p.args, p.stderr.read()
                                                       if p.poll() is not None else ""))

    def switch(self, *args, ns=None):
        """A switch process (in namespace ns: its tap uplink appears there)."""
        name = self.name("s")
        sock = os.path.join(self.tmp, name + ".sock")
        p = self.spawn("switch", "--name", name, "--socket", sock, *args, ns=ns)
        self.wait_line(p, "listening on")
        self.switches.append(p)
        return sock

    def ns(self):
        n = self.name("vswns")
        run("ip", "netns", "add", n)
        self.netns.append(n)
        self.nsexec(n, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1")
        self.nsexec(n, "ip", "link", "set", "lo", "up")
        return n

    def nsexec(self, ns, *args, check=True, timeout=30):
        return run("ip", "netns", "exec", ns, *args, check=check, timeout=timeout)

    def endpoint(self, sock, addr, group=None, mac=None, prefix=24):
        """A namespace whose interface is a port on the switch at sock.

        `vireo switch attach` runs inside the namespace, so its tap is
        created there and never exists in the host's namespace; the switch
        is reached through its unix socket, which namespaces do not split.
        """
        ns = self.ns()
        tap = self.name("vt")
        args = ["switch", "attach", "--socket", sock, "--tap", tap]
        if group:
            args += ["--group", group]
        if mac:
            args += ["--mac", mac]
        p = self.spawn(*args, ns=ns)
        line = self.wait_line(p, "attached")
        port = int(line.split("port ")[1].split(",")[0])
        if addr:
            self.nsexec(ns, "ip", "addr", "add", "%s/%d" % (addr, prefix), "dev", tap)
        return ns, tap, port, p

    def close(self):
        """Stop everything; a switch must exit 0 on SIGTERM with a clean stderr."""
        problems = []
        for p in self.switches + self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                problems.append("%s did not stop on SIGTERM" % p.args)
            err = p.stderr.read()
            if p in self.switches and p.returncode != 0:
                problems.append("switch exited %d: %s" % (p.returncode, err))
            if "Sanitizer" in err or "runtime error" in err:
                problems.append("%s: %s" % (p.args, err))
            p.stdout.close()
            p.stderr.close()
        for n in self.netns:
            run("ip", "netns", "del", n, check=False)
        return problems


@pytest.fixture
def env():
    assert os.path.exists(VIREO), "build vireo first (VIREO_BUILD=%s)" % BUILD
    tmp = tempfile.mkdtemp(prefix="vireo-sw-")
    e = Env(tmp)
    yield e
    problems = e.close()
    shutil.rmtree(tmp, ignore_errors=True)
    assert not problems, problems


def port_stats(sock, port_id):
    for p in ctl(sock, {"cmd": "ports"})["ports"]:
        if p["id"] == port_id:
            return p["stats"]
    return None


def if_rx_packets(env, ns, ifname):
    out = env.nsexec(ns, "cat", "/sys/class/net/%s/statistics/rx_packets" % ifname).stdout
    return int(out)


TCP_SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
data = b""
while not data.endswith(b"\n"):
    chunk = c.recv(65536)
    if not chunk: break
    data += chunk
c.sendall(b"echo:" + str(len(data)).encode() + b"\n")
c.close()
"""

TCP_CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(b"x" * int(sys.argv[3]) + b"\n")
print(c.recv(100).decode().strip())
"""


def tcp_roundtrip(env, server_ns, server_addr, client_ns, client_addr, port, size=200000):
    """Echo size bytes over TCP from client_ns to server_ns; return the reply."""
    srv_cmd = ["python3", "-c", TCP_SERVER, server_addr, str(port)]
    if server_ns:
        srv_cmd = ["ip", "netns", "exec", server_ns] + srv_cmd
    srv = subprocess.Popen(srv_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert srv.stdout.readline().strip() == "ready", srv.stderr.read()
        cli_cmd = ["python3", "-c", TCP_CLIENT, client_addr, str(port), str(size)]
        if client_ns:
            cli_cmd = ["ip", "netns", "exec", client_ns] + cli_cmd
        out = run(*cli_cmd).stdout.strip()
    finally:
        srv.kill()
        srv.wait()
        srv.stdout.close()
        srv.stderr.close()
    return out


@needs_netns
def test_ping_tcp_and_vlan_isolation(env):
    sock = env.switch("--group", "red,vlan=10", "--group", "blue,vlan=20")
    a_ns, a_if, a_port, _ = env.endpoint(sock, "10.77.0.1", group="red")
    b_ns, b_if, b_port, _ = env.endpoint(sock, "10.77.0.2", group="red")
    c_ns, c_if, c_port, _ = env.endpoint(sock, "10.77.0.3", group="blue")
    c_rx_before = if_rx_packets(env, c_ns, c_if)

    r = env.nsexec(a_ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.2", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0% packet loss" in r.stdout
    assert tcp_roundtrip(env, b_ns, "10.77.0.2", a_ns, "10.77.0.2", 5001) == "echo:200001"

    # The blue endpoint saw nothing of red's traffic, and reaches nobody.
    assert port_stats(sock, c_port)["tx_frames"] == 0
    assert if_rx_packets(env, c_ns, c_if) == c_rx_before
    r = env.nsexec(c_ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.77.0.2", check=False)
    assert r.returncode != 0
    st_b = port_stats(sock, b_port)
    assert st_b["rx_frames"] > 20 and st_b["tx_frames"] > 100
    # Blue's ARP broadcasts on VLAN 20 never reached red either.
    a_tx = port_stats(sock, a_port)["tx_frames"]
    env.nsexec(c_ns, "ping", "-c", "1", "-W", "1", "10.77.0.9", check=False)
    assert port_stats(sock, a_port)["tx_frames"] == a_tx
    fdb = ctl(sock, {"cmd": "fdb"})["fdb"]
    assert {e["vlan"] for e in fdb} == {10, 20}
    assert all(e["vlan"] == 20 for e in fdb if e["port"] == c_port)


@needs_netns
def test_promiscuous_and_mac_lock(env):
    sock = env.switch("--group", "mon,vlan=1,promisc", "--group", "locked,vlan=1,mac-lock")
    a_ns, a_if, a_port, _ = env.endpoint(sock, "10.78.0.1", group="locked")
    b_ns, b_if, b_port, _ = env.endpoint(sock, "10.78.0.2")
    # A monitor port in a group that allows promiscuous mode.
    m_ns, m_if, m_port, _ = env.endpoint(sock, None, group="mon")
    ctl(sock, {"cmd": "port-set", "port": m_port, "promiscuous": True})
    r = env.nsexec(a_ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.78.0.2", check=False)
    assert r.returncode == 0, r.stdout
    # The monitor received the unicast echo requests and replies too.
    assert port_stats(sock, m_port)["tx_frames"] >= 6
    # Forge: change A's MAC behind the switch's back; its frames are dropped.
    env.nsexec(a_ns, "ip", "link", "set", a_if, "address", "02:00:00:00:be:ef")
    env.nsexec(a_ns, "ip", "neigh", "flush", "all")
    r = env.nsexec(a_ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.78.0.2", check=False)
    assert r.returncode != 0
    assert port_stats(sock, a_port)["rx_forged"] > 0


@needs_netns
def test_tap_uplink_access(env):
    """Bridged uplink: the host side of the tap is on the VMs' network."""
    up = env.name("vu")
    h = env.ns()        # the "host" side; the switch runs here, so its tap does
    sock = env.switch("--uplink", "tap:" + up, "--uplink-vlan", "10",
                      "--group", "red,vlan=10", "--group", "blue,vlan=20", ns=h)
    a_ns, _, _, _ = env.endpoint(sock, "10.81.0.1", group="red")
    b_ns, _, _, _ = env.endpoint(sock, "10.81.0.2", group="blue")
    env.nsexec(h, "ip", "addr", "add", "10.81.0.254/24", "dev", up)
    r = env.nsexec(h, "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.81.0.1", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert tcp_roundtrip(env, h, "10.81.0.254", a_ns, "10.81.0.254", 5002) == "echo:200001"
    # Blue (VLAN 20) is not on the uplink's VLAN.
    r = env.nsexec(h, "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.81.0.2", check=False)
    assert r.returncode != 0
    uplink = [p for p in ctl(sock, {"cmd": "ports"})["ports"] if p["uplink"]][0]
    assert uplink["transport"] == "tap" and uplink["group"] == "uplink"


# Runs in the uplink's namespace: capture for a while, inject tagged ARP
# requests, report (vid, op, sender IP, target IP) of each ARP seen.  The
# kernel here has no 802.1Q module, so tags are read from PACKET_AUXDATA
# (the core strips them on receive) or inline.
SNIFFER = r"""
import json, socket, struct, sys, time
ifname = sys.argv[1]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(263, 8, 1)      # SOL_PACKET, PACKET_AUXDATA
s.bind((ifname, 0))
s.settimeout(0.1)
mac = bytes.fromhex("02aabbccddee")
def arp_req(vid, sip, tip):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(sip),
                      b"\0" * 6, socket.inet_aton(tip))
    return b"\xff" * 6 + mac + struct.pack("!HH", 0x8100, vid) + b"\x08\x06" + arp + b"\0" * 18
print("ready", flush=True)
seen = []
end = time.time() + float(sys.argv[2])
sent = False
while time.time() < end:
    if not sent and time.time() > end - float(sys.argv[2]) / 2:
        s.send(arp_req(20, "10.82.0.254", "10.82.0.1"))    # right VLAN: answered
        s.send(arp_req(10, "10.82.0.253", "10.82.0.1"))    # wrong VLAN: must not arrive
        sent = True
    try:
        data, anc, _, addr = s.recvmsg(65535, socket.CMSG_SPACE(64))
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    vid = None
    for lvl, typ, d in anc:
        if lvl == 263 and typ == 8:
            st, _, _, _, _, tci, _ = struct.unpack("IIIHHHH", d[:20])
            if st & 0x10:
                vid = tci & 0xfff
    if data[12:14] == b"\x81\0":
        vid = struct.unpack("!H", data[14:16])[0] & 0xfff
        data = data[:12] + data[16:]
    if data[12:14] != b"\x08\x06":
        continue
    op = struct.unpack("!H", data[20:22])[0]
    seen.append([vid, op, socket.inet_ntoa(data[28:32]), socket.inet_ntoa(data[38:42])])
print(json.dumps(seen), flush=True)
"""


@needs_netns
def test_tap_uplink_trunk_tags(env):
    up = env.name("vu")
    h = env.ns()
    sock = env.switch("--uplink", "tap:" + up, "--uplink-trunk", "10,20",
                      "--group", "red,vlan=10", "--group", "blue,vlan=20", ns=h)
    a_ns, _, _, _ = env.endpoint(sock, "10.81.0.1", group="red")
    b_ns, _, _, _ = env.endpoint(sock, "10.82.0.1", group="blue")
    sniff = subprocess.Popen(["ip", "netns", "exec", h, "python3", "-c", SNIFFER, up, "3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert sniff.stdout.readline().strip() == "ready", sniff.stderr.read()
    # Each endpoint ARPs for an address on its own VLAN.
    env.nsexec(a_ns, "ping", "-c", "1", "-W", "1", "10.81.0.254", check=False)
    env.nsexec(b_ns, "ping", "-c", "1", "-W", "1", "10.82.0.254", check=False)
    seen = json.loads(sniff.stdout.readline())
    sniff.wait()
    sniff.stdout.close()
    sniff.stderr.close()
    requests = {(v, s, t) for v, op, s, t in seen if op == 1}
    replies = {(v, s, t) for v, op, s, t in seen if op == 2}
    assert (10, "10.81.0.1", "10.81.0.254") in requests, seen     # red leaves tagged 10
    assert (20, "10.82.0.1", "10.82.0.254") in requests, seen     # blue leaves tagged 20
    assert all(v in (10, 20) for v, _, _ in requests), seen       # nothing untagged
    assert (20, "10.82.0.1", "10.82.0.254") in replies, seen      # tagged 20 came in untagged to blue
    assert not any(t == "10.82.0.253" for _, _, t in replies), seen  # tagged 10 never reached blue
    uplink = [p for p in ctl(sock, {"cmd": "ports"})["ports"] if p["uplink"]][0]
    assert uplink["transport"] == "tap" and uplink["group"] == "uplink"


DHCP_SCRIPT = """#!/bin/sh
[ "$1" = bound ] || exit 0
ip addr add $ip/${mask:-24} dev $interface
ip route add default via $router
echo "$ip $router $dns" > %s
"""


@needs_netns
def test_nat_dhcp_outbound_and_port_forward(env):
    host_srv = socket.socket()
    host_srv.bind(("127.0.0.1", 0))
    host_srv.listen(1)
    hport = host_srv.getsockname()[1]
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    fwd_port = probe.getsockname()[1]
    probe.close()
    sock = env.switch("--uplink", "nat", "--hostfwd",
                      "tcp:127.0.0.1:%d-10.0.2.15:8080" % fwd_port)
    ns, tap, port, _ = env.endpoint(sock, None)
    lease = os.path.join(env.tmp, "lease")
    script = os.path.join(env.tmp, "dhcp.sh")
    with open(script, "w") as f:
        f.write(DHCP_SCRIPT % lease)
    os.chmod(script, 0o755)
    env.nsexec(ns, "busybox", "udhcpc", "-i", tap, "-n", "-q", "-f", "-t", "5", "-T", "1",
               "-s", script, timeout=30)
    ip, router, dns = open(lease).read().split()
    assert (ip, router, dns) == ("10.0.2.15", "10.0.2.2", "10.0.2.3")

    # Outbound: the endpoint reaches a server on the host's loopback via 10.0.2.2.
    got = {}

    def serve():
        c, _ = host_srv.accept()
        got["data"] = c.recv(100)
        c.sendall(b"hello from host\n")
        c.close()
    t = threading.Thread(target=serve)
    t.start()
    out = env.nsexec(ns, "python3", "-c",
                     "import socket; c = socket.create_connection(('10.0.2.2', %d), timeout=10);"
                     "c.sendall(b'hi\\n'); print(c.recv(100).decode().strip())" % hport).stdout
    t.join(10)
    host_srv.close()
    assert out.strip() == "hello from host" and got["data"] == b"hi\n"

    # Port forward: host loopback -> endpoint's 10.0.2.15:8080.
    srv = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", TCP_SERVER, "10.0.2.15",
                            "8080"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert srv.stdout.readline().strip() == "ready"
        out = run("python3", "-c", TCP_CLIENT, "127.0.0.1", str(fwd_port), "100000").stdout
        assert out.strip() == "echo:100001"
    finally:
        srv.kill()
        srv.wait()
        srv.stdout.close()
        srv.stderr.close()


# ---- no root needed: raw frames over a SOCK_SEQPACKET port ----

def attach_raw(sock_path, **kw):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock_path)
    req = {"cmd": "attach", "transport": "seqpacket"}
    req.update(kw)
    s.send(json.dumps(req).encode())
    reply = json.loads(s.recv(65536))
    return s, reply


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(src, dst, proto, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def tcp_syn(src, dst, sport, dport):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    return ipv4(src, dst, 6, tcp)


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def recv_frames(s, pred, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([s], [], [], 0.2)
        if r:
            f = s.recv(65536)
            if pred(f):
                return f
    return None


def dhcp_discover(mac):
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x1234, 0, 0x8000,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac, b"", b"")
    bootp += b"\x63\x82\x53\x63\x35\x01\x01\xff" + b"\0" * 50
    udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
    return eth(b"\xff" * 6, mac, 0x0800, ipv4("0.0.0.0", "255.255.255.255", 17, udp))


def test_nat_without_root(env):
    """DHCP and a TCP connection to the host's loopback, as an unprivileged user would."""
    host_srv = socket.socket()
    host_srv.bind(("127.0.0.1", 0))
    host_srv.listen(1)
    hport = host_srv.getsockname()[1]
    sock = env.switch("--uplink", "nat")
    s, reply = attach_raw(sock, name="raw")
    assert reply["ok"], reply
    mac = bytes.fromhex(reply["mac"].replace(":", ""))
    s.send(dhcp_discover(mac))
    offer = recv_frames(s, lambda f: len(f) > 282 and f[23] == 17 and f[36:38] == b"\0\x44")
    assert offer is not None, "no DHCP offer"
    assert offer[42 + 16:42 + 20] == socket.inet_aton("10.0.2.15")
    gw_mac = offer[6:12]
    s.send(eth(gw_mac, mac, 0x0800, tcp_syn("10.0.2.15", "10.0.2.2", 40000, hport)))
    host_srv.settimeout(5)
    conn, peer = host_srv.accept()         # the NAT connected on the host's loopback
    assert peer[0] == "127.0.0.1"
    synack = recv_frames(s, lambda f: len(f) >= 54 and f[23] == 6 and (f[47] & 0x12) == 0x12)
    assert synack is not None, "no SYN-ACK back through the switch"
    conn.close()
    host_srv.close()
    s.close()


def test_duplicate_mac_refused_across_switches(env):
    s1 = env.switch()
    s2 = env.switch()
    a, r = attach_raw(s1, mac="02:12:34:56:78:9a")
    assert r["ok"] and r["mac"] == "02:12:34:56:78:9a"
    b, r = attach_raw(s1, mac="02:12:34:56:78:9a")
    assert not r["ok"] and "already in use" in r["error"]
    c, r = attach_raw(s2, mac="02:12:34:56:78:9a")
    assert not r["ok"] and "already in use by switch" in r["error"], r
    d, r = attach_raw(s2)
    assert r["ok"] and r["mac"].startswith("02:56:52:")
    a.close()
    time.sleep(0.2)
    e, r = attach_raw(s2, mac="02:12:34:56:78:9a")
    assert r["ok"], r
    for x in (b, c, d, e):
        x.close()


def test_cli_ctl(env):
    sock = env.switch("--group", "web,vlan=10,rate=100")
    s, r = attach_raw(sock, name="raw1", group="web")
    assert r["ok"]
    env_vars = env.env

    def cli(*args, check=True):
        return subprocess.run([VIREO, "switch", "ctl", "--socket", sock] + list(args),
                              capture_output=True, text=True, env=env_vars, check=check)
    out = cli("ports").stdout
    assert "raw1" in out and "web" in out and "seqpacket" in out
    out = cli("group-create", "db,trunk=30:40-42,native=30,mac-lock").stdout
    g = json.loads(out)["group"]
    assert g["trunk"] == [30, "40-42"] and g["native"] == 30 and g["mac_lock"]
    cli("port-set", str(r["port"]), "group=db")
    assert json.loads(cli("--json", "ports").stdout)["ports"][0]["group"] == "db"
    bad = cli("group-delete", "db", check=False)
    assert bad.returncode == 1 and "in use" in bad.stderr
    bad = cli("group-create", "x,vlan=5000", check=False)
    assert bad.returncode != 0 and "vlan=5000" in bad.stderr and "1-4094" in bad.stderr
    out = cli("groups").stdout
    assert json.loads(out)["groups"][1]["rate_mbps"] == 100
    s.close()
    cli("shutdown")


def test_switch_name_taken(env):
    name = env.name("dup")
    p = env.spawn("switch", "--name", name)
    env.wait_line(p, "listening on")
    q = subprocess.run([VIREO, "switch", "--name", name], capture_output=True, text=True,
                       env=env.env, timeout=10)
    assert q.returncode == 1 and "already running" in q.stderr


def perf(env, sock, *args):
    out = subprocess.run([VIREO, "switch", "perf", "--socket", sock] + list(args),
                         capture_output=True, text=True, env=env.env, check=True,
                         timeout=60).stdout
    return dict(kv.split("=") for kv in out.split())


def test_rate_limit_real_traffic(env):
    """Ports in a 50 Mbit/s group, offered as much as they can send."""
    sock = env.switch("--group", "slow,vlan=1,rate=50")
    free = perf(env, sock, "--size", "1514", "--seconds", "1")
    got = perf(env, sock, "--group", "slow", "--size", "1514", "--seconds", "2")
    mbps = float(got["gbps"]) * 1000
    # Unlimited ports go well past 50 Mbit/s, so the limit is the group's
    # doing.  (How far past depends on how busy the machine is.)
    assert float(free["gbps"]) * 1000 > 100, free
    assert 45 <= mbps <= 55, got
    slow = [g for g in ctl(sock, {"cmd": "groups"})["groups"] if g["name"] == "slow"][0]
    assert slow["rate_mbps"] == 50


def test_responsive_while_flooded(env):
    """A client blasting frames does not stall the control socket."""
    sock = env.switch()
    blaster = subprocess.Popen([VIREO, "switch", "perf", "--socket", sock, "--size", "60",
                                "--seconds", "3"], stdout=subprocess.PIPE, text=True,
                               env=env.env)
    time.sleep(0.5)
    worst = 0
    for _ in range(20):
        t = time.time()
        assert ctl(sock, {"cmd": "info"})["ok"]
        worst = max(worst, time.time() - t)
        time.sleep(0.05)
    out = blaster.communicate(timeout=30)[0]
    assert blaster.returncode == 0
    assert float(dict(kv.split("=") for kv in out.split())["fps"]) > 10000
    assert worst < 0.25, "control reply took %.3f s under flood" % worst


@needs_netns
def test_disconnect_cleans_up(env):
    sock = env.switch()
    a_ns, _, a_port, a_proc = env.endpoint(sock, "10.79.0.1")
    b_ns, _, b_port, _ = env.endpoint(sock, "10.79.0.2")
    env.nsexec(a_ns, "ping", "-c", "1", "-W", "2", "10.79.0.2")
    assert any(e["port"] == a_port for e in ctl(sock, {"cmd": "fdb"})["fdb"])
    a_proc.kill()                       # the endpoint's process dies
    a_proc.wait()
    for _ in range(50):
        ids = [p["id"] for p in ctl(sock, {"cmd": "ports"})["ports"]]
        if a_port not in ids:
            break
        time.sleep(0.05)
    assert a_port not in ids and b_port in ids
    assert not any(e["port"] == a_port for e in ctl(sock, {"cmd": "fdb"})["fdb"])


def test_default_socket_and_raw_bad_frames(env):
    """--name alone finds the socket under VIREO_RUN_DIR; junk frames are counted."""
    name = env.name("named")
    p = env.spawn("switch", "--name", name)
    line = env.wait_line(p, "listening on")
    env.switches.append(p)
    sock = os.path.join(env.tmp, "switch", name + ".sock")
    assert sock in line
    info = subprocess.run([VIREO, "switch", "ctl", "--name", name, "info"], capture_output=True,
                          text=True, env=env.env, check=True).stdout
    assert json.loads(info)["name"] == name
    s, r = attach_raw(sock)
    mac = bytes.fromhex(r["mac"].replace(":", ""))
    s.send(b"\x01" * 10)                                            # runt
    s.send(eth(b"\xff" * 6, mac, 0x0800, b"\0" * 3000))            # oversize
    s.send(eth(b"\xff" * 6, mac, 0x8100, b"\x0f\xff\x08\x00" + b"\0" * 50))   # VID 4095
    s.send(eth(b"\xff" * 6, mac, 0x88a8, b"\0\x0a\x81\0\0\x0b\x08\0" + b"\0" * 50))  # QinQ
    time.sleep(0.2)
    st = port_stats(sock, r["port"])
    assert (st["rx_runt"], st["rx_oversize"], st["rx_bad_tag"], st["rx_frames"]) == (1, 1, 2, 0)
    stats = ctl(sock, {"cmd": "stats"})
    assert stats["ports"][str(r["port"])] == st and stats["total"]["rx_runt"] == 1
    assert ctl(sock, {"cmd": "stats", "port": r["port"]})["total"] == st
    assert not ctl(sock, {"cmd": "stats", "port": 999})["ok"]
    assert ctl(sock, {"cmd": "info"})["ok"]
    s.close()


# A DNS server for the NAT's DNS proxy to forward to: answers every A query
# with 10.99.99.99.  Runs on 127.0.0.1:53 in the switch's own namespace.
DNS_SERVER = r"""
import ctypes, socket, struct, sys
ctypes.CDLL(None).prctl(1, 15)     # PR_SET_PDEATHSIG: go when the switch goes
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(512)
    end = 12
    while q[end]:
        end += q[end] + 1
    question = q[12:end + 5]
    ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("10.99.99.99")
    s.sendto(q[:2] + b"\x81\x80" + struct.pack("!HHHH", 1, 1, 0, 0) + question + ans, peer)
"""

DNS_QUERY = r"""
import socket, struct
q = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x05vireo\x04test\x00" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(q, ("10.0.2.3", 53))
r, _ = s.recvfrom(512)
assert r[:2] == b"\x42\x42" and struct.unpack("!H", r[6:8])[0] == 1
print(socket.inet_ntoa(r[-4:]))
"""


@needs_netns
def test_nat_dns(env):
    """The NAT's DNS proxy (10.0.2.3) forwards to the host's resolver.

    To stay hermetic the switch runs in its own network and mount namespace
    where /etc/resolv.conf names 127.0.0.1 and a stub server answers there;
    the endpoint's namespace reaches the switch through its unix socket.
    """
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1)")
    resolv = os.path.join(env.tmp, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\n")
    dns = os.path.join(env.tmp, "dns.py")
    with open(dns, "w") as f:
        f.write(DNS_SERVER)
    name = env.name("dns")
    sock = os.path.join(env.tmp, name + ".sock")
    script = ("ip link set lo up && mount --bind %s /etc/resolv.conf && "
              "{ python3 %s >/dev/null 2>&1 & } && sleep 0.3 && "
              "exec %s switch --name %s --socket %s --uplink nat") % (resolv, dns, VIREO, name, sock)
    p = subprocess.Popen(["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c",
                          script], env=env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    env.procs.append(p)
    env.switches.append(p)
    env.wait_line(p, "listening on")
    ns, tap, _, _ = env.endpoint(sock, "10.0.2.15")
    env.nsexec(ns, "ip", "route", "add", "default", "via", "10.0.2.2")
    out = env.nsexec(ns, "python3", "-c", DNS_QUERY).stdout.strip()
    assert out == "10.99.99.99"


def test_aging_real_clock(env):
    """With --aging 1 a learnt address is forgotten within about two seconds."""
    sock = env.switch("--aging", "1")
    s, r = attach_raw(sock)
    mac = bytes.fromhex(r["mac"].replace(":", ""))
    s.send(eth(b"\xff" * 6, mac, 0x88b5, b"\0" * 46))
    time.sleep(0.1)
    assert [e["port"] for e in ctl(sock, {"cmd": "fdb"})["fdb"]] == [r["port"]]
    time.sleep(2.5)
    assert ctl(sock, {"cmd": "fdb"})["fdb"] == []
    assert ctl(sock, {"cmd": "info"})["fdb_entries"] == 0
    s.close()


def test_control_garbage(env):
    """Random bytes and ill-typed JSON on the control socket get errors, never a crash."""
    import random
    rnd = random.Random(6)
    sock = env.switch("--group", "g,vlan=5")
    values = [None, True, -1, 0, 2 ** 40, 1.5, "", "x" * 300, [], {}, [1, "2-1"], {"a": 1},
              "02:56:52:00:00:01", "g", "default", 4095]
    keys = ["cmd", "name", "port", "group", "vlan", "trunk", "native", "rate_mbps", "mac",
            "promiscuous", "mac_lock", "transport"]
    cmds = ["info", "ports", "fdb", "groups", "group-create", "group-modify", "group-delete",
            "port-set", "attach", "fdb-flush", "nope", 7]
    s, r = attach_raw(sock, name="victim")
    for i in range(300):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        c.connect(sock)
        if i % 3 == 0:
            c.send(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200))))
        else:
            req = {k: rnd.choice(values) for k in rnd.sample(keys, rnd.randrange(0, 6))}
            req["cmd"] = rnd.choice(cmds)
            c.send(json.dumps(req).encode())
        reply = c.recv(1 << 20)
        assert reply and "ok" in json.loads(reply)
        c.close()
    assert ctl(sock, {"cmd": "info"})["ok"]
    assert any(p["name"] == "victim" for p in ctl(sock, {"cmd": "ports"})["ports"])
    s.close()


GOLDEN_PORTS = """\
ID   NAME         MAC               GROUP      TRANSPORT PRM         RX         TX    DROPS
1    vm1          02:00:00:00:00:01 web        seqpacket no           0          0        0
2    vm2          02:00:00:00:00:02 tr         seqpacket yes          0          0        0
"""

GOLDEN_GROUPS = [
    {"name": "default", "mode": "access", "vlan": 1, "rate_mbps": 0, "promiscuous": False,
     "mac_lock": False, "ports": 0},
    {"name": "web", "mode": "access", "vlan": 10, "rate_mbps": 100, "promiscuous": False,
     "mac_lock": True, "ports": 1},
    {"name": "tr", "mode": "trunk", "trunk": [10, "20-22"], "native": 10, "rate_mbps": 0,
     "promiscuous": True, "mac_lock": False, "ports": 1},
]


def test_ctl_golden_output(env):
    """The ctl table and the groups JSON, byte for byte / key for key."""
    sock = env.switch("--group", "web,vlan=10,rate=100,mac-lock",
                      "--group", "tr,trunk=10:20-22,native=10,promisc")
    a, r1 = attach_raw(sock, name="vm1", mac="02:00:00:00:00:01", group="web")
    b, r2 = attach_raw(sock, name="vm2", mac="02:00:00:00:00:02", group="tr", promiscuous=True)
    assert r1 == {"ok": True, "port": 1, "mac": "02:00:00:00:00:01", "group": "web",
                  "transport": "seqpacket"}
    out = subprocess.run([VIREO, "switch", "ctl", "--socket", sock, "ports"],
                         capture_output=True, text=True, env=env.env, check=True).stdout
    assert out == GOLDEN_PORTS
    assert ctl(sock, {"cmd": "groups"}) == {"ok": True, "groups": GOLDEN_GROUPS}
    a.close()
    b.close()
