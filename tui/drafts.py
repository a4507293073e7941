"""What the user wrote and has not sent: kept while the TUI runs, and asked about before it quits.

Leaving the composer or a thread keeps what was typed there; opening it
again brings it back; so does a private message left unsent, to the author
of a post or in a conversation.  Only a sent post, reply or message, or the user's own word,
throws a draft away.  Drafts stay in memory: an unsent confession is not
written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["Drafts", "HoldsDraft", "PostDraft"]


@runtime_checkable
class HoldsDraft(Protocol):
    """A screen where the user writes: it puts what it holds into the app's drafts before the app quits."""

    def save_draft(self) -> None: ...


@dataclass
class PostDraft:
    """The composer as the user left it."""

    text: str
    bg: str = "slate"
    name: str = ""
    expires: int = 0  # 0: never
    swarm: str | None = None


@dataclass
class Drafts:
    """The unsent post, the unsent reply of each thread (by its root's id), and unsent private messages.

    A message is kept by what it goes to: the post or reply whose author it
    is written to, or the conversation it answers in.
    """

    post: PostDraft | None = None
    replies: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)

    def keep_post(self, draft: PostDraft) -> None:
        self.post = draft if draft.text.strip() else None

    def keep_reply(self, root: str, text: str) -> None:
        if text.strip():
            self.replies[root] = text
        else:
            self.replies.pop(root, None)

    def keep_message(self, to: str, text: str) -> None:
        if text.strip():
            self.messages[to] = text
        else:
            self.messages.pop(to, None)

    def summary(self) -> str:
        """What would be lost, in words ("a post and 2 replies"); empty when nothing."""
        parts = []
        if self.post is not None:
            parts.append("a post")
        if n := len(self.replies):
            parts.append("a reply" if n == 1 else f"{n} replies")
        if n := len(self.messages):
            parts.append("a private message" if n == 1 else f"{n} private messages")
        return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)
