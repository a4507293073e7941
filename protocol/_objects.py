"""Wire objects: post, reply, heart, flag, delete, and the sealed private message.

Each object is a frozen dataclass.  Its *signed bytes* are a fixed binary
layout (docs/protocol.md) with no optional encodings, so one object has exactly
one byte form; the signature covers those exact bytes and the object id is
their SHA-256.  On the wire the signed bytes are followed by the signature and
zero padding up to the smallest size bucket that fits, so a relay learns only
which of three sizes an object has.

Decoding is strict and bounded: the input is at most 4,352 bytes, every length is
checked before it is used, and every failure is a :class:`DecodeError` or
:class:`BadSignature`.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Final

from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from ._errors import (
    BadSignature,
    BadStamp,
    DecodeError,
    NotAuthor,
    ObjectTooLarge,
    UnknownKind,
    UnknownVersion,
    UsageError,
)
from ._keys import flag_key, heart_key, post_key, thread_key_for_other
from ._stamp import stamp_bits
from ._text import BAD_NAME as _BAD_NAME
from ._text import BAD_TEXT as _BAD_TEXT
from ._text import is_blank

__all__ = [
    "BUCKETS",
    "Delete",
    "FLAG_REASONS",
    "Flag",
    "Heart",
    "KIND_DELETE",
    "KIND_FLAG",
    "KIND_HEART",
    "KIND_MESSAGE",
    "KIND_POST",
    "KIND_REPLY",
    "MAX_NAME_CHARS",
    "MAX_TEXT_CHARS",
    "MAX_TTL",
    "MAX_WIRE_SIZE",
    "MESSAGE_LIFETIME",
    "MESSAGE_SIZE",
    "Message",
    "PALETTE",
    "Post",
    "Reply",
    "Signed",
    "TIME_QUANTUM",
    "STAMP_SIZE",
    "VERSION",
    "VERSIONS",
    "WireObject",
    "coarsen",
    "decode",
    "encode_signed",
    "make_delete",
    "make_flag",
    "make_heart",
    "make_post",
    "make_reply",
    "own_key",
    "sign",
    "thread_key",
]

VERSION: Final = 2  # what this code writes: objects with a proof-of-work stamp (docs/protocol.md, section 13)
VERSIONS: Final = (1, 2)  # what it reads; version 1 has no stamp
STAMP_SIZE: Final = 8

KIND_POST: Final = 0x01
KIND_REPLY: Final = 0x02
KIND_HEART: Final = 0x03
KIND_FLAG: Final = 0x04
KIND_DELETE: Final = 0x05
KIND_MESSAGE: Final = 0x10  # a sealed private message: one fixed size, version 2 only

# The largest object (a post of 1,000 four-byte characters and a 32-character
# name) is 4,264 bytes, so the top bucket is that size rounded up to 256.
BUCKETS: Final = (256, 1024, 4352)
MAX_WIRE_SIZE: Final = BUCKETS[-1]
SIG_SIZE: Final = 64
KEY_SIZE: Final = 32
ID_SIZE: Final = 32
NONCE_SIZE: Final = 16

MAX_TEXT_CHARS: Final = 1000
MAX_TEXT_BYTES: Final = 4 * MAX_TEXT_CHARS
MAX_NAME_CHARS: Final = 32
MAX_NAME_BYTES: Final = 4 * MAX_NAME_CHARS

TIME_QUANTUM: Final = 600  # creation times are coarsened to 10 minutes
MIN_TIME: Final = 1_704_067_200  # 2024-01-01T00:00:00Z: nothing older exists
MAX_TIME: Final = 1 << 40
MAX_TTL: Final = 30 * 24 * 3600  # the longest self-destruct time
FUTURE_SKEW: Final = TIME_QUANTUM  # how far a peer's clock may run ahead of ours

PALETTE: Final = (
    "slate",
    "crimson",
    "tangerine",
    "amber",
    "forest",
    "teal",
    "ocean",
    "indigo",
    "violet",
    "rose",
    "cocoa",
    "charcoal",
)
FLAG_REASONS: Final = ("spam", "abuse", "illegal", "other")

# Every private message fills the 1024 bucket exactly: header, body, signature, stamp.
MESSAGE_SIZE: Final = 1024
MESSAGE_BODY: Final = MESSAGE_SIZE - 4 - 64 - 8  # 948
SEALED_SIZE: Final = MESSAGE_BODY - 32 - 8  # 908: the sealed box after pubkey and created
MESSAGE_LIFETIME: Final = 7 * 24 * 3600  # nodes keep and serve a message this long after its `created`

_HEADER = struct.Struct(">BBH")  # version, kind, body length
_U64 = struct.Struct(">Q")


def coarsen(t: int) -> int:
    """Round a Unix time down to the 10-minute quantum used on the wire."""
    return t - t % TIME_QUANTUM


def is_from_the_future(obj: WireObject, now: int) -> bool:
    """True if ``obj`` claims a time more than one clock-skew step past ``now``: no node keeps it yet."""
    return obj.created > now + FUTURE_SKEW


def is_expired(obj: WireObject, now: int) -> bool:
    """True if ``obj`` is a post whose self-destruct time has come, or a message past its lifetime: no node keeps it."""
    if isinstance(obj, Message):
        return obj.created + MESSAGE_LIFETIME <= now
    return isinstance(obj, Post) and obj.expires is not None and obj.expires <= now


def _check_time(t: int, what: str) -> None:
    if t % TIME_QUANTUM or not MIN_TIME <= t < MAX_TIME:
        raise DecodeError(f"{what} {t} is not a 10-minute step after 2024")


def _check_text(text: str, what: str, max_chars: int, pattern: re.Pattern[str]) -> None:
    if is_blank(text):
        raise DecodeError(f"{what} is empty")
    if len(text) > max_chars:
        raise ObjectTooLarge(f"{what} has {len(text)} characters; the limit is {max_chars}")
    if pattern.search(text):
        raise DecodeError(f"{what} contains control characters")


def _check_bytes(value: bytes, size: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise DecodeError(f"{what} must be {size} bytes")


@dataclass(frozen=True)
class Post:
    """A root post: a few lines on a coloured background.

    ``pubkey`` is a one-time key derived from the author's seed and ``nonce``;
    ``name`` is an optional display name chosen for this post alone.
    """

    pubkey: bytes
    nonce: bytes
    created: int
    text: str
    bg: str = "slate"
    name: str | None = None
    expires: int | None = None

    def __post_init__(self) -> None:
        _check_bytes(self.pubkey, KEY_SIZE, "pubkey")
        _check_bytes(self.nonce, NONCE_SIZE, "nonce")
        _check_time(self.created, "created")
        _check_text(self.text, "text", MAX_TEXT_CHARS, _BAD_TEXT)
        if self.bg not in PALETTE:
            raise DecodeError(f"unknown background colour {self.bg!r}")
        if self.name is not None:
            _check_text(self.name, "name", MAX_NAME_CHARS, _BAD_NAME)
        if self.expires is not None:
            _check_time(self.expires, "expires")
            if not self.created < self.expires <= self.created + MAX_TTL:
                raise DecodeError("expiry must be after creation and at most 30 days later")


@dataclass(frozen=True)
class Reply:
    """A reply inside a thread; ``root`` is the thread's post, ``parent`` what it answers."""

    pubkey: bytes
    nonce: bytes
    root: bytes
    parent: bytes
    created: int
    text: str

    def __post_init__(self) -> None:
        _check_bytes(self.pubkey, KEY_SIZE, "pubkey")
        _check_bytes(self.nonce, NONCE_SIZE, "nonce")
        _check_bytes(self.root, ID_SIZE, "root")
        _check_bytes(self.parent, ID_SIZE, "parent")
        _check_time(self.created, "created")
        _check_text(self.text, "text", MAX_TEXT_CHARS, _BAD_TEXT)


