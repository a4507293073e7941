"""LAN beacons: what opens, what does not, and the daemon's switch (the lab test runs them on a real LAN)."""

from __future__ import annotations

import os

import pytest

import protocol
from p2pnet.cli._parser import _parser
from p2pnet.net import LanFinder

KEY = protocol.beacon_key(bytes(range(32)))
PEER = b"\x00\x24" + bytes(range(36))  # an identity multihash, as an Ed25519 peer id is
NOW = 1_763_700_000


def test_a_beacon_opens_within_one_step_either_side_and_not_beyond() -> None:
    datagram = protocol.seal_beacon(KEY, protocol.Beacon(4001, PEER), now=NOW)
    step = protocol.BEACON_STEP
    for now in (NOW - step, NOW, NOW + step):
        assert protocol.open_beacon(KEY, datagram, now=now) == protocol.Beacon(4001, PEER)
    for now in (NOW - 2 * step, NOW + 2 * step):
        with pytest.raises(protocol.DecodeError, match="stale"):
            protocol.open_beacon(KEY, datagram, now=now)


def test_two_beacons_of_one_node_share_no_byte_pattern_a_stranger_could_link() -> None:
    one, two = (protocol.seal_beacon(KEY, protocol.Beacon(4001, PEER), now=NOW) for _ in range(2))
    assert len(one) == len(two) == protocol.BEACON_BYTES
    assert sum(a == b for a, b in zip(one, two, strict=True)) < 16  # random bytes agree on ~1 in 256


def test_noise_and_other_swarms_beacons_are_refused() -> None:
    other = protocol.seal_beacon(protocol.beacon_key(os.urandom(32)), protocol.Beacon(4001, PEER), now=NOW)
    for datagram in (other, os.urandom(protocol.BEACON_BYTES), b"", os.urandom(2000)):
        with pytest.raises(protocol.DecodeError):
            protocol.open_beacon(KEY, datagram, now=NOW)


def test_sealing_refuses_what_a_beacon_cannot_carry() -> None:
    for port, peer in ((0, PEER), (65536, PEER), (4001, b""), (4001, bytes(100))):
        with pytest.raises(ValueError):
            protocol.seal_beacon(KEY, protocol.Beacon(port, peer), now=NOW)
    with pytest.raises(ValueError, match="32 bytes"):
        protocol.beacon_key(b"short")


def test_loopback_listeners_look_for_no_lan_and_the_daemon_can_refuse_it() -> None:
    assert not LanFinder.wanted("127.0.0.5")
    assert LanFinder.wanted("192.168.1.10") and LanFinder.wanted("0.0.0.0")
    parser = _parser()
    assert parser.parse_args(["daemon", "--no-lan"]).no_lan is True
    assert parser.parse_args(["daemon"]).no_lan is False
