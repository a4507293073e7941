"""The inbox: private conversations, the latest first, with their unread counts."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from p2pnet import api

from ..format import age
from ..messages import ScreenNodeEvent
from ..node import ControlError
from ..widgets.cards import now_of
from ._listed import ListedScreen

__all__ = ["InboxScreen", "unread_badge"]


def unread_badge(unread: int) -> str:
    """What the feed's header says of unread private messages (nothing when there are none)."""
    return f"✉ {unread} unread" if unread else ""


class InboxScreen(ListedScreen):
    """Enter opens the selected conversation; a new message moves its conversation to the top."""

    INTRO = (
        "Private messages: sealed so only the other side can open them; each of you writes from a key "
        "made for that conversation alone. P on a post or reply writes to its writer."
    )
    LIST_ID = "inbox"
    TITLE_WORDS = "private messages"
    EMPTY = "No private messages yet. P on a post writes to its writer."

    def __init__(self) -> None:
        super().__init__()
        self.conversations: list[api.ConversationInfo] = []

    def on_screen_node_event(self, message: ScreenNodeEvent) -> None:
        if isinstance(message.event, api.DmEvent):
            self.load()

    @work(exclusive=True, group="inbox")
    async def load(self) -> None:
        try:
            inbox = await self.node.inbox()
        except ControlError as exc:
            self.show_error(exc, "could not read your messages")
            return
        self.conversations = inbox.conversations
        self.sub_title = self.TITLE_WORDS + (f" · {inbox.unread} unread" if inbox.unread else "")
        now = now_of(self)
        self.show([Option(self._line(c, now), id=c.id) for c in self.conversations])

    @staticmethod
    def _line(c: api.ConversationInfo, now: float) -> Text:
        unread = Text(f"● {c.unread:<3}", style="bold #fde047") if c.unread else Text("     ")
        who = "you wrote first" if c.started else "to your post"
        return Text.assemble(
            unread,
            (c.preview or "(no message shown)", "bold" if c.unread else ""),
            (f"  · {who} · {c.messages} message{'s' * (c.messages != 1)} · {age(c.last, now)}", "dim"),
        )

    @on(OptionList.OptionSelected, "#inbox")
    def _open(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            from .conversation import ConversationScreen

            self.app.push_screen(ConversationScreen(event.option.id))