@dataclass(frozen=True)
class _Targeted:
    """Fields and checks shared by the objects that point at one other object."""

    pubkey: bytes
    target: bytes
    created: int

    def __post_init__(self) -> None:
        _check_bytes(self.pubkey, KEY_SIZE, "pubkey")
        _check_bytes(self.target, ID_SIZE, "target")
        _check_time(self.created, "created")


@dataclass(frozen=True)
class Heart(_Targeted):
    """One person's heart on one post or reply, signed by their per-post heart key."""


@dataclass(frozen=True)
class Flag(_Targeted):
    """One person's flag on one post or reply, signed by their per-post flag key."""

    reason: str = "other"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reason not in FLAG_REASONS:
            raise DecodeError(f"unknown flag reason {self.reason!r}")


@dataclass(frozen=True)
class Delete(_Targeted):
    """A tombstone for ``target``, valid only when signed by the target's own key."""


@dataclass(frozen=True)
class Message:
    """A sealed private message (docs/protocol.md, section 14): nothing outside the box names sender or recipient.

    ``pubkey`` is a throwaway key made for this message alone; ``sealed`` is
    a sealed box to the X25519 form of the recipient's key (``protocol.seal_message``).
    """

    pubkey: bytes
    created: int
    sealed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_bytes(self.pubkey, KEY_SIZE, "pubkey")
        _check_time(self.created, "created")
        _check_bytes(self.sealed, SEALED_SIZE, "sealed box")


