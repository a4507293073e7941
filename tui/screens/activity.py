"""What concerns me: replies to my posts and in my threads, hearts on my posts, unread private messages.

The node computes it from what it already holds (docs/control-api.md,
``activity``); nothing is sent to anyone to make this list.
"""

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

__all__ = ["ActivityScreen"]

_MARKS = {"reply": ("↩", "#7dd3fc"), "heart": ("♥", "#f472b6"), "message": ("✉", "#fde047")}


class ActivityScreen(ListedScreen):
    """Enter opens the thread of a reply or heart (the reply selected), or the conversation of a message."""

    INTRO = (
        "Replies to you and in your threads, hearts on your posts, unread private messages: "
        "worked out by your node from what it holds, nothing asked or sent."
    )
    LIST_ID = "activity"
    TITLE_WORDS = "activity"
    EMPTY = "Nothing concerns you yet."

    def __init__(self) -> None:
        super().__init__()
        self.items: list[api.ActivityItem] = []

    def on_screen_node_event(self, message: ScreenNodeEvent) -> None:
        event = message.event
        if isinstance(event, api.DmEvent) or (isinstance(event, api.ObjectEvent) and event.kind in ("reply", "heart")):
            self.load()

    @work(exclusive=True, group="activity")
    async def load(self) -> None:
        try:
            self.items = (await self.node.activity()).items
        except ControlError as exc:
            self.show_error(exc, "could not read your activity")
            return
        now = now_of(self)
        self.show([Option(self._line(item, now)) for item in self.items])

    @staticmethod
    def _line(item: api.ActivityItem, now: float) -> Text:
        mark, colour = _MARKS.get(item.kind, ("·", "white"))
        if item.kind == "message":
            said = f"{item.unread} unread private message{'s' * (item.unread != 1)}: "
        elif item.kind == "heart":
            said = "a heart on yours: "
        else:
            said = "a reply to you: " if item.to_you else "a reply in your thread: "
        return Text.assemble(
            (f"{mark} ", f"bold {colour}"), (said, "dim"), item.text, (f"  · {age(item.when, now)}", "dim")
        )

    @on(OptionList.OptionSelected, "#activity")
    def _open(self, event: OptionList.OptionSelected) -> None:
        if event.option_index >= len(self.items):
            return
        item = self.items[event.option_index]
        if item.kind == "message":
            from .conversation import ConversationScreen

            self.app.push_screen(ConversationScreen(item.id))
        else:
            from .thread import ThreadScreen

            self.app.push_screen(ThreadScreen(item.id if item.kind == "reply" else item.about))
