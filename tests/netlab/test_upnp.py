"""UPnP-IGD on real daemons: a member behind a router that maps ports is reachable with no public member.

A sits behind a router running miniupnpd (which learns its public address
from the lab STUN server, tests/netlab/_stun.py: docs/nat.md, "UPnP-IGD"), B
behind a plain cone NAT, and nobody in the swarm has a public address.  With
UPnP, A's daemon has the router forward its port, its invite names the
router's address first, and B dials A straight through the forward; with
``--no-upnp`` A is back to a private address and the warning.  A router with
UPnP turned off and NAT-PMP on does the same over NAT-PMP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from harness.daemons import DaemonProcess, running
from harness.polling import wait_for

import protocol
from netlab import Host, Lab, Nat, Router, miniupnpd_unavailable

pytestmark = pytest.mark.integration  # real daemon processes and a real miniupnpd in network namespaces


def _miniupnpd_router(lab: Lab, tmp_path: Path, *, upnp: bool = True, natpmp: bool = False) -> Router:
    """A home router running miniupnpd, with the lab STUN server on the public side."""
    reason = miniupnpd_unavailable()
    if reason:
        pytest.skip(reason)
    stun, alt = lab.stun_server()
    router = lab.home_router(Nat.CONE)
    workdir = tmp_path / "miniupnpd"
    workdir.mkdir()
    router.miniupnpd(stun, alt, workdir, upnp=upnp, natpmp=natpmp)
    return router


@pytest.fixture
def upnp_router(lab: Lab, tmp_path: Path) -> Router:
    return _miniupnpd_router(lab, tmp_path)


def _daemon(tmp_path: Path, name: str, host: Host, *args: str) -> DaemonProcess:
    node = DaemonProcess(tmp_path / name, host.ip, wrap=host.wrap([]), args=args)
    node.home.mkdir(parents=True)
    node.cli("init")
    return node


def _swarm(node: DaemonProcess, name: str = "friends") -> dict:
    return next(s for s in node.call("status")["swarms"] if s["name"] == name)


def _forwards(router: Router) -> str:
    """The port forwards miniupnpd has put in the router's nftables."""
    return router.run("nft", "list", "chain", "inet", "filter", "prerouting_miniupnpd", check=True).stdout


@contextmanager
def _a_and_b(lab: Lab, router: Router, tmp_path: Path) -> Iterator[tuple[DaemonProcess, DaemonProcess, Host]]:
    """A's daemon behind ``router``, B's behind a plain cone NAT, both running."""
    a_host = lab.lan_host(router)
    b_host = lab.lan_host(lab.home_router(Nat.CONE))
    a, b = _daemon(tmp_path, "a", a_host), _daemon(tmp_path, "b", b_host)
    with running(a, b):
        a.start()
        b.start()
        yield a, b, a_host


@pytest.fixture
def a_and_b(lab: Lab, upnp_router: Router, tmp_path: Path) -> Iterator[tuple[DaemonProcess, DaemonProcess, Host]]:
    with _a_and_b(lab, upnp_router, tmp_path) as nodes:
        yield nodes


def _joined_through_the_forward(a: DaemonProcess, b: DaemonProcess, a_host: Host, router: Router) -> str:
    """A mapped, B joins with A's invite alone and posts flow both ways, B arriving through the forward: its port."""
    wait_for(lambda: _swarm(a)["upnp"] == "mapped", what="A's router to forward its port")
    mapped = _swarm(a)["upnp_addr"]
    ip, port = mapped.split(":")
    assert ip == router.ip and _swarm(a)["reach_note"] == ""
    assert f"dport {port} dnat ip to {a_host.ip}:{port}" in _forwards(router)

    invited = a.cli("swarm", "invite", "friends")
    assert invited.stderr == ""  # reachable: no "behind NAT" warning
    key = invited.stdout.strip().splitlines()[-1]
    addrs = protocol.decode_invite(key, now=int(time.time())).bootstrap
    assert addrs[0].startswith(f"/ip4/{ip}/tcp/{port}/p2p/"), addrs
    assert any(f"/ip4/{a_host.ip}/" in addr for addr in addrs)

    b.cli_json("swarm", "join", key)
    wait_for(lambda: a.in_mesh("friends") and b.in_mesh("friends"), what="A and B in each other's mesh")
    from_a = a.call("post", text="hello from A")["id"]
    from_b = b.call("post", text="hello from B")["id"]
    wait_for(lambda: from_a in b.stored_ids(), what="A's post at B")
    wait_for(lambda: from_b in a.stored_ids(), what="B's post at A")
    # B's connection arrives at A's listen port from B's router, through the forward: no relay, no other path.
    seen = a_host.run("ss", "-Htn", "state", "established", f"( sport = :{port} )", check=True).stdout
    assert "203.0.113.11:" in seen, seen
    return port


def test_a_member_behind_a_upnp_router_is_joined_directly_with_no_public_member(
    a_and_b: tuple[DaemonProcess, DaemonProcess, Host], upnp_router: Router
) -> None:
    a, b, a_host = a_and_b
    created = a.cli("swarm", "create", "friends", "--difficulty", "8")
    assert "Invites name only the private address" in created.stderr  # before the router has answered
    port = _joined_through_the_forward(a, b, a_host, upnp_router)
    assert f"upnp: the router forwards {_swarm(a)['upnp_addr']} here (UPnP-IGD)" in a.cli("status").stdout
    a.stop()
    assert f"dport {port}" not in _forwards(upnp_router)  # removed on shutdown


def test_a_member_behind_a_router_with_only_natpmp_is_joined_directly_with_no_public_member(
    lab: Lab, tmp_path: Path
) -> None:
    router = _miniupnpd_router(lab, tmp_path, upnp=False, natpmp=True)
    with _a_and_b(lab, router, tmp_path) as (a, b, a_host):
        a.cli("swarm", "create", "friends", "--difficulty", "8")
        port = _joined_through_the_forward(a, b, a_host, router)
        assert f"upnp: the router forwards {_swarm(a)['upnp_addr']} here (NAT-PMP)" in a.cli("status").stdout
        a.stop()
        assert f"dport {port}" not in _forwards(router)  # removed on shutdown: a mapping with lifetime 0


def test_with_no_upnp_nothing_is_mapped_and_the_invite_warns(lab: Lab, upnp_router: Router, tmp_path: Path) -> None:
    a_host = lab.lan_host(upnp_router)
    a = _daemon(tmp_path, "a", a_host, "--no-upnp")
    with running(a):
        a.start()
        created = a.cli("swarm", "create", "friends", "--difficulty", "8")
        assert created.stderr.startswith(f"warning: Invites name only the private address {a_host.ip}"), created.stderr
        key = created.stdout.strip().splitlines()[-1]
        assert all(f"/ip4/{a_host.ip}/" in addr for addr in protocol.decode_invite(key, now=int(time.time())).bootstrap)
        assert _swarm(a)["upnp"] == "off" and _swarm(a)["upnp_addr"] == ""
        assert "upnp: off" in a.cli("status").stdout
        assert "dnat" not in _forwards(upnp_router)
