"""The key bar: Textual's Footer, redrawn only when the keys it shows change, and narrow-terminal aware."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

__all__ = ["NARROW", "AppFooter"]

NARROW = 80  # below this many columns the bar is compact and keeps the ways around first
# What a user must always find, whatever is focused: where to go, and help.
ALWAYS = ("back", "swarms", "peers", "app.help")


class AppFooter(Footer):
    """Footer that skips the rebuild when the shown keys are the same as before.

    Textual's Footer recomposes all its keys whenever the focus moves.  In the
    feed, moving from one card to the next leaves the keys as they were, and that
    rebuild was the largest cost of a keystroke.

    On a narrow terminal the keys of the focused post (heart, flag, delete)
    came first and pushed Swarms, Peers and Help off the right edge; there the
    bar is compact, leaves out the palette key (ctrl+p still works and help
    lists it) and puts the ways around first, so what falls off is an action
    that help and the palette also offer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[Any, ...] | None = None
        self._narrow: bool | None = None

    @staticmethod
    def _keys_shown(screen: Screen[Any]) -> tuple[Any, ...]:
        return tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            shown = self._keys_shown(screen)
            if shown == self._shown and self._bindings_ready:
                return
            self._shown = shown
        super().bindings_changed(screen)

    def on_mount(self) -> None:
        self._fit(self.app.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        narrow = width < NARROW
        if narrow != self._narrow:
            self._narrow = narrow
            self.compact = narrow
            self.show_command_palette = not narrow
            self.refresh(recompose=True)

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        keys = [w for w in widgets if isinstance(w, FooterKey)]
        if self._narrow and len(keys) == len(widgets):  # no key groups: the order is free
            keys.sort(key=lambda k: ALWAYS.index(k.action) if k.action in ALWAYS else len(ALWAYS))
            widgets = list(keys)
        yield from widgets
