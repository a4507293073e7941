"""Catch-up sync on one swarm host: the trio side of ``protocol.SyncSession``.

A session runs over one ``/p2pnet/sync/1`` stream: when a connection opens
(started by the side with the smaller peer id, so a pair syncs once), and
every ``interval`` seconds (jittered) with a random connected peer. Only what
the store lists (``object_ids`` / ``wires``: never held or erased objects) is
offered; every object received goes through the node's own verification and
ingest. Every read and write has a deadline, and sessions run in their own
tasks up to ``MAX_SESSIONS`` at once, so a slow or hostile peer costs one slot
for at most ``SESSION_TIMEOUT`` and nothing else.

A peer cannot make us serve much: it may start ``SESSION_LIMIT`` sessions (a
burst, then a rate), and they get at most ``BYTES_LIMIT`` of our bytes
(counted over all of them), never more than ``SyncLimits.max_session_bytes``
in one.  Over either limit, or while we are full, a session it starts gets
BUSY with the seconds to wait.  A peer that breaks the protocol or pushes
invalid objects commits an offence (the guard bans repeat offenders). A
session that brought us objects, or in which we left some out, is followed
by another at once (up to ``CATCH_UP_ROUNDS``): answers are bounded, so a
node far behind catches up over several. See docs/sync.md.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

import protocol

from ._bucket import Buckets, Rate
from ._host import SwarmHost
from ._stream import Stream, StreamError, malformed

__all__ = ["SYNC_PROTOCOL", "SwarmSync", "SyncStats"]

log = logging.getLogger(__name__)

SYNC_PROTOCOL = "/p2pnet/sync/1"
SYNC_INTERVAL = 45.0  # seconds between periodic sessions, jittered by +-50 %
READ_TIMEOUT = 30.0  # longest wait for the peer's next frame
SESSION_TIMEOUT = 300.0  # longest a whole session may take
MAX_SESSIONS = 4  # concurrent sessions per swarm, both directions
WIRES_CHUNK = 2048  # objects read from the store at a time while pushing
CONNECT_RETRY = 2.0  # seconds before retrying a session that failed right after connecting
CATCH_UP_ROUNDS = 16  # sessions in a row with one peer while each brings objects
SESSION_LIMIT = Rate(rate=4 / 60, burst=8)  # sessions a peer may start: 8, then 4 a minute
BYTES_LIMIT = Rate(rate=4 * 2**20 / 60, burst=8 * 2**20)  # bytes a peer's sessions get: 8 MiB, then 4 MiB/min
MIN_BUDGET = 64 * 1024  # a session gets at least this much of the byte limit, or BUSY
BUSY_RETRY = 10  # seconds a peer waits when we are full

Items = Callable[[], Sequence[tuple[int, bytes]]]
Wires = Callable[[list[bytes]], list[bytes]]
Accept = Callable[[Sequence[bytes]], Awaitable[int]]


@dataclass(frozen=True)
class _Outcome:
    """How a session went: completed, whether another may bring more, or BUSY's wait."""

    ok: bool
    more: bool = False  # objects came in, or we left some out: answers are bounded, so ask again
    retry_after: int = 0


@dataclass
class _Active:
    peer: str
    session: protocol.SyncSession
    started: float


@dataclass
class SyncStats:
    """Sync progress of one swarm, for ``status``."""

    sessions_ok: int = 0
    sessions_failed: int = 0
    busy: int = 0  # our sessions a peer answered BUSY
    refused: int = 0  # sessions we answered BUSY
    fetched: int = 0  # valid objects received by sync (new or not)
    sent: int = 0  # objects pushed to peers
    last_session: float | None = None  # Unix time the last session ended
    last: dict[str, Any] | None = None
    active: dict[str, _Active] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        received = sum(a.session.objects_received for a in self.active.values())
        expected = sum(a.session.expected for a in self.active.values())
        return {
            "state": "syncing" if self.active else "idle",
            "peers": sorted(self.active),
            "received": received,
            "expected": max(expected, received),
            "sessions_ok": self.sessions_ok,
            "sessions_failed": self.sessions_failed,
            "busy": self.busy,
            "refused": self.refused,
            "fetched": self.fetched,
            "sent": self.sent,
            "last_session": None if self.last_session is None else int(self.last_session),
            "last": self.last,
        }


