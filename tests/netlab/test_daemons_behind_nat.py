"""Real daemons in the lab: who can join whose swarm from behind a home router, today.

Each daemon is ``python -m p2pnet daemon`` inside its own namespace; the test
drives it through its control socket (a file in its home, reachable from the
root namespace) and the real CLI.  Issue #15 adds relays and hole punching;
until then two members who are both behind NAT, with no public member between
them, cannot reach each other, and the test of that case is expected to fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.daemons import DaemonProcess, join_swarm, running
from harness.polling import wait_for

from netlab import Lab, Nat

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
    from_a = a.call("post", text="hello from A")["id"]
    from_b = b.call("post", text="hello from B")["id"]
    wait_for(lambda: from_a in b.stored_ids(), what="A's post at B")
    wait_for(lambda: from_b in a.stored_ids(), what="B's post at A")


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


@pytest.mark.xfail(
    strict=True,
    reason="#15: two members behind NAT with no public member between them cannot reach each other (no relay yet)",
)
@pytest.mark.parametrize("two", [(Nat.CONE, Nat.CONE)], indirect=True, ids=_placed)
def test_two_members_behind_nat_join_without_a_relay(two: tuple[DaemonProcess, DaemonProcess]) -> None:
    a, b = two
    _posts_flow_both_ways(a, b)


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
    invite = b.cli("swarm", "invite", "friends")
    assert invite.stderr.startswith("warning: This node is behind NAT (peers see it at 203.0.113."), invite.stderr
    assert "1 member with a public address is connected" in invite.stderr
    assert "forward TCP port" in invite.stderr
    assert "friends: 1 peers connected, behind NAT, 1 public member connected" in b.cli("status").stdout
    wait_for(lambda: _swarm_status(a, "friends")["reachability"] == "public", what="A to know it is public")
    assert a.cli("swarm", "invite", "friends").stderr == ""
    said = a.cli("status").stdout
    assert "swarm friends: 1 peers connected, reachable from outside" in said and "NAT" not in said
    assert _swarm_status(a, "friends")["reach_note"] == ""
