"""No exception in a long-running task ends the daemon: counted, logged, restarted (on a MockClock)."""

from __future__ import annotations

import itertools
from functools import partial

import pytest
import trio
import trio.testing

from p2pnet.net import RESTART_MAX, Failures, supervised

pytestmark = pytest.mark.trio


async def test_a_failing_loop_is_counted_and_restarted_with_a_growing_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs: list[float] = []

    async def flaky_loop() -> None:
        runs.append(trio.current_time())
        if len(runs) <= 8:
            raise RuntimeError("a bug")
        await trio.sleep_forever()

    failures = Failures()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(supervised, flaky_loop, failures=failures, restart=True))
        await trio.sleep(1000)
        nursery.cancel_scope.cancel()
    assert failures == {"flaky_loop": 8}
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert gaps == [1, 2, 4, 8, 16, 32, RESTART_MAX, RESTART_MAX]


async def test_the_backoff_starts_over_after_a_long_healthy_run(autojump_clock: trio.testing.MockClock) -> None:
    runs: list[float] = []

    async def loop() -> None:
        runs.append(trio.current_time())
        await trio.sleep(10 if len(runs) < 4 else RESTART_MAX + 1)
        if len(runs) < 6:
            raise RuntimeError("fails after a while")
        await trio.sleep_forever()

    failures = Failures()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(supervised, loop, failures=failures, restart=True, name="loop"))
        await trio.sleep(1000)
        nursery.cancel_scope.cancel()
    gaps = [round(b - a) for a, b in itertools.pairwise(runs)]
    # 10 s runs: 1, 2, 4 s of backoff; runs longer than the longest delay start over at 1 s.
    assert gaps == [11, 12, 14, RESTART_MAX + 1 + 1, RESTART_MAX + 1 + 1]
    assert failures == {"loop": 5}


async def test_a_one_shot_task_fails_once_and_cancellation_is_never_a_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls: list[str] = []

    async def broken() -> None:
        calls.append("broken")
        raise ValueError("once")

    async def cancelled() -> None:
        calls.append("cancelled")
        await trio.sleep_forever()

    failures = Failures()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(supervised, broken, failures=failures, restart=False, name="broken"))
        nursery.start_soon(partial(supervised, cancelled, failures=failures, restart=True, name="cancelled"))
        await trio.sleep(100)
        nursery.cancel_scope.cancel()
    assert sorted(calls) == ["broken", "cancelled"]
    assert failures == {"broken": 1}
