"""The TUI driven by Textual's Pilot against REAL p2pnet daemons (tests/nodes.py).

Each test starts real nodes (own homes, own 127.0.0.6x addresses) and drives the
app the way a user does: keys, clicks, typed text.  Waits poll the app with
generous deadlines; nothing asserts on wall-clock time.

Textual runs on asyncio while pytest here runs in trio mode, so every Pilot test
is a plain synchronous function that runs its coroutine with ``asyncio.run``.

Snapshot tests need deterministic screens, so their node serves fixed data: a
fixed identity seed, fixed post nonces and fixed creation times, ingested into
the node's SQLite store before the daemon starts, and the app gets a fixed
clock.  The data still comes from a real daemon over the control API.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from rich.console import Console

import protocol
from p2pnet import api
from tests.nodes import DEADLINE, DaemonProcess, start_node, wait_for

pytest.importorskip("textual")

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Checkbox, DataTable, Input, Select, Static, TextArea

from tui.app import P2PApp
from tui.format import CARD_COLOURS, age, icon_parts, posted, snippet_text
from tui.screens import (
    BackupPhraseScreen,
    ComposeScreen,
    ConfirmDialog,
    CreateIdentityScreen,
    FeedList,
    FeedScreen,
    FlagDialog,
    HelpScreen,
    InviteScreen,
    PeersScreen,
    SearchScreen,
    SwarmsScreen,
    ThreadScreen,
    UnlockScreen,
)
from tui.screens.peers import render_status
from tui.widgets import NewPostsBar, PostCard, QRCode, ReplyRow, SearchResult
from tui.widgets.footer import AppFooter
from tui.widgets.qr import qr_lines

SMALL = (80, 24)
LARGE = (120, 40)


# -- helpers ------------------------------------------------------------------------------


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro_fn())  # type: ignore[arg-type]


async def until(pilot: Pilot[Any], predicate: Callable[[], Any], what: str, limit: float = DEADLINE) -> Any:
    """Let the app run until ``predicate()`` is truthy (exceptions count as not yet)."""
    deadline = time.monotonic() + limit
    last: Any = None
    while True:
        try:
            last = predicate()
        except Exception as exc:  # a screen may be between states
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: last {last!r}")
        await pilot.pause(0.05)


def at(app: Any, screen_type: type[Any]) -> bool:
    """The app shows a screen of this type and that screen has composed and mounted its widgets."""
    return isinstance(app.screen, screen_type) and app.screen.is_mounted


def feed_texts(app: P2PApp) -> list[str]:
    return [item.text for item in app.screen.query_one(FeedList).items]


def feed_item(app: P2PApp, text: str) -> api.FeedItem:
    return next(item for item in app.screen.query_one(FeedList).items if item.text == text)


def swarm_of(node: DaemonProcess, name: str = "friends") -> str:
    return str(node.call("swarm.create", name=name)["invite"])


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Unix socket paths are limited to ~100 bytes: keep homes short.
    return tmp_path_factory.mktemp("tui")


@pytest.fixture(scope="module")
def node(base: Path) -> Iterator[DaemonProcess]:
    """One node with an identity and the swarm 'friends'."""
    n = start_node(base / "a", "127.0.0.61")
    try:
        swarm_of(n)
        yield n
    finally:
        n.stop()


# -- pure pieces --------------------------------------------------------------------------


def test_importing_tui_pulls_in_no_trio_or_libp2p() -> None:
    code = (
        "import sys, tui, tui.app, tui.screens, tui.widgets, tui.node\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('trio', 'libp2p'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert out.returncode == 0, out.stdout + out.stderr


def test_public_surface() -> None:
    import tui

    assert tui.__all__ == ["run_app"]
    assert callable(tui.run_app)


def test_every_palette_colour_has_a_card_colour() -> None:
    assert set(CARD_COLOURS) == set(protocol.PALETTE)
    assert len(set(CARD_COLOURS.values())) == len(protocol.PALETTE)


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "now"), (59, "now"), (300, "5m"), (7200, "2h"), (3 * 86400, "3d"), (15 * 86400, "2w")]
)
def test_age(seconds: int, shown: str) -> None:
    assert age(1_000_000, 1_000_000 + seconds) == shown


@pytest.mark.parametrize(("seconds", "shown"), [(0, "<10m"), (599, "<10m"), (600, "10m"), (7200, "2h")])
def test_post_age_admits_the_ten_minute_rounding(seconds: int, shown: str) -> None:
    assert posted(1_000_000, 1_000_000 + seconds) == shown


def test_snippet_highlighting_marks_the_node_s_matches_only() -> None:
    text = snippet_text("we \x02love\x03 this [1] list, \x02love\x03")
    assert text.plain == "we love this [1] list, love"
    assert [(s.start, s.end) for s in text.spans] == [(3, 7), (23, 27)]
    assert not snippet_text("nothing marked here").spans


def test_icons_from_the_node_s_indexes() -> None:
    assert icon_parts(api.Icon(glyph=4, colour=5)) == ("★", "#2dd4bf")  # a star, teal
    assert icon_parts(api.Icon(glyph=15, colour=11)) == ("◈", "#a1a1aa")  # the last glyph, charcoal


def _plain(renderable: Any) -> str:
    console = Console(width=200, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def test_status_shows_sync_progress() -> None:
    zero = {"peers": [], "received": 0, "expected": 0, "sessions_ok": 0, "sessions_failed": 0, "fetched": 0}
    zero |= {"sent": 0, "last_session": None, "last": None}
    syncing = zero | {"state": "syncing", "peers": ["p1"], "received": 1200, "expected": 10000, "sessions_ok": 2}
    idle = zero | {"state": "idle", "last_session": 1000, "sessions_ok": 3, "sessions_failed": 1, "fetched": 10000}
    last = {"peer": "p1", "initiator": True, "fetched": 10000, "sent": 0, "seconds": 1.5}
    idle["last"] = last | {"round_trips": 3, "bytes_in": 2_500_000, "bytes_out": 900}
    counts = dict.fromkeys(api.Counts.__struct_fields__, 0)
    status = {"version": 1, "home": "/h", "pid": 1, "identity": "ready", "uptime": 90, "counts": counts}
    status |= {"gossip": {}, "failures": {}}
    status["swarms"] = [{"name": n, "peer_id": "x", "peers": 0, "sync": s} for n, s in (("a", syncing), ("b", idle))]
    table = render_status(msgspec.convert(status, api.StatusResult))
    shown = _plain(table)
    assert "syncing with 1 peer: 1,200 of ~10,000 objects" in shown
    assert "3 ok / 1 failed" in shown and "10,000 fetched" in shown and "3 round trips" in shown


def test_qr_code_of_an_invite_fits_80_columns() -> None:
    invite = protocol.encode_invite(
        protocol.Invite(
            "friends", os.urandom(32), tuple(f"/ip4/10.0.0.{i}/tcp/40000/p2p/12D3KooW" + "x" * 44 for i in range(2))
        )
    )
    lines = qr_lines(invite)
    assert len({len(line) for line in lines}) == 1
    assert len(lines[0]) <= 78, "the QR code must fit an 80-column terminal"


# -- first run ----------------------------------------------------------------------------


def test_first_run_wizard_creates_identity_shows_phrase_once_then_onboarding(base: Path) -> None:
    fresh = start_node(base / "w", "127.0.0.62", init=False)
    try:
        assert fresh.call("status")["identity"] == "none"

        async def main() -> None:
            app = P2PApp(fresh.socket, started_node=True)
            async with app.run_test(size=SMALL) as pilot:
                await until(pilot, lambda: at(app, CreateIdentityScreen), "the wizard")
                await pilot.click("#pass1")
                await pilot.press(*"sesame")
                await pilot.press("enter")
                await pilot.press(*"sesamX", "enter")
                await until(
                    pilot,
                    lambda: "differ" in str(app.screen.query_one("#wizard-status", Static).render()),
                    "passphrase mismatch message",
                )
                app.screen.query_one("#pass2", Input).value = ""
                await pilot.click("#pass2")
                await pilot.press(*"sesame", "enter")
                await until(pilot, lambda: at(app, BackupPhraseScreen), "the backup phrase")
                phrase_screen = app.screen
                assert isinstance(phrase_screen, BackupPhraseScreen)
                words = phrase_screen.phrase.split()
                assert len(words) == 24
                protocol.phrase_to_seed(phrase_screen.phrase)  # a real, valid phrase
                cont = app.screen.query_one("#continue", Button)
                assert cont.disabled, "Continue needs the confirmation first"
                await pilot.click("#continue")
                assert isinstance(app.screen, BackupPhraseScreen)
                await pilot.click(Checkbox)
                await until(pilot, lambda: not cont.disabled, "Continue enabled")
                await pilot.click("#continue")
                # No swarm yet: the create-or-join screen.
                await until(pilot, lambda: at(app, SwarmsScreen), "onboarding")
                assert app.screen.onboarding  # type: ignore[attr-defined]
                await pilot.click("#create-name")
                await pilot.press(*"friends", "enter")
                await until(pilot, lambda: at(app, InviteScreen), "the invite screen")
                invite_screen = app.screen
                assert isinstance(invite_screen, InviteScreen)
                assert invite_screen.invite.startswith("p2pnet")
                assert invite_screen.query_one(QRCode).lines
                await pilot.press("escape")
                await until(pilot, lambda: at(app, FeedScreen), "the feed")
                await until(pilot, lambda: app.screen.query("#empty"), "the empty feed hint")
            st = fresh.call("status")
            assert st["identity"] == "ready"
            assert [s["name"] for s in fresh.call("swarm.list")["swarms"]] == ["friends"]

        run(main)
        # The passphrase chosen in the wizard really protects the identity.
        fresh.stop()
        fresh.start()
        assert fresh.call("status")["identity"] == "locked"
    finally:
        fresh.stop()


def test_locked_identity_is_unlocked_with_clear_error_on_wrong_passphrase(base: Path) -> None:
    locked = start_node(base / "l", "127.0.0.63", init=False)
    try:
        locked.call("identity.create", passphrase="right horse")
        locked.call("swarm.create", name="friends")
        locked.stop()
        locked.start()
        assert locked.call("status")["identity"] == "locked"

        async def main() -> None:
            app = P2PApp(locked.socket)
            async with app.run_test(size=SMALL) as pilot:
                await until(pilot, lambda: at(app, UnlockScreen), "the unlock screen")
                await pilot.press(*"wrong", "enter")
                status = app.screen.query_one("#unlock-status", Static)
                await until(pilot, lambda: "wrong passphrase" in str(status.render()), "the wrong-passphrase error")
                assert isinstance(app.screen, UnlockScreen)
                await pilot.press(*"right", "space", *"horse", "enter")
                await until(pilot, lambda: at(app, FeedScreen), "the feed after unlocking")

        run(main)
        assert locked.call("status")["identity"] == "ready"
    finally:
        locked.stop()


# -- feed, compose, thread ----------------------------------------------------------------


async def open_feed(pilot: Pilot[Any], app: P2PApp) -> FeedScreen:
    await until(pilot, lambda: at(app, FeedScreen), "the feed")
    screen = app.screen
    assert isinstance(screen, FeedScreen)
    await until(pilot, lambda: not screen.loading_page and (screen.shown or screen.query("#empty")), "first page")
    return screen


def test_compose_post_then_thread_reply_heart_flag_delete(node: DaemonProcess) -> None:
    async def main() -> None:
        app = P2PApp(node.socket)
        async with app.run_test(size=SMALL) as pilot:
            await open_feed(pilot, app)
            await pilot.press("c")
            await until(pilot, lambda: at(app, ComposeScreen), "the composer")
            await pilot.press(*"hi")
            count = app.screen.query_one("#compose-count", Static)
            await until(pilot, lambda: str(count.render()).startswith("2 / 1000"), "the live count")
            area = app.screen.query_one(TextArea)
            area.insert(" there, a thought on teal")
            area.insert("x" * 1000)
            await until(pilot, lambda: "too long" in str(count.render()), "the too-long warning")
            await pilot.press("ctrl+s")
            assert isinstance(app.screen, ComposeScreen), "an over-long post is not sent"
            area.text = "hi there, a thought on teal"
            app.screen.query_one("#compose-bg", Select).value = "teal"
            app.screen.query_one("#compose-expires", Select).value = 86400
            await pilot.click("#compose-name")
            await pilot.press(*"Ann")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: at(app, FeedScreen), "back on the feed")
            await until(pilot, lambda: "hi there, a thought on teal" in feed_texts(app), "the new post in the feed")
            item = feed_item(app, "hi there, a thought on teal")
            assert item.bg == "teal" and item.name == "Ann" and item.mine
            assert item.expires

            # Open the thread with Enter on the card.
            feed_list = app.screen.query_one(FeedList)
            feed_list.select(feed_list.index[item.id])
            await pilot.press("enter")
            await until(pilot, lambda: at(app, ThreadScreen), "the thread")
            thread = app.screen
            await until(pilot, lambda: thread.query("#root"), "the root card")
            await pilot.press("r")
            await pilot.press(*"my own answer", "enter")
            await until(pilot, lambda: thread.query(ReplyRow), "the reply")
            reply = thread.query_one(ReplyRow)
            assert reply.item.text == "my own answer"
            assert reply.item.is_author, "the post's author replying wears the crown"
            assert "♛" in str(reply.render().renderables[0])  # type: ignore[attr-defined]

            # Heart the root with h.
            thread.query_one("#root", PostCard).focus()
            await pilot.press("h")
            await until(pilot, lambda: thread.query_one("#root", PostCard).item.hearts == 1, "the heart")

            # Flag the reply through the dialog.
            thread.query_one(ReplyRow).focus()
            await pilot.press("f")
            await until(pilot, lambda: at(app, FlagDialog), "the flag dialog")
            await pilot.press("down", "enter")  # abuse
            await until(pilot, lambda: thread.query_one(ReplyRow).item.flags == 1, "the flag")

            # Delete the own reply (with confirmation).
            thread.query_one(ReplyRow).focus()
            await pilot.press("d")
            await until(pilot, lambda: at(app, ConfirmDialog), "the confirmation")
            await pilot.click("#yes")
            await until(pilot, lambda: not thread.query(ReplyRow), "the reply gone")

            await pilot.press("escape")
            await until(pilot, lambda: at(app, FeedScreen), "back on the feed")
            await until(
                pilot, lambda: feed_item(app, "hi there, a thought on teal").hearts == 1, "the heart on the feed"
            )

    run(main)


def test_compose_shows_node_errors(base: Path) -> None:
    """Two swarms: the composer offers a swarm selector; an error from the node is shown in it."""
    two = start_node(base / "t", "127.0.0.64")
    try:
        two.call("swarm.create", name="one")
        two.call("swarm.create", name="two")

        async def main() -> None:
            app = P2PApp(two.socket)
            async with app.run_test(size=SMALL) as pilot:
                feed = await open_feed(pilot, app)
                await until(pilot, lambda: feed.swarm_names == ["one", "two"] or sorted(feed.swarm_names), "swarms")
                await pilot.press("c")
                await until(pilot, lambda: at(app, ComposeScreen), "the composer")
                select = app.screen.query_one("#compose-swarm", Select)
                select.value = "two"
                app.screen.query_one(TextArea).text = "to the second circle"
                two.call("swarm.leave", name="two")  # the node now refuses the chosen swarm
                await pilot.press("ctrl+s")
                status = app.screen.query_one("#compose-status", Static)
                await until(pilot, lambda: "two" in str(status.render()) and status.has_class("-error"), "the error")
                assert isinstance(app.screen, ComposeScreen)
                select.value = "one"
                await pilot.press("ctrl+s")
                await until(pilot, lambda: at(app, FeedScreen), "sent")
                await until(pilot, lambda: "to the second circle" in feed_texts(app), "the post")

        run(main)
    finally:
        two.stop()


def test_live_posts_new_posts_indicator_and_lazy_pages(base: Path) -> None:
    busy = start_node(base / "b", "127.0.0.65")
    try:
        busy.call("swarm.create", name="friends")
        for i in range(45):
            busy.call("post", text=f"older post number {i}", bg=protocol.PALETTE[i % 12])

        async def main() -> None:
            app = P2PApp(busy.socket)
            async with app.run_test(size=SMALL) as pilot:
                feed = await open_feed(pilot, app)
                assert len(feed.shown) == 30, "the first page only"
                # At the top, a new post slides in at the top.
                busy.call("post", text="fresh while at the top")
                await until(pilot, lambda: feed_texts(app)[0] == "fresh while at the top", "the live post")
                # Scrolled down, new posts wait behind the indicator and the view stays put.
                feed_list = app.screen.query_one(FeedList)
                feed_list.scroll_to(y=20, animate=False)
                await pilot.pause(0.2)
                before_y, before_first = feed_list.scroll_y, feed_texts(app)[0]
                busy.call("post", text="arrived while reading 1")
                busy.call("post", text="arrived while reading 2")
                bar = app.screen.query_one(NewPostsBar)
                await until(pilot, lambda: bar.count == 2, "the 2 new posts indicator")
                assert bar.display
                assert "2 new posts" in str(bar.render())
                assert feed_list.scroll_y == before_y and feed_texts(app)[0] == before_first
                # Scrolling near the end loads the next page.
                feed_list.scroll_end(animate=False)
                await until(pilot, lambda: len(feed.shown) >= 46, "the second page")
                # n shows the new posts from the top.
                await pilot.press("n")
                await until(pilot, lambda: feed_texts(app)[:1] == ["arrived while reading 2"], "the new posts")
                assert bar.count == 0 and feed_list.scroll_y == 0
                # Popular tab, by key and by click.
                await pilot.press("p")
                await until(pilot, lambda: feed.popular and not feed.loading_page and feed.shown, "popular")
                await pilot.click("#latest")
                await until(pilot, lambda: not feed.popular and feed.shown, "latest")
                # Swarm scope: all -> friends.
                await pilot.press("w")
                await until(pilot, lambda: feed.swarm == "friends" and feed.shown, "scoped to friends")

        run(main)
    finally:
        busy.stop()


MANY = 300


@pytest.fixture(scope="module")
def many_node(base: Path) -> Iterator[DaemonProcess]:
    """A node holding MANY posts, written into its store before it starts (posting them would be slow)."""
    n = DaemonProcess(base / "m", "127.0.8.1")
    now = int(time.time())
    with fixed_identity_store(n.home) as store:
        swarm = store.add_swarm("friends", bytes(range(32)), 0, now)
        posts = [
            protocol.make_post(
                bytes(range(1, 33)),
                f"many {i}: " + "word " * (i % 40),  # cards of one to a few lines
                now=now - i * 600,  # one post per 10-minute quantum: a known Latest order
                bg=protocol.PALETTE[i % len(protocol.PALETTE)],
                nonce=i.to_bytes(16, "big"),
            )
            for i in range(MANY)
        ]
        store.ingest_many([(post, swarm.raw_id) for post in posts], now)
    yield from running(n)


def selected_in_view(feed_list: FeedList) -> bool:
    top, bottom = feed_list._tops[feed_list.selected], feed_list._tops[feed_list.selected + 1]
    return feed_list.scroll_y <= top and bottom <= feed_list.scroll_y + feed_list.scrollable_content_region.height


def widgets_outside_the_footer(screen: Screen[Any]) -> int:
    """Widgets on a screen but the footer's keys, which it composes when it gets round to it."""
    return len(list(screen.walk_children())) - len(list(screen.query_one(AppFooter).walk_children()))


