"""NAT-PMP (RFC 6886): the client's bytes, and the port mapper falling back to it, against a UDP responder on loopback.

The responder speaks the RFC's wire format from the bytes up, so the client is
checked against the RFC's layout and not against itself. The lab test
(tests/netlab/test_upnp.py) runs it against miniupnpd's NAT-PMP server.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing
from test_upnp import FakeGateway, inline

from p2pnet.net import Failures
from p2pnet.net._natpmp import (
    NatPmpError,
    default_gateway,
    external_address,
    external_request,
    map_request,
    map_tcp,
)
from p2pnet.net._upnp import LEASE, RETRY, PortMapper
from p2pnet.node._reachnote import private_ip

EXTERNAL = "203.0.113.10"


def test_requests_are_the_rfcs_bytes() -> None:
    assert external_request() == bytes.fromhex("0000")  # version 0, opcode 0 (section 3.2)
    # version 0, opcode 2 (TCP), reserved 0, internal port 4001, suggested external 4001, 3600 s (section 3.3)
    assert map_request(4001, 4001, 3600) == bytes.fromhex("0002 0000 0fa1 0fa1 00000e10")
    assert map_request(4001, 0, 0) == bytes.fromhex("0002 0000 0fa1 0000 00000000")  # removal (section 3.4)


def test_the_default_gateway_is_read_from_the_kernels_route_table(tmp_path: Path) -> None:
    route = tmp_path / "route"
    head = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    lan = "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    route.write_text(head + lan + "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
    assert default_gateway(route) == "192.168.1.1"
    route.write_text(head + lan)
    assert default_gateway(route) is None
    assert default_gateway(tmp_path / "absent") is None


Answer = Callable[[bytes], list[bytes]]


class Router:
    """A NAT-PMP server on loopback: what it was asked, what it maps, and how it answers."""

    def __init__(self, sock: trio.socket.SocketType, external: str = EXTERNAL, result: int = 0) -> None:
        self.sock = sock
        self.addr: tuple[str, int] = sock.getsockname()
        self.external = external
        self.result = result  # a result code to answer every request with
        self.grant = LEASE  # the most lifetime it grants
        self.asked: list[bytes] = []
        self.mapped: dict[int, tuple[int, int]] = {}  # internal port: (external port, lifetime)
        self.garbage: list[bytes] = []  # sent before each real answer

    def answer(self, request: bytes) -> bytes:
        op = request[1]
        head = struct.pack("!BBHI", 0, 128 + op, self.result, 1000)
        if self.result:
            return head
        if op == 0:
            return head + socket.inet_aton(self.external)
        _, _, _, internal, external, lifetime = struct.unpack("!BBHHHI", request)
        lifetime = min(lifetime, self.grant)
        if lifetime:
            self.mapped[internal] = (external + 1, lifetime)  # another port than asked: a router may
        else:
            self.mapped.pop(internal, None)
        return head + struct.pack("!HHI", internal, external + 1 if lifetime else 0, lifetime)

    async def serve(self) -> None:
        while True:
            request, sender = await self.sock.recvfrom(1100)
            self.asked.append(request)
            for garbage in self.garbage:
                await self.sock.sendto(garbage, sender)
            await self.sock.sendto(self.answer(request), sender)


@asynccontextmanager
async def router(**kw: object) -> AsyncIterator[Router]:
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        await sock.bind(("127.0.0.1", 0))
        r = Router(sock, **kw)  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(r.serve)
            yield r
            nursery.cancel_scope.cancel()


async def test_the_external_address_and_a_mapping_with_the_port_and_lifetime_granted() -> None:
    async with router() as r:
        assert await external_address(r.addr) == EXTERNAL
        r.grant = 600
        assert await map_tcp(r.addr, 4001, 3600) == (4002, 600)
        assert r.mapped == {4001: (4002, 600)}
        assert await map_tcp(r.addr, 4001, 0) == (0, 0)
        assert r.mapped == {}
        assert r.asked == [bytes.fromhex("0000"), map_request(4001, 4001, 3600), map_request(4001, 0, 0)]


@pytest.mark.parametrize("code", [1, 2, 3, 4, 5, 99])
async def test_a_refusal_is_an_error_naming_the_result_code(code: int) -> None:
    async with router(result=code) as r:
        with pytest.raises(NatPmpError, match=f"NAT-PMP result {code}: ") as err:
            await map_tcp(r.addr, 4001, 3600)
        assert err.value.code == code
        with pytest.raises(NatPmpError):
            await external_address(r.addr)


async def test_short_garbled_and_wrong_opcode_replies_are_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="p2pnet.net._natpmp")
    wrong_op = struct.pack("!BBHI", 0, 129, 0, 1) + struct.pack("!HHI", 4001, 9999, 3600)  # a UDP mapping's reply
    short_success = struct.pack("!BBHI", 0, 130, 0, 1) + b"\x0f\xa1"
    wrong_version = struct.pack("!BBHI", 2, 130, 0, 1) + struct.pack("!HHI", 4001, 9999, 3600)
    async with router() as r:
        r.garbage = [b"", b"\x00", b"\xff" * 7, wrong_op, short_success, wrong_version]
        assert await map_tcp(r.addr, 4001, 3600) == (4002, 3600)
        assert await external_address(r.addr) == EXTERNAL
    assert len([rec for rec in caplog.records if "ignored a malformed reply" in rec.getMessage()]) >= 12


async def test_a_gateway_that_never_answers_is_asked_four_times_over_under_four_seconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.setblocking(False)
        start = trio.current_time()
        assert await map_tcp(silent.getsockname(), 4001, 3600) is None
        assert trio.current_time() - start == pytest.approx(0.25 + 0.5 + 1 + 2)  # doubling from 250 ms
        asked = []
        while True:
            try:
                asked.append(silent.recv(100))
            except BlockingIOError:
                break
    assert asked == [map_request(4001, 4001, 3600)] * 4


async def test_nothing_listening_is_no_answer() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        addr = closed.getsockname()
    assert await external_address(addr) is None  # ICMP port unreachable: no wait for the retries


@asynccontextmanager
async def mapper(r: Router, gateway: FakeGateway) -> AsyncIterator[tuple[PortMapper, Failures, list[str | None]]]:
    failures, seen = Failures(), []
    m = PortMapper(
        4001, failures, private_ip, seen.append, gateway=lambda: gateway, offload=inline, natpmp_gateway=lambda: r.addr
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(m.run)
        await trio.sleep(10)
        yield m, failures, seen
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("gateway", [FakeGateway(devices=0), FakeGateway(refuse="ActionFailed")])
async def test_with_no_upnp_the_port_is_mapped_over_natpmp_renewed_and_removed(
    autojump_clock: trio.testing.MockClock, gateway: FakeGateway
) -> None:
    async with router() as r:
        r.grant = 1000  # renewed at half what the router grants, not half what was asked
        async with mapper(r, gateway) as (m, failures, seen):
            assert (m.state, m.external, m.via) == ("mapped", f"{EXTERNAL}:4002", "NAT-PMP")
            assert seen == [f"/ip4/{EXTERNAL}/tcp/4002"] and not failures
            assert r.mapped == {4001: (4002, 1000)}
            upnp_asks = len(gateway.calls)
            await trio.sleep(2000)
            assert r.asked.count(map_request(4001, 4001, 3600)) >= 4
            assert len(gateway.calls) == upnp_asks  # renewed over NAT-PMP alone
        assert r.mapped == {} and r.asked[-1] == map_request(4001, 0, 0)


async def test_upnp_is_asked_first_and_natpmp_not_at_all_when_it_maps(autojump_clock: trio.testing.MockClock) -> None:
    async with router() as r, mapper(r, FakeGateway()) as (m, _, _):
        assert (m.state, m.external, m.via) == ("mapped", f"{EXTERNAL}:4001", "UPnP-IGD")
        assert r.asked == []


@pytest.mark.parametrize(
    ("kw", "state", "detail"),
    [
        ({"result": 2}, "refused", "NAT-PMP result 2: not authorized"),
        ({"result": 3}, "refused", "NAT-PMP result 3: network failure"),
        ({"external": "10.0.0.2"}, "double_nat", "10.0.0.2 is private"),
    ],
)
async def test_a_natpmp_refusal_is_a_state_and_asked_again_later(
    autojump_clock: trio.testing.MockClock, kw: dict[str, object], state: str, detail: str
) -> None:
    async with router(**kw) as r, mapper(r, FakeGateway(devices=0)) as (m, failures, seen):
        assert (m.state, m.external, m.via, seen) == (state, "", "", [])
        assert detail in m.detail
        assert dict(failures) == {f"upnp_{state}": 1}
        asked = len(r.asked)
        await trio.sleep(RETRY + 1)
        assert len(r.asked) > asked


async def test_a_natpmp_mapping_lost_falls_back_to_asking_upnp_again(autojump_clock: trio.testing.MockClock) -> None:
    gateway = FakeGateway(devices=0)
    async with router() as r, mapper(r, gateway) as (m, _, seen):
        r.result = 2
        await trio.sleep(LEASE)
        assert m.state == "refused" and seen == [f"/ip4/{EXTERNAL}/tcp/4002", None]
        gateway.devices = 1
        await trio.sleep(RETRY + 1)
        assert (m.state, m.via) == ("mapped", "UPnP-IGD") and seen[-1] == f"/ip4/{EXTERNAL}/tcp/4001"
