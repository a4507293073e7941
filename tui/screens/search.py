"""Keyword search over this node's posts, with the matches highlighted."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from ..messages import ReadAgain
from ..node import ControlError
from ..widgets import AppFooter, AppHeader, SearchResult
from ._base import ItemActions

__all__ = ["SearchScreen"]


class SearchScreen(ItemActions):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("slash", "focus_query", "New search", show=False),
    ]

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.initial = query

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Input(value=self.initial, placeholder="search posts on this node — Enter to search", id="search-input")
        yield Static("", id="search-summary")
        yield VerticalScroll(id="search-results")
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = "search"
        self.query_one(Input).focus()
        if self.initial:
            self.run_search(self.initial)

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.run_search(event.value.strip())

    @work(exclusive=True, group="search")
    async def run_search(self, query: str) -> None:
        summary = self.query_one("#search-summary", Static)
        results_box = self.query_one("#search-results", VerticalScroll)
        summary.update(f"searching for “{query}”…")
        try:
            results = await self.node.search(query)
        except ControlError as exc:
            summary.update(f"search failed: {exc.message}")
            return
        await results_box.remove_children()
        n = len(results)
        summary.update(
            f"{n} match{'es' if n != 1 else ''} for “{query}”" + (" — ↓ to pick, Enter to open" if n else "")
        )
        await results_box.mount_all([SearchResult(hit) for hit in results])

    def on_read_again(self, message: ReadAgain) -> None:
        if query := self.query_one(Input).value.strip():
            self.run_search(query)

    def action_move(self, delta: int) -> None:
        results = list(self.query(SearchResult))
        if not results:
            return
        focused = self.focused
        if isinstance(focused, SearchResult):
            index = results.index(focused) + delta
            if index < 0:
                self.query_one(Input).focus()
                return
            results[min(index, len(results) - 1)].focus()
        elif delta > 0:
            results[0].focus()

    def action_focus_query(self) -> None:
        self.query_one(Input).focus()

    def action_back(self) -> None:
        self.dismiss()
