"""Long-running tasks that no exception can turn into the end of the daemon.

A peer can make py-libp2p raise in places nobody expected (the peerstore's
expired records, a garbled RPC), and a bug in one swarm's loop must not stop
every other swarm.  Every task the node keeps running goes through
:func:`supervised`: a failure is logged, counted by name (``status`` shows the
counts) and, for a loop, the loop starts again after a back-off.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio

__all__ = ["RESTART_MAX", "RESTART_MIN", "Failures", "supervised", "task_name"]

log = logging.getLogger(__name__)

RESTART_MIN, RESTART_MAX = 1.0, 60.0  # seconds before a failed loop runs again, doubling

Failures = collections.Counter[str]


def task_name(fn: Callable[..., Any]) -> str:
    """The name a task's failures are counted under: ``Node._maintenance_loop`` -> ``maintenance_loop``."""
    name = getattr(fn, "__name__", None) or repr(fn)
    return name.lstrip("_")


async def supervised(
    fn: Callable[..., Awaitable[Any]],
    *args: Any,
    failures: Failures,
    restart: bool,
    name: str | None = None,
) -> None:
    """Await ``fn(*args)``; an exception is logged and counted instead of raised.

    Args:
        fn: The task.
        args: Its arguments.
        failures: Where the failure is counted, under ``name``.
        restart: Run ``fn`` again after a failure (1 s, doubling to 60 s; the
            delay starts over once a run outlives the longest delay).  A run
            that returns normally is never restarted.
        name: What the count and the log call it; defaults to ``fn``'s name.

    Cancellation is never caught: it is how the node stops its tasks.
    """
    name = name or task_name(fn)
    delay = RESTART_MIN
    while True:
        started = trio.current_time()
        try:
            await fn(*args)
            return
        except Exception:
            failures[name] += 1
            if not restart:
                log.exception("%s failed; the daemon carries on without it", name)
                return
            if trio.current_time() - started > RESTART_MAX:
                delay = RESTART_MIN
            log.exception("%s failed; it runs again in %.0f s", name, delay)
        await trio.sleep(delay)
        delay = min(delay * 2, RESTART_MAX)
