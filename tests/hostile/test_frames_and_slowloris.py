"""Bytes on real libp2p streams: split, oversized and garbage frames, and slowloris streams and handshakes.

A node in this process on real hosts (127.0.13.8x); the attacker is a raw
host holding the swarm key that writes what it likes on a stream.  A frame
split over several writes is one frame; a length prefix over the limit, a
broken prefix and bytes that are no object are offences, and the stream is
closed.  A peer that opens streams and then sends a byte now and then, or a
bare TCP connection that never says anything, holds nothing for long: the stem closes a stream whose
frame does not complete within ``STREAM_IDLE``, sync a session whose next
frame does not come within ``READ_TIMEOUT`` (both made small here), and
py-libp2p a connection whose handshake does not finish within its inbound
upgrade timeout (10 s, left as it is).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import trio
from _attacker import raw_host, stamped_posts
from harness.inproc import LOW_DIFFICULTY, make_node, running_nodes
from harness.polling import DEADLINE, until
from libp2p.utils.varint import encode_uvarint

import protocol
from p2pnet import api
from p2pnet.net import STEM_PROTOCOL, SYNC_PROTOCOL, GossipParams, SwarmHost, _stem, _sync
from p2pnet.node import Node


@asynccontextmanager
async def node_and_attacker(tmp_path: Path, n: int) -> AsyncIterator[tuple[Node, Any, SwarmHost]]:
    """A running node at 127.0.13.<n> in a swarm of its own, and a raw host in it at 127.0.13.<n+1>."""
    node = make_node(tmp_path / "a", f"127.0.13.{n}", gossip=GossipParams(connect_timeout=5.0))
    async with running_nodes(node):
        created = await node.request(api.SwarmCreate(name="friends", difficulty=LOW_DIFFICULTY))
        invite = protocol.decode_invite(created.invite, now=node.now())
        runtime = next(iter(node.swarms.running.values()))
        async with raw_host(invite.psk, f"127.0.13.{n + 1}") as evil:
            await evil.connect(invite.bootstrap[0])
            yield node, runtime, evil


async def closed_by_peer(raw: Any) -> bool:
    """Wait (bounded) until the other end closes or resets the stream; True if it did."""
    with trio.move_on_after(DEADLINE):
        while True:
            try:
                if not await raw.read(1 << 16):
                    return True
            except Exception:
                return True
    return False


def frame(payload: bytes) -> bytes:
    return encode_uvarint(len(payload)) + payload


async def test_a_frame_split_over_writes_is_one_frame(tmp_path: Path) -> None:
    async with node_and_attacker(tmp_path, 80) as (node, runtime, evil):
        [post] = stamped_posts(1, LOW_DIFFICULTY)
        data = frame(protocol.encode_stem(post.wire))
        async with evil.open_stream(runtime.host.peer_id, STEM_PROTOCOL) as stream:
            for part in (data[:1], data[1:40], data[40:200], data[200:]):
                await stream._raw.write(part)
                await trio.sleep(0.2)
            await until(lambda: runtime.stem.stats["received"] == 1, "the stem object taken", within=DEADLINE)
        assert runtime.stem.invalid[evil.peer_id] == 0
        await until(lambda: node.store.get(post.id) is not None, "it stored after its embargo", within=DEADLINE)


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(encode_uvarint(protocol.MAX_STEM_FRAME + 1) + bytes(100), id="oversized"),
        pytest.param(b"\xff" * 12, id="broken length"),
        pytest.param(frame(os.urandom(300)), id="no object"),
        pytest.param(frame(b""), id="empty"),
    ],
)
async def test_garbage_frames_close_the_stream_and_count_against_the_peer(tmp_path: Path, garbage: bytes) -> None:
    async with node_and_attacker(tmp_path, 82) as (node, runtime, evil):
        async with evil.open_stream(runtime.host.peer_id, STEM_PROTOCOL) as stream:
            await stream._raw.write(garbage)
            assert await closed_by_peer(stream._raw)
        assert runtime.stem.invalid[evil.peer_id] == 1 and runtime.stem.stats["received"] == 0
        # The honest path still works for everyone else, and the node is up.
        assert (await node.request(api.Status())).identity == "ready"


async def test_slowloris_streams_are_closed_and_hold_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stem, "STREAM_IDLE", 1.0)
    monkeypatch.setattr(_sync, "READ_TIMEOUT", 1.0)
    async with node_and_attacker(tmp_path, 84) as (_, runtime, evil), AsyncExitStack() as stack:
        target = runtime.host.peer_id
        raws = []
        for _ in range(8):  # a frame of 300 bytes, a byte at a time
            stream = await stack.enter_async_context(evil.open_stream(target, STEM_PROTOCOL))
            await stream._raw.write(encode_uvarint(300)[:1])
            raws.append(stream._raw)
        sync_stream = await stack.enter_async_context(evil.open_stream(target, SYNC_PROTOCOL))
        await sync_stream._raw.write(b"\x01")  # a session's first byte, then nothing more

        async def trickle(raw: Any) -> None:
            with suppress(Exception):
                while True:
                    await trio.sleep(0.3)
                    await raw.write(b"\x00")

        async with trio.open_nursery() as nursery:
            for raw in raws:
                nursery.start_soon(trickle, raw)
            for raw in [*raws, sync_stream._raw]:
                assert await closed_by_peer(raw)
            nursery.cancel_scope.cancel()
        await until(lambda: runtime.sync.stats.sessions_failed >= 1, "the stalled sync session ended", within=DEADLINE)
        assert not runtime.sync.stats.active
        # Nothing is held: the same peer opens as many streams as it may again.
        again = await stack.enter_async_context(evil.open_stream(target, STEM_PROTOCOL))
        [post] = stamped_posts(1, LOW_DIFFICULTY)
        await again.send(protocol.encode_stem(post.wire))
        await until(lambda: runtime.stem.stats["received"] == 1, "a whole frame taken", within=DEADLINE)


async def test_a_connection_that_never_finishes_its_handshake_is_dropped(tmp_path: Path) -> None:
    async with node_and_attacker(tmp_path, 86) as (_, runtime, evil):
        addr = runtime.host.listen_addrs[0].split("/")
        ip, port = addr[2], int(addr[4])
        socks = []
        for _ in range(16):
            sock = trio.socket.socket()
            await sock.bind(("127.0.13.88", 0))
            await sock.connect((ip, port))  # and then silence: any byte would fail the handshake at once
            socks.append(sock)

        async def dropped(sock: Any) -> bool:
            """Read what the node says (its nonce) and send nothing back, until it hangs up."""
            with trio.move_on_after(DEADLINE):
                try:
                    while await sock.recv(4096):
                        pass
                except OSError:
                    pass
                return True
            return False

        results: list[bool] = []

        async def check(sock: Any) -> None:
            results.append(await dropped(sock))
            sock.close()

        async with trio.open_nursery() as nursery:
            for sock in socks:
                nursery.start_soon(check, sock)
        assert results == [True] * len(socks)
        # Meanwhile, and after, a peer that speaks properly is in.
        assert evil.peer_id in runtime.host.connected_peers()
