"""A peer that dials everyone is never picked as a stem relay by the nodes it dialled in to.

Before, any connected peer could be a node's stem relay, so an attacker that
dialled every member was the relay of about 2/(degree) of them each epoch and
saw their own posts first (docs/threat-model.md).  Now relays are picked only
among the peers a node dialled itself (protocol.md, section 11.3).  Stem
relays on the in-memory network and a MockClock, over many epochs.
"""

from __future__ import annotations

import os
import random
import time

import pytest
import trio
import trio.testing
from harness.fakenet import FakeNet

import protocol
from p2pnet.net import StemRelay

HONEST = 8


def check(wire: bytes) -> protocol.Signed | None:
    return protocol.decode(wire)


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def run(net: FakeNet, relay_cls: type[StemRelay]) -> list[tuple[str, str, bytes]]:
    """Eight honest nodes, each dialling the next two, and an attacker dialling all; posts over 5 epochs.

    Returns the stem frames every node sent, as (from, to, frame).
    """
    names = [f"honest{i}" for i in range(HONEST)]
    for name in names:
        net.host(name)
    net.host("attacker")
    for i, name in enumerate(names):
        for step in (1, 2):
            net.link(name, names[(i + step) % HONEST])  # name dials: an outbound peer of its own
    for name in names:
        net.link("attacker", name)  # the attacker dials everyone
    relays = {}
    for n, name in enumerate([*names, "attacker"]):
        relay = relay_cls(net.hosts[name], check=check, rng=random.Random(n))  # type: ignore[arg-type]
        relay.start()
        net.hosts[name].relay = relay
        relays[name] = relay
    now = int(time.time())
    for epoch in range(5):
        for name in names:
            relays[name].originate(protocol.make_post(os.urandom(32), f"{name} in epoch {epoch}", now=now))
        await trio.sleep(protocol.StemParams().epoch)
    return net.stems


async def test_a_peer_that_dials_everyone_is_never_a_stem_relay(clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        stems = await run(net, StemRelay)
        assert stems, "the stems ran"
        assert not [s for s in stems if s[1] == "attacker"]
        # Its own posts it could still stem through the honest peers it dialled.
        nursery.cancel_scope.cancel()


class AnyPeerRelay(StemRelay):
    """The rule before: any connected peer may be a relay."""

    def relay_candidates(self) -> list[str]:
        return sorted(self.host.connected_peers())


async def test_before_the_attacker_was_elected(clock: trio.testing.MockClock) -> None:
    """The same run with the old rule: the attacker gets stems (so the test above can fail)."""
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        stems = await run(net, AnyPeerRelay)
        assert [s for s in stems if s[1] == "attacker"]
        nursery.cancel_scope.cancel()
