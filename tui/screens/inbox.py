"""The inbox: private conversations, the latest first, with their unread counts."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from p2pnet import api

from ..format import age
from ..messages import ReadAgain, ScreenNodeEvent
from ..node import ControlError
from ..widgets import AppFooter, AppHeader
from ..widgets.cards import now_of
from ._base import ItemActions

__all__ = ["InboxScreen", "unread_badge"]


def unread_badge(unread: int) -> str:
    """What the feed's header says of unread private messages (nothing when there are none)."""
    return f"✉ {unread} unread" if unread else ""


class InboxScreen(ItemActions):
    """Enter opens the selected conversation; a new message moves its conversation to the top."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("r", "refresh_now", "Refresh", show=False),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.conversations: list[api.ConversationInfo] = []

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(
            "Private messages: sealed so only the other side can open them; each of you writes from a key "
            "made for that conversation alone. P on a post or reply writes to its writer.",
            classes="dialog-detail",
        )
        yield OptionList(id="inbox")
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = "private messages"
        self.query_one(OptionList).focus()
        self.load()

    def on_screen_resume(self) -> None:
        self.load()  # a conversation read meanwhile has no unread messages any more

    def on_read_again(self, message: ReadAgain) -> None:
        self.load()

    def on_screen_node_event(self, message: ScreenNodeEvent) -> None:
        if isinstance(message.event, api.DmEvent):
            self.load()

    def action_refresh_now(self) -> None:
        self.load()

    @work(exclusive=True, group="inbox")
    async def load(self) -> None:
        try:
            inbox = await self.node.inbox()
        except ControlError as exc:
            self.show_error(exc, "could not read your messages")
            return
        self.conversations = inbox.conversations
        self.sub_title = "private messages" + (f" · {inbox.unread} unread" if inbox.unread else "")
        box = self.query_one(OptionList)
        highlighted = box.highlighted
        box.clear_options()
        now = now_of(self)
        options = [Option(self._line(c, now), id=c.id) for c in self.conversations]
        box.add_options(
            options
            or [Option(Text("No private messages yet. P on a post writes to its writer.", style="dim"), disabled=True)]
        )
        if options:
            box.highlighted = min(highlighted or 0, len(options) - 1)

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

    def action_back(self) -> None:
        self.dismiss()
