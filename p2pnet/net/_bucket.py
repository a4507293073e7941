"""Token buckets: the one rate limit every per-peer defence uses.

A bucket holds up to ``burst`` tokens and gains ``rate`` a second; taking
``n`` succeeds only if ``n`` are there.  So over any span of ``t`` seconds a
peer gets at most ``burst + rate * t`` of whatever the bucket meters (gossip
objects, stem frames, sync sessions or bytes, offences before a ban), and an
honest burst up to ``burst`` passes untouched.  Time is trio's, so tests run
it on a :class:`trio.testing.MockClock`.

py-libp2p has a token bucket (``libp2p.rcmgr.token_bucket``) but it reads
``time.time()`` and cannot be driven by trio's clock.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass

import trio

__all__ = ["Buckets", "Rate", "TokenBucket"]

Clock = Callable[[], float]


@dataclass(frozen=True)
class Rate:
    """How fast a bucket refills and how much it holds.

    Attributes:
        rate: Tokens gained per second.
        burst: Most tokens held (a bucket starts full).
    """

    rate: float
    burst: float


class TokenBucket:
    """One bucket; see the module docstring."""

    def __init__(self, limit: Rate, clock: Clock = trio.current_time) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = limit.burst
        self._at = clock()

    def available(self) -> float:
        """Tokens there now."""
        now = self._clock()
        self._tokens = min(self.limit.burst, self._tokens + (now - self._at) * self.limit.rate)
        self._at = now
        return self._tokens

    def take(self, n: float = 1.0) -> bool:
        """Take ``n`` tokens if there are that many; False (and nothing taken) if not."""
        if self.available() < n:
            return False
        self._tokens -= n
        return True

    def spend(self, n: float) -> None:
        """Take ``n`` tokens whether there are or not: what was already used (it may go below zero)."""
        self.available()
        self._tokens -= n

    def wait(self, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are there (0 if they are now; ``inf`` if they never will be)."""
        missing = n - self.available()
        if missing <= 0:
            return 0.0
        if n > self.limit.burst or self.limit.rate <= 0:
            return float("inf")
        return missing / self.limit.rate

    @property
    def full(self) -> bool:
        return self.available() >= self.limit.burst


class Buckets:
    """One bucket per key (a peer), made on first use.

    At most ``max_keys`` are kept: when there are more, full buckets are
    dropped (a full bucket is the same as a new one), so a stream of new keys
    costs memory only while their buckets are in use.
    """

    def __init__(self, limit: Rate, clock: Clock = trio.current_time, max_keys: int = 4096) -> None:
        self.limit = limit
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: collections.OrderedDict[str, TokenBucket] = collections.OrderedDict()

    def __getitem__(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._make_room()  # before the new one goes in: it is full, and must not be forgotten at once
            bucket = self._buckets[key] = TokenBucket(self.limit, self._clock)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def take(self, key: str, n: float = 1.0) -> bool:
        """:meth:`TokenBucket.take` on ``key``'s bucket."""
        return self[key].take(n)

    def _make_room(self) -> None:
        for key in [k for k, b in self._buckets.items() if b.full]:
            del self._buckets[key]
        while len(self._buckets) >= self._max_keys:  # all in use: the least recently used goes
            self._buckets.popitem(last=False)
