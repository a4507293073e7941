"""Invite addresses: never one only this machine can reach, for a node listening on every interface."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
import trio.testing
from harness.fakenet import FakeNet
from harness.inproc import make_fake_node, running_nodes

import protocol
from p2pnet import api
from p2pnet.api import Home
from p2pnet.node import ApiError, _addrs

LISTEN = ["/ip4/0.0.0.0/tcp/4001/p2p/12D3KooWPeer"]


def test_a_wildcard_listener_never_names_loopback() -> None:
    assert _addrs.invite_ips("0.0.0.0", None, lambda: []) == []
    assert _addrs.invite_ips("0.0.0.0", None, lambda: ["192.0.2.2"]) == ["192.0.2.2"]
    assert _addrs.invite_ips("0.0.0.0", "203.0.113.7", lambda: ["192.0.2.2"]) == ["203.0.113.7"]
    assert _addrs.invite_ips("127.0.15.3", None, lambda: ["192.0.2.2"]) == ["127.0.15.3"]  # asked for that one
    assert _addrs.invite_addrs(LISTEN, ["192.0.2.2"]) == ["/ip4/192.0.2.2/tcp/4001/p2p/12D3KooWPeer"]


def test_this_machine_s_addresses_leave_out_loopback_and_link_local() -> None:
    for ip in _addrs.local_ips():
        assert not ip.startswith(("127.", "0.", "169.254.")), ip


@pytest.mark.parametrize(
    ("bad", "why"),
    [("127.0.0.1", "cannot be reached"), ("0.0.0.0", "cannot be reached"), ("nope", "not an IPv4"), ("::1", "IPv4")],
)
def test_an_announced_address_must_be_dialable_from_elsewhere(bad: str, why: str) -> None:
    with pytest.raises(ApiError, match=why) as refused:
        _addrs.check_announce_ip(bad)
    assert refused.value.code == "bad_request"


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.mark.trio
async def test_no_invite_without_an_address_and_announce_names_one(
    tmp_path: Path, clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_addrs, "local_ips", lambda: [])  # only loopback on this machine
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        node = make_fake_node(net, tmp_path / "a", 1, listen_ip="0.0.0.0")
        async with running_nodes(node):
            with pytest.raises(ApiError) as refused:
                await node.request(api.SwarmCreate(name="friends", difficulty=8))
            assert refused.value.code == "no_address"
            assert "announce IP" in str(refused.value) and "--home" in str(refused.value)
            assert (await node.request(api.SwarmList())).swarms == []  # nothing created
            assert (await node.request(api.Announce())) == api.Announced(ip=None, ips=[])

            assert await node.request(api.Announce(ip="203.0.113.7")) == api.Announced(
                ip="203.0.113.7", ips=["203.0.113.7"]
            )
            created = await node.request(api.SwarmCreate(name="friends", difficulty=8))
            invite = protocol.decode_invite(created.invite, now=node.now())
            assert [a.split("/")[2] for a in invite.bootstrap] == ["203.0.113.7"]
            # The swarm's host asks members to dial it back there (p2pnet.net._dialback).
            assert [r.host.announced for r in node.swarms.running.values()] == ["203.0.113.7"]
        # Kept for the next start.
        assert json.loads(Home(tmp_path / "a").settings.read_text()) == {"announce_ip": "203.0.113.7"}
        again = make_fake_node(net, tmp_path / "a", 1, listen_ip="0.0.0.0")
        async with running_nodes(again):
            assert (await again.request(api.Announce())).ip == "203.0.113.7"
            assert [r.host.announced for r in again.swarms.running.values()] == ["203.0.113.7"]
            monkeypatch.setattr(_addrs, "local_ips", lambda: ["192.0.2.2"])
            assert (await again.request(api.Announce(clear=True))).ips == ["192.0.2.2"]
            assert [r.host.announced for r in again.swarms.running.values()] == [None]  # the running host too
            invite_key = (await again.request(api.SwarmInvite(name="friends"))).invite
            assert [a.split("/")[2] for a in protocol.decode_invite(invite_key, now=again.now()).bootstrap] == [
                "192.0.2.2"
            ]
        nursery.cancel_scope.cancel()
