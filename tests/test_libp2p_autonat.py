"""Stock AutoNAT (py-libp2p 0.8.1) answers "reachable" for an address nothing listens on.

Why p2pnet does not use it yet (docs/nat.md): its server dials the asker
back with ``host.connect``, which returns the connection the request came
over instead of dialling.  Real hosts on loopback; the asker advertises an
address on its own IP (the server's anti-amplification rule lets only those
through) where nothing listens.  When this test fails, upstream dials back
for real and AutoNAT is worth a second look.

Addresses: 127.0.15.x.
"""

from __future__ import annotations

import os
import socket

import multiaddr
import trio
from harness.stock_peer import dead_port
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.host.autonat import AutoNATService
from libp2p.host.autonat.pb.autonat_pb2 import Message
from libp2p.peer.peerinfo import info_from_p2p_addr

from p2pnet.net._addrs import dial_from

SERVER_IP, ASKER_IP = "127.0.15.1", "127.0.15.2"


async def test_stock_autonat_reports_a_dead_address_reachable() -> None:
    server, asker = (new_host(key_pair=create_new_key_pair(os.urandom(32))) for _ in range(2))
    async with (
        server.run([multiaddr.Multiaddr(f"/ip4/{SERVER_IP}/tcp/0")]),
        asker.run([multiaddr.Multiaddr(f"/ip4/{ASKER_IP}/tcp/0")]),
    ):
        try:
            AutoNATService(server)
            client = AutoNATService(asker, serve=False)
            dial_from(asker, ASKER_IP)  # so the server sees the asker at ASKER_IP
            port = dead_port(ASKER_IP)
            dead = multiaddr.Multiaddr(f"/ip4/{ASKER_IP}/tcp/{port}")
            with trio.fail_after(30):
                await asker.connect(info_from_p2p_addr(server.get_addrs()[0]))
                status, addr = await client.query_server(server.get_id(), [dead.to_bytes()])
            # Nothing listens there: a real dial-back would have failed.
            with socket.socket() as probe:
                assert probe.connect_ex((ASKER_IP, port)) != 0
            assert (status, addr) == (Message.OK, dead.to_bytes())
        finally:
            with trio.CancelScope(shield=True):
                await asker.close()
                await server.close()
