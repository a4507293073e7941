"""The Dandelion++ stem: frame format and the state machine of one node.

A new object first travels a *stem*: a random walk of single peers.  Each hop
forwards it to one stem relay with probability ``1 - q`` or *fluffs* it (hands
it to gossip) with probability ``q``.  Routes are fixed per epoch and per
inbound edge (Dandelion++, BIP 156), so an adversary cannot learn more by
watching many posts of one epoch.  Every hop arms a random embargo timer and
fluffs the object itself if gossip has not brought it back in time, so a relay
that swallows the stem delays delivery but cannot stop it.

Everything here is pure: the caller passes ``now`` and a :class:`random.Random`
and carries out the returned actions (see ``docs/protocol.md``, "Stem").
"""

from __future__ import annotations

import heapq
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from ._errors import DecodeError, ObjectTooLarge, UnknownVersion, UsageError
from ._objects import BUCKETS, MAX_WIRE_SIZE

__all__ = [
    "MAX_STEM_FRAME",
    "STEM_VERSION",
    "Fluff",
    "Forward",
    "StemParams",
    "StemRoutes",
    "StemState",
    "decode_stem",
    "embargo_delay",
    "encode_stem",
]

STEM_VERSION: Final = 1
MAX_STEM_FRAME: Final = 1 + MAX_WIRE_SIZE


def encode_stem(wire: bytes) -> bytes:
    """Return the stem frame carrying one object's padded wire bytes."""
    if len(wire) not in BUCKETS:
        raise UsageError("a stem frame carries one padded object")
    return bytes([STEM_VERSION]) + wire


def decode_stem(frame: bytes) -> bytes:
    """Return the object wire bytes of a stem frame (not yet verified: use :func:`decode`).

    Raises:
        DecodeError: empty, or the payload is not exactly one size bucket long.
        ObjectTooLarge: longer than :data:`MAX_STEM_FRAME`.
        UnknownVersion: a stem version this code does not speak.
    """
    if not frame:
        raise DecodeError("empty stem frame")
    if len(frame) > MAX_STEM_FRAME:
        raise ObjectTooLarge(f"stem frame of {len(frame)} bytes (at most {MAX_STEM_FRAME})")
    if frame[0] != STEM_VERSION:
        raise UnknownVersion(f"stem frame version {frame[0]} (this code speaks {STEM_VERSION})")
    wire = bytes(frame[1:])
    if len(wire) not in BUCKETS:
        raise DecodeError(f"stem payload of {len(wire)} bytes is not a padded object")
    return wire


@dataclass(frozen=True)
class StemParams:
    """Stem settings; the defaults are the production values (``docs/protocol.md``).

    Attributes:
        fluff_probability: q, the chance that a relay fluffs instead of forwarding;
            stems are 1/q relays long on average.
        epoch: Seconds for which stem routes stay fixed.
        relays: Stem relays picked per epoch.
        relay_pool: Relays are drawn from the first this many candidates the
            caller lists (its outbound peers, longest connected first), so a
            peer that connected lately is picked only when few older ones exist.
        embargo_min: Fixed part of every embargo, in seconds.
        embargo_mean: Mean of the exponential part added to it.
        pool_size: Stem objects a node keeps in memory at most.
        publish_jitter: A fluff waits uniform(0, this) seconds before it is
            published, so exact timing does not single out who fluffed.
    """

    fluff_probability: float = 0.1
    epoch: float = 600.0
    relays: int = 2
    relay_pool: int = 4
    embargo_min: float = 10.0
    embargo_mean: float = 5.0
    pool_size: int = 1024
    publish_jitter: float = 0.2


def embargo_delay(rng: random.Random, params: StemParams) -> float:
    """Seconds until a hop fluffs a stem object that gossip has not brought back.

    ``embargo_min`` plus an exponential part: the minimum is far above the time
    a whole stem and its gossip take (a few seconds at p99), so honest stems
    never trip it; the memoryless tail makes the hop whose timer fires first
    about equally likely to be any hop of a black-holed stem, not its origin.
    """
    return params.embargo_min + rng.expovariate(1.0 / params.embargo_mean)


