"""Dial-back on real hosts (p2pnet.net._dialback): a new connection proves an address, the old one proves nothing.

S serves, A asks; both in one private network on loopback.  A connection
from A to S exists throughout, so a server that reused it (as py-libp2p's
AutoNAT does, tests/test_libp2p_autonat.py) would answer OK to every case.

Addresses: 127.0.17.x.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import multiaddr
import pytest
import trio
from harness.inproc import swarm_hosts
from harness.polling import DEADLINE
from harness.stock_peer import dead_port
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.utils.varint import encode_varint_prefixed

import protocol
from p2pnet.net import GossipParams, SwarmHost
from p2pnet.net._addrs import announced_addrs
from p2pnet.net._dialback import DIALBACK_PROTOCOL, SERVE_RATE, own_addrs
from p2pnet.net._stream import Stream, StreamError
from protocol import DialBackStatus

pytestmark = pytest.mark.trio

TOPIC = "p2pnet/test/dialback"
STATIC = GossipParams(target_peers=0)
S_IP, A_IP, OTHER_IP, LIAR_IP = "127.0.17.1", "127.0.17.2", "127.0.17.9", "127.0.17.3"


def hosts(*ips: str, psk: bytes | None = None) -> AbstractAsyncContextManager[list[SwarmHost]]:
    return swarm_hosts(*ips, topic=TOPIC, params=STATIC, psk=psk)


@asynccontextmanager
async def asker_and_server() -> AsyncIterator[tuple[SwarmHost, SwarmHost]]:
    """A connected to S; S's dial-backs give up after 2 s (a silent listener costs that)."""
    async with hosts(S_IP, A_IP) as (s, a):
        s.dialback.dial_timeout = 2.0
        with trio.fail_after(DEADLINE):
            await a.connect(s.listen_addrs[0])
        yield a, s


def _port(host: SwarmHost) -> int:
    return int(host.listen_addrs[0].split("/tcp/")[1].split("/")[0])


def _conns(host: SwarmHost, peer: str) -> int:
    return len(host._host.get_network().get_connections(ID.from_base58(peer)))


async def test_a_dialable_asker_is_told_ok_and_no_connection_stays() -> None:
    async with asker_and_server() as (a, s):
        with trio.fail_after(DEADLINE):
            assert await a.dialback.ask(s.peer_id, [(A_IP, _port(a))]) is DialBackStatus.OK
        assert _conns(s, a.peer_id) == 1  # the dial-back's connection was closed, never added


async def test_an_address_where_the_asker_is_not_fails_though_a_connection_exists() -> None:
    """Nothing listening, a listener that says nothing, another member: each FAILED."""
    async with asker_and_server() as (a, s), hosts(A_IP, psk=bytes.fromhex(s._host.get_network().psk)) as (c,):
        silent = trio.socket.socket()
        await silent.bind((A_IP, 0))
        silent.listen(8)  # the kernel completes the TCP handshake; nothing more comes
        try:
            with trio.fail_after(DEADLINE):
                for port in (dead_port(A_IP), silent.getsockname()[1], _port(c)):
                    assert _conns(a, s.peer_id) == 1
                    assert await a.dialback.ask(s.peer_id, [(A_IP, port)]) is DialBackStatus.FAILED, port
        finally:
            silent.close()


async def test_an_address_at_another_ip_is_refused() -> None:
    """The server dials only the IP the request came from: it cannot be aimed at a third host."""
    async with asker_and_server() as (a, s):
        with trio.fail_after(DEADLINE):
            for addrs in ([(OTHER_IP, 4001)], [(S_IP, _port(s))]):
                assert await a.dialback.ask(s.peer_id, addrs) is DialBackStatus.REFUSED
        # Over a relay the server sees no IP of the asker's own: refused too.
        frame = protocol.encode_dialback_request([(A_IP, _port(a))])
        assert await s.dialback.answer(a.peer_id, None, frame) is DialBackStatus.REFUSED


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x02\x01\x7f\x00\x11\x02\x0f\xa1",  # version 2
        b"\x01\x00",  # no address
        b"\x01\x02\x7f\x00\x11\x02\x0f\xa1",  # two announced, one there
        b"\x01\x01\x7f\x00\x11\x02\x00\x00",  # port 0
        bytes(protocol.MAX_DIALBACK_REQUEST + 1),  # over the limit
    ],
    ids=["empty", "version-2", "no-address", "short", "port-0", "oversized"],
)
async def test_a_malformed_request_is_told_so_and_the_stream_ends(frame: bytes) -> None:
    async with asker_and_server() as (a, s):
        with trio.fail_after(DEADLINE):
            raw = await a._host.new_stream(ID.from_base58(s.peer_id), [TProtocol(DIALBACK_PROTOCOL)])
            await raw.write(encode_varint_prefixed(frame))
            stream = Stream(raw)
            answer = protocol.decode_dialback_response(await stream.receive(2))
            with pytest.raises(StreamError):
                await stream.receive(2)  # the server closed it
            await stream.aclose()
            assert answer is DialBackStatus.MALFORMED
            # S carries on: a good request is answered.
            assert await a.dialback.ask(s.peer_id, [(A_IP, _port(a))]) is DialBackStatus.OK
        assert not s.failures


