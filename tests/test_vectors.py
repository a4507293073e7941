"""The published vectors in docs/test-vectors/ match the code and verify elsewhere."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest
from _vectors import VECTOR_DIR, build, render
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import protocol

NOW = 1_763_700_000  # a fixed 'now' before every expiry in these keys


def _load(name: str) -> dict:
    return json.loads((VECTOR_DIR / name).read_text(encoding="utf-8"))


VECTOR_FILES = [
    "objects.json",
    "keys.json",
    "invites.json",
    "identity.json",
    "stem.json",
    "sync.json",
    "messages.json",
    "lan.json",
    "dialback.json",
]


@pytest.mark.parametrize("name", VECTOR_FILES)
def test_files_match_code(name: str) -> None:
    assert (VECTOR_DIR / name).read_text(encoding="utf-8") == render(build()[name])


def test_object_vectors_verify_under_cryptography() -> None:
    doc = _load("objects.json")
    assert {v["name"].split("-")[0] for v in doc["vectors"]} == {"post", "reply", "heart", "flag", "delete"}
    for v in doc["vectors"]:
        signed, sig = bytes.fromhex(v["signed"]), bytes.fromhex(v["signature"])
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(v["pubkey"]))
        key.verify(sig, signed)  # a second Ed25519 implementation agrees
        with pytest.raises(InvalidSignature):
            key.verify(sig, signed[:-1] + bytes([signed[-1] ^ 1]))
        wire = bytes.fromhex(v["wire"])
        assert len(wire) in protocol.BUCKETS
        decoded = protocol.decode(wire)
        assert decoded.id.hex() == v["id"] and decoded.signed_bytes == signed and decoded.signature == sig


def test_key_vectors_under_cryptography() -> None:
    """HKDF-SHA256 from `cryptography` plus its Ed25519 give the same public keys."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    doc = _load("keys.json")
    seed = bytes.fromhex(doc["seed"])
    for v in doc["vectors"]:
        child = HKDF(hashes.SHA256(), 32, None, bytes.fromhex(v["info"])).derive(seed)
        pub = Ed25519PrivateKey.from_private_bytes(child).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert pub.hex() == v["pubkey"], v["name"]


def test_invite_vectors() -> None:
    doc = _load("invites.json")
    for v in doc["valid"]:
        inv = protocol.decode_invite(v["key"], now=NOW)
        assert (inv.name, inv.psk.hex(), list(inv.bootstrap), inv.expires, inv.difficulty) == (
            v["name"],
            v["psk"],
            v["bootstrap"],
            v["expires"],
            v["difficulty"],
        )
    for v in doc["invalid"]:
        with pytest.raises(getattr(protocol, v["error"])):
            protocol.decode_invite(v["key"], now=v.get("now", NOW))


def test_identity_vectors() -> None:
    doc = _load("identity.json")
    seed = bytes.fromhex(doc["seed"])
    assert protocol.phrase_to_seed(doc["phrase"]) == seed
    assert protocol.decode_identity_file(doc["plain_file"].encode()) == seed
    assert protocol.decode_identity_file(doc["sealed_file"].encode(), doc["passphrase"]) == seed
    for v in doc["bad_phrases"]:
        with pytest.raises(getattr(protocol, v["error"])):
            protocol.phrase_to_seed(v["phrase"])


