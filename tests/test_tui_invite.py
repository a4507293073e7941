"""The invite dialog and the join field, driven with Pilot against the fake node.

A key copied from the dialog must arrive whole in a friend's join field, the
copy must say honestly where it went, the QR code must fit a 120x40 terminal
(and scroll on a small one), and the address invites name can be set here.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import protocol
from tests.harness.fakenode import FakeNode, Model, fake_node, invite_to
from tests.harness.polling import pilot_until
from tests.test_tui import LARGE, SMALL, at, hit_shown, run_on_feed

pytest.importorskip("textual")

from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from tui.clipboard import copy_text
from tui.screens import AnnounceDialog, FeedList, FeedScreen, InviteScreen, SwarmsScreen
from tui.widgets import QRCode


async def open_swarms(pilot: Pilot[Any]) -> SwarmsScreen:
    await pilot.press("s")
    await pilot_until(pilot, lambda: at(pilot.app, SwarmsScreen), "swarms")
    screen = pilot.app.screen
    assert isinstance(screen, SwarmsScreen)
    return screen


async def open_invite(pilot: Pilot[Any]) -> InviteScreen:
    """From the feed: the swarms screen, then the invite of its first swarm."""
    app = pilot.app
    table = (await open_swarms(pilot)).query_one(DataTable)
    await pilot_until(pilot, lambda: table.row_count >= 1, "the swarm listed")
    table.focus()
    await pilot.press("i")
    await pilot_until(pilot, lambda: at(app, InviteScreen), "the invite")
    screen = app.screen
    assert isinstance(screen, InviteScreen)
    await pilot.pause()
    return screen


def shown_whole(screen: Any, widget: Any) -> bool:
    """``widget`` lies entirely inside the screen, nothing of it cut off."""
    region = widget.region
    return region.height > 0 and region.y >= 0 and region.bottom <= screen.size.height


def notices(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


# -- pasting a key --------------------------------------------------------------------------------


def as_selected_on_screen(invite: str) -> str:
    """The key as a mouse selection across the dialog gives it: in lines, with the frame and QR beside it."""
    lines = [invite[i : i + 50] for i in range(0, len(invite), 50)]
    return "\n".join(f"│ {line}   ▀▄█ █▀ │" for line in lines)


def test_a_key_pasted_in_several_lines_joins_whole() -> None:
    club = os.urandom(32)
    invite = invite_to("club", club)
    with fake_node(Model(seed=protocol.new_seed(), out_there={club})) as newcomer:
        newcomer.call("swarm.create", name="home")  # else the app opens on the first-run welcome

        async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
            screen = await open_swarms(pilot)
            field = screen.query_one("#join-invite", Input)
            await pilot.click("#join-invite")
            pilot.app.post_message(events.Paste(as_selected_on_screen(invite)))  # as the terminal delivers it
            await pilot_until(pilot, lambda: field.value == invite, "the whole key in the field")
            await pilot.press("enter")
            status = screen.query_one("#swarms-status", Static)
            await pilot_until(pilot, lambda: "joined club" in str(status.render()), "joined")

        run_on_feed(newcomer.socket, body)


# -- copying a key --------------------------------------------------------------------------------


def fake_tmux(bin_dir: Path, caught: Path, clipboard_mode: str) -> None:
    """A ``tmux`` on PATH that keeps what it is given to load and answers ``set-clipboard``."""
    script = bin_dir / "tmux"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = load-buffer ]; then cat > {caught}; exit 0; fi\n'
        f'if [ "$1" = show-options ]; then echo {clipboard_mode}; exit 0; fi\n'
        "exit 1\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_copy_under_tmux_puts_the_key_in_its_paste_buffer(
    fake: FakeNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    caught = tmp_path / "buffer"
    fake_tmux(tmp_path, caught, "external")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    sent: list[str] = []

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        screen = await open_invite(pilot)
        pilot.app.copy_to_clipboard = sent.append  # type: ignore[method-assign]
        await pilot.press("c")
        await pilot_until(pilot, lambda: any("paste buffer" in n for n in notices(pilot.app)), "the copy's notice")
        assert caught.read_text() == screen.invite
        assert sent == [], "tmux drops OSC 52 from programs by default: not relied on"

    run_on_feed(fake.socket, body)


def test_copy_says_so_where_the_terminal_cannot_take_it(fake: FakeNode, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.setenv("VTE_VERSION", "7600")
    sent: list[str] = []

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        await open_invite(pilot)
        pilot.app.copy_to_clipboard = sent.append  # type: ignore[method-assign]
        await pilot.press("c")
        await pilot_until(pilot, lambda: any("could not copy" in n for n in notices(pilot.app)), "the refusal")
        assert not any("copied" in n for n in notices(pilot.app))
        assert sent == []

    run_on_feed(fake.socket, body)


def run_fails(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    raise FileNotFoundError("tmux")


def test_copy_text_by_terminal() -> None:
    sent: list[str] = []
    copied = copy_text("key", env={"TERM": "xterm-256color"}, osc52=sent.append)
    assert copied.ok and sent == ["key"] and "if nothing pastes" in copied.message
    for env in ({"STY": "1.pts"}, {"TERM": "linux"}, {"TERM_PROGRAM": "Apple_Terminal"}):
        refused = copy_text("key", env=env, osc52=sent.append)
        assert not refused.ok and "could not copy" in refused.message and "mouse" in refused.message
    assert sent == ["key"]
    lost = copy_text("key", env={"TMUX": "x"}, osc52=sent.append, run=run_fails)
    assert not lost.ok and "tmux did not take the copy" in lost.message


# -- the QR code on screen ------------------------------------------------------------------------


def test_the_key_and_its_qr_code_fit_120x40_without_scrolling(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        screen = await open_invite(pilot)
        await pilot_until(pilot, lambda: screen.query_one(QRCode).region.height > 0, "the QR code laid out")
        assert screen.query_one("#invite-scroll").max_scroll_y == 0, "nothing to scroll to"
        for part in ("#invite-key", "#invite-where", "#invite-done", "#invite-qr"):
            assert shown_whole(screen, screen.query_one(part)), part

    run_on_feed(fake.socket, body, LARGE)


def test_on_a_small_terminal_the_qr_code_is_reached_by_scrolling(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        screen = await open_invite(pilot)
        scroll = screen.query_one("#invite-scroll")
        await pilot_until(pilot, lambda: scroll.max_scroll_y > 0, "a body that scrolls")
        assert shown_whole(screen, screen.query_one("#invite-key"))
        qr = screen.query_one(QRCode)
        assert qr.region.bottom > screen.size.height, "the QR code starts below the fold"
        await pilot.press("end")
        # 27 lines of code in 24 rows: its end comes into view, above the box's frame.
        await pilot_until(pilot, lambda: qr.region.bottom <= screen.size.height - 1, "the QR code's end")

    run_on_feed(fake.socket, body, SMALL)


# -- the address friends dial ---------------------------------------------------------------------


def bootstrap_ips(invite: str) -> list[str]:
    return [a.split("/")[2] for a in protocol.decode_invite(invite, now=int(time.time())).bootstrap]


def test_the_address_invites_name_is_set_from_the_invite(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        screen = await open_invite(pilot)
        where = screen.query_one("#invite-where", Static)
        assert "192.0.2.2:4001" in str(where.render())
        await pilot.press("a")
        await pilot_until(pilot, lambda: at(app, AnnounceDialog), "the address dialog")
        now = app.screen.query_one("#announce-now", Static)
        await pilot_until(pilot, lambda: "this machine's own" in str(now.render()), "what invites name now")
        # Loopback is refused with the reason; the dialog stays.
        await pilot.press(*"127.0.0.1", "enter")
        status = app.screen.query_one("#announce-status", Static)
        await pilot_until(pilot, lambda: status.has_class("-error"), "the refusal")
        assert "cannot be reached from another machine" in str(status.render())
        app.screen.query_one(Input).value = "203.0.113.7"
        await pilot.press("enter")
        await pilot_until(pilot, lambda: app.screen is screen, "back on the invite")
        await pilot_until(pilot, lambda: bootstrap_ips(screen.invite) == ["203.0.113.7"], "the new key")
        await pilot_until(pilot, lambda: "203.0.113.7:4001" in str(where.render()), "where friends dial")
        assert str(screen.query_one("#invite-key", Static).render()).replace("\n", "") == screen.invite

    run_on_feed(fake.socket, body, LARGE)
    assert bootstrap_ips(fake.call("swarm.invite", name="friends")["invite"]) == ["203.0.113.7"]


def test_c_and_j_on_the_swarms_screen_go_to_the_create_and_join_fields(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        screen = await open_swarms(pilot)
        screen.query_one(DataTable).focus()
        await pilot.press("j")
        await pilot_until(pilot, lambda: pilot.app.focused is screen.query_one("#join-invite"), "the invite field")
        await pilot.press("escape")  # an Input lets esc through: back to the feed
        await pilot_until(pilot, lambda: at(pilot.app, FeedScreen), "the feed")
        screen = await open_swarms(pilot)
        await pilot.press("c")
        await pilot_until(pilot, lambda: pilot.app.focused is screen.query_one("#create-name"), "the name field")
        await pilot.press(*"work", "enter")
        await pilot_until(pilot, lambda: at(pilot.app, InviteScreen), "the new swarm's invite")

    run_on_feed(fake.socket, body)


def test_the_palette_creates_or_joins_a_swarm_from_anywhere(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        for command, field in (("join a swarm", "#join-invite"), ("create a swarm", "#create-name")):
            await pilot.press("ctrl+p")
            await pilot.press(*command)
            await pilot_until(pilot, lambda c=command: hit_shown(app, c.capitalize()), "the palette's hit")
            await pilot.press("enter")
            await pilot_until(pilot, lambda: at(app, SwarmsScreen), "the swarms screen")
            await pilot_until(pilot, lambda f=field: app.focused is app.screen.query_one(f), f"in {field}")
            await pilot.press("escape")
            await pilot_until(pilot, lambda: at(app, FeedScreen), "the feed")

    run_on_feed(fake.socket, body)
