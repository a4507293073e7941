"""The Dandelion++ stem of one swarm host: the ``/p2pnet/stem/1`` protocol on trio.

:class:`StemRelay` carries out what :class:`protocol.StemState` decides: it
sends stem frames to relays, validates the ones it receives, fluffs objects
into gossip (after a small random jitter) and runs the embargo timers.  Stem
objects live in memory only; the store sees an object when it arrives by
gossip, or when this relay fluffs it.  See ``docs/protocol.md``, "Stem".
"""

from __future__ import annotations

import collections
import logging
import math
import random
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import trio

import protocol

from ._bucket import Buckets, Rate
from ._stream import StreamError, malformed

__all__ = ["STEM_PROTOCOL", "StemHost", "StemRelay"]

log = logging.getLogger(__name__)

STEM_PROTOCOL = "/p2pnet/stem/1"
CONNECT_SETTLE = 1.0  # seconds after a first connect before held objects go out: let the mesh form
LINK_IDLE = 30.0  # an outbound stem stream unused this long is closed
STREAM_IDLE = 120.0  # an inbound one silent this long is closed (above LINK_IDLE: the sender closes first)


class StemStream(Protocol):
    peer_id: str

    async def send(self, frame: bytes) -> None: ...

    async def receive(self, max_len: int) -> bytes: ...


class StemHost(Protocol):
    """What the stem needs of a swarm host (:class:`p2pnet._net.SwarmHost` has it)."""

    peer_id: str

    def serve(self, protocol: str, handler: Callable[[Any], Awaitable[None]]) -> None: ...

    def open_stream(self, peer_id: str, protocol: str) -> AbstractAsyncContextManager[Any]: ...

    async def publish(self, data: bytes) -> bytes: ...

    def connected_peers(self) -> list[str]: ...

    def outbound_peers(self) -> list[str]: ...

    def offence(self, peer_id: str, why: str) -> None: ...

    def on_connect(self, callback: Callable[[str], None]) -> None: ...

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any, restart: bool = False) -> None: ...


