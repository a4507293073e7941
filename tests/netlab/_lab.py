"""Network namespaces that play the internet, home routers doing NAT, and the hosts behind them.

The "internet" is one namespace with a bridge holding two documentation
networks: 198.51.100.0/24 for public hosts and 203.0.113.0/24 for the WAN
side of home routers.  A router is a namespace with a ``wan`` veth into that
bridge, a ``lan`` bridge of its own (192.168.N.0/24) and an nftables table
that masquerades what leaves through ``wan`` and forwards nothing new inwards.
Its NAT is one of two kinds:

- ``CONE``: Linux masquerade keeps the source port when it is free, so one
  inside port maps to one outside port whatever the destination
  (endpoint-independent mapping).  Filtering is still per address and port:
  only answers to what went out come in.
- ``SYMMETRIC``: ``masquerade fully-random`` picks a fresh random port for
  every new destination (address-and-port-dependent mapping).

Either kind drops unsolicited packets from outside silently, as home routers
do, instead of answering them with a reset.

Every veth is created straight inside the namespaces it joins, so interface
names never meet in the root namespace, and namespace names carry the test
process id, so parallel pytest-xdist workers never collide.  Deleting a
namespace deletes its veths and its nftables tables with it; :meth:`Lab.close`
first ends every process still inside, since a process keeps its namespace alive.
"""

from __future__ import annotations

import enum
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

__all__ = ["ECHO", "PREFIX", "Host", "Lab", "Nat", "Router", "lab_unavailable", "miniupnpd_unavailable", "open_lab"]

PREFIX = "p2plab"  # every namespace this lab makes starts with it
ECHO = Path(__file__).with_name("_echo.py")
STUN = Path(__file__).with_name("_stun.py")
INTERNET_PUBLIC = "198.51.100"  # TEST-NET-2: public hosts
INTERNET_WAN = "203.0.113"  # TEST-NET-3: the outside of home routers
_counter = itertools.count()


class Nat(enum.Enum):
    CONE = "cone"
    SYMMETRIC = "symmetric"


