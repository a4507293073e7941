"""Pure formatting helpers: colours, ages, snippets.  No Textual widgets here.

Kept free of I/O and of widgets so they are trivially testable and so the
screens and widgets share one idea of how a post looks.
"""

from __future__ import annotations

import re
from typing import Any

from rich.style import Style
from rich.text import Text

import protocol

__all__ = [
    "CARD_COLOURS",
    "EXPIRY_CHOICES",
    "age",
    "card_colour",
    "icon_colour",
    "icon_parts",
    "meta_line",
    "short_id",
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

# Self-destruct choices in the composer: (label, seconds or None).
EXPIRY_CHOICES: tuple[tuple[str, int | None], ...] = (
    ("never", None),
    ("1 hour", 3600),
    ("1 day", 86400),
    ("7 days", 7 * 86400),
    ("30 days", protocol.MAX_TTL),
)

_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def card_colour(bg: Any) -> str:
    """The background colour of a card for a palette name (slate for anything unknown)."""
    return CARD_COLOURS.get(str(bg), CARD_COLOURS["slate"])


# Per-thread icon glyphs, indexed by the node's ``icon.glyph`` (0..15); all single-width.
ICON_GLYPHS: tuple[str, ...] = ("●", "▲", "■", "◆", "★", "♣", "♠", "♞", "✚", "✿", "♪", "✦", "◉", "▼", "◐", "◈")


def icon_parts(icon: Any) -> tuple[str, str]:
    """(glyph, colour) of a per-thread icon.

    Accepts the node's ``{"glyph": 0..15, "colour": 0..11}`` (indexes into
    :data:`ICON_GLYPHS` and :data:`protocol.PALETTE`) as well as the
    ``[glyph, colour]`` pair that docs/control-api.md describes.
    """
    glyph: Any = "●"
    colour: Any = None
    if isinstance(icon, dict):
        glyph, colour = icon.get("glyph", 0), icon.get("colour", icon.get("color"))
    elif isinstance(icon, (list, tuple)) and icon:
        glyph = icon[0]
        colour = icon[1] if len(icon) > 1 else None
    if isinstance(glyph, int):
        glyph = ICON_GLYPHS[glyph % len(ICON_GLYPHS)]
    return str(glyph)[:2] or "●", icon_colour(colour)


def icon_colour(colour: Any) -> str:
    """The colour of a per-thread icon: a palette index or name, a #rrggbb value, or grey."""
    if isinstance(colour, int) and not isinstance(colour, bool):
        colour = protocol.PALETTE[colour % len(protocol.PALETTE)]
    if isinstance(colour, str):
        if colour in _ICON_COLOURS:
            return _ICON_COLOURS[colour]
        if _HEX.fullmatch(colour):
            return colour
    return "#a1a1aa"


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


def short_id(ident: str) -> str:
    return ident[:8]


def meta_line(item: dict[str, Any], now: float, *, replies: bool = True) -> Text:
    """The small line under a post: name · age · hearts · replies · self-destruct."""
    parts: list[tuple[str, str]] = []
    if item.get("name"):
        parts.append((str(item["name"]), "bold"))
    parts.append((posted(item.get("created", now), now), ""))
    parts.append((f"♥ {item.get('hearts', 0)}", "bold #fda4af" if item.get("hearts") else ""))
    if replies and item.get("kind", "post") == "post":
        parts.append((f"↩ {item.get('replies', 0)}", ""))
    if item.get("expires"):
        parts.append((f"⏳ {until(item['expires'], now)}", ""))
    if item.get("flags"):
        parts.append((f"⚑ {item['flags']}", "#fcd34d"))
    if item.get("mine"):
        parts.append(("yours", "italic"))
    text = Text(style="#e5e7eb")
    for i, (part, style) in enumerate(parts):
        if i:
            text.append(" · ", style="dim")
        text.append(part, style=style)
    return text


# Unambiguous markers a search snippet may put around a match (STX/ETX can never
# occur in post text).  The node currently uses "[" and "]", handled below.
_MARKERS: tuple[tuple[str, str], ...] = (("\x02", "\x03"),)

_BRACKETED = re.compile(r"\[([^\[\]\n]{1,200})\]")
HIGHLIGHT = Style(bold=True, color="black", bgcolor="#fde047")


def snippet_text(snippet: str, query: str = "") -> Text:
    """Render a search snippet with its marked matches highlighted.

    If the snippet carries none of the known markers, the words of ``query``
    are highlighted instead, so a result is never shown without its match.
    """
    for start, end in _MARKERS:
        if start in snippet and end in snippet[snippet.index(start) + len(start) :]:
            text = Text()
            pos = 0
            while True:
                i = snippet.find(start, pos)
                j = snippet.find(end, i + len(start)) if i >= 0 else -1
                if i < 0 or j < 0:
                    text.append(snippet[pos:])
                    return text
                text.append(snippet[pos:i])
                text.append(snippet[i + len(start) : j], style=HIGHLIGHT)
                pos = j + len(end)
    words = [re.escape(w) for w in re.findall(r"\w+", query) if len(w) > 1]
    if "[" in snippet and "]" in snippet:
        # The node's default markers are square brackets, which user text may also hold:
        # a bracketed span is a match only if it contains one of the query's words.
        terms = [w.lower() for w in re.findall(r"\w+", query)]
        text = Text()
        pos = 0
        found = False
        for m in _BRACKETED.finditer(snippet):
            inner = m.group(1)
            if terms and not any(t in inner.lower() or inner.lower() in t for t in terms):
                continue
            text.append(snippet[pos : m.start()])
            text.append(inner, style=HIGHLIGHT)
            pos = m.end()
            found = True
        if found:
            text.append(snippet[pos:])
            return text
    text = Text(snippet)
    if words:
        text.highlight_regex(re.compile("|".join(words), re.IGNORECASE), style=HIGHLIGHT)
    return text