def run_on_feed(
    node: DaemonProcess, size: tuple[int, int], body: Callable[[Pilot[Any], FeedScreen, FeedList], Awaitable[None]]
) -> None:
    """Open the app on the node's feed and run ``body`` on it."""

    async def main() -> None:
        app = P2PApp(node.socket)
        async with app.run_test(size=size) as pilot:
            feed = await open_feed(pilot, app)
            await body(pilot, feed, feed.query_one(FeedList))

    run(main)


def test_virtual_feed_walks_to_the_end_and_back_with_few_widgets(many_node: DaemonProcess) -> None:
    async def walk(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        assert len(feed.shown) == 30 and feed_list.selected == 0
        widgets = widgets_outside_the_footer(feed)
        # Card by card: the selection stays in view and the view follows.
        for _ in range(12):
            await pilot.press("j")
        assert feed_list.selected == 12 and feed_list.scroll_y > 0 and selected_in_view(feed_list)
        current = feed_list.current_item()
        assert current is not None and current.text.startswith("many 12:")
        await pilot.press("k")
        assert feed_list.selected == 11 and selected_in_view(feed_list)
        # Page by page, pages loading on the way, to the very end.
        pages = 0
        while not (feed.at_end and feed_list.selected == len(feed_list.items) - 1):
            before = feed_list.selected
            await pilot.press("pagedown")
            await until(pilot, lambda b=before: feed_list.selected > b or feed.at_end, "the next page of cards")
            if feed.at_end:
                await pilot.press("G")
            pages += 1
            assert pages < 400, "the end of the feed was never reached"
        texts = [item.text.split(":")[0] for item in feed_list.items]
        assert [text for text in texts if text.startswith("many ")] == [f"many {i}" for i in range(MANY)]
        assert selected_in_view(feed_list) and feed_list.scroll_y == feed_list.max_scroll_y
        # However many posts are loaded, the screen holds the same few widgets and no card widgets.
        assert not feed.query(PostCard)
        assert widgets_outside_the_footer(feed) <= widgets + 2
        # And back: page up, then home.
        for _ in range(3):
            await pilot.press("pageup")
        assert feed_list.selected < MANY - 1 and selected_in_view(feed_list)
        await pilot.press("g")
        assert feed_list.selected == 0 and feed_list.scroll_y == 0
        # A bigger terminal wraps the cards again: fewer rows, the selection still in view.
        rows = feed_list.virtual_size.height
        await pilot.resize_terminal(*LARGE)
        await until(pilot, lambda: feed_list.virtual_size.height < rows, "the cards wrapped to the new width")
        await pilot.press("end")
        assert feed_list.selected == MANY - 1 and selected_in_view(feed_list)

    run_on_feed(many_node, SMALL, walk)


def test_virtual_feed_click_new_posts_bar_and_keys_on_the_selected_post(many_node: DaemonProcess) -> None:
    async def use(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        # A click on the second card opens its thread.
        await until(pilot, lambda: feed_list._tops[1] > 0, "the cards laid out")
        second = feed_list._tops[1] + 1
        await pilot.click(FeedList, offset=(4, second))
        await until(pilot, lambda: at(app, ThreadScreen), "the thread of the clicked card")
        await until(pilot, lambda: app.screen.query("#root"), "the root card")
        root = app.screen.query_one("#root", PostCard)
        assert root.item.text.startswith("many 1:")
        await pilot.press("escape")
        await until(pilot, lambda: at(app, FeedScreen) and feed.focused is feed_list, "back on the feed")
        assert feed_list.selected == 1
        # Delete is only offered on your own posts; heart acts on the selected one.
        assert feed_list.check_action("delete", ()) is False and feed_list.check_action("heart", ())
        await pilot.press("h")
        await until(pilot, lambda: feed_list.items[1].hearts == 1, "the heart on the selected card")
        # Scrolled down a few pages, a new post waits behind the bar and nothing moves.
        for _ in range(4):
            await pilot.press("pagedown")
        await until(pilot, lambda: len(feed.shown) > 30, "a second page")
        before_y, before_first = feed_list.scroll_y, feed_list.items[0].id
        posted = many_node.call("post", text="a newcomer while deep in the feed", bg="rose")
        bar = feed.query_one(NewPostsBar)
        await until(pilot, lambda: bar.count == 1, "the new posts bar")
        assert feed_list.scroll_y == before_y and feed_list.items[0].id == before_first
        await pilot.press("n")
        await until(pilot, lambda: feed_list.items[0].id == posted["id"], "the new post on top")
        assert feed_list.selected == 0 and feed_list.scroll_y == 0 and bar.count == 0

    run_on_feed(many_node, LARGE, use)


def test_search_highlights_matches_and_opens_thread(node: DaemonProcess) -> None:
    node.call("post", text="zebras are striped and zebras are fast", bg="forest")
    node.call("post", text="nothing to see", bg="amber")

    async def main() -> None:
        app = P2PApp(node.socket)
        async with app.run_test(size=SMALL) as pilot:
            await open_feed(pilot, app)
            await pilot.press("slash")
            await until(pilot, lambda: at(app, SearchScreen), "search")
            await pilot.press(*"zebras", "enter")
            await until(pilot, lambda: app.screen.query(SearchResult), "results")
            result = app.screen.query_one(SearchResult)
            body = result.render().renderables[0]  # type: ignore[attr-defined]
            assert "zebras are striped" in body.plain
            highlighted = {body.plain[s.start : s.end].lower() for s in body.spans}
            assert highlighted == {"zebras"}
            await pilot.press("down", "enter")
            await until(pilot, lambda: at(app, ThreadScreen), "the thread from search")
            await until(
                pilot, lambda: "zebras" in app.screen.query_one("#root", PostCard).item.text, "the right thread"
            )

    run(main)


# -- swarms, peers, help, palette ---------------------------------------------------------


def test_join_with_invite_progress_errors_and_leave(base: Path) -> None:
    host = start_node(base / "h", "127.0.0.66")
    guest = start_node(base / "g", "127.0.0.67")
    try:
        invite = swarm_of(host, "club")
        guest.call("swarm.create", name="own")

        async def main() -> None:
            app = P2PApp(guest.socket)
            async with app.run_test(size=SMALL) as pilot:
                await open_feed(pilot, app)
                await pilot.press("s")
                await until(pilot, lambda: at(app, SwarmsScreen), "swarms")
                screen = app.screen
                status = screen.query_one("#swarms-status", Static)
                # A broken key: a clear error, nothing joined.
                await pilot.click("#join-invite")
                await pilot.press(*"p2pnet1garbage", "enter")
                await until(pilot, lambda: status.has_class("-error"), "the bad-invite error")
                assert "invite key does not work" in str(status.render())
                # The real key.
                screen.query_one("#join-invite", Input).value = invite
                await pilot.click("#btn-join")
                await until(pilot, lambda: "joined club" in str(status.render()), "joined")
                table = screen.query_one(DataTable)
                await until(pilot, lambda: table.row_count == 2, "two swarms listed")
                # Invite screen with QR for the selected swarm.
                table.focus()
                await pilot.press("i")
                await until(pilot, lambda: at(app, InviteScreen), "the invite")
                await pilot.press("escape")
                # Back on the feed, a post the host writes now arrives live.  (The node has no
                # catch-up sync yet, so the host posts once the guest is in its gossip mesh.)
                await pilot.press("escape")
                await until(pilot, lambda: at(app, FeedScreen), "the feed")
                await until(pilot, lambda: host.in_mesh("club"), "the guest in the host's mesh")
                host.call("post", text="welcome to the club", bg="violet")
                await until(pilot, lambda: "welcome to the club" in feed_texts(app), "the host's post", limit=90)
                # Leave 'own'.
                await pilot.press("s")
                await until(pilot, lambda: at(app, SwarmsScreen), "swarms")
                table = app.screen.query_one(DataTable)
                await until(pilot, lambda: table.row_count == 2, "rows")
                row = [table.get_row_at(i)[0] for i in range(2)].index("own")
                table.move_cursor(row=row)
                await pilot.click("#btn-leave")
                await until(pilot, lambda: at(app, ConfirmDialog), "confirm leave")
                await pilot.press("y")
                await until(pilot, lambda: table.row_count == 1, "left")

        run(main)
        assert [s["name"] for s in guest.call("swarm.list")["swarms"]] == ["club"]
    finally:
        guest.stop()
        host.stop()


def test_join_failed_is_explained(base: Path) -> None:
    lonely = start_node(base / "x", "127.0.0.68")
    gone = start_node(base / "y", "127.0.0.69")
    try:
        lonely.call("swarm.create", name="mine")
        dead_invite = swarm_of(gone, "gone")
        gone.stop()

        async def main() -> None:
            app = P2PApp(lonely.socket)
            async with app.run_test(size=SMALL) as pilot:
                await open_feed(pilot, app)
                await pilot.press("s")
                await until(pilot, lambda: at(app, SwarmsScreen), "swarms")
                app.screen.query_one("#join-invite", Input).value = dead_invite
                await pilot.click("#btn-join")
                status = app.screen.query_one("#swarms-status", Static)
                await until(pilot, lambda: "nobody answered" in str(status.render()), "join_failed", limit=120)

        run(main)
    finally:
        lonely.stop()
        gone.stop()


def test_peers_help_and_command_palette(node: DaemonProcess) -> None:
    async def main() -> None:
        app = P2PApp(node.socket)
        async with app.run_test(size=LARGE) as pilot:
            await open_feed(pilot, app)
            await pilot.press("i")
            await until(pilot, lambda: at(app, PeersScreen), "peers")
            status = app.screen.query_one("#node-status", Static)
            await until(pilot, lambda: "loading" not in str(status.render()), "the status")
            shown = _plain(status.content)
            assert "sync friends" in shown and "ok / 0 failed" in shown  # sync progress per swarm
            await pilot.press("escape")
            await pilot.press("question_mark")
            await until(pilot, lambda: at(app, HelpScreen), "help")
            await pilot.press("escape")
            await until(pilot, lambda: at(app, FeedScreen), "feed")
            # The command palette lists our actions and runs them.
            await pilot.press("ctrl+p")
            await pilot.press(*"search posts")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await until(pilot, lambda: at(app, SearchScreen), "search from the palette")

    run(main)


def test_unreachable_node_shows_retry(tmp_path: Path) -> None:
    async def main() -> None:
        app = P2PApp(tmp_path / "control.sock")
        async with app.run_test(size=SMALL) as pilot:
            status = app.screen.query_one("#boot-status", Static)
            await until(pilot, lambda: "cannot reach the node" in str(status.render()), "the error")

    run(main)


# -- snapshots against fixed data ---------------------------------------------------------

FIXED_SEED = bytes(range(32))
FIXED_NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, a multiple of the 10-minute quantum
FIXED_POSTS: list[tuple[str, str, str | None, int]] = [
    ("Does anyone else rehearse conversations in the shower that never happen?", "teal", None, 5 * 60),
    ("I moved to this city a year ago and still eat lunch alone most days.", "indigo", "new here", 2 * 3600),
    ("Confession: I water my neighbour's plants when they travel and they have no idea.", "forest", None, 26 * 3600),
    ("The best advice I ever got: nobody is thinking about you as much as you think.", "crimson", None, 3 * 86400),
    ("Started learning the cello at 41. My fingers hurt and I am so happy.", "amber", "Mo", 9 * 86400),
]


@contextmanager
def fixed_identity_store(home: Path) -> Iterator[Any]:
    """A new home with the fixed identity, its store open to be filled before the daemon starts."""
    from p2pnet.api import Home
    from p2pnet.store import Store

    h = Home(home)
    h.create()
    h.write_private(h.identity, protocol.encode_identity_file(FIXED_SEED, None))
    store = Store.open(h.database)
    try:
        yield store
    finally:
        store.close()


def running(n: DaemonProcess) -> Iterator[DaemonProcess]:
    n.start()
    try:
        yield n
    finally:
        n.stop()


def build_fixed_home(home: Path) -> None:
    """A home with a fixed identity, a swarm and fixed posts, written before the daemon starts."""
    other = bytes(range(1, 33))
    with fixed_identity_store(home) as store:
        swarm = store.add_swarm("friends", bytes(32), 0, FIXED_NOW)
        posts = []
        for i, (text, bg, name, ago) in enumerate(FIXED_POSTS):
            signed = protocol.make_post(other, text, now=FIXED_NOW - ago, bg=bg, name=name, nonce=bytes([i]) * 16)
            posts.append(signed)
            store.ingest(signed, swarm.raw_id, FIXED_NOW)
        root = posts[0]
        for j, (seed, text) in enumerate(
            [(FIXED_SEED, "Every single day. I win all of them."), (other, "Same. I even rehearse the small talk.")]
        ):
            reply = protocol.make_reply(seed, root, text, now=FIXED_NOW - 60, nonce=bytes([100 + j]) * 16)
            store.ingest(reply, swarm.raw_id, FIXED_NOW)
        for k in range(3):
            store.ingest(
                protocol.make_heart(bytes([k + 7]) * 32, posts[1].id, now=FIXED_NOW - 60), swarm.raw_id, FIXED_NOW
            )


@pytest.fixture(scope="module")
def fixed_node(base: Path) -> Iterator[DaemonProcess]:
    n = DaemonProcess(base / "f", "127.0.0.70")
    build_fixed_home(n.home)
    yield from running(n)


def fixed_app(node: DaemonProcess) -> P2PApp:
    return P2PApp(node.socket, clock=lambda: FIXED_NOW)


async def feed_ready(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, P2PApp)
    await until(
        pilot,
        lambda: at(app, FeedScreen) and len(app.screen.shown) == len(FIXED_POSTS),
        "the fixed feed",
    )
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
def test_snapshot_feed(fixed_node: DaemonProcess, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(fixed_app(fixed_node), terminal_size=size, run_before=feed_ready)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
def test_snapshot_thread(fixed_node: DaemonProcess, snap_compare: Any, size: tuple[int, int]) -> None:
    async def open_thread(pilot: Pilot[Any]) -> None:
        await feed_ready(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: at(pilot.app, ThreadScreen) and pilot.app.screen.query(ReplyRow), "the thread")
        await pilot.pause(0.3)

    assert snap_compare(fixed_app(fixed_node), terminal_size=size, run_before=open_thread)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
def test_snapshot_compose(fixed_node: DaemonProcess, snap_compare: Any, size: tuple[int, int]) -> None:
    async def open_compose(pilot: Pilot[Any]) -> None:
        await feed_ready(pilot)
        await pilot.press("c")
        await until(pilot, lambda: at(pilot.app, ComposeScreen), "the composer")
        pilot.app.screen.query_one(TextArea).text = "A thought in ocean blue."
        pilot.app.screen.query_one("#compose-bg", Select).value = "ocean"
        pilot.app.screen.query_one(TextArea).cursor_blink = False
        await pilot.pause(0.3)

    assert snap_compare(fixed_app(fixed_node), terminal_size=size, run_before=open_compose)


def test_snapshot_search(fixed_node: DaemonProcess, snap_compare: Any) -> None:
    async def search(pilot: Pilot[Any]) -> None:
        await feed_ready(pilot)
        await pilot.press("slash")
        await until(pilot, lambda: at(pilot.app, SearchScreen), "search")
        pilot.app.screen.query_one(Input).cursor_blink = False
        await pilot.press(*"rehearse", "enter")
        await until(pilot, lambda: len(pilot.app.screen.query(SearchResult)) == 2, "results")
        await pilot.pause(0.3)

    assert snap_compare(fixed_app(fixed_node), terminal_size=SMALL, run_before=search)


def test_snapshot_help(fixed_node: DaemonProcess, snap_compare: Any) -> None:
    async def help_screen(pilot: Pilot[Any]) -> None:
        await feed_ready(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: at(pilot.app, HelpScreen), "help")
        await pilot.pause(0.3)

    assert snap_compare(fixed_app(fixed_node), terminal_size=SMALL, run_before=help_screen)


def test_fixed_node_serves_the_fixed_data(fixed_node: DaemonProcess) -> None:
    """Guards the snapshots: if the node's data changed, they would fail for the wrong reason."""
    wait_for(lambda: fixed_node.call("status")["identity"] == "ready", what="ready")
    posts = fixed_node.call("feed", limit=50)
    items = posts.get("posts", posts.get("items"))
    assert [p["text"] for p in items] == [p[0] for p in FIXED_POSTS]


def write_feed_screenshot(path: Path, size: tuple[int, int] = (100, 30)) -> None:
    """docs/screenshot-feed.svg: the feed of a real daemon serving the fixed data.

    python -m tests.test_tui docs/screenshot-feed.svg
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="p2pshot") as tmp:
        daemon = DaemonProcess(Path(tmp) / "f", "127.0.0.76")
        build_fixed_home(daemon.home)
        daemon.start()
        try:
            svg: list[str] = []

            async def main() -> None:
                app = fixed_app(daemon)
                async with app.run_test(size=size) as pilot:
                    await feed_ready(pilot)
                    svg.append(app.export_screenshot(title="p2pnet"))

            run(main)
            path.write_text(svg[0])
        finally:
            daemon.stop()


if __name__ == "__main__":
    write_feed_screenshot(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshot-feed.svg"))
