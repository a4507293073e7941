"""What the command line prints of the node's answers: posts, threads, search hits."""

from __future__ import annotations

import protocol

from .. import api
from ..api import flagged_notice, preview

__all__ = ["age", "marked", "post_text", "thread_text"]


def age(created: int, now: float) -> str:
    seconds = max(0, int(now) - created)
    if seconds < protocol.TIME_QUANTUM:
        return "<10m"  # creation times travel rounded down to 10 minutes
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"


def text_of(item: api.FeedItem | api.ThreadItem, show_flagged: bool) -> str:
    """The text, or for a post collapsed by flags a notice instead (unless asked to show it)."""
    return item.text if show_flagged or not item.collapsed else flagged_notice(item) + " (--show-flagged shows it)"


def post_text(item: api.FeedItem | api.ThreadRoot, now: float, show_flagged: bool) -> str:
    name = f" — {item.name}" if item.name else ""
    head = f"[{item.id[:12]}] {age(item.created, now)} · ♥ {item.hearts} · ↩ {item.replies}"
    return f"{head}{name}\n  " + text_of(item, show_flagged).replace("\n", "\n  ")


def thread_text(thread: api.ThreadResult, now: float, show_flagged: bool = False) -> str:
    """The post, then its replies in the node's order; a reply to a reply names the one it answers."""
    parts = [post_text(thread.root, now, show_flagged)]
    if thread.hidden:
        parts.append(f"  (you hid this thread; p2pnet unhide {thread.root.id[:12]} shows it again)")
    shown = {item.id: item for item in thread.replies}
    for item in thread.replies:
        crown = " ♛" if item.is_author else ""
        lines = [f"    [{item.id[:12]}]{crown} {age(item.created, now)} · ♥ {item.hearts}"]
        if item.parent is not None and item.parent != thread.root.id:
            parent = shown.get(item.parent)
            said = "(not shown here)" if parent is None else f"“{preview(parent.text)}”"
            lines.append(f"      ↳ replying to [{item.parent[:12]}] {said}")
        lines.append("      " + text_of(item, show_flagged).replace("\n", "\n      "))
        parts.append("\n".join(lines))
    return "\n".join(parts)


def marked(hit: api.SearchHit) -> str:
    """A hit's text with each match in brackets."""
    text, out, at = hit.text, [], 0
    for start, end in hit.matches:
        out += [text[at:start], "[", text[start:end], "]"]
        at = end
    return "".join([*out, text[at:]])
