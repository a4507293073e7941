"""What the user muted: words, writers in a thread, hidden threads; add a word, undo any (never sent)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from p2pnet import api

from ..format import icon_parts
from ..node import ControlError
from ..widgets import AppFooter, AppHeader
from ._base import ItemActions

__all__ = ["MutesScreen"]


class MutesScreen(ItemActions):
    """A word typed above is muted on enter; the selected mute is undone with delete (or u)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("delete,u", "unmute", "Undo the selected"),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[api.Mute] = []  # what each option names, as the mute that made it

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Input(placeholder="mute a word or phrase — Enter adds it", max_length=64, id="mute-word")
        yield Static(
            "Muted posts are left out of your feed, search and threads. This stays on your node: "
            "nothing is sent, and your node still passes them on, so no one can tell.",
            classes="dialog-detail",
        )
        yield OptionList(id="mutes")
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = "muted"
        self.refresh_list()

    @work(exclusive=True, group="mutes")
    async def refresh_list(self, muted: api.Mutes | None = None) -> None:
        if muted is None:
            try:
                muted = await self.node.mutes()
            except ControlError as exc:
                self.show_error(exc, "could not read what you muted")
                return
        self.show(muted)

    def show(self, muted: api.Mutes) -> None:
        options: list[Option] = []
        self.entries = []
        for word in muted.words:
            options.append(Option(Text.assemble(("word  ", "dim"), word)))
            self.entries.append(api.Mute(word=word))
        for author in muted.authors:
            glyph, colour = icon_parts(author.icon)
            said = Text.assemble(("writer  ", "dim"), (glyph, f"bold {colour}"), f" in thread {author.thread[:12]}")
            options.append(Option(said))
            self.entries.append(api.Mute(author=author.key))
        for thread in muted.threads:
            options.append(Option(Text.assemble(("thread  ", "dim"), thread.text or f"{thread.id[:12]} (gone)")))
            self.entries.append(api.Mute(thread=thread.id))
        box = self.query_one(OptionList)
        box.clear_options()
        box.add_options(options or [Option(Text("nothing muted yet", style="dim"), disabled=True)])

    @on(Input.Submitted, "#mute-word")
    def _add(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.change(api.Mute(word=event.value))

    def action_unmute(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None and index < len(self.entries):
            done = self.entries[index]
            self.change(api.Unmute(word=done.word, author=done.author, thread=done.thread))

    @work(group="actions")
    async def change(self, request: api.Mute | api.Unmute) -> None:
        try:
            if isinstance(request, api.Mute):
                muted = await self.node.mute(word=request.word)
            else:
                muted = await self.node.unmute(word=request.word, author=request.author, thread=request.thread)
        except ControlError as exc:
            self.show_error(exc, "could not change what you muted")
            return
        self.query_one("#mute-word", Input).value = ""
        self.show(muted)
        self.muted(hid_thread=False)

    def action_back(self) -> None:
        self.dismiss()
