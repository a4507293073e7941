"""Opening one swarm's libp2p host: py-libp2p set up as :class:`SwarmHost` needs it, and closed without leaks.

What it adds on top of stock py-libp2p (see ``docs/gossip-notes.md``):

* a libp2p private network (pnet) per swarm, keyed by the swarm's 32-byte PSK,
  with Noise as the only security transport;
* admission (``_admission``): bans, and caps per address, per peer and on
  one peer's streams, in py-libp2p's resource manager;
* anonymous gossip, validation, scoring and no silent drops (``_pubsub``),
  peer exchange (``_peer_exchange``), broken gossip promises judged every heartbeat;
* circuit relay v2 inside the swarm and hole punching (``_relay``), and dial-backs
  that tell whether members can dial us from outside (``_dialback``);
* py-libp2p's own defects fixed process-wide (``libp2p_patches``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2 import PROTOCOL_ID as RELAY_HOP
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.tools.anyio_service import background_trio_service

from . import libp2p_patches
from ._addrs import advertised_addrs, check_can_listen, dial_from
from ._admission import Admission
from ._dialback import DIALBACK_PROTOCOL
from ._guard import Guard
from ._host import SwarmHost
from ._params import GossipParams
from ._peer_exchange import PEERS_PROTOCOL
from ._pubsub import AnonPubsub, deliver_loop, new_router
from ._tasks import Failures

__all__ = ["open_swarm_host", "peer_id_from_seed"]

_CLOSE_TIMEOUT = 10.0


def peer_id_from_seed(host_key_seed: bytes) -> str:
    """Return the libp2p peer id that :func:`open_swarm_host` derives from a seed.

    Args:
        host_key_seed: 32-byte Ed25519 seed.

    Returns:
        The base58 peer id.
    """
    return str(ID.from_pubkey(_key_pair(host_key_seed).public_key))


def _key_pair(host_key_seed: bytes) -> Any:
    if len(host_key_seed) != 32:
        raise ValueError("host_key_seed must be 32 bytes")
    return create_new_key_pair(host_key_seed)


@asynccontextmanager
async def open_swarm_host(
    *,
    host_key_seed: bytes,
    psk: bytes,
    topic: str,
    validator: Callable[[bytes], bool],
    on_message: Callable[[bytes], Awaitable[None]] | None = None,
    listen_ip: str = "127.0.0.1",
    port: int = 0,
    params: GossipParams | None = None,
    failures: Failures | None = None,
    guard: Guard | None = None,
) -> AsyncIterator[SwarmHost]:
    """Run a libp2p host in one swarm's private network for the ``async with`` body.

    Args:
        host_key_seed: 32-byte Ed25519 seed; the same seed gives the same peer id.
        psk: 32-byte swarm key; only hosts with the same key can connect.
        topic: The gossipsub topic of the swarm.
        validator: Called with every incoming payload; False (or an exception)
            drops the message and counts it against the peer that sent it.
        on_message: Awaited with each valid payload received from the
            network, one at a time, in arrival order. None: relay only.
        listen_ip: IPv4 address to listen on.
        port: TCP port; 0 picks a free one.
        params: Gossip settings; defaults to :class:`GossipParams`.
        failures: Where the host counts failures of its tasks and inbound
            streams (:attr:`SwarmHost.failures`); a fresh counter if None.
        guard: The node's ban list, shared by its hosts; a host of its own if None.

    Yields:
        The running :class:`SwarmHost`. Leaving the block closes the host and
        all of its tasks.

    Raises:
        ValueError: The seed or the PSK is not 32 bytes.
        OSError: ``listen_ip:port`` is in use or not a local address.
    """
    params = params or GossipParams()
    failures = failures if failures is not None else Failures()
    guard = guard if guard is not None else Guard()
    libp2p_patches.install()
    if len(psk) != 32:
        raise ValueError("psk must be 32 bytes")
    key_pair = _key_pair(host_key_seed)
    external: list[multiaddr.Multiaddr] = []  # the router's address that forwards to us (UPnP), when there is one
    swarms: list[SwarmHost] = []  # the one made below, once it is

    def addrs_factory(listen: list[multiaddr.Multiaddr]) -> list[multiaddr.Multiaddr]:
        # A mapped address first, then announced ones; our relay addresses go into our signed
        # record too, so peer exchange and invites carry them.
        announced = [a for swarm in swarms for a in swarm.announced_addrs()]
        addrs = external + announced + advertised_addrs(listen) + [a for s in swarms for a in s.relays.addrs()]
        return list({str(a): a for a in addrs}.values())

    host = new_host(
        key_pair=key_pair,
        # py-libp2p wants the PSK as 64 hex chars (security/pnet/protector.py).
        psk=psk.hex(),
        addrs_factory=addrs_factory,
        # Noise only: the default set also offers plaintext and secio, where a
        # swarm member could claim another member's peer id.
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)},
        resource_manager=Admission(guard, params),
    )
    dial_from(host, listen_ip)
    libp2p_patches.count_stream_failures(host, failures)
    router = new_router(params)

    # Unbounded on purpose: gossip already bounds the rate, and dropping here
    # would lose messages that are marked seen and never come back.
    send, receive = trio.open_memory_channel[bytes](math.inf)

    def deliver(data: bytes) -> None:
        with contextlib.suppress(trio.ClosedResourceError):  # shutting down
            send.send_nowait(data)

    pubsub = AnonPubsub(
        host,
        router,
        topic=topic,
        validator=validator,
        deliver=deliver if on_message is not None else None,
        params=params,
    )
    check_can_listen(listen_ip, port)
    listen = multiaddr.Multiaddr(f"/ip4/{listen_ip}/tcp/{port}")
    async with host.run([listen]):
        try:
            if not host.get_transport_addrs():
                # Swarm.listen() reports failure by return value, which
                # BasicHost.run() ignores.
                raise OSError(f"could not listen on {listen_ip}:{port}")
            # The swarm's AutoConnector dials every peer in the peerstore up to
            # ~200 connections, and re-dials on every disconnect; its dials
            # can land after Swarm.close() and leak sockets. Peer exchange
            # below dials instead, up to params.target_peers.
            auto_connector = getattr(host.get_network(), "auto_connector", None)
            if auto_connector is not None:
                await auto_connector.stop()
            async with (
                background_trio_service(pubsub),
                background_trio_service(router),
            ):
                await pubsub.wait_until_ready()
                await pubsub.subscribe(topic)
                async with trio.open_nursery() as nursery:
                    swarm = SwarmHost(host, pubsub, router, params, failures, nursery, guard, psk.hex(), external)
                    swarms.append(swarm)
                    forget_bans = guard.on_ban(swarm._conns.banned)
                    host.set_stream_handler(PEERS_PROTOCOL, swarm._peer_exchange.serve)
                    swarm.serve(DIALBACK_PROTOCOL, swarm.dialback.serve)
                    swarm.start_soon(swarm.dialback.check_loop, restart=True)
                    if on_message is not None:
                        nursery.start_soon(deliver_loop, receive, on_message)
                    swarm.start_soon(swarm._peer_exchange.peer_exchange_loop, restart=True)
                    swarm.start_soon(swarm._promise_loop, restart=True)
                    try:
                        async with (
                            background_trio_service(swarm.relays.protocol),
                            background_trio_service(swarm.relays.dcutr),
                        ):
                            host.set_stream_handler(RELAY_HOP, swarm.relays.serve_hop)
                            swarm.start_soon(swarm.relays.keep_reservations, restart=True)
                            yield swarm
                    finally:
                        forget_bans()
                        swarm._close()
                        send.close()
                        receive.close()
                        # The network first: until its connections are closed,
                        # their stream handlers and connect events still hand
                        # work to pubsub and to this nursery, and either one,
                        # once stopped, raises "Nursery is closed to new
                        # arrivals" into the connection and the host.
                        await _close_network(host)
        finally:
            await _close_network(host)  # if setup failed; a no-op after the close above


async def _close_network(host: IHost) -> None:
    # host.run() only stops the swarm service, whose clean-up then runs
    # cancelled and leaks every dialed socket (ResourceWarning). An explicit
    # close() while not cancelled shuts connections down; it is idempotent.
    with trio.move_on_after(_CLOSE_TIMEOUT) as scope:
        scope.shield = True
        await host.close()
