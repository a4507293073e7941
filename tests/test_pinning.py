"""The pinning attack end to end, on real daemons: posts dated a step ahead no longer hold page 1 of Latest.

A member's raw libp2p host (it checks nothing it sends) floods posts dated to
the next 10-minute step, the clock skew every node tolerates; a post an
honest member writes afterwards must come first on every node's feed.
tests/test_node_fake.py proves the same in process; tests/test_store.py the
ordering itself.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import trio
from harness.daemons import DaemonProcess, daemons, hostile_peer, join_swarm

import protocol

pytestmark = pytest.mark.integration  # real daemon processes

PREFIX = "127.0.14"
FLOOD = 100


async def _feed(node: DaemonProcess) -> list[dict[str, Any]]:
    page = await trio.to_thread.run_sync(node.cli_json, "feed", "--limit", "500")
    posts: list[dict[str, Any]] = page["posts"]
    return posts


async def test_posts_dated_a_step_ahead_do_not_hold_the_first_page(tmp_path: Path) -> None:
    with daemons(tmp_path, 2, ip_prefix=PREFIX) as nodes:
        invite = protocol.decode_invite(join_swarm(nodes[0], nodes[1:]), now=int(time.time()))
        async with hostile_peer(invite, f"{PREFIX}.20", dial=len(invite.bootstrap)) as attacker:
            ahead = protocol.coarsen(int(time.time())) + protocol.TIME_QUANTUM
            flood = []
            for i in range(FLOOD):
                signed = protocol.make_post(os.urandom(32), f"pinned {i}", now=ahead)
                flood.append(signed.with_stamp(protocol.mint_stamp(signed.id, invite.difficulty) or b""))
            for signed in flood:
                await attacker.publish(signed.wire)
            pinned = {signed.id.hex() for signed in flood}
            with trio.fail_after(120):
                for node in nodes:
                    while not pinned <= {p["id"] for p in await _feed(node)}:
                        await trio.sleep(0.2)
            honest = (await trio.to_thread.run_sync(nodes[1].cli, "post", "written after the flood")).stdout.strip()
            with trio.fail_after(120):
                while honest not in {p["id"] for p in await _feed(nodes[0])}:
                    await trio.sleep(0.2)
            for node in nodes:
                page = (await trio.to_thread.run_sync(node.cli_json, "feed", "--limit", "20"))["posts"]
                assert page[0]["id"] == honest
                assert {p["id"] for p in page[1:]} <= pinned
