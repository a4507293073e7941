"""The control API's contract: every request, result and event as a type.

The node's handlers take these params and return these results, the CLI and
the TUI send and read them, and docs/control-api.md is checked against them
(tests/test_control_contract.py).  msgspec Structs: one declaration gives the
JSON shape and its validation (bench/control_api.py has the measurement that
chose them over dataclasses with a hand-written validator).

A request's params are validated before any handler runs: wrong types,
missing fields and unknown fields are refused with ``bad_request``.  Results
may grow new fields in a later version; a client ignores what it does not know.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Generic, Literal, TypeVar

import msgspec

import protocol

API_VERSION = 1
MAX_LINE = 1 << 20  # one request or response line; longer ones are refused

Limit = Annotated[int, msgspec.Meta(ge=1, le=500)]
Difficulty = Annotated[int, msgspec.Meta(ge=0, le=protocol.MAX_DIFFICULTY)]
Seconds = Annotated[int, msgspec.Meta(ge=1, le=(1 << 40))]
# A self-destruct time the wire can honour: times travel in 10-minute steps (protocol.TIME_QUANTUM).
Lifetime = Annotated[int, msgspec.Meta(ge=protocol.TIME_QUANTUM, le=protocol.MAX_TTL)]
Kind = Literal["post", "reply", "heart", "flag", "delete"]

R = TypeVar("R")


class Result(msgspec.Struct, kw_only=True):
    """Base of every result and item: plain JSON objects."""


class Request(msgspec.Struct, Generic[R], kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every request's params; ``method`` names it on the wire, :data:`METHODS` its result type."""

    method: ClassVar[str]


