"""Private messages in the TUI, driven with Pilot against the fake node (tests/harness/fakedm.py).

A stranger is a second in-memory model with an identity of its own: what it
writes is sealed for real and carried into the fake node as gossip would
carry it (:meth:`Mail.carry`), so the TUI sees the ``dm`` event and the
inbox the node would give it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Label, OptionList, Static, TextArea

import protocol
from p2pnet import api
from tests.harness.fakedm import Mail
from tests.harness.fakenode import FakeNode, Model, fake_node
from tests.harness.polling import pilot_until
from tests.test_tui import LARGE, at, hit_shown, keys_to, run_on_feed
from tui.screens import (
    ActivityScreen,
    ConfirmDialog,
    ConversationScreen,
    FeedList,
    FeedScreen,
    InboxScreen,
    MessageScreen,
    ThreadScreen,
)
from tui.widgets import ReplyRow

SWARM = "friends"


NOW = 1_800_000_000


class Clock:
    """The fake node's time, moved on by the test: the inbox orders conversations by it."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeNode]:
    with fake_node(Model(seed=protocol.new_seed(), clock=clock)) as node:
        node.call("swarm.create", name=SWARM)
        yield node


@pytest.fixture
def stranger(fake: FakeNode) -> Model:
    """Someone else in the swarm, with an identity of their own."""
    model = Model(seed=protocol.new_seed())
    model.swarms[SWARM] = b"s" * 32
    return model


def to_me(fake: FakeNode, other: Model) -> None:
    """What ``other`` holds reaches the fake node."""
    fake.run(Mail.carry, other, fake.model, SWARM)


def to_them(fake: FakeNode, other: Model) -> None:
    fake.run(Mail.carry, fake.model, other, SWARM)


def plain(widget: Static) -> str:
    return str(widget.render())


def lines_of(screen: ConversationScreen) -> list[tuple[bool, str]]:
    return [(line.mine, line.text) for line in screen.lines]


def test_message_the_writer_of_a_card_and_their_answer_shows_live(fake: FakeNode, stranger: Model) -> None:
    post = stranger.dispatch("post", {"text": "lost a blue scarf near the station"})
    assert isinstance(post, api.Published)
    to_me(fake, stranger)

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        feed_list.select(feed_list.index[post.id])
        writing = await keys_to(pilot, MessageScreen, "P")
        await pilot_until(pilot, lambda: "blue scarf" in plain(writing.query_one("#dm-about", Static)), "its post")
        await pilot.press(*"I think I saw it")
        talk = await keys_to(pilot, ConversationScreen, "ctrl+s")
        await pilot_until(pilot, lambda: lines_of(talk) == [(True, "I think I saw it")], "my message")
        assert "You wrote first" in plain(talk.query_one("#conversation-about", Static))
        # The stranger opens it and answers; the answer shows here without a key pressed.
        to_them(fake, stranger)
        inbox = stranger.dispatch("inbox", {})
        assert isinstance(inbox, api.InboxResult) and inbox.unread == 1
        stranger.dispatch("dm", {"id": inbox.conversations[0].id, "text": "oh! where?"})
        to_me(fake, stranger)
        await pilot_until(pilot, lambda: (False, "oh! where?") in lines_of(talk), "the answer, live")
        assert len(talk.query(".dm-line")) == 2
        # Read here, so nothing is unread: the feed's badge stays empty.
        await keys_to(pilot, FeedScreen, "escape")
        await pilot_until(pilot, lambda: feed.unread == 0, "no unread badge")
        assert app.drafts.summary() == ""

    run_on_feed(fake.socket, body, LARGE)


