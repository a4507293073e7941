"""Invite keys: everything a friend needs to join a swarm, in one pasteable string.

``p2pnet-invite1`` followed by lowercase base32 (RFC 4648, no padding) of::

    version u8 | length u16 | psk 32 | expires u64 | difficulty u8 (version 2)
    | name_len u8 | name | n_addrs u8 | (addr_len u8 | addr)*  ...then a 4-byte checksum

The checksum is the first four bytes of SHA-256("p2pnet-invite" || payload),
so a mistyped or altered character is caught before anything is dialled.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Final

from ._errors import (
    InviteExpired,
    InviteMalformed,
    InviteTampered,
    InviteTruncated,
    InviteVersionError,
    UsageError,
)
from ._stamp import DEFAULT_DIFFICULTY, MAX_DIFFICULTY
from ._text import BAD_NAME, is_blank

__all__ = [
    "INVITE_PREFIX",
    "INVITE_VERSION",
    "INVITE_VERSIONS",
    "MAX_INVITE_ADDRS",
    "MAX_SWARM_NAME_CHARS",
    "Invite",
    "check_swarm_name",
    "decode_invite",
    "encode_invite",
]

INVITE_PREFIX: Final = "p2pnet-invite1"
INVITE_VERSION: Final = 2  # what this code writes; version 1 (no difficulty) is still read
INVITE_VERSIONS: Final = (1, 2)
MAX_SWARM_NAME_CHARS: Final = 32
MAX_INVITE_ADDRS: Final = 8
MAX_ADDR_BYTES: Final = 255
MAX_INVITE_CHARS: Final = 4096
_CHECKSUM_PREFIX = b"p2pnet-invite"
_CHECKSUM_SIZE = 4
_HEAD = struct.Struct(">BH")
_ADDR = re.compile(r"/[\x21-\x7e]*/p2p/[0-9A-Za-z]+")


def check_swarm_name(name: str) -> None:
    """Refuse a swarm name an invite could not carry: every joined swarm must be invitable to.

    Args:
        name: The name of a swarm to create, join or invite to.

    Raises:
        UsageError: The name is blank, longer than :data:`MAX_SWARM_NAME_CHARS`,
            or holds a control character, a bidi control or an invisible mark;
            the message states the rule.
    """
    if is_blank(name) or len(name) > MAX_SWARM_NAME_CHARS or BAD_NAME.search(name):
        raise UsageError(f"a swarm name is 1 to {MAX_SWARM_NAME_CHARS} printable characters")


@dataclass(frozen=True)
class Invite:
    """A swarm's name, its 32-byte pre-shared key, and peers to dial first."""

    name: str
    psk: bytes
    bootstrap: tuple[str, ...]
    expires: int | None = None
    difficulty: int = DEFAULT_DIFFICULTY  # the proof-of-work stamp every object in the swarm needs, in bits

    def __post_init__(self) -> None:
        check_swarm_name(self.name)
        if not 0 <= self.difficulty <= MAX_DIFFICULTY:
            raise UsageError(f"a swarm's stamp difficulty is 0 to {MAX_DIFFICULTY} bits")
        if len(self.psk) != 32:
            raise UsageError("a swarm key is exactly 32 bytes")
        if not 1 <= len(self.bootstrap) <= MAX_INVITE_ADDRS:
            raise UsageError(f"an invite names 1 to {MAX_INVITE_ADDRS} bootstrap peers")
        for addr in self.bootstrap:
            if len(addr.encode()) > MAX_ADDR_BYTES or not _ADDR.fullmatch(addr):
                raise UsageError(f"{addr!r} is not a multiaddr ending in /p2p/<peer id>")
        if self.expires is not None and not 0 < self.expires < 1 << 63:
            raise UsageError("invalid expiry time")


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(_CHECKSUM_PREFIX + payload).digest()[:_CHECKSUM_SIZE]


