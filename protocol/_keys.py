"""Key derivation: one seed, many unlinkable Ed25519 keys.

Every key is HKDF-SHA256 over the 32-byte identity seed, with an info string
that names its purpose and binds the public data it belongs to.  Anyone without
the seed sees independent random keys; the owner can re-derive each of them
from the seed plus data that is public (a post's nonce, a thread's root id, a
target id, a swarm key), so a restored backup phrase can still delete old posts.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.signing import SigningKey

from ._errors import UsageError

__all__ = [
    "INFO_DM",
    "INFO_FLAG",
    "INFO_HEART",
    "INFO_POST",
    "INFO_SWARM_HOST",
    "INFO_THREAD",
    "SEED_SIZE",
    "derive_seed",
    "flag_key",
    "conversation_key",
    "heart_key",
    "post_key",
    "swarm_host_seed",
    "swarm_id",
    "thread_key_for_other",
]

SEED_SIZE = 32

INFO_POST = b"p2pnet/v1/post-key"
INFO_THREAD = b"p2pnet/v1/thread-key"
INFO_HEART = b"p2pnet/v1/heart-key"
INFO_FLAG = b"p2pnet/v1/flag-key"
INFO_SWARM_HOST = b"p2pnet/v1/swarm-host-key"
INFO_DM = b"p2pnet/v1/dm-key"
SWARM_ID_PREFIX = b"p2pnet/v1/swarm-id"


def _check_seed(seed: bytes) -> None:
    if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
        raise UsageError("an identity seed is exactly 32 bytes")


def derive_seed(seed: bytes, info: bytes) -> bytes:
    """Derive a 32-byte child seed: HKDF-SHA256(ikm=seed, salt=none, info).

    Args:
        seed: the 32-byte identity seed.
        info: purpose string followed by the public data it binds.

    Returns:
        32 bytes, usable as an Ed25519 seed.
    """
    _check_seed(seed)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(seed)


def post_key(seed: bytes, nonce: bytes) -> SigningKey:
    """The one-time key of a root post, from the random nonce kept in the post."""
    return SigningKey(derive_seed(seed, INFO_POST + nonce))


def thread_key_for_other(seed: bytes, root_id: bytes) -> SigningKey:
    """The key one person uses for everything inside a thread they did not start.

    The thread's author uses the root post's own key instead (see
    :func:`protocol.thread_key`), which is what lets readers crown the author.
    """
    return SigningKey(derive_seed(seed, INFO_THREAD + root_id))


def heart_key(seed: bytes, target_id: bytes) -> SigningKey:
    """The per-post key for a heart: one heart per person per post, unlinkable across posts."""
    return SigningKey(derive_seed(seed, INFO_HEART + target_id))


def flag_key(seed: bytes, target_id: bytes) -> SigningKey:
    """The per-post key for a flag, separate from the heart key so the two do not link."""
    return SigningKey(derive_seed(seed, INFO_FLAG + target_id))


def conversation_key(seed: bytes, peer: bytes) -> SigningKey:
    """This identity's key in its private conversation with the holder of ``peer`` (an Ed25519 public key).

    One key per identity and peer key: the writer of a first message derives
    it from the key of the post or reply it writes to, the answerer from the
    writer's conversation key.  It signs nothing public, so it links to nothing.
    """
    if not isinstance(peer, bytes) or len(peer) != 32:
        raise UsageError("a peer key is exactly 32 bytes")
    return SigningKey(derive_seed(seed, INFO_DM + peer))


def swarm_id(psk: bytes) -> bytes:
    """A public 32-byte name for a swarm: SHA-256("p2pnet/v1/swarm-id" || psk)."""
    if len(psk) != 32:
        raise UsageError("a swarm key is exactly 32 bytes")
    return hashlib.sha256(SWARM_ID_PREFIX + psk).digest()


def swarm_host_seed(seed: bytes, psk: bytes) -> bytes:
    """The Ed25519 seed of this node's libp2p host in one swarm: a new peer id per swarm."""
    return derive_seed(seed, INFO_SWARM_HOST + swarm_id(psk))
