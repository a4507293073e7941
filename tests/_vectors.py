"""Build the test vectors in docs/test-vectors/ from fixed inputs.

Run ``python tests/_vectors.py`` to rewrite the files after a deliberate format
change; tests/test_vectors.py checks that the files and the code agree.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import protocol
from protocol import _keys

VECTOR_DIR = Path(__file__).resolve().parent.parent / "docs" / "test-vectors"
SEED = bytes(range(1, 33))
OTHER_SEED = bytes(range(101, 133))
NOW = 1_763_700_123
PSK = bytes(range(200, 232))
PEER = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"


def _signed(name: str, s: protocol.Signed, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "kind": s.kind,
        "inputs": inputs,
        "pubkey": s.obj.pubkey.hex(),
        "signed": s.signed_bytes.hex(),
        "signature": s.signature.hex(),
        "id": s.id.hex(),
        "wire": s.wire.hex(),
    }


def objects() -> dict[str, Any]:
    post_in = {
        "text": "I never told anyone this.",
        "bg": "teal",
        "name": "night owl",
        "expires_in": 86400,
        "nonce": "00" * 16,
    }
    post = protocol.make_post(
        SEED, post_in["text"], now=NOW, bg="teal", name="night owl", expires_in=86400, nonce=bytes(16)
    )
    plain_in = {"text": "plain post", "bg": "slate", "nonce": "11" * 16}
    plain = protocol.make_post(SEED, "plain post", now=NOW, nonce=bytes([0x11]) * 16)
    long_in = {"text": "ü" * 1000, "bg": "rose", "nonce": "22" * 16}
    long = protocol.make_post(OTHER_SEED, "ü" * 1000, now=NOW, bg="rose", nonce=bytes([0x22]) * 16)
    own_reply = protocol.make_reply(SEED, post, "the author answers", now=NOW, nonce=bytes([0x33]) * 16)
    other_reply = protocol.make_reply(
        OTHER_SEED, post, "me too", now=NOW, parent=own_reply.id, nonce=bytes([0x44]) * 16
    )
    heart = protocol.make_heart(OTHER_SEED, post.id, now=NOW)
    flag = protocol.make_flag(OTHER_SEED, post.id, now=NOW, reason="spam")
    delete = protocol.make_delete(SEED, post, now=NOW)
    return {
        "stamps": stamps(heart, post),
        "version": protocol.VERSION,
        "seed": SEED.hex(),
        "other_seed": OTHER_SEED.hex(),
        "now": NOW,
        "vectors": [
            _signed("post", post, {"seed": "seed", **post_in}),
            _signed("post-plain", plain, {"seed": "seed", **plain_in}),
            _signed("post-long", long, {"seed": "other_seed", **long_in}),
            _signed(
                "reply-by-author",
                own_reply,
                {
                    "seed": "seed",
                    "root": post.id.hex(),
                    "parent": post.id.hex(),
                    "text": "the author answers",
                    "nonce": "33" * 16,
                },
            ),
            _signed(
                "reply-by-other",
                other_reply,
                {
                    "seed": "other_seed",
                    "root": post.id.hex(),
                    "parent": own_reply.id.hex(),
                    "text": "me too",
                    "nonce": "44" * 16,
                },
            ),
            _signed("heart", heart, {"seed": "other_seed", "target": post.id.hex()}),
            _signed("flag", flag, {"seed": "other_seed", "target": post.id.hex(), "reason": "spam"}),
            _signed("delete", delete, {"seed": "seed", "target": post.id.hex()}),
        ],
    }


def stamps(heart: protocol.Signed, post: protocol.Signed) -> dict[str, Any]:
    """Minted stamps, and stamps that must be refused, on the vectors' heart and post."""
    key = protocol.own_key(OTHER_SEED, heart)
    assert key is not None
    legacy = protocol.sign(heart.obj, key, version=1)
    valid, invalid = [], []
    for name, signed, difficulty in (("heart", heart, 8), ("heart", heart, 16), ("post", post, 12)):
        stamp = protocol.mint_stamp(signed.id, difficulty)
        assert stamp is not None
        wire = signed.with_stamp(stamp).wire
        valid.append({"object": name, "difficulty": difficulty, "stamp": stamp.hex(), "wire": wire.hex()})
        weaker = protocol.mint_stamp(signed.id, 0)
        assert weaker is not None and protocol.stamp_bits(signed.id, weaker) < difficulty
        invalid.append({"object": name, "difficulty": difficulty, "wire": signed.with_stamp(weaker).wire.hex()})
    invalid.append({"object": "heart-version-1", "difficulty": 1, "wire": legacy.wire.hex()})
    return {
        "info": protocol.STAMP_INFO.hex(),
        "valid": valid,
        "invalid": invalid,  # each must raise BadStamp at its difficulty
        "legacy_heart": legacy.wire.hex(),  # version 1: no stamp, accepted where the difficulty is 0
    }


