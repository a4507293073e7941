"""The store's rows as the control API's types: hex ids, kind names, per-thread icons and the crown.

The display rules live here, not in the store; docs/control-api.md has the
shapes they produce.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, Literal

import protocol

from .. import api
from ..store import FeedPage, PostRow, RootRow, SearchRow, ThreadRows

__all__ = ["KIND_NAMES", "feed_item", "feed_page", "icon", "search_hit", "thread_result"]

ICON_GLYPHS: Final = 16
ICON_COLOURS: Final = 12
_ICON_INFO: Final = b"p2pnet/v1/icon"

_POST_KINDS: Final[dict[int, Literal["post", "reply"]]] = {protocol.KIND_POST: "post", protocol.KIND_REPLY: "reply"}
KIND_NAMES: Final[dict[int, api.Kind]] = {
    **_POST_KINDS,
    protocol.KIND_HEART: "heart",
    protocol.KIND_FLAG: "flag",
    protocol.KIND_DELETE: "delete",
}


def icon(pubkey: bytes) -> api.Icon:
    """The per-thread icon of a participant.

    Derived from the thread key alone, so it is stable for one person within a
    thread and unrelated across threads (the keys are).

    Args:
        pubkey: The key that signed the post or reply.
    """
    digest = hashlib.sha256(_ICON_INFO + pubkey).digest()
    return api.Icon(glyph=digest[0] % ICON_GLYPHS, colour=digest[1] % ICON_COLOURS)


def feed_item(row: RootRow) -> api.FeedItem:
    """A root post as the feed shows it."""
    return api.FeedItem(
        id=row.id.hex(),
        text=row.text,
        bg=row.bg,
        name=row.name,
        created=row.created,
        expires=row.expires,
        hearts=row.hearts,
        replies=row.replies,
        flags=row.flags,
        mine=row.mine,
        hearted=row.hearted,
        collapsed=row.collapsed,
    )


def feed_page(page: FeedPage) -> api.FeedPage:
    """A page of the feed and the cursor to pass back for the next."""
    return api.FeedPage(
        posts=[feed_item(row) for row in page.rows], cursor=None if page.next is None else list(page.next)
    )


def thread_result(rows: ThreadRows) -> api.ThreadResult:
    """A thread: every item with its writer's icon, and the crown on the original poster's key."""
    author = rows.root.pubkey
    root = rows.root
    return api.ThreadResult(
        root=api.ThreadRoot(
            **_thread_fields(root, author), bg=root.bg, name=root.name, expires=root.expires, replies=root.replies
        ),
        replies=[api.ThreadItem(**_thread_fields(row, author)) for row in rows.replies],
        hidden=rows.hidden,
    )


def _thread_fields(row: PostRow, author: bytes) -> dict[str, Any]:
    """What a thread shows of any post or reply, the root included."""
    return {
        "id": row.id.hex(),
        "kind": _POST_KINDS[row.kind],
        "pubkey": row.pubkey.hex(),
        "is_author": row.pubkey == author,
        "icon": icon(row.pubkey),
        "text": row.text,
        "created": row.created,
        "hearts": row.hearts,
        "flags": row.flags,
        "parent": None if row.parent is None else row.parent.hex(),
        "mine": row.mine,
        "hearted": row.hearted,
        "collapsed": row.collapsed,
    }


def search_hit(row: SearchRow) -> api.SearchHit:
    """A search hit, with the thread to open."""
    return api.SearchHit(
        id=row.id.hex(),
        kind=_POST_KINDS[row.kind],
        root=row.root.hex(),
        text=row.text,
        created=row.created,
        hearts=row.hearts,
        matches=[list(span) for span in row.matches],
    )
