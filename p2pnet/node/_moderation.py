"""The control API's moderation methods: mute and unmute words, writers and threads, and list them.

Everything here is local: the store keeps the mutes (docs/storage.md,
section 4) and nothing is sent.  Muted posts are still stored, relayed and
served to peers, so no peer can tell what this node mutes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import protocol

from .. import api
from ..store import InvalidArgument
from . import _shape
from ._errors import ApiError

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["HANDLERS"]

_KEY = re.compile(r"[0-9a-f]{64}")


def _one(p: api.Mute | api.Unmute) -> None:
    if sum(x is not None for x in (p.word, p.author, p.thread)) != 1:
        raise ApiError("bad_request", f"{p.method}: give one of word, author or thread")


def _post_or_reply(node: Node, ident: str) -> protocol.Signed:
    signed = node.get(ident)
    if not isinstance(signed.obj, protocol.Post | protocol.Reply):
        raise ApiError("bad_request", "that is not a post or a reply")
    return signed


def _writer(node: Node, ident: str) -> tuple[bytes, bytes]:
    """The thread key that signed a post or reply, and its thread's first post."""
    signed = _post_or_reply(node, ident)
    return signed.obj.pubkey, node.root_of(signed).id


async def mute(node: Node, p: api.Mute) -> api.Mutes:
    _one(p)
    try:
        if p.word is not None:
            node.store.mute_word(p.word)
        elif p.author is not None:
            node.store.mute_key(*_writer(node, p.author))
        elif p.thread is not None:
            node.store.hide_thread(node.root_of(_post_or_reply(node, p.thread)).id)
    except InvalidArgument as exc:
        raise ApiError("bad_request", f"mute: {exc}") from None
    return mutes_result(node)


async def unmute(node: Node, p: api.Unmute) -> api.Mutes:
    _one(p)
    store, muted = node.store, node.store.mutes()
    if p.word is not None:
        found = store.unmute(word=p.word)
    elif p.author is not None:
        # The key as `mutes` lists it, or any post or reply of that writer still stored.
        listed = {key.hex() for key, _ in muted.keys}
        key = bytes.fromhex(p.author) if p.author in listed else _writer(node, p.author)[0]
        found = store.unmute(pubkey=key)
    else:
        assert p.thread is not None
        listed = {root.hex() for root in muted.threads}
        root = p.thread if p.thread in listed else node.root_of(_post_or_reply(node, p.thread)).id.hex()
        found = store.unmute(root=bytes.fromhex(root))
    if not found:
        raise ApiError("not_found", "that is not muted here (see: p2pnet mutes)")
    return mutes_result(node)


async def mutes(node: Node, _: api.MuteList) -> api.Mutes:
    return mutes_result(node)


def mutes_result(node: Node) -> api.Mutes:
    """Everything muted, with the icon each muted writer had and the first words of each hidden thread."""
    muted = node.store.mutes()
    roots = node.store.feed_items(list(muted.threads))
    return api.Mutes(
        words=list(muted.words),
        authors=[api.MutedAuthor(key=key.hex(), thread=root.hex(), icon=_shape.icon(key)) for key, root in muted.keys],
        threads=[
            api.MutedThread(id=root.hex(), text=api.preview(roots[root].text) if root in roots else None)
            for root in muted.threads
        ],
    )


HANDLERS: dict[type[api.Request[Any]], Callable[[Node, Any], Awaitable[api.Result]]] = {
    api.Mute: mute,
    api.Unmute: unmute,
    api.MuteList: mutes,
}