class SwarmSync:
    """Serves and starts sync sessions for one swarm host.

    Args:
        host: The running swarm host.
        items: Returns our ``(created, id)`` items, sorted (runs in a thread).
        wires: Returns the wire bytes of the given ids, skipping any it may
            not share (runs in a thread).
        accept: Verifies and ingests pushed objects; returns how many were
            valid; raises ``protocol.ProtocolError`` on garbage, which ends
            the session.
        interval: Mean seconds between periodic sessions (0: only on connect).
        clock: Wall clock, for ``last_session``.
        offload: Runs ``items`` and ``wires`` off the event loop (a worker
            thread; tests on a MockClock run them inline).
    """

    def __init__(
        self,
        host: SwarmHost,
        *,
        items: Items,
        wires: Wires,
        accept: Accept,
        interval: float = SYNC_INTERVAL,
        clock: Callable[[], float] = time.time,
        offload: Callable[..., Awaitable[Any]] = trio.to_thread.run_sync,
    ) -> None:
        self.host = host
        self._items = items
        self._wires = wires
        self._accept = accept
        self._interval = interval
        self._clock = clock
        self._offload = offload
        self._slots = trio.Semaphore(MAX_SESSIONS)
        self._busy: set[str] = set()  # peers in a session with us: one at a time
        self._started_by = Buckets(SESSION_LIMIT)  # sessions each peer starts
        self._served = Buckets(BYTES_LIMIT)  # bytes we send each peer in the sessions it starts
        self._retry_at: dict[str, float] = {}  # peer -> when its BUSY lets us try again
        self.stats = SyncStats()

    def start(self) -> None:
        """Answer sync streams and start sessions on connect and periodically."""
        self.host.serve(SYNC_PROTOCOL, self._serve)
        self.host.on_connect(self._on_connect)
        if self._interval > 0:
            self.host.start_soon(self._periodic, restart=True)

    async def sync_with(self, peer: str) -> bool:
        """Run one session as initiator with a connected peer; True if it completed."""
        return (await self._initiate(peer)).ok

    async def _initiate(self, peer: str) -> _Outcome:
        if peer in self._busy or trio.current_time() < self._retry_at.get(peer, -math.inf):
            return _Outcome(False)
        try:
            async with self.host.open_stream(peer, SYNC_PROTOCOL) as stream:
                return await self._session(stream, initiator=True)
        except StreamError as exc:
            log.debug("sync with %s could not start: %s", peer, exc)
            self.stats.sessions_failed += 1
            return _Outcome(False)

    # -- triggers ------------------------------------------------------------------

    def _on_connect(self, peer: str) -> None:
        # Both ends see the connection; the smaller peer id starts, so one
        # session serves the pair (the protocol works both ways).
        if self.host.peer_id < peer:
            self.host.start_soon(self._sync_on_connect, peer)

    async def _sync_on_connect(self, peer: str) -> None:
        await self._catch_up(peer, failures=3)

    async def _catch_up(self, peer: str, failures: int) -> None:
        """Sessions with ``peer`` while each moves objects and may have left some (answers are bounded).

        BUSY is waited out (and counts as a round: a peer that is always busy
        ends it too); ``failures`` failed sessions end it.
        """
        rounds = 0
        while rounds < CATCH_UP_ROUNDS and failures > 0:
            async with self._slots:
                outcome = await self._initiate(peer)
            if outcome.retry_after:
                rounds += 1
                await trio.sleep(outcome.retry_after)
                continue
            if not outcome.ok:
                failures -= 1
                await trio.sleep(CONNECT_RETRY)
                continue
            if not outcome.more:
                return
            rounds += 1

    async def _periodic(self) -> None:
        while True:
            await trio.sleep(self._interval * random.uniform(0.5, 1.5))
            peers = [p for p in self.host.connected_peers() if p not in self._busy]
            if not peers:
                continue
            try:
                self._slots.acquire_nowait()
            except trio.WouldBlock:
                continue  # busy with others; try again next time
            # In its own task: a slow peer must not hold up the next rounds.
            self.host.start_soon(self._periodic_session, random.choice(peers))

    async def _periodic_session(self, peer: str) -> None:
        try:
            outcome = await self._initiate(peer)
        finally:
            self._slots.release()
        if outcome.more:
            await self._catch_up(peer, failures=1)  # more than one answer holds: go on

    async def _serve(self, stream: Stream) -> None:
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            await self._refuse(stream, BUSY_RETRY)
            return
        try:
            wait = self._must_wait(stream.peer_id)
            if wait:
                await self._refuse(stream, wait)
            else:
                await self._session(stream, initiator=False)
        finally:
            self._slots.release()

    def _must_wait(self, peer: str) -> int:
        """Seconds a peer must wait before we serve a session it starts; 0 to serve it now (taking its turn)."""
        if peer in self._busy:
            return BUSY_RETRY
        served = self._served[self._budget(peer)]
        if served.available() < MIN_BUDGET:
            return math.ceil(served.wait(MIN_BUDGET))
        started = self._started_by[self._budget(peer)]
        if not started.take():
            return math.ceil(started.wait())
        return 0

    def _budget(self, peer: str) -> str:
        """Whose session and byte limits a peer spends: its address's, shared by every key it has there.

        A new key is free, an address is not: four keys at one address pull no more than one.
        """
        ip = self.host.peer_ip(peer)
        return peer if ip is None else "ip:" + ip

    async def _refuse(self, stream: Stream, seconds: int) -> None:
        self.stats.refused += 1
        log.debug("sync: %s must wait %d s", stream.peer_id, seconds)
        with contextlib.suppress(StreamError, trio.TooSlowError):  # gone: it would hear nothing more anyway
            await _send(stream, protocol.busy_frame(max(1, min(seconds, protocol.MAX_RETRY_AFTER))))

    # -- one session -------------------------------------------------------------------

    async def _session(self, stream: Stream, *, initiator: bool) -> _Outcome:
        peer = stream.peer_id
        if peer in self._busy:
            return _Outcome(False)
        self._busy.add(peer)
        started = trio.current_time()
        tally = {"fetched": 0, "retry_after": 0}
        session: protocol.SyncSession | None = None
        served = self._served[self._budget(peer)]
        try:
            with trio.fail_after(SESSION_TIMEOUT):
                items = await self._offload(self._items)
                # A session the peer started gets what its byte limit has left;
                # one we started, the whole session's worth: how often that
                # happens is ours to decide (on connect, periodic, catch-up).
                budget = None if initiator else int(served.available())
                session = protocol.SyncSession(items, budget=budget)
                self.stats.active[peer] = _Active(peer, session, started)
                await self._exchange(stream, session, initiator, tally)
        except (StreamError, trio.TooSlowError) as exc:
            log.info("sync with %s failed: %s", peer, exc or type(exc).__name__)
            self.stats.sessions_failed += 1
            if isinstance(exc, StreamError) and malformed(exc):  # an oversized frame is garbage too
                self.host.offence(peer, "sync")
            return _Outcome(False)
        except protocol.ProtocolError as exc:
            # Garbage: a broken frame or rule, or an invalid object pushed.
            log.info("sync with %s failed: %s", peer, exc or type(exc).__name__)
            self.stats.sessions_failed += 1
            self.host.offence(peer, "sync")
            return _Outcome(False)
        except Exception:
            # A bug or a store error must end this session only, never the swarm host.
            log.exception("sync with %s failed", peer)
            self.stats.sessions_failed += 1
            return _Outcome(False)
        finally:
            self._busy.discard(peer)
            self.stats.active.pop(peer, None)
            self.stats.last_session = self._clock()
            if session is not None:
                if not initiator:
                    served.spend(session.bytes_out)
                self.stats.fetched += tally["fetched"]
                self.stats.sent += session.objects_pushed
                self.stats.last = {
                    "peer": peer,
                    "initiator": initiator,
                    "round_trips": session.round_trips,
                    "bytes_in": session.bytes_in,
                    "bytes_out": session.bytes_out,
                    "fetched": tally["fetched"],
                    "sent": session.objects_pushed,
                    "seconds": round(trio.current_time() - started, 3),
                }
        if tally["retry_after"]:
            self.stats.busy += 1
            self._retry_at[peer] = trio.current_time() + tally["retry_after"]
            return _Outcome(False, retry_after=tally["retry_after"])
        self.stats.sessions_ok += 1
        log.debug("sync with %s: %s", peer, self.stats.last)
        assert session is not None
        return _Outcome(True, more=bool(tally["fetched"] or session.push_cut))

    async def _exchange(
        self, stream: Stream, session: protocol.SyncSession, initiator: bool, tally: dict[str, int]
    ) -> None:
        """Take turns until the session is over; objects received are counted in ``tally`` as they are accepted."""
        if initiator:
            await self._send_turn(stream, session, session.start())
        while not session.finished:
            with trio.fail_after(READ_TIMEOUT):
                frame = await stream.receive(session.limits.max_frame)
            got = session.receive(frame)
            if got.retry_after:
                tally["retry_after"] = got.retry_after
            if got.objects:
                tally["fetched"] += await self._accept(got.objects)
            if got.reply is not None:
                await self._send_turn(stream, session, got.reply)

    async def _send_turn(self, stream: Stream, session: protocol.SyncSession, turn: protocol.SyncTurn) -> None:
        push = list(turn.push)  # newest first: the budget leaves the oldest for a later session
        for start in range(0, len(push), WIRES_CHUNK):
            if not session.push_room:
                break
            chunk = push[start : start + WIRES_CHUNK]
            wires = await self._offload(self._wires, chunk)
            for frame in session.objects_frames(wires):
                await _send(stream, frame)
        for frame in turn.frames:
            await _send(stream, frame)


async def _send(stream: Stream, frame: bytes) -> None:
    # A peer that stops reading fills its window; it costs us this long at most.
    with trio.fail_after(READ_TIMEOUT):
        await stream.send(frame)
