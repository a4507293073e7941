"""Private messages below the node: the sealed object, opening by trial, the store's conversations, the purge.

Real SQLite files, objects made with protocol from fixed seeds; no mocks.
The wire test seals 1,000 messages of one conversation and checks that
nothing on the outside repeats or links them.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl import bindings
from nacl.signing import SigningKey

import protocol
from p2pnet.store import SCHEMA_VERSION, Store, UnknownId

NOW = 1_763_700_000
DAY = 24 * 3600
AUTHOR = bytes(range(32))
WRITER = bytes(range(1, 33))
STRANGER = bytes(range(2, 34))
PSK = bytes(range(100, 132))

POST = protocol.make_post(AUTHOR, "write to me", now=NOW, nonce=bytes(16))


def _own_key(signed: protocol.Signed) -> SigningKey:
    key = protocol.own_key(AUTHOR, signed)
    assert key is not None
    return key


POST_KEY = _own_key(POST)
WRITER_KEY = protocol.conversation_key(WRITER, POST.obj.pubkey)
ANSWER_KEY = protocol.conversation_key(AUTHOR, bytes(WRITER_KEY.verify_key))


def first(text: str = "hello, author", *, now: int = NOW) -> protocol.Signed:
    return protocol.seal_message(WRITER_KEY, POST.obj.pubkey, POST.id, text, now=now)


def message_of(signed: protocol.Signed) -> protocol.Message:
    assert isinstance(signed.obj, protocol.Message)
    return signed.obj


_PLAIN = bytes(
    bindings.crypto_box_seal_open(
        message_of(first()).sealed, protocol.live_key(POST_KEY).public, protocol.live_key(POST_KEY).secret
    )
)


# -- the object ------------------------------------------------------------------------------


def test_a_message_is_one_size_and_opens_only_with_the_key_it_was_sealed_to() -> None:
    signed = first()
    assert len(signed.wire) == protocol.MESSAGE_SIZE == 1024 and signed.wire[:4] == bytes.fromhex("021003b4")
    decoded = protocol.decode(signed.wire)
    message = message_of(decoded)
    assert message.pubkey not in (POST.obj.pubkey, bytes(WRITER_KEY.verify_key))  # a throwaway key outside
    opened = protocol.open_message(message, [protocol.live_key(POST_KEY)])
    assert opened == protocol.Opened(
        POST.obj.pubkey, bytes(WRITER_KEY.verify_key), POST.id, protocol.coarsen(NOW), "hello, author"
    )
    others = [protocol.live_key(k) for k in (WRITER_KEY, ANSWER_KEY, protocol.conversation_key(STRANGER, bytes(32)))]
    assert protocol.open_message(message, others) is None
    assert protocol.open_message(message, [*others, protocol.live_key(POST_KEY), *others]) == opened


def test_created_is_coarse_and_moved_back_at_most_an_hour() -> None:
    steps = {protocol.coarsen(NOW) - message_of(first()).created for _ in range(200)}
    assert steps == {600 * i for i in range(protocol.MESSAGE_JITTER_STEPS + 1)}
    with pytest.raises(protocol.UsageError):
        protocol.seal_message(WRITER_KEY, POST.obj.pubkey, POST.id, "x", now=NOW, jitter=7)


def test_text_rules_and_the_byte_limit() -> None:
    assert protocol.MAX_MESSAGE_TEXT_BYTES == 721
    longest = "é" * 360 + "a"  # 721 bytes
    opened = protocol.open_message(message_of(first(longest)), [protocol.live_key(POST_KEY)])
    assert opened is not None and opened.text == longest
    with pytest.raises(protocol.ObjectTooLarge):
        first("é" * 361)
    for bad in ("", "   ", "bell\x07"):
        with pytest.raises(protocol.DecodeError):
            first(bad)
    with pytest.raises(protocol.UsageError):
        protocol.seal_message(WRITER_KEY, POST.obj.pubkey, b"short", "hi", now=NOW)


def test_a_key_that_is_no_curve_point_cannot_be_written_to() -> None:
    bad = next(bytes([i]) + bytes(31) for i in range(256) if _not_a_point(bytes([i]) + bytes(31)))
    with pytest.raises(protocol.UsageError):
        protocol.seal_message(WRITER_KEY, bad, POST.id, "hi", now=NOW)


def _not_a_point(key: bytes) -> bool:
    try:
        protocol.x25519_public(key)
    except protocol.UsageError:
        return True
    return False


def test_a_message_decoder_refuses_every_other_shape() -> None:
    wire = first().wire
    with pytest.raises(protocol.DecodeError):
        protocol.decode(b"\x01" + wire[1:])  # version 1 has no message
    with pytest.raises(protocol.DecodeError):
        protocol.decode(wire[:2] + (949).to_bytes(2, "big") + wire[4:])
    with pytest.raises(protocol.BadSignature):
        protocol.decode(wire[:500] + bytes([wire[500] ^ 0x80]) + wire[501:])
    with pytest.raises(protocol.UsageError):
        protocol.sign(message_of(first()), protocol.conversation_key(STRANGER, bytes(32)), version=1)


def test_the_conversation_keys_and_id_follow_the_spec() -> None:
    info = b"p2pnet/v1/dm-key" + POST.obj.pubkey
    assert protocol.INFO_DM + POST.obj.pubkey == info
    assert bytes(WRITER_KEY) == bytes(protocol.conversation_key(WRITER, POST.obj.pubkey))
    assert protocol.derive_seed(WRITER, info) == bytes(WRITER_KEY)
    # Both sides name the conversation by the first writer's key.
    assert protocol.conversation_id(bytes(WRITER_KEY.verify_key)) != protocol.conversation_id(
        bytes(ANSWER_KEY.verify_key)
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_whatever_a_box_holds_opening_fails_only_with_decode_error(data: st.DataObject) -> None:
    """A hostile sender can seal any bytes to a key: opening them keeps or refuses, never crashes."""
    from protocol import _dm

    key = protocol.live_key(POST_KEY)
    plain = bytearray(_PLAIN)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(plain) - 1))
        plain[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        plain = bytearray(data.draw(st.binary(min_size=0, max_size=900)))
    sealed = _dm._sealed_box(bytes(plain), key.public, None)
    sealed = sealed[: protocol.MESSAGE_SIZE - 116].ljust(908, b"\0") if len(sealed) != 908 else sealed
    message = protocol.Message(bytes(32), NOW, sealed)
    try:
        opened = protocol.open_message(message, [key])
    except protocol.DecodeError:
        return
    assert opened is None or isinstance(opened.text, str)


# -- the wire over 1,000 messages of one conversation --------------------------------------------


def test_over_1000_messages_of_one_conversation_nothing_outside_repeats_or_links() -> None:
    """Every message is 1024 bytes; no outer field repeats; the stamp depends on the id alone; the time varies."""
    signed = [
        protocol.seal_message(key, peer, POST.id, "same words every time", now=NOW)
        for _ in range(500)
        for key, peer in ((WRITER_KEY, POST.obj.pubkey), (ANSWER_KEY, bytes(WRITER_KEY.verify_key)))
    ]
    minted = [s.with_stamp(protocol.mint_stamp(s.id, 4) or b"") for s in signed]
    assert {len(s.wire) for s in minted} == {1024}
    messages = [message_of(protocol.decode(s.wire, difficulty=4)) for s in minted]
    fields: dict[str, list[bytes]] = {
        "pubkey": [m.pubkey for m in messages],
        "ephemeral key": [m.sealed[:32] for m in messages],
        "box": [m.sealed[32:] for m in messages],
        "signature": [s.signature for s in minted],
        "id": [s.id for s in minted],
    }
    for name, values in fields.items():
        assert len(set(values)) == len(values), f"{name} repeats"
    # No 8-byte run of the outside is shared by two messages, except what every object shares
    # (header, zero-filled stamp high bytes) and the time step.
    seen: collections.Counter[bytes] = collections.Counter()
    for s in minted:
        outer = s.wire[36 + 8 :]  # after pubkey and created: sealed box, signature, stamp
        seen.update({outer[i : i + 8] for i in range(0, len(outer) - 8 - 8, 8)})
    assert max(seen.values()) == 1
    # The stamp is the first that meets the difficulty: a function of the id alone.
    assert all(s.stamp == protocol.mint_stamp(s.id, 4) for s in minted)
    # The time is as random for messages of one conversation as for any.
    created = collections.Counter(m.created for m in messages)
    assert len(created) == protocol.MESSAGE_JITTER_STEPS + 1 and max(created.values()) < 250


# -- the store ---------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store.open(tmp_path / "node.db")
    st.add_swarm("friends", PSK, 4001, NOW, difficulty=0)
    yield st
    st.close()


def _open(signed: protocol.Signed, *keys: object) -> protocol.Opened:
    opened = protocol.open_message(message_of(signed), [protocol.live_key(k) for k in keys])  # type: ignore[arg-type]
    assert opened is not None
    return opened


def test_every_node_stores_a_message_until_its_lifetime_ends_then_it_is_gone_from_the_file(
    tmp_path: Path, store: Store
) -> None:
    sid = protocol.swarm_id(PSK)
    signed = first()
    assert store.ingest(signed, sid, NOW).is_new
    assert [i for _, i in store.object_ids(sid)] == [signed.id] and store.wires([signed.id]) == [signed.wire]
    created = message_of(signed).created
    assert store.purge_expired(created + protocol.MESSAGE_LIFETIME - 1) == 0
    assert store.purge_expired(created + protocol.MESSAGE_LIFETIME) == 1
    assert store.get(signed.id.hex()) is None and store.object_ids(sid) == []
    late = store.ingest(signed, sid, created + protocol.MESSAGE_LIFETIME)
    assert (late.status, late.reason) == ("rejected", "expired")
    box = message_of(signed).sealed[100:132]
    disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("node.db"))
    assert box not in disk


def test_opened_messages_make_one_conversation_on_each_side(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a.db") as a, Store.open(tmp_path / "b.db") as b:
        hello = first()
        b_cid = b.record_sent(
            hello.id,
            mine=bytes(WRITER_KEY.verify_key),
            basis=POST.obj.pubkey,
            peer=POST.obj.pubkey,
            about=POST.id,
            text="hello, author",
            sent=NOW,
            now=NOW,
        )
        answer_pub = bytes(ANSWER_KEY.verify_key)
        a_cid = a.record_opened(hello.id, _open(hello, POST_KEY), answer_pub, NOW)
        assert a_cid == b_cid == protocol.conversation_id(bytes(WRITER_KEY.verify_key))
        assert a.record_opened(hello.id, _open(hello, POST_KEY), answer_pub, NOW) is None  # kept once
        (row,) = a.conversations()
        assert (row.mine, row.peer, row.about, row.started, row.unread, row.last_text) == (
            answer_pub,
            bytes(WRITER_KEY.verify_key),
            POST.id,
            False,
            1,
            "hello, author",
        )
        reply = protocol.seal_message(ANSWER_KEY, bytes(WRITER_KEY.verify_key), POST.id, "hi back", now=NOW)
        assert b.record_opened(reply.id, _open(reply, WRITER_KEY), b"\0" * 32, NOW) == b_cid
        row_b = b.conversation_by_key(bytes(WRITER_KEY.verify_key))
        assert row_b is not None and row_b.peer == answer_pub and row_b.answered
        # Once answered, only the answerer's key counts in it.
        forged = protocol.seal_message(
            protocol.conversation_key(STRANGER, bytes(32)), bytes(WRITER_KEY.verify_key), POST.id, "me", now=NOW
        )
        assert b.record_opened(forged.id, _open(forged, WRITER_KEY), b"\0" * 32, NOW) is None
        row_b, lines = b.conversation_lines(b_cid)
        assert [(x.mine, x.text) for x in lines] == [(True, "hello, author"), (False, "hi back")]
        assert b.conversation_lines(b_cid)[0].unread == 0  # read now
        # Blocked: what comes is not kept, and the inbox leaves it out.
        a.block_conversation(a_cid)
        again = first("again")
        assert a.record_opened(again.id, _open(again, POST_KEY), answer_pub, NOW) is None
        assert a.conversations() == [] and len(a.conversation_lines(a_cid)[1]) == 1
        with pytest.raises(UnknownId):
            a.block_conversation(bytes(32))
        assert a.resolve_conversation(a_cid.hex()[:8]) == a_cid and a.resolve_conversation("ff" * 32) is None


def test_live_key_sources_are_own_posts_replies_and_open_conversations(store: Store) -> None:
    sid = protocol.swarm_id(PSK)
    reply = protocol.make_reply(AUTHOR, POST, "my own thread", now=NOW)
    old = protocol.make_post(AUTHOR, "long ago", now=NOW - 40 * DAY, nonce=bytes([1]) * 16)
    for signed in (POST, reply, old):
        store.ingest_own(signed, [sid], NOW)
    objects, _ = store.key_sources(NOW - 30 * DAY, 10)
    assert {protocol.decode(w).id for w, _ in objects} == {POST.id, reply.id}
    assert {r for _, r in objects} == {None, POST.wire}
    hello = first()
    store.record_opened(hello.id, _open(hello, POST_KEY), bytes(ANSWER_KEY.verify_key), NOW)
    assert store.key_sources(NOW - 30 * DAY, 10)[1] == [bytes(WRITER_KEY.verify_key)]
    store.block_conversation(protocol.conversation_id(bytes(WRITER_KEY.verify_key)))
    assert store.key_sources(NOW - 30 * DAY, 10)[1] == []


def test_a_version_5_file_migrates_to_version_6(tmp_path: Path) -> None:
    from p2pnet.store._schema import MIGRATIONS

    db = tmp_path / "node.db"
    raw = sqlite3.connect(db)
    for entry in MIGRATIONS[:5]:
        for statement in entry:
            raw.execute(statement)
    raw.execute("PRAGMA user_version = 5")
    raw.commit()
    raw.close()
    with Store.open(db) as st:
        assert st.conversations() == []
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    finally:
        raw.close()
