"""The control API's ``activity``: replies to me and in my threads, hearts on my posts, unread private messages.

Read from the store alone (its ``own`` table and conversations): nothing is
asked of a peer or sent, so no one learns that this node looked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .. import api

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["HANDLERS"]


async def activity(node: Node, p: api.Activity) -> api.ActivityResult:
    items = [
        api.ActivityItem(
            kind=row.kind,
            id=row.id.hex(),
            root=row.root.hex(),
            about=row.about.hex(),
            to_you=row.to_me,
            text=api.preview(row.text),
            when=row.when,
            unread=0,
        )
        for row in node.store.activity(p.limit)
    ]
    items += [
        api.ActivityItem(
            kind="message",
            id=c.id.hex(),
            root=None,
            about=c.about.hex(),
            to_you=True,
            text=api.preview(c.last_text or ""),
            when=c.last,
            unread=c.unread,
        )
        for c in node.store.conversations()
        if c.unread
    ]
    items.sort(key=lambda item: item.when, reverse=True)
    return api.ActivityResult(items=items[: p.limit])


HANDLERS: dict[type[api.Request[Any]], Callable[[Node, Any], Awaitable[api.Result]]] = {api.Activity: activity}
