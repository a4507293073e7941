"""How the TUI feels with 100,000 posts in the log: first screen, keystrokes, scrolling.

Builds a node home with N signed posts (generated with protocol.make_post and
ingested straight into the node's SQLite store before the daemon starts — the
node's own ``post`` API would take far too long for 100k), starts the REAL
daemon on it, and drives the app with Textual's Pilot.  Prints a table; this is
a benchmark, not a timed test.

    python bench/tui.py [--posts 100000] [--keep DIR]

Targets: first screen within 1 s, keystrokes and scrolling within 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import protocol
from tests.harness.daemons import DaemonProcess

SEED = bytes(range(32))
BATCH = 5000


def build_home(home: Path, posts: int) -> float:
    """Write an identity, a swarm and ``posts`` posts (with some replies and hearts) into ``home``."""
    from p2pnet.api import Home
    from p2pnet.store import Store

    started = time.perf_counter()
    h = Home(home)
    h.create()
    h.write_private(h.identity, protocol.encode_identity_file(SEED, None))
    store = Store.open(h.database)
    try:
        swarm = store.add_swarm("bench", bytes(range(32, 64)), 0, int(time.time()))
        now = int(time.time())
        author = bytes(range(1, 33))
        words = [
            "lorem",
            "ipsum",
            "dolor",
            "sit",
            "amet",
            "consectetur",
            "adipiscing",
            "elit",
            "sed",
            "do",
            "eiusmod",
            "tempor",
        ]
        batch: list[tuple[protocol.Signed, bytes]] = []
        for i in range(posts):
            text = f"post {i}: " + " ".join(words[(i + k) % len(words)] for k in range(5 + i % 20))
            signed = protocol.make_post(
                author,
                text,
                now=now - i * 30,
                bg=protocol.PALETTE[i % len(protocol.PALETTE)],
                nonce=i.to_bytes(16, "big"),
            )
            batch.append((signed, swarm.raw_id))
            if i % 50 == 0:
                reply = protocol.make_reply(SEED, signed, f"a reply to post {i}", now=now - i * 30)
                batch.append((reply, swarm.raw_id))
                batch.append((protocol.make_heart(SEED, signed.id, now=now - i * 30), swarm.raw_id))
            if len(batch) >= BATCH:
                store.ingest_many(batch, now)
                batch.clear()
        if batch:
            store.ingest_many(batch, now)
    finally:
        store.close()
    return time.perf_counter() - started


async def drive(socket: Path, rounds: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Time what a reader feels: from a key reaching the app to the next frame being drawn.

    Keys go in through the (headless) driver like a terminal's input.  Pilot's own
    ``press`` is not used for timing: it sleeps until the process looks idle (at least
    40 ms per key) and waits out animations, which would measure Pilot, not the app.
    """
    from textual import events

    from tui.app import P2PApp
    from tui.screens import FeedList, FeedScreen, ThreadScreen

    results: dict[str, list[float]] = {}
    widgets: dict[str, int] = {}
    app = P2PApp(socket)

    async def until(predicate: Callable[[], Any], limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        while not _safe(predicate):
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not get there")
            await asyncio.sleep(0.0005)

    def frame() -> None:
        """Draw the frame now (Textual otherwise draws on its next refresh tick)."""
        app.screen._on_timer_update()

    async def key(name: str, done: Callable[[], Any]) -> float:
        started = time.perf_counter()
        driver = app._driver
        assert driver is not None
        driver.send_message(events.Key(name, name if len(name) == 1 else None))
        await until(done)
        frame()
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, FeedScreen) and app.screen.shown and app.screen.focused)
        frame()
        results["first screen (feed page 1)"] = [(time.perf_counter() - started) * 1000]
        feed = app.screen
        assert isinstance(feed, FeedScreen)
        feed_list = feed.query_one(FeedList)
        await pilot.pause()

        def selected() -> Any:
            return feed_list.selected

        samples = []
        for _ in range(rounds):
            before = selected()
            samples.append(await key("j", lambda before=before: selected() is not before))
        results["keystroke: next post (j)"] = samples

        samples = []
        for _ in range(rounds):
            before_y, before = feed_list.scroll_y, selected()
            samples.append(
                await key("pagedown", lambda y=before_y, b=before: feed_list.scroll_y != y and selected() is not b)
            )
            await pilot.pause()  # let the lazily loaded pages land between page jumps
        results["scroll: page down"] = samples

        ends, homes = [], []
        for _ in range(max(3, rounds // 4)):
            ends.append(await key("end", lambda: feed_list.selected == len(feed_list.items) - 1 and feed_list.scroll_y))
            await pilot.pause()  # the page asked for at the end lands
            homes.append(await key("home", lambda: feed_list.selected == 0 and feed_list.scroll_y == 0))
            await pilot.pause()
        results["end (G)"] = ends
        results["home (g)"] = homes

        samples = []
        for _ in range(max(3, rounds // 4)):
            before_n = len(feed.shown)
            t = time.perf_counter()
            feed_list.scroll_end(animate=False)
            await until(lambda n=before_n: len(feed.shown) > n)
            frame()
            samples.append((time.perf_counter() - t) * 1000)
            await pilot.pause()
        results["lazy load: next feed page"] = samples

        opened, back = [], []
        for _ in range(max(3, rounds // 4)):
            feed_list.action_first()
            await pilot.pause()
            opened.append(
                await key("enter", lambda: isinstance(app.screen, ThreadScreen) and app.screen.query("#root"))
            )
            await pilot.pause()
            back.append(await key("escape", lambda: app.screen is feed and feed.focused is feed_list))
            await pilot.pause()
        results["open thread (enter)"] = opened
        results["back to the feed (esc)"] = back

        samples = []
        for _ in range(max(2, rounds // 5)):
            popular = not feed.popular
            samples.append(
                await key(
                    "p" if popular else "l",
                    lambda p=popular: feed.popular == p and not feed.loading_page and feed.shown,
                )
            )
            await pilot.pause()
        results["switch Latest/Popular"] = samples
        widgets["posts loaded"] = len(feed_list.items)
        widgets["widgets on the feed screen"] = len(list(feed.walk_children()))
    return results, widgets


def _safe(predicate: Callable[[], Any]) -> bool:
    try:
        return bool(predicate())
    except Exception:
        return False


TARGETS = {
    "first screen (feed page 1)": 1000.0,
    "keystroke: next post (j)": 50.0,
    "scroll: page down": 50.0,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--ip", default="127.0.0.79")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the home in this directory")
    args = parser.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="p2pbench"))
    home = base / "home"
    if (home / "identity.json").exists():
        print(f"reusing {home}")
        build = 0.0
    else:
        print(f"building {args.posts:,} posts in {home} …", flush=True)
        build = build_home(home, args.posts)
    node = DaemonProcess(home, args.ip)
    node.start()
    try:
        counts = node.call("status")["counts"]
        results, widgets = asyncio.run(drive(node.socket, args.rounds))
    finally:
        node.stop()

    print()
    print(f"posts in the log: {counts.get('posts', '?'):,}   (built in {build:.1f} s)")
    print(f"{'measure':32} {'n':>4} {'median ms':>10} {'p95 ms':>9} {'max ms':>9} {'target':>8}  ok")
    print("-" * 82)
    for name, samples in results.items():
        samples = sorted(samples)
        p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
        target = TARGETS.get(name)
        ok = "" if target is None else ("yes" if p95 <= target else "NO")
        target_s = "" if target is None else f"{target:.0f}"
        print(
            f"{name:32} {len(samples):>4} {statistics.median(samples):>10.1f} {p95:>9.1f} {samples[-1]:>9.1f}"
            f" {target_s:>8}  {ok}"
        )
    print()
    for name, count in widgets.items():
        print(f"{name} at the end: {count:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
