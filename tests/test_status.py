"""``status`` never holds up the event loop: it reads the store off it, even while an ingest batch holds it."""

from __future__ import annotations

import threading
from pathlib import Path

import trio
import trio.testing
from harness.fakenet import FakeNet
from harness.inproc import join, make_node, running_nodes

from p2pnet import api


async def test_status_waits_for_the_store_in_a_worker_thread_not_on_the_event_loop(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        node = make_node(tmp_path / "n", "10.0.0.1", open_host=net.open_host, offload=trio.to_thread.run_sync)
        async with running_nodes(node):
            await join(node, [])
            held, release = threading.Event(), threading.Event()

            def hold_the_store() -> None:  # as a long ingest batch in a worker thread does
                with node.store._lock:
                    held.set()
                    release.wait(timeout=30)  # bounds the test if status blocks the loop

            holder = threading.Thread(target=hold_the_store)
            holder.start()
            await trio.to_thread.run_sync(held.wait)
            answers: list[api.StatusResult] = []

            async def ask() -> None:
                answers.append(await node.request(api.Status()))

            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            assert answers == [], "status answered while the store was held: it read the store on the event loop"
            release.set()
            with trio.fail_after(30):
                while not answers:
                    await trio.sleep(0.01)
            holder.join()
            assert answers[0].counts.own == 0 and [s.name for s in answers[0].swarms] == ["friends"]
            assert [u.swarm for u in answers[0].usage] == ["friends"]
        nursery.cancel_scope.cancel()
