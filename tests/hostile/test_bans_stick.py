"""Real daemons: a peer that sends garbage stem frames is banned, and the ban outlives a reconnect and a restart.

Each daemon and the attacker on its own 127.0.13.N (4x), so the address a ban
names is the attacker's.  The attacker is a raw p2pnet host holding the
invite key, with a key of its own that it keeps across attempts.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import pytest
import trio
from harness.daemons import DaemonProcess, join_swarm, running, start_node
from harness.polling import DEADLINE, until

import protocol
from p2pnet.net import STEM_PROTOCOL, StreamError, SwarmConnectError, SwarmHost, open_swarm_host
from p2pnet.node._swarm import REDIAL_MAX  # how long a peer may wait to redial

pytestmark = pytest.mark.integration


@asynccontextmanager
async def raw_host(invite: protocol.Invite, ip: str, seed: bytes) -> AsyncIterator[SwarmHost]:
    async with open_swarm_host(
        host_key_seed=seed,
        psk=invite.psk,
        topic="p2pnet/v1/" + protocol.swarm_id(invite.psk).hex(),
        validator=lambda data: True,
        listen_ip=ip,
    ) as host:
        yield host


def bans(node: DaemonProcess) -> list[dict]:
    return node.call("peers")["bans"]


def connected(node: DaemonProcess) -> set[str]:
    return {p for s in node.call("peers")["swarms"] for p in s["connected"]}


async def test_garbage_stem_frames_get_a_ban_that_outlives_reconnects_and_restarts(tmp_path: Path) -> None:
    a = start_node(tmp_path / "a", "127.0.13.40")
    b = start_node(tmp_path / "b", "127.0.13.41")
    seed = os.urandom(32)
    with running(a, b):
        invite = protocol.decode_invite(join_swarm(a, [b]), now=int(time.time()))
        a_peer = a.call("swarm.list")["swarms"][0]["peer_id"]
        async with raw_host(invite, "127.0.13.42", seed) as evil:
            await evil.connect(invite.bootstrap[0])
            for _ in range(8):  # more than the five offences forgiven
                with suppress(StreamError):
                    async with evil.open_stream(a_peer, STEM_PROTOCOL) as stream:
                        await stream.send(b"\x01" + bytes(256))
                        await trio.sleep(0.2)
            await until(lambda: any(x["peer_id"] == evil.peer_id for x in bans(a)), "the ban", within=DEADLINE)
            ban = next(x for x in bans(a) if x["peer_id"] == evil.peer_id)
            assert ban["reason"] == "stem" and ban["ip"] == "127.0.13.42"
            await until(lambda: evil.peer_id not in connected(a), "its connection closed", within=DEADLINE)
            with suppress(SwarmConnectError):  # back with the same id
                await evil.connect(invite.bootstrap[0])
            await trio.sleep(2)
            assert evil.peer_id not in connected(a)
            assert a.call("status")["bans"] == 1
            evil_id = evil.peer_id
        a.stop()
        a.start()  # restarted: the ban comes back from its store
        assert [x["peer_id"] for x in bans(a)] == [evil_id]
        shown = a.cli("peers").stdout  # what a user reads of it
        assert f"banned {evil_id} for " in shown and "more: stem" in shown
        async with raw_host(invite, "127.0.13.42", seed) as again:
            with suppress(SwarmConnectError):
                await again.connect(invite.bootstrap[0])
            await trio.sleep(2)
            assert again.peer_id == evil_id and evil_id not in connected(a)
        async with raw_host(invite, "127.0.13.43", os.urandom(32)) as newcomer:  # others still get in
            await newcomer.connect(invite.bootstrap[0])
            await until(lambda: newcomer.peer_id in connected(a), "a newcomer in", within=DEADLINE)
        # b backed off redialling a while a was down: up to REDIAL_MAX more before it tries again.
        await until(lambda: b.call("peers")["swarms"][0]["connected"], "b back with a", within=DEADLINE + REDIAL_MAX)
