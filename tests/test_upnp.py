"""UPnP port mapping: the mapper's states, lease renewal and removal against a fake gateway on a MockClock.

The lab test (tests/netlab/test_upnp.py) runs it against a real miniupnpd.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
from harness.polling import until

from p2pnet.api import SwarmStatus, upnp_text
from p2pnet.cli._parser import _parser
from p2pnet.net import Failures, GossipParams, open_swarm_host
from p2pnet.net._upnp import LEASE, RETRY, PortMapper
from p2pnet.node._addrs import invite_addrs
from p2pnet.node._reachnote import private_ip, reach_note


class FakeGateway:
    """miniupnpc.UPnP's calls, answering as a router would; ``calls`` records what was asked."""

    def __init__(self, devices: int = 1, external: str = "203.0.113.10", refuse: str = "") -> None:
        self.devices = devices
        self.external = external
        self.refuse = refuse
        self.lanaddr = "192.168.1.10"
        self.calls: list[tuple[Any, ...]] = []
        self.mapped: dict[tuple[int, str], tuple[str, int, int]] = {}

    def discover(self) -> int:
        self.calls.append(("discover",))
        return self.devices

    def selectigd(self) -> str:
        return "http://192.168.1.1:5000/ctl/IPConn"

    def externalipaddress(self) -> str:
        self.calls.append(("external",))
        return self.external

    def addportmapping(self, eport: int, proto: str, host: str, iport: int, desc: str, rhost: str, lease: int) -> bool:
        self.calls.append(("add", eport, proto, host, iport, lease, trio.current_time()))
        if self.refuse:
            raise Exception(self.refuse)  # what miniupnpc raises: the router's error text
        self.mapped[eport, proto] = (host, iport, lease)
        return True

    def deleteportmapping(self, eport: int, proto: str) -> bool:
        self.calls.append(("delete", eport, proto))
        del self.mapped[eport, proto]
        return True


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@asynccontextmanager
async def mapping(gateway: FakeGateway) -> AsyncIterator[tuple[PortMapper, Failures, list[str | None]]]:
    """A mapper of port 4001 running against ``gateway`` for the block; what it counts; what it advertised."""
    failures, seen = Failures(), []
    m = PortMapper(
        4001, failures, private_ip, seen.append, gateway=lambda: gateway, offload=inline, natpmp_gateway=lambda: None
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(m.run)
        await trio.sleep(1)
        yield m, failures, seen
        nursery.cancel_scope.cancel()


async def test_maps_the_listen_port_for_a_lease_and_renews_it_before_it_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gateway = FakeGateway()
    async with mapping(gateway) as (m, failures, seen):
        assert (m.state, m.external) == ("mapped", "203.0.113.10:4001")
        assert gateway.mapped == {(4001, "TCP"): ("192.168.1.10", 4001, LEASE)}
        assert seen == ["/ip4/203.0.113.10/tcp/4001"]
        await trio.sleep(3 * LEASE)
        adds = [c[-1] for c in gateway.calls if c[0] == "add"]
        assert len(adds) >= 6
        assert all(later - earlier < LEASE for earlier, later in itertools.pairwise(adds))
        assert [c for c in gateway.calls if c[0] == "discover"] == [("discover",)]  # the gateway is kept
        assert seen == ["/ip4/203.0.113.10/tcp/4001"] and not failures  # renewals say nothing new
    assert gateway.calls[-1] == ("delete", 4001, "TCP") and gateway.mapped == {}


@pytest.mark.parametrize(
    ("gateway", "state", "count"),
    [
        (FakeGateway(devices=0), "no_gateway", "upnp_no_gateway"),
        (FakeGateway(refuse="ConflictInMappingEntry"), "refused", "upnp_refused"),
        (FakeGateway(external=""), "refused", "upnp_refused"),
        (FakeGateway(external="192.168.0.2"), "double_nat", "upnp_double_nat"),
    ],
)
async def test_a_failure_is_a_state_counted_and_logged_once_and_asked_again_later(
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
    gateway: FakeGateway,
    state: str,
    count: str,
) -> None:
    caplog.set_level("INFO", logger="p2pnet.net._upnp")
    async with mapping(gateway) as (m, failures, seen):
        await trio.sleep(RETRY * 3.5)
        assert (m.state, m.external, seen) == (state, "", [])
        assert dict(failures) == {count: 1}
        assert len([r for r in caplog.records if "no port mapping" in r.getMessage()]) == 1
        asked = [c for c in gateway.calls if c[0] in ("discover", "external")]
        assert len(asked) >= 4  # asked again every RETRY
    assert not [c for c in gateway.calls if c[0] == "delete"]  # nothing to remove
    if state == "refused" and gateway.refuse:
        assert m.detail == "ConflictInMappingEntry"


async def test_a_mapping_lost_on_renewal_is_taken_back_from_what_the_host_advertises(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gateway = FakeGateway()
    async with mapping(gateway) as (m, _, seen):
        gateway.refuse = "ActionFailed"
        await trio.sleep(LEASE)
        assert m.state == "refused" and seen == ["/ip4/203.0.113.10/tcp/4001", None]
        gateway.refuse = ""
        await trio.sleep(RETRY + 1)
        assert m.state == "mapped" and seen[-1] == "/ip4/203.0.113.10/tcp/4001"


async def test_a_gateway_gone_at_shutdown_does_not_hold_it_up(autojump_clock: trio.testing.MockClock) -> None:
    gateway = FakeGateway()

    def gone(*args: Any) -> bool:
        raise Exception("Miniupnpc Unknown Error")

    gateway.deleteportmapping = gone  # type: ignore[method-assign]
    async with mapping(gateway) as (m, _, _):
        pass
    assert m.state == "mapped"  # the lease ends it on the router


def test_invites_name_the_mapped_address_first_and_the_note_stays_quiet() -> None:
    listen = ["/ip4/0.0.0.0/tcp/4001/p2p/12D3KooWPeer"]
    assert invite_addrs(listen, ["192.168.1.10"], mapped="203.0.113.10:40001") == [
        "/ip4/203.0.113.10/tcp/40001/p2p/12D3KooWPeer",
        "/ip4/192.168.1.10/tcp/4001/p2p/12D3KooWPeer",
    ]
    assert invite_addrs(listen, ["192.168.1.10"]) == ["/ip4/192.168.1.10/tcp/4001/p2p/12D3KooWPeer"]
    note = dict(
        reachability="behind_nat", invite_ips=["192.168.1.10"], seen_at=["203.0.113.10"], public_peers=0, port=4001
    )
    assert "behind NAT" in reach_note(**note, announce="p2pnet announce IP")  # type: ignore[arg-type]
    assert reach_note(**note, announce="p2pnet announce IP", mapped="203.0.113.10:4001") == ""  # type: ignore[arg-type]


def test_status_words_and_the_daemon_switch() -> None:
    def swarm(**kw: Any) -> SwarmStatus:
        return SwarmStatus(name="s", peer_id="p", peers=0, sync=None, **kw)

    assert upnp_text(swarm()) == "off"
    mapped = swarm(upnp="mapped", upnp_addr="203.0.113.10:4001")
    assert upnp_text(mapped) == "the router forwards 203.0.113.10:4001 here"
    natpmp = swarm(upnp="mapped", upnp_addr="203.0.113.10:4002", upnp_via="NAT-PMP")
    assert upnp_text(natpmp) == "the router forwards 203.0.113.10:4002 here (NAT-PMP)"
    assert upnp_text(swarm(upnp="no_gateway")) == "no router answers"
    parser = _parser()
    assert parser.parse_args(["daemon", "--no-upnp"]).no_upnp is True
    assert parser.parse_args(["daemon"]).no_upnp is False


async def test_a_host_advertises_the_mapped_address_first_in_its_signed_record() -> None:
    """What peer exchange hands on is the peer's signed record: the router's address leads it."""
    psk, mapped = os.urandom(32), "/ip4/203.0.113.10/tcp/40001"  # never dialled: B is connected already
    params = GossipParams(connect_timeout=5.0, target_peers=0)

    def host(ip: str) -> Any:
        return open_swarm_host(
            host_key_seed=os.urandom(32),
            psk=psk,
            topic="t",
            listen_ip=ip,
            port=0,
            validator=lambda d: True,
            params=params,
        )

    async with host("127.0.0.90") as a, host("127.0.0.91") as b:
        a.advertise_first(mapped)
        assert all("203.0.113.10" not in addr for addr in a.listen_addrs)  # what invites and the port come from
        await b.connect(a.listen_addrs[0])
        await until(lambda: a.peer_id in b.known_peer_addrs(), "A's record at B", within=30)
        assert b.known_peer_addrs()[a.peer_id][0] == f"{mapped}/p2p/{a.peer_id}"
        # Gossip's RPCs carry the record too: one signed before the change would be refused as older, and
        # with it A's subscription, leaving B without A in its mesh (libp2p_patches.addrs_changed).
        await until(lambda: a.peer_id in b.mesh_peers() and b.peer_id in a.mesh_peers(), "A and B meshed", within=30)
        a.advertise_first(None)
        assert "203.0.113.10" not in " ".join(str(x) for x in a._host.get_addrs())