def _run(args: Sequence[str], *, input: str | None = None) -> str:
    out = subprocess.run(list(args), capture_output=True, text=True, input=input, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"netlab: {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


@cache
def lab_unavailable() -> str | None:
    """Why namespaces cannot be made here (one line), or None when they can."""
    if os.geteuid() != 0:
        return "netlab needs root to make network namespaces"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"netlab needs `{tool}` (apt-get install iproute2 nftables)"
    probe = f"{PREFIX}{os.getpid()}-probe"
    try:
        _run(["ip", "netns", "add", probe])
        _run(["ip", "netns", "exec", probe, "nft", "add", "table", "ip", "probe"])
    except (RuntimeError, OSError) as exc:
        return f"netlab cannot make a network namespace with nftables here: {exc}".splitlines()[0]
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _miniupnpd() -> str | None:
    return shutil.which("miniupnpd") or shutil.which("miniupnpd", path="/usr/sbin:/sbin")


def miniupnpd_unavailable() -> str | None:
    """Why a UPnP router cannot run here (one line), or None when it can."""
    if _miniupnpd() is None:
        return "netlab UPnP needs `miniupnpd` (apt-get install miniupnpd-nftables)"
    return None


@dataclass
class Host:
    """One namespace with one address; commands run in it through ``ip netns exec``."""

    lab: Lab
    ns: str
    ip: str

    def wrap(self, args: Sequence[str]) -> list[str]:
        """``args`` as a command that runs inside this host's namespace."""
        return ["ip", "netns", "exec", self.ns, *args]

    def run(
        self, *args: str, check: bool = False, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(self.wrap(args), capture_output=True, text=True, timeout=timeout, input=input)
        if check and out.returncode != 0:
            raise RuntimeError(f"netlab: {' '.join(args)} in {self.ns} failed: {out.stderr.strip()}")
        return out

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start a process inside; the lab ends it on close if it still runs."""
        proc = subprocess.Popen(
            self.wrap(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lab.procs.append(proc)
        return proc

    def established(self, far_ip: str) -> list[str]:
        """Established TCP connections from this host straight to ``far_ip`` (the kernel's word, not libp2p's)."""
        out = self.run("ss", "-Htn", "state", "established", check=True).stdout
        return [line for line in out.splitlines() if line.split()[-1].startswith(f"{far_ip}:")]

    def drop_inbound(self) -> None:
        """A firewall on this host: new TCP connections from outside are dropped; what it dials out still works."""
        chain = "chain input { type filter hook input priority 0; ct state new meta l4proto tcp drop; }"
        self.run("nft", "-f", "-", check=True, input=f"table inet inbound {{\n{chain}\n}}\n")

    def echo_server(self, proto: str, port: int) -> subprocess.Popen[str]:
        """Start the echo (tests/netlab/_echo.py) on ``port``; returns once it listens."""
        proc = self.popen(sys.executable, str(ECHO), "serve", proto, self.ip, str(port))
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"netlab: echo server in {self.ns} did not start: {proc.communicate()[1]}")
        return proc

    def ask(self, proto: str, *dests: str, src_port: int = 0) -> subprocess.CompletedProcess[str]:
        """Ask echo servers at ``dests`` ("ip:port") where this host's packets appear to come from."""
        return self.run(sys.executable, str(ECHO), "ask", proto, str(src_port), *dests)


@dataclass
class Router(Host):
    """A home router: ``ip`` is its outside (WAN) address; hosts behind it are on ``lan``.0/24."""

    nat: Nat = Nat.CONE
    lan: str = ""
    hosts: int = 0

    def miniupnpd(
        self, stun: Host, stun_alt_ip: str, workdir: Path, *, upnp: bool = True, natpmp: bool = False
    ) -> subprocess.Popen[str]:
        """Run miniupnpd here, learning its external address from the lab STUN server ``stun``.

        It serves UPnP-IGD, NAT-PMP (RFC 6886, with PCP on the same port), or
        both, as ``upnp`` and ``natpmp`` say.

        miniupnpd refuses to map anything while its WAN address is in a reserved
        range, which the lab's documentation addresses are; asked to use STUN,
        it takes the address four binding requests report instead, once all
        four come back unfiltered (tests/netlab/_stun.py).  The answers sent
        from the server's other address or port are not replies to anything
        this router sent, so its input filter lets the server's UDP in.
        Returns once miniupnpd has enabled port forwarding; its log is
        ``workdir``/miniupnpd.log.
        """
        binary = _miniupnpd()
        assert binary is not None, miniupnpd_unavailable()
        _run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"], input=_upnp_rules(stun.ip, stun_alt_ip))
        conf = workdir / "miniupnpd.conf"
        conf.write_text(
            "ext_ifname=wan\n"
            "listening_ip=lan\n"
            "port=0\n"
            f"enable_natpmp={'yes' if natpmp else 'no'}\n"
            f"enable_upnp={'yes' if upnp else 'no'}\n"
            "ext_perform_stun=yes\n"
            f"ext_stun_host={stun.ip}\n"
            "ext_stun_port=3478\n"
            "secure_mode=yes\n"
            "system_uptime=no\n"
            "uuid=3b1e6f2a-5c1d-4c3e-9d2f-7a8b9c0d1e2f\n"
            f"allow 1024-65535 {self.lan}.0/24 1024-65535\n"
            "deny 0-65535 0.0.0.0/0 0-65535\n"
        )
        log = workdir / "miniupnpd.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                self.wrap([binary, "-d", "-f", str(conf), "-P", str(workdir / "miniupnpd.pid")]),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.lab.procs.append(proc)
        deadline = time.monotonic() + 60
        while "Port forwarding is now enabled" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"netlab: miniupnpd in {self.ns} did not enable port forwarding:\n{log.read_text()}")
            time.sleep(0.1)
        return proc

    def flaky(self, loss: int, rate: str) -> None:
        """A poor line: ``loss`` percent of packets through the router dropped at random, both ways, and the
        uplink held to ``rate`` (a ``tc`` rate such as ``2mbit``) with a queue of up to 200 ms."""
        drop = f"numgen random mod 100 < {loss} counter drop"
        chain = f"chain forward {{ type filter hook forward priority -10; {drop}; }}"
        self.run("nft", "-f", "-", check=True, input=f"table inet {PREFIX}-flaky {{\n{chain}\n}}\n")
        tbf = ["tbf", "rate", rate, "burst", "32kbit", "latency", "200ms"]
        self.run("tc", "qdisc", "add", "dev", "wan", "root", *tbf, check=True)

    def dropped(self) -> int:
        """Packets :meth:`flaky` dropped so far."""
        listed = self.run("nft", "list", "chain", "inet", f"{PREFIX}-flaky", "forward", check=True).stdout
        return int(listed.split("packets ")[1].split()[0])

    def cut(self) -> None:
        """The line goes down: nothing passes the router either way until :meth:`mend`."""
        chain = "chain forward { type filter hook forward priority -20; policy drop; }"
        self.run("nft", "-f", "-", check=True, input=f"table inet {PREFIX}-cut {{\n{chain}\n}}\n")

    def mend(self) -> None:
        """The line is back; connections the NAT tracked go on as they were."""
        self.run("nft", "delete", "table", "inet", f"{PREFIX}-cut", check=True)

    def forward_port(self, host: Host, port: int) -> None:
        """Forward TCP ``port`` of this router's outside address to ``host`` on its LAN, as a user sets one up."""
        rules = f"""
add chain ip {PREFIX} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}
add rule ip {PREFIX} prerouting iifname "wan" tcp dport {port} dnat to {host.ip}:{port}
add rule ip {PREFIX} forward ct status dnat accept
"""
        _run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"], input=rules)


@dataclass
class Lab:
    """One lab: the internet namespace, and what tests attach to it."""

    tag: str
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    internet: str = ""
    _public: int = 0
    _routers: int = 0

    def start(self) -> None:
        """Make the internet namespace: a bridge with both documentation networks, forwarding between them."""
        self.internet = self._namespace("inet")
        _run(["ip", "-n", self.internet, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", self.internet, "addr", "add", f"{INTERNET_PUBLIC}.1/24", "dev", "br0"])
        _run(["ip", "-n", self.internet, "addr", "add", f"{INTERNET_WAN}.1/24", "dev", "br0"])
        _run(["ip", "-n", self.internet, "link", "set", "br0", "up"])
        _forward(self.internet)

    def _namespace(self, role: str) -> str:
        name = f"{self.tag}-{role}"
        _run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        _run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def _plug(self, role: str, outer: str, bridge: str, outer_if: str, inner_if: str, net: str, n: int) -> Host:
        """A new namespace wired by a veth to ``outer``'s ``bridge``, with address ``net``.(10 + n) via ``net``.1."""
        ns = self._namespace(role)
        peer = ["peer", "name", inner_if, "netns", ns]
        _run(["ip", "-n", outer, "link", "add", outer_if, "type", "veth", *peer])
        _run(["ip", "-n", outer, "link", "set", outer_if, "master", bridge, "up"])
        _run(["ip", "-n", ns, "link", "set", inner_if, "up"])
        ip = f"{net}.{10 + n}"
        _run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", inner_if])
        _run(["ip", "-n", ns, "route", "add", "default", "via", f"{net}.1"])
        return Host(self, ns, ip)

    def stun_server(self) -> tuple[Host, str]:
        """A public host running the lab STUN server on two addresses; returns it and its second address."""
        host = self.public_host()
        alt = f"{INTERNET_PUBLIC}.{100 + self._public}"
        _run(["ip", "-n", host.ns, "addr", "add", f"{alt}/24", "dev", "eth0"])
        proc = host.popen(sys.executable, str(STUN), host.ip, alt)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"netlab: STUN server in {host.ns} did not start: {proc.communicate()[1]}")
        return host, alt

    def public_host(self) -> Host:
        """A host on the internet with a public address (198.51.100.10, .11, ...)."""
        n = self._public
        self._public += 1
        return self._plug(f"pub{n}", self.internet, "br0", f"p{n}", "eth0", INTERNET_PUBLIC, n)

    def home_router(self, nat: Nat) -> Router:
        """A home router with the given NAT; its WAN address is 203.0.113.10, .11, ..."""
        n = self._routers
        self._routers += 1
        wan = self._plug(f"rt{n}", self.internet, "br0", f"r{n}", "wan", INTERNET_WAN, n)
        ns, lan = wan.ns, f"192.168.{1 + n}"
        _run(["ip", "-n", ns, "link", "add", "lan", "type", "bridge"])
        _run(["ip", "-n", ns, "addr", "add", f"{lan}.1/24", "dev", "lan"])
        _run(["ip", "-n", ns, "link", "set", "lan", "up"])
        _forward(ns)
        _run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=_nat_rules(nat))
        return Router(self, ns, wan.ip, nat=nat, lan=lan)

    def lan_host(self, router: Router) -> Host:
        """A host on ``router``'s LAN (192.168.N.10, .11, ...), reaching out only through its NAT."""
        n = router.hosts
        router.hosts += 1
        return self._plug(f"{router.ns.rsplit('-', 1)[1]}h{n}", router.ns, "lan", f"h{n}", "eth0", router.lan, n)

    def close(self) -> None:
        """End every process inside, then delete every namespace (and so every veth and nft table)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        for ns in reversed(self.namespaces):
            _kill_inside(ns)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces.clear()


def _forward(ns: str) -> None:
    _run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])


def _nat_rules(nat: Nat) -> str:
    how = "masquerade fully-random" if nat is Nat.SYMMETRIC else "masquerade"
    return f"""
table ip {PREFIX} {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" {how}
    }}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "lan" accept  # out, and across the LAN bridge (br_netfilter sends bridged frames here too)
    }}
    chain input {{
        # Like a home router: what nobody asked for from outside is dropped, not refused.
        type filter hook input priority filter; policy accept;
        iifname "wan" ct state != established,related drop
    }}
}}
"""


def _upnp_rules(stun_ip: str, stun_alt_ip: str) -> str:
    """What a router running miniupnpd adds: its tables and chains, inbound port forwards, the STUN answers."""
    return f"""