WireObject = Post | Reply | Heart | Flag | Delete | Message

_KIND_OF: Final[dict[type, int]] = {
    Post: KIND_POST,
    Reply: KIND_REPLY,
    Heart: KIND_HEART,
    Flag: KIND_FLAG,
    Delete: KIND_DELETE,
    Message: KIND_MESSAGE,
}


def _body(obj: WireObject) -> bytes:
    if isinstance(obj, Post):
        name = (obj.name or "").encode()
        text = obj.text.encode()
        return b"".join(
            (
                obj.pubkey,
                obj.nonce,
                _U64.pack(obj.created),
                _U64.pack(obj.expires or 0),
                bytes((PALETTE.index(obj.bg), len(name))),
                name,
                len(text).to_bytes(2, "big"),
                text,
            )
        )
    if isinstance(obj, Reply):
        text = obj.text.encode()
        return b"".join(
            (
                obj.pubkey,
                obj.nonce,
                obj.root,
                obj.parent,
                _U64.pack(obj.created),
                len(text).to_bytes(2, "big"),
                text,
            )
        )
    if isinstance(obj, Flag):
        return obj.pubkey + obj.target + _U64.pack(obj.created) + bytes((FLAG_REASONS.index(obj.reason),))
    if isinstance(obj, Message):
        return obj.pubkey + _U64.pack(obj.created) + obj.sealed
    return obj.pubkey + obj.target + _U64.pack(obj.created)


def encode_signed(obj: WireObject, version: int = VERSION) -> bytes:
    """The exact bytes a signature covers: version, kind, body length, body."""
    body = _body(obj)
    return _HEADER.pack(version, _KIND_OF[type(obj)], len(body)) + body


def _bucket(size: int) -> int:
    for bucket in BUCKETS:
        if size <= bucket:
            return bucket
    raise ObjectTooLarge(f"object of {size} bytes exceeds the {MAX_WIRE_SIZE}-byte limit")


@dataclass(frozen=True)
class Signed:
    """A signed object as it travels: the object, its signature, and derived bytes.

    ``signed_bytes`` is what the signature covers, ``id`` its SHA-256, and
    ``wire`` the padded bytes sent to peers.  ``stamp`` is the proof-of-work
    stamp of a version 2 object (None in version 1); it is not signed, so the
    author mints it after signing and the id does not depend on it.
    """

    obj: WireObject
    signature: bytes
    signed_bytes: bytes = field(repr=False, compare=False)
    id: bytes = field(repr=False, compare=False)
    wire: bytes = field(repr=False, compare=False)
    stamp: bytes | None = field(default=None, repr=False, compare=False)

    @classmethod
    def _build(
        cls,
        obj: WireObject,
        signature: bytes,
        signed_bytes: bytes,
        wire: bytes | None = None,
        stamp: bytes | None = None,
        object_id: bytes | None = None,
    ) -> Signed:
        if wire is None:
            raw = signed_bytes + signature + (stamp or b"")
            wire = raw + bytes(_bucket(len(raw)) - len(raw))
        return cls(obj, signature, signed_bytes, object_id or hashlib.sha256(signed_bytes).digest(), wire, stamp)

    @property
    def kind(self) -> int:
        return _KIND_OF[type(self.obj)]

    @property
    def version(self) -> int:
        return self.signed_bytes[0]

    def with_stamp(self, stamp: bytes) -> Signed:
        """The same object with another proof-of-work stamp (version 2 only)."""
        if self.version < 2 or len(stamp) != STAMP_SIZE:
            raise UsageError(f"only a version 2 object carries a stamp, of {STAMP_SIZE} bytes")
        return Signed._build(self.obj, self.signature, self.signed_bytes, stamp=stamp, object_id=self.id)


