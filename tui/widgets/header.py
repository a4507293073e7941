"""The title bar: Textual's Header, made safe to mount while the app is closing."""

from __future__ import annotations

import contextlib

from textual import events
from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.widget import Widget
from textual.widgets import Header
from textual.widgets._header import HeaderTitle

__all__ = ["AppHeader"]


class AppHeader(Header):
    """Header whose title updates are synchronous and tolerate a half-removed header.

    Textual 8's Header schedules an async title update on mount; if the app is
    shutting down (or the screen is being dismissed) the header's children may
    already be gone when it runs, and it raises ``NoMatches`` from inside Textual.
    Here the update runs at once and does nothing for a header without its title.
    """

    def _on_mount(self, event: events.Mount) -> None:
        event.prevent_default()  # replaces Header._on_mount
        Widget._on_mount(self, event)

        def set_title() -> None:
            with contextlib.suppress(NoMatches, NoScreen):
                self.query_one(HeaderTitle).update(self.format_title())

        self.watch(self.app, "title", set_title)
        self.watch(self.app, "sub_title", set_title)
        self.watch(self.screen, "title", set_title)
        self.watch(self.screen, "sub_title", set_title)
