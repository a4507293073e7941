"""The node: identity, store, one libp2p host per swarm, and the control API.

Objects arrive from gossip, are fully decoded and verified by the topic
validator, and are stored in batches by one ingest task (the daemon is the
database's only writer).  Objects made here are stored durably *before* the
user is told they exist, then published.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import trio

import protocol

from ..api import Home
from ..net import (
    RESTART_MAX,
    RESTART_MIN,
    SYNC_INTERVAL,
    Failures,
    GossipParams,
    StemRelay,
    SwarmConnectError,
    SwarmHost,
    SwarmSync,
    open_swarm_host,
    supervised,
)
from ..store import AmbiguousId, Store, StoreError, Swarm, UnknownSwarm
from ._control import ApiError, EventHub, serve_control

__all__ = ["Node", "NodeConfig"]

log = logging.getLogger(__name__)

INGEST_BATCH = 512  # objects stored per transaction at most
# Gossip trickles in one message at a time; waiting this long for company
# turns one fsync per object into one per batch, at a small cost in latency.
INGEST_LINGER = 0.025
VALIDATED_CACHE = 4096  # decoded objects kept between validator and ingest
FUTURE_SKEW = 600  # seconds a peer's clock may run ahead of ours
REDIAL_MIN, REDIAL_MAX = 1.0, 60.0  # seconds of backoff between redials of one peer
PEER_SAVE_INTERVAL = 10.0
PURGE_INTERVAL = 60.0
SEARCH_MARKERS = ("\x02", "\x03")  # around each match; never valid in post text, so unambiguous


@dataclass
class NodeConfig:
    """How one daemon runs; the CLI fills it from flags."""

    home: Home
    listen_ip: str = "0.0.0.0"
    announce_ip: str | None = None
    passphrase: str | None = None
    gossip: GossipParams = field(default_factory=GossipParams)
    clock: Callable[[], float] = time.time
    sync_interval: float = SYNC_INTERVAL
    peer_save_interval: float = PEER_SAVE_INTERVAL


@dataclass
class _Swarm:
    id: bytes
    name: str
    psk: bytes
    host: SwarmHost
    scope: trio.CancelScope  # cancelling it leaves the swarm, whatever its host is doing
    stem: StemRelay
    port: int
    backoff: dict[str, tuple[float, float]] = field(default_factory=dict)  # peer -> (next try, delay)
    sync: SwarmSync | None = None


def _topic(swarm_id: bytes) -> str:
    return "p2pnet/v1/" + swarm_id.hex()


def _msg_key(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Node:
    """One running node; :meth:`run` serves until :meth:`shutdown` or cancellation."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.home = config.home
        self.hub = EventHub()
        self.store: Store | None = None
        self.seed: bytes | None = None
        self.identity_state = "none"  # none | locked | ready
        self.swarms: dict[bytes, _Swarm] = {}
        self._swarm_scopes: dict[bytes, trio.CancelScope] = {}  # running or waiting to restart
        self.started = 0.0
        self._nursery: trio.Nursery | None = None
        self._shutdown = trio.Event()
        self.stopped = trio.Event()
        self._validated: collections.OrderedDict[bytes, protocol.Signed] = collections.OrderedDict()
        # (object, swarm id, came by gossip): sync's and our stem's objects are
        # stored the same way but counted by those protocols, not as gossip.
        self._ingest_send, self._ingest_receive = trio.open_memory_channel[tuple[protocol.Signed, bytes, bool]](
            INGEST_BATCH * 8
        )
        self.stats = collections.Counter[str]()  # gossip: received, stored, invalid
        # Failures of long-running tasks, by name: none of them may end the node.
        self.failures = Failures()

    def now(self) -> int:
        return int(self.config.clock())

    # -- lifecycle -------------------------------------------------------------

    def open(self) -> None:
        """Open the store and read the identity; errors here are the user's to see.

        Raises:
            StoreError: the database is damaged or from a newer p2pnet.
            protocol.IdentityError: the identity file is damaged or the passphrase is wrong.
        """
        self.home.create()
        store = Store.open(self.home.database)
        try:
            self._load_identity(self.config.passphrase)
        except BaseException:
            store.close()
            raise
        self.store = store

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Start swarms and serve the control API until shut down (after :meth:`open`)."""
        if self.store is None:
            self.open()
        assert self.store is not None
        self.started = self.config.clock()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for loop in (self._ingest_loop, self._maintenance_loop):
                    nursery.start_soon(partial(supervised, loop, failures=self.failures, restart=True))
                if self.seed is not None:
                    await self._start_all_swarms()
                await nursery.start(serve_control, self.home.socket, self.dispatch, self.hub)
                task_status.started()
                await self._shutdown.wait()
                nursery.cancel_scope.cancel()
        finally:
            self.store.close()
            self.stopped.set()

    def shutdown(self) -> None:
        self._shutdown.set()

    # -- identity ---------------------------------------------------------------

    def _load_identity(self, passphrase: str | None) -> None:
        path = self.home.identity
        if not path.exists():
            self.identity_state = "none"
            return
        data = path.read_bytes()
        if protocol.identity_file_is_sealed(data) and not passphrase:
            self.identity_state = "locked"
            return
        self.seed = protocol.decode_identity_file(data, passphrase)
        self.identity_state = "ready"

    def _require_seed(self) -> bytes:
        if self.seed is None:
            if self.identity_state == "locked":
                raise ApiError("locked", "the identity is locked: unlock it with its passphrase first")
            raise ApiError("no_identity", "this node has no identity yet: create one first (p2pnet init)")
        return self.seed

    async def _become_ready(self, seed: bytes) -> None:
        self.seed = seed
        self.identity_state = "ready"
        await self._start_all_swarms()

    def _require_store(self) -> Store:
        assert self.store is not None
        return self.store

    # -- swarms -------------------------------------------------------------------

    async def _start_all_swarms(self) -> None:
        for rec in self._require_store().swarms():
            if rec.raw_id not in self.swarms:
                await self._start_swarm(rec.raw_id, rec.name, rec.psk, rec.port)

    async def _start_swarm(self, swarm_id: bytes, name: str, psk: bytes, port: int) -> _Swarm:
        assert self._nursery is not None
        swarm: _Swarm = await self._nursery.start(self._run_swarm, swarm_id, name, psk, port)
        return swarm

    async def _run_swarm(self, swarm_id: bytes, name: str, psk: bytes, port: int, *, task_status: Any) -> None:
        """Run one swarm until it is left; a host that fails once it ran is started again.

        A failure before the host first runs (no port to listen on) goes to
        the caller, who asked for the swarm; later ones are counted in
        ``failures["swarm"]`` and cost the swarm a restart after a back-off,
        never the daemon.
        """
        ran: list[_Swarm] = []

        def on_started(swarm: _Swarm) -> None:
            if not ran:
                task_status.started(swarm)
            ran[:] = [swarm]

        delay = RESTART_MIN
        with trio.CancelScope() as scope:
            self._swarm_scopes[swarm_id] = scope
            try:
                while True:
                    began = trio.current_time()
                    try:
                        await self._serve_swarm(swarm_id, name, psk, port, scope, on_started)
                        return
                    except Exception:
                        if not ran:
                            raise
                        self.failures["swarm"] += 1
                        if trio.current_time() - began > RESTART_MAX:
                            delay = RESTART_MIN
                        log.exception("swarm %s failed; it starts again in %.0f s", name, delay)
                    port = ran[0].port
                    await trio.sleep(delay)
                    delay = min(delay * 2, RESTART_MAX)
            finally:
                self._swarm_scopes.pop(swarm_id, None)

    async def _serve_swarm(
        self,
        swarm_id: bytes,
        name: str,
        psk: bytes,
        port: int,
        scope: trio.CancelScope,
        on_started: Callable[[_Swarm], None],
    ) -> None:
        seed = self._require_seed()
        store = self._require_store()

        def validator(data: bytes) -> bool:
            return self._validate(data)

        async def on_message(data: bytes) -> None:
            signed = self._validated.pop(_msg_key(data), None) or protocol.decode(data)
            swarm = self.swarms.get(swarm_id)
            if swarm is not None:
                swarm.stem.seen(signed.id)  # its stem is over: no embargo; ours may be served now
            await self._ingest_send.send((signed, swarm_id, True))

        started = False
        for try_port in (port, 0) if port else (0,):
            try:
                async with open_swarm_host(
                    host_key_seed=protocol.swarm_host_seed(seed, psk),
                    psk=psk,
                    topic=_topic(swarm_id),
                    validator=validator,
                    on_message=on_message,
                    listen_ip=self.config.listen_ip,
                    port=try_port,
                    params=self.config.gossip,
                    failures=self.failures,
                ) as host:
                    started = True
                    actual_port = _port_of(host.listen_addrs) or port
                    swarm = _Swarm(swarm_id, name, psk, host, scope, self._stem_relay(host, swarm_id), actual_port)
                    if actual_port != port:
                        store.set_swarm_port(swarm_id, actual_port)
                    self.swarms[swarm_id] = swarm
                    try:
                        self._resend_held(swarm)
                        swarm.sync = self._start_sync(swarm)
                        on_started(swarm)
                        await supervised(self._redial_loop, swarm, failures=self.failures, restart=True)
                    finally:
                        self.swarms.pop(swarm_id, None)
                return
            except OSError as exc:
                if started:
                    raise
                # the port a swarm used last time is taken now: take any free one
                log.warning("swarm %s: port %s unavailable (%s)", name, try_port, exc)
        raise ApiError("listen_failed", f"could not listen for swarm {name!r} on {self.config.listen_ip}")

    def _stem_relay(self, host: SwarmHost, swarm_id: bytes) -> StemRelay:
        store = self._require_store()

        async def fluffed(signed: protocol.Signed) -> None:
            await self._ingest_send.send((signed, swarm_id, False))  # our own publish never reaches on_message

        relay = StemRelay(host, check=self._check, released=store.release, fluffed=fluffed)
        relay.start()
        return relay

    def _resend_held(self, swarm: _Swarm) -> None:
        """Own objects held when the node stopped start their stem again (or wait for a peer)."""
        for wire, swarm_ids in self._require_store().held():
            if swarm.id in swarm_ids:
                try:
                    swarm.stem.originate(protocol.decode(wire))
                except protocol.ProtocolError as exc:
                    log.warning("held object no longer decodes: %s", exc)

    async def _redial_loop(self, swarm: _Swarm) -> None:
        """Keep known peers connected, backing off per peer from 1 s to 60 s."""
        store = self._require_store()
        while True:
            connected = set(swarm.host.connected_peers())
            now = trio.current_time()
            for peer in store.peers(swarm.id):
                pid = peer["peer_id"]
                if pid in connected or pid == swarm.host.peer_id:
                    swarm.backoff.pop(pid, None)
                    continue
                next_try, delay = swarm.backoff.get(pid, (0.0, REDIAL_MIN))
                if now < next_try:
                    continue
                ok = False
                for addr in peer["addrs"]:
                    try:
                        with trio.move_on_after(self.config.gossip.connect_timeout):
                            await swarm.host.connect(addr)
                            ok = True
                    except (SwarmConnectError, ValueError, OSError) as exc:
                        log.debug("redial %s via %s failed: %s", pid, addr, exc)
                    if ok:
                        break
                if ok:
                    swarm.backoff.pop(pid, None)
                else:
                    store.note_peer_failure(swarm.id, pid)
                    swarm.backoff[pid] = (now + delay, min(delay * 2, REDIAL_MAX))
            await trio.sleep(REDIAL_MIN)

    def _save_peers(self) -> None:
        store = self._require_store()
        now = self.now()
        for swarm in list(self.swarms.values()):
            connected = set(swarm.host.connected_peers())
            for pid, addrs in swarm.host.known_peer_addrs().items():
                if pid in connected:
                    store.save_peer(swarm.id, pid, addrs, now)

    def _announce_addrs(self, host: SwarmHost) -> list[str]:
        addrs = host.listen_addrs
        if self.config.announce_ip:
            return [_replace_ip(a, self.config.announce_ip) for a in addrs]
        if self.config.listen_ip == "0.0.0.0":
            return [_replace_ip(a, ip) for a in addrs for ip in _local_ips()] or addrs
        return addrs

    # -- gossip in -------------------------------------------------------------------

    def _check(self, data: bytes, *, by_gossip: bool = False) -> protocol.Signed | None:
        """Decode and verify ``data``; None if it is valid but not to be kept here.

        ``by_gossip``: count one dated too far ahead as invalid gossip (the stem
        and sync count what they refuse themselves).

        Raises:
            protocol.ProtocolError: no honest peer sends these bytes.
        """
        signed = protocol.decode(data)
        now = self.now()
        obj = signed.obj
        if obj.created > now + FUTURE_SKEW:
            if by_gossip:
                self.stats["invalid"] += 1
            return None
        if isinstance(obj, protocol.Post) and obj.expires is not None and obj.expires <= now:
            return None
        return signed

    def _validate(self, data: bytes) -> bool:
        try:
            signed = self._check(data, by_gossip=True)
        except protocol.ProtocolError:
            self.stats["invalid"] += 1
            return False
        if signed is None:
            return False
        self._validated[_msg_key(data)] = signed
        while len(self._validated) > VALIDATED_CACHE:
            self._validated.popitem(last=False)
        return True

    # -- catch-up sync -------------------------------------------------------------

    def _start_sync(self, swarm: _Swarm) -> SwarmSync:
        store = self._require_store()

        async def accept(wires: Sequence[bytes]) -> int:
            # Verified off the event loop; stored by the same ingest task as gossip.
            checked = await trio.to_thread.run_sync(lambda: [self._check(w) for w in wires])
            valid = [signed for signed in checked if signed is not None]
            for signed in valid:
                # A peer stores only fluffed objects, so one of ours it hands
                # back has spread: its stem is over here, as for gossip.
                swarm.stem.seen(signed.id)
                await self._ingest_send.send((signed, swarm.id, False))
            return len(valid)

        sync = SwarmSync(
            swarm.host,
            items=lambda: store.object_ids(swarm.id),
            wires=store.wires,
            accept=accept,
            interval=self.config.sync_interval,
            clock=self.config.clock,
        )
        sync.start()
        return sync

    async def _ingest_loop(self) -> None:
        # The channel outlives this loop: if a batch fails, the supervisor
        # restarts the loop on the same channel and gossip keeps flowing.
        store = self._require_store()
        async for first in self._ingest_receive:
            batch = [first]
            with trio.move_on_after(INGEST_LINGER):
                while len(batch) < INGEST_BATCH:
                    batch.append(await self._ingest_receive.receive())
            now = self.now()
            try:
                results = await trio.to_thread.run_sync(store.ingest_many, [(s, w) for s, w, _ in batch], now)
            except UnknownSwarm:
                # A swarm was left while its objects waited here: store the rest.
                joined = {rec.raw_id for rec in store.swarms()}
                batch = [item for item in batch if item[1] in joined]
                results = await trio.to_thread.run_sync(store.ingest_many, [(s, w) for s, w, _ in batch], now)
            for (signed, swarm_id, by_gossip), result in zip(batch, results, strict=True):
                if by_gossip:
                    self.stats["received"] += 1
                    self.stats["stored"] += result.is_new
                if result.is_new:
                    self._announce(signed, swarm_id)

    def _announce(self, signed: protocol.Signed, swarm_id: bytes) -> None:
        obj = signed.obj
        data: dict[str, Any] = {"id": signed.id.hex(), "kind": type(obj).__name__.lower()}
        if isinstance(obj, protocol.Reply):
            data["root"] = obj.root.hex()
        elif isinstance(obj, (protocol.Heart, protocol.Flag, protocol.Delete)):
            data["target"] = obj.target.hex()
        swarm = self.swarms.get(swarm_id)
        data["swarm"] = swarm.name if swarm else None
        self.hub.publish("object", data)

    async def _maintenance_loop(self) -> None:
        store = self._require_store()
        last_purge = -PURGE_INTERVAL
        while True:
            await trio.sleep(self.config.peer_save_interval)
            self._save_peers()
            if trio.current_time() - last_purge >= PURGE_INTERVAL:
                last_purge = trio.current_time()
                purged = await trio.to_thread.run_sync(store.purge_expired, self.now())
                if purged:
                    self.hub.publish("purged", {"count": purged})

    # -- own objects out ----------------------------------------------------------------

    async def _commit(self, signed: protocol.Signed, swarm_ids: list[bytes]) -> dict[str, Any]:
        """Store durably (held), then send into the stem; the id is returned only once it is on disk.

        The store keeps holding the object (sync does not serve it) until its
        stem is over here: it came back by gossip, or this node fluffed it.
        """
        store = self._require_store()
        now = self.now()
        result = await trio.to_thread.run_sync(store.ingest_own, signed, swarm_ids, now)
        if result.status == "rejected":
            raise ApiError("refused", f"the node refused this object: {result.reason}")
        if result.is_new:
            self._announce(signed, swarm_ids[0])
        sent = 0
        for swarm_id in swarm_ids:
            swarm = self.swarms.get(swarm_id)
            if swarm is None:
                continue
            swarm.stem.originate(signed)
            sent += 1
        return {"id": signed.id.hex(), "published_to": sent}

    def _swarm_by_name(self, name: str) -> Swarm:
        rec = self._require_store().swarm_by_name(name)
        if rec is None:
            raise ApiError("no_swarm", f"you are not in a swarm called {name!r} (see: p2pnet swarm list)")
        return rec

    def _target_swarms(self, target: protocol.Signed) -> list[bytes]:
        seen = self._require_store().object_swarms(target.id)
        if seen:
            return seen
        return [rec.raw_id for rec in self._require_store().swarms()]

    def _get(self, ident: Any) -> protocol.Signed:
        if not isinstance(ident, str) or not ident:
            raise ApiError("bad_request", "an object id (hex, or a unique prefix of at least 6 characters) is needed")
        try:
            signed = self._require_store().get(ident)
        except AmbiguousId as exc:
            raise ApiError("ambiguous_id", str(exc)) from None
        except StoreError as exc:
            raise ApiError("bad_request", str(exc)) from None
        if signed is None:
            raise ApiError("not_found", f"no post or reply with id {ident!r} is known here")
        return signed

    def _root_of(self, signed: protocol.Signed) -> protocol.Signed:
        if isinstance(signed.obj, protocol.Reply):
            root = self._require_store().get(signed.obj.root.hex())
            if root is None:
                raise ApiError("not_found", "the thread's first post has not arrived here yet")
            return root
        return signed

    # -- control API ----------------------------------------------------------------------

    async def dispatch(self, method: str, params: dict[str, Any]) -> Any:
        handler = self._methods.get(method)
        if handler is None:
            raise ApiError("unknown_method", f"unknown method {method!r}")
        try:
            return await handler(self, params)
        except protocol.ProtocolError as exc:
            raise ApiError("invalid", str(exc)) from None
        except StoreError as exc:
            raise ApiError("store", str(exc)) from None
        except (TypeError, ValueError, PermissionError) as exc:
            raise ApiError("bad_request", str(exc)) from None

    async def api_status(self, params: dict[str, Any]) -> dict[str, Any]:
        store = self._require_store()
        return {
            "version": 1,
            "home": str(self.home.root),
            "pid": os.getpid(),
            "identity": self.identity_state,
            "uptime": int(self.config.clock() - self.started),
            "counts": store.counts(),
            "gossip": dict(self.stats),
            "failures": dict(self.failures),
            "swarms": [
                {
                    "name": s.name,
                    "peer_id": s.host.peer_id,
                    "peers": len(s.host.connected_peers()),
                    "sync": s.sync.stats.to_dict() if s.sync else None,
                }
                for s in self.swarms.values()
            ],
        }

    async def api_identity_create(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.identity_state != "none":
            raise ApiError("identity_exists", "this node already has an identity")
        seed = protocol.new_seed()
        passphrase = _opt_str(params, "passphrase")
        self.home.write_private(self.home.identity, protocol.encode_identity_file(seed, passphrase))
        await self._become_ready(seed)
        return {"phrase": protocol.seed_to_phrase(seed), "sealed": bool(passphrase)}

    async def api_identity_restore(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.identity_state != "none":
            raise ApiError("identity_exists", "this node already has an identity")
        seed = protocol.phrase_to_seed(_str(params, "phrase"))
        passphrase = _opt_str(params, "passphrase")
        self.home.write_private(self.home.identity, protocol.encode_identity_file(seed, passphrase))
        await self._become_ready(seed)
        return {"restored": True}

    async def api_identity_unlock(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.identity_state != "locked":
            return {"identity": self.identity_state}
        data = self.home.identity.read_bytes()
        try:
            seed = protocol.decode_identity_file(data, _str(params, "passphrase"))
        except protocol.WrongPassphrase as exc:
            raise ApiError("bad_passphrase", str(exc)) from None
        await self._become_ready(seed)
        return {"identity": "ready"}

    async def api_swarm_create(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require_seed()
        name = _str(params, "name").strip()
        store = self._require_store()
        if store.swarm_by_name(name) is not None:
            raise ApiError("swarm_exists", f"you are already in a swarm called {name!r}")
        psk = os.urandom(32)
        protocol.Invite(name, psk, ("/ip4/127.0.0.1/tcp/1/p2p/x",))  # validates the name early
        swarm_id = protocol.swarm_id(psk)
        store.add_swarm(name, psk, 0, self.now())
        swarm = await self._start_swarm(swarm_id, name, psk, 0)
        return {"name": name, "invite": self._invite(swarm), "peer_id": swarm.host.peer_id}

    def _invite(self, swarm: _Swarm, expires: int | None = None) -> str:
        addrs = self._announce_addrs(swarm.host)[:8]
        return protocol.encode_invite(protocol.Invite(swarm.name, swarm.psk, tuple(addrs), expires))

    async def api_swarm_invite(self, params: dict[str, Any]) -> dict[str, Any]:
        rec = self._swarm_by_name(_str(params, "name"))
        swarm = self.swarms.get(rec.raw_id)
        if swarm is None:
            raise ApiError("not_running", "that swarm is not running (is the identity unlocked?)")
        expires_in = params.get("expires_in")
        expires = self.now() + int(expires_in) if expires_in else None
        return {"name": swarm.name, "invite": self._invite(swarm, expires)}

    async def api_swarm_join(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require_seed()
        try:
            invite = protocol.decode_invite(_str(params, "invite"), now=self.now())
        except protocol.InviteError as exc:
            raise ApiError("bad_invite", str(exc)) from None
        store = self._require_store()
        swarm_id = protocol.swarm_id(invite.psk)
        if any(rec.raw_id == swarm_id for rec in store.swarms()):
            raise ApiError("swarm_exists", f"you are already in this swarm ({invite.name!r})")
        name = invite.name
        if store.swarm_by_name(name) is not None:
            name = _str(params, "name") if params.get("name") else f"{name}-{swarm_id.hex()[:4]}"
        store.add_swarm(name, invite.psk, 0, self.now())
        swarm = await self._start_swarm(swarm_id, name, invite.psk, 0)
        connected, errors = 0, []
        for i, addr in enumerate(invite.bootstrap, 1):
            self.hub.publish("join_progress", {"swarm": name, "trying": addr, "n": i, "of": len(invite.bootstrap)})
            try:
                with trio.fail_after(self.config.gossip.connect_timeout + 1):
                    await swarm.host.connect(addr)
                connected += 1
                peer_id = addr.rsplit("/p2p/", 1)[1]
                store.save_peer(swarm_id, peer_id, [addr], self.now())
            except (SwarmConnectError, ValueError, OSError, trio.TooSlowError) as exc:
                errors.append(f"{addr}: {exc or type(exc).__name__}")
        if not connected:
            swarm.scope.cancel()
            store.remove_swarm(name)
            raise ApiError(
                "join_failed",
                f"none of the {len(invite.bootstrap)} peers in the invite answered; "
                "ask your friend to start their node, or for a fresh invite (" + "; ".join(errors) + ")",
            )
        self.hub.publish("swarm", {"joined": name})
        return {"name": name, "connected": connected, "peer_id": swarm.host.peer_id}

    async def api_swarm_leave(self, params: dict[str, Any]) -> dict[str, Any]:
        rec = self._swarm_by_name(_str(params, "name"))
        scope = self._swarm_scopes.get(rec.raw_id)
        if scope is not None:
            scope.cancel()
        self._require_store().remove_swarm(rec.name)
        return {"left": rec.name}

    async def api_swarm_list(self, params: dict[str, Any]) -> dict[str, Any]:
        out = []
        for rec in self._require_store().swarms():
            swarm = self.swarms.get(rec.raw_id)
            out.append(
                {
                    "name": rec.name,
                    "running": swarm is not None,
                    "peer_id": swarm.host.peer_id if swarm else None,
                    "peers": len(swarm.host.connected_peers()) if swarm else 0,
                    "addrs": self._announce_addrs(swarm.host) if swarm else [],
                }
            )
        return {"swarms": out}

    async def api_post(self, params: dict[str, Any]) -> dict[str, Any]:
        seed = self._require_seed()
        store = self._require_store()
        swarm_name = _opt_str(params, "swarm")
        if swarm_name:
            swarm_ids = [self._swarm_by_name(swarm_name).raw_id]
        else:
            all_swarms = store.swarms()
            if not all_swarms:
                raise ApiError("no_swarm", "you are in no swarm yet: create one or join one with an invite key")
            if len(all_swarms) > 1:
                names = ", ".join(s.name for s in all_swarms)
                raise ApiError("choose_swarm", f"you are in several swarms ({names}): say which one to post in")
            swarm_ids = [all_swarms[0].raw_id]
        expires = params.get("expires")
        signed = protocol.make_post(
            seed,
            _str(params, "text"),
            now=self.now(),
            bg=_opt_str(params, "bg") or "slate",
            name=_opt_str(params, "name"),
            expires_in=int(expires) if expires else None,
        )
        return await self._commit(signed, swarm_ids)

    async def api_reply(self, params: dict[str, Any]) -> dict[str, Any]:
        seed = self._require_seed()
        parent = self._get(params.get("id"))
        if not isinstance(parent.obj, (protocol.Post, protocol.Reply)):
            raise ApiError("bad_request", "only a post or a reply can be answered")
        root = self._root_of(parent)
        signed = protocol.make_reply(seed, root, _str(params, "text"), now=self.now(), parent=parent.id)
        return await self._commit(signed, self._target_swarms(root))

    async def api_heart(self, params: dict[str, Any]) -> dict[str, Any]:
        seed = self._require_seed()
        target = self._get(params.get("id"))
        signed = protocol.make_heart(seed, target.id, now=self.now())
        result = await self._commit(signed, self._target_swarms(target))
        await self._reshare(target)
        return result

    async def _reshare(self, target: protocol.Signed) -> None:
        """A heart carries the post into the hearter's other swarms, as Secret did with contacts."""
        if not isinstance(target.obj, protocol.Post):
            return
        store = self._require_store()
        seen = set(store.object_swarms(target.id))
        for swarm in list(self.swarms.values()):
            if swarm.id in seen:
                continue
            await trio.to_thread.run_sync(store.ingest, target, swarm.id, self.now())
            swarm.stem.originate(target)  # whoever brings a post into a swarm first looks like its author

    async def api_flag(self, params: dict[str, Any]) -> dict[str, Any]:
        seed = self._require_seed()
        target = self._get(params.get("id"))
        reason = _opt_str(params, "reason") or "other"
        signed = protocol.make_flag(seed, target.id, now=self.now(), reason=reason)
        return await self._commit(signed, self._target_swarms(target))

    async def api_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        seed = self._require_seed()
        target = self._get(params.get("id"))
        root = self._root_of(target) if isinstance(target.obj, protocol.Reply) else None
        try:
            signed = protocol.make_delete(seed, target, now=self.now(), root=root)
        except PermissionError:
            raise ApiError("not_yours", "only its author can delete a post, and this one is not yours") from None
        return await self._commit(signed, self._target_swarms(target))

    async def api_feed(self, params: dict[str, Any]) -> dict[str, Any]:
        store = self._require_store()
        swarm_name = _opt_str(params, "swarm")
        swarm_id = self._swarm_by_name(swarm_name).raw_id if swarm_name else None
        limit, now = _limit(params), self.now()
        cursor = params.get("cursor")
        if cursor is not None and not isinstance(cursor, list):
            raise ApiError("bad_request", "'cursor' must be the list a previous feed page returned")
        page = await trio.to_thread.run_sync(
            lambda: store.feed(swarm=swarm_id, popular=bool(params.get("popular")), limit=limit, before=cursor, now=now)
        )
        return {"posts": page["items"], "cursor": page["next"]}

    async def api_thread(self, params: dict[str, Any]) -> dict[str, Any]:
        target = self._get(params.get("id"))
        root = self._root_of(target)
        store, now = self._require_store(), self.now()
        thread = await trio.to_thread.run_sync(lambda: store.thread(root.id, now=now))
        if thread is None:
            raise ApiError("not_found", "that thread is not known here")
        return thread

    async def api_search(self, params: dict[str, Any]) -> dict[str, Any]:
        store = self._require_store()
        query, limit, now = _str(params, "query"), _limit(params), self.now()
        results = await trio.to_thread.run_sync(
            lambda: store.search(query, limit=limit, now=now, markers=SEARCH_MARKERS)
        )
        return {"results": results}

    async def api_peers(self, params: dict[str, Any]) -> dict[str, Any]:
        out = []
        for swarm in self.swarms.values():
            out.append(
                {
                    "swarm": swarm.name,
                    "peer_id": swarm.host.peer_id,
                    "connected": sorted(swarm.host.connected_peers()),
                    "mesh": sorted(swarm.host.mesh_peers()),
                    "known": len(self._require_store().peers(swarm.id)),
                    "addressed": sorted(swarm.host.known_peer_addrs()),
                    "invalid": swarm.host.invalid_message_counts(),
                    "stem_invalid": dict(swarm.stem.invalid),
                }
            )
        return {"swarms": out}

    async def api_shutdown(self, params: dict[str, Any]) -> dict[str, Any]:
        assert self._nursery is not None
        self._nursery.start_soon(self._shutdown_after_reply)
        return {"stopping": True}

    async def _shutdown_after_reply(self) -> None:
        await trio.sleep(0.1)  # let the control server send the reply before everything closes
        self.shutdown()

    _methods: ClassVar[dict[str, Callable[[Node, dict[str, Any]], Any]]] = {
        "status": api_status,
        "identity.create": api_identity_create,
        "identity.restore": api_identity_restore,
        "identity.unlock": api_identity_unlock,
        "swarm.create": api_swarm_create,
        "swarm.join": api_swarm_join,
        "swarm.invite": api_swarm_invite,
        "swarm.leave": api_swarm_leave,
        "swarm.list": api_swarm_list,
        "post": api_post,
        "reply": api_reply,
        "heart": api_heart,
        "flag": api_flag,
        "delete": api_delete,
        "feed": api_feed,
        "thread": api_thread,
        "search": api_search,
        "peers": api_peers,
        "shutdown": api_shutdown,
    }


def _str(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ApiError("bad_request", f"'{key}' must be a non-empty string")
    return value


def _opt_str(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError("bad_request", f"'{key}' must be a string")
    return value


def _limit(params: dict[str, Any]) -> int:
    limit = params.get("limit", 50)
    if type(limit) is not int or not 1 <= limit <= 500:
        raise ApiError("bad_request", "'limit' must be a whole number from 1 to 500")
    return limit


def _port_of(addrs: list[str]) -> int | None:
    for addr in addrs:
        parts = addr.split("/")
        if "tcp" in parts:
            return int(parts[parts.index("tcp") + 1])
    return None


def _replace_ip(addr: str, ip: str) -> str:
    parts = addr.split("/")
    if len(parts) > 2 and parts[1] == "ip4":
        parts[2] = ip
    return "/".join(parts)


def _local_ips() -> list[str]:
    """This machine's IPv4 addresses other than loopback, without touching the network."""
    import socket

    ips: set[str] = set()
    with contextlib.suppress(OSError):  # no resolvable host name: fall back to loopback
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            ip = str(info[4][0])
            if not ip.startswith("127."):
                ips.add(ip)
    return sorted(ips) or ["127.0.0.1"]