def test_stem_vectors() -> None:
    """The frame bytes and the seeded decisions, replayed from the file alone."""
    import random

    doc = _load("stem.json")
    wire, frame = bytes.fromhex(doc["frame"]["wire"]), bytes.fromhex(doc["frame"]["frame"])
    assert frame == bytes([doc["version"]]) + wire and protocol.decode_stem(frame) == wire
    for v in doc["invalid_frames"]:
        with pytest.raises(getattr(protocol, v["error"])):
            protocol.decode_stem(bytes.fromhex(v["frame"]))
    params = protocol.StemParams(**doc["params"])
    routes = protocol.StemRoutes(random.Random(156), params)
    for step in doc["routes"]:
        assert routes.route(step["inbound"], step["peers"], step["now"]) == step["relay"]
    state = protocol.StemState(random.Random(156), params)
    decisions = doc["relay_decisions"]
    for step in decisions["steps"]:
        action = state.receive(bytes.fromhex(step["id"]), wire, decisions["inbound"], decisions["peers"], step["now"])
        if step["action"] == "fluff":
            assert isinstance(action, protocol.Fluff)
        else:
            assert isinstance(action, protocol.Forward) and action.peer == step["peer"]
    own = doc["own_object_returns"]
    state = protocol.StemState(random.Random(156), params)
    first = state.originate(bytes.fromhex(own["id"]), wire, own["originate"]["peers"], own["originate"]["now"])
    assert isinstance(first, protocol.Forward) and first.peer == own["originate"]["peer"]
    for step in own["comes_back"]:
        action = state.receive(bytes.fromhex(own["id"]), wire, step["inbound"], own["originate"]["peers"], step["now"])
        assert isinstance(action, protocol.Forward) and step["action"] == "forward" and action.peer == step["peer"]


def test_sync_vectors_replay() -> None:
    """Each side, fed the other's recorded frames, answers with exactly the recorded turn."""
    doc = _load("sync.json")
    for fp in doc["fingerprints"]:
        ids = [bytes.fromhex(i) for i in fp["ids"]]
        total = sum(int.from_bytes(i, "little") for i in ids)
        assert protocol.fingerprint(total, len(ids)).hex() == fp["fingerprint"]
    wires = [bytes.fromhex(w) for w in doc["objects"]["wires"]]
    received = [protocol.SyncSession([]).receive(bytes.fromhex(f)).objects for f in doc["objects"]["frames"]]
    assert [w for got in received for w in got] == wires
    budget = doc["budget"]
    assert protocol.SyncLimits().max_session_bytes == budget["max_session_bytes"]
    session = protocol.SyncSession([], budget=budget["budget"])
    frames = session.objects_frames([bytes.fromhex(w) for w in budget["wires"]])
    assert [f.hex() for f in frames] == budget["frames"] and session.push_cut == budget["cut"]
    busy = doc["busy"]
    assert protocol.busy_frame(busy["retry_after"]).hex() == busy["frame"]
    initiator = protocol.SyncSession([])
    initiator.start()
    answer = initiator.receive(bytes.fromhex(busy["frame"]))
    assert answer.finished and answer.retry_after == busy["retry_after"]
    for case in doc["sessions"]:
        limits = protocol.SyncLimits(**case["limits"])
        sides = {
            side: protocol.SyncSession([(t, bytes.fromhex(i)) for t, i in case[side]], limits) for side in ("a", "b")
        }
        turns = case["turns"]
        first = sides["a"].start()
        assert [f.hex() for f in first.frames] == turns[0]["frames"], case["name"]
        union = {i for _, i in case["a"]} | {i for _, i in case["b"]}
        held = {side: {i for _, i in case[side]} for side in ("a", "b")}
        for sent, answer in itertools.pairwise(turns):
            receiver = "b" if sent["from"] == "a" else "a"
            held[receiver].update(sent["push"])
            reply = None
            for frame in sent["frames"]:
                reply = sides[receiver].receive(bytes.fromhex(frame)).reply or reply
            assert reply is not None
            assert [i.hex() for i in reply.push] == answer["push"] and [f.hex() for f in reply.frames] == answer[
                "frames"
            ]
        last = turns[-1]
        held["b" if last["from"] == "a" else "a"].update(last["push"])
        assert held["a"] == held["b"] == union, case["name"]
    for bad in doc["invalid"]:
        with pytest.raises(getattr(protocol, bad["error"])):
            protocol.SyncSession([]).receive(bytes.fromhex(bad["frame"]))


