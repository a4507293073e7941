"""The keys, on one screen."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["KEYS", "HelpScreen", "keys_table"]

# (where, keys, what) — docs/tui.md shows the same table.
KEYS: tuple[tuple[str, str, str], ...] = (
    ("everywhere", "?  F1", "this help"),
    ("", "ctrl+p", "command palette: every action by name"),
    ("", "esc", "back / close"),
    ("", "ctrl+q", "quit (the node keeps running); asks first if a draft is unsent"),
    ("feed", "↑↓ jk PgUp/Dn", "move between posts, or a page at a time"),
    ("", "enter, click", "open the thread"),
    ("", "c", "write a post"),
    ("", "l  p", "Latest / Popular (or click the tabs)"),
    ("", "w", "switch swarm: all → each (or click 'swarm:')"),
    ("", "n", "show the new posts the yellow bar counts"),
    ("", "r", "refresh"),
    ("", "/", "search"),
    ("", "s", "swarms: create, join, invite, leave"),
    ("", "i", "peers and node status"),
    ("", "M", "muted words, writers and threads: add a word, undo"),
    ("", "I", "private messages: your conversations, the latest first"),
    ("", "A", "activity: replies to you, hearts on yours, unread messages"),
    ("post/reply", "h", "heart (also re-shares into your other swarms)"),
    ("", "f", "flag (spam, abuse, illegal, other)"),
    ("", "d", "delete — your own posts only"),
    ("", "m", "mute its writer in this thread (on this node only)"),
    ("", "x", "hide its whole thread (on this node only)"),
    ("", "P", "write privately to its writer (only they can open it)"),
    ("thread", "r", "reply to the selected reply, or to the post; enter sends"),
    ("", "enter", "show a post collapsed by flags"),
    ("compose", "ctrl+s", "send; esc closes and keeps the draft"),
    ("inbox", "enter", "open the selected conversation"),
    ("activity", "enter", "open the thread (or the conversation) of the selected line"),
    ("conversation", "ctrl+s", "send; esc goes back and keeps the draft"),
    ("", "ctrl+o", "open the post it started from"),
    ("", "ctrl+b", "block (asks first; they cannot tell) / unblock"),
    ("swarms", "c  j", "create a swarm / join one with an invite key"),
    ("", "i", "invite key + QR code of the selected swarm"),
    ("", "a", "the address invites name"),
    ("", "x", "leave the selected swarm"),
)


def keys_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column(style="bold #7dd3fc", no_wrap=True)
    table.add_column(style="bold #fde047", no_wrap=True)
    table.add_column(ratio=1)
    for where, keys, what in KEYS:
        table.add_row(where, keys, what)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        box = VerticalScroll(id="help-box")
        box.border_title = "p2pnet — keys"
        box.border_subtitle = "esc closes"
        with box:
            yield Static(keys_table())
            yield Static(Text("The mouse works too: click cards, tabs, buttons and the swarm label.", style="dim"))