async def test_a_request_that_never_comes_gets_no_answer_and_the_server_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="p2pnet.net._host")
    async with asker_and_server() as (a, s):
        s.dialback._params = GossipParams(target_peers=0, connect_timeout=0.5)  # how long S waits for the request
        with trio.fail_after(DEADLINE):
            raw = await a._host.new_stream(ID.from_base58(s.peer_id), [TProtocol(DIALBACK_PROTOCOL)])
            stream = Stream(raw)
            with pytest.raises(StreamError):
                await stream.receive(2)  # closed unanswered
            await stream.aclose()
        assert not [r for r in caplog.records if "handler for" in r.getMessage()]  # served to the end, no error


async def test_an_askers_rate_is_limited() -> None:
    async with asker_and_server() as (a, s):
        with trio.fail_after(DEADLINE):
            said = [await a.dialback.ask(s.peer_id, [(OTHER_IP, 4001)]) for _ in range(int(SERVE_RATE.burst) + 1)]
        assert said == [DialBackStatus.REFUSED] * int(SERVE_RATE.burst) + [DialBackStatus.BUSY]


async def test_the_verdict_and_the_relays_follow_the_dial_backs() -> None:
    """Dialled back: public, and A relays; not dialled back: behind NAT, and A wants relays and relays for nobody."""
    async with asker_and_server() as (a, s):
        a.relays.reachable = lambda ip: True  # loopback stands for public addresses here
        assert a.reachability() == "unknown"  # loopback observations are dropped: no word before a dial-back
        with trio.fail_after(DEADLINE):
            await a.dialback.check()
        assert a.dialback.results == {s.peer_id: DialBackStatus.OK}
        # Public, though its own address is private: a forwarded port. It relays and reserves nothing.
        assert a.reachability() == "public" and a.relays.serving() and not a.relays.wanted()
        dead = dead_port(A_IP)
        a.dialback.own_addrs = lambda: [(A_IP, dead)]  # as if a firewall dropped what comes in
        with trio.fail_after(DEADLINE):
            await a.dialback.check()
        assert a.reachability() == "behind_nat"
        assert a.relays.wanted() and not a.relays.serving()
        a.dialback.own_addrs = lambda: [(OTHER_IP, 4001)]  # S now refuses: its last word no longer counts
        with trio.fail_after(DEADLINE):
            await a.dialback.check()
        assert a.dialback.results == {} and a.reachability() == "unknown"


async def test_a_member_on_the_lan_is_not_asked() -> None:
    """A private IP (loopback here) is a LAN neighbour's: its dial-back says nothing of the internet."""
    async with asker_and_server() as (a, _):
        with trio.fail_after(DEADLINE):
            await a.dialback.check()
        assert a.dialback.results == {} and a.reachability() == "unknown"


async def test_the_addresses_asked_for_are_those_friends_are_told() -> None:
    """The announced IP at each listen port and a mapped address, before the private listen one; never a circuit."""
    me = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
    listen = [multiaddr.Multiaddr("/ip4/192.168.1.10/tcp/4001")]
    assert announced_addrs(["203.0.113.10", "203.0.113.10"], [*listen, *listen]) == [
        multiaddr.Multiaddr("/ip4/203.0.113.10/tcp/4001")
    ]
    advertised = [
        multiaddr.Multiaddr(f"/ip4/203.0.113.10/tcp/5001/p2p/{me}"),  # mapped over NAT-PMP, another port
        multiaddr.Multiaddr(f"/ip4/192.168.1.10/tcp/4001/p2p/{me}"),
        multiaddr.Multiaddr(f"/ip4/198.51.100.1/tcp/4001/p2p/{me}/p2p-circuit/p2p/{me}"),  # a relay's
    ]
    announced = announced_addrs(["203.0.113.10"], listen)
    assert own_addrs([*advertised[:1], *announced, *advertised[1:]]) == [
        ("203.0.113.10", 5001),
        ("203.0.113.10", 4001),
        ("192.168.1.10", 4001),
    ]
    assert own_addrs(advertised) == [("203.0.113.10", 5001), ("192.168.1.10", 4001)]
    # Each once, and no more than a request carries; public ones are the ones kept.
    many = [multiaddr.Multiaddr(f"/ip4/10.0.0.{n}/tcp/4001") for n in range(1, 6)]
    assert own_addrs([*many, *announced, *announced, *advertised]) == [
        ("203.0.113.10", 4001),
        ("203.0.113.10", 5001),
        ("10.0.0.1", 4001),
        ("10.0.0.2", 4001),
    ]
    assert len(own_addrs(many)) == protocol.MAX_DIALBACK_ADDRS


