"""The keyring: a second copy of the joined swarms' keys, beside the database.

A swarm key lives nowhere else but the database, so a damaged database would
lose every membership; ``p2pnet recover`` restores them from this file
(docs/storage.md, section 5).  Written whole, atomically, whenever the set of
swarms changes; mode 0600 like the database.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..api import write_private
from ._errors import StoreError

__all__ = ["KEYRING_VERSION", "Membership", "keyring_path", "read_keyring", "salvage_memberships", "write_keyring"]

KEYRING_VERSION: Final = 1


@dataclass(frozen=True)
class Membership:
    """What re-joining a swarm needs: its name, key and stamp difficulty (and the port, to be found again)."""

    name: str
    psk: bytes
    difficulty: int
    port: int
    joined: int


def keyring_path(database: Path) -> Path:
    """The keyring of the database at ``database``: ``<name>.swarms.json`` in the same directory."""
    return database.with_name(database.name + ".swarms.json")


def encode_keyring(members: list[Membership]) -> bytes:
    doc = {
        "version": KEYRING_VERSION,
        "swarms": [
            {"name": m.name, "psk": m.psk.hex(), "difficulty": m.difficulty, "port": m.port, "joined": m.joined}
            for m in members
        ],
    }
    return json.dumps(doc, indent=1).encode() + b"\n"


def write_keyring(path: Path, members: list[Membership]) -> None:
    """Replace the keyring at ``path`` (temporary file, fsync, rename); no-op if it already says this."""
    data = encode_keyring(members)
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return
    try:
        write_private(path, data)
    except OSError as exc:
        raise StoreError(f"cannot write the keyring {path}: {exc.strerror or exc}") from None


def read_keyring(path: Path) -> list[Membership]:
    """The memberships in the keyring at ``path``; empty if there is none.

    Raises:
        StoreError: the file is there but unreadable or not a keyring of this version.
    """
    try:
        doc: Any = json.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise StoreError(f"the keyring {path} cannot be read: {exc}") from None
    try:
        if doc["version"] != KEYRING_VERSION:
            raise StoreError(f"the keyring {path} is version {doc['version']}; this p2pnet reads {KEYRING_VERSION}")
        out = []
        for s in doc["swarms"]:
            psk = bytes.fromhex(s["psk"])
            fields = (s["name"], s["difficulty"], s["port"], s["joined"])
            if len(psk) != 32 or not isinstance(fields[0], str) or not all(isinstance(v, int) for v in fields[1:]):
                raise ValueError("a swarm entry is malformed")
            out.append(Membership(s["name"], psk, s["difficulty"], s["port"], s["joined"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"the keyring {path} is malformed: {exc}") from None
    return out


def salvage_memberships(database: Path) -> list[Membership]:
    """The memberships a (damaged) database still yields, read-only, row by row; what cannot be read is skipped."""
    out: list[Membership] = []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT name, psk, difficulty, port, joined FROM swarms").fetchall()
    except sqlite3.Error:
        return out
    for name, psk, difficulty, port, joined in rows:
        if isinstance(name, str) and isinstance(psk, bytes) and len(psk) == 32:
            out.append(Membership(name, psk, int(difficulty), int(port), int(joined)))
    return out
