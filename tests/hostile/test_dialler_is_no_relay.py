"""Real daemons: a peer that dials every member is never a stem relay of a member that dialled anyone itself.

Four daemons on 127.0.13.6x join one swarm and find each other by peer
exchange; a hostile host on its own address dials all four, serves the stem
protocol and records every frame it gets. Members post; no stem frame comes
to it from a member that has a peer of its own (its `peers` lists
`outbound`): relays are picked only among those (protocol.md, section 11.3).
A member that dialled no one (the swarm's creator, all of whose peers
dialled it) falls back to every peer, so it is left out of the check.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import trio
from harness.daemons import DaemonProcess, join_swarm, running, start_node
from harness.polling import DEADLINE, until

import protocol
from p2pnet.net import STEM_PROTOCOL, StreamError, open_swarm_host

pytestmark = pytest.mark.integration


def swarm_peers(node: DaemonProcess) -> dict:
    return node.call("peers")["swarms"][0]


async def test_a_peer_that_dials_every_daemon_gets_no_stem_from_those_that_dial(tmp_path: Path) -> None:
    nodes = [start_node(tmp_path / f"n{i}", f"127.0.13.{60 + i}") for i in range(4)]
    with running(*nodes):
        invite = protocol.decode_invite(join_swarm(nodes[0], nodes[1:]), now=int(time.time()))
        ids = {n.call("swarm.list")["swarms"][0]["peer_id"]: n for n in nodes}
        await until(lambda: all(len(swarm_peers(n)["connected"]) == 3 for n in nodes), "a full mesh", within=DEADLINE)
        frames: list[str] = []

        async def record(stream: object) -> None:
            while True:
                try:
                    await stream.receive(protocol.MAX_STEM_FRAME)  # type: ignore[attr-defined]
                except StreamError:
                    return
                frames.append(stream.peer_id)  # type: ignore[attr-defined]

        async with open_swarm_host(
            host_key_seed=os.urandom(32),
            psk=invite.psk,
            topic="p2pnet/v1/" + protocol.swarm_id(invite.psk).hex(),
            validator=lambda data: True,
            listen_ip="127.0.13.69",
        ) as evil:
            evil.serve(STEM_PROTOCOL, record)
            for pid, node in ids.items():
                await evil.connect(_addr(node, pid))
            await until(
                lambda: all(evil.peer_id in swarm_peers(n)["connected"] for n in nodes), "it in", within=DEADLINE
            )
            dialling = {pid for pid, n in ids.items() if swarm_peers(n)["outbound"]}
            assert len(dialling) >= 3
            posted = [n.call("post", text=f"{i} from {pid[-6:]}")["id"] for pid, n in ids.items() for i in range(5)]
            await until(
                lambda: all(set(posted) <= n.stored_ids() for n in nodes), "every post everywhere", within=DEADLINE
            )
            await trio.sleep(1)
            assert not [pid for pid in frames if pid in dialling], frames


def _addr(node: DaemonProcess, pid: str) -> str:
    addrs = node.call("swarm.list")["swarms"][0]["addrs"]
    return next(a for a in addrs if a.endswith(pid))
