"""The fake node's private messages: ``dm``, ``inbox``, ``conversation``, ``conversation.block`` and the ``dm`` event.

Messages are real sealed :mod:`protocol` objects.  A message that arrives is
tried with this identity's keys (its posts', replies' and conversations'),
and what opens is kept as the node's store keeps it
(p2pnet/store/_messages.py: the first answer fixes the other side's key, a
blocked conversation shows nothing, the unread count clears on reading).
Two fake models write to each other by carrying the sealed object across
(:meth:`Mail.carry`).  Left out: the live-key window, and opening off the
event loop (a message is tried as it arrives).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import protocol
from p2pnet import api
from p2pnet.api import ControlError

if TYPE_CHECKING:
    from .fakenode import Model

__all__ = ["Mail"]


@dataclass
class Line:
    id: bytes
    mine: bool
    sent: int
    seen: int
    text: str


@dataclass
class Talk:
    """One conversation, with the columns of the store's ``conversations`` table."""

    id: bytes
    mine: bytes  # this node's conversation key in it (public)
    basis: bytes  # the key that key is derived from
    peer: bytes  # where this node's messages go
    addressed: bytes  # the key the first message was sealed to
    about: bytes
    started: bool
    answered: bool = False
    blocked: bool = False
    unread: int = 0
    last: int = 0
    lines: list[Line] = field(default_factory=list)

    def info(self) -> api.ConversationInfo:
        shown = sorted(self.lines, key=lambda x: x.seen)
        return api.ConversationInfo(
            id=self.id.hex(),
            about=self.about.hex(),
            started=self.started,
            answered=self.answered,
            blocked=self.blocked,
            unread=self.unread,
            last=self.last,
            messages=len(self.lines),
            preview=api.preview(shown[-1].text) if shown else None,
        )


