"""A fake node for the TUI's tests: the real control API served from an in-memory model.

It is the layer below the TUI, not a mock of it: a Unix socket speaking the
line protocol of docs/control-api.md, params decoded with the contract's own
types (``api.METHODS``), answers and events sent as the contract's Structs.
The TUI connects to it as to a daemon.  Behind the socket, :class:`Model`
keeps posts, replies, hearts, flags, deletes and swarms in memory, as real
signed :mod:`protocol` objects, so ids, coarsened times, per-thread keys,
icons and the author's crown come out as a node would show them
(tests/test_tui.py checks the fixed data against a real daemon).

Private messages are kept by :class:`~tests.harness.fakedm.Mail`.
Left out, because no screen needs them: the network (a join reaches the
swarms a test says are out there), sync, persistence, identity restore, and
shutdown.

The server runs in a thread with an asyncio loop of its own, so a Pilot test
(the app in ``asyncio.run``) and a snapshot test (the app in the plugin's own
loop) reach it alike.  Everything that touches the model runs on that loop:
requests through the socket, and a test's own changes through
:meth:`FakeNode.run`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

import protocol
from p2pnet import api
from p2pnet.api import ControlClient, ControlError, Home, decode_line, encode_line, locked_note
from p2pnet.node._addrs import check_announce_ip
from p2pnet.node._reachnote import reach_note
from p2pnet.node._shape import icon
from p2pnet.store import DEFAULT_FLAG_THRESHOLD, DEFAULT_QUOTA, MIN_QUOTA, popular_score

from .fakedm import Mail

__all__ = ["FakeNode", "Model", "fake_node", "invite_to"]

T = TypeVar("T")
PEER = "12D3KooWFake"
_WORD = re.compile(r"\w+")


def _kind(obj: protocol.WireObject) -> Any:
    """The API's name of an object's kind: protocol names its classes the same way (Post is "post")."""
    return type(obj).__name__.lower()


def invite_to(name: str, psk: bytes | None = None, ip: str = "192.0.2.2") -> str:
    """An invite key to a swarm called ``name`` (a fresh key unless ``psk``), naming one made-up peer at ``ip``."""
    psk = os.urandom(32) if psk is None else psk
    return protocol.encode_invite(protocol.Invite(name, psk, (f"/ip4/{ip}/tcp/4001/p2p/{PEER}",)))


def _text(value: str, what: str) -> str:
    if not value.strip():
        raise ControlError("bad_request", f"'{what}' must not be empty")
    return value


@dataclass
class Stored:
    """One stored object and what the node knows of it besides its bytes."""

    signed: protocol.Signed
    arrival: int  # the order it was stored in: Latest's tie-break inside one 10-minute step
    seen: int  # the 10-minute step it was first seen in
    swarms: set[str]
    mine: bool

    @property
    def place(self) -> int:
        """Where it stands in Latest and in its thread: its claimed time, but never after it was first seen."""
        return min(self.signed.obj.created, self.seen)

    @property
    def order(self) -> tuple[int, int]:
        """Latest's and a thread's key: place, then arrival here."""
        return (self.place, self.arrival)


@dataclass
class Model:
    """What a node holds, in memory, and the control API's methods on it.

    Args:
        seed: the identity seed; None for a node with no identity yet.
        passphrase: the identity is locked until this is given.
        clock: Unix time, for new objects, expiry and Popular.
    """

    seed: bytes | None = None
    passphrase: str | None = None
    clock: Callable[[], float] = time.time
    swarms: dict[str, bytes] = field(default_factory=dict)  # name -> key
    quotas: dict[str, int] = field(default_factory=dict)  # name -> quota set by swarm.set (no eviction here)
    thresholds: dict[str, int] = field(default_factory=dict)  # name -> flag threshold set by swarm.set
    muted_words: set[str] = field(default_factory=set)
    muted_keys: dict[bytes, bytes] = field(default_factory=dict)  # thread key -> its thread
    hidden: set[bytes] = field(default_factory=set)  # hidden threads
    out_there: set[bytes] = field(default_factory=set)  # keys of swarms whose peers answer a join
    objects: dict[bytes, Stored] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # requests served, by method
    publish: Callable[[api.Event], None] = lambda event: None
    home: Home = field(default_factory=lambda: Home(Path("/nowhere")))  # where its socket is: hints name it
    announce_ip: str | None = None  # the address invites name, set with announce (else local_ip)
    local_ip: str = "192.0.2.2"  # this machine's own address (a test puts it behind NAT with a private one)
    reachability: Literal["public", "behind_nat", "unknown"] = "unknown"  # what peers see of us (no network here)
    seen_at: list[str] = field(default_factory=list)  # where peers see us, when behind NAT
    _arrivals: int = field(default=0, init=False)
    _locked: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._locked = self.seed is not None and self.passphrase is not None
        self._handlers: dict[type[api.Request[Any]], Callable[[Any], api.Result]] = {
            api.Status: self.status,
            api.IdentityCreate: self.identity_create,
            api.IdentityRestore: self.identity_restore,
            api.IdentityUnlock: self.identity_unlock,
            api.SwarmCreate: self.swarm_create,
            api.SwarmJoin: self.swarm_join,
            api.SwarmInvite: self.swarm_invite,
            api.SwarmLeave: self.swarm_leave,
            api.SwarmList: self.swarm_list,
            api.SwarmSet: self.swarm_set,
            api.Announce: self.announce,
            api.Post: self.post,
            api.Reply: self.reply,
            api.Heart: self.heart,
            api.Flag: self.flag,
            api.Delete: self.delete,
            api.Feed: self.feed,
            api.Thread: self.thread,
            api.Search: self.search,
            api.Peers: self.peers,
            api.Mute: self.mute,
            api.Unmute: self.unmute,
            api.MuteList: lambda _: self._mutes(),
            api.Subscribe: lambda _: api.Subscribed(subscribed=True),
        }
        self.mail = Mail(self)
        self._handlers |= self.mail.handlers()

    # -- the door -------------------------------------------------------------------------

    def dispatch(self, method: str, params: Any) -> api.Result:
        """Run one request as the node would: params checked against the contract first.

        Raises:
            ControlError: the node's refusal, with its code.
        """
        entry = api.METHODS.get(method)
        if entry is None or entry[0] not in self._handlers:
            raise ControlError("unknown_method", f"unknown method {method!r}")
        try:
            request = msgspec.convert(params, entry[0])
        except msgspec.ValidationError as exc:
            raise ControlError("bad_request", f"{method}: {exc}") from None
        self.calls[method] += 1
        try:
            return self._handlers[entry[0]](request)
        except protocol.ProtocolError as exc:
            raise ControlError("invalid", str(exc)) from None

    def now(self) -> int:
        return int(self.clock())

    @property
    def identity(self) -> Literal["none", "locked", "ready"]:
        return "none" if self.seed is None else "locked" if self._locked else "ready"

    def _seed(self) -> bytes:
        if self.seed is None:
            raise ControlError(
                "no_identity", "this node has no identity yet: create one first with: " + self.home.command("init")
            )
        if self._locked:
            raise ControlError("locked", locked_note(self.home))
        return self.seed

    # -- node, identity and swarms -------------------------------------------------------

    def status(self, _: api.Status) -> api.StatusResult:
        kinds = Counter(_kind(s.signed.obj) for s in self.objects.values())
        counts = api.Counts(
            objects=len(self.objects),
            posts=kinds["post"],
            replies=kinds["reply"],
            hearts=kinds["heart"],
            flags=kinds["flag"],
            tombstones=kinds["delete"],
            pending_deletes=0,
            erased=0,
            swarms=len(self.swarms),
            peers=0,
            own=sum(s.mine for s in self.objects.values()),
            held=0,
        )
        idle = api.SyncStatus(
            state="idle",
            peers=[],
            received=0,
            expected=0,
            sessions_ok=0,
            sessions_failed=0,
            fetched=0,
            sent=0,
            last_session=None,
            last=None,
        )
        running = [
            api.SwarmStatus(
                name=n, peer_id=PEER, peers=0, sync=idle, reachability=self.reachability, reach_note=self._reach_note()
            )
            for n in self._running()
        ]
        return api.StatusResult(
            version=api.API_VERSION,
            home="(in memory)",
            pid=os.getpid(),
            identity=self.identity,
            uptime=0,
            counts=counts,
            gossip=api.GossipCounts(),
            failures={},
            swarms=running,
            minting=0,
            usage=[self._usage(name) for name in self.swarms],
        )

    def _usage(self, name: str) -> api.SwarmUsage:
        held = [s.signed.wire for s in self.objects.values() if name in s.swarms]
        quota = self.quotas.get(name, DEFAULT_QUOTA)
        return api.SwarmUsage(swarm=name, objects=len(held), bytes=sum(map(len, held)), quota=quota, evicted=0)

    def _running(self) -> list[str]:
        return list(self.swarms) if self.identity == "ready" else []

    def identity_create(self, p: api.IdentityCreate) -> api.IdentityCreated:
        if self.seed is not None:
            raise ControlError("identity_exists", "this node already has an identity")
        self.seed, self.passphrase = protocol.new_seed(), p.passphrase or None
        return api.IdentityCreated(phrase=protocol.seed_to_phrase(self.seed), sealed=bool(p.passphrase))

    def identity_restore(self, p: api.IdentityRestore) -> api.IdentityRestored:
        if self.seed is not None:
            raise ControlError("identity_exists", "this node already has an identity")
        self.seed, self.passphrase = protocol.phrase_to_seed(p.phrase), p.passphrase or None
        return api.IdentityRestored(restored=True)

    def identity_unlock(self, p: api.IdentityUnlock) -> api.IdentityState:
        if self._locked:
            if p.passphrase != self.passphrase:
                raise ControlError("bad_passphrase", "wrong passphrase for this identity")
            self._locked = False
        return api.IdentityState(identity=self.identity)

    def _swarm(self, name: str) -> str:
        if name not in self.swarms:
            raise ControlError(
                "no_swarm", f"you are not in a swarm called {name!r} (see: {self.home.command('swarm', 'list')})"
            )
        return name

    def swarm_create(self, p: api.SwarmCreate) -> api.SwarmCreated:
        self._seed()
        name = _text(p.name, "name").strip()
        if name in self.swarms:
            raise ControlError("swarm_exists", f"you are already in a swarm called {name!r}")
        psk = os.urandom(32)
        invite = invite_to(name, psk, self.announce_ip or self.local_ip)
        self.swarms[name] = psk
        self.publish(api.SwarmEvent(joined=name))
        return api.SwarmCreated(name=name, invite=invite, peer_id=PEER, reach_note=self._reach_note())

    def swarm_invite(self, p: api.SwarmInvite) -> api.SwarmInviteResult:
        name = self._swarm(p.name)
        invite = invite_to(name, self.swarms[name], self.announce_ip or self.local_ip)
        return api.SwarmInviteResult(name=name, invite=invite, reach_note=self._reach_note())

    def _reach_note(self) -> str:
        """The node's own warning, from the same facts a node has (no peers connected here)."""
        ips = [self.announce_ip or self.local_ip]
        announce = self.home.command("announce", "IP")
        seen = self.seen_at
        return reach_note(
            reachability=self.reachability, invite_ips=ips, seen_at=seen, public_peers=0, port=4001, announce=announce
        )

    def announce(self, p: api.Announce) -> api.Announced:
        if p.ip is not None or p.clear:
            self.announce_ip = None if p.clear else check_announce_ip(p.ip or "")
        return api.Announced(ip=self.announce_ip, ips=[self.announce_ip or self.local_ip])

    def swarm_join(self, p: api.SwarmJoin) -> api.SwarmJoined:
        self._seed()
        try:
            invite = protocol.decode_invite(p.invite, now=self.now())
        except protocol.InviteError as exc:
            raise ControlError("bad_invite", str(exc)) from None
        if invite.psk in self.swarms.values():
            raise ControlError("swarm_exists", f"you are already in this swarm ({invite.name!r})")
        name = invite.name if invite.name not in self.swarms else p.name or f"{invite.name}-2"
        for n, addr in enumerate(invite.bootstrap, 1):
            self.publish(api.JoinProgress(swarm=name, trying=addr, n=n, of=len(invite.bootstrap)))
        if invite.psk not in self.out_there:
            raise ControlError(
                "join_failed",
                f"none of the {len(invite.bootstrap)} peers in the invite answered; "
                "ask your friend to start their node, or for a fresh invite",
            )
        self.swarms[name] = invite.psk
        self.publish(api.SwarmEvent(joined=name))
        return api.SwarmJoined(name=name, connected=len(invite.bootstrap), peer_id=PEER)

    def swarm_leave(self, p: api.SwarmLeave) -> api.SwarmLeft:
        name = self._swarm(p.name)
        del self.swarms[name]
        for stored in self.objects.values():
            stored.swarms.discard(name)
        # What no other swarm holds goes with it; deletes stay.
        before = len(self.objects)
        for oid, stored in list(self.objects.items()):
            if not stored.swarms and not isinstance(stored.signed.obj, protocol.Delete):
                self._erase(oid)
        self.publish(api.SwarmLeftEvent(left=name, dropped=before - len(self.objects)))
        return api.SwarmLeft(left=name)

    def swarm_set(self, p: api.SwarmSet) -> api.SwarmSettings:
        name = self._swarm(p.name)
        if p.quota is not None:
            if p.quota < MIN_QUOTA:
                raise ControlError("bad_request", f"swarm.set: quota must be at least {MIN_QUOTA}")
            self.quotas[name] = p.quota
        if p.flag_threshold is not None:
            self.thresholds[name] = p.flag_threshold
        return api.SwarmSettings(
            name=name,
            quota=self.quotas.get(name, DEFAULT_QUOTA),
            flag_threshold=self.thresholds.get(name, DEFAULT_FLAG_THRESHOLD),
        )

    def swarm_list(self, _: api.SwarmList) -> api.SwarmListResult:
        running = self.identity == "ready"
        addrs = [f"/ip4/127.0.0.1/tcp/4001/p2p/{PEER}"] if running else []
        return api.SwarmListResult(
            swarms=[
                api.SwarmInfo(name=n, running=running, peer_id=PEER if running else None, peers=0, addrs=addrs)
                for n in self.swarms
            ]
        )

    def peers(self, _: api.Peers) -> api.PeersResult:
        return api.PeersResult(
            swarms=[
                api.SwarmPeers(
                    swarm=n, peer_id=PEER, connected=[], mesh=[], known=0, addressed=[], invalid={}, stem_invalid={}
                )
                for n in self._running()
            ]
        )

    # -- storing -------------------------------------------------------------------------------

    def store(self, signed: protocol.Signed, swarms: set[str], *, mine: bool) -> None:
        """Store an object (ours, or one that came from a peer) and tell subscribers."""
        obj = signed.obj
        if signed.id in self.objects or self._reacted(obj):
            return
        self._arrivals += 1
        self.objects[signed.id] = Stored(signed, self._arrivals, protocol.coarsen(self.now()), set(swarms), mine)
        if isinstance(obj, protocol.Message):
            if not mine:
                self.mail.arrived(signed)
            return  # a sealed message is no object event: nothing says whom it is for
        if isinstance(obj, protocol.Delete):
            self._erase(obj.target)
        concerns = obj.root if isinstance(obj, protocol.Reply) else getattr(obj, "target", signed.id)
        if (
            self._muted(self.objects[signed.id])
            or concerns in self.hidden
            or (concerns in self.objects and self._muted(self.objects[concerns]))
        ):
            return  # the node announces nothing the user muted
        post = self.objects.get(concerns)
        live = post is not None and isinstance(post.signed.obj, protocol.Post) and self._live(post)
        self.publish(
            api.ObjectEvent(
                id=signed.id.hex(),
                kind=_kind(obj),
                swarm=min(swarms) if swarms else None,
                root=obj.root.hex() if isinstance(obj, protocol.Reply) else None,
                target=None if isinstance(obj, protocol.Post | protocol.Reply) else concerns.hex(),
                item=self._feed_item(post) if post is not None and live else None,
            )
        )

    def arrive(self, signed: protocol.Signed, swarm: str) -> None:
        """An object made elsewhere comes in through ``swarm``."""
        self.store(signed, {swarm}, mine=False)

    def _erase(self, oid: bytes) -> None:
        """Erase an object with what hangs on it: a post's replies, the hearts and flags on each."""
        victims = [oid]
        gone = self.objects.pop(oid, None)
        if gone is not None and isinstance(gone.signed.obj, protocol.Post):
            victims += [r.signed.id for r in self._replies(oid)]
        for vid in list(victims):
            victims += [s.signed.id for s in self._on(vid, protocol.Heart) + self._on(vid, protocol.Flag)]
        for vid in victims:
            self.objects.pop(vid, None)

    def purge(self) -> int:
        """Erase the posts whose self-destruct time has come, as the node's maintenance does; returns how many."""
        before = len(self.objects)
        for stored in list(self.objects.values()):
            if isinstance(stored.signed.obj, protocol.Post) and not self._live(stored):
                self._erase(stored.signed.id)
        count = before - len(self.objects)
        if count:
            self.publish(api.Purged(count=count))
        return count

    def _commit(self, signed: protocol.Signed, swarms: set[str]) -> api.Published:
        self.store(signed, swarms, mine=True)
        return api.Published(id=signed.id.hex(), published_to=len(swarms))

    def _get(self, ident: str) -> Stored:
        if not re.fullmatch(r"[0-9a-fA-F]{6,64}", ident):
            raise ControlError("bad_request", f"an id is 6 to 64 hex characters, not {ident!r}")
        found = [s for oid, s in self.objects.items() if oid.hex().startswith(ident.lower())]
        if len(found) > 1:
            raise ControlError("ambiguous_id", f"id prefix {ident} matches more than one object; give more characters")
        if not found:
            raise ControlError("not_found", f"no post or reply with id {ident!r} is known here")
        return found[0]

    def _root_of(self, stored: Stored) -> Stored:
        obj = stored.signed.obj
        if isinstance(obj, protocol.Reply):
            root = self.objects.get(obj.root)
            if root is None:
                raise ControlError("not_found", "the thread's first post has not arrived here yet")
            return root
        return stored

    # -- posting ---------------------------------------------------------------------------------

    def post(self, p: api.Post) -> api.Published:
        seed = self._seed()
        if p.swarm:
            swarm = self._swarm(p.swarm)
        elif not self.swarms:
            raise ControlError("no_swarm", "you are in no swarm yet: create one or join one with an invite key")
        elif len(self.swarms) > 1:
            names = ", ".join(self.swarms)
            raise ControlError("choose_swarm", f"you are in several swarms ({names}): say which one to post in")
        else:
            swarm = next(iter(self.swarms))
        signed = protocol.make_post(
            seed, _text(p.text, "text"), now=self.now(), bg=p.bg or "slate", name=p.name or None, expires_in=p.expires
        )
        return self._commit(signed, {swarm})

    def reply(self, p: api.Reply) -> api.Published:
        seed = self._seed()
        parent = self._get(p.id)
        root = self._root_of(parent)
        signed = protocol.make_reply(seed, root.signed, _text(p.text, "text"), now=self.now(), parent=parent.signed.id)
        return self._commit(signed, root.swarms)

    def heart(self, p: api.Heart) -> api.Published:
        target = self._get(p.id)
        return self._commit(protocol.make_heart(self._seed(), target.signed.id, now=self.now()), target.swarms)

    def flag(self, p: api.Flag) -> api.Published:
        target = self._get(p.id)
        signed = protocol.make_flag(self._seed(), target.signed.id, now=self.now(), reason=p.reason or "other")
        return self._commit(signed, target.swarms)

    def delete(self, p: api.Delete) -> api.Published:
        seed = self._seed()
        target = self._get(p.id)
        root = self._root_of(target).signed if isinstance(target.signed.obj, protocol.Reply) else None
        try:
            signed = protocol.make_delete(seed, target.signed, now=self.now(), root=root)
        except protocol.NotAuthor:
            raise ControlError("not_yours", "only its author can delete a post, and this one is not yours") from None
        return self._commit(signed, target.swarms)

    # -- reading ----------------------------------------------------------------------------------

    def _live(self, post: Stored) -> bool:
        expires = getattr(post.signed.obj, "expires", None)
        return expires is None or expires > self.now()

    def _replies(self, root: bytes) -> list[Stored]:
        found = [s for s in self.objects.values() if getattr(s.signed.obj, "root", None) == root]
        return sorted(found, key=lambda s: s.order)

    def _reacted(self, obj: protocol.WireObject) -> bool:
        """A heart or flag by a key that already hearted (flagged) that target: the node keeps the first."""
        if not isinstance(obj, protocol.Heart | protocol.Flag):
            return False
        return any(s.signed.obj.pubkey == obj.pubkey for s in self._on(obj.target, type(obj)))

    def _on(self, target: bytes, kind: type[protocol.Heart | protocol.Flag]) -> list[Stored]:
        """The hearts or flags on ``target``."""
        return [s for s in self.objects.values() if isinstance(s.signed.obj, kind) and s.signed.obj.target == target]

    def _counts(self, stored: Stored) -> dict[str, Any]:
        hearts = self._on(stored.signed.id, protocol.Heart)
        flags = len(self._on(stored.signed.id, protocol.Flag))
        threshold = min((self.thresholds.get(s, DEFAULT_FLAG_THRESHOLD) for s in stored.swarms), default=3)
        return {
            "id": stored.signed.id.hex(),
            "hearts": len(hearts),
            "flags": flags,
            "mine": stored.mine,
            "hearted": any(h.mine for h in hearts),
            "collapsed": flags >= threshold,
        }

    # -- moderation ---------------------------------------------------------------------------

    def _muted(self, stored: Stored, *, threads: bool = True) -> bool:
        """A post or reply the user muted: its writer in its thread, a muted word (as whole words), its thread."""
        obj = stored.signed.obj
        if not isinstance(obj, protocol.Post | protocol.Reply):
            return False
        if obj.pubkey in self.muted_keys:
            return True
        if threads and (obj.root if isinstance(obj, protocol.Reply) else stored.signed.id) in self.hidden:
            return True
        words = [w.lower() for w in _WORD.findall(obj.text)]
        for muted in self.muted_words:
            phrase = _WORD.findall(muted)
            if any(words[i : i + len(phrase)] == phrase for i in range(len(words))):
                return True
        return False

    def _writer(self, ident: str) -> tuple[bytes, bytes]:
        stored = self._get(ident)
        return stored.signed.obj.pubkey, self._root_of(stored).signed.id

    def mute(self, p: api.Mute) -> api.Mutes:
        if sum(x is not None for x in (p.word, p.author, p.thread)) != 1:
            raise ControlError("bad_request", "mute: give one of word, author or thread")
        if p.word is not None:
            word = " ".join(p.word.split()).lower()
            if not any(ch.isalnum() for ch in word) or len(word) > 64:
                raise ControlError("bad_request", "mute: a muted word has 1 to 64 characters and a letter or digit")
            self.muted_words.add(word)
        elif p.author is not None:
            key, root = self._writer(p.author)
            self.muted_keys[key] = root
        elif p.thread is not None:
            self.hidden.add(self._root_of(self._get(p.thread)).signed.id)
        return self._mutes()

    def unmute(self, p: api.Unmute) -> api.Mutes:
        if sum(x is not None for x in (p.word, p.author, p.thread)) != 1:
            raise ControlError("bad_request", "unmute: give one of word, author or thread")
        if p.word is not None:
            found = " ".join(p.word.split()).lower() in self.muted_words
            self.muted_words.discard(" ".join(p.word.split()).lower())
        elif p.author is not None:
            listed = {k.hex(): k for k in self.muted_keys}
            key = listed.get(p.author) or self._writer(p.author)[0]
            found = self.muted_keys.pop(key, None) is not None
        else:
            assert p.thread is not None
            listed = {r.hex(): r for r in self.hidden}
            root = listed.get(p.thread) or self._root_of(self._get(p.thread)).signed.id
            found = root in self.hidden
            self.hidden.discard(root)
        if not found:
            raise ControlError("not_found", "that is not muted here (see: p2pnet mutes)")
        return self._mutes()

    def _mutes(self) -> api.Mutes:
        roots = {r: self.objects.get(r) for r in self.hidden}
        return api.Mutes(
            words=sorted(self.muted_words),
            authors=[api.MutedAuthor(key=k.hex(), thread=r.hex(), icon=icon(k)) for k, r in self.muted_keys.items()],
            threads=[
                api.MutedThread(id=r.hex(), text=None if s is None else api.preview(s.signed.obj.text))
                for r, s in roots.items()
            ],
        )

    def _feed_item(self, post: Stored) -> api.FeedItem:
        obj = post.signed.obj
        assert isinstance(obj, protocol.Post)
        return api.FeedItem(
            text=obj.text,
            bg=obj.bg,
            name=obj.name,
            created=obj.created,
            expires=obj.expires,
            replies=len(self._replies(post.signed.id)),
            **self._counts(post),
        )

    def _posts(self, swarm: str | None) -> list[Stored]:
        return [
            s
            for s in self.objects.values()
            if isinstance(s.signed.obj, protocol.Post)
            and self._live(s)
            and (swarm is None or swarm in s.swarms)
            and not self._muted(s)
        ]

    def feed(self, p: api.Feed) -> api.FeedPage:
        posts = self._posts(self._swarm(p.swarm) if p.swarm else None)
        if p.popular:
            now, offset = (p.cursor[0], p.cursor[1]) if p.cursor else (self.now(), 0)
            scored = [(self._feed_item(s), s.place) for s in posts]
            scored.sort(key=lambda i: (popular_score(i[0].hearts, i[1], now), i[1], i[0].id), reverse=True)
            page = [item for item, _ in scored[offset : offset + p.limit]]
            return api.FeedPage(posts=page, cursor=[now, offset + len(page)] if len(page) == p.limit else None)
        order = sorted(posts, key=lambda s: s.order, reverse=True)
        if p.cursor:
            order = [s for s in order if s.order < (p.cursor[0], p.cursor[1])]
        chosen = order[: p.limit]
        last = list(chosen[-1].order) if len(chosen) == p.limit else None
        return api.FeedPage(posts=[self._feed_item(s) for s in chosen], cursor=last)

    def _thread_fields(self, stored: Stored, root: Stored) -> dict[str, Any]:
        obj = stored.signed.obj
        assert isinstance(obj, protocol.Post | protocol.Reply)
        return {
            "kind": _kind(obj),
            "pubkey": obj.pubkey.hex(),
            "is_author": obj.pubkey == root.signed.obj.pubkey,
            "icon": icon(obj.pubkey),
            "text": obj.text,
            "created": obj.created,
            "parent": obj.parent.hex() if isinstance(obj, protocol.Reply) else None,
            **self._counts(stored),
        }

    def thread(self, p: api.Thread) -> api.ThreadResult:
        root = self._root_of(self._get(p.id))
        if not isinstance(root.signed.obj, protocol.Post) or not self._live(root):
            raise ControlError("not_found", "that thread is not known here")
        item = self._feed_item(root)
        head = api.ThreadRoot(
            **self._thread_fields(root, root), bg=item.bg, name=item.name, expires=item.expires, replies=item.replies
        )
        replies = [
            api.ThreadItem(**self._thread_fields(r, root))
            for r in self._replies(root.signed.id)
            if not self._muted(r, threads=False)
        ]
        return api.ThreadResult(root=head, replies=replies, hidden=root.signed.id in self.hidden)

    def search(self, p: api.Search) -> api.SearchResults:
        """Every word of the query must begin a word of the text; ranked by bm25, as FTS5 ranks.

        Words fold case and accents, as the node's tokenizer does; a word of
        one character matches whole words only.
        """
        terms = [_fold(w) for w in _WORD.findall(p.query)]

        def matches(word: str, term: str) -> bool:
            return word == term if len(term) == 1 else word.startswith(term)

        kinds = protocol.Post | protocol.Reply
        texts = [(s, s.signed.obj) for s in self.objects.values() if isinstance(s.signed.obj, kinds)]
        words_of = {s.signed.id: [_fold(w) for w in _WORD.findall(obj.text)] for s, obj in texts}
        total = len(texts)
        average = sum(map(len, words_of.values())) / total if total else 1.0
        having = {t: sum(any(matches(w, t) for w in ws) for ws in words_of.values()) for t in terms}
        hits = []
        for stored, obj in texts:
            words = words_of[stored.signed.id]
            root = self.objects.get(obj.root) if isinstance(obj, protocol.Reply) else stored
            if not terms or root is None or not self._live(root) or self._muted(stored):
                continue
            if not all(any(matches(w, t) for w in words) for t in terms):
                continue
            score = 0.0
            for t in terms:  # FTS5's bm25: k1 = 1.2, b = 0.75, an idf of at least 1e-6
                f = sum(matches(w, t) for w in words)
                idf = max(math.log((total - having[t] + 0.5) / (having[t] + 0.5)), 1e-6)
                score += idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * len(words) / average))
            spans = [
                [m.start(), m.end()] for m in _WORD.finditer(obj.text) if any(matches(_fold(m[0]), t) for t in terms)
            ]
            hit = api.SearchHit(
                id=stored.signed.id.hex(),
                kind=_kind(obj),
                root=root.signed.id.hex(),
                text=obj.text,
                created=obj.created,
                hearts=len(self._on(stored.signed.id, protocol.Heart)),
                matches=spans,
            )
            hits.append((-score, hit.id, hit))
        return api.SearchResults(results=[hit for _, _, hit in sorted(hits)[: p.limit]])


