"""Private messages: sealed to the key on a post, reply or conversation, opened by trial (docs/protocol.md, section 14).

A message is a :class:`~._objects.Message` object whose body is a sealed box
(libsodium ``crypto_box_seal``: an ephemeral X25519 key, XSalsa20-Poly1305) to
the X25519 form of the recipient's Ed25519 key.  Inside: the sender's
conversation key, the post or reply the conversation started from, a coarse
time, the text, and the sender's signature over all of it bound to the
recipient.  Outside: a throwaway signing key, a coarse randomised time, and
bytes indistinguishable from random.  Nothing on the outside repeats between
two messages, so a relay cannot tell which messages belong together, nor who
any of them is for.

Pure functions: the random parts (ephemeral key, throwaway key, time jitter)
can be given, for test vectors.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from nacl import bindings
from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from ._errors import DecodeError, ObjectTooLarge, UsageError
from ._objects import (
    ID_SIZE,
    KEY_SIZE,
    MAX_TEXT_CHARS,
    SEALED_SIZE,
    TIME_QUANTUM,
    Message,
    Signed,
    _check_text,
    _check_time,
    _now_quantum,
    sign,
)
from ._text import BAD_TEXT

__all__ = [
    "CONVERSATION_PREFIX",
    "DM_SIG_PREFIX",
    "MAX_MESSAGE_TEXT_BYTES",
    "MESSAGE_JITTER_STEPS",
    "PLAIN_SIZE",
    "LiveKey",
    "Opened",
    "conversation_id",
    "live_key",
    "open_message",
    "seal_message",
    "x25519_public",
]

INNER_VERSION: Final = 1
PLAIN_SIZE: Final = SEALED_SIZE - bindings.crypto_box_SEALBYTES  # 860
SIG_AT: Final = PLAIN_SIZE - 64  # the sender's signature ends the plaintext
_INNER_HEAD = struct.Struct(">B32s32sQH")  # inner version, sender, about, sent, text length
MAX_MESSAGE_TEXT_BYTES: Final = SIG_AT - _INNER_HEAD.size  # 721
DM_SIG_PREFIX: Final = b"p2pnet/v1/dm-sig"
CONVERSATION_PREFIX: Final = b"p2pnet/v1/conversation"
# A message's outer `created` is its 10-minute step moved back by 0 to this
# many steps, at random: the time a spy sees says little about when it was sent.
MESSAGE_JITTER_STEPS: Final = 6


def x25519_public(ed25519_public: bytes) -> bytes:
    """The X25519 form of an Ed25519 public key (libsodium ``crypto_sign_ed25519_pk_to_curve25519``).

    Raises:
        UsageError: not a valid Ed25519 public key: nobody can be written to with it.
    """
    try:
        return bytes(bindings.crypto_sign_ed25519_pk_to_curve25519(ed25519_public))
    except (CryptoError, ValueError, TypeError):
        raise UsageError("that key is not a valid Ed25519 public key; no message can be sealed to it") from None


@dataclass(frozen=True)
class LiveKey:
    """One of this node's keys in the X25519 form a sealed box opens with."""

    pubkey: bytes  # the Ed25519 public key senders address
    public: bytes = field(repr=False)  # its X25519 form
    secret: bytes = field(repr=False)


def live_key(key: SigningKey) -> LiveKey:
    """The X25519 form of one of this identity's Ed25519 keys (``crypto_sign_ed25519_sk_to_curve25519``)."""
    return LiveKey(
        bytes(key.verify_key),
        bytes(key.verify_key.to_curve25519_public_key()),
        bytes(key.to_curve25519_private_key()),
    )


@dataclass(frozen=True)
class Opened:
    """What a message said, to the one key that could open it.

    ``recipient`` is this node's key that opened it; ``sender`` the writer's
    conversation key (where an answer goes); ``about`` the post or reply the
    conversation started from; ``sent`` the writer's 10-minute step.
    """

    recipient: bytes
    sender: bytes
    about: bytes
    sent: int
    text: str


def conversation_id(initiator: bytes) -> bytes:
    """A conversation's id, the same on both sides: SHA-256("p2pnet/v1/conversation" || the first writer's key)."""
    if len(initiator) != KEY_SIZE:
        raise UsageError("a conversation key is exactly 32 bytes")
    return hashlib.sha256(CONVERSATION_PREFIX + initiator).digest()


def _sealed_box(plain: bytes, recipient_x: bytes, ephemeral_seed: bytes | None) -> bytes:
    """libsodium's sealed box, spelled out so a test vector can fix the ephemeral key.

    ``epk || crypto_box(plain, nonce = BLAKE2b-192(epk || rpk), rpk, esk)``:
    exactly what ``crypto_box_seal`` makes, and ``crypto_box_seal_open`` opens.
    """
    if ephemeral_seed is None:
        return bytes(bindings.crypto_box_seal(plain, recipient_x))
    epk, esk = bindings.crypto_box_seed_keypair(ephemeral_seed)
    nonce = hashlib.blake2b(epk + recipient_x, digest_size=bindings.crypto_box_NONCEBYTES).digest()
    return bytes(epk) + bytes(bindings.crypto_box(plain, nonce, recipient_x, esk))