class StemRoutes:
    """Per-epoch stem routes of one node: inbound edge -> relay.

    Each epoch picks up to ``relays`` relays among the candidates the caller
    lists, most preferred first (BIP 156: peers this node dialled itself, so an
    attacker cannot elect itself by dialling in; longest connected first);
    each inbound edge (a peer, or ``None`` for this node's own objects) is
    mapped to one of them the first time it is used in the epoch.  A relay
    that disconnects or refuses the stem is replaced for the rest of the epoch.
    """

    def __init__(self, rng: random.Random, params: StemParams) -> None:
        self._rng = rng
        self._params = params
        self._epoch_end: float | None = None
        self.relays: list[str] = []
        self.edges: dict[str | None, str] = {}
        self._refused: set[str] = set()

    def route(self, inbound: str | None, peers: Sequence[str], now: float) -> str | None:
        """Return the relay for objects from ``inbound``, or None if there is no candidate but it.

        ``peers`` are the candidates, most preferred first; a relay no longer
        among them is dropped.
        """
        if self._epoch_end is None or now >= self._epoch_end:
            self._epoch_end = now + self._params.epoch
            self.relays, self.edges, self._refused = [], {}, set()
        live = set(peers) - self._refused
        for gone in [r for r in self.relays if r not in live]:
            self.drop(gone)
        current = self.edges.get(inbound)
        if current is not None and current != inbound:
            return current
        spare = [p for p in dict.fromkeys(peers) if p in live and p not in self.relays][: self._params.relay_pool]
        self._rng.shuffle(spare)
        while len(self.relays) < self._params.relays and spare:
            self.relays.append(spare.pop())
        choices = [r for r in self.relays if r != inbound]
        if not choices and spare:
            # Both relays are the edge it came from: a third peer beats sending it back.
            choices = [spare.pop()]
            self.relays.append(choices[0])
        if not choices:
            return None
        relay = self._rng.choice(choices)
        self.edges[inbound] = relay
        return relay

    def reconnected(self, peer: str) -> None:
        """A peer connected again: whatever broke its stem stream before (a
        crash, a restart) may be over, so it may be a relay again."""
        self._refused.discard(peer)

    def drop(self, peer: str, *, refused: bool = False) -> None:
        """Forget a relay that disconnected (or, ``refused``, does not speak the stem)."""
        if refused:
            self._refused.add(peer)
        if peer in self.relays:
            self.relays.remove(peer)
        self.edges = {edge: relay for edge, relay in self.edges.items() if relay != peer and edge != peer}


@dataclass(frozen=True)
class Forward:
    """Send ``wire`` on the stem to ``peer``."""

    object_id: bytes
    wire: bytes
    peer: str


@dataclass(frozen=True)
class Fluff:
    """Publish ``wire`` into gossip; ``own`` is True for this node's own objects."""

    object_id: bytes
    wire: bytes
    own: bool


@dataclass
class _Entry:
    wire: bytes
    deadline: float
    own: bool
    inbound: str | None  # the edge it first came from; None for our own


