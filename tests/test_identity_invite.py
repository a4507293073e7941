"""Backup phrases, identity files and invite keys: round trips and every error."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from strategies import seeds

import protocol

NOW = 1_763_700_000  # a fixed 'now' before every expiry in these keys

FAST = {"opslimit": 1, "memlimit": 8192}  # Argon2id's minimum cost keeps tests quick
PEER = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
ADDR = f"/ip4/127.0.0.2/tcp/4001/p2p/{PEER}"


@given(seeds)
def test_phrase_round_trip(seed: bytes) -> None:
    phrase = protocol.seed_to_phrase(seed)
    assert len(phrase.split()) == 24
    assert protocol.phrase_to_seed(phrase) == seed
    assert protocol.phrase_to_seed("  " + phrase.upper().replace(" ", "\n  ") + " ") == seed


def test_bad_phrases_say_what_is_wrong() -> None:
    words = protocol.seed_to_phrase(bytes(range(32))).split()
    with pytest.raises(protocol.BadPhrase, match="24 words"):
        protocol.phrase_to_seed(" ".join(words[:-1]))
    with pytest.raises(protocol.BadPhrase, match="word 3"):
        protocol.phrase_to_seed(" ".join([*words[:2], "qwerty", *words[3:]]))
    last = "zoo" if words[-1] != "zoo" else "abandon"
    with pytest.raises(protocol.BadPhrase, match="checksum"):
        protocol.phrase_to_seed(" ".join([*words[:-1], last]))


def test_identity_file_plain_and_sealed() -> None:
    seed = protocol.new_seed()
    plain = protocol.encode_identity_file(seed)
    assert not protocol.identity_file_is_sealed(plain)
    assert protocol.decode_identity_file(plain) == seed
    sealed = protocol.encode_identity_file(seed, "hunter2", **FAST)
    assert protocol.identity_file_is_sealed(sealed)
    assert seed.hex() not in sealed.decode()
    assert protocol.decode_identity_file(sealed, "hunter2") == seed
    with pytest.raises(protocol.WrongPassphrase, match="wrong passphrase"):
        protocol.decode_identity_file(sealed, "hunter3")
    with pytest.raises(protocol.WrongPassphrase, match="protected"):
        protocol.decode_identity_file(sealed)


def test_identity_file_corruption_is_named() -> None:
    seed = protocol.new_seed()
    sealed = protocol.encode_identity_file(seed, "pw", **FAST)
    doc = json.loads(sealed)
    cases = [
        b"",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"something": "else"}',
        json.dumps({**doc, "p2pnet_identity": 9}).encode(),
        json.dumps({**doc, "kdf": "rot13"}).encode(),
        json.dumps({**doc, "salt": "zz"}).encode(),
        json.dumps({**doc, "box": doc["box"][:-2]}).encode(),
        json.dumps({**doc, "memlimit": 1 << 45}).encode(),  # would allocate 32 TiB
        json.dumps({**doc, "opslimit": True}).encode(),
        json.dumps({**doc, "p2pnet_identity": True}).encode(),
        json.dumps({**doc, "salt": doc["salt"].upper()}).encode(),
        b"[" * 2000,  # deep nesting must not escape as RecursionError
        sealed[: len(sealed) // 2],
        b" " * 5000,
    ]
    for data in cases:
        with pytest.raises(protocol.CorruptIdentityFile):
            protocol.decode_identity_file(data, "pw")
    plain = json.loads(protocol.encode_identity_file(seed))
    with pytest.raises(protocol.CorruptIdentityFile):
        protocol.decode_identity_file(json.dumps({**plain, "seed": plain["seed"][:-2]}).encode())


def _invite(**kw: object) -> protocol.Invite:
    args: dict = {"name": "friends", "psk": os.urandom(32), "bootstrap": (ADDR,), "expires": None}
    args.update(kw)
    return protocol.Invite(**args)


def test_invite_round_trip_and_forgiving_paste() -> None:
    inv = _invite(bootstrap=(ADDR, ADDR.replace("127.0.0.2", "127.0.0.3")), expires=2_000_000_000)
    key = protocol.encode_invite(inv)
    assert key.startswith("p2pnet-invite1")
    assert protocol.decode_invite(key, now=NOW) == inv
    wrapped = "\n".join(key[i : i + 60] for i in range(0, len(key), 60))
    assert protocol.decode_invite("  " + wrapped.upper() + "\n", now=NOW) == inv


def test_every_single_character_change_is_caught() -> None:
    key = protocol.encode_invite(_invite())
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    for i in range(len("p2pnet-invite1"), len(key)):
        for c in alphabet[:4]:
            if c == key[i]:
                continue
            with pytest.raises(protocol.InviteError):
                protocol.decode_invite(key[:i] + c + key[i + 1 :], now=NOW)


def test_invite_errors_are_distinct() -> None:
    inv = _invite(expires=1_800_000_000)
    key = protocol.encode_invite(inv)
    with pytest.raises(protocol.InviteTampered):
        protocol.decode_invite(key[:30] + ("q" if key[30] != "q" else "r") + key[31:], now=NOW)
    for cut in (5, 13, 40, len(key) - len("p2pnet-invite1") - 3):
        with pytest.raises(protocol.InviteTruncated):
            protocol.decode_invite(key[:-cut], now=NOW)
    with pytest.raises(protocol.InviteVersionError, match="upgrade"):
        protocol.decode_invite(protocol.encode_invite(inv, version=7), now=NOW)
    with pytest.raises(protocol.InviteExpired):
        protocol.decode_invite(key, now=1_800_000_000)
    assert protocol.decode_invite(key, now=1_799_999_999) == inv
    last = key[-1]
    alias = next(c for c in "abcdefghijklmnopqrstuvwxyz234567" if c != last)
    with pytest.raises(protocol.InviteError):
        protocol.decode_invite(key[:-1] + alias, now=NOW)  # even unused low bits are checked
    for junk in (
        "",
        "hello",
        "p2pnet-invite1!!!!",
        "p2pnet-invite2abcd",
        "p2pnet-invite1straße",
        "p2pnet-invite1\u212aey",
    ):
        with pytest.raises(protocol.InviteMalformed):
            protocol.decode_invite(junk, now=NOW)


def test_invite_refuses_bad_fields() -> None:
    for kw in (
        {"name": ""},
        {"name": "x" * 33},
        {"name": "\u200b"},
        {"name": "a\u202eb"},
        {"psk": b"short"},
        {"bootstrap": ()},
        {"bootstrap": ("/ip4/1.2.3.4/tcp/1",)},
        {"bootstrap": (ADDR,) * 9},
    ):
        with pytest.raises(protocol.UsageError):
            _invite(**kw)


def test_check_swarm_name_is_the_invite_rule() -> None:
    for name in ("friends", "x" * protocol.MAX_SWARM_NAME_CHARS, "日本語の友達", "a b"):
        protocol.check_swarm_name(name)
        assert _invite(name=name).name == name
    for name in ("", "   ", "\u200b", "x" * (protocol.MAX_SWARM_NAME_CHARS + 1), "a\u202eb", "line\nbreak"):
        with pytest.raises(protocol.UsageError, match="a swarm name is 1 to 32 printable characters"):
            protocol.check_swarm_name(name)
        with pytest.raises(protocol.UsageError):
            _invite(name=name)
