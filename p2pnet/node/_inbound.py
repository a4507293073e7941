"""The one way in: an object from gossip, the stem or sync becomes a :class:`Verified` and is stored in batches.

Every object from a peer is decoded, its proof-of-work stamp checked against
the difficulty of the swarm it came from, and its signature verified, exactly
once, by :meth:`Inbound.check`.  Gossip checks it in the validator py-libp2p
calls and hands the decoded object to delivery through a small cache (a
payload delivered after its cache entry was evicted passed that validator
already, so it is decoded without verifying again); the stem checks each
frame it relays; sync checks a batch in a worker thread.  All of them put
the result on one bounded queue; one task drains it into store transactions
of up to :data:`INGEST_BATCH` objects (all that waits, then what comes until
a lull), so a burst costs one transaction per batch.
A full queue makes the senders wait: back-pressure, not loss.
"""

from __future__ import annotations

import collections
import enum
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

import protocol

from ..store import IngestResult, Store, UnknownSwarm

__all__ = ["INGEST_BATCH", "Inbound", "Source", "Verified"]

log = logging.getLogger(__name__)

INGEST_BATCH = 512  # objects stored per transaction at most
QUEUE = INGEST_BATCH * 8  # verified objects waiting for the store before senders wait
# Gossip trickles in one message at a time; waiting this long for company
# turns one fsync per object into one per batch, at a small cost in latency.
INGEST_LINGER = 0.025
# While objects keep coming, a batch keeps growing up to this long (or to
# INGEST_BATCH): in a burst a transaction of 64 objects costs about 1.4x
# what one of 512 does per object.
INGEST_LINGER_MAX = 0.1
VALIDATED_CACHE = 4096  # decoded objects kept between gossip's validator and its delivery

Offload = Callable[..., Awaitable[Any]]


class Source(enum.Enum):
    """Where an object came from; status counts each source on its own."""

    GOSSIP = "gossip"
    STEM = "stem"  # relayed on a stem and fluffed by this node
    SYNC = "sync"


@dataclass(frozen=True, slots=True)
class Verified:
    """An object from a peer, decoded and verified, on its way to the store."""

    signed: protocol.Signed
    swarm: bytes
    source: Source


Stored = Callable[[list[tuple[Verified, IngestResult]]], None]