def sign(obj: WireObject, key: SigningKey, *, version: int = VERSION) -> Signed:
    """Sign ``obj`` with ``key``, which must be the key of ``obj.pubkey``.

    A version 2 object comes with an all-zero stamp: mint one for the swarm's
    difficulty (:func:`mint_stamp`, :meth:`Signed.with_stamp`) before it is sent.

    Raises:
        UsageError: the key does not match the object's public key.
        ObjectTooLarge: the object does not fit the largest size bucket.
    """
    if bytes(key.verify_key) != obj.pubkey:
        raise UsageError("signing key does not match the object's pubkey")
    if version not in VERSIONS:
        raise UsageError(f"objects are version {' or '.join(map(str, VERSIONS))}")
    if isinstance(obj, Message) and version != VERSION:
        raise UsageError(f"a private message is version {VERSION} only")
    signed_bytes = encode_signed(obj, version)
    stamp = bytes(STAMP_SIZE) if version >= 2 else None  # unminted: see mint_stamp
    _bucket(len(signed_bytes) + SIG_SIZE + len(stamp or b""))
    return Signed._build(obj, key.sign(signed_bytes).signature, signed_bytes, stamp=stamp)


# Fixed-size leading fields of each body, read with one unpack each.
_POST_HEAD = struct.Struct(">32s16sQQBB")
_REPLY_HEAD = struct.Struct(">32s16s32s32sQ")
_TARGET_HEAD = struct.Struct(">32s32sQ")
_FLAG_BODY = struct.Struct(">32s32sQB")
_MESSAGE_BODY = struct.Struct(f">32sQ{SEALED_SIZE}s")


def _text_at(body: bytes, pos: int, length: int, limit: int) -> str:
    if length > limit:
        raise ObjectTooLarge(f"a text field of {length} bytes exceeds {limit}")
    if pos + length > len(body):
        raise DecodeError("object body is shorter than its fields")
    try:
        return body[pos : pos + length].decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("a text field is not valid UTF-8") from None


def _u16_at(body: bytes, pos: int) -> int:
    if pos + 2 > len(body):
        raise DecodeError("object body is shorter than its fields")
    return int.from_bytes(body[pos : pos + 2], "big")


