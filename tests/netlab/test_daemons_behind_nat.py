"""Real daemons in the lab: who can join whose swarm from behind a home router.

Each daemon is ``python -m p2pnet daemon`` inside its own namespace; the test
drives it through its control socket (a file in its home, reachable from the
root namespace) and the real CLI.  A member behind NAT joins a public member's
swarm by dialling out.  Two members both behind NAT reach each other through a
public member's relay, named in the inviter's invite key, and go direct by a
hole punch where their NATs allow it (cone); behind a symmetric NAT they stay
relayed (docs/nat.md).  Two behind NAT with no public member cannot meet at
all, and are told so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness.daemons import LOW_DIFFICULTY, DaemonProcess, join_swarm, running
from harness.polling import DEADLINE, wait_for

import protocol
from netlab import Host, Lab, Nat, Router

pytestmark = pytest.mark.integration  # real daemon processes in real network namespaces


def _placed(pair: tuple[str | Nat, str | Nat]) -> str:
    return "-".join(w.value if isinstance(w, Nat) else w for w in pair)


@pytest.fixture
def two(lab: Lab, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[DaemonProcess, DaemonProcess]]:
    """Daemons A and B placed as the test's parameter says: ("public" | a NAT kind) for each."""
    where_a, where_b = request.param
    nodes = []
    for name, where in (("a", where_a), ("b", where_b)):
        host = lab.public_host() if where == "public" else lab.lan_host(lab.home_router(where))
        nodes.append(DaemonProcess(tmp_path / name, host.ip, wrap=host.wrap([])))
    with running(*nodes):
        for node in nodes:
            node.home.mkdir(parents=True)
            node.cli("init")
            node.start()
        yield nodes[0], nodes[1]


def _posts_flow_both_ways(a: DaemonProcess, b: DaemonProcess) -> None:
    """B joins A's swarm with A's invite alone; a post from each reaches the other."""
    join_swarm(a, [b])
    wait_for(lambda: a.in_mesh("friends") and b.in_mesh("friends"), what="A and B in each other's mesh")
    _posts_flow(a, b, "joined")


def _swarm(node: DaemonProcess) -> dict:
    [swarm] = node.call("peers")["swarms"]
    return swarm


@pytest.mark.parametrize("two", [("public", Nat.CONE), ("public", Nat.SYMMETRIC)], indirect=True, ids=_placed)
def test_a_member_behind_nat_joins_a_public_members_swarm(two: tuple[DaemonProcess, DaemonProcess]) -> None:
    a, b = two
    _posts_flow_both_ways(a, b)
    # The one connection is B's, out through its router: A never dialled B (it could not).
    a_id, b_id = _swarm(a)["peer_id"], _swarm(b)["peer_id"]
    assert a_id in _swarm(b)["outbound"]
    assert b_id in _swarm(a)["connected"] and b_id not in _swarm(a)["outbound"]
    # Each sees where the other's packets come from: B through its router, A as itself.
    wait_for(lambda: _reachability(b) == "behind_nat", what="B to know it is behind NAT")
    wait_for(lambda: _reachability(a) == "public", what="A to know it is public")
    assert "behind NAT" in b.cli("status").stdout


def _reachability(node: DaemonProcess) -> str:
    [swarm] = node.call("status")["swarms"]
    return swarm["reachability"]


@dataclass
class Member:
    node: DaemonProcess
    host: Host
    router: Router | None  # None: public


@pytest.fixture
def homes(lab: Lab, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Member, Member, Member]]:
    """A and B behind the NATs the parameter names, and R, a public member: R made the swarm, A joined it."""
    members = []
    for name, nat in (("r", None), *zip("ab", request.param, strict=True)):
        router = None if nat is None else lab.home_router(nat)
        host = lab.public_host() if router is None else lab.lan_host(router)
        members.append(Member(DaemonProcess(tmp_path / name, host.ip, wrap=host.wrap([])), host, router))
    with running(*(m.node for m in members)):
        for m in members:
            m.node.home.mkdir(parents=True)
            m.node.cli("init")
            m.node.start()
        r, a, b = members
        made = r.node.cli("swarm", "create", "friends", "--difficulty", LOW_DIFFICULTY)
        a.node.cli_json("swarm", "join", made.stdout.strip().splitlines()[-1])
        yield r, a, b


def _path(node: DaemonProcess, peer: str) -> str | None:
    return _swarm_status(node, "friends")["paths"].get(peer)


