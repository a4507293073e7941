"""Real daemons: many peer keys dialling from one address get no more than the per-address cap, twice over.

The attacker holds the invite key and makes a fresh libp2p key per
connection (a key costs nothing), all from 127.0.13.92; the daemon lets
``max_inbound_per_ip`` of them in, refuses the rest, keeps its honest member,
and still lets in a newcomer from elsewhere.  A second wave after the first
is refused just the same.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack, suppress
from pathlib import Path

import pytest
from _attacker import raw_host
from harness.daemons import DaemonProcess, join_swarm, running, start_node
from harness.polling import DEADLINE, until

import protocol
from p2pnet.net import GossipParams, SwarmConnectError

pytestmark = pytest.mark.integration

FLOOD_IP = "127.0.13.92"


def connected(node: DaemonProcess) -> set[str]:
    return {p for s in node.call("peers")["swarms"] for p in s["connected"]}


async def test_many_keys_from_one_address_get_only_the_cap(tmp_path: Path) -> None:
    cap = GossipParams().max_inbound_per_ip
    a = start_node(tmp_path / "a", "127.0.13.90")
    b = start_node(tmp_path / "b", "127.0.13.91")
    with running(a, b):
        invite = protocol.decode_invite(join_swarm(a, [b]), now=int(time.time()))
        b_id = b.call("swarm.list")["swarms"][0]["peer_id"]
        await until(lambda: b_id in connected(a), "the honest member in", within=DEADLINE)

        async with AsyncExitStack() as stack:
            flood = set()
            for _wave in range(2):
                for _ in range(2 * cap):
                    evil = await stack.enter_async_context(raw_host(invite.psk, FLOOD_IP))
                    flood.add(evil.peer_id)
                    with suppress(SwarmConnectError):
                        await evil.connect(invite.bootstrap[0])
                in_now = flood & connected(a)
                assert 0 < len(in_now) <= cap, in_now
            assert b_id in connected(a)
            newcomer = await stack.enter_async_context(raw_host(invite.psk, "127.0.13.93"))
            await newcomer.connect(invite.bootstrap[0])
            await until(lambda: newcomer.peer_id in connected(a), "a newcomer from elsewhere in", within=DEADLINE)
            assert a.call("status")["identity"] == "ready"
