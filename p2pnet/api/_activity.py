"""The contract of the activity view: what concerns me, computed by the node from what it holds, nothing sent."""

from __future__ import annotations

from typing import ClassVar

from ._contract import Limit, Request, Result

__all__ = ["Activity", "ActivityItem", "ActivityResult"]


class ActivityItem(Result):
    """A reply, a heart or a conversation with unread messages that concerns this identity."""

    kind: str  # "reply", "heart" or "message"
    id: str  # the reply, the heart, or the conversation
    root: str | None  # the thread to open; None for a message
    about: str  # your post or reply it concerns; for a message, the post or reply its conversation started from
    to_you: bool  # a reply to your post or reply itself (not only in your thread); true for hearts and messages
    text: str  # the reply's first words, the hearted post's, or the last message's
    when: int  # the reply's place, the heart's time, or the conversation's last message here
    unread: int  # a message's unread count; 0 otherwise


class ActivityResult(Result):
    items: list[ActivityItem]  # the latest first


class Activity(Request[ActivityResult]):
    method: ClassVar[str] = "activity"
    limit: Limit = 50