def test_a_message_to_my_post_lights_the_badge_and_the_inbox_and_reading_clears_them(
    fake: FakeNode, stranger: Model, clock: Clock
) -> None:
    mine = fake.call("post", text="who wants to start a book club?")
    to_them(fake, stranger)

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        badge = feed.query_one("#inbox-badge", Static)
        assert plain(badge) == ""
        stranger.dispatch("dm", {"id": mine["id"], "text": "me, quietly"})
        to_me(fake, stranger)
        await pilot_until(pilot, lambda: plain(badge) == "✉ 1 unread", "the unread badge, live")
        inbox = await keys_to(pilot, InboxScreen, "I")
        await pilot_until(pilot, lambda: len(inbox.conversations) == 1, "the conversation listed")
        [listed] = inbox.conversations
        assert (listed.unread, listed.preview, listed.started) == (1, "me, quietly", False)
        assert "● 1" in str(inbox.query_one(OptionList).get_option_at_index(0).prompt)
        # A second conversation, newer, comes first.
        other = Model(seed=protocol.new_seed())
        other.swarms[SWARM] = b"s" * 32
        to_them(fake, other)
        other.dispatch("dm", {"id": mine["id"], "text": "count me in"})
        clock.now += 60
        to_me(fake, other)
        await pilot_until(pilot, lambda: len(inbox.conversations) == 2, "the new conversation, live")
        assert inbox.conversations[0].preview == "count me in"
        inbox.query_one(OptionList).highlighted = 1
        talk = await keys_to(pilot, ConversationScreen, "enter")
        await pilot_until(pilot, lambda: lines_of(talk) == [(False, "me, quietly")], "the message")
        about = talk.query_one("#conversation-about", Static)
        await pilot_until(pilot, lambda: "book club" in plain(about), "the post it started from")
        assert "Written to your post" in plain(about)
        await keys_to(pilot, InboxScreen, "escape")
        await pilot_until(pilot, lambda: [c.unread for c in inbox.conversations] == [1, 0], "read, so not unread")
        await keys_to(pilot, FeedScreen, "escape")
        await pilot_until(pilot, lambda: plain(badge) == "✉ 1 unread", "the badge counts what is left")
        # The palette knows the inbox too.
        await pilot.press("ctrl+p", *"private messages")
        await pilot_until(pilot, lambda: hit_shown(app, "Private messages"), "the palette's hit")
        await keys_to(pilot, InboxScreen, "enter")

    run_on_feed(fake.socket, body, LARGE)


def test_block_asks_first_then_writing_says_it_is_blocked_and_unblock_lets_it_through(
    fake: FakeNode, stranger: Model
) -> None:
    mine = fake.call("post", text="selling a bike")
    to_them(fake, stranger)
    stranger.dispatch("dm", {"id": mine["id"], "text": "is it still for sale?"})
    to_me(fake, stranger)
    [conversation] = fake.call("inbox")["conversations"]

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        inbox = await keys_to(pilot, InboxScreen, "I")
        await pilot_until(pilot, lambda: len(inbox.conversations) == 1, "the conversation listed")
        talk = await keys_to(pilot, ConversationScreen, "enter")
        await pilot_until(pilot, lambda: talk.info is not None, "the conversation")
        asked = await keys_to(pilot, ConfirmDialog, "ctrl+b")
        assert "Block" in str(asked.query_one(".dialog-title", Label).render())
        said = plain(asked.query_one(".dialog-detail", Static))
        assert "they cannot tell" in said and f"unblock {conversation['id'][:12]}" in said  # the way back, later
        await keys_to(pilot, ConversationScreen, "escape")  # changed my mind
        assert fake.call("inbox")["conversations"][0]["blocked"] is False
        await keys_to(pilot, ConfirmDialog, "ctrl+b")
        await keys_to(pilot, ConversationScreen, "y")
        await pilot_until(pilot, lambda: talk.info is not None and talk.info.blocked, "blocked")
        assert "blocked" in talk.sub_title
        assert fake.call("inbox")["conversations"] == []  # nothing from it is shown
        await pilot.press(*"yes it is")
        await pilot.press("ctrl+s")
        status = talk.query_one("#conversation-status", Static)
        await pilot_until(pilot, lambda: "you blocked this conversation" in plain(status), "the node's refusal")
        assert talk.query_one(TextArea).text == "yes it is"  # nothing lost
        await pilot.press("ctrl+b")  # unblocking needs no question
        await pilot_until(pilot, lambda: talk.info is not None and not talk.info.blocked, "unblocked")
        await pilot.press("ctrl+s")
        await pilot_until(pilot, lambda: (True, "yes it is") in lines_of(talk), "sent")
        assert talk.query_one(TextArea).text == ""
        assert fake.call("conversation", id=conversation["id"])["conversation"]["messages"] == 2
        assert isinstance(app.screen, ConversationScreen)

    run_on_feed(fake.socket, body, LARGE)


