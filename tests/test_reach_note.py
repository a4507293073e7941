"""The warning a node gives when friends on other networks may not reach it, and where it shows.

The words come from what the node knows (p2pnet.node._reachnote): the
addresses its invites name, what peers see it at, and which connected peers it
dialled at a public address.  The CLI prints them beside `swarm create`,
`swarm invite` and `status`; the TUI in the invite dialog and on the peers
screen.  The lab (tests/netlab/test_daemons_behind_nat.py) shows them on real
daemons behind a real NAT.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import protocol
from p2pnet import api
from p2pnet.cli import main
from p2pnet.node._reachnote import private_ip, reach_note
from tests.harness.fakenode import FakeNode, Model, fake_node
from tests.harness.polling import pilot_until
from tests.test_tui import _plain, run_on_feed
from tests.test_tui_invite import open_invite
from tui.screens.peers import render_peers, render_status

pytest.importorskip("textual")

from textual.widgets import Static

ANNOUNCE = "p2pnet announce IP"


def note(**given: Any) -> str:
    facts: dict[str, Any] = {"reachability": "unknown", "invite_ips": [], "seen_at": [], "public_peers": 0}
    return reach_note(**(facts | {"port": 4001, "announce": ANNOUNCE} | given))


@pytest.mark.parametrize(
    ("ip", "private"),
    [
        ("192.168.1.10", True),
        ("10.1.2.3", True),
        ("172.20.0.1", True),
        ("100.64.7.7", True),  # carrier-grade NAT
        ("127.0.0.5", True),
        ("169.254.1.1", True),
        ("198.51.100.10", False),
        ("203.0.113.10", False),
        ("8.8.8.8", False),
        ("not an ip", True),
        (None, True),
    ],
)
def test_private_ranges(ip: str | None, private: bool) -> None:
    assert private_ip(ip) is private


def test_behind_nat_with_no_public_member_says_so_and_what_to_do() -> None:
    said = note(reachability="behind_nat", invite_ips=["192.168.1.10"], seen_at=["203.0.113.10"])
    assert said.startswith("This node is behind NAT (peers see it at 203.0.113.10)")
    assert "invites name only 192.168.1.10" in said
    assert "No member with a public address is connected" in said and "no relay can carry friends" in said
    assert "forward TCP port 4001 on your router" in said
    assert f"(203.0.113.10, as peers see it) with: {ANNOUNCE}" in said
    assert "have a friend with a public address create the swarm" in said


def test_a_connected_public_member_is_named_as_the_way_in() -> None:
    one = note(reachability="behind_nat", invite_ips=["192.168.1.10"], seen_at=["203.0.113.10"], public_peers=1)
    assert "1 member with a public address is connected" in one and "invite made on its node" in one
    assert "No member with a public address" not in one
    two = note(reachability="behind_nat", invite_ips=["192.168.1.10"], seen_at=["203.0.113.10"], public_peers=2)
    assert "2 members with a public address are connected" in two


def test_a_relay_reservation_makes_the_invite_reachable_through_the_relay() -> None:
    said = note(
        reachability="behind_nat", invite_ips=["192.168.1.10"], seen_at=["203.0.113.10"], public_peers=1, relays=1
    )
    assert said.startswith("This node is behind NAT (peers see it at 203.0.113.10); invites also name")
    assert "through 1 public member of the swarm" in said and "reach it through a relay" in said
    assert "cannot" not in said.replace("cannot be dialled from outside", "") and "forward" not in said
    assert "through 2 public members" in note(invite_ips=["10.0.0.5"], relays=2)
    # No reservation: still told plainly.
    assert "cannot reach this swarm" in note(reachability="behind_nat", invite_ips=["192.168.1.10"], relays=0)


def test_a_private_address_before_any_peer_is_already_a_warning() -> None:
    said = note(invite_ips=["192.168.1.10"])
    assert "Invites name only the private address 192.168.1.10" in said
    assert "friends outside it cannot dial it" in said
    assert "forward TCP port 4001" in said and ANNOUNCE in said
    assert "as peers see it" not in said  # nobody has told us the router's address yet
    assert "private addresses 192.168.1.10, 10.0.0.5:" in note(invite_ips=["192.168.1.10", "10.0.0.5"])


def test_a_public_node_is_not_warned() -> None:
    assert note(reachability="public", invite_ips=["198.51.100.10"]) == ""
    assert note(reachability="unknown", invite_ips=["198.51.100.10"]) == ""
    assert note(reachability="public", invite_ips=["198.51.100.10", "192.168.1.10"]) == ""


def test_an_announced_router_address_still_needs_the_port_forwarded() -> None:
    said = note(reachability="behind_nat", invite_ips=["203.0.113.10"], seen_at=["203.0.113.10"])
    assert "behind NAT" in said and "invites name 203.0.113.10" in said
    assert "only if the router forwards TCP port 4001 here" in said


def test_a_public_address_nobody_could_dial_back_is_named_for_what_it_is() -> None:
    # Peers see the node's own address, yet their dial-back failed: a firewall, not a NAT.
    said = note(reachability="behind_nat", invite_ips=["198.51.100.11"])
    assert said.startswith("Members could not dial this node back at its own address (a firewall")
    assert "TCP port 4001 is let in from outside" in said and "none" not in said
    relayed = note(reachability="behind_nat", invite_ips=["198.51.100.11"], relays=1)
    assert "invites also name its address through 1 public member" in relayed and "through a relay" in relayed


def test_loopback_only_names_the_announce_command() -> None:
    said = note(invite_ips=["127.0.0.3"])
    assert said == (
        f"Invites name only 127.0.0.3, which friends on other machines cannot dial. "
        f"Name the address they reach you at with: {ANNOUNCE}"
    )
    assert "no address" in note(invite_ips=[])


# -- where it shows -------------------------------------------------------------------------------


def behind_nat() -> Model:
    return Model(seed=protocol.new_seed(), local_ip="192.168.1.10", reachability="behind_nat", seen_at=["203.0.113.10"])


def run(node: FakeNode, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    code = main(["--home", str(node.socket.parent), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def test_cli_warns_on_create_invite_and_status_behind_nat(capsys: pytest.CaptureFixture[str]) -> None:
    with fake_node(behind_nat()) as node:
        out, err = run(node, capsys, "swarm", "create", "friends")
        assert out.strip().splitlines()[-1].startswith("p2p")  # stdout ends with the key alone, as before
        assert err.startswith("warning: This node is behind NAT (peers see it at 203.0.113.10)")
        assert "forward TCP port" in err and "announce IP" in err
        out, err = run(node, capsys, "swarm", "invite", "friends")
        assert protocol.decode_invite(out.strip(), now=0).name == "friends"
        assert "behind NAT" in err
        out, _ = run(node, capsys, "status")
        assert "swarm friends: 0 peers connected, behind NAT" in out
        assert "  This node is behind NAT" in out
        out, err = run(node, capsys, "swarm", "invite", "friends", "--json")
        assert err == "" and "behind NAT" in msgspec.json.decode(out)["reach_note"]


def test_cli_says_nothing_of_the_sort_for_a_public_node(capsys: pytest.CaptureFixture[str]) -> None:
    public = Model(seed=protocol.new_seed(), local_ip="198.51.100.10", reachability="public")
    with fake_node(public) as node:
        _, err = run(node, capsys, "swarm", "create", "friends")
        assert err == ""
        out, _ = run(node, capsys, "status")
        assert "reachable from outside" in out and "NAT" not in out


def test_peers_screen_shows_reachability_and_the_warning() -> None:
    counts = dict.fromkeys(api.Counts.__struct_fields__, 0)
    status = {"version": 1, "home": "/h", "pid": 1, "identity": "ready", "uptime": 9, "counts": counts}
    status |= {"gossip": {}, "failures": {}}
    warned = {"name": "home", "peer_id": "x", "peers": 1, "sync": None, "reachability": "behind_nat"}
    warned["reach_note"] = "This node is behind NAT (peers see it at 203.0.113.10)."
    fine = {"name": "club", "peer_id": "y", "peers": 2, "sync": None, "reachability": "public", "public_peers": 2}
    status["swarms"] = [warned, fine]
    shown = _plain(render_status(msgspec.convert(status, api.StatusResult)))
    assert "reach home" in shown and "behind NAT" in shown and "peers see it at 203.0.113.10" in shown
    assert "reach club" in shown and "reachable from outside, 2 public members connected" in shown


def test_peers_screen_shows_each_path_the_relays_and_the_router() -> None:
    counts = dict.fromkeys(api.Counts.__struct_fields__, 0)
    status = {"version": 1, "home": "/h", "pid": 1, "identity": "ready", "uptime": 9, "counts": counts}
    status |= {"gossip": {}, "failures": {}}
    home = {"name": "home", "peer_id": "x", "peers": 3, "sync": None, "reachability": "behind_nat"}
    home |= {"paths": {"a": "direct", "b": "hole_punched", "c": "relayed"}, "relaying": 0}
    home |= {"relay_addrs": ["/ip4/198.51.100.10/tcp/4001/p2p/R/p2p-circuit/p2p/x"], "upnp": "refused"}
    mapped = {"name": "club", "peer_id": "y", "peers": 0, "sync": None, "reachability": "public", "relaying": 2}
    mapped |= {"upnp": "mapped", "upnp_addr": "203.0.113.10:4001"}
    status["swarms"] = [home, mapped]
    shown = _plain(render_status(msgspec.convert(status, api.StatusResult)))
    assert "1 direct, 1 hole-punched, 1 relayed; 1 relay address" in shown
    assert "the router refused to forward the port" in shown
    assert "the router forwards 203.0.113.10:4001 here" in shown and "relaying 2 circuits" in shown
    peers = {"swarm": "home", "peer_id": "x", "mesh": [], "known": 3, "addressed": [], "stem_invalid": {}}
    peers |= {"connected": ["peer-aaaaaaaaaaaa", "peer-bbbbbbbbbbbb"], "invalid": {"peer-bbbbbbbbbbbb": 2}}
    peers |= {"paths": {"peer-aaaaaaaaaaaa": "relayed", "peer-bbbbbbbbbbbb": "hole_punched"}}
    table = _plain(render_peers([msgspec.convert(peers, api.SwarmPeers)]))
    assert "aaaaaaaaaaaa · relayed" in table and "bbbbbbbbbbbb · hole-punched ⚠ 2 invalid" in table


def test_invite_dialog_shows_the_warning_behind_nat() -> None:
    async def body(pilot: Any, *_: Any) -> None:
        reach = (await open_invite(pilot)).query_one("#invite-reach", Static)
        await pilot_until(pilot, lambda: reach.display and "behind NAT" in str(reach.render()), "the warning")
        assert "forward TCP port" in str(reach.render())

    with fake_node(behind_nat()) as node:
        node.call("swarm.create", name="friends")
        run_on_feed(node.socket, body)


def test_invite_dialog_has_no_warning_for_a_public_node() -> None:
    async def body(pilot: Any, *_: Any) -> None:
        assert not (await open_invite(pilot)).query_one("#invite-reach", Static).display

    with fake_node(Model(seed=protocol.new_seed(), local_ip="198.51.100.10", reachability="public")) as node:
        node.call("swarm.create", name="friends")
        run_on_feed(node.socket, body)
