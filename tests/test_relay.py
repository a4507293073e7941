"""Relays inside the swarm on real hosts (p2pnet.net._relay): reservations, relayed dials, the dial race, upgrades.

Three swarm hosts on loopback in one private network: R relays, B holds a
reservation on R, A reaches B through R.  On loopback B's own address is
dialable, so DCUtR upgrades A-B to a direct connection; the tests that look
at the relayed connection itself stop DCUtR's auto-drive first.

Addresses: 127.0.16.x.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import trio
from harness.inproc import swarm_hosts
from harness.polling import DEADLINE, until
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2 import DCUtRProtocol

import protocol
from p2pnet.net import GossipParams, SwarmConnectError, SwarmHost, open_swarm_host, peer_id_from_seed
from p2pnet.net._relay import is_circuit

pytestmark = pytest.mark.trio

TOPIC = "p2pnet/test/relay"
STATIC = GossipParams(target_peers=0)


@asynccontextmanager
async def trio_of_hosts(params: GossipParams = STATIC) -> AsyncIterator[tuple[SwarmHost, SwarmHost, SwarmHost, list]]:
    """R, A, B in one swarm; B reserved on R.  Yields them and what A received."""
    psk = os.urandom(32)
    got: list[bytes] = []

    async def on_message(data: bytes) -> None:
        got.append(data)

    ips = [f"127.0.16.{n}" for n in (11, 12, 13)]
    async with swarm_hosts(*ips, topic=TOPIC, params=params, psk=psk, on_message={ips[2]: on_message}) as hosts:
        r, a, b = hosts
        with trio.fail_after(DEADLINE):
            await b.connect(r.listen_addrs[0])
            assert await b.relays.reserve(r.peer_id)
        yield r, a, b, got


def _relayed_conns(host: SwarmHost, peer: str) -> list[Any]:
    conns = host._host.get_network().get_connections(ID.from_base58(peer))
    return [c for c in conns if any(is_circuit(x) for x in c.get_transport_addresses())]


@pytest.fixture
def no_hole_punch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep relayed connections relayed: DCUtR never starts an upgrade on its own."""

    async def idle(self: DCUtRProtocol) -> None:
        await trio.sleep_forever()

    monkeypatch.setattr(DCUtRProtocol, "_auto_drive_loop", idle)


@pytest.mark.usefixtures("no_hole_punch")
async def test_a_member_reaches_another_through_a_relay_and_gossip_flows_over_it() -> None:
    async with trio_of_hosts() as (r, a, b, got):
        [circuit] = b.relay_addrs()
        assert circuit == f"{r.listen_addrs[0]}/p2p-circuit/p2p/{b.peer_id}"
        with trio.fail_after(DEADLINE):
            await a.connect(circuit)
        assert _relayed_conns(a, b.peer_id) and _relayed_conns(b, a.peer_id)
        assert a.paths()[b.peer_id] == "relayed" and b.paths()[a.peer_id] == "relayed"
        assert a.paths()[r.peer_id] == "direct"
        assert r.relaying() == 1
        # A dialled B (through R): B may be A's stem relay; A, who came in through R, is not B's.
        assert b.peer_id in a.outbound_peers() and a.peer_id not in b.outbound_peers()
        # Gossip over the relayed connection (A is connected to B alone).
        await until(lambda: b.peer_id in a.mesh_peers(), "A grafts B", within=DEADLINE)
        await a.publish(b"over the relay")
        await until(lambda: b"over the relay" in got, "B receives A's post", within=DEADLINE)


@pytest.mark.usefixtures("no_hole_punch")
async def test_a_relayed_peer_has_no_address_of_its_own_so_its_offences_never_ban_the_relay() -> None:
    async with trio_of_hosts() as (r, a, b, _):
        with trio.fail_after(DEADLINE):
            await a.connect(b.relay_addrs()[0])
        # Every peer behind R would otherwise appear at R's address, counted and banned as one.
        assert b.peer_ip(a.peer_id) is None and a.peer_ip(b.peer_id) is None
        for _ in range(b.guard.params.offences + 1):
            b.offence(a.peer_id, "test")
        assert b.guard.banned(a.peer_id) is not None
        assert b.guard.banned(ip="127.0.16.11") is None and b.guard.banned(r.peer_id) is None
        await until(lambda: a.peer_id not in b.connected_peers(), "B drops A", within=DEADLINE)
        assert r.peer_id in b.connected_peers()


