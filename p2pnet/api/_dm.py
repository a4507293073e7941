"""The contract of private messages: write to the person behind a post, read the inbox, block a conversation.

What this node opened and its conversations stay here (docs/control-api.md,
``dm``); only the sealed messages travel, and nothing on them says who
wrote them or to whom.
"""

from __future__ import annotations

from typing import ClassVar

from ._contract import Event, Request, Result

__all__ = [
    "Conversation",
    "ConversationBlock",
    "ConversationInfo",
    "ConversationResult",
    "Dm",
    "DmEvent",
    "DmLine",
    "DmSent",
    "Inbox",
    "InboxResult",
]


class DmSent(Result):
    id: str  # the sealed message's object id
    conversation: str
    published_to: int  # running swarms it goes into, once its stamp is minted


class Dm(Request[DmSent]):
    method: ClassVar[str] = "dm"
    id: str  # a post or reply (write to its author), or a conversation (answer in it)
    text: str


class ConversationInfo(Result):
    """One conversation as the inbox lists it."""

    id: str
    about: str  # the post or reply it started from
    started: bool  # this node wrote first
    answered: bool  # the first writer has heard back
    blocked: bool
    unread: int
    last: int  # when its last message was written or opened here
    messages: int
    preview: str | None  # the first words of its last message


class InboxResult(Result):
    conversations: list[ConversationInfo]
    unread: int  # unread messages in all of them


class Inbox(Request[InboxResult]):
    method: ClassVar[str] = "inbox"


class DmLine(Result):
    id: str
    mine: bool  # written here
    sent: int  # the writer's 10-minute step
    seen: int  # this node's 10-minute step when it was written or opened here
    text: str


class ConversationResult(Result):
    conversation: ConversationInfo
    messages: list[DmLine]


class Conversation(Request[ConversationResult]):
    method: ClassVar[str] = "conversation"
    id: str  # the conversation's id or a unique prefix


class ConversationBlock(Request[ConversationInfo]):
    method: ClassVar[str] = "conversation.block"
    id: str
    blocked: bool = True  # false unblocks


class DmEvent(Event):
    """A private message to this node was opened; ``conversation`` is where it shows."""

    event: ClassVar[str] = "dm"
    conversation: str
