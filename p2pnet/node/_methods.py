"""The control API's methods: one function per method, typed params in, typed result out.

:func:`dispatch` validates a request's params against :data:`p2pnet.api.METHODS`
before any of these runs, so each one sees well-formed values only, and turns
every refusal into an :class:`ApiError` with a code from
:data:`p2pnet.api.ERROR_CODES`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import trio

import protocol

from .. import api
from ..net import RELAY_DIAL_DELAY, SwarmConnectError
from ..store import InvalidArgument, StoreError
from . import _activity, _dm, _moderation, _shape
from ._addrs import check_announce_ip, save_announce_ip
from ._errors import ApiError

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["dispatch"]

DEFAULT_BG = "slate"

Q = TypeVar("Q", bound=api.Request[Any])
Handler = Callable[["Node", Any], Awaitable[api.Result]]
_HANDLERS: dict[type[api.Request[Any]], Handler] = {**_moderation.HANDLERS, **_dm.HANDLERS, **_activity.HANDLERS}


def method(request: type[Q]) -> Callable[[Callable[[Node, Q], Awaitable[Any]]], Callable[[Node, Q], Awaitable[Any]]]:
    def register(fn: Callable[[Node, Q], Awaitable[Any]]) -> Callable[[Node, Q], Awaitable[Any]]:
        _HANDLERS[request] = fn
        return fn

    return register


async def dispatch(node: Node, name: str, params: dict[str, Any]) -> api.Result:
    """Run method ``name`` with raw JSON ``params``.

    Raises:
        ApiError: the request is refused; ``code`` says why.
    """
    entry = api.METHODS.get(name)
    if entry is None:
        raise ApiError("unknown_method", f"unknown method {name!r}")
    try:
        request = msgspec.convert(params, entry[0])
    except msgspec.ValidationError as exc:
        raise ApiError("bad_request", f"{name}: {exc}") from None
    return await run(node, request)


async def run(node: Node, request: api.Request[Any]) -> api.Result:
    """Run a typed request (the node's in-process door; :func:`dispatch` is the socket's)."""
    try:
        return await _HANDLERS[type(request)](node, request)
    except protocol.NotAuthor:
        raise ApiError("not_yours", "only its author can delete a post, and this one is not yours") from None
    except protocol.ProtocolError as exc:
        raise ApiError("invalid", str(exc)) from None
    except StoreError as exc:
        raise ApiError("store", str(exc)) from None


def _text(value: str, what: str) -> str:
    if not value.strip():
        raise ApiError("bad_request", f"'{what}' must not be empty")
    return value


def _swarm_name(name: str) -> str:
    """``name`` if an invite can carry it (so the swarm can be invited to); else refused, saying the rule."""
    try:
        protocol.check_swarm_name(name)
    except protocol.UsageError as exc:
        raise ApiError("bad_request", str(exc)) from None
    return name


# -- node and identity ---------------------------------------------------------------------


@method(api.Status)
async def status(node: Node, _: api.Status) -> api.StatusResult:
    return await node.status()


@method(api.IdentityCreate)
async def identity_create(node: Node, p: api.IdentityCreate) -> api.IdentityCreated:
    seed = await node.identity.create(p.passphrase or None)
    await node.swarms.start_all(seed)
    return api.IdentityCreated(phrase=protocol.seed_to_phrase(seed), sealed=bool(p.passphrase))


@method(api.IdentityRestore)
async def identity_restore(node: Node, p: api.IdentityRestore) -> api.IdentityRestored:
    seed = await node.identity.restore(_text(p.phrase, "phrase"), p.passphrase or None)
    await node.swarms.start_all(seed)
    return api.IdentityRestored(restored=True)


@method(api.IdentityUnlock)
async def identity_unlock(node: Node, p: api.IdentityUnlock) -> api.IdentityState:
    if await node.identity.unlock(p.passphrase):
        await node.swarms.start_all(node.identity.require())
    return api.IdentityState(identity=node.identity.state)


@method(api.Subscribe)
async def subscribe(node: Node, _: api.Subscribe) -> api.Subscribed:
    return api.Subscribed(subscribed=True)  # the control connection starts the events


@method(api.Shutdown)
async def shutdown(node: Node, _: api.Shutdown) -> api.Stopping:
    node.shutdown_after_reply()
    return api.Stopping(stopping=True)


# -- swarms ------------------------------------------------------------------------------


@method(api.SwarmCreate)
async def swarm_create(node: Node, p: api.SwarmCreate) -> api.SwarmCreated:
    seed = node.identity.require()
    name = _swarm_name(_text(p.name, "name").strip())
    if node.store.swarm_by_name(name) is not None:
        raise ApiError("swarm_exists", f"you are already in a swarm called {name!r}")
    node.require_invite_ips()  # a swarm nobody could be invited to is refused before it exists
    psk = os.urandom(32)
    rec = node.store.add_swarm(name, psk, 0, node.now(), p.difficulty)
    runtime = await node.swarms.start(seed, rec)
    node.hub.publish(api.SwarmEvent(joined=name))
    invite = node.invite(runtime)
    return api.SwarmCreated(name=name, invite=invite, peer_id=runtime.host.peer_id, reach_note=node.reach_note(runtime))


@method(api.SwarmInvite)
async def swarm_invite(node: Node, p: api.SwarmInvite) -> api.SwarmInviteResult:
    rec = node.swarm_named(p.name)
    runtime = node.swarms.running.get(rec.raw_id)
    if runtime is None:
        raise ApiError("swarm_stopped", "that swarm is not running (is the identity unlocked?)")
    expires = node.now() + p.expires_in if p.expires_in else None
    await runtime.host.relays_ready()  # an invite made just after joining names the relay already
    invite = node.invite(runtime, expires)
    return api.SwarmInviteResult(name=runtime.name, invite=invite, reach_note=node.reach_note(runtime))


@method(api.SwarmJoin)
async def swarm_join(node: Node, p: api.SwarmJoin) -> api.SwarmJoined:
    seed = node.identity.require()
    try:
        invite = protocol.decode_invite(_text(p.invite, "invite"), now=node.now())
    except protocol.InviteError as exc:
        raise ApiError("bad_invite", str(exc)) from None
    swarm_id = protocol.swarm_id(invite.psk)
    if any(rec.raw_id == swarm_id for rec in node.store.swarms()):
        raise ApiError("swarm_exists", f"you are already in this swarm ({invite.name!r})")
    name = invite.name
    if node.store.swarm_by_name(name) is not None:
        # Taken here: the caller's name, or the invite's cut so that a suffix from the swarm id still fits.
        suffix = f"-{swarm_id.hex()[:4]}"
        name = _swarm_name(p.name or name[: protocol.MAX_SWARM_NAME_CHARS - len(suffix)] + suffix)
    rec = node.store.add_swarm(name, invite.psk, 0, node.now(), invite.difficulty)
    runtime = await node.swarms.start(seed, rec)
    connected, errors = 0, []
    by_peer: dict[str, list[str]] = {}
    for addr in invite.bootstrap:
        by_peer.setdefault(addr.rsplit("/p2p/", 1)[1], []).append(addr)
    n = 0
    for peer, addrs in by_peer.items():
        for addr in addrs:
            n += 1
            node.hub.publish(api.JoinProgress(swarm=name, trying=addr, n=n, of=len(invite.bootstrap)))
        try:
            # A peer's addresses race: its relay address need not wait out a private one that never answers.
            with trio.fail_after(node.config.gossip.connect_timeout + RELAY_DIAL_DELAY + 1):
                await runtime.host.connect(*addrs)
            connected += 1
            node.store.save_peer(swarm_id, peer, addrs, node.now())
        except (SwarmConnectError, ValueError, OSError, trio.TooSlowError) as exc:
            errors.append(f"{peer}: {exc or type(exc).__name__}")
    if not connected:
        await node.swarms.stop(swarm_id)
        node.store.remove_swarm(name)
        raise ApiError(
            "join_failed",
            f"none of the {len(invite.bootstrap)} peers in the invite answered; "
            "ask your friend to start their node, or for a fresh invite (" + "; ".join(errors) + ")",
        )
    node.hub.publish(api.SwarmEvent(joined=name))
    return api.SwarmJoined(name=name, connected=connected, peer_id=runtime.host.peer_id)


@method(api.SwarmLeave)
async def swarm_leave(node: Node, p: api.SwarmLeave) -> api.SwarmLeft:
    rec = node.swarm_named(p.name)
    await node.swarms.stop(rec.raw_id)
    node.store.remove_swarm(rec.name)
    dropped = await node.offload(node.store.drop_unswarmed)
    node.hub.publish(api.SwarmLeftEvent(left=rec.name, dropped=dropped))
    return api.SwarmLeft(left=rec.name)


@method(api.SwarmSet)
async def swarm_set(node: Node, p: api.SwarmSet) -> api.SwarmSettings:
    rec = node.swarm_named(p.name)
    try:
        rec = node.store.configure_swarm(rec.raw_id, quota=p.quota, flag_threshold=p.flag_threshold)
    except InvalidArgument as exc:
        raise ApiError("bad_request", f"swarm.set: {exc}") from None
    node.evictor.wake()  # a lower quota makes room now
    return api.SwarmSettings(name=rec.name, quota=rec.quota, flag_threshold=rec.flag_threshold)


@method(api.SwarmList)
async def swarm_list(node: Node, _: api.SwarmList) -> api.SwarmListResult:
    out = []
    for rec in node.store.swarms():
        runtime = node.swarms.running.get(rec.raw_id)
        out.append(
            api.SwarmInfo(
                name=rec.name,
                running=runtime is not None,
                peer_id=runtime.host.peer_id if runtime else None,
                peers=len(runtime.host.connected_peers()) if runtime else 0,
                addrs=node.swarms.invite_addrs(runtime) if runtime else [],
            )
        )
    return api.SwarmListResult(swarms=out)


@method(api.Announce)
async def announce(node: Node, p: api.Announce) -> api.Announced:
    if p.ip is not None and p.clear:
        raise ApiError("bad_request", "announce: give an ip, or clear, not both")
    if p.ip is not None or p.clear:
        ip = None if p.clear else check_announce_ip(p.ip or "")
        save_announce_ip(node.home, ip)
        node.swarms.announce(ip)
    return api.Announced(ip=node.swarms.settings.announce_ip, ips=node.swarms.invite_ips())


@method(api.Peers)
async def peers(node: Node, _: api.Peers) -> api.PeersResult:
    out = []
    for runtime in node.swarms.running.values():
        host = runtime.host
        out.append(
            api.SwarmPeers(
                swarm=runtime.name,
                peer_id=host.peer_id,
                connected=sorted(host.connected_peers()),
                mesh=sorted(host.mesh_peers()),
                known=len(node.store.peers(runtime.id)),
                addressed=sorted(host.known_peer_addrs()),
                invalid=host.invalid_message_counts(),
                stem_invalid=dict(runtime.stem.invalid),
                outbound=host.outbound_peers(),
                paths=host.paths(),
                flooded=host.flood_counts(),
                stem_flooded=dict(runtime.stem.flooded),
            )
        )
    bans = [api.Ban(peer_id=b.peer_id, ip=b.ip, until=int(b.until), reason=b.reason) for b in node.guard.active()]
    return api.PeersResult(swarms=out, bans=bans)


# -- posts ------------------------------------------------------------------------------------


@method(api.Post)
async def post(node: Node, p: api.Post) -> api.Published:
    seed = node.identity.require()
    if p.swarm:
        swarm_ids = [node.swarm_named(p.swarm).raw_id]
    else:
        joined = node.store.swarms()
        if not joined:
            raise ApiError("no_swarm", "you are in no swarm yet: create one or join one with an invite key")
        if len(joined) > 1:
            names = ", ".join(s.name for s in joined)
            raise ApiError("choose_swarm", f"you are in several swarms ({names}): say which one to post in")
        swarm_ids = [joined[0].raw_id]
    signed = protocol.make_post(
        seed, _text(p.text, "text"), now=node.now(), bg=p.bg or DEFAULT_BG, name=p.name or None, expires_in=p.expires
    )
    return await node.outbound.commit(signed, swarm_ids)


@method(api.Reply)
async def reply(node: Node, p: api.Reply) -> api.Published:
    seed = node.identity.require()
    parent = node.get(p.id)
    if not isinstance(parent.obj, (protocol.Post, protocol.Reply)):
        raise ApiError("bad_request", "only a post or a reply can be answered")
    root = node.root_of(parent)
    signed = protocol.make_reply(seed, root, _text(p.text, "text"), now=node.now(), parent=parent.id)
    return await node.outbound.commit(signed, node.outbound.target_swarms(root))


@method(api.Heart)
async def heart(node: Node, p: api.Heart) -> api.Published:
    seed = node.identity.require()
    target = node.get(p.id)
    signed = protocol.make_heart(seed, target.id, now=node.now())
    # The post first, then the heart into every swarm it is in now: where the
    # heart carries it, the post arrives with its heart counted.
    await node.outbound.reshare(target)
    return await node.outbound.commit(signed, node.outbound.target_swarms(target))


@method(api.Flag)
async def flag(node: Node, p: api.Flag) -> api.Published:
    seed = node.identity.require()
    target = node.get(p.id)
    signed = protocol.make_flag(seed, target.id, now=node.now(), reason=p.reason or "other")
    return await node.outbound.commit(signed, node.outbound.target_swarms(target))


@method(api.Delete)
async def delete(node: Node, p: api.Delete) -> api.Published:
    seed = node.identity.require()
    target = node.get(p.id)
    root = node.root_of(target) if isinstance(target.obj, protocol.Reply) else None
    signed = protocol.make_delete(seed, target, now=node.now(), root=root)
    return await node.outbound.commit(signed, node.outbound.target_swarms(target))


# -- reading ------------------------------------------------------------------------------------


@method(api.Feed)
async def feed(node: Node, p: api.Feed) -> api.FeedPage:
    swarm_id = node.swarm_named(p.swarm).raw_id if p.swarm else None
    store, now = node.store, node.now()
    page = await node.offload(
        lambda: store.feed(swarm=swarm_id, popular=p.popular, limit=p.limit, before=p.cursor, now=now)
    )
    return _shape.feed_page(page)


@method(api.Thread)
async def thread(node: Node, p: api.Thread) -> api.ThreadResult:
    root = node.root_of(node.get(p.id))
    store, now = node.store, node.now()
    found = await node.offload(lambda: store.thread(root.id, now=now))
    if found is None:
        raise ApiError("not_found", "that thread is not known here")
    return _shape.thread_result(found)


@method(api.Search)
async def search(node: Node, p: api.Search) -> api.SearchResults:
    store, now = node.store, node.now()
    hits = await node.offload(lambda: store.find(p.query, limit=p.limit, now=now))
    return api.SearchResults(results=[_shape.search_hit(hit) for hit in hits])
