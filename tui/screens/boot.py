"""Shown while the app connects to the node, and if it cannot."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import LoadingIndicator, Static

from ..widgets import AppFooter, AppHeader

__all__ = ["BootScreen"]


class BootScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "app.quit", "Quit"), Binding("r", "app.boot", "Retry")]

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with Middle(), Center():
            yield Static("connecting to your node…", id="boot-status")
        yield LoadingIndicator(id="boot-loading")
        yield AppFooter()

    def show_error(self, message: str) -> None:
        self.query_one("#boot-loading").display = False
        self.query_one("#boot-status", Static).update(f"{message}\n\npress r to retry, q to quit")

    def show_waiting(self) -> None:
        self.query_one("#boot-loading").display = True
        self.query_one("#boot-status", Static).update("connecting to your node…")