def test_stamp_vectors() -> None:
    doc = _load("objects.json")["stamps"]
    assert bytes.fromhex(doc["info"]) == b"p2pnet/v2/stamp"
    for v in doc["valid"]:
        signed = protocol.decode(bytes.fromhex(v["wire"]), difficulty=v["difficulty"])
        # a second SHA-256 agrees on the work: leading zero bits of H(info || id || stamp)
        work = hashlib.sha256(bytes.fromhex(doc["info"]) + signed.id + bytes.fromhex(v["stamp"])).digest()
        assert int.from_bytes(work, "big") >> (256 - v["difficulty"]) == 0
    for v in doc["invalid"]:
        with pytest.raises(protocol.BadStamp):
            protocol.decode(bytes.fromhex(v["wire"]), difficulty=v["difficulty"])
    legacy = protocol.decode(bytes.fromhex(doc["legacy_heart"]), difficulty=0)
    assert legacy.version == 1 and legacy.stamp is None


def test_the_worked_heart_example_in_protocol_md() -> None:
    """docs/protocol.md section 6.3 spells out one heart byte by byte: the code makes exactly it."""
    doc = (VECTOR_DIR.parent / "protocol.md").read_text()
    heart = protocol.make_heart(bytes(range(1, 33)), bytes(range(0x40, 0x60)), now=1_763_700_000)
    stamp = protocol.mint_stamp(heart.id, 8)
    assert stamp is not None
    signature = heart.signature.hex()
    for shown in (signature[:64], signature[64:], heart.id.hex(), stamp.hex()):
        assert shown in doc


def test_message_vectors_open_under_a_second_reading() -> None:
    """Each valid message decodes, its box opens with libsodium's own sealed-box open, and its inner
    signature verifies under `cryptography`'s Ed25519; the right key opens it through protocol, others do not."""
    from nacl import bindings

    doc = _load("messages.json")
    seed, other = bytes.fromhex(doc["seed"]), bytes.fromhex(doc["other_seed"])
    post_key = bytes.fromhex(doc["post"]["pubkey"])
    writer = protocol.conversation_key(other, post_key)
    answerer = protocol.conversation_key(seed, bytes(writer.verify_key))
    recipients = {"first": None, "answer": writer}
    for v in doc["valid"]:
        wire = bytes.fromhex(v["wire"])
        assert len(wire) == protocol.MESSAGE_SIZE
        signed = protocol.decode(wire)
        assert isinstance(signed.obj, protocol.Message) and signed.id.hex() == v["id"]
        assert signed.obj.created == v["created"] and v["created"] % 600 == 0
        plain = bytes.fromhex(v["plaintext"])
        x_secret, x_public = bytes.fromhex(v["recipient_x25519_secret"]), bytes.fromhex(v["recipient_x25519"])
        assert bytes(bindings.crypto_box_seal_open(signed.obj.sealed, x_public, x_secret)) == plain
        assert bytes(bindings.crypto_scalarmult_base(x_secret)) == x_public
        sender = Ed25519PublicKey.from_public_bytes(bytes.fromhex(v["sender"]))
        sender.verify(plain[-64:], b"p2pnet/v1/dm-sig" + bytes.fromhex(v["recipient"]) + plain[:-64])
        assert plain[1:33].hex() == v["sender"] and plain[33:65].hex() == v["about"] == doc["post"]["id"]
        assert hashlib.sha256(b"p2pnet/v1/conversation" + bytes(writer.verify_key)).hexdigest() == v["conversation"]
        recipient = recipients[v["name"]]
        own = protocol.live_key(recipient) if recipient else None
        if own is None:
            nonce_post = protocol.decode(bytes.fromhex(_load("objects.json")["vectors"][1]["wire"]))
            key = protocol.own_key(seed, nonce_post)
            assert key is not None
            own = protocol.live_key(key)
        opened = protocol.open_message(signed.obj, [protocol.live_key(answerer), own])
        assert opened is not None and opened.text == v["inputs"]["text"] and opened.sender.hex() == v["sender"]
        assert protocol.open_message(signed.obj, [protocol.live_key(protocol.conversation_key(seed, post_key))]) is None
    for bad in doc["invalid_wires"]:
        with pytest.raises(getattr(protocol, bad["error"])):
            protocol.decode(bytes.fromhex(bad["wire"]))
    author = protocol.live_key(
        protocol.own_key(seed, protocol.decode(bytes.fromhex(_load("objects.json")["vectors"][1]["wire"])))
    )  # type: ignore[arg-type]
    first = protocol.decode(bytes.fromhex(doc["valid"][0]["wire"])).obj
    assert isinstance(first, protocol.Message)
    for bad in doc["invalid_sealed"]:
        message = protocol.Message(first.pubkey, first.created, bytes.fromhex(bad["sealed"]))
        with pytest.raises(protocol.DecodeError):
            protocol.open_message(message, [author])


