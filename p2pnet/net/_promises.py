"""Gossip promises: a peer that advertises a message (IHAVE) and does not deliver it when asked (IWANT).

go-libp2p's gossip tracer penalises such broken promises (P7 there, our P5
behaviour penalty); py-libp2p 0.8.1 does not track them at all.  As go does,
one random id of each IWANT is tracked: a peer that answers nothing breaks
one promise per IWANT, not one per id.  Any arrival of the message keeps the
promise, whoever brings it; its content is judged (P4) on its own.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Sequence

from libp2p.peer.id import ID

__all__ = ["Promises"]


class Promises:
    """Promises we wait on: message id -> (peer, deadline), checked every heartbeat.

    Args:
        timeout: Seconds a peer has to deliver what it advertised.
        max_open: Promises tracked at most; beyond it new ones are not (a
            flood of IHAVEs must not grow memory).
    """

    def __init__(self, timeout: float, max_open: int = 8192) -> None:
        self.timeout = timeout
        self._max_open = max_open
        self._open: dict[bytes, tuple[ID, float]] = {}

    def expect(self, msg_ids: Sequence[bytes], peer: ID, now: float) -> None:
        """We asked ``peer`` for ``msg_ids`` (an IWANT)."""
        if not msg_ids or len(self._open) >= self._max_open:
            return
        mid = bytes(random.choice(list(msg_ids)))
        self._open.setdefault(mid, (peer, now + self.timeout))

    def kept(self, msg_id: bytes) -> None:
        """The message arrived."""
        self._open.pop(msg_id, None)

    def broken(self, now: float) -> collections.Counter[ID]:
        """Promises past their deadline, by peer; they are forgotten."""
        late = [mid for mid, (_, deadline) in self._open.items() if deadline <= now]
        out = collections.Counter[ID]()
        for mid in late:
            peer, _ = self._open.pop(mid)
            out[peer] += 1
        return out