async def test_an_announced_address_is_asked_for_first_and_asked_again() -> None:
    async with hosts(A_IP) as (a,):
        assert a.dialback.own_addrs() == [(A_IP, _port(a))]
        a.dialback._wake = trio.Event()
        a.announce("203.0.113.7")
        assert a.dialback.own_addrs() == [("203.0.113.7", _port(a)), (A_IP, _port(a))]
        # In the signed record too, before the listen address: members told of us by peer exchange dial it.
        announced = f"/ip4/203.0.113.7/tcp/{_port(a)}/p2p/{a.peer_id}"
        assert [str(x) for x in a._host.get_addrs()][:1] == [announced]
        assert announced not in a.listen_addrs  # invites name it from the announced IP, once
        a.announce(A_IP)  # our own listen IP, announced: listened on, so it stays a listen address
        assert a.listen_addrs == [f"/ip4/{A_IP}/tcp/{_port(a)}/p2p/{a.peer_id}"]
        assert a.dialback.own_addrs() == [(A_IP, _port(a))]
        assert a.dialback._wake.is_set()  # the check loop asks members again
        a.announce(None)
        assert a.dialback.own_addrs() == [(A_IP, _port(a))]


@asynccontextmanager
async def with_liar() -> AsyncIterator[tuple[SwarmHost, SwarmHost, list[str]]]:
    """A connected to S (honest) and to L, a member whose dial-back server says ok without dialling.

    Yields A, S, and the askers L told ok.
    """
    told: list[str] = []

    async def say_ok(stream: Stream) -> None:
        await stream.receive(protocol.MAX_DIALBACK_REQUEST)
        await stream.send(protocol.encode_dialback_response(DialBackStatus.OK))
        told.append(stream.peer_id)

    async with asker_and_server() as (a, s), hosts(LIAR_IP, psk=bytes.fromhex(s._host.get_network().psk)) as (liar,):
        liar.serve(DIALBACK_PROTOCOL, say_ok)
        a.relays.reachable = lambda ip: True  # loopback stands for public addresses here
        with trio.fail_after(DEADLINE):
            await a.connect(liar.listen_addrs[0])
        yield a, s, told


async def test_a_lying_member_cannot_make_an_undialable_member_reachable() -> None:
    """L's ok comes with no connection from L: it counts for nothing, and S's failed stands."""
    async with with_liar() as (a, s, told):
        dead = dead_port(A_IP)
        a.dialback.own_addrs = lambda: [(A_IP, dead)]  # nothing of A's there: undialable
        with trio.fail_after(DEADLINE):
            await a.dialback.check()
        assert told == [a.peer_id]  # L was asked, and said ok
        assert a.dialback.results == {s.peer_id: DialBackStatus.FAILED}
        assert a.reachability() == "behind_nat" and a.relays.wanted() and not a.relays.serving()
        # L alone: no word at all, so the observed addresses decide (none on loopback).
        await s._host.disconnect(a._host.get_id())
        with trio.fail_after(DEADLINE):
            await a.dialback.check()
        assert told == [a.peer_id] * 2
        assert a.dialback.results == {} and a.reachability() == "unknown"


async def test_an_honest_member_still_makes_a_dialable_member_reachable_next_to_a_liar() -> None:
    async with with_liar() as (a, s, told):
        with trio.fail_after(DEADLINE):
            await a.dialback.check()
        assert told == [a.peer_id]
        assert a.dialback.results == {s.peer_id: DialBackStatus.OK}  # S's dial-back came in; L's ok did not count
        assert a.reachability() == "public" and a.relays.serving() and not a.relays.wanted()
