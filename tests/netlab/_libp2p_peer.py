"""A stock py-libp2p host run inside a lab namespace, in one role of a relayed connection.

Run as a script through ``ip netns exec`` (``Host.popen``); one JSON line on
stdout says what happened, a failure goes to stderr with exit status 1.

    relay IP PSK                     serve circuit relay v2; prints {"addr": ...}, then serves until killed
    listen IP PSK RELAY_ADDR         reserve a slot on the relay, answer hole punches (DCUtR);
                                     prints {"peer": ...}, then waits
    dial IP PSK RELAY_ADDR PEER      dial PEER through the relay and open a stream over it; prints
                                     {"peer": ..., "relayed": bool, "addrs": [...]} and exits
    punch IP PSK RELAY_ADDR PEER N   dial as above, then try hole punching (DCUtR) up to N times; prints
                                     the same line, then {"punched": [bool per try]}, then waits
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import multiaddr
import trio
from libp2p import new_host
from libp2p.connection_types import ConnectionType
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.identity.identify.identify import ID as IDENTIFY
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.relay.circuit_v2 import PROTOCOL_ID, CircuitV2Protocol, DCUtRProtocol
from libp2p.tools.anyio_service import background_trio_service

sys.path[:0] = [str(Path(__file__).resolve().parents[n]) for n in (1, 2)]  # tests/ (the harness), the tree
from harness.relay import psk_once_per_connection, psk_relay_transport  # noqa: E402

DEADLINE = 60.0


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def main(role: str, ip: str, psk: str, *rest: str) -> None:
    psk_once_per_connection()
    host = new_host(key_pair=create_new_key_pair(os.urandom(32)), psk=psk)
    proto = CircuitV2Protocol(host, allow_hop=role == "relay")
    dcutr = DCUtRProtocol(host)
    async with (
        host.run([multiaddr.Multiaddr(f"/ip4/{ip}/tcp/0")]),
        background_trio_service(proto),
        background_trio_service(dcutr),
        trio.open_nursery() as nursery,
    ):
        if role == "relay":
            say(addr=str(host.get_addrs()[0]))
            await trio.sleep_forever()
        relay = info_from_p2p_addr(multiaddr.Multiaddr(rest[0]))
        transport = psk_relay_transport(host, proto, psk)
        with trio.fail_after(DEADLINE):
            await host.connect(relay)
        if role == "listen":
            with trio.fail_after(DEADLINE):
                stream = await host.new_stream(relay.peer_id, [PROTOCOL_ID])
                if not await transport.reserve(stream, relay.peer_id, nursery):
                    raise RuntimeError("the relay refused a reservation")
            say(peer=str(host.get_id()))
            await trio.sleep_forever()
        peer = ID.from_base58(rest[1])
        with trio.fail_after(DEADLINE):
            conn = await transport.dial(multiaddr.Multiaddr(f"{rest[0]}/p2p-circuit/p2p/{peer}"))
            stream = await host.new_stream(peer, [IDENTIFY])
            await stream.close()
        say(
            peer=str(conn.muxed_conn.peer_id),
            relayed=conn.get_connection_type() is ConnectionType.RELAYED,
            addrs=[str(a) for a in conn.get_transport_addresses()],
        )
        if role == "punch":
            punched: list[bool] = []
            while len(punched) < int(rest[2]) and not any(punched):
                punched.append(await dcutr.initiate_hole_punch(peer))
            say(punched=punched)
            await trio.sleep_forever()
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    try:
        trio.run(main, *sys.argv[1:])
    except Exception as exc:
        print(f"{sys.argv[1]}: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