def keys() -> dict[str, Any]:
    nonce, target = bytes(16), bytes(range(32))

    def pub(key: Any) -> str:
        return bytes(key.verify_key).hex()

    from nacl.signing import SigningKey

    return {
        "version": 1,  # the key scheme ("p2pnet/v1/..." labels), not the object version
        "seed": SEED.hex(),
        "vectors": [
            {"name": "post", "info": (protocol.INFO_POST + nonce).hex(), "pubkey": pub(_keys.post_key(SEED, nonce))},
            {
                "name": "thread",
                "info": (protocol.INFO_THREAD + target).hex(),
                "pubkey": pub(_keys.thread_key_for_other(SEED, target)),
            },
            {
                "name": "heart",
                "info": (protocol.INFO_HEART + target).hex(),
                "pubkey": pub(_keys.heart_key(SEED, target)),
            },
            {"name": "flag", "info": (protocol.INFO_FLAG + target).hex(), "pubkey": pub(_keys.flag_key(SEED, target))},
            {
                "name": "dm",
                "peer": pub(_keys.post_key(SEED, nonce)),
                "info": (protocol.INFO_DM + bytes(_keys.post_key(SEED, nonce).verify_key)).hex(),
                "pubkey": pub(protocol.conversation_key(SEED, bytes(_keys.post_key(SEED, nonce).verify_key))),
            },
            {
                "name": "swarm-host",
                "psk": PSK.hex(),
                "swarm_id": protocol.swarm_id(PSK).hex(),
                "info": (protocol.INFO_SWARM_HOST + protocol.swarm_id(PSK)).hex(),
                "child_seed": protocol.swarm_host_seed(SEED, PSK).hex(),
                "pubkey": pub(SigningKey(protocol.swarm_host_seed(SEED, PSK))),
            },
        ],
    }


def invites() -> dict[str, Any]:
    addrs = (f"/ip4/127.0.0.2/tcp/4001/p2p/{PEER}", f"/ip4/127.0.0.3/tcp/4002/p2p/{PEER}")
    inv = protocol.Invite("night shift", PSK, addrs, 1_900_000_000, difficulty=20)
    key = protocol.encode_invite(inv)
    plain = protocol.encode_invite(protocol.Invite("friends", PSK, addrs[:1]))
    legacy = protocol.encode_invite(protocol.Invite("old friends", PSK, addrs[:1]), version=1)
    flipped = key[:40] + ("a" if key[40] != "a" else "b") + key[41:]
    text = key[len("p2pnet-invite1") :].upper()
    too_hard = bytearray(base64.b32decode(text + "=" * (-len(text) % 8))[:-4])
    too_hard[3 + 40] = protocol.MAX_DIFFICULTY + 1  # the difficulty byte, after psk and expires
    return {
        "version": protocol.INVITE_VERSION,
        "valid": [
            {
                "key": key,
                "name": inv.name,
                "psk": PSK.hex(),
                "bootstrap": list(addrs),
                "expires": inv.expires,
                "difficulty": 20,
            },
            {
                "key": plain,
                "name": "friends",
                "psk": PSK.hex(),
                "bootstrap": list(addrs[:1]),
                "expires": None,
                "difficulty": protocol.DEFAULT_DIFFICULTY,
            },
            {
                "key": legacy,
                "name": "old friends",
                "psk": PSK.hex(),
                "bootstrap": list(addrs[:1]),
                "expires": None,
                "difficulty": protocol.DEFAULT_DIFFICULTY,
            },
        ],
        "invalid": [
            {"key": flipped, "error": "InviteTampered"},
            {"key": key[:-12], "error": "InviteTruncated"},
            {"key": protocol.encode_invite(inv, version=3), "error": "InviteVersionError"},
            {"key": _rekey(bytes(too_hard)), "error": "InviteMalformed"},
            {"key": key, "now": 1_900_000_000, "error": "InviteExpired"},
            {"key": "p2pnet-invite1" + "0" * 20, "error": "InviteMalformed"},
            {"key": "hello", "error": "InviteMalformed"},
        ],
    }


