"""Asking the home router to forward a swarm's TCP port, over UPnP-IGD or NAT-PMP (docs/nat.md, "UPnP-IGD").

A router that allows UPnP maps a port of its public address to ours on
request, for a lease; friends elsewhere then dial that address directly.  One
:class:`PortMapper` per swarm host asks for its listen port (the same port
outside), renews the lease before it runs out, and removes the mapping when
the host stops (best effort: a router that is gone keeps it until the lease
ends).  No gateway, a refusal, or a router whose own outside address is a
private one (another NAT in front) are states shown in ``status``, logged
once each and counted, never errors: the swarm runs on without a mapping and
asks again later.  When no UPnP gateway answers, or the one that does will
not map, the same is asked over NAT-PMP (``_natpmp``, RFC 6886) of the
default gateway; a mapping made that way is renewed and removed there.

The UPnP calls are miniupnpc's, which block (SSDP discovery waits, SOAP is plain
HTTP), so they run in a worker thread.  ``libp2p.discovery.upnp.UpnpManager``
wraps the same library but is not used: it refuses every external address
Python calls private, which includes the documentation and other reserved
ranges (the lab's router is 203.0.113.x), and it maps with a permanent lease
that a crashed node would leave on the router forever (docs/gossip-notes.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Literal, Protocol

import trio

from . import _natpmp as natpmp
from ._tasks import Failures

__all__ = ["LEASE", "RETRY", "Gateway", "PortMapper", "UpnpState"]

log = logging.getLogger(__name__)

LEASE = 3600  # seconds a mapping is asked for; renewed at half
RETRY = 600.0  # seconds before asking again after no gateway or a refusal
DISCOVER_MS = 2000  # how long SSDP discovery listens for gateways
DESCRIPTION = "p2pnet"
REMOVE_TIMEOUT = 5.0  # seconds shutdown waits for the router to drop the mapping

UpnpState = Literal["off", "searching", "mapped", "no_gateway", "refused", "double_nat"]
Via = Literal["", "UPnP-IGD", "NAT-PMP"]  # the protocol a mapping was made over
_Outcome = tuple[UpnpState, str, str]  # state, external "IP:PORT", detail


class Gateway(Protocol):
    """The part of ``miniupnpc.UPnP`` used here; every call blocks."""

    lanaddr: str

    def discover(self) -> int: ...
    def selectigd(self) -> Any: ...
    def externalipaddress(self) -> str: ...
    def addportmapping(self, *args: Any) -> Any: ...
    def deleteportmapping(self, *args: Any) -> Any: ...


def _miniupnpc() -> Gateway:
    import miniupnpc  # imported here so a node without UPnP never loads it

    gateway = miniupnpc.UPnP()
    gateway.discoverdelay = DISCOVER_MS
    return gateway  # type: ignore[no-any-return]


def _natpmp_gateway() -> tuple[str, int] | None:
    ip = natpmp.default_gateway()
    return None if ip is None else (ip, natpmp.PORT)


Offload = Callable[..., Awaitable[Any]]
# A call left running when the node stops is abandoned, not waited for: miniupnpc's own timeouts end it.
# (trio_typing's stubs predate the argument.)
_THREAD: Offload = partial(trio.to_thread.run_sync, abandon_on_cancel=True)  # type: ignore[call-arg]


class PortMapper:
    """Keeps one TCP port mapped on the LAN's UPnP (or else NAT-PMP) gateway while :meth:`run` runs.

    Args:
        port: The TCP port the swarm host listens on; the same port is asked for outside.
        failures: Where states other than mapped are counted (``upnp_no_gateway``, ...), once per change.
        private: Whether an IP is in a range the internet cannot dial (the node's own test).
        on_change: Called with ``/ip4/EXT/tcp/PORT`` when a mapping is made, None when it is lost.
        gateway: Makes the miniupnpc object (a test's fake gateway).
        natpmp_gateway: Where to ask over NAT-PMP, (IP, port); None: nowhere (no default route).
        offload: Runs a blocking call off the event loop.
    """

    def __init__(
        self,
        port: int,
        failures: Failures,
        private: Callable[[str], bool],
        on_change: Callable[[str | None], None] = lambda addr: None,
        gateway: Callable[[], Gateway] = _miniupnpc,
        offload: Offload = _THREAD,
        natpmp_gateway: Callable[[], tuple[str, int] | None] = _natpmp_gateway,
    ) -> None:
        self._port = port
        self._failures = failures
        self._private = private
        self._on_change = on_change
        self._make_gateway = gateway
        self._offload = offload
        self._natpmp = natpmp_gateway
        self._gateway: Gateway | None = None
        self._lease = LEASE  # what the router granted
        self.state: UpnpState = "searching"
        self.external = ""  # "IP:PORT" while mapped
        self.detail = ""  # why not mapped, in the router's words when it gave any
        self.via: Via = ""  # while mapped: "UPnP-IGD" or "NAT-PMP"

    async def run(self) -> None:
        """Map, renew at half the lease, ask again after failures; remove the mapping when cancelled."""
        try:
            while True:
                await self._map()
                await trio.sleep(self._lease / 2 if self.state == "mapped" else RETRY)
        finally:
            if self.state == "mapped":
                with trio.move_on_after(REMOVE_TIMEOUT) as scope:
                    scope.shield = True  # the host is stopping: this one call still runs
                    await self._remove()

    async def _map(self) -> None:
        # A mapping made over NAT-PMP is renewed there; otherwise UPnP first, and NAT-PMP when it finds
        # no gateway or is refused (a router may speak only NAT-PMP, or have UPnP turned off).
        outcome: _Outcome | None = None
        via: Via = ""
        if self.via != "NAT-PMP":
            outcome, via = await self._map_upnp(), "UPnP-IGD"
        if outcome is None or outcome[0] in ("no_gateway", "refused"):
            answered = await self._map_natpmp()
            if answered is not None:
                outcome, via = answered, "NAT-PMP"
        self._set(*(outcome or ("no_gateway", "", "")), via=via)

    async def _map_upnp(self) -> _Outcome:
        try:
            if self._gateway is None:
                self._gateway = await self._find()
                if self._gateway is None:
                    return "no_gateway", "", ""
            gateway, lan = self._gateway, self._gateway.lanaddr
            ext = await self._offload(gateway.externalipaddress)
            if not ext:
                return "refused", "", "the router has no external address to give"
            if self._private(ext):
                return "double_nat", "", f"the router's own address {ext} is private"
            args = (self._port, "TCP", lan, self._port, DESCRIPTION, "", LEASE)
            await self._offload(gateway.addportmapping, *args)
        except Exception as exc:  # miniupnpc raises plain Exception with the router's error text
            self._gateway = None  # found again next time: the router may have restarted
            return "refused", "", str(exc) or type(exc).__name__
        self._lease = LEASE
        return "mapped", f"{ext}:{self._port}", ""

    async def _map_natpmp(self) -> _Outcome | None:
        """The outcome of asking over NAT-PMP; None when no gateway answers it."""
        gateway = self._natpmp()
        if gateway is None:
            return None
        try:
            ext = await natpmp.external_address(gateway)
            if ext is None:
                return None
            if self._private(ext):
                return "double_nat", "", f"the router's own address {ext} is private"
            granted = await natpmp.map_tcp(gateway, self._port, LEASE)
        except natpmp.NatPmpError as exc:
            return "refused", "", str(exc)
        if granted is None or not granted[1]:
            return "refused", "", "the router did not map the port over NAT-PMP"
        self._lease = min(granted[1], LEASE)
        return "mapped", f"{ext}:{granted[0]}", ""

    async def _find(self) -> Gateway | None:
        gateway = self._make_gateway()
        try:
            found = await self._offload(gateway.discover)
            if found:
                await self._offload(gateway.selectigd)
        except Exception as exc:
            found = 0
            log.debug("UPnP discovery failed: %s", exc)
        return gateway if found else None

    def _set(self, state: UpnpState, external: str, detail: str, *, via: Via) -> None:
        was, had = self.state, self.external
        self.state, self.external, self.detail = state, external, detail
        self.via = via if state == "mapped" else ""
        if (state, external) == (was, had):
            return  # a renewal, or the same failure again: said already
        if state == "mapped":
            log.info("%s: the router forwards %s to TCP port %d here", via, external, self._port)
            ip, port = external.rsplit(":", 1)
            self._on_change(f"/ip4/{ip}/tcp/{port}")
            return
        self._failures[f"upnp_{state}"] += 1
        log.info("UPnP: no port mapping for TCP port %d (%s%s)", self._port, state, f": {detail}" if detail else "")
        if had:
            self._on_change(None)

    async def _remove(self) -> None:
        if self.via == "NAT-PMP":
            at = self._natpmp()
            try:
                removed = at is not None and await natpmp.map_tcp(at, self._port, 0) is not None
            except natpmp.NatPmpError as exc:
                log.debug("NAT-PMP: mapping of TCP port %d not removed: %s", self._port, exc)
                return
            if removed:
                log.info("NAT-PMP: mapping of TCP port %d removed", self._port)
            return
        gateway = self._gateway
        if gateway is None:
            return
        try:
            await self._offload(gateway.deleteportmapping, self._port, "TCP")
        except Exception as exc:  # gone or refused: the lease ends it
            log.debug("UPnP: mapping of TCP port %d not removed: %s", self._port, exc)
        else:
            log.info("UPnP: mapping of TCP port %d removed", self._port)