class Mail:
    """What one fake node wrote and opened, and the four methods on it."""

    def __init__(self, model: Model) -> None:
        self.m = model
        self.talks: dict[bytes, Talk] = {}

    def handlers(self) -> dict[type[api.Request[Any]], Callable[[Any], api.Result]]:
        return {
            api.Dm: self.dm,
            api.Inbox: self.inbox,
            api.Conversation: self.conversation,
            api.ConversationBlock: self.block,
            api.Activity: self.activity,
        }

    # -- ids ------------------------------------------------------------------------

    def _resolve(self, ident: str) -> Talk | None:
        if not 1 <= len(ident) <= 64 or any(c not in "0123456789abcdefABCDEF" for c in ident):
            raise ControlError("bad_request", f"{ident!r} is not a hex id")
        found = [t for cid, t in self.talks.items() if cid.hex().startswith(ident.lower())]
        if len(found) > 1:
            more = "give more characters"
            raise ControlError("ambiguous_id", f"id prefix {ident} matches more than one conversation; {more}")
        return found[0] if found else None

    def _known(self, ident: str) -> Talk:
        talk = self._resolve(ident)
        if talk is None:
            raise ControlError("not_found", f"no conversation with id {ident!r} here (see: p2pnet inbox)")
        return talk

    def _by_key(self, mine: bytes) -> Talk | None:
        return next((t for t in self.talks.values() if t.mine == mine), None)

    # -- the methods ------------------------------------------------------------------

    def dm(self, p: api.Dm) -> api.DmSent:
        seed = self.m._seed()
        if not p.text.strip():
            raise ControlError("bad_request", "'text' must not be empty")
        talk = self._resolve(p.id)
        if talk is not None:
            basis, about = talk.basis, talk.about
            held = self.m.objects.get(about)
            swarms = set(held.swarms) if held is not None and held.swarms else set(self.m._running())
        else:
            target = self.m._get(p.id)
            if not isinstance(target.signed.obj, protocol.Post | protocol.Reply):
                raise ControlError(
                    "bad_request", "only the author of a post or reply, or a conversation, can be written to"
                )
            root = self.m._root_of(target).signed if isinstance(target.signed.obj, protocol.Reply) else None
            if protocol.own_key(seed, target.signed, root) is not None:
                raise ControlError("bad_request", "that is your own; write to someone else's post or reply")
            basis, about = target.signed.obj.pubkey, target.signed.id
            talk = self._by_key(bytes(protocol.conversation_key(seed, basis).verify_key))
            swarms = {s for s in target.swarms if s in self.m._running()}
        if not swarms:
            raise ControlError("no_swarm", "you are in no swarm: nothing can carry the message")
        if talk is not None and talk.blocked:
            raise ControlError("blocked", "you blocked that conversation: unblock it to write in it")
        key = protocol.conversation_key(seed, basis)
        peer = basis if talk is None else talk.peer
        now = self.m.now()
        signed = protocol.seal_message(key, peer, about, p.text, now=now)
        self.m.store(signed, swarms, mine=True)
        mine = bytes(key.verify_key)
        if talk is None:
            talk = Talk(protocol.conversation_id(mine), mine, basis, peer, peer, about, started=True, last=now)
            self.talks[talk.id] = talk
        self._add(talk, signed.id, True, protocol.coarsen(now), p.text)
        return api.DmSent(id=signed.id.hex(), conversation=talk.id.hex(), published_to=len(swarms))

    def inbox(self, _: api.Inbox) -> api.InboxResult:
        shown = sorted((t for t in self.talks.values() if not t.blocked), key=lambda t: (-t.last, t.id))
        return api.InboxResult(conversations=[t.info() for t in shown], unread=sum(t.unread for t in shown))

    def conversation(self, p: api.Conversation) -> api.ConversationResult:
        talk = self._known(p.id)
        info = talk.info()
        talk.unread = 0
        lines = sorted(talk.lines, key=lambda x: x.seen)  # stable: the order they were kept in within one step
        return api.ConversationResult(
            conversation=info,
            messages=[api.DmLine(id=x.id.hex(), mine=x.mine, sent=x.sent, seen=x.seen, text=x.text) for x in lines],
        )

    def block(self, p: api.ConversationBlock) -> api.ConversationInfo:
        talk = self._known(p.id)
        talk.blocked = p.blocked
        return talk.info()

    def activity(self, p: api.Activity) -> api.ActivityResult:
        """Replies and hearts by others that concern me, and unread conversations, in the node's order."""
        objects = self.m.objects
        own = {oid for oid, s in objects.items() if s.mine}
        mine_in = {s.signed.obj.root for s in objects.values() if s.mine and isinstance(s.signed.obj, protocol.Reply)}
        replies, hearts = [], []
        for oid, stored in objects.items():
            obj = stored.signed.obj
            if oid in own:
                continue
            if isinstance(obj, protocol.Reply) and (obj.parent in own or obj.root in own or obj.root in mine_in):
                item = (obj.parent, obj.root, obj.text, stored.place, obj.parent in own)
                replies.append((stored.order, api.ActivityItem("reply", oid.hex(), *self._about(*item), unread=0)))
            elif isinstance(obj, protocol.Heart) and obj.target in own and obj.target in objects:
                target = objects[obj.target]
                if isinstance(target.signed.obj, protocol.Post | protocol.Reply):
                    root = self.m._root_of(target).signed.id
                    item = (obj.target, root, target.signed.obj.text, obj.created, True)
                    hearts.append((obj.created, api.ActivityItem("heart", oid.hex(), *self._about(*item), unread=0)))
        found = [i for _, i in sorted(replies, key=lambda r: r[0], reverse=True)]
        found += [i for _, i in sorted(hearts, key=lambda h: h[0], reverse=True)]
        found = sorted(found, key=lambda i: i.when, reverse=True)[: p.limit]
        for talk in self.talks.values():
            if talk.unread and not talk.blocked:
                info = talk.info()
                found.append(
                    api.ActivityItem(
                        "message", info.id, None, info.about, True, info.preview or "", info.last, info.unread
                    )
                )
        return api.ActivityResult(items=sorted(found, key=lambda i: i.when, reverse=True)[: p.limit])

    @staticmethod
    def _about(about: bytes, root: bytes, text: str, when: int, to_you: bool) -> tuple[str, str, bool, str, int]:
        return root.hex(), about.hex(), to_you, api.preview(text), when

    # -- arriving -------------------------------------------------------------------

    def _live(self, seed: bytes) -> list[protocol.LiveKey]:
        keys: dict[bytes, protocol.LiveKey] = {}
        for stored in self.m.objects.values():
            obj = stored.signed.obj
            if not stored.mine or not isinstance(obj, protocol.Post | protocol.Reply):
                continue
            root = self.m.objects.get(obj.root) if isinstance(obj, protocol.Reply) else None
            if isinstance(obj, protocol.Reply) and root is None:
                continue
            signing = protocol.own_key(seed, stored.signed, None if root is None else root.signed)
            if signing is not None:
                keys[bytes(signing.verify_key)] = protocol.live_key(signing)
        for talk in self.talks.values():
            if not talk.blocked:
                key = protocol.conversation_key(seed, talk.basis)
                keys[bytes(key.verify_key)] = protocol.live_key(key)
        return list(keys.values())

    def arrived(self, signed: protocol.Signed) -> None:
        """A message from elsewhere was stored: keep it if it opens here, and say so with a ``dm`` event."""
        seed = self.m.seed
        if seed is None or self.m._locked:
            return  # the real node tries it once the identity is unlocked; no test needs that
        assert isinstance(signed.obj, protocol.Message)
        try:
            opened = protocol.open_message(signed.obj, self._live(seed))
        except protocol.ProtocolError:
            return  # broken inside: counted by the real node, shown nowhere
        if opened is None:
            return
        talk = self._by_key(opened.recipient)
        if talk is not None and talk.blocked:
            return
        if talk is not None:
            if opened.sender != talk.peer:
                if not talk.started or talk.answered:
                    return
                talk.peer = opened.sender  # the first answer: the other side writes from this key from now on
            if talk.started:
                talk.answered = True
        else:
            cid = protocol.conversation_id(opened.sender)
            talk = self.talks.get(cid)
            if talk is None:
                answer = bytes(protocol.conversation_key(seed, opened.sender).verify_key)
                talk = Talk(cid, answer, opened.sender, opened.sender, opened.recipient, opened.about, started=False)
                talk.last = self.m.now()
                self.talks[cid] = talk
            elif talk.addressed != opened.recipient or talk.started:
                return
        if talk.blocked:
            return
        if self._add(talk, signed.id, False, opened.sent, opened.text):
            self.m.publish(api.DmEvent(conversation=talk.id.hex()))

    def _add(self, talk: Talk, message_id: bytes, mine: bool, sent: int, text: str) -> bool:
        if any(x.id == message_id for x in talk.lines):
            return False
        now = self.m.now()
        talk.lines.append(Line(message_id, mine, sent, protocol.coarsen(now), text))
        talk.last = now
        talk.unread += not mine
        return True

    @staticmethod
    def carry(src: Model, dst: Model, swarm: str) -> int:
        """Bring what ``src`` holds into ``dst`` through ``swarm``, as gossip would; returns how many were new."""
        new = [s.signed for oid, s in src.objects.items() if oid not in dst.objects]
        for signed in new:
            dst.arrive(signed, swarm)
        return len(new)
