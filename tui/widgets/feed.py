"""The feed: a virtualized column of post cards drawn with Textual's Line API.

The loaded posts are plain data; only the lines in view are drawn, from cards
rendered once and cached.  Moving the selection, scrolling and appending a page
cost the same with 30 posts or 30,000 (see docs/tui.md, "The feed").
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.events import Click, Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style
from textual.visual import Visual, visualize

from p2pnet import api

from ..format import card_colour
from ..messages import OpenThread
from .cards import ItemKeys, card_body, now_of

__all__ = ["FeedList"]

# A card as PostCard draws it: a one-cell left edge (yellow when selected), padding
# 1 row and 2 columns, then one row of the feed's background below it.
EDGE, PAD_X, PAD_Y, GAP = 1, 2, 1, 1
CHROME_X = EDGE + 2 * PAD_X
CHROME_Y = 2 * PAD_Y + GAP
TEXT = Color.parse("#f8fafc")
SELECTED_EDGE = "#fde047"


class FeedList(ScrollView, ItemKeys, can_focus=True):
    """The scrolling column of post cards, one of them selected.

    Holds the loaded posts as data and draws only the lines in view, so keys and
    scrolling never wait on the number of posts, and a new page costs a few small
    renders instead of mounting widgets.  Asks for the next page (``NearEnd``)
    when the reader nears the end; the screen decides what to fetch.
    """

    DEFAULT_CSS = """
    FeedList { height: 1fr; overflow-x: hidden; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "move(1)", "Next", show=False),
        Binding("up,k", "move(-1)", "Previous", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("home,g", "first", "Top", show=False),
        Binding("end,G", "last", "End", show=False),
    ]

    class NearEnd(Message):
        """Fewer than two screens of posts are left below the view."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.items: list[api.FeedItem] = []
        self.index: dict[str, int] = {}  # post id -> position in items
        self.selected = -1
        self._heights: list[int] = []  # rows of each card, the gap below it included
        self._tops: list[int] = [0]  # first row of each card; the last entry is the total
        self._width = 0
        # post id -> (key, strips): the card's text lines, and the whole card with its edge.
        self._content: dict[str, tuple[tuple[int, int], list[Strip]]] = {}
        self._cards: dict[str, tuple[tuple[int, int, bool], list[Strip]]] = {}
        self._keys_state: tuple[bool, bool] = (False, False)

    # -- what the screen changes ------------------------------------------------------

    def set_items(self, items: list[api.FeedItem]) -> None:
        """Show these posts from the top, the first one selected."""
        self.items, self._heights = [], []
        self.index.clear()
        self._content.clear()
        self._cards.clear()
        self.extend(items)
        self.selected = 0 if self.items else -1
        self.scroll_to(y=0, animate=False, immediate=True)
        self._keys_changed()

    def extend(self, items: list[api.FeedItem]) -> None:
        """Append the posts not shown yet (a new page)."""
        for item in [item for item in items if item.id not in self.index]:
            self.index[item.id] = len(self.items)
            self.items.append(item)
            self._heights.append(self._measure(item))
        if len(self._heights) != len(self.items):  # not laid out yet (no width)
            self._heights = [self._measure(item) for item in self.items]
        self._retop()

    def insert_top(self, item: api.FeedItem) -> None:
        """Put a post above all others; the selection stays on its post."""
        self.items.insert(0, item)
        self._heights.insert(0, self._measure(item))
        if self.selected >= 0:
            self.selected += 1
        self._reindex()
        self._retop()

    def update_item(self, item: api.FeedItem) -> None:
        """A post changed (hearts, replies, …): redraw its card."""
        position = self.index.get(item.id)
        if position is None:
            return
        self.items[position] = item
        self._content.pop(item.id, None)
        self._cards.pop(item.id, None)
        self._heights[position] = self._measure(item)
        self._retop()
        self._keys_changed()

    def remove_item(self, post_id: str) -> None:
        position = self.index.get(post_id)
        if position is None:
            return
        del self.items[position]
        del self._heights[position]
        self._content.pop(post_id, None)
        self._cards.pop(post_id, None)
        if self.selected > position or self.selected >= len(self.items):
            self.selected -= 1
        self._reindex()
        self._retop()
        self._keys_changed()

    def current_item(self) -> api.FeedItem | None:
        return self.items[self.selected] if 0 <= self.selected < len(self.items) else None

    def select(self, position: int, *, scroll: bool = True) -> None:
        """Select the card at ``position`` and (``scroll``) bring it into view."""
        if not self.items:
            return
        before, self.selected = self.selected, max(0, min(len(self.items) - 1, position))
        for redraw in {before, self.selected}:  # only the two cards whose edge changes
            if 0 <= redraw < len(self.items):
                self.refresh_lines(self._tops[redraw], self._heights[redraw])
        if scroll:
            top, bottom = self._tops[self.selected], self._tops[self.selected + 1]
            self.scroll_to_region(
                Region(0, top, max(1, self._width), bottom - top), animate=False, immediate=True, x_axis=False
            )
        self._keys_changed()
        if self.selected == len(self.items) - 1:
            self.post_message(self.NearEnd())

    def _keys_changed(self) -> None:
        """Tell the footer when the keys on offer change (delete is for own posts only)."""
        item = self.current_item()
        state = (item is not None, item is not None and item.mine)
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    # -- keys and mouse -----------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        self.select(self.selected + delta if self.selected >= 0 else 0)

    def action_page(self, direction: int) -> None:
        """Scroll a page, then select the first card fully in view (the last one when paging up)."""
        height = self.scrollable_content_region.height
        y = max(0, min(self.max_scroll_y, round(self.scroll_y) + direction * height))
        self.scroll_to(y=y, animate=False, immediate=True)
        bottom = y + height
        first = max(0, bisect_right(self._tops, y) - 1)
        overlapping = []
        position = first
        while position < len(self.items) and self._tops[position] < bottom:
            overlapping.append(position)
            position += 1
        # A card counts as in view without its gap row, as PostCard's region did.
        in_view = [p for p in overlapping if self._tops[p] >= y and self._tops[p + 1] - GAP <= bottom]
        candidates = in_view or overlapping  # a card taller than the view
        if candidates:
            self.select(candidates[0] if direction > 0 else candidates[-1], scroll=False)

    def action_first(self) -> None:
        self.scroll_to(y=0, animate=False, immediate=True)
        self.select(0, scroll=False)

    def action_last(self) -> None:
        self.select(len(self.items) - 1)
        self.scroll_end(animate=False, immediate=True)

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = offset.y + self.scroll_offset.y
        position = bisect_right(self._tops, row) - 1
        if 0 <= position < len(self.items) and row < self._tops[position + 1] - GAP:
            self.select(position, scroll=False)
            self.post_message(OpenThread(self.items[position].id))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.max_scroll_y - new_value <= 2 * max(1, self.size.height):
            self.post_message(self.NearEnd())

    # -- layout and drawing ---------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        self._fit_width()

    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        self._fit_width()  # the scrollbar takes a column from the cards

    def _fit_width(self) -> None:
        """Wrap the cards again when the width they get changes."""
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._heights = [self._measure(item) for item in self.items]
            self._retop()
            if self.current_item() is not None:
                self.select(self.selected)

    def _reindex(self) -> None:
        self.index = {item.id: position for position, item in enumerate(self.items)}

    def _retop(self) -> None:
        self._tops = [0, *accumulate(self._heights)]
        size = Size(self._width, self._tops[-1])
        if size != self.virtual_size:
            # Setting virtual_size would lay out the whole screen; only the scrollbar
            # depends on the feed's length (ScrollView does the same on a resize).
            self.set_reactive(FeedList.virtual_size, size)
            self._scroll_update(size)
        self.refresh()

    def _measure(self, item: api.FeedItem) -> int:
        """The card's rows: its text wrapped to the card's width (cheaper than drawing it)."""
        if self._width <= CHROME_X:
            return 0
        console, width = self.app.console, self._width - CHROME_X
        body, meta = card_body(item, now_of(self)).renderables
        assert isinstance(body, Text) and isinstance(meta, Text)
        return len(body.wrap(console, width)) + len(meta.wrap(console, width)) + CHROME_Y

    def _text_lines(self, item: api.FeedItem) -> list[Strip]:
        """The card's text and meta line, wrapped to the card's width (cached per minute, for the age)."""
        now = now_of(self)
        key = (self._width, int(now // 60))
        post_id = item.id
        cached = self._content.get(post_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        style = Style(background=Color.parse(card_colour(item.bg)), foreground=TEXT)
        width = max(1, self._width - CHROME_X)
        lines = Visual.to_strips(self, visualize(self, card_body(item, now)), width, None, style, pad=True)
        self._content[post_id] = (key, lines)
        return lines

    def _card_lines(self, position: int) -> list[Strip]:
        item = self.items[position]
        selected = position == self.selected
        text = self._text_lines(item)
        key = (*self._content[item.id][0], selected)
        cached = self._cards.get(item.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        width = self._width
        background = RichStyle(bgcolor=card_colour(item.bg))
        edge = Segment("▌", background + RichStyle(color=SELECTED_EDGE)) if selected else Segment(" ", background)
        pad = Strip([Segment(" " * PAD_X, background)], PAD_X)
        blank = Strip([edge, Segment(" " * (width - EDGE), background)], width)
        lines = [blank] * PAD_Y
        lines += [Strip.join([Strip([edge], EDGE), pad, line, pad]) for line in text]
        lines += [blank] * PAD_Y + [Strip.blank(width, self.rich_style)] * GAP
        self._cards[item.id] = (key, lines)
        if len(lines) != self._heights[position]:  # the meta line grew a row as the post aged
            self._heights[position] = len(lines)
            self.call_later(self._retop)
        return lines

    def render_line(self, y: int) -> Strip:
        row = y + self.scroll_offset.y
        position = bisect_right(self._tops, row) - 1
        if 0 <= position < len(self.items):
            lines = self._card_lines(position)
            if row - self._tops[position] < len(lines):
                return lines[row - self._tops[position]]
        return Strip.blank(self._width, self.rich_style)