add rule ip {PREFIX} forward ct status dnat accept  # the port forwards miniupnpd makes
insert rule ip {PREFIX} input ip saddr {{ {stun_ip}, {stun_alt_ip} }} udp sport {{ 3478, 3479 }} accept
table inet filter {{
    chain forward {{
        type filter hook forward priority filter; policy accept;
        jump miniupnpd
    }}
    chain miniupnpd {{
    }}
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        jump prerouting_miniupnpd
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        jump postrouting_miniupnpd
    }}
    chain prerouting_miniupnpd {{
    }}
    chain postrouting_miniupnpd {{
    }}
}}
"""


def _kill_inside(ns: str) -> None:
    """Kill what still runs in a namespace of ours (a daemon a failed test left)."""
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    for pid in out.stdout.split():
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def _sweep_stale() -> None:
    """Delete namespaces a killed test run of this lab left behind (their process is gone)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        pid = name[len(PREFIX) :].split("-", 1)[0]
        if name.startswith(PREFIX) and pid.isdigit() and not _alive(int(pid)):
            _kill_inside(name)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def open_lab() -> Iterator[Lab]:
    """A fresh lab, torn down however the block ends."""
    _sweep_stale()
    lab = Lab(f"{PREFIX}{os.getpid()}-{next(_counter)}")
    try:
        lab.start()
        yield lab
    finally:
        lab.close()
