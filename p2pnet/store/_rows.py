"""The records the store's reads return: values as stored, ids and keys as raw bytes.

No display rule lives here: the node turns these into the control API's types
(hex ids, kind names, per-thread icons).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

DEFAULT_FLAG_THRESHOLD: Final = 3  # flags that collapse a post; docs/storage.md, section 4, says why

__all__ = [
    "DEFAULT_FLAG_THRESHOLD",
    "POST_COLUMNS",
    "ROOT_COLUMNS",
    "FeedPage",
    "MuteRows",
    "PeerRow",
    "PostRow",
    "RootRow",
    "SearchRow",
    "StampNeed",
    "ThreadRows",
    "UsageRow",
    "post_row",
    "root_row",
]

# What a PostRow and a RootRow are read from, in field order, over `posts p`.
# Collapsed: flagged by at least the lowest threshold of the swarms it was seen in.
POST_COLUMNS: Final = f"""p.id, p.kind, p.pubkey, p.text, p.created, p.hearts, p.flags, p.parent,
    EXISTS (SELECT 1 FROM own o WHERE o.id = p.id),
    EXISTS (SELECT 1 FROM hearts h JOIN own o ON o.id = h.id WHERE h.target = p.id),
    p.flags >= coalesce((SELECT min(coalesce(w.flag_threshold, {DEFAULT_FLAG_THRESHOLD}))
        FROM object_swarms s JOIN swarms w ON w.id = s.swarm WHERE s.id = p.id), {DEFAULT_FLAG_THRESHOLD})"""
ROOT_COLUMNS: Final = POST_COLUMNS + ", p.bg, p.name, p.expires, p.replies"


@dataclass(frozen=True, slots=True)
class PostRow:
    """A live post or reply.

    Attributes:
        id: The object's 32-byte id.
        kind: ``protocol.KIND_POST`` or ``protocol.KIND_REPLY``.
        pubkey: The key that signed it: a post's one-time key, a reply's
            thread key (the root's own key when the author replies).
        text: The text as written.
        created: Unix time, coarsened to 10 minutes.
        hearts: Hearts counted for it.
        flags: Flags counted against it.
        parent: What a reply answers (the root or another reply); None for a post.
        mine: This node's identity wrote it.
        hearted: This node's identity hearted it.
        collapsed: Flagged at least as often as the lowest flag threshold
            of the swarms it was seen in: shown behind a notice.
    """

    id: bytes
    kind: int
    pubkey: bytes
    text: str
    created: int
    hearts: int
    flags: int
    parent: bytes | None
    mine: bool
    hearted: bool
    collapsed: bool


@dataclass(frozen=True, slots=True)
class RootRow(PostRow):
    """A live root post: a :class:`PostRow` with the fields only a post has.

    Attributes:
        bg: Background colour name.
        name: Display name chosen for this post, or None.
        expires: Unix time it self-destructs, or None.
        replies: Replies counted in its thread.
    """

    bg: str
    name: str | None
    expires: int | None
    replies: int


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page of the feed: root posts in feed order, and the cursor of the next page (None at the end)."""

    rows: tuple[RootRow, ...]
    next: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class ThreadRows:
    """A root post and its replies, in thread order (place, then arrival here).

    Replies by a muted writer or with a muted word are left out; ``hidden``
    says the user hid the whole thread (it is shown when asked for by id).
    """

    root: RootRow
    replies: tuple[PostRow, ...]
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class SearchRow:
    """One search hit.

    Attributes:
        id: The matching post's or reply's id.
        kind: ``protocol.KIND_POST`` or ``protocol.KIND_REPLY``.
        root: The thread to open: the root post's id (``id`` itself for a post).
        text: The text with each matched word between the caller's markers
            (:meth:`Store.search`), or the plain text (:meth:`Store.find`).
        created: Unix time, coarsened to 10 minutes.
        hearts: Hearts counted for it.
        matches: ``(start, end)`` of each matched word in ``text``, in
            characters (:meth:`Store.find`; empty from :meth:`Store.search`).
    """

    id: bytes
    kind: int
    root: bytes
    text: str
    created: int
    hearts: int
    matches: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class PeerRow:
    """A remembered peer of a swarm: where to redial it and how that went."""

    peer_id: str
    addrs: tuple[str, ...]
    last_seen: int
    failures: int


@dataclass(frozen=True, slots=True)
class StampNeed:
    """A stored object's stamp against what its swarms ask (docs/protocol.md, section 13).

    Attributes:
        wire: The stored wire bytes: the strongest stamp seen.
        work: That stamp's leading zero bits (0 for a version 1 object).
        difficulty: The highest difficulty among the swarms the object is in.
    """

    wire: bytes
    work: int
    difficulty: int


@dataclass(frozen=True, slots=True)
class UsageRow:
    """What a joined swarm's objects take on this node (docs/storage.md, section 7).

    Attributes:
        swarm: The swarm's 32-byte id.
        objects: Objects seen in it (one seen in two swarms counts in both).
        bytes: Their wire bytes.
        quota: The most its objects may take, in wire bytes.
        evicted: Objects evicted from it and still remembered.
    """

    swarm: bytes
    objects: int
    bytes: int
    quota: int
    evicted: int


@dataclass(frozen=True, slots=True)
class MuteRows:
    """What the user muted on this node: words, writers (a thread key and its thread), hidden threads."""

    words: tuple[str, ...]
    keys: tuple[tuple[bytes, bytes], ...]  # (pubkey, root of its thread)
    threads: tuple[bytes, ...]


def post_row(row: Sequence[Any]) -> PostRow:
    """A :class:`PostRow` from a row of :data:`POST_COLUMNS`."""
    return PostRow(**_post_fields(row))


def root_row(row: Sequence[Any]) -> RootRow:
    """A :class:`RootRow` from a row of :data:`ROOT_COLUMNS`."""
    bg, name, expires, replies = row[11:15]
    return RootRow(**_post_fields(row), bg=bg, name=name, expires=expires, replies=replies)


def _post_fields(row: Sequence[Any]) -> dict[str, Any]:
    # SQLite gives the two EXISTS and the comparison as 0 or 1.
    id_, kind, pubkey, text, created, hearts, flags, parent, mine, hearted, collapsed = row[:11]
    return {
        "id": id_,
        "kind": kind,
        "pubkey": pubkey,
        "text": text,
        "created": created,
        "hearts": hearts,
        "flags": flags,
        "parent": parent,
        "mine": bool(mine),
        "hearted": bool(hearted),
        "collapsed": bool(collapsed),
    }