@pytest.mark.parametrize(
    "homes",
    [(Nat.CONE, Nat.CONE), (Nat.CONE, Nat.SYMMETRIC), (Nat.SYMMETRIC, Nat.SYMMETRIC)],
    indirect=True,
    ids=_placed,
)
def test_two_members_behind_nat_meet_through_a_public_members_relay(homes: tuple[Member, Member, Member]) -> None:
    r, a, b = homes
    # A's invite names its address through R's relay, after its own private one.
    wait_for(lambda: _swarm_status(a.node, "friends")["relay_addrs"], what="A to hold a reservation on R")
    invite = a.node.cli("swarm", "invite", "friends")
    bootstrap = protocol.decode_invite(invite.stdout.strip().splitlines()[-1], now=0).bootstrap
    r_id = _swarm(r.node)["peer_id"]
    assert bootstrap[0].startswith(f"/ip4/{a.host.ip}/") and f"/p2p/{r_id}/p2p-circuit/p2p/" in bootstrap[-1]
    assert "through a relay" in invite.stderr and "cannot reach" not in invite.stderr
    # B joins with A's invite alone, and posts flow both ways.
    b.node.cli_json("swarm", "join", invite.stdout.strip().splitlines()[-1])
    a_id, b_id = _swarm(a.node)["peer_id"], _swarm(b.node)["peer_id"]
    _posts_flow(a.node, b.node, "first")
    assert b.router is not None
    if a.router is not None and a.router.nat is Nat.CONE and b.router.nat is Nat.CONE:
        # Cone NATs keep a port's mapping whoever is asked: the hole punch goes through.
        wait_for(lambda: _path(a.node, b_id) == "hole_punched", what="A and B to go direct")
        wait_for(lambda: a.host.established(b.router.ip), what="a TCP connection from A straight to B's router")
        # R stopping does not cut them apart.
        r.node.stop()
        wait_for(lambda: r_id not in _swarm(a.node)["connected"], what="A to lose R")
        assert _path(a.node, b_id) == "hole_punched" and _path(b.node, a_id) == "hole_punched"
        _posts_flow(a.node, b.node, "after R stopped")
    else:
        # A symmetric NAT maps each destination to a new port: no punch, the relay carries them.
        assert _path(a.node, b_id) == "relayed" and _path(b.node, a_id) == "relayed"
        assert not a.host.established(b.router.ip)
        assert _swarm_status(r.node, "friends")["relaying"] >= 1


@pytest.mark.parametrize("homes", [(Nat.CONE, Nat.CONE)], indirect=True, ids=_placed)
def test_friends_on_poor_lines_meet_and_catch_up_after_a_cut(homes: tuple[Member, Member, Member]) -> None:
    """Both homes lose 5 % of packets at random and have a 2 Mbit/s uplink; B joins A with A's invite alone
    and posts flow. Then B's line is down for 30 s while A posts: once it is back, B has every post."""
    _, a, b = homes
    assert a.router is not None and b.router is not None
    for home in (a.router, b.router):
        home.flaky(loss=5, rate="2mbit")
    wait_for(lambda: _swarm_status(a.node, "friends")["relay_addrs"], what="A to hold a reservation on R")
    b.node.cli_json("swarm", "join", a.node.cli("swarm", "invite", "friends").stdout.strip().splitlines()[-1])
    _posts_flow(a.node, b.node, "over poor lines")
    b.router.cut()
    missed = [a.node.call("post", text=f"while B's line was down: {n}")["id"] for n in range(5)]
    time.sleep(30)  # the outage itself, not a wait for anything
    assert not set(missed) & b.node.stored_ids(), "the line was down: nothing could have reached B"
    b.router.mend()
    wait_for(lambda: set(missed) <= b.node.stored_ids(), timeout=2 * DEADLINE, what="every post B missed, at B")
    _posts_flow(a.node, b.node, "after the cut")
    assert a.router.dropped() > 0 and b.router.dropped() > 0  # the lines were poor all along


def _posts_flow(a: DaemonProcess, b: DaemonProcess, when: str) -> None:
    from_a = a.call("post", text=f"{when}: hello from A")["id"]
    from_b = b.call("post", text=f"{when}: hello from B")["id"]
    wait_for(lambda: from_a in b.stored_ids(), what=f"A's post at B ({when})")
    wait_for(lambda: from_b in a.stored_ids(), what=f"B's post at A ({when})")


def _swarm_status(node: DaemonProcess, name: str) -> dict:
    return next(s for s in node.call("status")["swarms"] if s["name"] == name)


@pytest.mark.parametrize("two", [("public", Nat.CONE)], indirect=True, ids=_placed)
def test_a_member_behind_nat_is_told_so_and_what_to_do(two: tuple[DaemonProcess, DaemonProcess]) -> None:
    """B, behind a cone NAT, is warned with what to do; A, public, is told nothing of the sort."""
    a, b = two
    # Alone, B knows only that its invites name a private address: that is already a warning.
    alone = b.cli("swarm", "create", "home", "--difficulty", "8")
    assert alone.stderr.startswith("warning: Invites name only the private address 192.168."), alone.stderr
    assert "forward TCP port" in alone.stderr and "announce IP" in alone.stderr
    home = b.cli("status").stdout
    assert "swarm home: 0 peers connected, reachability not known yet" in home
    assert "No member with a public address is connected" in home
    # A, public, creates "friends" and says nothing of NAT; B joins it, dialling out through its router.
    created = a.cli("swarm", "create", "friends", "--difficulty", "8")
    assert created.stderr == ""
    b.cli_json("swarm", "join", created.stdout.strip().splitlines()[-1])
    wait_for(lambda: _swarm_status(b, "friends")["reachability"] == "behind_nat", what="B to know it is behind NAT")
    wait_for(lambda: _swarm_status(b, "friends")["public_peers"] == 1, what="B to count A as a public member")
    # A, public, relays for B: B's invite names its address through A, and says so.
    wait_for(lambda: _swarm_status(b, "friends")["relay_addrs"], what="B to hold a reservation on A")
    invite = b.cli("swarm", "invite", "friends")
    assert invite.stderr.startswith("warning: This node is behind NAT (peers see it at 203.0.113."), invite.stderr
    assert "through 1 public member of the swarm" in invite.stderr and "reach it through a relay" in invite.stderr
    assert "friends: 1 peers connected, behind NAT, 1 public member connected" in b.cli("status").stdout
    wait_for(lambda: _swarm_status(a, "friends")["reachability"] == "public", what="A to know it is public")
    assert a.cli("swarm", "invite", "friends").stderr == ""
    said = a.cli("status").stdout
    assert "swarm friends: 1 peers connected, reachable from outside" in said and "NAT" not in said
    assert _swarm_status(a, "friends")["reach_note"] == ""


