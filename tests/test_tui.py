"""The TUI driven by Textual's Pilot the way a user drives it: keys, clicks, typed text.

Most tests run the app against a fake node (tests/fakenode.py): the real
control API on a Unix socket, served in-process from an in-memory model, so a
test takes about a second.  A few, marked ``integration``, run it against REAL
daemons (tests/nodes.py): the first-run wizard, writing a post and using its
thread, and a check that the fake answers the snapshot data exactly as a
daemon does.  tests/test_tui_e2e.py drives two real TUIs in tmux.  Waits poll
the app with generous deadlines; nothing asserts on wall-clock time.

Textual runs on asyncio while pytest here runs in trio mode, so every Pilot test
is a plain synchronous function that runs its coroutine with ``asyncio.run``.

Snapshot tests need deterministic screens, so their node serves fixed data: a
fixed identity seed, fixed post nonces and fixed creation times, and the app
gets a fixed clock.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from rich.console import Console
from rich.text import Text

import protocol
from p2pnet import api
from tests.harness.daemons import DaemonProcess, start_node
from tests.harness.fakenode import FakeNode, Model, fake_node, invite_to
from tests.harness.polling import pilot_until

pytest.importorskip("textual")

from textual import work
from textual.app import App
from textual.command import CommandList
from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Checkbox, DataTable, Input, Label, OptionList, Select, Static, TextArea
from textual.worker import WorkerFailed, WorkerState

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
    MutesScreen,
    PeersScreen,
    SearchScreen,
    SwarmsScreen,
    ThreadScreen,
    UnlockScreen,
)
from tui.screens.peers import render_status
from tui.widgets import NewPostsBar, PostCard, QRCode, ReplyRow, SearchResult
from tui.widgets.cards import card_body
from tui.widgets.footer import AppFooter
from tui.widgets.qr import qr_lines

SMALL = (80, 24)
LARGE = (120, 40)


# -- helpers ------------------------------------------------------------------------------


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro_fn())  # type: ignore[arg-type]


def at(app: Any, screen_type: type[Any]) -> bool:
    """The app shows a screen of this type and that screen has composed and mounted its widgets."""
    return isinstance(app.screen, screen_type) and app.screen.is_mounted


def feed_texts(app: App[Any]) -> list[str]:
    return [item.text for item in app.screen.query_one(FeedList).items]


def feed_item(app: App[Any], text: str) -> api.FeedItem:
    return next(item for item in app.screen.query_one(FeedList).items if item.text == text)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Unix socket paths are limited to ~100 bytes: keep homes short.
    return tmp_path_factory.mktemp("tui")


def arrive(fake: FakeNode, signed: protocol.Signed, swarm: str = "friends") -> None:
    """A peer's object reaches the fake node through ``swarm``."""
    fake.run(fake.model.arrive, signed, swarm)


def asked(fake: FakeNode, method: str) -> int:
    """How many times the TUI (or the test) called ``method`` on the fake node."""
    return fake.run(lambda: fake.model.calls[method])


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
    def hit(text: str, matches: list[list[int]]) -> api.SearchHit:
        return api.SearchHit(id="a", kind="post", root="a", text=text, created=0, hearts=0, matches=matches)

    text = snippet_text(hit("we love this [1] list,\nlove", [[3, 7], [23, 27]]))
    assert text.plain == "we love this [1] list, love"
    assert [(s.start, s.end) for s in text.spans] == [(3, 7), (23, 27)]
    assert not snippet_text(hit("nothing marked here", [])).spans


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


@pytest.mark.integration
def test_first_run_wizard_creates_identity_shows_phrase_once_then_onboarding(base: Path) -> None:
    fresh = start_node(base / "w", "127.0.0.62", init=False)
    try:
        assert fresh.call("status")["identity"] == "none"

        async def main() -> None:
            app = P2PApp(fresh.socket, started_node=True)
            async with app.run_test(size=SMALL) as pilot:
                await pilot_until(pilot, lambda: at(app, CreateIdentityScreen), "the wizard")
                await pilot.click("#pass1")
                await pilot.press(*"sesame")
                await pilot.press("enter")
                await pilot.press(*"sesamX", "enter")
                await pilot_until(
                    pilot,
                    lambda: "differ" in str(app.screen.query_one("#wizard-status", Static).render()),
                    "passphrase mismatch message",
                )
                app.screen.query_one("#pass2", Input).value = ""
                await pilot.click("#pass2")
                await pilot.press(*"sesame", "enter")
                await pilot_until(pilot, lambda: at(app, BackupPhraseScreen), "the backup phrase")
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
                await pilot_until(pilot, lambda: not cont.disabled, "Continue enabled")
                await pilot.click("#continue")
                # No swarm yet: the create-or-join screen.
                await pilot_until(pilot, lambda: at(app, SwarmsScreen), "onboarding")
                assert app.screen.onboarding  # type: ignore[attr-defined]
                await pilot.click("#create-name")
                await pilot.press(*"friends", "enter")
                await pilot_until(pilot, lambda: at(app, InviteScreen), "the invite screen")
                invite_screen = app.screen
                assert isinstance(invite_screen, InviteScreen)
                assert invite_screen.invite.startswith("p2pnet")
                assert invite_screen.query_one(QRCode).lines
                await pilot.press("escape")
                await pilot_until(pilot, lambda: at(app, FeedScreen), "the feed")
                await pilot_until(pilot, lambda: app.screen.query("#empty"), "the empty feed hint")
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


def test_locked_identity_is_unlocked_with_clear_error_on_wrong_passphrase() -> None:
    model = Model(seed=protocol.new_seed(), passphrase="right horse", swarms={"friends": os.urandom(32)})
    with fake_node(model) as locked:
        assert locked.call("status")["identity"] == "locked"

        async def main() -> None:
            app = P2PApp(locked.socket)
            async with app.run_test(size=SMALL) as pilot:
                await pilot_until(pilot, lambda: at(app, UnlockScreen), "the unlock screen")
                await pilot.press(*"wrong", "enter")
                status = app.screen.query_one("#unlock-status", Static)
                await pilot_until(
                    pilot, lambda: "wrong passphrase" in str(status.render()), "the wrong-passphrase error"
                )
                assert isinstance(app.screen, UnlockScreen)
                await pilot.press(*"right", "space", *"horse", "enter")
                await pilot_until(pilot, lambda: at(app, FeedScreen), "the feed after unlocking")

        run(main)
        assert locked.call("status")["identity"] == "ready"


# -- feed, compose, thread ----------------------------------------------------------------


