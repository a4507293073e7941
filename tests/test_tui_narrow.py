"""A narrow terminal (60x20): the key bar still shows the ways around, whatever is focused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.fakenode import FakeNode, fake_node
from tests.harness.polling import pilot_until
from tests.test_tui import at, run_on_feed

pytest.importorskip("textual")

from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from tui.screens import FeedList, FeedScreen, PeersScreen, ThreadScreen
from tui.widgets.footer import AppFooter

NARROW = (60, 20)


@pytest.fixture
def fake() -> Any:
    with fake_node() as node:
        node.call("swarm.create", name="friends")
        node.call("post", text="a post to focus")
        yield node


def readable(app: Any) -> list[str]:
    """The keys a user can read in the bar: wholly on screen and covered by no other key."""
    keys = list(app.screen.query_one(AppFooter).query(FooterKey))
    width = app.screen.size.width
    return [
        k.description
        for k in keys
        if k.region.width
        and k.region.right <= width
        and not any(o is not k and o.region.overlaps(k.region) for o in keys)
    ]


def test_at_60x20_the_key_bar_keeps_swarms_peers_and_help(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await pilot_until(pilot, lambda: feed_list.items, "the post")
        # A post is focused: its heart, flag and delete join the bar.
        await pilot_until(pilot, lambda: "♥ Heart" in [k.description for k in app.screen.query(FooterKey)], "post keys")
        await pilot_until(pilot, lambda: {"Swarms", "Peers", "Help"} <= set(readable(app)), "the ways around")
        await pilot.press("enter")
        await pilot_until(pilot, lambda: at(app, ThreadScreen), "the thread")
        await pilot_until(pilot, lambda: {"Back", "Help"} <= set(readable(app)), "back and help in a thread")
        await pilot.press("escape")
        await pilot_until(pilot, lambda: at(app, FeedScreen), "the feed again")
        await pilot.press("i")
        await pilot_until(pilot, lambda: at(app, PeersScreen), "peers: the key did what the bar said")

    run_on_feed(fake.socket, body, NARROW)


def test_the_key_bar_follows_the_terminal_when_it_is_resized(fake: FakeNode) -> None:
    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await pilot_until(pilot, lambda: feed_list.items, "the post")
        await pilot_until(pilot, lambda: "palette" in readable(app), "the palette key on a wide terminal")
        await pilot.resize_terminal(*NARROW)
        await pilot_until(pilot, lambda: {"Swarms", "Peers", "Help"} <= set(readable(app)), "the ways around")
        assert "palette" not in readable(app)
        await pilot.resize_terminal(120, 40)
        await pilot_until(pilot, lambda: "palette" in readable(app), "the palette key back")

    run_on_feed(fake.socket, body, (120, 40))
