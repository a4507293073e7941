"""A stem relay that swallows what it is given: the author's own embargo publishes the post anyway.

The author dialled only the attacker, so the attacker is its one stem relay
(relays come from the peers a node dialled, protocol.md section 11.3); the
attacker takes every stem frame and never fluffs nor forwards it.  Each post
still reaches the honest member, by the author's fail-safe (its embargo
timer), and no post is lost.  On the in-memory network and a MockClock.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from harness.inproc import fake_nodes, join
from harness.polling import until

import protocol
from p2pnet import api
from p2pnet.net import STEM_PROTOCOL, StreamError

POSTS = 6


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_a_relay_that_swallows_stems_delays_posts_but_loses_none(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with fake_nodes(tmp_path, 2) as (net, [author, member]):
        await join(author, [member])  # the member dialled the author: not one of its relays
        host = next(iter(author.swarms.running.values())).host
        swallowed: list[bytes] = []

        async def black_hole(stream: Any) -> None:
            with suppress(StreamError):
                while True:
                    swallowed.append(await stream.receive(protocol.MAX_STEM_FRAME))

        evil = net.host("FakeEvil", psk=host.psk, addr="/ip4/10.6.6.6/tcp/4001/p2p/FakeEvil")
        evil.serve(STEM_PROTOCOL, black_hole)
        await host.connect(evil.listen_addrs[0])  # the author dials it: its only outbound peer
        assert host.outbound_peers() == ["FakeEvil"]
        await trio.sleep(5)
        posted = [(await author.request(api.Post(text=f"post {i}"))).id for i in range(POSTS)]
        await until(
            lambda: all(member.store.get(i) is not None for i in posted), "every post at the member", within=3600
        )
        stems = {protocol.decode(protocol.decode_stem(f), verify=False).id.hex() for f in swallowed}
        assert stems, "the attacker was the author's relay"
        assert stems <= set(posted)
        # Those it swallowed went out from the author itself, after their embargo.
        fluffed = {
            protocol.decode(data, verify=False).id.hex() for who, data, _ in net.published if who == host.peer_id
        }
        assert stems <= fluffed
        assert (await author.status()).failures == {} and (await member.status()).failures == {}
