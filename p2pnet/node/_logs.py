"""The daemon's log: timestamped, py-libp2p's lines with ours, and a repeated complaint written once an hour.

py-libp2p logs every failed dial at ERROR, and keeps its logger out of the
root's (so its lines came out bare, through :data:`logging.lastResort`).
Once a peer is gone for good, the node's redial, backing off to a minute,
wrote "Failed to open TCP stream" for ever.  Here the same line from the
same place is written once, then left out for :data:`QUIET` seconds, and
the next one says how many were left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["QUIET", "Repeats", "configure_logging"]

QUIET = 3600.0  # seconds a repeated line stays out of the log
_MAX_KEYS = 1024  # distinct lines remembered; the oldest is forgotten first


class Repeats(logging.Filter):
    """Lets a line through once, then again only after :data:`QUIET` seconds, counting what it held back."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # (logger, line) -> (written at, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.getMessage())
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < QUIET:
            self._seen[key] = (seen[0], seen[1] + 1)
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.getMessage()} (and {seen[1]} times more in the last hour, not written)"
            record.args = ()
        self._seen.pop(key, None)
        self._seen[key] = (now, 0)
        while len(self._seen) > _MAX_KEYS:
            del self._seen[next(iter(self._seen))]
        return True


def configure_logging(level: str) -> None:
    """Log to stderr with times, py-libp2p included, repeated lines written once an hour."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("libp2p").propagate = True
    repeats = Repeats()
    for handler in logging.getLogger().handlers:
        handler.addFilter(repeats)
