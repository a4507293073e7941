"""A screen that lists what the node says (the inbox, the activity): read again on return, on events, on r."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..messages import ReadAgain
from ..widgets import AppFooter, AppHeader
from ._base import ItemActions

__all__ = ["ListedScreen"]


class ListedScreen(ItemActions):
    """One intro line and one list; subclasses say what the list shows (:meth:`load`) and when to read it again."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("r", "refresh_now", "Refresh", show=False),
        Binding("question_mark", "app.help", "Help"),
    ]
    INTRO = ""
    LIST_ID = "listed"
    TITLE_WORDS = ""
    EMPTY = ""

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(self.INTRO, classes="dialog-detail")
        yield OptionList(id=self.LIST_ID)
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = self.TITLE_WORDS
        self.query_one(OptionList).focus()
        self.load()

    def load(self) -> Any:
        """Read the list from the node and :meth:`show` it (a worker)."""
        raise NotImplementedError

    def on_screen_resume(self) -> None:
        self.load()  # what was read meanwhile is not unread any more

    def on_read_again(self, message: ReadAgain) -> None:
        self.load()

    def action_refresh_now(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.dismiss()

    def show(self, options: list[Option]) -> None:
        """List these, keeping the highlight where it was (or on the last line, if the list got shorter)."""
        box = self.query_one(OptionList)
        highlighted = box.highlighted
        box.clear_options()
        box.add_options(options or [Option(Text(self.EMPTY, style="dim"), disabled=True)])
        if options:
            box.highlighted = min(highlighted or 0, len(options) - 1)
