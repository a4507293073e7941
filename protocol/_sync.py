"""Catch-up sync: range-based set reconciliation over (time, id), sans-IO.

Two nodes each hold a sorted set of ``(created, id)`` items. They exchange
*turns*; a turn covers the whole key space ``[(0, ""), infinity)`` as a chain of
ranges, each either skipped, summarised by a count and a fingerprint, or listed
id by id (Negentropy, Meyer, arXiv 2212.13567). A side that learns which
objects the other lacks pushes them in its next turn instead of offering ids,
and asks (NEED) for the ones it lacks. The session ends with a turn that
leaves nothing open. A side sends at most ``max_session_bytes`` in a
session, and pushes newest first, so a request from a peer that holds
nothing costs a bounded answer (it catches up over several sessions); a
responder that will not serve a session now answers with BUSY instead.
docs/sync.md is the spec; this module is pure: the caller feeds frames in
and sends the frames and objects it is handed.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from ._errors import SyncError, UnknownVersion, UsageError
from ._objects import MAX_WIRE_SIZE

__all__ = [
    "MAX_RETRY_AFTER",
    "SYNC_VERSION",
    "Bound",
    "SyncLimits",
    "SyncReceived",
    "SyncSession",
    "SyncTurn",
    "busy_frame",
    "fingerprint",
]

SYNC_VERSION: Final = 1
ID_LEN: Final = 32
FP_LEN: Final = 16
INFINITY_TIME: Final = 1 << 64  # above every real time: the open upper end

FRAME_RANGES: Final = 1
FRAME_OBJECTS: Final = 2
FRAME_NEED: Final = 3
FRAME_END: Final = 4
FRAME_BUSY: Final = 5

MAX_RETRY_AFTER: Final = 3600  # seconds a BUSY frame may ask the initiator to wait

MODE_SKIP: Final = 0
MODE_FINGERPRINT: Final = 1
MODE_IDLIST: Final = 2

#: A point in the (time, id) order; the id part is a prefix, so
#: ``(t, p)`` sorts before every item ``(t, p || ...)``.
Bound = tuple[int, bytes]
_ZERO: Final[Bound] = (0, b"")
_INFINITY: Final[Bound] = (INFINITY_TIME, b"")


@dataclass(frozen=True)
class SyncLimits:
    """Sizes a session produces and accepts; both sides should use the defaults.

    Attributes:
        max_frame: Largest frame, in bytes, either way.
        first_branch: Ranges the initiator's first turn splits everything into.
        branch: Ranges a mismatched range is split into later.
        id_list_max: A range with at most this many of our items is listed id
            by id rather than split.
        max_ranges: Ranges in one turn (open ones beyond it are merged into one).
        max_ids: Ids (in id lists and NEEDs) in one turn.
        max_objects: Objects received in one turn.
        max_turns: Turns in one session, both sides together.
        max_session_bytes: Bytes of frames one side sends in one session
            (objects and descriptions); receiving more is an error.
    """

    max_frame: int = 512 * 1024
    first_branch: int = 64
    branch: int = 16
    id_list_max: int = 64
    max_ranges: int = 4096
    max_ids: int = 32768
    max_objects: int = 100_000
    max_turns: int = 24
    max_session_bytes: int = 1024 * 1024


# -- encoding helpers -----------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def varint(self, limit: int, what: str) -> int:
        value, shift = 0, 0
        for i in range(10):
            if self.pos >= len(self.data):
                raise SyncError(f"sync frame ends inside {what}")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                if byte == 0 and i > 0:
                    raise SyncError(f"{what} is not minimally encoded")
                if value > limit:
                    raise SyncError(f"{what} {value} is above the limit {limit}")
                return value
        raise SyncError(f"{what} is longer than 10 bytes")

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise SyncError(f"sync frame ends inside {what}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def at_end(self) -> bool:
        return self.pos == len(self.data)


def fingerprint(id_sum: int, count: int) -> bytes:
    """Fingerprint of a set of ids from their sum (mod 2^256, ids read little-endian) and count.

    ``SHA-256(sum as 32 bytes little-endian || varint(count))[:16]``, as in
    Negentropy: it is incremental, so any range's fingerprint comes from two
    prefix sums.
    """
    return hashlib.sha256((id_sum % (1 << 256)).to_bytes(32, "little") + _varint(count)).digest()[:FP_LEN]


def _frame(kind: int, body: bytes) -> bytes:
    return bytes((SYNC_VERSION, kind)) + body


def _encode_bound(bound: Bound, prev_time: int) -> bytes:
    time, prefix = bound
    if time == INFINITY_TIME:
        return b"\x00\x00"
    return _varint(time - prev_time + 1) + bytes((len(prefix),)) + prefix


def _minimal_bound(prev: tuple[int, bytes], cur: tuple[int, bytes]) -> Bound:
    """The shortest bound above item ``prev`` and at most item ``cur``."""
    if prev[0] != cur[0]:
        return (cur[0], b"")
    shared = 0
    while shared < ID_LEN and prev[1][shared] == cur[1][shared]:
        shared += 1
    return (cur[0], cur[1][: shared + 1])


# -- decoded frames -----------------------------------------------------------------


@dataclass(frozen=True)
class _Range:
    upper: Bound
    mode: int
    count: int = 0
    fp: bytes = b""
    ids: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class _Frame:
    kind: int
    ranges: tuple[_Range, ...] = ()
    wires: tuple[bytes, ...] = ()
    ids: tuple[bytes, ...] = ()
    done: bool = False
    retry_after: int = 0


def _decode_ranges(r: _Reader, limits: SyncLimits) -> tuple[_Range, ...]:
    ranges: list[_Range] = []
    prev: Bound = _ZERO
    while not r.at_end():
        if prev == _INFINITY:
            raise SyncError("a range follows the open upper end")
        delta = r.varint(INFINITY_TIME, "bound time")
        plen = r.varint(ID_LEN, "bound prefix length")
        if delta == 0:
            if plen:
                raise SyncError("the open upper end has an id prefix")
            upper: Bound = _INFINITY
        else:
            prefix = r.take(plen, "bound prefix")
            upper = (prev[0] + delta - 1, prefix)
            if upper[0] >= INFINITY_TIME:
                raise SyncError("bound time out of range")
        if upper <= prev:
            raise SyncError("range bounds do not increase")
        mode = r.varint(MODE_IDLIST, "range mode")
        if mode == MODE_SKIP:
            ranges.append(_Range(upper, mode))
        elif mode == MODE_FINGERPRINT:
            count = r.varint(1 << 40, "range count")
            ranges.append(_Range(upper, mode, count, r.take(FP_LEN, "fingerprint")))
        else:
            count = r.varint(limits.max_ids, "id list length")
            ids = tuple(r.take(ID_LEN, "id") for _ in range(count))
            ranges.append(_Range(upper, mode, count, ids=ids))
        prev = upper
    return tuple(ranges)


def _decode_frame(data: bytes, limits: SyncLimits) -> _Frame:
    if len(data) > limits.max_frame:
        raise SyncError(f"sync frame of {len(data)} bytes is above the limit {limits.max_frame}")
    if len(data) < 2:
        raise SyncError("sync frame too short")
    if data[0] != SYNC_VERSION:
        raise UnknownVersion(f"sync frame version {data[0]}; this node speaks {SYNC_VERSION}")
    kind = data[1]
    r = _Reader(data, 2)
    if kind == FRAME_RANGES:
        return _Frame(kind, ranges=_decode_ranges(r, limits))
    if kind == FRAME_OBJECTS:
        count = r.varint(limits.max_frame, "object count")
        wires = []
        for _ in range(count):
            size = r.varint(MAX_WIRE_SIZE, "object size")
            wires.append(r.take(size, "object"))
        frame = _Frame(kind, wires=tuple(wires))
    elif kind == FRAME_NEED:
        count = r.varint(limits.max_ids, "need count")
        frame = _Frame(kind, ids=tuple(r.take(ID_LEN, "id") for _ in range(count)))
    elif kind == FRAME_END:
        flag = r.varint(1, "end flag")
        frame = _Frame(kind, done=bool(flag))
    elif kind == FRAME_BUSY:
        retry_after = r.varint(MAX_RETRY_AFTER, "retry after")
        if not retry_after:
            raise SyncError("a BUSY frame asks to wait 0 seconds")
        frame = _Frame(kind, retry_after=retry_after)
    else:
        raise SyncError(f"unknown sync frame type {kind}")
    if not r.at_end():
        raise SyncError("trailing bytes after a sync frame")
    return frame


_TURN_SLACK: Final = 64  # frame headers and the END frame of one turn, at most


def _fit(ranges: list[tuple[Bound, int, bytes, int]], room: int) -> list[tuple[Bound, int, bytes, int]]:
    """The first ranges whose encoding fits ``room`` bytes (each bound counted as if its frame's first)."""
    kept = []
    for rng in ranges:
        upper, _, payload, _ = rng
        room -= len(_encode_bound(upper, 0)) + 1 + len(payload)
        if room < 0:
            break
        kept.append(rng)
    return kept


def busy_frame(retry_after: int) -> bytes:
    """The one frame a responder sends instead of its first turn when it will not serve the session now.

    Args:
        retry_after: Seconds (1 to :data:`MAX_RETRY_AFTER`) before the initiator should try again.
    """
    if not 1 <= retry_after <= MAX_RETRY_AFTER:
        raise UsageError(f"retry_after must be 1 to {MAX_RETRY_AFTER} seconds")
    return _frame(FRAME_BUSY, _varint(retry_after))


def _chunked(pieces: Sequence[bytes], header: int, max_frame: int) -> list[list[bytes]]:
    """Group pieces so that each group plus a header of ``header`` bytes fits a frame."""
    groups: list[list[bytes]] = [[]]
    size = header
    for piece in pieces:
        if groups[-1] and size + len(piece) > max_frame:
            groups.append([])
            size = header
        groups[-1].append(piece)
        size += len(piece)
    return [g for g in groups if g]


def _encode_objects(wires: Sequence[bytes], max_frame: int) -> list[bytes]:
    """OBJECTS frames of at most ``max_frame`` bytes carrying ``wires`` in order."""
    header = 2 + 3  # version, type, and a varint count of up to 3 bytes (count <= max_frame / 2)
    pieces = [_varint(len(w)) + w for w in wires]
    return [
        _frame(FRAME_OBJECTS, _varint(len(group)) + b"".join(group)) for group in _chunked(pieces, header, max_frame)
    ]


# -- the session ---------------------------------------------------------------------


@dataclass(frozen=True)
class SyncTurn:
    """What to send for one turn: first the objects of ``push`` (looked up by
    the caller and encoded with :meth:`SyncSession.objects_frames`), then ``frames``.

    Attributes:
        push: Ids of our objects the peer lacks, newest first: the caller
            pushes them until :attr:`SyncSession.push_room` runs out.
        frames: NEED, RANGES and the closing END frame.
        done: The session ends once this turn is sent.
    """

    push: tuple[bytes, ...]
    frames: tuple[bytes, ...]
    done: bool


@dataclass
class SyncReceived:
    """The result of feeding one frame to :meth:`SyncSession.receive`.

    Attributes:
        objects: Wire bytes the peer pushed; verify each before storing it.
        reply: Our answering turn, once the peer's turn ended and it expects one.
        finished: The peer ended the session; nothing more is sent or read.
        retry_after: The peer answered BUSY: try again after this many seconds (0: it did not).
    """

    objects: tuple[bytes, ...] = ()
    reply: SyncTurn | None = None
    finished: bool = False
    retry_after: int = 0


_OutRange = tuple[Bound, int, bytes, int]  # upper bound, mode, encoded payload, ids in it


@dataclass
class _Out:
    ranges: list[_OutRange] = field(default_factory=list)
    ids: int = 0
    pending_skip: Bound | None = None


class SyncSession:
    """One side of one sync session over a snapshot of our items.

    Args:
        items: Our ``(time, id)`` items, sorted ascending, ids 32 bytes.
        limits: Sizes; the defaults are the protocol's.
        budget: Bytes this side may send in the session, at most
            ``limits.max_session_bytes`` (the default); the caller may give
            a peer less.  Descriptions take at most half of it, pushes the
            rest, newest first; what does not fit waits for a later session.

    The initiator sends :meth:`start`; then both sides feed every frame they
    read to :meth:`receive` and send each reply it returns, until it reports
    ``finished`` or a turn they sent was ``done``. Any broken rule raises
    :class:`protocol.SyncError` (or ``UnknownVersion``).
    """

    def __init__(
        self, items: Sequence[tuple[int, bytes]], limits: SyncLimits | None = None, budget: int | None = None
    ) -> None:
        self.limits = limits or SyncLimits()
        self.budget = self.limits.max_session_bytes if budget is None else min(budget, self.limits.max_session_bytes)
        self._items = list(items)
        for i, (time, oid) in enumerate(self._items):
            if len(oid) != ID_LEN or not 0 <= time < INFINITY_TIME:
                raise UsageError("items must be (time, 32-byte id) pairs")
            if i and self._items[i - 1] >= self._items[i]:
                raise UsageError("items must be sorted and distinct")
        self._ids = {oid: time for time, oid in self._items}
        self._sums = [0]
        for _, oid in self._items:
            self._sums.append(self._sums[-1] + int.from_bytes(oid, "little"))
        self.turns_sent = 0
        self.turns_received = 0
        self.objects_received = 0
        self.objects_pushed = 0
        self.expected = 0  # objects we expect from the peer (an estimate)
        self.bytes_in = 0
        self.bytes_out = 0
        self.push_cut = 0  # objects we owed the peer but left out: over the budget
        self.finished = False
        self._described = 0  # bytes of our NEED, RANGES and END frames so far
        self._initiated = False  # we sent the first turn
        self._turn_started = False  # a frame of the peer's current turn has arrived
        # State of the turn being received, reset when it ends.
        self._out = _Out()
        self._push: list[bytes] = []
        self._push_set: set[bytes] = set()
        self._need: list[bytes] = []
        self._lower: Bound = _ZERO
        self._in_ranges = 0
        self._in_ids = 0
        self._in_objects = 0

    # -- public ------------------------------------------------------------------

    @property
    def round_trips(self) -> int:
        """Exchanges so far: a turn and its answer count once."""
        return (self.turns_sent + self.turns_received + 1) // 2

    def start(self) -> SyncTurn:
        """The initiator's first turn: everything we hold, split into ``first_branch`` ranges."""
        out = _Out()
        self._initiated = True
        self._answer_range(out, 0, len(self._items), _INFINITY, self.limits.first_branch)
        return self._finish_turn(out, (), [])

    @property
    def push_room(self) -> int:
        """Bytes left in the budget for objects."""
        return max(0, self.budget - self.bytes_out)

    def objects_frames(self, wires: Sequence[bytes]) -> list[bytes]:
        """OBJECTS frames for the wires we push, in order, as many as the budget holds; counted in :attr:`bytes_out`.

        Wires that do not fit are left out (and counted in :attr:`push_cut`):
        pushes come newest first, so what waits for a later session is the oldest.
        """
        room = self.push_room
        fit = 0
        cost = 2 + 3  # the first frame's header (version, type, count)
        frame_size = cost
        for wire in wires:
            piece = len(_varint(len(wire))) + len(wire)
            if frame_size + piece > self.limits.max_frame:  # a new frame starts, with its own header
                frame_size = 2 + 3
                cost += 2 + 3
            if cost + piece > room:
                break
            cost += piece
            frame_size += piece
            fit += 1
        self.push_cut += len(wires) - fit
        frames = _encode_objects(wires[:fit], self.limits.max_frame)
        self.bytes_out += sum(len(f) for f in frames)
        self.objects_pushed += fit
        return frames

    def receive(self, data: bytes) -> SyncReceived:
        """Take one frame from the peer."""
        if self.finished:
            raise SyncError("frame after the end of the sync session")
        self.bytes_in += len(data)
        if self.bytes_in > self.limits.max_session_bytes:
            raise SyncError(f"the peer sent more than {self.limits.max_session_bytes} bytes in one session")
        frame = _decode_frame(data, self.limits)
        if frame.kind == FRAME_BUSY:
            # Only as the whole answer to our first turn: then nothing of the session happened.
            if not self._initiated or self.turns_received or self._turn_started:
                raise SyncError("BUSY other than as the answer to the first turn")
            self.finished = True
            return SyncReceived(finished=True, retry_after=frame.retry_after)
        self._turn_started = True
        if frame.kind == FRAME_OBJECTS:
            self._in_objects += len(frame.wires)
            if self._in_objects > self.limits.max_objects:
                raise SyncError("too many objects in one turn")
            self.objects_received += len(frame.wires)
            return SyncReceived(objects=frame.wires)
        if frame.kind == FRAME_NEED:
            self._count_ids(len(frame.ids))
            for oid in frame.ids:
                if oid in self._ids and oid not in self._push_set:
                    self._push_set.add(oid)
                    self._push.append(oid)
            return SyncReceived()
        if frame.kind == FRAME_RANGES:
            self._in_ranges += len(frame.ranges)
            if self._in_ranges > self.limits.max_ranges:
                raise SyncError("too many ranges in one turn")
            for rng in frame.ranges:
                if rng.upper <= self._lower:
                    raise SyncError("range bounds do not increase across frames")
                if rng.mode == MODE_IDLIST:
                    self._count_ids(rng.count)
                self._answer(rng)
                self._lower = rng.upper
            return SyncReceived()
        # END
        self.turns_received += 1
        if self.turns_sent + self.turns_received > self.limits.max_turns:
            raise SyncError("the sync session takes too many turns")
        if frame.done:
            self.finished = True
            return SyncReceived(finished=True)
        out, push, need = self._out, self._push, self._need
        self._reset_turn()
        # Newest first: if the budget cuts the push, the oldest wait for a later session.
        push.sort(key=lambda oid: (self._ids[oid], oid), reverse=True)
        return SyncReceived(reply=self._finish_turn(out, tuple(push), need))

    # -- internals -----------------------------------------------------------------

    def _reset_turn(self) -> None:
        self._turn_started = False
        self._out = _Out()
        self._push = []
        self._push_set = set()
        self._need = []
        self._lower = _ZERO
        self._in_ranges = 0
        self._in_ids = 0
        self._in_objects = 0

    def _count_ids(self, n: int) -> None:
        self._in_ids += n
        if self._in_ids > self.limits.max_ids:
            raise SyncError("too many ids in one turn")

    def _index(self, bound: Bound) -> int:
        return bisect.bisect_left(self._items, bound)

    def _fp(self, lo: int, hi: int) -> bytes:
        return fingerprint(self._sums[hi] - self._sums[lo], hi - lo)

    def _answer(self, rng: _Range) -> None:
        lo, hi = self._index(self._lower), self._index(rng.upper)
        out = self._out
        if rng.mode == MODE_SKIP:
            self._skip(out, rng.upper)
        elif rng.mode == MODE_FINGERPRINT:
            if rng.count == hi - lo and rng.fp == self._fp(lo, hi):
                self._skip(out, rng.upper)
            else:
                if hi - lo <= self.limits.id_list_max:
                    self.expected += max(0, rng.count - (hi - lo))
                self._answer_range(out, lo, hi, rng.upper, self.limits.branch)
        else:
            theirs = set(rng.ids)
            for _, oid in self._items[lo:hi]:
                if oid not in theirs and oid not in self._push_set:
                    self._push_set.add(oid)
                    self._push.append(oid)
            ours = {oid for _, oid in self._items[lo:hi]}
            lacking = [oid for oid in rng.ids if oid not in ours]
            self.expected += len(lacking)
            self._need.extend(lacking)
            self._skip(out, rng.upper)

    def _skip(self, out: _Out, upper: Bound) -> None:
        out.pending_skip = upper

    def _emit(self, out: _Out, upper: Bound, mode: int, payload: bytes, ids: int) -> None:
        if out.pending_skip is not None and out.pending_skip < upper:
            out.ranges.append((out.pending_skip, MODE_SKIP, b"", 0))
        out.pending_skip = None
        out.ranges.append((upper, mode, payload, ids))
        out.ids += ids

    def _answer_range(self, out: _Out, lo: int, hi: int, upper: Bound, branch: int) -> None:
        """Describe our items[lo:hi] (up to ``upper``): an id list if few, else ``branch`` fingerprints."""
        n = hi - lo
        if n <= self.limits.id_list_max:
            ids = [oid for _, oid in self._items[lo:hi]]
            self._emit(out, upper, MODE_IDLIST, _varint(n) + b"".join(ids), n)
            return
        k = min(branch, n)
        start = lo
        for i in range(1, k + 1):
            end = lo + n * i // k
            bound = upper if i == k else _minimal_bound(self._items[end - 1], self._items[end])
            self._emit(out, bound, MODE_FINGERPRINT, _varint(end - start) + self._fp(start, end), 0)
            start = end

    def _finish_turn(self, out: _Out, push: tuple[bytes, ...], need: list[bytes]) -> SyncTurn:
        limits = self.limits
        need = need[: limits.max_ids]  # the rest are found again by a later session
        ranges = self._cap(out, limits.max_ids - len(need))
        # Descriptions take at most half the budget over the session, so pushes
        # always have room. What does not fit is left out: needs beyond it, and
        # the ranges from there on (what follows a turn's last range is
        # skipped); a later session, with this part settled, takes it up.
        room = self.budget // 2 - self._described - _TURN_SLACK
        need = need[: max(0, room) // ID_LEN]
        ranges = _fit(ranges, room - len(need) * ID_LEN)
        frames = [
            _frame(FRAME_NEED, _varint(len(group)) + b"".join(group))
            for group in _chunked(need, 2 + 3, limits.max_frame)
        ]
        frames.extend(self._range_frames(ranges))
        # Every range we send is open (skips only separate them), so a turn
        # without ranges or needs asks nothing: the session ends with it.
        done = not need and not ranges
        frames.append(_frame(FRAME_END, _varint(int(done))))
        size = sum(len(f) for f in frames)
        self._described += size
        self.turns_sent += 1
        self.bytes_out += size
        if done:
            self.finished = True
        return SyncTurn(push=push, frames=tuple(frames), done=done)

    def _cap(self, out: _Out, id_room: int) -> list[_OutRange]:
        """Keep the turn within the range and id limits.

        Open ranges past the limit are replaced by one fingerprint over
        everything from there to the end, which the peer will split again.
        """
        limits = self.limits
        if len(out.ranges) <= limits.max_ranges and out.ids <= id_room:
            return out.ranges
        kept: list[_OutRange] = []
        ids = 0
        for rng in out.ranges:
            if len(kept) + 2 > limits.max_ranges or ids + rng[3] > id_room:
                break
            kept.append(rng)
            ids += rng[3]
        lo = self._index(kept[-1][0]) if kept else 0
        hi = len(self._items)
        kept.append((_INFINITY, MODE_FINGERPRINT, _varint(hi - lo) + self._fp(lo, hi), 0))
        return kept

    def _range_frames(self, ranges: list[_OutRange]) -> list[bytes]:
        frames: list[bytes] = []
        body = bytearray()
        prev_time = 0
        for upper, mode, payload, _ in ranges:
            piece = _encode_bound(upper, prev_time) + _varint(mode) + payload
            if body and 2 + len(body) + len(piece) > self.limits.max_frame:
                frames.append(_frame(FRAME_RANGES, bytes(body)))
                body = bytearray()
                # each frame's time deltas start again from 0
                piece = _encode_bound(upper, 0) + _varint(mode) + payload
            body += piece
            prev_time = upper[0] if upper[0] != INFINITY_TIME else prev_time
        if body:
            frames.append(_frame(FRAME_RANGES, bytes(body)))
        return frames
