"""Wire objects: round trips, signatures, padding, and unlinkability."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import VerifyKey
from strategies import signed_objects

import protocol

NOW = 1_763_700_123


@given(signed_objects())
def test_decode_encode_round_trip(s: protocol.Signed) -> None:
    back = protocol.decode(s.wire)
    assert back == s
    assert back.obj == s.obj
    assert back.wire == s.wire and back.id == s.id
    assert protocol.encode_signed(back.obj) == s.signed_bytes


@given(signed_objects())
def test_wire_size_is_the_smallest_bucket(s: protocol.Signed) -> None:
    raw = len(s.signed_bytes) + 64 + len(s.stamp or b"")  # the stamp (version 2) is inside the bucket too
    assert len(s.wire) == min(b for b in protocol.BUCKETS if b >= raw)
    assert s.wire[raw:] == bytes(len(s.wire) - raw)


@settings(max_examples=40)
@given(signed_objects(), st.data())
def test_any_bit_flip_in_signed_bytes_fails(s: protocol.Signed, data: st.DataObject) -> None:
    n = len(s.signed_bytes)
    positions = data.draw(st.lists(st.integers(0, n * 8 - 1), min_size=1, max_size=16, unique=True))
    key = VerifyKey(s.obj.pubkey)
    for bit in positions:
        flipped = bytearray(s.signed_bytes)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(Exception):  # noqa: B017 - nacl's BadSignatureError
            key.verify(bytes(flipped), s.signature)
        wire = bytearray(s.wire)
        wire[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(protocol.ProtocolError):
            protocol.decode(bytes(wire))


def test_every_bit_flip_of_a_heart_fails() -> None:
    heart = protocol.make_heart(bytes(32), bytes(32), now=NOW)
    raw = len(heart.signed_bytes) + 64
    for bit in range(raw * 8):
        wire = bytearray(heart.wire)
        wire[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(protocol.ProtocolError):
            protocol.decode(bytes(wire))


def test_limits() -> None:
    seed = protocol.new_seed()
    assert protocol.make_post(seed, "x" * 1000, now=NOW).obj.text == "x" * 1000
    worst = protocol.make_post(seed, "\U0001f600" * 1000, now=NOW, name="\U0001f600" * 32)
    assert len(worst.wire) == protocol.MAX_WIRE_SIZE
    with pytest.raises(protocol.ObjectTooLarge):
        protocol.make_post(seed, "x" * 1001, now=NOW)
    for bad in ["", "   ", "\u200d\u200c", "bell\x07", "esc\x1b[2J", "bidi\u202e", "zw\u200bsp", "\ufeffbom"]:
        with pytest.raises(protocol.DecodeError):
            protocol.make_post(seed, bad, now=NOW)
    with pytest.raises(protocol.DecodeError):
        protocol.make_post(seed, "hi", now=NOW, bg="neon")
    with pytest.raises(protocol.DecodeError):
        protocol.make_post(seed, "hi", now=NOW, name="two\nlines")
    with pytest.raises(protocol.UsageError):
        protocol.make_post(seed, "hi", now=NOW, expires_in=protocol.MAX_TTL + 1)


def test_times_are_coarsened() -> None:
    post = protocol.make_post(protocol.new_seed(), "hi", now=NOW, expires_in=60)
    assert post.obj.created == NOW - NOW % 600
    assert post.obj.expires is not None and post.obj.expires % 600 == 0 and post.obj.expires >= NOW + 60


def test_unknown_version_and_kind() -> None:
    heart = protocol.make_heart(bytes(32), bytes(32), now=NOW)
    with pytest.raises(protocol.UnknownVersion):
        protocol.decode(b"\x03" + heart.wire[1:])
    with pytest.raises(protocol.UnknownKind):
        protocol.decode(heart.wire[:1] + b"\x11" + heart.wire[2:])


def _post_fields(p: protocol.Signed) -> dict[str, object]:
    fields = dataclasses.asdict(p.obj)  # type: ignore[call-overload]
    fields["signature"] = p.signature
    fields["id"] = p.id
    return fields


def test_root_posts_of_one_seed_are_unlinkable() -> None:
    """Whatever two posts of one seed share, posts of two seeds share as well."""
    a, b = protocol.new_seed(), protocol.new_seed()
    same = [protocol.make_post(a, "same words", now=NOW) for _ in range(2)]
    other = protocol.make_post(b, "same words", now=NOW)
    for name, value in _post_fields(same[0]).items():
        if value == _post_fields(same[1])[name]:
            assert value == _post_fields(other)[name], name
    assert same[0].obj.pubkey != same[1].obj.pubkey


def test_hearts_of_one_seed_are_unlinkable_but_count_once() -> None:
    seed = protocol.new_seed()
    t1, t2 = bytes([1]) * 32, bytes([2]) * 32
    h1, h1_again, h2 = (protocol.make_heart(seed, t, now=NOW) for t in (t1, t1, t2))
    assert h1.obj.pubkey == h1_again.obj.pubkey  # one person counts once per post
    assert h1.obj.pubkey != h2.obj.pubkey  # and cannot be followed across posts
    f1 = protocol.make_flag(seed, t1, now=NOW)
    assert f1.obj.pubkey != h1.obj.pubkey


def test_replies_share_a_key_within_a_thread_only() -> None:
    author, reader = protocol.new_seed(), protocol.new_seed()
    root1 = protocol.make_post(author, "thread one", now=NOW)
    root2 = protocol.make_post(author, "thread two", now=NOW)
    r1 = [protocol.make_reply(reader, root1, f"reply {i}", now=NOW) for i in range(3)]
    r2 = protocol.make_reply(reader, root2, "elsewhere", now=NOW)
    assert len({r.obj.pubkey for r in r1}) == 1
    assert r2.obj.pubkey != r1[0].obj.pubkey
    # the author's replies carry the root key: that is the crown
    own = protocol.make_reply(author, root1, "OP here", now=NOW)
    assert own.obj.pubkey == root1.obj.pubkey
    assert protocol.make_reply(author, root2, "OP again", now=NOW).obj.pubkey == root2.obj.pubkey
    assert r1[0].obj.pubkey != root1.obj.pubkey


def test_only_the_author_can_delete_and_a_restored_phrase_still_can() -> None:
    author, other = protocol.new_seed(), protocol.new_seed()
    post = protocol.make_post(author, "regret", now=NOW)
    reply = protocol.make_reply(author, post, "more regret", now=NOW)
    restored = protocol.phrase_to_seed(protocol.seed_to_phrase(author))
    tomb = protocol.make_delete(restored, post, now=NOW)
    assert tomb.obj.pubkey == post.obj.pubkey and tomb.obj.target == post.id
    assert protocol.make_delete(restored, reply, now=NOW, root=post).obj.target == reply.id
    with pytest.raises(protocol.NotAuthor):
        protocol.make_delete(other, post, now=NOW)
    assert protocol.own_key(other, post) is None
    with pytest.raises(protocol.UsageError):
        protocol.own_key(author, reply)  # a reply's key needs its thread root


def test_sign_refuses_a_mismatched_key() -> None:
    from nacl.signing import SigningKey

    post = protocol.make_post(protocol.new_seed(), "hi", now=NOW)
    with pytest.raises(protocol.UsageError):
        protocol.sign(post.obj, SigningKey(bytes(32)))


# -- proof-of-work stamps (docs/protocol.md, section 13) -------------------------------------------


def test_a_minted_stamp_meets_its_difficulty_and_is_checked_before_the_signature() -> None:
    heart = protocol.make_heart(bytes(32), bytes(32), now=NOW)
    assert heart.version == 2 and heart.stamp == bytes(protocol.STAMP_SIZE)  # unminted
    stamp = protocol.mint_stamp(heart.id, 12)
    assert stamp is not None and protocol.stamp_bits(heart.id, stamp) >= 12
    minted = heart.with_stamp(stamp)
    assert minted.id == heart.id and minted.signed_bytes == heart.signed_bytes and minted.wire != heart.wire
    assert protocol.decode(minted.wire, difficulty=12).stamp == stamp
    weak = protocol.mint_stamp(heart.id, 0)
    assert weak == bytes(8) and protocol.stamp_bits(heart.id, weak) < 12  # nonce 0 is not enough, whp
    with pytest.raises(protocol.BadStamp, match="needs 12"):
        protocol.decode(heart.wire, difficulty=12)
    # A bad stamp is refused even when the signature is also bad: the cheap check comes first.
    forged = bytearray(heart.wire)
    forged[len(heart.signed_bytes)] ^= 1
    with pytest.raises(protocol.BadStamp):
        protocol.decode(bytes(forged), difficulty=12)
    with pytest.raises(protocol.BadSignature):
        protocol.decode(bytes(forged))


def test_the_stamp_is_outside_the_signature_and_anyone_can_restamp() -> None:
    post = protocol.make_post(bytes(32), "a post", now=NOW)
    stamp = protocol.mint_stamp(post.id, 10)
    assert stamp is not None
    restamped = protocol.decode(post.with_stamp(stamp).wire, difficulty=10)
    assert restamped == post and restamped.id == post.id  # same object, same signature


def test_minting_is_deterministic_and_can_be_sliced() -> None:
    oid = bytes(range(32))
    whole = protocol.mint_stamp(oid, 14)
    assert whole is not None
    nonce = int.from_bytes(whole, "big")
    assert protocol.mint_stamp(oid, 14, attempts=nonce) is None  # not found before it
    assert protocol.mint_stamp(oid, 14, start=nonce, attempts=1) == whole
    with pytest.raises(protocol.UsageError):
        protocol.mint_stamp(oid, protocol.MAX_DIFFICULTY + 1)


def test_version_1_objects_carry_no_stamp_and_pass_only_where_none_is_needed() -> None:
    heart = protocol.make_heart(bytes(32), bytes(32), now=NOW)
    key = protocol.own_key(bytes(32), heart)
    assert key is not None
    legacy = protocol.sign(heart.obj, key, version=1)
    assert legacy.version == 1 and legacy.stamp is None and len(legacy.wire) == 256
    assert protocol.decode(legacy.wire) == legacy and protocol.decode(legacy.wire, difficulty=0) == legacy
    with pytest.raises(protocol.BadStamp, match="no stamp"):
        protocol.decode(legacy.wire, difficulty=1)
    with pytest.raises(protocol.UsageError):
        legacy.with_stamp(bytes(8))