def test_a_public_address_behind_a_firewall_is_not_taken_for_reachable(lab: Lab, tmp_path: Path) -> None:
    """F has a public address but drops every connection from outside: every peer sees its own address, so
    only a dial-back shows friends cannot reach it; then it holds a relay on R, and B joins through it."""
    hosts = {"r": lab.public_host(), "f": lab.public_host(), "b": lab.lan_host(lab.home_router(Nat.CONE))}
    hosts["f"].drop_inbound()
    r, f, b = (DaemonProcess(tmp_path / name, host.ip, wrap=host.wrap([])) for name, host in hosts.items())
    with running(r, f, b):
        for node in (r, f, b):
            node.home.mkdir(parents=True)
            node.cli("init")
            node.start()
        made = r.cli("swarm", "create", "friends", "--difficulty", LOW_DIFFICULTY)
        f.cli_json("swarm", "join", made.stdout.strip().splitlines()[-1])
        wait_for(lambda: _swarm_status(f, "friends")["reachability"] == "behind_nat", what="F's dial-back to fail")
        wait_for(lambda: _swarm_status(f, "friends")["relay_addrs"], what="F to hold a reservation on R")
        wait_for(lambda: _swarm_status(r, "friends")["reachability"] == "public", what="R's dial-back to succeed")
        invite = f.cli("swarm", "invite", "friends")
        assert "reach it through a relay" in invite.stderr, invite.stderr
        b.cli_json("swarm", "join", invite.stdout.strip().splitlines()[-1])
        _posts_flow(f, b, "through R")


def test_a_forwarded_port_with_the_routers_address_announced_is_reachable(lab: Lab, tmp_path: Path) -> None:
    """N, behind a cone NAT, announces its router's address; once the router forwards N's port, R's dial-back
    through it makes N public, and N relays (B, behind another NAT, holds a reservation on it) instead of
    holding a reservation itself."""
    router = lab.home_router(Nat.CONE)
    hosts = {"r": lab.public_host(), "n": lab.lan_host(router), "b": lab.lan_host(lab.home_router(Nat.CONE))}
    r, n, b = (DaemonProcess(tmp_path / name, host.ip, wrap=host.wrap([])) for name, host in hosts.items())
    n.args = ["--announce-ip", router.ip]
    with running(r, n, b):
        for node in (r, n, b):
            node.home.mkdir(parents=True)
            node.cli("init")
        r.start()
        n.start()
        made = r.cli("swarm", "create", "friends", "--difficulty", LOW_DIFFICULTY)
        n.cli_json("swarm", "join", made.stdout.strip().splitlines()[-1])
        # Nothing forwarded yet: behind NAT, N holds a reservation on R.
        wait_for(lambda: _swarm_status(n, "friends")["relay_addrs"], what="N to hold a reservation on R")
        assert _swarm_status(n, "friends")["reachability"] == "behind_nat"
        invite = n.cli("swarm", "invite", "friends").stdout.strip().splitlines()[-1]
        named = protocol.decode_invite(invite, now=0).bootstrap[0]
        assert named.startswith(f"/ip4/{router.ip}/tcp/"), named
        port = int(named.split("/")[4])
        # The user forwards the port on the router and starts the node again.
        n.stop()
        router.forward_port(hosts["n"], port)
        n.start()
        wait_for(lambda: _swarm_status(n, "friends")["reachability"] == "public", what="R to dial N back")
        wait_for(lambda: not _swarm_status(n, "friends")["relay_addrs"], what="N to hold no reservation")
        assert _swarm_status(n, "friends")["reach_note"] == ""
        # N relays: B, behind NAT, joins with N's invite (the forwarded address) and holds a reservation on N.
        b.start()
        b.cli_json("swarm", "join", n.cli("swarm", "invite", "friends").stdout.strip().splitlines()[-1])
        n_id = _swarm(n)["peer_id"]
        wait_for(
            lambda: any(f"/p2p/{n_id}/p2p-circuit" in a for a in _swarm_status(b, "friends")["relay_addrs"]),
            what="B to hold a reservation on N",
        )
        assert _swarm_status(n, "friends")["reachability"] == "public"
        assert not _swarm_status(n, "friends")["relay_addrs"]