def encode_invite(invite: Invite, *, version: int = INVITE_VERSION) -> str:
    """The invite key string for ``invite`` (``version`` is overridable for tests)."""
    name = invite.name.encode()
    parts = [invite.psk, struct.pack(">Q", invite.expires or 0)]
    if version >= 2:
        parts.append(bytes((invite.difficulty,)))
    elif invite.difficulty != DEFAULT_DIFFICULTY:
        raise UsageError(f"a version 1 invite cannot carry a difficulty other than {DEFAULT_DIFFICULTY}")
    parts += [bytes((len(name),)), name]
    parts.append(bytes((len(invite.bootstrap),)))
    for addr in invite.bootstrap:
        raw = addr.encode()
        parts += [bytes((len(raw),)), raw]
    body = b"".join(parts)
    payload = _HEAD.pack(version, len(body)) + body
    text = base64.b32encode(payload + _checksum(payload)).decode().rstrip("=").lower()
    return INVITE_PREFIX + text


def decode_invite(text: str, *, now: int) -> Invite:
    """Parse and check an invite key.

    White space anywhere (a key wrapped across lines) and letter case are
    forgiven.

    Args:
        text: the pasted invite key.
        now: the current Unix time: an expired key is refused.

    Raises:
        InviteMalformed: not an invite key at all.
        InviteTruncated: part of the key is missing.
        InviteTampered: the checksum does not match.
        InviteVersionError: made by a p2pnet version this one cannot read.
        InviteExpired: past its expiry.
    """
    if len(text) > 2 * MAX_INVITE_CHARS:
        raise InviteMalformed("that text is far too long to be an invite key")
    compact = "".join(text.split())
    if not compact.isascii():  # before lower-casing, which maps some non-ASCII letters to ASCII
        raise InviteMalformed("the invite key contains characters an invite key never has")
    compact = compact.lower()
    if not compact.startswith(INVITE_PREFIX):
        raise InviteMalformed(f"an invite key starts with {INVITE_PREFIX!r}; this text does not")
    b32 = compact[len(INVITE_PREFIX) :].upper()
    if not re.fullmatch("[A-Z2-7]*", b32):
        raise InviteMalformed("the invite key contains characters an invite key never has")
    try:
        raw = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    except binascii.Error:
        raise InviteTruncated("the invite key is incomplete: copy the whole key") from None
    if len(raw) < _HEAD.size + _CHECKSUM_SIZE:
        raise InviteTruncated("the invite key is incomplete: copy the whole key")
    payload, checksum = raw[:-_CHECKSUM_SIZE], raw[-_CHECKSUM_SIZE:]
    version, length = _HEAD.unpack_from(payload)
    if _checksum(payload) != checksum:
        if len(payload) < _HEAD.size + length:
            raise InviteTruncated("the invite key is incomplete: copy the whole key")
        raise InviteTampered("the invite key's checksum does not match: it was altered or mistyped")
    if base64.b32encode(raw).decode().rstrip("=") != b32:
        # unused low bits of the last character were set: not what we wrote
        raise InviteTampered("the invite key's last character was altered or mistyped")
    if version not in INVITE_VERSIONS:
        raise InviteVersionError(
            f"this invite key has format version {version}; this p2pnet reads versions up to {INVITE_VERSION}: "
            "upgrade p2pnet"
        )
    if len(payload) != _HEAD.size + length:
        raise InviteMalformed("the invite key's length field does not match its contents")
    invite = _parse(payload[_HEAD.size :], version)
    if invite.expires is not None and now >= invite.expires:
        raise InviteExpired("this invite key has expired: ask your friend for a new one")
    return invite


def _parse(body: bytes, version: int) -> Invite:
    try:
        pos = 32 + 8
        psk = body[:32]
        (expires,) = struct.unpack_from(">Q", body, 32)
        difficulty = DEFAULT_DIFFICULTY  # what a version 1 key, which names none, means
        if version >= 2:
            difficulty = body[pos]
            pos += 1
        name_len = body[pos]
        name = body[pos + 1 : pos + 1 + name_len].decode("utf-8")
        pos += 1 + name_len
        count = body[pos]
        pos += 1
        addrs = []
        for _ in range(count):
            size = body[pos]
            addrs.append(body[pos + 1 : pos + 1 + size].decode("ascii"))
            pos += 1 + size
        if pos != len(body) or len(name.encode()) != name_len:
            raise UsageError("length mismatch")
        return Invite(name, psk, tuple(addrs), expires or None, difficulty)
    except (IndexError, struct.error, UnicodeDecodeError, ValueError) as exc:
        raise InviteMalformed(f"the invite key's contents are invalid ({exc})") from None
