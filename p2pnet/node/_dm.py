"""The control API's private-message methods: dm, inbox, conversation, conversation.block.

A message is sealed here, then committed like every own object (stored held,
stamped, sent into the stem: ``_outbound``).  What was written and opened
stays in the store's conversations (docs/storage.md, section 9).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import protocol

from .. import api
from ..store import AmbiguousId, ConversationRow, InvalidArgument, UnknownId
from ._errors import ApiError

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["HANDLERS"]


def _conversation_id(node: Node, ident: str) -> bytes | None:
    try:
        return node.store.resolve_conversation(ident)
    except AmbiguousId as exc:
        raise ApiError("ambiguous_id", str(exc)) from None
    except InvalidArgument as exc:
        raise ApiError("bad_request", str(exc)) from None


def _info(row: ConversationRow) -> api.ConversationInfo:
    return api.ConversationInfo(
        id=row.id.hex(),
        about=row.about.hex(),
        started=row.started,
        answered=row.answered,
        blocked=row.blocked,
        unread=row.unread,
        last=row.last,
        messages=row.lines,
        preview=None if row.last_text is None else api.preview(row.last_text),
    )


async def dm(node: Node, p: api.Dm) -> api.DmSent:
    """Write to the author of a post or reply, or in a conversation."""
    seed = node.identity.require()
    if not p.text.strip():
        raise ApiError("bad_request", "'text' must not be empty")
    cid = _conversation_id(node, p.id)
    row: ConversationRow | None = None
    if cid is not None:
        row = node.store.conversation_lines(cid, mark_read=False)[0]
        basis, about = row.basis, row.about
        swarms = node.store.message_swarms([about]) or [rec.raw_id for rec in node.store.swarms()]
    else:
        target = node.get(p.id)
        if not isinstance(target.obj, protocol.Post | protocol.Reply):
            raise ApiError("bad_request", "only the author of a post or reply, or a conversation, can be written to")
        root = node.root_of(target) if isinstance(target.obj, protocol.Reply) else None
        if protocol.own_key(seed, target, root) is not None:
            raise ApiError("bad_request", "that is your own; write to someone else's post or reply")
        basis, about = target.obj.pubkey, target.id
        row = node.store.conversation_by_key(bytes(protocol.conversation_key(seed, basis).verify_key))
        swarms = node.outbound.target_swarms(target)
    if not swarms:
        raise ApiError("no_swarm", "you are in no swarm: nothing can carry the message")
    if row is not None and row.blocked:
        raise ApiError("blocked", "you blocked that conversation: unblock it to write in it")
    key = protocol.conversation_key(seed, basis)
    peer = basis if row is None else row.peer
    now = node.now()
    signed = protocol.seal_message(key, peer, about, p.text, now=now)
    published = await node.outbound.commit(signed, swarms)
    assert isinstance(signed.obj, protocol.Message)
    cid = node.store.record_sent(
        signed.id,
        mine=bytes(key.verify_key),
        basis=basis,
        peer=peer,
        about=about,
        text=p.text,
        sent=protocol.coarsen(now),
        now=now,
    )
    node.mailbox.keys_changed()
    return api.DmSent(id=signed.id.hex(), conversation=cid.hex(), published_to=published.published_to)


async def inbox(node: Node, _: api.Inbox) -> api.InboxResult:
    rows = node.store.conversations()
    return api.InboxResult(conversations=[_info(r) for r in rows], unread=sum(r.unread for r in rows))


def _known(node: Node, ident: str) -> bytes:
    cid = _conversation_id(node, ident)
    if cid is None:
        raise ApiError("not_found", f"no conversation with id {ident!r} here (see: p2pnet inbox)")
    return cid


async def conversation(node: Node, p: api.Conversation) -> api.ConversationResult:
    try:
        row, lines = node.store.conversation_lines(_known(node, p.id))
    except UnknownId as exc:
        raise ApiError("not_found", str(exc)) from None
    return api.ConversationResult(
        conversation=_info(row),
        messages=[api.DmLine(id=x.id.hex(), mine=x.mine, sent=x.sent, seen=x.seen, text=x.text) for x in lines],
    )


async def block(node: Node, p: api.ConversationBlock) -> api.ConversationInfo:
    """Nothing from a blocked conversation is kept or shown; nothing is sent, so the other side cannot tell."""
    row = node.store.block_conversation(_known(node, p.id), p.blocked)
    node.mailbox.keys_changed()
    return _info(row)


HANDLERS: dict[type[api.Request[Any]], Callable[[Node, Any], Awaitable[api.Result]]] = {
    api.Dm: dm,
    api.Inbox: inbox,
    api.Conversation: conversation,
    api.ConversationBlock: block,
}
