"""Identity: one 32-byte seed, its backup phrase, and its at-rest file format.

The seed is the whole identity; nothing else (no name, no contact) exists.  It
is backed up as 24 BIP-39 words, which encode the 32 bytes exactly plus an
8-bit checksum.  At rest it is kept in a small JSON document, optionally sealed
with a passphrase (Argon2id + XSalsa20-Poly1305).  This module only turns
values into bytes and back; the node writes the file (mode 0600).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Final

import nacl.pwhash
from mnemonic import Mnemonic
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from ._errors import BadPhrase, CorruptIdentityFile, UsageError, WrongPassphrase
from ._keys import SEED_SIZE

__all__ = [
    "IDENTITY_FILE_VERSION",
    "decode_identity_file",
    "encode_identity_file",
    "identity_file_is_sealed",
    "new_seed",
    "phrase_to_seed",
    "seed_to_phrase",
]

IDENTITY_FILE_VERSION: Final = 1
PHRASE_WORDS: Final = 24
MAX_FILE_SIZE: Final = 4096
MAX_PHRASE_CHARS: Final = 1024
_ARGON = nacl.pwhash.argon2id
# Interactive limits keep unlocking under a second on a laptop; the file
# records them so a later version can raise them without breaking old files.
DEFAULT_OPSLIMIT: Final = _ARGON.OPSLIMIT_INTERACTIVE
DEFAULT_MEMLIMIT: Final = _ARGON.MEMLIMIT_INTERACTIVE
# A corrupt or hostile file must not make us allocate gigabytes or spin.
MAX_OPSLIMIT: Final = _ARGON.OPSLIMIT_MODERATE
MAX_MEMLIMIT: Final = _ARGON.MEMLIMIT_MODERATE
_HEX = re.compile("(?:[0-9a-f]{2})+")

_MNEMONIC = Mnemonic("english")
_WORDS = frozenset(_MNEMONIC.wordlist)


def new_seed() -> bytes:
    """A fresh random identity seed from the operating system's CSPRNG."""
    return os.urandom(SEED_SIZE)


def seed_to_phrase(seed: bytes) -> str:
    """The 24-word backup phrase for ``seed``."""
    if len(seed) != SEED_SIZE:
        raise UsageError("an identity seed is exactly 32 bytes")
    return str(_MNEMONIC.to_mnemonic(seed))


def phrase_to_seed(phrase: str) -> bytes:
    """Recover the seed from a backup phrase.

    Case and extra white space are forgiven; anything else is an error.

    Raises:
        BadPhrase: wrong number of words, a word not on the list (named), or a
            checksum that does not match (a word mistyped into another valid one).
    """
    if len(phrase) > MAX_PHRASE_CHARS:
        raise BadPhrase("that text is far too long to be a backup phrase")
    words = phrase.lower().split()
    if len(words) != PHRASE_WORDS:
        raise BadPhrase(f"a backup phrase has {PHRASE_WORDS} words; this one has {len(words)}")
    for position, word in enumerate(words, 1):
        if word not in _WORDS:
            raise BadPhrase(f"word {position} ({word!r}) is not in the backup word list")
    if not _MNEMONIC.check(" ".join(words)):
        raise BadPhrase("the phrase's checksum does not match: a word is wrong or out of order")
    return bytes(_MNEMONIC.to_entropy(words))


def encode_identity_file(
    seed: bytes,
    passphrase: str | None = None,
    *,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Serialise ``seed`` for storage, sealed under ``passphrase`` if one is given.

    ``salt`` and ``nonce`` are random unless given (test vectors fix them).
    """
    if len(seed) != SEED_SIZE:
        raise UsageError("an identity seed is exactly 32 bytes")
    if not (_ARGON.OPSLIMIT_MIN <= opslimit <= MAX_OPSLIMIT and _ARGON.MEMLIMIT_MIN <= memlimit <= MAX_MEMLIMIT):
        raise UsageError("Argon2id limits outside what an identity file may use")
    doc: dict[str, Any] = {"p2pnet_identity": IDENTITY_FILE_VERSION}
    if not passphrase:
        doc.update(kdf="none", seed=seed.hex())
    else:
        salt = os.urandom(_ARGON.SALTBYTES) if salt is None else salt
        key = _ARGON.kdf(SecretBox.KEY_SIZE, passphrase.encode(), salt, opslimit=opslimit, memlimit=memlimit)
        box = SecretBox(key).encrypt(seed, nonce)
        doc.update(kdf="argon2id", opslimit=opslimit, memlimit=memlimit, salt=salt.hex(), box=bytes(box).hex())
    return (json.dumps(doc, indent=1) + "\n").encode()


def _load(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_FILE_SIZE:
        raise CorruptIdentityFile("the identity file is far larger than an identity file can be")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CorruptIdentityFile("the identity file is not readable JSON: it is damaged") from None
    if not isinstance(doc, dict) or "p2pnet_identity" not in doc:
        raise CorruptIdentityFile("this file is not a p2pnet identity file")
    if type(doc["p2pnet_identity"]) is not int or doc["p2pnet_identity"] != IDENTITY_FILE_VERSION:
        raise CorruptIdentityFile(f"identity file version {doc['p2pnet_identity']!r} is not supported")
    return doc


def _hex_field(doc: dict[str, Any], name: str, size: int | None = None) -> bytes:
    value = doc.get(name)
    raw = bytes.fromhex(value) if isinstance(value, str) and _HEX.fullmatch(value) else None
    if raw is None or (size is not None and len(raw) != size):
        raise CorruptIdentityFile(f"the identity file's {name!r} field is damaged")
    return raw


def _int_field(doc: dict[str, Any], name: str, low: int, high: int) -> int:
    value = doc.get(name)
    if type(value) is not int or not low <= value <= high:
        raise CorruptIdentityFile(f"the identity file's {name!r} field is damaged")
    return value


def identity_file_is_sealed(data: bytes) -> bool:
    """Whether the file needs a passphrase to open."""
    return _load(data).get("kdf") == "argon2id"


def decode_identity_file(data: bytes, passphrase: str | None = None) -> bytes:
    """Recover the seed from identity-file bytes.

    Raises:
        CorruptIdentityFile: the bytes are not an intact identity file.
        WrongPassphrase: the file is sealed and ``passphrase`` is missing or wrong.
    """
    doc = _load(data)
    kdf = doc.get("kdf")
    if kdf == "none":
        return _hex_field(doc, "seed", SEED_SIZE)
    if kdf != "argon2id":
        raise CorruptIdentityFile(f"unknown key-derivation {kdf!r} in the identity file")
    salt = _hex_field(doc, "salt", _ARGON.SALTBYTES)
    box = _hex_field(doc, "box", SecretBox.NONCE_SIZE + SecretBox.MACBYTES + SEED_SIZE)
    opslimit = _int_field(doc, "opslimit", _ARGON.OPSLIMIT_MIN, MAX_OPSLIMIT)
    memlimit = _int_field(doc, "memlimit", _ARGON.MEMLIMIT_MIN, MAX_MEMLIMIT)
    if not passphrase:
        raise WrongPassphrase("this identity is protected by a passphrase; give it to unlock")
    key = _ARGON.kdf(SecretBox.KEY_SIZE, passphrase.encode(), salt, opslimit=opslimit, memlimit=memlimit)
    try:
        return bytes(SecretBox(key).decrypt(box))
    except CryptoError:
        # Poly1305 cannot tell a wrong key from flipped ciphertext bits; the
        # fields were all well-formed, so the passphrase is the likely cause.
        raise WrongPassphrase("wrong passphrase for this identity") from None
