"""The node in process: real hosts and a real store inside the test's trio run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import trio
from harness.inproc import make_node, running_nodes

import protocol
from p2pnet import api
from p2pnet.node import Source, Verified

pytestmark = pytest.mark.trio


async def test_objects_of_a_swarm_left_while_they_wait_do_not_stop_ingest(tmp_path: Path) -> None:
    node = make_node(tmp_path / "n", "127.0.10.30")
    async with running_nodes(node):
        created = await node.request(api.SwarmCreate(name="friends"))
        sid = protocol.swarm_id(protocol.decode_invite(created.invite, now=int(time.time())).psk)
        gone = protocol.make_post(os.urandom(32), "for a swarm just left", now=int(time.time()))
        kept = protocol.make_post(os.urandom(32), "for the swarm still joined", now=int(time.time()))
        await node.inbound.submit(Verified(gone, os.urandom(32), Source.GOSSIP))  # no such swarm (any more)
        await node.inbound.submit(Verified(kept, sid, Source.GOSSIP))
        with trio.fail_after(30):
            while node.store.get(kept.id.hex()) is None:
                await trio.sleep(0.02)
        assert node.store.get(gone.id.hex()) is None
        status = await node.request(api.Status())
        assert status.failures == {}
        assert status.gossip.received == 1


async def test_a_swarm_host_that_fails_is_started_again_and_the_node_carries_on(tmp_path: Path) -> None:
    a, b = make_node(tmp_path / "a", "127.0.10.31"), make_node(tmp_path / "b", "127.0.10.32")
    async with running_nodes(a, b):
        created = await a.request(api.SwarmCreate(name="friends"))
        await b.request(api.SwarmJoin(invite=created.invite))
        sid = protocol.swarm_id(protocol.decode_invite(created.invite, now=int(time.time())).psk)
        before = a.swarms.running[sid]

        async def bug() -> None:
            raise RuntimeError("something inside the host broke")

        before.host._nursery.start_soon(bug)  # unsupervised: it takes the host down
        with trio.fail_after(60):
            while a.swarms.running.get(sid) in (None, before):
                await trio.sleep(0.05)
        after = a.swarms.running[sid]
        assert (after.host.peer_id, after.port) == (before.host.peer_id, before.port)
        assert (await a.request(api.Status())).failures == {"swarm": 1}
        # b redials the same address and the swarm works as before.
        posted = await a.request(api.Post(text="after the restart"))
        with trio.fail_after(60):
            while b.store.get(posted.id) is None:
                await trio.sleep(0.05)


async def test_subscribers_hear_that_the_node_stops_before_the_socket_closes(tmp_path: Path) -> None:
    node = make_node(tmp_path / "n", "127.0.10.33")
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        lines: list[dict] = []
        buffer = b""
        async with await trio.open_unix_socket(str(node.home.socket)) as stream:
            await stream.send_all(api.encode_line({"v": 1, "id": 1, "method": "subscribe"}))
            with trio.fail_after(30):
                while not lines:  # the subscribe reply
                    buffer += await stream.receive_some()
                    *done, buffer = buffer.split(b"\n")
                    lines += [api.decode_line(line) for line in done]
                node.shutdown()
                while chunk := await stream.receive_some():
                    buffer += chunk
        lines += [api.decode_line(line) for line in buffer.split(b"\n") if line]
        assert lines[-1] == {"v": 1, "event": "stopping", "data": {}}
        await node.stopped.wait()