def test_message_a_reply_s_writer_from_a_thread_keeps_the_draft_and_refuses_my_own(
    fake: FakeNode, stranger: Model
) -> None:
    mine = fake.call("post", text="best noodles in town?")
    to_them(fake, stranger)
    reply = stranger.dispatch("reply", {"id": mine["id"], "text": "the place behind the library"})
    assert isinstance(reply, api.Published)
    to_me(fake, stranger)

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        feed_list.select(feed_list.index[mine["id"]])
        thread = await keys_to(pilot, ThreadScreen, "enter")
        await pilot_until(pilot, lambda: len(thread.query(ReplyRow)) == 1, "the reply")
        await pilot.press("P")  # on my own post: nothing to write to
        await pilot.pause()
        assert at(app, ThreadScreen)
        thread.query_one(ReplyRow).focus()
        writing = await keys_to(pilot, MessageScreen, "P")
        assert writing.to == reply.id
        await pilot.press(*"which library?")
        await keys_to(pilot, ThreadScreen, "escape")
        assert app.drafts.messages == {reply.id: "which library?"}
        writing = await keys_to(pilot, MessageScreen, "P")
        assert writing.query_one(TextArea).text == "which library?"
        asked = await keys_to(pilot, ConfirmDialog, "ctrl+q")
        assert "a private message" in str(asked.query_one(".dialog-title", Label).render())
        await keys_to(pilot, MessageScreen, "escape")
        await keys_to(pilot, ConversationScreen, "ctrl+s")
        assert app.drafts.messages == {}
        to_them(fake, stranger)
        [theirs] = stranger.dispatch("inbox", {}).conversations  # type: ignore[attr-defined]
        assert (theirs.about, theirs.preview) == (reply.id, "which library?")

    run_on_feed(fake.socket, body, LARGE)


def test_activity_lists_replies_hearts_and_unread_messages_live_and_opens_them(fake: FakeNode, stranger: Model) -> None:
    mine = fake.call("post", text="anyone know a good bakery?")
    to_them(fake, stranger)
    reply = stranger.dispatch("reply", {"id": mine["id"], "text": "the one on Elm street"})
    heart = stranger.dispatch("heart", {"id": mine["id"]})
    sent = stranger.dispatch("dm", {"id": mine["id"], "text": "I bake, actually"})
    assert isinstance(reply, api.Published) and isinstance(heart, api.Published) and isinstance(sent, api.DmSent)
    to_me(fake, stranger)

    async def body(pilot: Pilot[Any], feed: FeedScreen, feed_list: FeedList) -> None:
        app = pilot.app
        activity = await keys_to(pilot, ActivityScreen, "A")
        await pilot_until(pilot, lambda: len(activity.items) == 3, "the reply, the heart and the message")
        assert {(i.kind, i.id) for i in activity.items} == {
            ("reply", reply.id),
            ("heart", heart.id),
            ("message", sent.conversation),
        }
        # A new reply shows without a key pressed.
        more = stranger.dispatch("reply", {"id": reply.id, "text": "or the market on Sundays"})
        assert isinstance(more, api.Published)
        to_me(fake, stranger)
        await pilot_until(pilot, lambda: len(activity.items) == 4, "the new reply, live")
        kinds = [i.kind for i in activity.items]
        box = activity.query_one(OptionList)
        box.highlighted = kinds.index("message")
        talk = await keys_to(pilot, ConversationScreen, "enter")
        await pilot_until(pilot, lambda: lines_of(talk) == [(False, "I bake, actually")], "the message")
        await keys_to(pilot, ActivityScreen, "escape")
        await pilot_until(pilot, lambda: "message" not in [i.kind for i in activity.items], "read, so gone")
        box.highlighted = next(n for n, i in enumerate(activity.items) if i.id == more.id)
        thread = await keys_to(pilot, ThreadScreen, "enter")
        await pilot_until(pilot, lambda: getattr(app.focused, "post_id", None) == more.id, "the reply selected")
        assert thread.root_id == mine["id"]

    run_on_feed(fake.socket, body, LARGE)