class Inbound:
    """The verified-object pipeline of one node.

    Args:
        store: Where objects go.
        now: The current Unix time.
        offload: Runs a blocking function off the event loop.
        stored: Called with every batch after it is stored (new objects are announced).
    """

    def __init__(self, store: Store, now: Callable[[], int], offload: Offload, stored: Stored) -> None:
        self._store = store
        self._now = now
        self._offload = offload
        self._stored = stored
        self._send, self._receive = trio.open_memory_channel[Verified](QUEUE)
        self._validated: collections.OrderedDict[bytes, protocol.Signed] = collections.OrderedDict()
        # Per source: received (handed to the store), stored (new), invalid (refused).
        self.counts = {source: collections.Counter[str]() for source in Source}

    # -- checking ------------------------------------------------------------------

    def check(self, data: bytes, difficulty: int) -> protocol.Signed | None:
        """Decode and verify ``data`` from a swarm of ``difficulty``; None if it is valid but not to be kept (now).

        Args:
            data: The wire bytes as a peer sent them.
            difficulty: The swarm's stamp difficulty: a weaker stamp is refused
                before the signature is checked (one hash, not an Ed25519 verify).

        Raises:
            protocol.ProtocolError: no honest peer sends these bytes (``BadStamp``
                among them: an honest peer mints, or does not send).
        """
        signed = protocol.decode(data, difficulty=difficulty)
        return None if self._not_now(signed) else signed

    def _not_now(self, signed: protocol.Signed) -> str | None:
        """Why a valid object is not kept at this time: ``"future"``, ``"expired"``, or None."""
        now = self._now()
        if protocol.is_from_the_future(signed.obj, now):
            return "future"
        return "expired" if protocol.is_expired(signed.obj, now) else None

    def validate_gossip(self, data: bytes, difficulty: int) -> bool:
        """Gossip's validator in a swarm of ``difficulty``: True to accept and forward ``data``.

        The decoded object waits for delivery.  A refusal (a bad stamp as much
        as a bad signature) counts against the peer that sent it.
        """
        try:
            signed = protocol.decode(data, difficulty=difficulty)
        except protocol.ProtocolError:
            self.counts[Source.GOSSIP]["invalid"] += 1
            return False
        why = self._not_now(signed)
        if why is not None:
            # A post from the future counts against the sender; an expired one is only late.
            self.counts[Source.GOSSIP]["invalid"] += why == "future"
            return False
        self._validated[_content_key(data)] = signed
        while len(self._validated) > VALIDATED_CACHE:
            self._validated.popitem(last=False)
        return True

    def gossip_delivered(self, swarm: bytes, data: bytes) -> Verified:
        """The verified object for a payload gossip accepted and delivered in ``swarm``."""
        signed = self._validated.pop(_content_key(data), None)
        if signed is None:  # evicted: these exact bytes passed validate_gossip already
            signed = protocol.decode(data, verify=False)
        return Verified(signed, swarm, Source.GOSSIP)

    async def check_batch(self, wires: Sequence[bytes], difficulty: int) -> list[protocol.Signed]:
        """Check many objects from a swarm of ``difficulty`` in a worker thread; the valid ones to keep.

        Signature checks release the GIL, so the event loop goes on meanwhile.

        Raises:
            protocol.ProtocolError: one of them is garbage, or its stamp too weak;
                sync ends the session with that peer.
        """
        checked = await self._offload(lambda: [self.check(w, difficulty) for w in wires])
        return [signed for signed in checked if signed is not None]

    # -- storing ----------------------------------------------------------------------

    async def submit(self, item: Verified) -> None:
        """Queue a verified object for the store; waits while the queue is full.

        With room it returns at once, without a turn of the scheduler: gossip
        hands over a burst in one go (``deliver_loop``).
        """
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            await self._send.send(item)

    async def run(self) -> None:
        """Drain the queue into store batches until cancelled.

        The queue outlives this loop: if a batch fails, the supervisor runs
        the loop again on the same queue and nothing upstream notices.
        """
        async for first in self._receive:
            batch = await self._gather(first)
            results = await self._ingest(batch)
            for item, result in zip(batch, results, strict=True):
                counts = self.counts[item.source]
                counts["received"] += 1
                counts["stored"] += result.is_new
            self._stored(list(zip(batch, results, strict=True)))

    async def _gather(self, first: Verified) -> list[Verified]:
        """``first`` and what follows it: all that waits, then more until a lull or the batch is full."""
        batch = [first]
        receive = self._receive
        end = trio.current_time() + INGEST_LINGER_MAX
        while len(batch) < INGEST_BATCH:
            try:
                batch.append(receive.receive_nowait())
                continue
            except trio.WouldBlock:
                pass
            with trio.move_on_at(min(end, trio.current_time() + INGEST_LINGER)):
                batch.append(await receive.receive())
                continue
            break
        return batch

    async def _ingest(self, batch: list[Verified]) -> list[IngestResult]:
        now = self._now()
        # Peers' objects: each batch commits without an fsync of its own (docs/storage.md).
        ingest = partial(self._store.ingest_many, durable=False)
        results: list[IngestResult]
        try:
            results = await self._offload(ingest, [(i.signed, i.swarm) for i in batch], now)
        except UnknownSwarm:
            # A swarm was left while its objects waited here: store the rest.
            joined = {rec.raw_id for rec in self._store.swarms()}
            batch[:] = [item for item in batch if item.swarm in joined]
            results = await self._offload(ingest, [(i.signed, i.swarm) for i in batch], now)
        return results


def _content_key(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