class StemRelay:
    """The stem on one swarm host.

    Args:
        host: The swarm host.
        check: Fully validates an object's wire bytes (as gossip's validator
            does); returns the decoded object, or None to reject it.
        released: Called with the id of one of our own objects once its stem
            is over here (seen in gossip, or fluffed by us): it may be served now.
        fluffed: Awaited with an object we relayed and fluffed ourselves; our
            own publish does not come back to us, so the node stores it here.
        params: Stem settings.
        rng: Randomness for routes, fluffs, embargoes and jitter.
        limit: Stem frames one peer may send us (a burst, then a rate);
            frames over it are dropped, not relayed (the sender's embargo
            still delivers them).
    """

    def __init__(
        self,
        host: StemHost,
        *,
        check: Callable[[bytes], protocol.Signed | None],
        released: Callable[[bytes], object] = lambda object_id: None,
        fluffed: Callable[[protocol.Signed], Awaitable[None]] | None = None,
        params: protocol.StemParams | None = None,
        rng: random.Random | None = None,
        limit: Rate | None = None,
    ) -> None:
        self.host = host
        self.rng = rng or random.SystemRandom()
        self.state = protocol.StemState(self.rng, params or protocol.StemParams())
        self.stats = collections.Counter[str]()
        self.invalid = collections.Counter[str]()
        self.flooded = collections.Counter[str]()  # frames dropped over a peer's limit
        self._limits = Buckets(limit or Rate(rate=20.0, burst=1000.0))
        self._check = check
        self._released = released
        self._fluffed = fluffed
        self._waiting: dict[bytes, protocol.Signed] = {}  # own objects with no peer to stem to yet
        self._relayed: dict[bytes, protocol.Signed] = {}  # decoded stem objects of others, for `fluffed`
        self._links: dict[str, trio.MemorySendChannel[protocol.Forward]] = {}  # relay -> its stream's queue
        self._wake = trio.Event()

    def start(self) -> None:
        """Serve the stem protocol and run the embargo timers for the host's lifetime."""
        self.host.serve(STEM_PROTOCOL, self._serve)
        self.host.on_connect(self._connected)
        self.host.start_soon(self._embargo_loop, restart=True)

    # -- what the node calls ---------------------------------------------------

    def originate(self, signed: protocol.Signed) -> None:
        """Send one of our own objects into the stem, or keep it until a peer connects."""
        action = self.state.originate(signed.id, signed.wire, self.relay_candidates(), trio.current_time())
        if action is None:
            self._waiting[signed.id] = signed
            return
        self._waiting.pop(signed.id, None)
        self._run(action)

    def seen(self, object_id: bytes) -> None:
        """An object arrived by gossip: cancel its embargo; release it if it is ours."""
        own = self.state.seen(object_id) or self._waiting.pop(object_id, None) is not None
        self._relayed.pop(object_id, None)
        if own:
            self._released(object_id)

    def relay_candidates(self) -> list[str]:
        """The peers a relay may be picked from, most preferred first (protocol.md, section 11.3).

        Only peers this host dialled, longest connected first (BIP 156): an
        attacker that dials everyone is never picked by those it dialled.  A
        host that dialled no one falls back to every peer rather than fluff
        its own objects.
        """
        return self.host.outbound_peers() or sorted(self.host.connected_peers())

    @property
    def pending(self) -> int:
        """Objects on their stem here or waiting for a peer."""
        return len(self.state.pool) + len(self._waiting)

    # -- internals ---------------------------------------------------------------

    def _run(self, action: protocol.Forward | protocol.Fluff) -> None:
        if isinstance(action, protocol.Forward):
            self._forward(action)
        else:
            self.host.start_soon(self._fluff, action)
        self._wake.set()

    def _forward(self, action: protocol.Forward) -> None:
        # One long-lived stream per relay: a new stream per hop would cost a
        # protocol negotiation round trip at every hop of every stem.
        link = self._links.get(action.peer)
        if link is None:
            # Unbounded: every queued frame is an object in the (bounded) stem pool or our own.
            link, queue = trio.open_memory_channel[protocol.Forward](math.inf)
            self._links[action.peer] = link
            self.host.start_soon(self._link, action.peer, link, queue)
        try:
            link.send_nowait(action)
        except trio.ClosedResourceError:  # its stream just broke
            self._reroute([action])

    async def _link(
        self,
        peer: str,
        link: trio.MemorySendChannel[protocol.Forward],
        queue: trio.MemoryReceiveChannel[protocol.Forward],
    ) -> None:
        unsent: list[protocol.Forward] = []
        broken = False
        try:
            async with self.host.open_stream(peer, STEM_PROTOCOL) as stream:
                while True:
                    with trio.move_on_after(LINK_IDLE):
                        unsent = [await queue.receive()]
                        await stream.send(protocol.encode_stem(unsent[0].wire))
                        unsent = []
                        self.stats["forwarded"] += 1
                        continue
                    break
        except StreamError as exc:
            # Gone, or it does not speak the stem: another relay for this epoch.
            log.debug("stem to %s failed: %s", peer, exc)
            self.stats["forward_failed"] += 1
            broken = True
        finally:
            if self._links.get(peer) is link:
                del self._links[peer]
            link.close()
            while True:
                try:
                    unsent.append(queue.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            queue.close()
        if broken:
            self._reroute(unsent)
        else:  # closed while idle: anything that raced in opens a fresh stream
            for action in unsent:
                self._forward(action)

    def _reroute(self, actions: list[protocol.Forward]) -> None:
        for action in actions:
            retry = self.state.failed(action, self.relay_candidates(), trio.current_time(), refused=True)
            if retry is not None:
                self._run(retry)

    async def _fluff(self, action: protocol.Fluff) -> None:
        await trio.sleep(self.rng.uniform(0.0, self.state.params.publish_jitter))
        try:
            await self.host.publish(action.wire)
            self.stats["fluffed"] += 1
        except ValueError as exc:  # e.g. it expired while on its stem
            log.debug("fluff failed: %s", exc)
        if action.own:
            self._released(action.object_id)
        signed = self._relayed.pop(action.object_id, None)
        if signed is not None and self._fluffed is not None:
            await self._fluffed(signed)

    async def _serve(self, stream: StemStream) -> None:
        while True:
            with trio.move_on_after(STREAM_IDLE):
                try:
                    frame = await stream.receive(protocol.MAX_STEM_FRAME)
                except StreamError as exc:
                    if malformed(exc):
                        self._reject(stream.peer_id, "oversized or malformed frame")
                    return  # the sender closed its stream (or it broke)
                if not self._accept(stream.peer_id, frame):
                    return  # closing the stream drops the peer's next frames
                continue
            return  # idle too long

    def _accept(self, peer: str, frame: bytes) -> bool:
        if not self._limits.take(peer):
            self.flooded[peer] += 1
            self.stats["flooded"] += 1
            return True  # dropped; the stream stays (an honest burst is only over for now)
        try:
            signed = self._check(protocol.decode_stem(frame))
        except protocol.ProtocolError:
            signed = None
        if signed is None:
            self._reject(peer, "invalid object")
            return False
        self.stats["received"] += 1
        self.on_stem(peer, signed)
        action = self.state.receive(signed.id, signed.wire, peer, self.relay_candidates(), trio.current_time())
        if action is not None:
            if signed.id in self.state.pool or isinstance(action, protocol.Fluff):
                self._relayed.setdefault(signed.id, signed)
            self._run(action)
        return True

    def on_stem(self, peer: str, signed: protocol.Signed) -> None:
        """Hook: a valid stem object arrived from ``peer`` (benchmarks record it)."""

    def _reject(self, peer: str, why: str) -> None:
        self.invalid[peer] += 1
        self.stats["invalid"] += 1
        log.debug("stem peer %s sent an %s; stream closed", peer, why)
        self.host.offence(peer, "stem")

    def _connected(self, peer: str) -> None:
        self.state.routes.reconnected(peer)
        if self._waiting:
            self.host.start_soon(self._send_waiting)

    async def _send_waiting(self) -> None:
        await trio.sleep(CONNECT_SETTLE)
        for signed in list(self._waiting.values()):
            self.originate(signed)

    async def _embargo_loop(self) -> None:
        while True:
            self._wake = trio.Event()
            deadline = self.state.next_deadline()
            with trio.move_on_at(math.inf if deadline is None else deadline):
                await self._wake.wait()
            for fluff in self.state.due(trio.current_time()):
                self.stats["embargo"] += 1
                self._run(fluff)
