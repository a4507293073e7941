"""Circuit relay v2 (py-libp2p 0.8.1) inside a private network: what it takes (docs/nat.md).

A relayed connection is a stream through the relay, upgraded like any other
connection.  The stop side (``CircuitV2Protocol.handle_incoming_connection``)
upgrades it with ``upgrade_inbound_connection``, which wraps it in the swarm's
PSK; the dialling side (``CircuitV2Transport.dial``) upgrades it with
``upgrade_outbound_connection``, which does not (the swarm applies the PSK in
its TCP dial path only).  So stock relayed dials between two members of one
private network fail; wrapping the dialler's raw relayed connection in the PSK
makes them work (tests/harness/relay.py).  The first test fails the day
upstream fixes it; the second is the fix p2pnet will install with relays (#15).

Real hosts on loopback.  Addresses: 127.0.15.1x.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import multiaddr
import pytest
import trio
from harness.polling import DEADLINE
from harness.relay import psk_relay_transport
from libp2p import new_host
from libp2p.connection_types import ConnectionType
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.identity.identify.identify import ID as IDENTIFY
from libp2p.network.exceptions import SwarmException
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.relay.circuit_v2 import PROTOCOL_ID, CircuitV2Protocol
from libp2p.tools.anyio_service import background_trio_service

PSK = os.urandom(32).hex()


@asynccontextmanager
async def relayed(*, psk_on_dial: bool) -> AsyncIterator[tuple[Any, Any, multiaddr.Multiaddr]]:
    """Relay R, dialler A, listener B (reserved on R), all in one private network.

    Yields A's host, A's relay transport and B's circuit address through R.
    """
    r, a, b = (new_host(key_pair=create_new_key_pair(os.urandom(32)), psk=PSK) for _ in range(3))
    relay, proto_a, proto_b = CircuitV2Protocol(r, allow_hop=True), CircuitV2Protocol(a), CircuitV2Protocol(b)
    via_a = psk_relay_transport(a, proto_a, PSK if psk_on_dial else None)
    via_b = psk_relay_transport(b, proto_b, PSK)
    async with (
        r.run([multiaddr.Multiaddr("/ip4/127.0.15.11/tcp/0")]),
        a.run([multiaddr.Multiaddr("/ip4/127.0.15.12/tcp/0")]),
        b.run([multiaddr.Multiaddr("/ip4/127.0.15.13/tcp/0")]),
        background_trio_service(relay),
        background_trio_service(proto_a),
        background_trio_service(proto_b),
        trio.open_nursery() as nursery,
    ):
        try:
            r_addr = r.get_addrs()[0]
            with trio.fail_after(DEADLINE):
                await a.connect(info_from_p2p_addr(r_addr))
                await b.connect(info_from_p2p_addr(r_addr))
                assert await via_b.reserve(await b.new_stream(r.get_id(), [PROTOCOL_ID]), r.get_id(), nursery)
            yield a, via_a, multiaddr.Multiaddr(f"{r_addr}/p2p-circuit/p2p/{b.get_id()}")
        finally:
            nursery.cancel_scope.cancel()
            with trio.CancelScope(shield=True):
                for host in (a, b, r):
                    await host.close()


@pytest.mark.integration  # often waits out the listener's inbound upgrade timeout (10 s)
async def test_stock_relayed_dial_fails_in_a_private_network() -> None:
    async with relayed(psk_on_dial=False) as (_, via_a, circuit):
        with pytest.raises(SwarmException, match="failed to upgrade security"), trio.fail_after(DEADLINE):
            await via_a.dial(circuit)


async def test_a_relayed_dial_with_the_psk_on_the_dialling_side_works() -> None:
    async with relayed(psk_on_dial=True) as (a, via_a, circuit):
        with trio.fail_after(DEADLINE):
            conn = await via_a.dial(circuit)
            peer = conn.muxed_conn.peer_id
            stream = await a.new_stream(peer, [IDENTIFY])  # a stream over the relayed connection
            await stream.close()
        assert str(peer) == str(circuit).rsplit("/p2p/", 1)[1]  # B, through R
        # Still labelled relayed after identify has told A B's own addresses (DCUtR trusts this label).
        assert conn.get_connection_type() is ConnectionType.RELAYED
        assert [str(x).endswith(f"/p2p-circuit/p2p/{peer}") for x in conn.get_transport_addresses()] == [True]