def _rekey(payload: bytes) -> str:
    """An invite key around ``payload`` with a correct checksum (for keys wrong inside)."""
    checksum = hashlib.sha256(b"p2pnet-invite" + payload).digest()[:4]
    return "p2pnet-invite1" + base64.b32encode(payload + checksum).decode().rstrip("=").lower()


def identity() -> dict[str, Any]:
    phrase = protocol.seed_to_phrase(SEED)
    words = phrase.split()
    swapped = " ".join([words[1], words[0], *words[2:]])
    sealed = protocol.encode_identity_file(
        SEED, "correct horse", opslimit=1, memlimit=8192, salt=bytes(16), nonce=bytes(24)
    )
    return {
        "version": protocol.IDENTITY_FILE_VERSION,
        "seed": SEED.hex(),
        "phrase": phrase,
        "plain_file": protocol.encode_identity_file(SEED).decode(),
        "sealed_file": sealed.decode(),
        "passphrase": "correct horse",
        "bad_phrases": [
            {"phrase": " ".join(words[:23]), "error": "BadPhrase"},
            {"phrase": " ".join(["zebraa", *words[1:]]), "error": "BadPhrase"},
            {"phrase": swapped, "error": "BadPhrase"},
        ],
    }


STEM_SEED = 156  # random.Random(STEM_SEED): BIP 156
STEM_PEERS = ["peer-a", "peer-b", "peer-c", "peer-d", "peer-e"]


def stem() -> dict[str, Any]:
    import random

    wire = protocol.make_post(SEED, "plain post", now=NOW, nonce=bytes([0x11]) * 16).wire
    params = protocol.StemParams()
    routes = protocol.StemRoutes(random.Random(STEM_SEED), params)
    route_steps = []
    for inbound, peers, now in [
        (None, STEM_PEERS, 0.0),
        ("peer-a", STEM_PEERS, 1.0),
        ("peer-b", STEM_PEERS, 2.0),
        (None, STEM_PEERS, 3.0),
        ("peer-a", STEM_PEERS, 599.0),
        (None, STEM_PEERS[1:], 600.0),
        ("peer-e", ["peer-e"], 601.0),
    ]:
        route_steps.append({"inbound": inbound, "peers": peers, "now": now, "relay": routes.route(inbound, peers, now)})
    state = protocol.StemState(random.Random(STEM_SEED), params)
    decisions = []
    for i in range(12):
        action = state.receive(bytes([i]) * 32, wire, "peer-a", STEM_PEERS, float(i))
        assert action is not None
        decisions.append({"id": (bytes([i]) * 32).hex(), "now": float(i), **_action(action)})
    embargo = protocol.StemState(random.Random(STEM_SEED), params)
    embargo.originate(b"\x01" * 32, wire, STEM_PEERS, 0.0)
    own = protocol.StemState(random.Random(STEM_SEED), params)
    first = own.originate(b"\x02" * 32, wire, STEM_PEERS, 0.0)
    assert isinstance(first, protocol.Forward)
    returns = []
    for n, inbound in enumerate(STEM_PEERS):
        action = own.receive(b"\x02" * 32, wire, inbound, STEM_PEERS, 1.0 + n)
        assert action is not None
        returns.append({"inbound": inbound, "now": 1.0 + n, **_action(action)})
    return {
        "version": protocol.STEM_VERSION,
        "params": {
            "fluff_probability": params.fluff_probability,
            "epoch": params.epoch,
            "relays": params.relays,
            "relay_pool": params.relay_pool,
            "embargo_min": params.embargo_min,
            "embargo_mean": params.embargo_mean,
            "publish_jitter": params.publish_jitter,
        },
        "frame": {"wire": wire.hex(), "frame": protocol.encode_stem(wire).hex()},
        "invalid_frames": [
            {"frame": "", "error": "DecodeError"},
            {"frame": "02" + wire.hex(), "error": "UnknownVersion"},
            {"frame": "01" + wire[:-1].hex(), "error": "DecodeError"},
            {"frame": "01" + "00" * protocol.MAX_STEM_FRAME, "error": "ObjectTooLarge"},
        ],
        "rng": f"Python random.Random({STEM_SEED}), one per list below",
        "routes": route_steps,
        "relay_decisions": {"inbound": "peer-a", "peers": STEM_PEERS, "steps": decisions},
        "originator_embargo_deadline": embargo.next_deadline(),
        "own_object_returns": {
            "id": (b"\x02" * 32).hex(),
            "originate": {"now": 0.0, "peers": STEM_PEERS, **_action(first)},
            "comes_back": returns,
        },
    }