async def test_a_dial_races_a_silent_direct_address_against_the_relay() -> None:
    # A direct address that accepts TCP and never answers would hold a
    # sequential dial for the whole (huge) connect timeout; the race tries
    # the relay half a second in and wins long before the deadline.
    silent = trio.socket.socket()
    await silent.bind(("127.0.16.20", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    held = []

    async def hold() -> None:
        while True:
            conn, _ = await silent.accept()
            held.append(conn)

    try:
        async with trio_of_hosts(GossipParams(target_peers=0, connect_timeout=3600.0)) as (_, a, b, _g):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(hold)
                with trio.fail_after(DEADLINE):
                    await a.connect(f"/ip4/127.0.16.20/tcp/{port}/p2p/{b.peer_id}", b.relay_addrs()[0])
                nursery.cancel_scope.cancel()
            assert b.peer_id in a.connected_peers()
            assert held, "the direct dial was made too"
    finally:
        for conn in held:
            conn.close()
        silent.close()


async def test_every_attempt_failing_says_why_each_failed() -> None:
    async with trio_of_hosts() as (r, a, b, _):
        dead = f"/ip4/127.0.16.21/tcp/9/p2p/{b.peer_id}"  # nothing listens there
        wrong = f"{r.listen_addrs[0]}/p2p-circuit/p2p/{b.peer_id}".replace(r.peer_id, a.peer_id)
        with pytest.raises(SwarmConnectError) as raised, trio.fail_after(DEADLINE):
            await a.connect(dead, wrong)
        said = str(raised.value)
        assert "direct: " in said and f"{wrong.rsplit('/p2p/', 1)[0]}: not a circuit" in said, said


async def test_a_relayed_connection_upgrades_to_a_direct_one() -> None:
    # On loopback B's own address answers, so DCUtR's first step (a plain dial) already goes direct.
    async with trio_of_hosts() as (_, a, b, _g):
        with trio.fail_after(DEADLINE):
            await a.connect(b.relay_addrs()[0])
        await until(lambda: a.paths().get(b.peer_id) == "hole_punched", "A upgrades to direct", within=DEADLINE)


async def test_a_member_behind_nat_keeps_no_reservation_on_members_with_private_addresses() -> None:
    async with trio_of_hosts() as (r, a, _b, _):
        await a.connect(r.listen_addrs[0])
        assert a.relays.wanted()  # loopback: every address private
        await a.relays.tend()
        assert a.relay_addrs() == []  # R is at a private address: no friend elsewhere reaches it


async def test_an_invite_carries_a_circuit_address_as_it_is() -> None:
    # protocol.md, section 7: any /p2p/-ending multiaddr up to 255 bytes; a circuit address is about 160.
    relay, me = peer_id_from_seed(bytes(32)), peer_id_from_seed(bytes([1]) * 32)
    circuit = f"/ip4/198.51.100.10/tcp/65535/p2p/{relay}/p2p-circuit/p2p/{me}"
    invite = protocol.Invite("friends", bytes(32), (f"/ip4/192.168.1.10/tcp/4001/p2p/{me}", circuit), None, 8)
    assert protocol.decode_invite(protocol.encode_invite(invite), now=0).bootstrap == invite.bootstrap


async def test_a_member_keeps_two_reservations_renews_them_and_replaces_a_lost_one() -> None:
    async with trio_of_hosts() as (r, a, b, _), AsyncExitStack() as stack:
        spare = await stack.enter_async_context(
            open_swarm_host(
                host_key_seed=os.urandom(32),
                psk=bytes.fromhex(r._host.get_network().psk),  # R's swarm
                topic=TOPIC,
                validator=lambda data: True,
                listen_ip="127.0.16.14",
                params=STATIC,
            )
        )
        b.relays.reachable = lambda ip: True  # loopback stands for public addresses here
        for relay in (a, spare):
            await b.connect(relay.listen_addrs[0])
        await b.relays.tend()
        held = {addr.split("/p2p/")[1].removesuffix("/p2p-circuit") for addr in b.relay_addrs()}
        assert len(held) == 2 and r.peer_id in held  # R first (longest connected), then one more
        # Due for renewal: asked again, and still held.
        for h in b.relays._held.values():
            h.renew_at = 0.0
        await b.relays.tend()
        assert all(h.renew_at > trio.current_time() for h in b.relays._held.values()) and len(b.relay_addrs()) == 2
        # R goes away: its reservation is dropped and the third member takes its place.
        await b._host.disconnect(ID.from_base58(r.peer_id))
        await b.relays.tend()
        held = {addr.split("/p2p/")[1].removesuffix("/p2p-circuit") for addr in b.relay_addrs()}
        assert held == {a.peer_id, spare.peer_id}