@dataclass
class StemState:
    """Stem objects of one node in one swarm, with their embargo deadlines.

    The caller asks :meth:`originate` / :meth:`receive` what to do with an
    object, runs :meth:`due` when :meth:`next_deadline` has passed, and reports
    every object that arrives by gossip to :meth:`seen`.
    """

    rng: random.Random
    params: StemParams = field(default_factory=StemParams)
    routes: StemRoutes = field(init=False)
    pool: dict[bytes, _Entry] = field(default_factory=dict)
    _done: OrderedDict[bytes, None] = field(default_factory=OrderedDict)
    # (deadline, id) of pool entries; entries that left the pool are skipped
    # lazily, so a burst of thousands of objects costs O(log n) each.
    _deadlines: list[tuple[float, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.routes = StemRoutes(self.rng, self.params)

    def originate(self, object_id: bytes, wire: bytes, peers: Sequence[str], now: float) -> Forward | Fluff | None:
        """Start the stem of one of our own objects; None if there is no peer yet (keep it held).

        The originator forwards (fluffing at once would hand the object to
        gossip from its author) and arms an embargo like every relay. Only if
        every connected peer refused the stem this epoch does it fluff, as
        :meth:`failed` does: delivery beats waiting for a relay that never comes.
        """
        if not peers:
            return None
        relay = self.routes.route(None, peers, now)
        if relay is None:
            return self._finish_fluff(object_id, wire, own=True)
        self._arm(object_id, wire, None, now)
        return Forward(object_id, wire, relay)

    def receive(
        self, object_id: bytes, wire: bytes, inbound: str, peers: Sequence[str], now: float
    ) -> Forward | Fluff | None:
        """Decide what a relay does with a valid stem object from ``inbound``; None: nothing (done)."""
        if object_id in self._done:
            return None
        if object_id not in self.pool and len(self.pool) >= self.params.pool_size:
            return self._finish_fluff(object_id, wire, own=False)  # no room to hold it: deliver now
        mine = self.pool.get(object_id)
        if mine is not None and mine.own:
            # Our own object came back round the stem.  Fluffing it here, or
            # sending it to the relay of this edge, would hand it from its
            # author to a peer that has not had it from us: it goes on by the
            # own-objects relay again, and only the embargo fluffs it here.
            relay = self.routes.route(None, peers, now)
            if relay is None:
                return self._finish_fluff(object_id, wire, own=True)
            return Forward(object_id, wire, relay)
        entry = self._arm(object_id, wire, inbound, now)
        relay = None if self.rng.random() < self.params.fluff_probability else self.routes.route(inbound, peers, now)
        if relay is None:
            return self._finish_fluff(object_id, wire, own=entry.own)
        return Forward(object_id, wire, relay)

    def failed(self, action: Forward, peers: Sequence[str], now: float, *, refused: bool) -> Forward | Fluff | None:
        """A forward did not go through: drop that relay and route again, or fluff."""
        self.routes.drop(action.peer, refused=refused)
        entry = self.pool.get(action.object_id)
        if entry is None:
            return None
        relay = self.routes.route(entry.inbound, [p for p in peers if p != action.peer], now)
        if relay is None:
            return self._finish_fluff(action.object_id, entry.wire, own=entry.own)
        return Forward(action.object_id, entry.wire, relay)

    def seen(self, object_id: bytes) -> bool:
        """An object arrived by gossip: its stem is over here. True if it was our own, still on its stem."""
        entry = self.pool.pop(object_id, None)
        self._remember(object_id)
        return entry is not None and entry.own

    def due(self, now: float) -> list[Fluff]:
        """Fluff every object whose embargo has expired."""
        out = []
        while self._prune() and self._deadlines[0][0] <= now:
            _, oid = heapq.heappop(self._deadlines)
            entry = self.pool[oid]
            out.append(self._finish_fluff(oid, entry.wire, own=entry.own))
        return out

    def next_deadline(self) -> float | None:
        return self._deadlines[0][0] if self._prune() else None

    def _prune(self) -> bool:
        """Drop heap tops whose object left the pool; True if a live deadline remains."""
        heap = self._deadlines
        while heap:
            deadline, oid = heap[0]
            entry = self.pool.get(oid)
            if entry is not None and entry.deadline == deadline:
                return True
            heapq.heappop(heap)
        return False

    def _arm(self, object_id: bytes, wire: bytes, inbound: str | None, now: float) -> _Entry:
        entry = self.pool.get(object_id)
        if entry is None:
            deadline = now + embargo_delay(self.rng, self.params)
            entry = self.pool[object_id] = _Entry(wire, deadline, inbound is None, inbound)
            heapq.heappush(self._deadlines, (deadline, object_id))
        return entry

    def _finish_fluff(self, object_id: bytes, wire: bytes, *, own: bool) -> Fluff:
        self.pool.pop(object_id, None)
        self._remember(object_id)
        return Fluff(object_id, wire, own)

    def _remember(self, object_id: bytes) -> None:
        self._done[object_id] = None
        self._done.move_to_end(object_id)
        while len(self._done) > 4 * self.params.pool_size:
            self._done.popitem(last=False)