def _fold(word: str) -> str:
    """A word as the node's search tokenizer keeps it: lower case, accents dropped."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


class FakeNode:
    """:class:`Model` behind a control socket, served from a thread of its own."""

    def __init__(self, home: Path, model: Model) -> None:
        self.socket = home / "control.sock"
        self.model = model
        model.home = Home(home)
        self._loop = asyncio.new_event_loop()
        self._subscribers: list[asyncio.StreamWriter] = []
        self._clients: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-node", daemon=True)
        model.publish = self._publish

    def start(self) -> FakeNode:
        self._thread.start()
        self._server = self.run_async(asyncio.start_unix_server(self._serve, str(self.socket), limit=api.MAX_LINE + 1))
        return self

    def stop(self, *, asked: bool = False) -> None:
        """Stop serving and close every connection, as a node that exits (``asked``: it says it stops first).

        A second call does nothing.
        """
        if self._loop.is_closed():
            return

        async def close() -> None:
            if asked:
                self._publish(api.StoppingEvent())
                for writer in self._subscribers:
                    await writer.drain()
            self._server.close()
            for writer in list(self._clients):
                writer.close()
            await self._server.wait_closed()

        self.run_async(close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def run_async(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the server's loop (where the model lives) and return its result."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(call)
        return future.result(timeout=60)

    def call(self, method: str, **params: Any) -> Any:
        """Call the API as another client would (the raw JSON result), like DaemonProcess.call."""
        with ControlClient(self.socket) as client:
            return client.call(method, **params)

    def _publish(self, event: api.Event) -> None:
        line = encode_line({"v": api.API_VERSION, "event": event.event, "data": event})
        for writer in self._subscribers:
            writer.write(line)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while line := await reader.readline():
                reply: dict[str, Any] = {"v": api.API_VERSION, "id": None}
                try:
                    msg = decode_line(line)
                    reply["id"] = msg.get("id")
                    result = self.model.dispatch(str(msg.get("method")), msg.get("params") or {})
                except ControlError as exc:
                    reply |= {"ok": False, "error": {"code": exc.code, "message": exc.message}}
                except Exception as exc:  # a bug in the fake: answer as the node would, so the test fails fast
                    reply |= {"ok": False, "error": {"code": "internal", "message": f"fake node: {exc!r}"}}
                else:
                    reply |= {"ok": True, "result": result}
                    if isinstance(result, api.Subscribed):
                        self._subscribers.append(writer)
                writer.write(encode_line(reply))
                await writer.drain()
        except (ConnectionError, ValueError):
            pass  # the client went away
        finally:
            self._clients.discard(writer)
            if writer in self._subscribers:
                self._subscribers.remove(writer)
            writer.close()


@contextmanager
def fake_node(model: Model | None = None) -> Iterator[FakeNode]:
    """Serve ``model`` (by default a node with an identity and no swarm) for the block."""
    home = Path(tempfile.mkdtemp(prefix="p2pfake"))  # short: Unix socket paths are limited to ~100 bytes
    node = FakeNode(home, model or Model(seed=protocol.new_seed())).start()
    try:
        yield node
    finally:
        node.stop()
        shutil.rmtree(home, ignore_errors=True)