class Event(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of every event's data; ``event`` names it on the wire."""

    event: ClassVar[str]


# -- items ---------------------------------------------------------------------


class FeedItem(Result):
    """A root post as the feed shows it."""

    id: str
    text: str
    bg: str
    name: str | None
    created: int
    expires: int | None
    hearts: int
    replies: int
    flags: int
    mine: bool
    hearted: bool
    collapsed: bool = False  # flagged as often as the swarm's threshold: shown behind a notice
    kind: Literal["post"] = "post"


class Icon(Result):
    """A participant's per-thread icon: stable for one key within a thread, unrelated across threads."""

    glyph: Annotated[int, msgspec.Meta(ge=0, le=15)]
    colour: Annotated[int, msgspec.Meta(ge=0, le=11)]


class ThreadItem(Result):
    """A reply (or the root) in a thread."""

    id: str
    kind: Literal["post", "reply"]
    pubkey: str
    is_author: bool  # written with the original poster's key: shown with a crown
    icon: Icon
    text: str
    created: int
    hearts: int
    flags: int
    parent: str | None  # None on the root
    mine: bool
    hearted: bool
    collapsed: bool = False  # flagged as often as the swarm's threshold: shown behind a notice


class ThreadRoot(ThreadItem, kw_only=True):
    """The thread's first post: a thread item with the post's own fields."""

    bg: str
    name: str | None
    expires: int | None
    replies: int


class SearchHit(Result):
    id: str
    kind: Literal["post", "reply"]
    root: str  # the thread to open (the id itself for a root post)
    text: str
    created: int
    hearts: int
    # [start, end] of each matched word in text, in characters; a default, as for every field added since version 1
    matches: list[list[int]] = msgspec.field(default_factory=list)


# -- status --------------------------------------------------------------------


class Counts(Result):
    objects: int
    posts: int
    replies: int
    hearts: int
    flags: int
    tombstones: int
    pending_deletes: int
    erased: int
    swarms: int
    peers: int
    own: int
    held: int


class GossipCounts(Result):
    """Objects that came by gossip since start: received, new ones stored, invalid ones refused."""

    received: int = 0
    stored: int = 0
    invalid: int = 0


class SyncLast(Result):
    peer: str
    initiator: bool
    round_trips: int
    bytes_in: int
    bytes_out: int
    fetched: int
    sent: int
    seconds: float


class SyncStatus(Result):
    state: Literal["idle", "syncing"]
    peers: list[str]
    received: int
    expected: int
    sessions_ok: int
    sessions_failed: int
    fetched: int
    sent: int
    last_session: int | None
    last: SyncLast | None
    busy: int = 0  # our sessions a peer answered BUSY (it asked us to come back later)
    refused: int = 0  # sessions peers started that we answered BUSY


PeerPath = Literal["direct", "hole_punched", "relayed"]


class SwarmStatus(Result):
    name: str
    peer_id: str
    peers: int
    sync: SyncStatus | None
    # Whether peers could dial us, from the addresses connected peers see us at (docs/nat.md).
    reachability: Literal["public", "behind_nat", "unknown"] = "unknown"
    public_peers: int = 0  # connected peers we dialled at an address outside the private ranges
    reach_note: str = ""  # why friends elsewhere may not reach this node, and what to do; "": nothing known
    # The port mapping asked of the home router over UPnP-IGD or NAT-PMP (docs/nat.md); "off" with --no-upnp.
    upnp: Literal["off", "searching", "mapped", "no_gateway", "refused", "double_nat"] = "off"
    upnp_addr: str = ""  # when mapped: the router's "IP:PORT" that forwards here, which invites name first
    upnp_via: Literal["", "UPnP-IGD", "NAT-PMP"] = ""  # when mapped: which protocol the router mapped it over
    # Each connected peer's path: "direct", "hole_punched" (direct after a relayed start) or "relayed".
    paths: dict[str, PeerPath] = msgspec.field(default_factory=dict)
    relay_addrs: list[str] = msgspec.field(default_factory=list)  # our addresses through members' relays
    relaying: int = 0  # circuits this node relays between other members now


class SwarmUsage(Result):
    """What one joined swarm's objects take on this node, against its quota."""

    swarm: str
    objects: int
    bytes: int  # their wire bytes
    quota: int  # the most they may take, in wire bytes
    evicted: int  # objects evicted to keep the quota and still remembered


class MailboxStatus(Result):
    """Private messages tried here since start: the cost of opening, which only this node sees."""

    live_keys: int  # keys each message is tried with (one X25519 each)
    tried: int
    opened: int
    broken: int  # opened, but malformed inside


class StatusResult(Result):
    version: int
    home: str
    pid: int
    identity: Literal["none", "locked", "ready"]
    uptime: int
    counts: Counts
    gossip: GossipCounts
    failures: dict[str, int]  # exceptions survived since start, by task
    swarms: list[SwarmStatus]
    # Fields added since version 1 have defaults, so a client parses an older node's answer too.
    minting: int = 0  # own objects stored and waiting for their proof-of-work stamp before they go out
    bans: int = 0  # peer ids and addresses banned now (peers lists them)
    usage: list[SwarmUsage] = []  # every joined swarm, running or not
    mailbox: MailboxStatus | None = None  # private messages tried here (None from an older node)


# -- requests and their results -----------------------------------------------------


class Status(Request[StatusResult]):
    method: ClassVar[str] = "status"


class IdentityCreated(Result):
    phrase: str  # the 24-word backup phrase, shown once
    sealed: bool


class IdentityCreate(Request[IdentityCreated]):
    method: ClassVar[str] = "identity.create"
    passphrase: str | None = None


class IdentityRestored(Result):
    restored: bool


class IdentityRestore(Request[IdentityRestored]):
    method: ClassVar[str] = "identity.restore"
    phrase: str
    passphrase: str | None = None


class IdentityState(Result):
    identity: Literal["none", "locked", "ready"]


class IdentityUnlock(Request[IdentityState]):
    method: ClassVar[str] = "identity.unlock"
    passphrase: str


class SwarmCreated(Result):
    name: str
    invite: str
    peer_id: str
    reach_note: str = ""  # as in SwarmStatus: why friends elsewhere may not reach this node, and what to do


class SwarmCreate(Request[SwarmCreated]):
    method: ClassVar[str] = "swarm.create"
    name: str
    difficulty: Difficulty = protocol.DEFAULT_DIFFICULTY  # bits of proof of work every object in it needs


class SwarmJoined(Result):
    name: str
    connected: int
    peer_id: str


class SwarmJoin(Request[SwarmJoined]):
    method: ClassVar[str] = "swarm.join"
    invite: str
    name: str | None = None  # only used when a swarm of the invite's name is already joined


class SwarmInviteResult(Result):
    name: str
    invite: str
    reach_note: str = ""  # as in SwarmStatus


class SwarmInvite(Request[SwarmInviteResult]):
    method: ClassVar[str] = "swarm.invite"
    name: str
    expires_in: Seconds | None = None


class SwarmLeft(Result):
    left: str


class SwarmLeave(Request[SwarmLeft]):
    method: ClassVar[str] = "swarm.leave"
    name: str


class Announced(Result):
    ip: str | None  # the address set for invites; None: this machine's own, found by the node
    ips: list[str]  # the IP addresses invites name now; empty: none a friend on another machine could reach


class Announce(Request[Announced]):
    method: ClassVar[str] = "announce"
    ip: str | None = None  # name this address in invites from now on
    clear: bool = False  # name this machine's own addresses again


class SwarmInfo(Result):
    name: str
    running: bool
    peer_id: str | None
    peers: int
    addrs: list[str]


class SwarmListResult(Result):
    swarms: list[SwarmInfo]


class SwarmList(Request[SwarmListResult]):
    method: ClassVar[str] = "swarm.list"


class Published(Result):
    id: str
    published_to: int  # running swarms it goes into, once its stamp is minted


class Post(Request[Published]):
    method: ClassVar[str] = "post"
    text: str
    swarm: str | None = None
    bg: str | None = None
    name: str | None = None
    expires: Lifetime | None = None  # self-destruct after this many seconds, rounded up to a 10-minute mark


class Reply(Request[Published]):
    method: ClassVar[str] = "reply"
    id: str  # the root, or any reply (then it is the parent)
    text: str


class Heart(Request[Published]):
    method: ClassVar[str] = "heart"
    id: str


class Flag(Request[Published]):
    method: ClassVar[str] = "flag"
    id: str
    reason: str | None = None  # spam, abuse, illegal or other (the default)


class Delete(Request[Published]):
    method: ClassVar[str] = "delete"
    id: str


class FeedPage(Result):
    posts: list[FeedItem]
    cursor: list[int] | None  # pass back for the next page; None at the end


class Feed(Request[FeedPage]):
    method: ClassVar[str] = "feed"
    popular: bool = False
    swarm: str | None = None
    limit: Limit = 50
    cursor: list[int] | None = None


class ThreadResult(Result):
    root: ThreadRoot
    replies: list[ThreadItem]
    hidden: bool = False  # the user hid this thread: it is left out of the feed, search and events


class Thread(Request[ThreadResult]):
    method: ClassVar[str] = "thread"
    id: str


class SearchResults(Result):
    results: list[SearchHit]


class Search(Request[SearchResults]):
    method: ClassVar[str] = "search"
    query: str
    limit: Limit = 50


class SwarmPeers(Result):
    swarm: str
    peer_id: str
    connected: list[str]
    mesh: list[str]
    known: int  # peers remembered, to redial after a restart
    addressed: list[str]  # peers the host holds a live address for now
    invalid: dict[str, int]  # invalid gossip messages (and garbled RPCs) per peer
    stem_invalid: dict[str, int]  # invalid stem frames per peer
    outbound: list[str] = msgspec.field(default_factory=list)  # connected peers we dialled: stem relay candidates
    flooded: dict[str, int] = msgspec.field(default_factory=dict)  # valid gossip objects dropped over the limit
    stem_flooded: dict[str, int] = msgspec.field(default_factory=dict)  # stem frames dropped over the limit
    paths: dict[str, PeerPath] = msgspec.field(default_factory=dict)  # as in SwarmStatus


class Ban(Result):
    peer_id: str | None  # None: a ban of the address
    ip: str | None  # the banned address, or the banned peer's
    until: int
    reason: str


class PeersResult(Result):
    swarms: list[SwarmPeers]
    bans: list[Ban] = msgspec.field(default_factory=list)


class Peers(Request[PeersResult]):
    method: ClassVar[str] = "peers"


class Subscribed(Result):
    subscribed: bool


class Subscribe(Request[Subscribed]):
    method: ClassVar[str] = "subscribe"


class Stopping(Result):
    stopping: bool


class Shutdown(Request[Stopping]):
    method: ClassVar[str] = "shutdown"


# -- events --------------------------------------------------------------------------


class ObjectEvent(Event):
    """A new object was stored.  ``item``: the root post it concerns as it stands now, when there is one."""

    event: ClassVar[str] = "object"
    id: str
    kind: Kind
    swarm: str | None
    root: str | None = None  # a reply's thread
    target: str | None = None  # what a heart, flag or delete is about
    item: FeedItem | None = None


class JoinProgress(Event):
    event: ClassVar[str] = "join_progress"
    swarm: str
    trying: str
    n: int
    of: int


class SwarmEvent(Event):
    """A swarm was joined or created."""

    event: ClassVar[str] = "swarm"
    joined: str


class SwarmLeftEvent(Event):
    """A swarm was left; what this node held only because of it was dropped."""

    event: ClassVar[str] = "swarm_left"
    left: str
    dropped: int


class Purged(Event):
    event: ClassVar[str] = "purged"
    count: int


class StoppingEvent(Event):
    """The node is shutting down because it was asked to (``shutdown``, a signal): not a crash."""

    event: ClassVar[str] = "stopping"


class Lagged(Event):
    """This subscriber fell behind and missed events: re-read what it shows."""

    event: ClassVar[str] = "lagged"
    missed: int
