"""Waiting for a condition: poll it, with a generous deadline, and say what was awaited when it never came.

No test passes or fails on how fast the machine is: a deadline here is
minutes, reached only when something is broken.  A predicate that raises
counts as "not yet" (a node still starting may refuse a call); the last value
or exception is in the failure message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import trio

__all__ = ["DEADLINE", "pilot_until", "until", "wait_for"]

T = TypeVar("T")
DEADLINE = 60.0  # generous: a loaded CI machine is slow


def _poll(predicate: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        value = predicate()
    except Exception as exc:
        return False, exc
    return bool(value), value


def wait_for(predicate: Callable[[], T], *, timeout: float = DEADLINE, interval: float = 0.1, what: str = "") -> T:
    """Block (a plain test, a thread) until ``predicate()`` is truthy; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        done, last = _poll(predicate)
        if done:
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}: last value {last!r}")
        time.sleep(interval)


async def until(predicate: Callable[[], Any], what: str, *, within: float = 600.0) -> Any:
    """In a trio test, wait until ``predicate()`` is truthy; returns it.

    ``within`` is trio time: on a MockClock ten minutes pass in no time, so
    the default covers embargoes and back-offs; real-host tests pass a
    minute or so.
    """
    last: Any = None
    try:
        with trio.fail_after(within):
            while True:
                done, last = _poll(predicate)
                if done:
                    return last
                await trio.sleep(0.05)
    except trio.TooSlowError:
        raise AssertionError(f"timed out waiting for {what}: last value {last!r}") from None


async def pilot_until(pilot: Any, predicate: Callable[[], Any], what: str, limit: float = DEADLINE) -> Any:
    """In a Textual Pilot test, let the app run until ``predicate()`` is truthy; returns it."""
    deadline = time.monotonic() + limit
    while True:
        done, last = _poll(predicate)
        if done:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: last {last!r}")
        await pilot.pause(0.05)