def _action(action: protocol.Forward | protocol.Fluff) -> dict[str, Any]:
    if isinstance(action, protocol.Forward):
        return {"action": "forward", "peer": action.peer}
    return {"action": "fluff"}


def sync_item(n: int) -> tuple[int, bytes]:
    """Item ``n`` of the sync vectors: a 32-byte id and a time ten minutes apart per ten items."""
    return (NOW - NOW % 600 + (n // 10) * 600, hashlib.sha256(n.to_bytes(4, "big")).digest())


def sync_transcript(
    a: list[tuple[int, bytes]], b: list[tuple[int, bytes]], limits: protocol.SyncLimits | None = None
) -> tuple[list[dict[str, Any]], dict[str, protocol.SyncSession]]:
    """Run a session between ``a`` (the initiator) and ``b`` in memory.

    Returns:
        Every turn (who sends, the ids pushed, the frames in hex) and both sessions.
    """
    sides = {"a": protocol.SyncSession(a, limits), "b": protocol.SyncSession(b, limits)}
    turns = []
    turn, sender = sides["a"].start(), "a"
    while True:
        turns.append({"from": sender, "push": [i.hex() for i in turn.push], "frames": [f.hex() for f in turn.frames]})
        receiver = "b" if sender == "a" else "a"
        reply = None
        for frame in turn.frames:
            reply = sides[receiver].receive(frame).reply or reply
        if turn.done:
            return turns, sides
        assert reply is not None
        turn, sender = reply, receiver


def sync() -> dict[str, Any]:
    small = {"first_branch": 4, "branch": 4, "id_list_max": 4}
    cases = [
        ("overlap", {}, range(0, 100), range(50, 150)),
        ("split", small, range(0, 120), [n for n in range(0, 120) if n % 17]),
        ("empty-initiator", {}, range(0), range(0, 20)),
        ("equal", small, range(0, 40), range(0, 40)),
    ]
    sessions = []
    for name, knobs, a_ns, b_ns in cases:
        a, b = sorted(sync_item(n) for n in a_ns), sorted(sync_item(n) for n in b_ns)
        sessions.append(
            {
                "name": name,
                "limits": knobs,
                "a": [[t, i.hex()] for t, i in a],
                "b": [[t, i.hex()] for t, i in b],
                "turns": sync_transcript(a, b, protocol.SyncLimits(**knobs))[0],
            }
        )
    ids = [sync_item(n)[1] for n in range(3)]
    wires = [bytes([n]) * size for n, size in ((1, 256), (2, 1024))]
    # A budget of 600 bytes: the first 256-byte object fits (2 + 1 + 2 + 256 bytes), the next does not.
    budgeted = [bytes([n]) * 256 for n in (3, 4)]
    budget = protocol.SyncSession([], budget=600)
    return {
        "version": protocol.SYNC_VERSION,
        "fingerprints": [
            {
                "ids": [i.hex() for i in ids[:k]],
                "fingerprint": protocol.fingerprint(sum(int.from_bytes(i, "little") for i in ids[:k]), k).hex(),
            }
            for k in range(4)
        ],
        "objects": {
            "wires": [w.hex() for w in wires],
            "frames": [f.hex() for f in protocol.SyncSession([]).objects_frames(wires)],
        },
        "budget": {
            "max_session_bytes": protocol.SyncLimits().max_session_bytes,
            "budget": 600,
            "wires": [w.hex() for w in budgeted],
            "frames": [f.hex() for f in budget.objects_frames(budgeted)],
            "cut": budget.push_cut,
        },
        "busy": {"retry_after": 30, "frame": protocol.busy_frame(30).hex()},
        "sessions": sessions,
        "invalid": [
            {"frame": "0201", "error": "UnknownVersion"},
            {"frame": "0109", "error": "SyncError"},
            {"frame": "01040000", "error": "SyncError"},
            {"frame": "0101050000010000", "error": "SyncError"},
            {"frame": "0101000001" + "05" + "00" * 15, "error": "SyncError"},
            {"frame": "01030001" + "00" * 31, "error": "SyncError"},
            {"frame": "010500", "error": "SyncError"},
            {"frame": "0105911c", "error": "SyncError"},
            {"frame": protocol.busy_frame(30).hex(), "error": "SyncError"},
        ],
    }


def _message_case(
    name: str, sender: Any, recipient: Any, about: bytes, text: str, n: int
) -> tuple[dict[str, Any], protocol.Signed, bytes]:
    """One message, every random part fixed by ``n``; with its plaintext (opened by the recipient's key)."""
    from nacl import bindings
    from nacl.signing import SigningKey

    inputs = {"text": text, "jitter": n % 7, "ephemeral_seed": bytes([n]) * 32, "throwaway_seed": bytes([n + 1]) * 32}
    signed = protocol.seal_message(
        sender,
        bytes(recipient.verify_key),
        about,
        text,
        now=NOW,
        jitter=inputs["jitter"],
        ephemeral_seed=inputs["ephemeral_seed"],
        throwaway=SigningKey(inputs["throwaway_seed"]),
    )
    assert isinstance(signed.obj, protocol.Message)
    live = protocol.live_key(recipient)
    plain = bytes(bindings.crypto_box_seal_open(signed.obj.sealed, live.public, live.secret))
    case = {
        "name": name,
        "inputs": {k: v.hex() if isinstance(v, bytes) else v for k, v in inputs.items()},
        "sender": bytes(sender.verify_key).hex(),
        "recipient": bytes(recipient.verify_key).hex(),
        "recipient_x25519": live.public.hex(),
        "recipient_x25519_secret": live.secret.hex(),
        "about": about.hex(),
        "plaintext": plain.hex(),
        "created": signed.obj.created,
        "id": signed.id.hex(),
        "wire": signed.wire.hex(),
    }
    return case, signed, plain


def messages() -> dict[str, Any]:
    """Private messages (protocol.md, section 14): a first message, its answer, and what must be refused."""
    from protocol import _dm

    post = protocol.make_post(SEED, "plain post", now=NOW, nonce=bytes([0x11]) * 16)
    author = _keys.post_key(SEED, bytes([0x11]) * 16)
    writer = protocol.conversation_key(OTHER_SEED, post.obj.pubkey)
    answerer = protocol.conversation_key(SEED, bytes(writer.verify_key))
    first, first_signed, plain = _message_case("first", writer, author, post.id, "hello, author", 1)
    answer, _, _ = _message_case("answer", answerer, writer, post.id, "hello, stranger ✨", 2)
    for case in (first, answer):
        case["conversation"] = protocol.conversation_id(bytes(writer.verify_key)).hex()
    wire = first_signed.wire
    author_x = protocol.live_key(author).public

    def resealed(change: bytes) -> str:
        return _dm._sealed_box(change, author_x, bytes([9]) * 32).hex()

    sig_at = len(plain) - 64
    return {
        "version": 1,
        "seed": SEED.hex(),
        "other_seed": OTHER_SEED.hex(),
        "now": NOW,
        "post": {"id": post.id.hex(), "pubkey": post.obj.pubkey.hex()},
        "valid": [first, answer],
        "invalid_wires": [
            {"name": "version 1", "wire": ("01" + wire[1:].hex()), "error": "DecodeError"},
            {
                "name": "short body",
                "wire": (wire[:2] + (947).to_bytes(2, "big") + wire[4:]).hex(),
                "error": "DecodeError",
            },
            {
                "name": "sealed box altered",
                "wire": (wire[:100] + bytes([wire[100] ^ 1]) + wire[101:]).hex(),
                "error": "BadSignature",
            },
        ],
        "invalid_sealed": [
            {"name": "inner signature", "sealed": resealed(plain[:-1] + bytes([plain[-1] ^ 1]))},
            {"name": "inner version", "sealed": resealed(b"\x02" + plain[1:])},
            {"name": "padding not zero", "sealed": resealed(plain[: sig_at - 1] + b"\x01" + plain[sig_at:])},
            {"name": "text too long", "sealed": resealed(plain[:73] + (722).to_bytes(2, "big") + plain[75:])},
        ],
    }


def lan() -> dict[str, Any]:
    """LAN beacons (protocol.md, section 15): the key, one beacon, and datagrams that must be refused."""
    from libp2p.peer.id import ID
    from nacl import bindings

    key = protocol.beacon_key(PSK)
    peer = ID.from_base58(PEER).to_bytes()
    nonce = bytes([0x55]) * 24
    beacon = protocol.seal_beacon(key, protocol.Beacon(4001, peer), now=NOW, nonce=nonce)

    def resealed(plain: bytes) -> str:
        return (nonce + bindings.crypto_secretbox(plain, nonce, key)).hex()

    plain = bindings.crypto_secretbox_open(beacon[24:], nonce, key)
    return {
        "version": protocol.BEACON_VERSION,
        "psk": PSK.hex(),
        "key": key.hex(),
        "now": NOW,
        "step": protocol.BEACON_STEP,
        "valid": {
            "port": 4001,
            "peer_id": PEER,
            "nonce": nonce.hex(),
            "plaintext": plain.hex(),
            "datagram": beacon.hex(),
        },
        "invalid": [
            {"name": "one byte short", "datagram": beacon[:-1].hex()},
            {"name": "box altered", "datagram": (beacon[:40] + bytes([beacon[40] ^ 1]) + beacon[41:]).hex()},
            {
                "name": "another swarm's key",
                "datagram": protocol.seal_beacon(
                    protocol.beacon_key(bytes(32)), protocol.Beacon(4001, peer), now=NOW, nonce=nonce
                ).hex(),
            },
            {"name": "version 2", "datagram": resealed(b"\x02" + plain[1:])},
            {
                "name": "two steps old",
                "datagram": protocol.seal_beacon(
                    key, protocol.Beacon(4001, peer), now=NOW - 2 * protocol.BEACON_STEP, nonce=nonce
                ).hex(),
            },
            {"name": "port 0", "datagram": resealed(plain[:5] + bytes(2) + plain[7:])},
            {"name": "padding not zero", "datagram": resealed(plain[:-1] + b"\x01")},
        ],
    }


def dialback() -> dict[str, Any]:
    """Dial-back frames (protocol.md, section 16): requests, every answer, and frames that must be refused."""
    addrs = [("198.51.100.10", 4001), ("203.0.113.7", 61000)]
    request = protocol.encode_dialback_request(addrs)
    return {
        "version": protocol.DIALBACK_VERSION,
        "max_addrs": protocol.MAX_DIALBACK_ADDRS,
        "requests": [
            {"addrs": [[ip, port] for ip, port in addrs], "frame": request.hex()},
            {"addrs": [["127.0.0.1", 65535]], "frame": protocol.encode_dialback_request([("127.0.0.1", 65535)]).hex()},
        ],
        "responses": [
            {
                "status": status.name.lower(),
                "code": int(status),
                "frame": protocol.encode_dialback_response(status).hex(),
            }
            for status in protocol.DialBackStatus
        ],
        "invalid_requests": [
            {"name": "empty", "frame": ""},
            {"name": "version 2", "frame": (b"\x02" + request[1:]).hex()},
            {"name": "no address", "frame": "0100"},
            {"name": "five addresses", "frame": (b"\x01\x05" + request[2:8] * 5).hex()},
            {"name": "one byte short", "frame": request[:-1].hex()},
            {"name": "port 0", "frame": (request[:6] + bytes(2) + request[8:]).hex()},
        ],
        "invalid_responses": [
            {"name": "version 2", "frame": "0200"},
            {"name": "unknown status", "frame": "0105"},
            {"name": "three bytes", "frame": "010000"},
        ],
    }


def build() -> dict[str, dict[str, Any]]:
    return {
        "objects.json": objects(),
        "keys.json": keys(),
        "invites.json": invites(),
        "identity.json": identity(),
        "stem.json": stem(),
        "sync.json": sync(),
        "messages.json": messages(),
        "lan.json": lan(),
        "dialback.json": dialback(),
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    VECTOR_DIR.mkdir(parents=True, exist_ok=True)
    for name, doc in build().items():
        (VECTOR_DIR / name).write_text(render(doc), encoding="utf-8")
        print("wrote", VECTOR_DIR / name)