def test_lan_beacon_vectors() -> None:
    """The key is keyed BLAKE2b of the PSK; the beacon opens under plain secretbox and protocol; bad ones do not."""
    from libp2p.peer.id import ID
    from nacl import bindings

    doc = _load("lan.json")
    psk, key, now = bytes.fromhex(doc["psk"]), bytes.fromhex(doc["key"]), doc["now"]
    assert hashlib.blake2b(b"", key=psk, digest_size=32, person=b"p2pnet-lan-v1").digest() == key
    v = doc["valid"]
    datagram = bytes.fromhex(v["datagram"])
    assert len(datagram) == protocol.BEACON_BYTES == 112
    plain = bytes(bindings.crypto_secretbox_open(datagram[24:], datagram[:24], key))
    assert plain.hex() == v["plaintext"] and plain[0] == doc["version"]
    assert int.from_bytes(plain[1:5], "big") == now // doc["step"] and int.from_bytes(plain[5:7], "big") == v["port"]
    beacon = protocol.open_beacon(key, datagram, now=now)
    assert beacon.port == v["port"] and beacon.peer_id == plain[8 : 8 + plain[7]]
    assert ID(beacon.peer_id).to_base58() == v["peer_id"]
    for bad in doc["invalid"]:
        with pytest.raises(protocol.DecodeError):
            protocol.open_beacon(key, bytes.fromhex(bad["datagram"]), now=now)


def test_dialback_vectors() -> None:
    """Requests are version, count, then IPv4 and big-endian port; answers version and status; bad ones raise."""
    import ipaddress
    import struct

    doc = _load("dialback.json")
    for case in doc["requests"]:
        frame = bytes.fromhex(case["frame"])
        by_hand = bytes([doc["version"], len(case["addrs"])]) + b"".join(
            ipaddress.IPv4Address(ip).packed + struct.pack(">H", port) for ip, port in case["addrs"]
        )
        assert frame == by_hand
        assert protocol.decode_dialback_request(frame) == [tuple(a) for a in case["addrs"]]
    assert {r["status"] for r in doc["responses"]} == {"ok", "failed", "refused", "busy", "malformed"}
    for r in doc["responses"]:
        assert bytes.fromhex(r["frame"]) == bytes([doc["version"], r["code"]])
        assert protocol.decode_dialback_response(bytes.fromhex(r["frame"])).name.lower() == r["status"]
    for bad in doc["invalid_requests"]:
        with pytest.raises(protocol.DecodeError):
            protocol.decode_dialback_request(bytes.fromhex(bad["frame"]))
    for bad in doc["invalid_responses"]:
        with pytest.raises(protocol.DecodeError):
            protocol.decode_dialback_response(bytes.fromhex(bad["frame"]))


@pytest.mark.parametrize(
    "addrs",
    [[], [("127.0.0.1", 1)] * 5, [("127.0.0.1", 0)], [("::1", 4001)], [("not an ip", 4001)]],
    ids=["none", "five", "port-0", "ipv6", "garbage"],
)
def test_dialback_requests_we_would_not_send(addrs: list[tuple[str, int]]) -> None:
    with pytest.raises(ValueError):
        protocol.encode_dialback_request(addrs)