def seal_message(
    sender: SigningKey,
    recipient: bytes,
    about: bytes,
    text: str,
    *,
    now: int,
    jitter: int | None = None,
    ephemeral_seed: bytes | None = None,
    throwaway: SigningKey | None = None,
) -> Signed:
    """Write a private message from ``sender`` (a conversation key) to the holder of ``recipient``.

    Args:
        sender: this identity's conversation key (:func:`protocol.conversation_key`).
        recipient: the Ed25519 public key written to: a post's or reply's
            ``pubkey``, or the other side's conversation key.
        about: the id of the post or reply the conversation started from.
        text: 1 to 1,000 characters and at most 721 UTF-8 bytes.
        now: the current Unix time.
        jitter: 10-minute steps to move ``created`` back (0 to 6); random if None.
        ephemeral_seed: 32 bytes fixing the sealed box's ephemeral key (test vectors only).
        throwaway: the outer signing key (test vectors only); a fresh random one otherwise.

    Returns:
        The signed message, unminted (an all-zero stamp), like every new object.

    Raises:
        DecodeError / ObjectTooLarge: the text breaks the text rules or does not fit.
        UsageError: ``recipient`` is no valid key, or ``about`` is not 32 bytes.
    """
    if not isinstance(about, bytes) or len(about) != ID_SIZE:
        raise UsageError("about is a 32-byte object id")
    recipient_x = x25519_public(recipient)
    _check_text(text, "text", MAX_TEXT_CHARS, BAD_TEXT)
    raw = text.encode()
    if len(raw) > MAX_MESSAGE_TEXT_BYTES:
        raise ObjectTooLarge(f"a private message holds {MAX_MESSAGE_TEXT_BYTES} bytes of text, not {len(raw)}")
    sent = _now_quantum(now)
    steps = secrets.randbelow(MESSAGE_JITTER_STEPS + 1) if jitter is None else jitter
    if not 0 <= steps <= MESSAGE_JITTER_STEPS:
        raise UsageError(f"jitter is 0 to {MESSAGE_JITTER_STEPS} steps")
    head = _INNER_HEAD.pack(INNER_VERSION, bytes(sender.verify_key), about, sent, len(raw)) + raw
    head += bytes(SIG_AT - len(head))
    signature = sender.sign(DM_SIG_PREFIX + recipient + head).signature
    sealed = _sealed_box(head + signature, recipient_x, ephemeral_seed)
    outer = throwaway or SigningKey(os.urandom(32))
    created = _now_quantum(sent - steps * TIME_QUANTUM)
    return sign(Message(bytes(outer.verify_key), created, sealed), outer)


def _read_inner(plain: bytes, recipient: bytes) -> Opened:
    """Check an opened plaintext; every failure is a DecodeError (the sender is broken or hostile)."""
    if len(plain) != PLAIN_SIZE:
        raise DecodeError("the opened message has the wrong size")
    version, sender, about, sent, text_len = _INNER_HEAD.unpack_from(plain)
    if version != INNER_VERSION:
        raise DecodeError(f"inner message version {version} is not known")
    if text_len > MAX_MESSAGE_TEXT_BYTES:
        raise ObjectTooLarge("the message text is longer than its field")
    end = _INNER_HEAD.size + text_len
    if plain.count(0, end, SIG_AT) != SIG_AT - end:
        raise DecodeError("the message's padding is not zero")
    try:
        text = plain[_INNER_HEAD.size : end].decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("the message text is not valid UTF-8") from None
    _check_text(text, "text", MAX_TEXT_CHARS, BAD_TEXT)
    _check_time(sent, "the message's time")
    try:
        VerifyKey(sender).verify(DM_SIG_PREFIX + recipient + plain[:SIG_AT], plain[SIG_AT:])
    except (CryptoError, ValueError):
        raise DecodeError("the sender's signature inside the message does not verify") from None
    return Opened(recipient, sender, about, sent, text)


def open_message(message: Message, keys: Iterable[LiveKey]) -> Opened | None:
    """Try every key on ``message``; what it said if one of them opens it, else None.

    Every key is tried even after one opened the box, so opening costs the
    same whether this node is the recipient or not: one X25519 per key.

    Raises:
        DecodeError: a key opened the box but what is inside is malformed or
            not signed by the key it names (a broken or hostile sender).
    """
    found: tuple[LiveKey, bytes] | None = None
    for key in keys:
        try:
            plain = bindings.crypto_box_seal_open(message.sealed, key.public, key.secret)
        except CryptoError:
            continue
        found = found or (key, plain)
    if found is None:
        return None
    return _read_inner(found[1], found[0].pubkey)