def _parse_body(kind: int, body: bytes) -> WireObject:
    try:
        if kind == KIND_POST:
            pubkey, nonce, created, expires, bg_index, name_len = _POST_HEAD.unpack_from(body)
            pos = _POST_HEAD.size
            name = _text_at(body, pos, name_len, MAX_NAME_BYTES) if name_len else None
            pos += name_len
            text_len = _u16_at(body, pos)
            text = _text_at(body, pos + 2, text_len, MAX_TEXT_BYTES)
            end = pos + 2 + text_len
            if bg_index >= len(PALETTE):
                raise DecodeError(f"background colour index {bg_index} is outside the palette")
            obj: WireObject = Post(pubkey, nonce, created, text, PALETTE[bg_index], name, expires or None)
        elif kind == KIND_REPLY:
            pubkey, nonce, root, parent, created = _REPLY_HEAD.unpack_from(body)
            text_len = _u16_at(body, _REPLY_HEAD.size)
            text = _text_at(body, _REPLY_HEAD.size + 2, text_len, MAX_TEXT_BYTES)
            end = _REPLY_HEAD.size + 2 + text_len
            obj = Reply(pubkey, nonce, root, parent, created, text)
        elif kind in (KIND_HEART, KIND_DELETE):
            cls = Heart if kind == KIND_HEART else Delete
            obj = cls(*_TARGET_HEAD.unpack_from(body))
            end = _TARGET_HEAD.size
        elif kind == KIND_FLAG:
            pubkey, target, created, reason = _FLAG_BODY.unpack_from(body)
            if reason >= len(FLAG_REASONS):
                raise DecodeError(f"flag reason {reason} is unknown")
            obj = Flag(pubkey, target, created, FLAG_REASONS[reason])
            end = _FLAG_BODY.size
        elif kind == KIND_MESSAGE:
            if len(body) != MESSAGE_BODY:
                raise DecodeError(f"a private message body is {MESSAGE_BODY} bytes, not {len(body)}")
            obj = Message(*_MESSAGE_BODY.unpack_from(body))
            end = _MESSAGE_BODY.size
        else:
            raise UnknownKind(f"object kind 0x{kind:02x} is not known to protocol version {VERSION}")
    except struct.error:
        raise DecodeError("object body is shorter than its fields") from None
    if end != len(body):
        raise DecodeError("object body has trailing bytes")
    return obj


def decode(wire: bytes, *, verify: bool = True, difficulty: int | None = None) -> Signed:
    """Parse padded wire bytes into a :class:`Signed` object and verify it.

    Args:
        wire: the bytes as received from a peer.
        verify: check the signature (skip only for bytes this node stored itself).
        difficulty: the stamp this object needs, in leading zero bits (the
            swarm's); None skips the check (bytes this node stored itself).
            Checked before the signature: one hash, not one Ed25519 verify.

    Raises:
        DecodeError: the bytes are malformed (subclasses say how).
        BadStamp: well-formed, but the stamp is missing or weaker than ``difficulty``.
        BadSignature: well-formed, but the signature does not verify.
    """
    if not isinstance(wire, bytes):
        raise DecodeError("wire data must be bytes")
    size = len(wire)
    if size > MAX_WIRE_SIZE:
        raise ObjectTooLarge(f"object of {size} bytes exceeds the {MAX_WIRE_SIZE}-byte limit")
    if size < _HEADER.size:
        raise DecodeError("object is shorter than its header")
    version, kind, body_len = _HEADER.unpack_from(wire)
    if version not in VERSIONS:
        raise UnknownVersion(f"object version {version} is not supported (this node reads {VERSIONS})")
    signed_end = _HEADER.size + body_len
    stamp_end = signed_end + SIG_SIZE
    raw_end = stamp_end + (STAMP_SIZE if version >= 2 else 0)
    if raw_end > size:
        raise DecodeError("object is shorter than its declared length")
    if size != _bucket(raw_end):
        raise DecodeError(f"object of {raw_end} bytes is padded to {size}, not to its size bucket")
    if wire.count(0, raw_end) != size - raw_end:
        raise DecodeError("padding bytes are not zero")
    obj = _parse_body(kind, wire[_HEADER.size : signed_end])
    if kind == KIND_MESSAGE and version != VERSION:
        raise DecodeError(f"a private message is version {VERSION} only")
    signed_bytes = wire[:signed_end]
    signature = wire[signed_end:stamp_end]
    stamp = wire[stamp_end:raw_end] if version >= 2 else None
    object_id = hashlib.sha256(signed_bytes).digest()
    if difficulty:
        if stamp is None:
            raise BadStamp(f"a version {version} object carries no stamp; this swarm needs {difficulty} bits")
        if (bits := stamp_bits(object_id, stamp)) < difficulty:
            raise BadStamp(f"the stamp is worth {bits} bits; this swarm needs {difficulty}")
    if verify:
        try:
            VerifyKey(obj.pubkey).verify(signed_bytes, signature)
        except CryptoError:
            raise BadSignature("signature does not verify") from None
    return Signed._build(obj, signature, signed_bytes, wire, stamp, object_id)


# -- making objects from an identity seed -----------------------------------


