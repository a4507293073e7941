"""Per-message bookkeeping of gossip made cheap: the seen filter, scores, the message id.

Stock py-libp2p does this work for every copy of every message it receives
(docs/gossip-notes.md, "Ingest in a mesh"): it sweeps the seen cache in a
thread that holds the cache's lock, and so the event loop, while it scans
every entry; it recomputes each peer's score three times per forwarded
message; and it hashes a message for its id in eight places.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.score import PeerScorer, ScoreParams

__all__ = ["CachedScorer", "MessageIdMemo", "SeenCache"]


class SeenCache:
    """The duplicate filter: message ids seen within the last ``ttl`` seconds of being seen.

    Same contract as stock ``LastSeenCache`` (every ``has`` or ``add``
    renews an id), without its sweeping thread: ids are kept in the order
    they were last renewed, so the expired ones are at the front and each
    ``add`` drops them there, a few at a time (``has`` ignores an expired one).

    Args:
        ttl: Seconds an id is remembered after it was last seen.
        clock: Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, ttl: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self.cache: collections.OrderedDict[bytes, float] = collections.OrderedDict()

    def has(self, key: bytes) -> bool:
        expiry = self.cache.get(key)
        if expiry is None:
            return False
        now = self._clock()
        if expiry < now:
            del self.cache[key]
            return False
        self.cache[key] = now + self.ttl
        self.cache.move_to_end(key)
        return True

    def add(self, key: bytes) -> bool:
        now = self._clock()
        is_new = key not in self.cache
        self.cache[key] = now + self.ttl
        self.cache.move_to_end(key)
        self._expire(now)
        return is_new

    def _expire(self, now: float) -> None:
        cache = self.cache
        while cache:
            key, expiry = next(iter(cache.items()))
            if expiry >= now:
                return
            del cache[key]

    def length(self) -> int:
        return len(self.cache)

    def stop(self) -> None:
        """Nothing to stop (stock's has a thread)."""


class CachedScorer(PeerScorer):
    """PeerScorer whose topic and total scores are computed once per heartbeat and peer.

    The gates (``allow_publish``, ``allow_gossip``, ``is_graylisted``) ask
    for a peer's score for every message forwarded to or received from it.
    A cached score is dropped whenever an input that has a weight changes:
    a penalty or an invalid message drops that peer's, an address change
    (P7 counts peers per address) or the decay of a heartbeat drops all.
    Deliveries (P2, P3) drop it only when their weight is not 0, so with
    our parameters a burst of valid messages computes each score once.
    """

    def __init__(self, params: ScoreParams) -> None:
        super().__init__(params)
        self._topic_scores: dict[tuple[ID, str], float] = {}
        self._scores: dict[tuple[ID, tuple[str, ...]], float] = {}
        self._deliveries_count = bool(
            params.p2_first_message_deliveries.weight or params.p3_mesh_message_deliveries.weight
        )

    def forget(self, peer: ID | None = None) -> None:
        """Drop the cached scores of ``peer``, or of everyone."""
        if peer is None:
            self._topic_scores.clear()
            self._scores.clear()
            return
        for key in [k for k in self._topic_scores if k[0] == peer]:
            del self._topic_scores[key]
        for total in [k for k in self._scores if k[0] == peer]:
            del self._scores[total]

    def topic_score(self, peer: ID, topic: str) -> float:
        key = (peer, topic)
        score = self._topic_scores.get(key)
        if score is None:
            score = self._topic_scores[key] = super().topic_score(peer, topic)
        return score

    def score(self, peer: ID, topics: list[str]) -> float:
        if self.params.app_specific_score_fn is not None:
            return super().score(peer, topics)  # P6 is the application's to change at any time
        key = (peer, tuple(topics))
        score = self._scores.get(key)
        if score is None:
            score = self._scores[key] = super().score(peer, topics)
        return score

    # -- every hook that changes a weighted input drops what it changes ---------------

    def on_heartbeat(self, dt_seconds: float = 1.0) -> None:
        super().on_heartbeat(dt_seconds)
        self.forget()

    def on_join_mesh(self, peer: ID, topic: str) -> None:
        super().on_join_mesh(peer, topic)
        self.forget(peer)

    def remove_peer(self, peer: ID) -> None:
        super().remove_peer(peer)
        self.forget()

    def on_first_delivery(self, peer: ID, topic: str) -> None:
        super().on_first_delivery(peer, topic)
        if self._deliveries_count:
            self.forget(peer)

    def on_mesh_delivery(self, peer: ID, topic: str) -> None:
        super().on_mesh_delivery(peer, topic)
        if self._deliveries_count:
            self.forget(peer)

    def on_invalid_message(self, peer: ID, topic: str) -> None:
        super().on_invalid_message(peer, topic)
        self.forget(peer)

    def penalize_behavior(self, peer: ID, amount: float = 1.0) -> None:
        super().penalize_behavior(peer, amount)
        self.forget(peer)

    def penalize_graft_flood(self, peer: ID, amount: float = 10.0) -> None:
        super().penalize_graft_flood(peer, amount)
        self.forget(peer)

    def penalize_iwant_spam(self, peer: ID, amount: float = 5.0) -> None:
        super().penalize_iwant_spam(peer, amount)
        self.forget(peer)

    def penalize_ihave_spam(self, peer: ID, amount: float = 5.0) -> None:
        super().penalize_ihave_spam(peer, amount)
        self.forget(peer)

    def penalize_equivocation(self, peer: ID, amount: float = 100.0) -> None:
        super().penalize_equivocation(peer, amount)
        self.forget(peer)

    def add_peer_ip(self, peer: ID, ip_str: str) -> None:
        super().add_peer_ip(peer, ip_str)
        self.forget()

    def remove_peer_ip(self, peer: ID) -> None:
        super().remove_peer_ip(peer)
        self.forget()


class MessageIdMemo:
    """A message id function that hashes each message object once.

    A message is handled start to end (seen check, delivery, mcache,
    forwarding) before the next, so remembering the last one is enough.
    """

    def __init__(self, of_data: Callable[[bytes], bytes]) -> None:
        self._of_data = of_data
        self._last: rpc_pb2.Message | None = None
        self._last_id = b""

    def __call__(self, msg: rpc_pb2.Message) -> bytes:
        if msg is not self._last:
            self._last_id = self._of_data(msg.data)
            self._last = msg
        return self._last_id