async def open_feed(pilot: Pilot[Any], app: App[Any]) -> FeedScreen:
    await pilot_until(pilot, lambda: at(app, FeedScreen), "the feed")
    screen = app.screen
    assert isinstance(screen, FeedScreen)
    await pilot_until(pilot, lambda: not screen.loading_page and (screen.shown or screen.query("#empty")), "first page")
    return screen


def run_on_feed(
    socket: Path,
    body: Callable[[Pilot[Any], FeedScreen, FeedList], Awaitable[None]],
    size: tuple[int, int] = SMALL,
) -> None:
    """Open the app on the feed of the node at ``socket`` and run ``body`` on it."""

    async def main() -> None:
        app = P2PApp(socket)
        async with app.run_test(size=size) as pilot:
            feed = await open_feed(pilot, app)
            await body(pilot, feed, feed.feed_list)

    run(main)


def test_compose_post_then_thread_reply_heart_flag_delete(fake: FakeNode) -> None:
    run_on_feed(fake.socket, compose_post_then_use_its_thread)


@pytest.mark.integration
def test_compose_post_then_thread_reply_heart_flag_delete_on_a_real_daemon(base: Path) -> None:
    node = start_node(base / "a", "127.0.0.61")
    try:
        node.call("swarm.create", name="friends")
        run_on_feed(node.socket, compose_post_then_use_its_thread)
    finally:
        node.stop()


