"""An in-memory network of fake swarm hosts: the layer below the stem, sync and the node, for fast tests.

A :class:`FakeHost` has the interface of :class:`p2pnet.net.SwarmHost` that the
layers above use (publish, connect, streams, connect callbacks, tasks), and
:meth:`FakeNet.open_host` has the signature of :func:`p2pnet.net.open_swarm_host`,
so a real :class:`p2pnet.node.Node` runs on it unchanged.  Gossip floods over
links: each host validates what it receives (as py-libp2p calls our
validator), delivers it, and forwards it to its other links once.  Streams
are memory channels.  Everything runs in the test's trio run, so a
:class:`trio.testing.MockClock` makes embargoes, epochs and back-offs pass in
no time.  Connections have a direction (who dialled) and each host an
address, and a host refuses and drops peers its guard bans.  What it does
not model: scoring and gossip rate limits, meshes (every link is a mesh
link), latency, and libp2p's own failures — the real-host tests cover those.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import trio
from libp2p.io.exceptions import MessageTooLarge

import protocol
from p2pnet.net import Ban, Failures, Guard, StreamError, SwarmConnectError, message_id, supervised


class FakeStream:
    def __init__(self, peer_id: str, send: Any, receive: Any) -> None:
        self.peer_id = peer_id
        self._send, self._receive = send, receive

    async def send(self, frame: bytes) -> None:
        try:
            await self._send.send(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise StreamError("closed") from exc

    async def receive(self, max_len: int) -> bytes:
        try:
            frame: bytes = await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise StreamError("end of stream") from exc
        if len(frame) > max_len:
            raise StreamError("too long") from MessageTooLarge("as SwarmHost's stream reports it")
        return frame

    async def aclose(self) -> None:
        for end in (self._send, self._receive):
            if end is not None:
                await end.aclose()


class FakeNet:
    """Hosts by peer id, the links between them, and a record of what went over the wire.

    Attributes:
        published: ``(publisher, payload, time)`` of every publish (a fluff, or a node's own gossip).
        stems: ``(from, to, frame without its version byte)`` of every stem frame sent.
    """

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.hosts: dict[str, FakeHost] = {}
        self.links: set[frozenset[str]] = set()
        self.dialled: dict[frozenset[str], tuple[str, float]] = {}  # link -> (who dialled, when)
        self.published: list[tuple[str, bytes, float]] = []
        self.stems: list[tuple[str, str, bytes]] = []

    def host(self, name: str, **kwargs: Any) -> FakeHost:
        """Add a host called ``name`` (its peer id) that lives as long as the net."""
        self.hosts[name] = FakeHost(self, name, self.nursery, **kwargs)
        return self.hosts[name]

    def link(self, a: str, b: str) -> None:
        """Connect two hosts, ``a`` dialling ``b``; both see a new connection."""
        if frozenset((a, b)) in self.links:
            return
        self.links.add(frozenset((a, b)))
        self.dialled[frozenset((a, b))] = (a, trio.current_time())
        for me, other in ((a, b), (b, a)):
            for callback in list(self.hosts[me].callbacks):
                callback(other)

    def unlink(self, a: str, b: str) -> None:
        self.links.discard(frozenset((a, b)))
        self.dialled.pop(frozenset((a, b)), None)

    def neighbours(self, name: str) -> list[str]:
        return sorted(next(iter(link - {name})) for link in self.links if name in link)

    @asynccontextmanager
    async def open_host(
        self,
        *,
        host_key_seed: bytes,
        psk: bytes,
        topic: str,
        validator: Callable[[bytes], bool],
        on_message: Callable[[bytes], Any] | None = None,
        listen_ip: str = "10.0.0.1",
        port: int = 0,
        params: Any = None,
        failures: Failures | None = None,
        guard: Guard | None = None,
    ) -> AsyncIterator[FakeHost]:
        """What :func:`p2pnet.net.open_swarm_host` is to a real network: a host for the block."""
        peer_id = "Fake" + hashlib.sha256(host_key_seed).hexdigest()[:20]
        if peer_id in self.hosts:
            raise OSError(f"{peer_id} is already listening")
        async with trio.open_nursery() as nursery:
            host = FakeHost(
                self,
                peer_id,
                nursery,
                psk=psk,
                validator=validator,
                on_message=on_message,
                failures=failures,
                addr=f"/ip4/{listen_ip}/tcp/{port or 4001}/p2p/{peer_id}",
                guard=guard,
            )
            self.hosts[peer_id] = host
            forget = host.guard.on_ban(host.banned)
            try:
                yield host
            finally:
                forget()
                del self.hosts[peer_id]
                self.links = {link for link in self.links if peer_id not in link}
                nursery.cancel_scope.cancel()


class FakeHost:
    """One host of a :class:`FakeNet`; see :class:`p2pnet.net.SwarmHost` for what each method means."""

    def __init__(
        self,
        net: FakeNet,
        peer_id: str,
        nursery: trio.Nursery,
        *,
        psk: bytes = b"",
        validator: Callable[[bytes], bool] | None = None,
        on_message: Callable[[bytes], Any] | None = None,
        failures: Failures | None = None,
        addr: str | None = None,
        guard: Guard | None = None,
    ) -> None:
        self.net, self.peer_id, self._nursery = net, peer_id, nursery
        self.psk = psk
        self.listen_addrs = [addr or f"/ip4/10.0.0.1/tcp/4001/p2p/{peer_id}"]
        self.ip = self.listen_addrs[0].split("/")[2]
        self.guard = guard if guard is not None else Guard()
        self.failures = failures if failures is not None else Failures()
        self.handlers: dict[str, Callable[[Any], Any]] = {}
        self.callbacks: list[Callable[[str], None]] = []
        self.relay: Any = None  # a StemRelay to tell of gossip (for tests of the stem alone)
        self.gossip: list[bytes] = []  # payloads delivered here
        self.invalid = Counter[str]()
        self._validator = validator
        self._on_message = on_message
        self._seen: set[bytes] = set()
        self.announced: str | None = None  # the IP the node announces (SwarmHost.announce)

    # -- gossip -----------------------------------------------------------------------

    async def publish(self, data: bytes) -> bytes:
        if self._validator is not None and not self._validator(data):
            raise ValueError("payload rejected by the validator")
        mid = message_id(data)
        self.net.published.append((self.peer_id, data, trio.current_time()))
        self._seen.add(mid)
        self._forward(data, sender=None)
        return mid

    def _forward(self, data: bytes, sender: str | None) -> None:
        for peer in self.net.neighbours(self.peer_id):
            other = self.net.hosts.get(peer)
            if peer != sender and other is not None:
                self.net.nursery.start_soon(other._receive, data, self.peer_id)

    async def _receive(self, data: bytes, sender: str) -> None:
        mid = message_id(data)
        if mid in self._seen:
            return
        if self._validator is not None and not self._validator(data):
            self.invalid[sender] += 1
            return
        self._seen.add(mid)
        self.gossip.append(data)
        if self.relay is not None:
            self.relay.seen(protocol.decode(data, verify=False).id)
        if self._on_message is not None:
            await self._on_message(data)
        self._forward(data, sender)

    # -- connections ------------------------------------------------------------------

    async def connect(self, *addrs: str) -> None:
        for addr in addrs[:-1]:
            with contextlib.suppress(SwarmConnectError):
                return await self.connect(addr)
        addr = addrs[-1]
        peer = addr.rsplit("/p2p/", 1)[-1]
        other = self.net.hosts.get(peer)
        if other is None or addr not in other.listen_addrs or other.psk != self.psk:
            raise SwarmConnectError(f"cannot connect to {peer}")
        if other.guard.banned(self.peer_id, self.ip) or self.guard.banned(peer, other.ip):
            raise SwarmConnectError(f"{peer} refused the connection: banned")
        self.net.link(self.peer_id, peer)

    def connected_peers(self) -> list[str]:
        return self.net.neighbours(self.peer_id)

    def outbound_peers(self) -> list[str]:
        mine = [
            (since, p)
            for p in self.connected_peers()
            for who, since in [self.net.dialled[frozenset((self.peer_id, p))]]
            if who == self.peer_id
        ]
        return [p for _, p in sorted(mine)]

    def announce(self, ip: str | None) -> None:
        self.announced = ip  # no dial-backs here

    def reachability(self) -> str:
        return "unknown"  # the fake network has no NAT and no identify

    def seen_at(self) -> list[str]:
        return []

    def paths(self) -> dict[str, str]:
        return {p: "direct" for p in self.connected_peers()}  # no NAT, no relays

    def relay_addrs(self) -> list[str]:
        return []

    def relaying(self) -> int:
        return 0

    async def relays_ready(self) -> None:
        pass  # no relays here

    def peer_ip(self, peer_id: str) -> str | None:
        other = self.net.hosts.get(peer_id)
        return None if other is None else other.ip

    def offence(self, peer_id: str, why: str) -> None:
        self.guard.offence(peer_id, self.peer_ip(peer_id), why)

    def banned(self, ban: Ban) -> None:
        for peer in self.connected_peers():
            if peer == ban.peer_id or (ban.peer_id is None and self.peer_ip(peer) == ban.ip):
                self.net.unlink(self.peer_id, peer)

    def flood_counts(self) -> dict[str, int]:
        return {}

    def mesh_peers(self) -> list[str]:
        return self.connected_peers()

    def known_peer_addrs(self) -> dict[str, list[str]]:
        return {p: list(self.net.hosts[p].listen_addrs) for p in self.connected_peers() if p in self.net.hosts}

    def invalid_message_counts(self) -> dict[str, int]:
        return dict(self.invalid)

    def on_connect(self, callback: Callable[[str], None]) -> None:
        self.callbacks.append(callback)

    def start_soon(self, fn: Any, *args: Any, restart: bool = False) -> None:
        self._nursery.start_soon(partial(supervised, fn, *args, failures=self.failures, restart=restart))

    # -- streams ------------------------------------------------------------------------

    def serve(self, protocol: str, handler: Callable[[Any], Any]) -> None:
        self.handlers[protocol] = handler

    @asynccontextmanager
    async def open_stream(self, peer_id: str, protocol: str) -> AsyncIterator[FakeStream]:
        other = self.net.hosts.get(peer_id)
        if frozenset((self.peer_id, peer_id)) not in self.net.links or other is None:
            raise StreamError("not connected")
        handler = other.handlers.get(protocol)
        if handler is None:
            raise StreamError("protocol not supported")
        to_server, server_in = trio.open_memory_channel[bytes](16)
        to_client, client_in = trio.open_memory_channel[bytes](16)
        server = FakeStream(self.peer_id, to_client, server_in)
        client = FakeStream(peer_id, to_server, client_in)

        async def serve() -> None:
            try:
                await handler(server)
            except Exception:
                other.failures["inbound_stream"] += 1
            finally:
                await server.aclose()

        other._nursery.start_soon(serve)
        original = client.send

        async def record(frame: bytes) -> None:
            if protocol.startswith("/p2pnet/stem/"):
                self.net.stems.append((self.peer_id, peer_id, frame[1:]))
            await original(frame)

        client.send = record  # type: ignore[method-assign]
        try:
            yield client
        finally:
            await client.aclose()
