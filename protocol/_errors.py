"""Every error the protocol core raises.

A peer can send any bytes at all; decoding them must fail with one of these
types and nothing else, so the node can count the failure against the peer and
move on.  Each class carries a message a person can read.
"""

from __future__ import annotations

__all__ = [
    "BadPhrase",
    "BadSignature",
    "BadStamp",
    "CorruptIdentityFile",
    "DecodeError",
    "IdentityError",
    "InviteError",
    "InviteExpired",
    "InviteMalformed",
    "InviteTampered",
    "InviteTruncated",
    "InviteVersionError",
    "NotAuthor",
    "ObjectTooLarge",
    "ProtocolError",
    "SyncError",
    "UnknownKind",
    "UnknownVersion",
    "UsageError",
    "WrongPassphrase",
]


class ProtocolError(Exception):
    """Base class of every error raised by :mod:`protocol`."""


class UsageError(ProtocolError, ValueError):
    """A caller asked for something the protocol does not allow (local misuse, not a peer's bytes)."""


class NotAuthor(UsageError):
    """Only the author of an object, holding its key, may do this (delete it)."""


# -- wire objects ------------------------------------------------------------


class DecodeError(ProtocolError):
    """The bytes are not a well-formed object of this protocol."""


class ObjectTooLarge(DecodeError):
    """The bytes, or one field in them, exceed a hard size limit."""


class UnknownVersion(DecodeError):
    """The object was made by a protocol version this code does not speak."""


class UnknownKind(DecodeError):
    """The object kind byte names no kind this version knows."""


class SyncError(DecodeError):
    """A sync peer sent a malformed frame, broke a limit, or spoke out of turn."""


class BadStamp(ProtocolError):
    """Well-formed, but the proof-of-work stamp is missing or weaker than the swarm asks."""


class BadSignature(ProtocolError):
    """The signature does not verify over the object's signed bytes."""


# -- identity ----------------------------------------------------------------


class IdentityError(ProtocolError):
    """Base class of identity, backup-phrase and identity-file errors."""


class BadPhrase(IdentityError):
    """A backup phrase is not 24 words from the list with a valid checksum."""


class WrongPassphrase(IdentityError):
    """The identity file is intact but the passphrase does not open it."""


class CorruptIdentityFile(IdentityError):
    """The identity file is damaged or not an identity file at all."""


# -- invite keys -------------------------------------------------------------


class InviteError(ProtocolError):
    """Base class of invite-key errors."""


class InviteMalformed(InviteError):
    """The text is not an invite key (wrong prefix or characters)."""


class InviteTruncated(InviteError):
    """The invite key is shorter than it says it is: part was not copied."""


class InviteTampered(InviteError):
    """The invite key's checksum does not match: it was altered or mistyped."""


class InviteVersionError(InviteError):
    """The invite key was made by a version of p2pnet this one cannot read."""


class InviteExpired(InviteError):
    """The invite key is past its expiry time."""
