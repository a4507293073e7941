"""Pure formatting helpers: colours, ages, snippets.  No Textual widgets here.

Kept free of I/O and of widgets so they are trivially testable and so the
screens and widgets share one idea of how a post looks.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

import protocol
from p2pnet import api

__all__ = [
    "CARD_COLOURS",
    "EXPIRY_CHOICES",
    "age",
    "card_colour",
    "icon_parts",
    "meta_line",
    "snippet_text",
]

# Each PALETTE name as a calm, readable card background (white text on all of them).
CARD_COLOURS: dict[str, str] = {
    "slate": "#475569",
    "crimson": "#9f1239",
    "tangerine": "#c2410c",
    "amber": "#a16207",
    "forest": "#166534",
    "teal": "#0f766e",
    "ocean": "#0369a1",
    "indigo": "#4338ca",
    "violet": "#6d28d9",
    "rose": "#be185d",
    "cocoa": "#78350f",
    "charcoal": "#27272a",
}
assert set(CARD_COLOURS) == set(protocol.PALETTE), "every palette colour needs a card colour"

# Brighter variants of the palette for per-thread icons drawn on a dark background.
_ICON_COLOURS: dict[str, str] = {
    "slate": "#94a3b8",
    "crimson": "#fb7185",
    "tangerine": "#fb923c",
    "amber": "#fbbf24",
    "forest": "#4ade80",
    "teal": "#2dd4bf",
    "ocean": "#38bdf8",
    "indigo": "#818cf8",
    "violet": "#a78bfa",
    "rose": "#f472b6",
    "cocoa": "#d6a772",
    "charcoal": "#a1a1aa",
}

# Self-destruct choices in the composer: (label, seconds or None).  Post times travel in
# 10-minute steps, so nothing shorter is offered: it could not be kept (docs/tui.md).
EXPIRY_CHOICES: tuple[tuple[str, int | None], ...] = (
    ("never", None),
    ("10 minutes", protocol.TIME_QUANTUM),
    ("1 hour", 3600),
    ("1 day", 86400),
    ("7 days", 7 * 86400),
    ("30 days", protocol.MAX_TTL),
)


def card_colour(bg: str) -> str:
    """The background colour of a card for a palette name (slate for anything unknown)."""
    return CARD_COLOURS.get(bg, CARD_COLOURS["slate"])


# Per-thread icon glyphs, indexed by the node's ``icon.glyph`` (0..15); all single-width.
ICON_GLYPHS: tuple[str, ...] = ("●", "▲", "■", "◆", "★", "♣", "♠", "♞", "✚", "✿", "♪", "✦", "◉", "▼", "◐", "◈")


def icon_parts(icon: api.Icon) -> tuple[str, str]:
    """(glyph, colour) of a per-thread icon: the node's indexes into :data:`ICON_GLYPHS` and the palette."""
    return ICON_GLYPHS[icon.glyph], _ICON_COLOURS[protocol.PALETTE[icon.colour]]


def age(created: int | float, now: float) -> str:
    """'now', '5m', '2h', '3d', '6w', '2y' — how long ago ``created`` was."""
    seconds = max(0, int(now) - int(created))
    for unit, size in (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"


def posted(created: int | float, now: float) -> str:
    """How old a post is, as honestly as the wire allows.

    Creation times travel rounded down to 10 minutes, so anything younger than
    that says '<10m' rather than pretending to know the minute.
    """
    if int(now) - int(created) < protocol.TIME_QUANTUM:
        return "<10m"
    return age(created, now)


def until(expires: int | float, now: float) -> str:
    """How long until ``expires``: '50m', '1d', or 'soon'."""
    left = int(expires) - int(now)
    if left <= 60:
        return "soon"
    return age(0, left)


def meta_line(item: api.FeedItem | api.ThreadItem | api.SearchHit, now: float) -> Text:
    """The small line under a post, reply or search hit: name · age · hearts · replies · self-destruct · flags."""
    post = item if isinstance(item, api.FeedItem | api.ThreadRoot) else None
    parts: list[tuple[str, str]] = []
    if post is not None and post.name:
        parts.append((post.name, "bold"))
    parts.append((posted(item.created, now), ""))
    parts.append((f"♥ {item.hearts}", "bold #fda4af" if item.hearts else ""))
    if post is not None:
        parts.append((f"↩ {post.replies}", ""))
        if post.expires:
            parts.append((f"⏳ {until(post.expires, now)}", ""))
    if not isinstance(item, api.SearchHit):
        if item.flags:
            parts.append((f"⚑ {item.flags}", "#fcd34d"))
        if item.mine:
            parts.append(("yours", "italic"))
    text = Text(style="#e5e7eb")
    for i, (part, style) in enumerate(parts):
        if i:
            text.append(" · ", style="dim")
        text.append(part, style=style)
    return text


HIGHLIGHT = Style(bold=True, color="black", bgcolor="#fde047")


def snippet_text(hit: api.SearchHit) -> Text:
    """A search hit's text on one line, with the matches the node found highlighted."""
    text = Text(hit.text.replace("\n", " "))  # one character for one: the offsets still hold
    for start, end in hit.matches:
        text.stylize(HIGHLIGHT, start, end)
    return text
