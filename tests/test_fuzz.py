"""Hostile bytes: every decoder fails only with protocol's own errors, in bounded memory.

25,000 examples per decoder family (100,000+ in a normal run); ``--slow``
multiplies that by ten.
"""

from __future__ import annotations

import contextlib
import os
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import protocol

# 2,000 examples per decoder in the default suite; 100,000 under --slow (tests/conftest.py).
EXAMPLES = int(os.environ.get("P2PNET_FUZZ_EXAMPLES", "2000"))
NOW = 1_763_700_123
SEED = bytes(range(32))
ADDR = "/ip4/127.0.0.2/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"

_root = protocol.make_post(SEED, "a root post with some words", now=NOW, bg="rose", name="anon", expires_in=600)
WIRES = [
    _root.wire,
    protocol.make_post(SEED, "é" * 900, now=NOW).wire,
    protocol.make_reply(SEED, _root, "a reply", now=NOW).wire,
    protocol.make_heart(SEED, _root.id, now=NOW).wire,
    protocol.make_flag(SEED, _root.id, now=NOW, reason="abuse").wire,
    protocol.make_delete(SEED, _root, now=NOW).wire,
    protocol.seal_message(
        protocol.conversation_key(SEED, _root.obj.pubkey), _root.obj.pubkey, _root.id, "hi", now=NOW
    ).wire,
]
INVITES = [protocol.encode_invite(protocol.Invite("friends", bytes(32), (ADDR, ADDR), 1_900_000_000)).encode()]
IDENTITIES = [
    protocol.encode_identity_file(SEED),
    protocol.encode_identity_file(SEED, "pw", opslimit=1, memlimit=8192),
]
PHRASES = [protocol.seed_to_phrase(SEED).encode()]


@st.composite
def mutated(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete", "splice"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        else:
            data += draw(st.binary(max_size=64))
    return bytes(data)


def _same(b: bytes) -> bytes:
    return b


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


# name -> (decoder, how raw bytes become its input, valid inputs to mutate)
DECODERS: dict[str, tuple[Callable[[Any], Any], Callable[[bytes], Any], list[bytes]]] = {
    "object": (protocol.decode, _same, WIRES),
    "invite": (lambda s: protocol.decode_invite(s, now=NOW), _text, INVITES),
    "identity": (lambda b: protocol.decode_identity_file(b, "pw"), _same, IDENTITIES),
    "phrase": (protocol.phrase_to_seed, _text, PHRASES),
}


def _only_protocol_errors(decoder: Callable[[Any], Any], data: Any) -> None:
    with contextlib.suppress(protocol.ProtocolError):
        decoder(data)


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_random_bytes(name: str) -> None:
    decoder, prepare, _ = DECODERS[name]

    @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), database=None)
    @given(st.binary(max_size=9000))
    def run(data: bytes) -> None:
        _only_protocol_errors(decoder, prepare(data))

    run()


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_mutated_valid_bytes(name: str) -> None:
    decoder, prepare, pool = DECODERS[name]
    for data in pool:
        decoder(prepare(data))  # the pool itself is valid

    @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), database=None)
    @given(mutated(pool))
    def run(data: bytes) -> None:
        _only_protocol_errors(decoder, prepare(data))

    run()


def test_decoding_memory_is_bounded() -> None:
    """The worst inputs (maximal, or declaring huge lengths) allocate little."""
    hostile = [
        b"\x01\x01\xff\xff" + bytes(8188),
        b"\x01\x02\xff\xff" + b"\xff" * 9000,
        bytes(protocol.MAX_WIRE_SIZE),
        b"\xff" * (1 << 20),
        protocol.make_post(SEED, "\U0001f600" * 1000, now=NOW, name="\U0001f600" * 32).wire,
    ]
    for data in hostile:
        for name, (decoder, prepare, _) in DECODERS.items():
            given_input = prepare(data)
            tracemalloc.start()
            try:
                _only_protocol_errors(decoder, given_input)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            # oversized input is refused before it is copied or parsed
            assert peak < 256 * 1024, (name, len(data), peak)
