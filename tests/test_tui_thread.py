"""Replying in a thread: to the post, or to the reply selected, and the thread then says what a reply answers."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from tests.harness.fakenode import FakeNode
from tests.harness.polling import pilot_until
from tests.test_tui import LARGE, a_conversation, open_conversation, run_on_feed
from tui.screens import FeedList, FeedScreen
from tui.widgets import PostCard, ReplyRow


def test_r_on_a_reply_answers_that_reply_and_r_on_the_post_the_post(fake: FakeNode) -> None:
    root, (_, second, _, _) = a_conversation(fake)

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        await open_conversation(pilot, feed_list, root)
        box = app.screen.query_one("#reply-input", Input)
        list(app.screen.query(ReplyRow))[1].focus()  # "None yet, I am still looking."
        await pilot.press("r")
        await pilot_until(pilot, lambda: box.has_focus, "the reply box")
        assert box.placeholder.startswith("reply to ") and "None yet" in box.placeholder
        box.value = "keep looking"
        await pilot.press("enter")
        await pilot_until(pilot, lambda: len(app.screen.query(ReplyRow)) == 5, "the answer in the thread")
        answer = list(app.screen.query(ReplyRow))[-1]
        assert answer.item.text == "keep looking" and answer.to_reply
        assert answer.parent_item is not None and answer.parent_item.id == second.id.hex()
        assert box.placeholder == "write a reply — Enter sends"  # the next one answers the post again

        app.screen.query_one(PostCard).focus()
        await pilot.press("r")
        await pilot_until(pilot, lambda: box.has_focus, "the reply box")
        box.value = "to everyone"
        await pilot.press("enter")
        await pilot_until(pilot, lambda: len(app.screen.query(ReplyRow)) == 6, "the reply to the post")
        assert not list(app.screen.query(ReplyRow))[-1].to_reply

    run_on_feed(fake.socket, body, LARGE)
