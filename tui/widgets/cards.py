"""Post cards, thread replies and search results.

Widgets only draw and say what the user asked for (typed messages); screens
decide what that means and ask the node.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget

from p2pnet import api
from p2pnet.api import flagged_notice, preview

from ..format import CARD_COLOURS, icon_parts, meta_line, snippet_text
from ..messages import (
    DeleteRequested,
    FlagRequested,
    HeartRequested,
    HideRequested,
    MessageAuthor,
    MuteRequested,
    OpenThread,
)

__all__ = [
    "FEED_PREVIEW_CHARS",
    "ItemKeys",
    "NewPostsBar",
    "PostCard",
    "ReplyRow",
    "SearchResult",
    "card_body",
    "now_of",
]

FEED_PREVIEW_CHARS = 320


def now_of(widget: Widget) -> float:
    clock = getattr(widget.app, "clock", time.time)
    return float(clock())


class ItemKeys(Widget):
    """The keys on a post or reply: open, heart, flag, delete (own posts only), mute its writer, hide its thread,
    write privately to its writer (others' only).

    ``current_item`` says which item they act on: a card's own, or the feed's selected one.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", show=False),
        Binding("h", "heart", "♥ Heart"),
        Binding("f", "flag", "Flag"),
        Binding("d", "delete", "Delete"),
        Binding("m", "mute", "Mute writer", show=False),
        Binding("x", "hide", "Hide thread", show=False),
        Binding("P", "message", "Message privately", show=False),
    ]

    def current_item(self) -> api.FeedItem | api.ThreadItem | None:
        raise NotImplementedError

    def _current_id(self) -> str | None:
        item = self.current_item()
        return None if item is None else item.id

    def action_open(self) -> None:
        if (post_id := self._current_id()) is not None:
            self.post_message(OpenThread(post_id))

    def action_heart(self) -> None:
        if (post_id := self._current_id()) is not None:
            self.post_message(HeartRequested(post_id))

    def action_flag(self) -> None:
        if (post_id := self._current_id()) is not None:
            self.post_message(FlagRequested(post_id))

    def action_mute(self) -> None:
        item = self.current_item()
        if item is not None and item.mine:
            self.notify("that is you: your own posts cannot be muted", severity="warning")
        elif item is not None:
            self.post_message(MuteRequested(item.id))

    def action_hide(self) -> None:
        if (post_id := self._current_id()) is not None:
            self.post_message(HideRequested(post_id))

    def action_message(self) -> None:
        item = self.current_item()
        if item is not None and item.mine:
            self.notify("that is you: write privately to someone else's post or reply", severity="warning")
        elif item is not None:
            self.post_message(MessageAuthor(item.id))

    def action_delete(self) -> None:
        item = self.current_item()
        if item is None:
            return
        if item.mine:
            self.post_message(DeleteRequested(item.id))
        else:
            self.notify("only your own posts can be deleted", severity="warning")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Nothing to act on, nothing offered; delete is not offered (nor shown in the
        # footer) for other people's posts.
        if action not in ("open", "heart", "flag", "delete", "mute", "hide", "message"):
            return True
        item = self.current_item()
        return item is not None and (action != "delete" or item.mine)


class _ItemWidget(ItemKeys, can_focus=True):
    """Something that shows one thread item and can be hearted, flagged, deleted.

    An item collapsed by flags shows a notice until ``revealed``: enter
    reveals it (and the screen remembers, :class:`Revealed`).
    """

    class Revealed(Message):
        """The user opened an item collapsed by flags."""

        def __init__(self, post_id: str) -> None:
            super().__init__()
            self.post_id = post_id

    def __init__(self, item: api.ThreadItem, *, revealed: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.item = item
        self.revealed = revealed

    def action_open(self) -> None:
        if self.item.collapsed and not self.revealed:
            self.revealed = True
            self.refresh(layout=True)
            self.post_message(self.Revealed(self.item.id))
        else:
            super().action_open()

    @property
    def post_id(self) -> str:
        return self.item.id

    def current_item(self) -> api.ThreadItem:
        return self.item


def _colour_rules(selector: str, prop: str) -> str:
    """One CSS rule per palette colour, so a card's colour is a class set before it mounts."""
    return "\n".join(f"{selector}.-bg-{name} {{ {prop}: {value}; }}" for name, value in CARD_COLOURS.items())


def colour_class(bg: str) -> str:
    return f"-bg-{bg if bg in CARD_COLOURS else 'slate'}"


def collapsed_notice(item: api.FeedItem | api.ThreadItem) -> Text:
    """What stands in for the text of an item collapsed by flags, and how to read it anyway."""
    where = "enter opens the thread" if isinstance(item, api.FeedItem) else "enter shows it"
    return Text.assemble((flagged_notice(item), "italic"), (f" · {where}", "dim italic"))


def card_body(item: api.FeedItem | api.ThreadRoot, now: float, *, revealed: bool = False) -> Group:
    """What a post card shows: on the feed a preview of its text, in a thread all of it, over the meta line.

    A post collapsed by flags shows a notice instead, unless ``revealed``.
    """
    text = item.text
    if isinstance(item, api.FeedItem) and len(text) > FEED_PREVIEW_CHARS:
        text = text[:FEED_PREVIEW_CHARS].rstrip() + " …"
    body = collapsed_notice(item) if item.collapsed and not revealed else Text(text, style="bold")
    meta = meta_line(item, now)
    if isinstance(item, api.ThreadRoot):
        # In a thread the original poster's per-thread icon and crown lead the meta line.
        glyph, colour = icon_parts(item.icon)
        meta = Text.assemble((glyph, f"bold {colour}"), ("♛", "bold #fde047"), (" · ", "dim"), meta)
    return Group(body, meta)


class PostCard(_ItemWidget):
    """A thread's post on its own coloured background, as in Whisper/Secret."""

    DEFAULT_CSS = """
    PostCard {
        height: auto;
        padding: 1 2;
        color: #f8fafc;
        border-left: blank;
        background: #475569;
    }
    PostCard:focus {
        border-left: outer #fde047;
        text-style: none;
    }
    """ + _colour_rules("PostCard", "background")

    item: api.ThreadRoot

    def __init__(self, item: api.ThreadRoot, **kwargs: Any) -> None:
        super().__init__(item, **kwargs)
        self.add_class(colour_class(item.bg))

    def render(self) -> Group:
        return card_body(self.item, now_of(self), revealed=self.revealed)


def replying_to(parent: api.ThreadItem | None) -> Text:
    """The line over a reply to a reply: the icon of the one it answers and its first words.

    Args:
        parent: The reply it answers, or None when that one is not shown
            here (erased, or not arrived yet).
    """
    line = Text("↳ replying to ", style="dim")
    if parent is None:
        return line.append("a reply not shown here", style="dim italic")
    glyph, colour = icon_parts(parent.icon)
    line.append(glyph, style=f"bold {colour}")
    if parent.is_author:
        line.append("♛", style="bold #fde047")
    return line.append(f" “{preview(parent.text)}”", style="dim")


class ReplyRow(_ItemWidget):
    """One reply in a thread: the writer's per-thread icon (♛ for the original poster), text and hearts.

    A reply to another reply (``to_reply``: not to the post) has a line over
    it naming the one it answers (:func:`replying_to`): ``parent``, or None
    when that one is not shown here.
    """

    DEFAULT_CSS = """
    ReplyRow {
        height: auto;
        padding: 0 1;
        margin: 0 0 1 0;
        border-left: outer $surface;
    }
    ReplyRow:focus { border-left: outer #fde047; background: $boost; }
    """

    def __init__(
        self,
        item: api.ThreadItem,
        *,
        to_reply: bool = False,
        parent: api.ThreadItem | None = None,
        revealed: bool = False,
    ) -> None:
        super().__init__(item, revealed=revealed)
        self.to_reply = to_reply
        self.parent_item = parent

    def render(self) -> Group:
        glyph, colour = icon_parts(self.item.icon)
        head = Text()
        head.append(f"{glyph} ", style=f"bold {colour}")
        if self.item.is_author:
            head.append("♛ ", style="bold #fde047")
        if self.item.collapsed and not self.revealed:
            head.append_text(collapsed_notice(self.item))
        else:
            head.append(self.item.text)
        lines = [head, meta_line(self.item, now_of(self))]
        if self.to_reply:
            lines.insert(0, replying_to(self.parent_item))
        return Group(*lines)


class SearchResult(Widget, can_focus=True):
    """A search hit: the text with the matches highlighted; Enter opens the thread."""

    # A hit does not carry its post's colour: every edge has the default card colour (slate).
    DEFAULT_CSS = """
    SearchResult {
        height: auto;
        padding: 0 1;
        margin: 0 0 1 0;
        border-left: outer #475569;
    }
    SearchResult:focus { background: $boost; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "open", "Open thread")]

    def __init__(self, hit: api.SearchHit, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hit = hit

    def render(self) -> Group:
        return Group(snippet_text(self.hit), meta_line(self.hit, now_of(self)))

    def action_open(self) -> None:
        self.post_message(OpenThread(self.hit.root))

    def on_click(self) -> None:
        self.action_open()


class NewPostsBar(Widget):
    """'▲ 3 new posts' — shown while the reader is scrolled down, instead of moving the page."""

    DEFAULT_CSS = """
    NewPostsBar {
        height: 1;
        dock: top;
        background: #fde047;
        color: black;
        text-style: bold;
        content-align: center middle;
        display: none;
    }
    NewPostsBar.-shown { display: block; }
    """

    class Pressed(Message):
        """The user asked to see the new posts."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = 0

    def render(self) -> str:
        noun = "post" if self.count == 1 else "posts"
        return f"▲ {self.count} new {noun} — press n or click to show"

    def set_count(self, count: int) -> None:
        """Show the bar for ``count`` new posts (hidden for none)."""
        self.count = count
        self.set_class(count > 0, "-shown")
        self.refresh()

    def on_click(self) -> None:
        self.post_message(self.Pressed())