def _now_quantum(now: int) -> int:
    created = coarsen(now)
    _check_time(created, "time")
    return created


def make_post(
    seed: bytes,
    text: str,
    *,
    now: int,
    bg: str = "slate",
    name: str | None = None,
    expires_in: int | None = None,
    nonce: bytes | None = None,
) -> Signed:
    """Write and sign a new root post under a fresh one-time key.

    Args:
        seed: the identity seed.
        text: 1 to 1,000 characters.
        now: the current Unix time (coarsened here to 10 minutes).
        bg: a colour name from :data:`PALETTE`.
        name: optional display name for this post alone.
        expires_in: optional self-destruct time in seconds (rounded up to 10
            minutes, at most 30 days).
        nonce: 16 bytes for test vectors; random otherwise.
    """
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    created = _now_quantum(now)
    expires = None
    if expires_in is not None:
        if not 0 < expires_in <= MAX_TTL:
            raise UsageError("a self-destruct time must be between 1 second and 30 days")
        expires = min(created + MAX_TTL, -(-(now + expires_in) // TIME_QUANTUM) * TIME_QUANTUM)
    key = post_key(seed, nonce)
    post = Post(bytes(key.verify_key), nonce, created, text, bg, name or None, expires)
    return sign(post, key)


def thread_key(seed: bytes, root: Signed) -> SigningKey:
    """The key this identity uses inside the thread of ``root``.

    For the thread's author that is the root post's own key (readers see the
    crown); for everyone else a key derived from the thread's root id.
    """
    if not isinstance(root.obj, Post):
        raise UsageError("a thread starts with a post")
    key = post_key(seed, root.obj.nonce)
    if bytes(key.verify_key) == root.obj.pubkey:
        return key
    return thread_key_for_other(seed, root.id)


def make_reply(
    seed: bytes, root: Signed, text: str, *, now: int, parent: bytes | None = None, nonce: bytes | None = None
) -> Signed:
    """Write and sign a reply in the thread of ``root``; ``parent`` defaults to the root."""
    key = thread_key(seed, root)
    reply = Reply(
        bytes(key.verify_key),
        os.urandom(NONCE_SIZE) if nonce is None else nonce,
        root.id,
        root.id if parent is None else parent,
        _now_quantum(now),
        text,
    )
    return sign(reply, key)


def make_heart(seed: bytes, target: bytes, *, now: int) -> Signed:
    """Heart ``target`` (a post or reply id) under this identity's per-post heart key."""
    key = heart_key(seed, target)
    return sign(Heart(bytes(key.verify_key), target, _now_quantum(now)), key)


def make_flag(seed: bytes, target: bytes, *, now: int, reason: str = "other") -> Signed:
    """Flag ``target`` under this identity's per-post flag key."""
    key = flag_key(seed, target)
    return sign(Flag(bytes(key.verify_key), target, _now_quantum(now), reason), key)


def own_key(seed: bytes, target: Signed, root: Signed | None = None) -> SigningKey | None:
    """The key that signed ``target`` if this identity made it, else None.

    A reply's key depends on its thread, so ``root`` (the thread's post) must
    be given for replies.
    """
    obj = target.obj
    key: SigningKey
    if isinstance(obj, Post):
        key = post_key(seed, obj.nonce)
    elif isinstance(obj, Reply):
        if root is None or root.id != obj.root:
            raise UsageError("the reply's thread root is needed to find its key")
        key = thread_key(seed, root)
    elif isinstance(obj, Heart):
        key = heart_key(seed, obj.target)
    elif isinstance(obj, Flag):
        key = flag_key(seed, obj.target)
    else:
        return None
    return key if bytes(key.verify_key) == obj.pubkey else None


def make_delete(seed: bytes, target: Signed, *, now: int, root: Signed | None = None) -> Signed:
    """A tombstone for one's own ``target``, signed by the target's own key.

    Raises:
        NotAuthor: this identity did not make ``target``.
    """
    key = own_key(seed, target, root)
    if key is None:
        raise NotAuthor("only the author of an object can delete it")
    return sign(Delete(target.obj.pubkey, target.id, _now_quantum(now)), key)