async def compose_post_then_use_its_thread(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
    """Write a post in the composer, open its thread, reply, heart, flag, delete the reply."""
    app = pilot.app
    await pilot.press("c")
    await pilot_until(pilot, lambda: at(app, ComposeScreen), "the composer")
    await pilot.press(*"hi")
    count = app.screen.query_one("#compose-count", Static)
    await pilot_until(pilot, lambda: str(count.render()).startswith("2 / 1000"), "the live count")
    area = app.screen.query_one(TextArea)
    area.insert(" there, a thought on teal")
    area.insert("x" * 1000)
    await pilot_until(pilot, lambda: "too long" in str(count.render()), "the too-long warning")
    await pilot.press("ctrl+s")
    assert isinstance(app.screen, ComposeScreen), "an over-long post is not sent"
    area.text = "hi there, a thought on teal"
    app.screen.query_one("#compose-bg", Select).value = "teal"
    app.screen.query_one("#compose-expires", Select).value = 86400
    await pilot.click("#compose-name")
    await pilot.press(*"Ann")
    await pilot.press("ctrl+s")
    await pilot_until(pilot, lambda: at(app, FeedScreen), "back on the feed")
    await pilot_until(pilot, lambda: "hi there, a thought on teal" in feed_texts(app), "the new post in the feed")
    item = feed_item(app, "hi there, a thought on teal")
    assert item.bg == "teal" and item.name == "Ann" and item.mine
    assert item.expires

    # Open the thread with Enter on the card.
    feed_list.select(feed_list.index[item.id])
    await pilot.press("enter")
    await pilot_until(pilot, lambda: at(app, ThreadScreen), "the thread")
    thread = app.screen
    await pilot_until(pilot, lambda: thread.query("#root"), "the root card")
    await pilot.press("r")
    await pilot.press(*"my own answer", "enter")
    await pilot_until(pilot, lambda: thread.query(ReplyRow), "the reply")
    reply = thread.query_one(ReplyRow)
    assert reply.item.text == "my own answer"
    assert reply.item.is_author, "the post's author replying wears the crown"
    assert "♛" in str(reply.render().renderables[0])

    # Heart the root with h.
    thread.query_one("#root", PostCard).focus()
    await pilot.press("h")
    await pilot_until(pilot, lambda: thread.query_one("#root", PostCard).item.hearts == 1, "the heart")

    # Flag the reply through the dialog.
    thread.query_one(ReplyRow).focus()
    await pilot.press("f")
    await pilot_until(pilot, lambda: at(app, FlagDialog), "the flag dialog")
    await pilot.press("down", "enter")  # abuse
    await pilot_until(pilot, lambda: thread.query_one(ReplyRow).item.flags == 1, "the flag")

    # Delete the own reply (with confirmation).
    thread.query_one(ReplyRow).focus()
    await pilot.press("d")
    await pilot_until(pilot, lambda: at(app, ConfirmDialog), "the confirmation")
    await pilot.click("#yes")
    await pilot_until(pilot, lambda: not thread.query(ReplyRow), "the reply gone")

    await pilot.press("escape")
    await pilot_until(pilot, lambda: at(app, FeedScreen), "back on the feed")
    await pilot_until(pilot, lambda: feed_item(app, "hi there, a thought on teal").hearts == 1, "the heart on the feed")


def test_compose_shows_node_errors() -> None:
    """Two swarms: the composer offers a swarm selector; an error from the node is shown in it."""
    with fake_node() as two:
        two.call("swarm.create", name="one")
        two.call("swarm.create", name="two")

        async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
            app = pilot.app
            await pilot_until(pilot, lambda: feed.swarm_names == ["one", "two"], "swarms")
            await pilot.press("c")
            await pilot_until(pilot, lambda: at(app, ComposeScreen), "the composer")
            select = app.screen.query_one("#compose-swarm", Select)
            await pilot_until(pilot, lambda: select.display, "the swarm picker")
            select.value = "two"
            app.screen.query_one(TextArea).text = "to the second circle"
            two.run(two.model.swarms.pop, "two")  # gone from the node, and no event says so
            await pilot.press("ctrl+s")
            status = app.screen.query_one("#compose-status", Static)
            await pilot_until(pilot, lambda: "two" in str(status.render()) and status.has_class("-error"), "the error")
            assert isinstance(app.screen, ComposeScreen)
            # The composer asked the node again: one swarm left, so no picker, and the post goes there.
            await pilot_until(pilot, lambda: not select.display and select.value == "one", "the swarms as they are")
            await pilot.press("ctrl+s")
            await pilot_until(pilot, lambda: at(app, FeedScreen), "sent")
            await pilot_until(pilot, lambda: "to the second circle" in feed_texts(app), "the post")

        run_on_feed(two.socket, body)


def test_a_swarm_made_during_the_session_is_offered_when_writing(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await pilot.press("s")
        await pilot_until(pilot, lambda: at(app, SwarmsScreen), "swarms")
        await pilot.click("#create-name")
        await pilot.press(*"work", "enter")
        await pilot_until(pilot, lambda: at(app, InviteScreen), "the new swarm's invite")
        await pilot.press("escape")
        await pilot_until(pilot, lambda: at(app, SwarmsScreen), "back on swarms")
        await pilot.press("escape")
        await pilot_until(pilot, lambda: at(app, FeedScreen) and feed.swarm_names == ["friends", "work"], "the feed")
        await pilot.press("w", "w")
        await pilot_until(pilot, lambda: feed.swarm == "work", "the feed shows work")
        await pilot.press("c")
        await pilot_until(pilot, lambda: at(app, ComposeScreen), "the composer")
        select = app.screen.query_one("#compose-swarm", Select)
        await pilot_until(pilot, lambda: select.display and select.value == "work", "work offered, and picked")
        # A swarm made elsewhere while writing is offered at once.
        fake.call("swarm.create", name="club")
        await pilot_until(pilot, lambda: "club" in app.screen.swarms, "the swarm made elsewhere")
        assert select.value == "work"
        await pilot.press(*"hello work")
        await pilot.press("ctrl+s")
        await pilot_until(pilot, lambda: at(app, FeedScreen) and "hello work" in feed_texts(app), "posted in work")

    run_on_feed(fake.socket, body)
    assert [p["text"] for p in fake.call("feed", swarm="work")["posts"]] == ["hello work"]


async def scroll_down(pilot: Pilot[Any], feed_list: FeedList) -> None:
    """Scroll the feed a little way down, off its top, where new posts wait behind the yellow bar."""

    def scrolled() -> bool:
        # Asked again until it holds: a scroll asked before the list's layout settles is clamped to 0.
        if feed_list.scroll_y <= 0.5:
            feed_list.scroll_to(y=20, animate=False, immediate=True)
        return feed_list.scroll_y > 0.5

    await pilot_until(pilot, scrolled, "the feed scrolled down")


def test_live_posts_new_posts_indicator_and_lazy_pages(fake: FakeNode) -> None:
    for i in range(45):
        fake.call("post", text=f"older post number {i}", bg=protocol.PALETTE[i % 12])

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        assert len(feed.shown) == 30, "the first page only"
        # At the top, a new post slides in at the top.
        fake.call("post", text="fresh while at the top")
        await pilot_until(pilot, lambda: feed_texts(app)[0] == "fresh while at the top", "the live post")
        # Scrolled down, new posts wait behind the indicator and the view stays put.
        await scroll_down(pilot, feed_list)
        before_y, before_first = feed_list.scroll_y, feed_texts(app)[0]
        fake.call("post", text="arrived while reading 1")
        fake.call("post", text="arrived while reading 2")
        bar = app.screen.query_one(NewPostsBar)
        await pilot_until(pilot, lambda: bar.count == 2, "the 2 new posts indicator")
        assert bar.display
        assert "2 new posts" in str(bar.render())
        assert feed_list.scroll_y == before_y and feed_texts(app)[0] == before_first
        # Scrolling near the end loads the next page.
        feed_list.scroll_end(animate=False)
        await pilot_until(pilot, lambda: len(feed.shown) >= 46, "the second page")
        # n shows the new posts from the top.
        await pilot.press("n")
        await pilot_until(pilot, lambda: feed_texts(app)[:1] == ["arrived while reading 2"], "the new posts")
        assert bar.count == 0 and feed_list.scroll_y == 0
        # Popular tab, by key and by click.
        await pilot.press("p")
        await pilot_until(pilot, lambda: feed.popular and not feed.loading_page and feed.shown, "popular")
        await pilot.click("#latest")
        await pilot_until(pilot, lambda: not feed.popular and feed.shown, "latest")
        # Swarm scope: all -> friends.
        await pilot.press("w")
        await pilot_until(pilot, lambda: feed.swarm == "friends" and feed.shown, "scoped to friends")

    run_on_feed(fake.socket, body)


def test_live_updates_come_with_the_events_and_ask_the_node_nothing(fake: FakeNode) -> None:
    """Every object event carries its post as it stands now: the feed shows new posts and their changes
    from that alone, with no thread call per event."""
    for i in range(40):
        fake.call("post", text=f"older post number {i}")
    friend, others = protocol.new_seed(), [protocol.new_seed() for _ in range(2)]
    now = int(time.time())

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        # A friend's post slides in on top; a heart and a reply from others redraw its card.
        news = protocol.make_post(friend, "from a friend", now=now, bg="teal")
        arrive(fake, news)
        await pilot_until(pilot, lambda: feed_texts(app)[0] == "from a friend", "the friend's post on top")
        arrive(fake, protocol.make_heart(others[0], news.id, now=now))
        arrive(fake, protocol.make_reply(others[1], news, "an answer", now=now))

        def top() -> api.FeedItem:
            return feed_list.items[0]

        await pilot_until(pilot, lambda: (top().hearts, top().replies) == (1, 1), "the heart and the reply counted")
        # Scrolled down, new posts wait behind the bar, kept as the later events say they stand.
        await scroll_down(pilot, feed_list)
        later = protocol.make_post(friend, "while reading", now=now)
        gone = protocol.make_post(friend, "taken back", now=now)
        arrive(fake, later)
        arrive(fake, gone)
        bar = feed.query_one(NewPostsBar)
        await pilot_until(pilot, lambda: bar.count == 2, "two new posts behind the bar")
        arrive(fake, protocol.make_heart(others[0], later.id, now=now))
        arrive(fake, protocol.make_delete(friend, gone, now=now))
        await pilot_until(pilot, lambda: bar.count == 1, "the deleted one no longer counted")
        await pilot.press("n")
        await pilot_until(pilot, lambda: feed_texts(app)[0] == "while reading", "the waiting post on top")
        assert top().hearts == 1 and "taken back" not in feed_texts(app)
        # A delete takes a post off the feed.
        arrive(fake, protocol.make_delete(friend, news, now=now))
        await pilot_until(pilot, lambda: "from a friend" not in feed_texts(app), "the deleted post gone")
        assert asked(fake, "thread") == 0

    run_on_feed(fake.socket, body)


def test_a_purge_reads_again_only_the_posts_that_can_self_destruct() -> None:
    """A purged event says how many objects went, not which: the feed asks after its expiring posts only."""
    clock = [time.time()]
    with fake_node(Model(seed=protocol.new_seed(), clock=lambda: clock[0])) as fake:
        fake.call("swarm.create", name="friends")
        fake.call("post", text="stays")
        fake.call("post", text="gone in an hour", expires=3600)
        fake.call("post", text="gone in a day", expires=86400)

        async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
            app = pilot.app
            assert feed_texts(app) == ["gone in a day", "gone in an hour", "stays"]
            clock[0] += 2 * 3600
            assert fake.run(fake.model.purge) == 1
            await pilot_until(pilot, lambda: feed_texts(app) == ["gone in a day", "stays"], "the expired post gone")
            await pilot_until(pilot, lambda: not [w for w in app.workers if w.group == "live"], "the re-reading done")
            assert asked(fake, "thread") == 2, "the two expiring posts, not the third"

        run_on_feed(fake.socket, body)


MANY = 300


@pytest.fixture(scope="module")
def many_posts() -> list[protocol.Signed]:
    """MANY posts from someone else, one per 10-minute quantum (a known Latest order), newest first."""
    now = int(time.time())
    return [
        protocol.make_post(
            bytes(range(1, 33)),
            f"many {i}: " + "word " * (i % 40),  # cards of one to a few lines
            now=now - i * 600,
            bg=protocol.PALETTE[i % len(protocol.PALETTE)],
            nonce=i.to_bytes(16, "big"),
        )
        for i in range(MANY)
    ]


@pytest.fixture
def many_node(many_posts: list[protocol.Signed]) -> Iterator[FakeNode]:
    """A node holding MANY posts."""
    model = Model(seed=protocol.new_seed(), swarms={"friends": os.urandom(32)})
    for post in many_posts:
        model.arrive(post, "friends")
    with fake_node(model) as node:
        yield node


def selected_in_view(feed_list: FeedList) -> bool:
    top, bottom = feed_list._tops[feed_list.selected], feed_list._tops[feed_list.selected + 1]
    return feed_list.scroll_y <= top and bottom <= feed_list.scroll_y + feed_list.scrollable_content_region.height


def widgets_outside_the_footer(screen: Screen[Any]) -> int:
    """Widgets on a screen but the footer's keys, which it composes when it gets round to it."""
    return len(list(screen.walk_children())) - len(list(screen.query_one(AppFooter).walk_children()))


def test_virtual_feed_walks_to_the_end_and_back_with_few_widgets(many_node: FakeNode) -> None:
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
            await pilot_until(pilot, lambda b=before: feed_list.selected > b or feed.at_end, "the next page of cards")
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
        await pilot_until(pilot, lambda: feed_list.virtual_size.height < rows, "the cards wrapped to the new width")
        await pilot.press("end")
        assert feed_list.selected == MANY - 1 and selected_in_view(feed_list)

    run_on_feed(many_node.socket, walk)


def test_virtual_feed_click_new_posts_bar_and_keys_on_the_selected_post(many_node: FakeNode) -> None:
    async def use(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        # A click on the second card opens its thread.
        await pilot_until(pilot, lambda: feed_list._tops[1] > 0, "the cards laid out")
        second = feed_list._tops[1] + 1
        await pilot.click(FeedList, offset=(4, second))
        await pilot_until(pilot, lambda: at(app, ThreadScreen), "the thread of the clicked card")
        await pilot_until(pilot, lambda: app.screen.query("#root"), "the root card")
        root = app.screen.query_one("#root", PostCard)
        assert root.item.text.startswith("many 1:")
        await pilot.press("escape")
        await pilot_until(pilot, lambda: at(app, FeedScreen) and feed.focused is feed_list, "back on the feed")
        assert feed_list.selected == 1
        # Delete is only offered on your own posts; heart acts on the selected one.
        assert feed_list.check_action("delete", ()) is False and feed_list.check_action("heart", ())
        await pilot.press("h")
        await pilot_until(pilot, lambda: feed_list.items[1].hearts == 1, "the heart on the selected card")
        # Scrolled down a few pages, a new post waits behind the bar and nothing moves.
        for _ in range(4):
            await pilot.press("pagedown")
        await pilot_until(pilot, lambda: len(feed.shown) > 30, "a second page")
        before_y, before_first = feed_list.scroll_y, feed_list.items[0].id
        posted = many_node.call("post", text="a newcomer while deep in the feed", bg="rose")
        bar = feed.query_one(NewPostsBar)
        await pilot_until(pilot, lambda: bar.count == 1, "the new posts bar")
        assert feed_list.scroll_y == before_y and feed_list.items[0].id == before_first
        await pilot.press("n")
        await pilot_until(pilot, lambda: feed_list.items[0].id == posted["id"], "the new post on top")
        assert feed_list.selected == 0 and feed_list.scroll_y == 0 and bar.count == 0

    run_on_feed(many_node.socket, use, LARGE)


def test_search_highlights_matches_and_opens_thread(fake: FakeNode) -> None:
    fake.call("post", text="zebras are striped and zebras are fast", bg="forest")
    fake.call("post", text="nothing to see", bg="amber")

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await pilot.press("slash")
        await pilot_until(pilot, lambda: at(app, SearchScreen), "search")
        await pilot.press(*"zebr", "enter")  # a word's beginning finds it
        await pilot_until(pilot, lambda: app.screen.query(SearchResult), "results")
        result = app.screen.query_one(SearchResult)
        text = result.render().renderables[0]
        assert isinstance(text, Text)
        assert "zebras are striped" in text.plain
        highlighted = {text.plain[s.start : s.end].lower() for s in text.spans}
        assert highlighted == {"zebras"}
        await pilot.press("down", "enter")
        await pilot_until(pilot, lambda: at(app, ThreadScreen), "the thread from search")
        await pilot_until(
            pilot, lambda: "zebras" in app.screen.query_one("#root", PostCard).item.text, "the right thread"
        )

    run_on_feed(fake.socket, body)


# -- swarms, peers, help, palette ---------------------------------------------------------


def a_conversation(fake: FakeNode) -> tuple[protocol.Signed, list[protocol.Signed]]:
    """A post and four replies from peers, arriving in the order written: two answer the post, two a reply."""
    now = int(time.time())
    root = protocol.make_post(bytes([9]) * 32, "Which book changed your mind?", now=now)
    first = protocol.make_reply(bytes([10]) * 32, root, "Thinking, Fast and Slow.", now=now)
    second = protocol.make_reply(bytes([11]) * 32, root, "None yet, I am still looking.", now=now)
    answer = protocol.make_reply(bytes([12]) * 32, root, "Why that one?", now=now, parent=first.id)
    again = protocol.make_reply(
        bytes([10]) * 32, root, "It names the mistakes I make every single day.", now=now, parent=answer.id
    )
    replies = [first, second, answer, again]
    for signed in [root, *replies]:
        arrive(fake, signed)
    return root, replies


async def open_conversation(pilot: Pilot[Any], feed_list: FeedList, root: protocol.Signed) -> None:
    """Open the thread of :func:`a_conversation` from the feed, and wait for its four replies."""
    feed_list.select(feed_list.index[root.id.hex()])
    await pilot.press("enter")
    app = pilot.app
    await pilot_until(pilot, lambda: at(app, ThreadScreen) and len(app.screen.query(ReplyRow)) == 4, "the thread")


def test_thread_in_arrival_order_names_what_a_reply_answers(fake: FakeNode) -> None:
    root, (first, second, answer, again) = a_conversation(fake)

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await open_conversation(pilot, feed_list, root)
        rows = list(app.screen.query(ReplyRow))
        assert [row.item.id for row in rows] == [r.id.hex() for r in (first, second, answer, again)]
        shown = [_plain(row.render()) for row in rows]
        assert not any("replying to" in text for text in shown[:2])  # answers to the post need no pointer
        glyph, _ = icon_parts(rows[0].item.icon)
        assert f"↳ replying to {glyph} “Thinking, Fast and Slow.”" in shown[2]
        assert "↳ replying to " in shown[3] and "“Why that one?”" in shown[3]

    run_on_feed(fake.socket, body, LARGE)


def test_flagged_posts_collapse_behind_a_notice_and_open_on_demand(fake: FakeNode) -> None:
    now = int(time.time())
    spam = protocol.make_post(bytes([9]) * 32, "buy cheap watches here", now=now)
    arrive(fake, spam)
    for k in range(3):
        arrive(fake, protocol.make_flag(bytes([20 + k]) * 32, spam.id, now=now, reason="spam"))

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await pilot_until(pilot, lambda: feed_list.items and feed_list.items[0].collapsed, "the collapsed post")
        shown = _plain(card_body(feed_list.items[0], time.time()))
        assert "⚑ collapsed: flagged 3 times in this swarm · enter opens the thread" in shown
        assert "watches" not in shown
        await pilot.press("enter")
        await pilot_until(pilot, lambda: at(app, ThreadScreen) and app.screen.query(PostCard), "the thread")
        card = app.screen.query_one(PostCard)
        assert "enter shows it" in _plain(card.render()) and "watches" not in _plain(card.render())
        card.focus()
        await pilot.press("enter")
        await pilot_until(pilot, lambda: "buy cheap watches here" in _plain(card.render()), "the post opened")

    run_on_feed(fake.socket, body, LARGE)


def test_mute_a_writer_hide_a_thread_and_undo_it_on_the_mutes_screen(fake: FakeNode) -> None:
    root, (_, second, _, _) = a_conversation(fake)

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await open_conversation(pilot, feed_list, root)
        thread = app.screen
        next(row for row in thread.query(ReplyRow) if row.item.id == second.id.hex()).focus()
        await pilot.press("m")  # mute that writer, here only
        await pilot_until(pilot, lambda: len(thread.query(ReplyRow)) == 3, "the muted reply gone")
        assert second.id.hex() not in {row.item.id for row in thread.query(ReplyRow)}
        await pilot.press("x")  # hide the whole thread
        await pilot_until(pilot, lambda: at(app, FeedScreen), "back on the feed")
        await pilot_until(pilot, lambda: root.id.hex() not in feed.shown and not feed.loading_page, "the thread hidden")
        await pilot.press("M")
        await pilot_until(pilot, lambda: at(app, MutesScreen) and len(app.screen.entries) == 2, "the mutes listed")
        mutes = app.screen
        assert isinstance(mutes, MutesScreen)
        await pilot.click("#mute-word")
        await pilot.press(*"watches", "enter")
        await pilot_until(pilot, lambda: len(mutes.entries) == 3, "the word muted")
        assert mutes.entries[0].word == "watches"
        mutes.query_one(OptionList).focus()
        mutes.query_one(OptionList).highlighted = 2  # the hidden thread
        await pilot.press("delete")
        await pilot_until(pilot, lambda: len(mutes.entries) == 2, "the thread shown again")
        await pilot.press("escape")
        await pilot_until(pilot, lambda: root.id.hex() in feed.shown, "the thread back on the feed")
        assert fake.run(lambda: (set(fake.model.muted_keys), fake.model.muted_words)) == (
            {second.obj.pubkey},
            {"watches"},
        )

    run_on_feed(fake.socket, body, LARGE)


def test_join_with_invite_progress_errors_and_leave() -> None:
    club = os.urandom(32)
    invite = invite_to("club", club)
    with fake_node(Model(seed=protocol.new_seed(), out_there={club})) as guest:
        guest.call("swarm.create", name="own")

        async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
            app = pilot.app
            await pilot.press("s")
            await pilot_until(pilot, lambda: at(app, SwarmsScreen), "swarms")
            screen = app.screen
            status = screen.query_one("#swarms-status", Static)
            # A broken key: a clear error, nothing joined.
            await pilot.click("#join-invite")
            await pilot.press(*"p2pnet1garbage", "enter")
            await pilot_until(pilot, lambda: status.has_class("-error"), "the bad-invite error")
            assert "invite key does not work" in str(status.render())
            # The real key.
            screen.query_one("#join-invite", Input).value = invite
            await pilot.click("#btn-join")
            await pilot_until(pilot, lambda: "joined club" in str(status.render()), "joined")
            table = screen.query_one(DataTable)
            await pilot_until(pilot, lambda: table.row_count == 2, "two swarms listed")
            # Invite screen with QR for the selected swarm.
            table.focus()
            await pilot.press("i")
            await pilot_until(pilot, lambda: at(app, InviteScreen), "the invite")
            await pilot.press("escape")
            # Back on the feed, a post a member of the club writes now arrives live.
            await pilot.press("escape")
            await pilot_until(pilot, lambda: at(app, FeedScreen), "the feed")
            welcome = protocol.make_post(protocol.new_seed(), "welcome to the club", now=int(time.time()))
            arrive(guest, welcome, "club")
            await pilot_until(pilot, lambda: "welcome to the club" in feed_texts(app), "the member's post")
            # Leave 'own'.
            await pilot.press("s")
            await pilot_until(pilot, lambda: at(app, SwarmsScreen), "swarms")
            table = app.screen.query_one(DataTable)
            await pilot_until(pilot, lambda: table.row_count == 2, "rows")
            row = [table.get_row_at(i)[0] for i in range(2)].index("own")
            table.move_cursor(row=row)
            await pilot.click("#btn-leave")
            await pilot_until(pilot, lambda: at(app, ConfirmDialog), "confirm leave")
            await pilot.press("y")
            await pilot_until(pilot, lambda: table.row_count == 1, "left")

        run_on_feed(guest.socket, body)
        assert [s["name"] for s in guest.call("swarm.list")["swarms"]] == ["club"]


def test_posts_of_a_swarm_left_leave_the_feed(fake: FakeNode) -> None:
    fake.call("swarm.create", name="work")
    arrive(fake, protocol.make_post(protocol.new_seed(), "only among friends", now=int(time.time())))
    arrive(fake, protocol.make_post(protocol.new_seed(), "from work", now=int(time.time())), "work")

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await pilot_until(pilot, lambda: sorted(feed_texts(app)) == ["from work", "only among friends"], "both")
        await pilot.press("s")
        await pilot_until(pilot, lambda: at(app, SwarmsScreen), "swarms")
        table = app.screen.query_one(DataTable)
        await pilot_until(pilot, lambda: table.row_count == 2, "rows")
        table.move_cursor(row=[table.get_row_at(i)[0] for i in range(2)].index("friends"))
        table.focus()
        await pilot.press("x")
        await pilot_until(pilot, lambda: at(app, ConfirmDialog), "confirm leave")
        await pilot.press("y")
        await pilot_until(pilot, lambda: table.row_count == 1, "left")
        await pilot.press("escape")
        await pilot_until(pilot, lambda: at(app, FeedScreen) and feed_texts(app) == ["from work"], "no friends post")

    run_on_feed(fake.socket, body)


def test_join_failed_is_explained(fake: FakeNode) -> None:
    dead_invite = invite_to("gone")  # a swarm whose peers do not answer

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await pilot.press("s")
        await pilot_until(pilot, lambda: at(app, SwarmsScreen), "swarms")
        app.screen.query_one("#join-invite", Input).value = dead_invite
        await pilot.click("#btn-join")
        status = app.screen.query_one("#swarms-status", Static)
        await pilot_until(pilot, lambda: "nobody answered" in str(status.render()), "join_failed")
        assert "gone" not in [s.name for s in await feed.node.swarms()], "nothing kept"

    run_on_feed(fake.socket, body)


def test_peers_help_and_command_palette(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await pilot.press("i")
        await pilot_until(pilot, lambda: at(app, PeersScreen), "peers")
        status = app.screen.query_one("#node-status", Static)
        await pilot_until(pilot, lambda: "loading" not in str(status.render()), "the status")
        shown = _plain(status.content)
        assert "sync friends" in shown and "ok / 0 failed" in shown  # sync progress per swarm
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot_until(pilot, lambda: at(app, HelpScreen), "help")
        await pilot.press("escape")
        await pilot_until(pilot, lambda: at(app, FeedScreen), "feed")
        # The command palette lists our actions and runs them.
        await pilot.press("ctrl+p")
        await pilot.press(*"search posts")
        await pilot_until(pilot, lambda: hit_shown(app, "Search posts"), "the palette's hit")
        await pilot.press("enter")
        await pilot_until(pilot, lambda: at(app, SearchScreen), "search from the palette")

    run_on_feed(fake.socket, body, LARGE)


def hit_shown(app: App[Any], name: str) -> bool:
    """The command palette highlights its hit called ``name``."""
    hits = app.screen.query_one(CommandList)
    if hits.highlighted is None:
        return False
    prompt = hits.get_option_at_index(hits.highlighted).prompt  # the hit's name, then its help on a line below
    return str(prompt).splitlines()[0] == name


def test_unreachable_node_shows_retry(tmp_path: Path) -> None:
    async def main() -> None:
        app = P2PApp(tmp_path / "control.sock")
        async with app.run_test(size=SMALL) as pilot:
            status = app.screen.query_one("#boot-status", Static)
            await pilot_until(pilot, lambda: "cannot reach the node" in str(status.render()), "the error")

    run(main)


# -- drafts ------------------------------------------------------------------------------


async def keys_to(pilot: Pilot[Any], screen_type: type[Any], *keys: str) -> Any:
    """Press ``keys``, then wait for a screen of ``screen_type``; returns it."""
    await pilot.press(*keys)
    await pilot_until(pilot, lambda: at(pilot.app, screen_type), screen_type.__name__)
    return pilot.app.screen


def test_a_draft_is_kept_when_the_composer_closes_and_quitting_asks_first(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        compose = await keys_to(pilot, ComposeScreen, "c")
        await pilot.press(*"a thought for later")
        compose.query_one("#compose-bg", Select).value = "teal"
        await keys_to(pilot, FeedScreen, "escape")
        compose = await keys_to(pilot, ComposeScreen, "c")
        assert compose.query_one(TextArea).text == "a thought for later"
        assert compose.query_one("#compose-bg", Select).value == "teal"
        # Quitting from inside the composer (ctrl+q) asks first; esc goes back to writing.
        asked = await keys_to(pilot, ConfirmDialog, "ctrl+q")
        assert "a post" in str(asked.query_one(".dialog-title", Label).render())
        await keys_to(pilot, ComposeScreen, "escape")
        # So does q on the feed.
        await keys_to(pilot, FeedScreen, "escape")
        await keys_to(pilot, ConfirmDialog, "q")
        await keys_to(pilot, FeedScreen, "escape")
        # Discard throws it away for good: now q quits at once.
        await keys_to(pilot, ComposeScreen, "c")
        await pilot.click("#compose-discard")
        await pilot_until(pilot, lambda: at(app, FeedScreen), "the feed")
        assert (await keys_to(pilot, ComposeScreen, "c")).query_one(TextArea).text == ""
        await keys_to(pilot, FeedScreen, "escape")
        await pilot.press("q")
        await pilot_until(pilot, lambda: not app.is_running, "quit without a question")

    run_on_feed(fake.socket, body)


def test_a_reply_left_unsent_waits_in_its_thread(fake: FakeNode) -> None:
    post = fake.call("post", text="a post to answer")

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await pilot_until(pilot, lambda: feed.shown, "the post")
        await pilot.press("enter")
        await pilot_until(pilot, lambda: at(app, ThreadScreen) and app.screen.query("#root"), "the thread")
        await pilot.press("r", *"not finished")
        await pilot.press("escape")
        await pilot_until(pilot, lambda: at(app, FeedScreen), "the feed")
        await pilot.press("enter")
        await pilot_until(pilot, lambda: at(app, ThreadScreen) and app.screen.query("#root"), "the thread again")
        reply_box = app.screen.query_one("#reply-input", Input)
        await pilot_until(pilot, lambda: reply_box.value == "not finished", "the unsent reply back")
        await pilot.press("ctrl+q")
        await pilot_until(pilot, lambda: at(app, ConfirmDialog), "asked before quitting")
        assert "a reply" in str(app.screen.query_one(".dialog-title", Label).render())
        await pilot.press("escape")
        reply_box.focus()
        await pilot.press("enter")
        await pilot_until(pilot, lambda: app.screen.query(ReplyRow), "the reply sent")
        await pilot.press("ctrl+q")
        await pilot_until(pilot, lambda: not app.is_running, "nothing unsent: quit at once")

    run_on_feed(fake.socket, body)
    assert fake.call("thread", id=post["id"])["replies"][0]["text"] == "not finished"


# -- the node going away, and events missed ------------------------------------------------


class Answer(Static):
    """Where a worker writes what the node answered; says when it is taken off the screen."""

    def __init__(self, removed: asyncio.Event) -> None:
        super().__init__("")
        self.removed = removed

    def on_unmount(self) -> None:
        self.removed.set()


class AsksTheNode(Screen[None]):
    """A screen whose worker waits for an answer, then shows it (as the feed's unread badge does)."""

    def __init__(self, answered: asyncio.Event, held: bool = False) -> None:
        super().__init__()
        self.answered = answered
        self.removed = asyncio.Event()
        self.held = held  # the worker keeps the widget rather than looking it up
        self.answer = Answer(self.removed)

    def compose(self) -> Iterator[Static]:
        yield self.answer

    @work
    async def show_answer(self) -> None:
        answer = self.answer if self.held else None
        self.answer.loading = True  # as the feed's list shows while a page is asked for
        await self.answered.wait()
        answer = answer or self.query_one(Answer)
        answer.loading = False
        answer.update("3 unread")


def run_asking(
    socket: Path, body: Callable[[Pilot[Any], P2PApp, AsksTheNode], Awaitable[None]], held: bool = False
) -> None:
    """Open the app on the feed, push an :class:`AsksTheNode` over it and run ``body``."""

    async def main() -> None:
        app = P2PApp(socket)
        async with app.run_test(size=SMALL) as pilot:
            await open_feed(pilot, app)
            screen = AsksTheNode(answered=asyncio.Event(), held=held)
            await app.push_screen(screen)
            await body(pilot, app, screen)

    run(main)


@pytest.mark.parametrize(("held", "raised"), [(False, NoMatches), (True, NoScreen)])
def test_an_answer_that_comes_as_its_screen_closes_is_dropped(
    fake: FakeNode, held: bool, raised: type[Exception]
) -> None:
    async def body(pilot: Pilot[Any], app: P2PApp, screen: AsksTheNode) -> None:
        screen.answered = screen.removed  # the answer arrives once its widgets are gone, the screen still closing
        worker = screen.show_answer()
        app.pop_screen()
        await pilot_until(pilot, lambda: worker.is_finished, "the worker ended")
        assert worker.state is WorkerState.ERROR and isinstance(worker.error, raised), worker.error
        await pilot_until(pilot, lambda: at(app, FeedScreen), "back on the feed, the app running")
        await pilot.press("c")
        await pilot_until(pilot, lambda: at(app, ComposeScreen), "keys still work")

    run_asking(fake.socket, body, held)


def test_a_widget_missing_from_an_open_screen_still_ends_the_app(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], app: P2PApp, screen: AsksTheNode) -> None:
        screen.show_answer()
        await pilot.pause()
        await screen.query_one(Answer).remove()  # a bug: the screen lost the widget while open
        screen.answered.set()
        await pilot_until(pilot, lambda: app._exception is not None, "the failure reported")

    with pytest.raises(WorkerFailed, match="NoMatches"):
        run_asking(fake.socket, body)


def test_the_tui_starts_again_the_node_it_started_and_keeps_the_draft() -> None:
    model = Model(seed=protocol.new_seed(), swarms={"friends": os.urandom(32)})
    nodes: list[FakeNode] = []
    with fake_node(model) as first:
        home = first.socket.parent

        def start() -> None:  # what ensure_node does for the TUI: a node for the same home, answering
            nodes.append(FakeNode(home, model).start())

        async def main() -> None:
            app = P2PApp(first.socket, started_node=True, start=start)
            async with app.run_test(size=SMALL) as pilot:
                await open_feed(pilot, app)
                await pilot.press("c")
                await pilot_until(pilot, lambda: at(app, ComposeScreen), "the composer")
                compose = app.screen
                await pilot.press(*"half a thought")
                first.stop()  # the node dies: no word from it
                await pilot_until(pilot, lambda: "reconnecting" in app.title, "the app says it lost the node")
                await pilot_until(pilot, lambda: nodes and app.title == "p2pnet", "a node started again, connected")
                assert app.screen is compose and compose.query_one(TextArea).text == "half a thought"
                await pilot.press("ctrl+s")
                await pilot_until(pilot, lambda: at(app, FeedScreen), "sent")
                await pilot_until(pilot, lambda: feed_texts(app) == ["half a thought"], "the post, read again")
                # A node that says it stops on purpose (p2pnet stop) is left stopped.
                nodes[0].stop(asked=True)
                await pilot_until(pilot, lambda: "stopped" in app.title, "the app says the node stopped")
                await pilot_until(pilot, lambda: "(try 3)" in app.title, "three tries to reach it")
                assert len(nodes) == 1, "not started again"
                # Started by hand, it is found again.
                nodes.append(FakeNode(home, model).start())
                await pilot_until(pilot, lambda: app.title == "p2pnet", "connected to the node started by hand")

        try:
            run(main)
        finally:
            for node in nodes[1:]:
                node.stop()
    assert [p.signed.obj.text for p in model.objects.values()] == ["half a thought"]


def test_a_node_that_was_locked_again_asks_for_the_passphrase_on_reconnect() -> None:
    model = Model(seed=protocol.new_seed(), passphrase="sesame", swarms={"friends": os.urandom(32)})
    model.identity_unlock(api.IdentityUnlock(passphrase="sesame"))
    with fake_node(model) as first:
        home = first.socket.parent
        again: list[FakeNode] = []

        async def main() -> None:
            app = P2PApp(first.socket)
            async with app.run_test(size=SMALL) as pilot:
                await open_feed(pilot, app)
                first.stop()
                await pilot_until(pilot, lambda: "reconnecting" in app.title, "lost")
                locked = Model(seed=model.seed, passphrase="sesame", swarms=model.swarms)  # a restart: locked
                again.append(FakeNode(home, locked).start())
                await pilot_until(pilot, lambda: at(app, UnlockScreen), "the passphrase asked for")
                await pilot.press(*"sesame", "enter")
                await pilot_until(pilot, lambda: at(app, FeedScreen), "back on the feed")

        try:
            run(main)
        finally:
            for node in again:
                node.stop()


def test_missed_events_make_the_screens_read_again(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        model = fake.model

        def arrive_unheard() -> None:
            publish, model.publish = model.publish, lambda event: None
            try:
                unheard = protocol.make_post(protocol.new_seed(), "said while we lagged", now=int(time.time()))
                model.arrive(unheard, "friends")
            finally:
                model.publish = publish
            model.publish(api.Lagged(missed=1))

        fake.run(arrive_unheard)
        await pilot_until(pilot, lambda: feed_texts(app) == ["said while we lagged"], "the feed read again")

    run_on_feed(fake.socket, body)


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


def fixed_objects() -> list[protocol.Signed]:
    """The snapshots' posts (someone else's), two replies to the first (one by us, one by its author), three hearts."""
    other = bytes(range(1, 33))
    posts = [
        protocol.make_post(other, text, now=FIXED_NOW - ago, bg=bg, name=name, nonce=bytes([i]) * 16)
        for i, (text, bg, name, ago) in enumerate(FIXED_POSTS)
    ]
    replies = [
        protocol.make_reply(seed, posts[0], text, now=FIXED_NOW - 60, nonce=bytes([100 + j]) * 16)
        for j, (seed, text) in enumerate(
            [(FIXED_SEED, "Every single day. I win all of them."), (other, "Same. I even rehearse the small talk.")]
        )
    ]
    hearts = [protocol.make_heart(bytes([k + 7]) * 32, posts[1].id, now=FIXED_NOW - 60) for k in range(3)]
    return [*posts, *replies, *hearts]


def fixed_model(clock: Callable[[], float] = lambda: FIXED_NOW) -> Model:
    """A fake node with the fixed identity, the swarm 'friends' and the fixed objects, come from peers."""
    model = Model(seed=FIXED_SEED, clock=clock, swarms={"friends": bytes(32)})
    for signed in fixed_objects():
        model.arrive(signed, "friends")
    return model


def build_fixed_home(home: Path) -> None:
    """The same for a real daemon: a home with the fixed identity, the swarm and the objects in its store."""
    from p2pnet.api import Home
    from p2pnet.store import Store

    h = Home(home)
    h.create()
    h.write_private(h.identity, protocol.encode_identity_file(FIXED_SEED, None))
    store = Store.open(h.database)
    try:
        swarm = store.add_swarm("friends", bytes(32), 0, FIXED_NOW)
        for signed in fixed_objects():
            store.ingest(signed, swarm.raw_id, FIXED_NOW)
    finally:
        store.close()


@pytest.fixture(scope="module")
def fixed_node() -> Iterator[FakeNode]:
    with fake_node(fixed_model()) as node:
        yield node


def fixed_app(node: FakeNode) -> P2PApp:
    return P2PApp(node.socket, clock=lambda: FIXED_NOW)


async def feed_ready(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, P2PApp)
    await pilot_until(
        pilot,
        lambda: at(app, FeedScreen) and len(app.screen.shown) == len(FIXED_POSTS),
        "the fixed feed",
    )
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
def test_snapshot_feed(fixed_node: FakeNode, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(fixed_app(fixed_node), terminal_size=size, run_before=feed_ready)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
def test_snapshot_thread(fixed_node: FakeNode, snap_compare: Any, size: tuple[int, int]) -> None:
    async def open_thread(pilot: Pilot[Any]) -> None:
        await feed_ready(pilot)
        await pilot.press("enter")
        await pilot_until(pilot, lambda: at(pilot.app, ThreadScreen) and pilot.app.screen.query(ReplyRow), "the thread")
        await pilot.pause(0.3)

    assert snap_compare(fixed_app(fixed_node), terminal_size=size, run_before=open_thread)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
def test_snapshot_compose(fixed_node: FakeNode, snap_compare: Any, size: tuple[int, int]) -> None:
    async def open_compose(pilot: Pilot[Any]) -> None:
        await feed_ready(pilot)
        await pilot.press("c")
        await pilot_until(pilot, lambda: at(pilot.app, ComposeScreen), "the composer")
        pilot.app.screen.query_one(TextArea).text = "A thought in ocean blue."
        pilot.app.screen.query_one("#compose-bg", Select).value = "ocean"
        pilot.app.screen.query_one(TextArea).cursor_blink = False
        await pilot.pause(0.3)

    assert snap_compare(fixed_app(fixed_node), terminal_size=size, run_before=open_compose)


def test_snapshot_search(fixed_node: FakeNode, snap_compare: Any) -> None:
    async def search(pilot: Pilot[Any]) -> None:
        await feed_ready(pilot)
        await pilot.press("slash")
        await pilot_until(pilot, lambda: at(pilot.app, SearchScreen), "search")
        pilot.app.screen.query_one(Input).cursor_blink = False
        await pilot.press(*"rehearse", "enter")
        await pilot_until(pilot, lambda: len(pilot.app.screen.query(SearchResult)) == 2, "results")
        await pilot.pause(0.3)

    assert snap_compare(fixed_app(fixed_node), terminal_size=SMALL, run_before=search)


def test_snapshot_help(fixed_node: FakeNode, snap_compare: Any) -> None:
    async def help_screen(pilot: Pilot[Any]) -> None:
        await feed_ready(pilot)
        await pilot.press("question_mark")
        await pilot_until(pilot, lambda: at(pilot.app, HelpScreen), "help")
        await pilot.pause(0.3)

    assert snap_compare(fixed_app(fixed_node), terminal_size=SMALL, run_before=help_screen)


@pytest.mark.integration
def test_the_fake_node_answers_the_fixed_data_as_a_daemon_does(base: Path) -> None:
    """What lets the snapshots run on the fake: for the same objects, a real daemon gives the same answers."""
    daemon = DaemonProcess(base / "f", "127.0.0.70")
    build_fixed_home(daemon.home)
    daemon.start()
    try:
        with fake_node(fixed_model(clock=time.time)) as fake:  # the daemon's clock is the real one
            root = fixed_objects()[0].id.hex()
            asks: list[tuple[str, dict[str, Any]]] = [
                ("feed", {}),
                ("feed", {"popular": True}),
                ("feed", {"swarm": "friends", "limit": 2}),
                ("thread", {"id": root}),
                ("thread", {"id": root[:8]}),
                ("search", {"query": "rehearse"}),
                ("search", {"query": "the"}),
                ("search", {"query": "th"}),
                ("search", {"query": "rehears conv*"}),
                ("search", {"query": "I"}),
            ]
            for method, params in asks:
                assert fake.call(method, **params) == daemon.call(method, **params), (method, params)
            assert [p["text"] for p in fake.call("feed")["posts"]] == [p[0] for p in FIXED_POSTS]
    finally:
        daemon.stop()


def write_feed_screenshot(path: Path, size: tuple[int, int] = (100, 30)) -> None:
    """docs/screenshot-feed.svg: the feed of the snapshots' fixed data.

    python -m tests.test_tui docs/screenshot-feed.svg
    """
    svg: list[str] = []

    async def main() -> None:
        with fake_node(fixed_model()) as node:
            app = fixed_app(node)
            async with app.run_test(size=size) as pilot:
                await feed_ready(pilot)
                svg.append(app.export_screenshot(title="p2pnet"))

    run(main)
    path.write_text(svg[0])


if __name__ == "__main__":
    write_feed_screenshot(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshot-feed.svg"))
