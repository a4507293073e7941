"""The joined swarms (name, key, port) and the address book of peers to redial.

docs/storage.md, section 5.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import protocol

from ._args import id32_arg, int_arg, text_arg
from ._db import Database
from ._errors import InvalidArgument, StoreError, SwarmExists, UnknownSwarm
from ._keyring import Membership, keyring_path, read_keyring, salvage_memberships, write_keyring
from ._quota import DEFAULT_QUOTA, MIN_QUOTA
from ._rows import DEFAULT_FLAG_THRESHOLD, PeerRow

__all__ = ["MAX_PEERS_PER_SWARM", "Swarm", "SwarmsAndPeers"]

MAX_PEERS_PER_SWARM: Final = 1000
# A joined swarm's name must fit in an invite, or no one could be invited to
# it; but files written before this limit may hold names up to 64 characters,
# and those swarms must still be found and left.
_STORED_NAME_CHARS: Final = 64


@dataclass(frozen=True)
class Swarm:
    """A joined swarm.  ``psk`` is secret: it is not in :meth:`to_dict` or ``repr``.

    ``quota`` and ``flag_threshold`` are this node's own settings, never sent
    (docs/storage.md, sections 7 and 4).
    """

    id: str
    name: str
    port: int
    joined: int
    difficulty: int  # the stamp every object of the swarm needs, in bits (docs/protocol.md, section 13)
    psk: bytes = field(repr=False)
    quota: int = DEFAULT_QUOTA  # the most wire bytes its objects may take here
    flag_threshold: int = DEFAULT_FLAG_THRESHOLD  # flags that collapse a post seen in it

    @property
    def raw_id(self) -> bytes:
        """The 32-byte swarm id, as :meth:`Store.ingest` takes it."""
        return bytes.fromhex(self.id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form without the key."""
        return {
            "id": self.id,
            "name": self.name,
            "port": self.port,
            "joined": self.joined,
            "difficulty": self.difficulty,
            "quota": self.quota,
            "flag_threshold": self.flag_threshold,
        }


_SWARM_COLUMNS: Final = (
    f"id, name, port, joined, difficulty, psk, coalesce(quota, {DEFAULT_QUOTA}), "
    f"coalesce(flag_threshold, {DEFAULT_FLAG_THRESHOLD})"
)
MAX_FLAG_THRESHOLD: Final = 1000


def _swarm(row: Sequence[Any]) -> Swarm:
    """A :class:`Swarm` from a row of :data:`_SWARM_COLUMNS`."""
    return Swarm(row[0].hex(), *row[1:])


class SwarmsAndPeers(Database):
    """Joined swarms and their peers."""

    def add_swarm(
        self, name: str, psk: bytes, port: int, now: int, difficulty: int = protocol.DEFAULT_DIFFICULTY
    ) -> Swarm:
        """Record a joined swarm; its id is ``protocol.swarm_id(psk)``.

        Args:
            name: The local name.
            psk: The swarm's key.
            port: The port its host listens on (0: any).
            now: The current Unix time.
            difficulty: The stamp every object of the swarm needs, 0 to
                ``protocol.MAX_DIFFICULTY`` bits (the invite's).

        Raises:
            InvalidArgument: bad name (1 to ``protocol.MAX_SWARM_NAME_CHARS``
                characters, as in an invite), key (32 bytes), port or difficulty.
            SwarmExists: a swarm with this name or this key is already joined.
        """
        name = text_arg(name, "swarm name", protocol.MAX_SWARM_NAME_CHARS)
        if not isinstance(psk, bytes) or len(psk) != 32:
            raise InvalidArgument("a swarm key is exactly 32 bytes")
        port = int_arg(port, "port", 0, 65535)
        now = int_arg(now, "now")
        difficulty = int_arg(difficulty, "difficulty", 0, protocol.MAX_DIFFICULTY)
        sid = protocol.swarm_id(psk)
        with self._use() as conn:
            clash = conn.execute("SELECT name FROM swarms WHERE id = ? OR name = ?", (sid, name)).fetchone()
            if clash is not None:
                raise SwarmExists(
                    f"swarm {name!r} is already joined"
                    if clash[0] == name
                    else f"this swarm key is already joined as {clash[0]!r}"
                )
            with self._write(conn):
                conn.execute(
                    "INSERT INTO swarms(id, name, psk, port, joined, difficulty) VALUES (?, ?, ?, ?, ?, ?)",
                    (sid, name, psk, port, now, difficulty),
                )
            self._swarm_ids.add(sid)
        self.save_keyring()
        return Swarm(sid.hex(), name, port, now, difficulty, psk)

    def set_swarm_port(self, swarm: bytes, port: int) -> None:
        """Remember the port a swarm's host listens on, so peers find it again after a restart."""
        port = int_arg(port, "port", 0, 65535)
        with self._use() as conn:
            sid = self._swarm_arg(swarm)
            with self._write(conn):
                conn.execute("UPDATE swarms SET port = ? WHERE id = ?", (port, sid))
        self.save_keyring()

    def configure_swarm(self, swarm: bytes, *, quota: int | None = None, flag_threshold: int | None = None) -> Swarm:
        """Change this node's own settings of a joined swarm (never sent); None leaves a setting as it is.

        Args:
            swarm: The swarm's 32-byte id.
            quota: The most wire bytes its objects may take here, at least
                ``MIN_QUOTA``; the next eviction makes room (section 7).
            flag_threshold: How many flags collapse a post seen in it, 1 to
                :data:`MAX_FLAG_THRESHOLD` (section 4).

        Returns:
            The swarm with its settings now.

        Raises:
            InvalidArgument: a setting out of range.
            UnknownSwarm: the swarm is not joined.
        """
        changes = {}
        if quota is not None:
            changes["quota"] = int_arg(quota, "quota", MIN_QUOTA)
        if flag_threshold is not None:
            changes["flag_threshold"] = int_arg(flag_threshold, "flag threshold", 1, MAX_FLAG_THRESHOLD)
        with self._use() as conn:
            sid = self._swarm_arg(swarm)
            with self._write(conn):
                for column, value in changes.items():
                    conn.execute(f"UPDATE swarms SET {column} = ? WHERE id = ?", (value, sid))
            row = conn.execute(f"SELECT {_SWARM_COLUMNS} FROM swarms WHERE id = ?", (sid,)).fetchone()
        return _swarm(row)

    def object_swarms(self, object_id: bytes) -> list[bytes]:
        """The swarms an object was seen in (or published to)."""
        oid = id32_arg(object_id, "object_id")
        with self._use() as conn:
            rows = conn.execute("SELECT swarm FROM object_swarms WHERE id = ?", (oid,)).fetchall()
        return [bytes(r[0]) for r in rows]

    def swarms(self) -> list[Swarm]:
        """Every joined swarm, in the order they were joined."""
        with self._use() as conn:
            rows = conn.execute(f"SELECT {_SWARM_COLUMNS} FROM swarms ORDER BY joined, name").fetchall()
        return [_swarm(r) for r in rows]

    def swarm_by_name(self, name: str) -> Swarm | None:
        """The joined swarm with this name, or None."""
        name = text_arg(name, "swarm name", _STORED_NAME_CHARS)
        with self._use() as conn:
            r = conn.execute(f"SELECT {_SWARM_COLUMNS} FROM swarms WHERE name = ?", (name,)).fetchone()
        return None if r is None else _swarm(r)

    def remove_swarm(self, name: str) -> None:
        """Leave a swarm: forget its key, its peers and which objects were seen in it.

        Objects stay (they may be in other swarms, and a post read is a post
        read); they no longer show in that swarm's feed or sync.

        Raises:
            UnknownSwarm: no swarm has this name.
        """
        name = text_arg(name, "swarm name", _STORED_NAME_CHARS)
        with self._use() as conn:
            row = conn.execute("SELECT id FROM swarms WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UnknownSwarm(f"no joined swarm is called {name!r}")
            with self._write(conn):
                conn.execute("DELETE FROM swarms WHERE id = ?", (row[0],))  # cascades to peers, object_swarms
                self._checkpoint = True  # the key should not linger in the WAL either
            self._swarm_ids.discard(row[0])
        self.save_keyring()

    @staticmethod
    def memberships_to_keep(database: Path) -> tuple[list[Membership], str | None]:
        """The memberships recovery keeps, one per key: the readable rows of ``database`` and its keyring.

        Returns:
            The memberships, and what went wrong reading the keyring (None if nothing).
        """
        found = {m.psk: m for m in salvage_memberships(database)}
        problem = None
        try:
            for m in read_keyring(keyring_path(database)):
                found.setdefault(m.psk, m)
        except StoreError as exc:
            problem = str(exc)
        return list(found.values()), problem

    def restore_memberships(self, members: list[Membership]) -> list[str]:
        """Join each swarm of ``members`` not joined yet (after a recovery); returns the names joined."""
        joined = []
        for m in members:
            try:
                self.add_swarm(m.name, m.psk, m.port, m.joined, m.difficulty)
            except (SwarmExists, InvalidArgument):
                continue
            joined.append(m.name)
        return joined

    def save_keyring(self) -> None:
        """Write the joined swarms' keys to the keyring beside the database (``_keyring``), if it differs."""
        members = [Membership(s.name, s.psk, s.difficulty, s.port, s.joined) for s in self.swarms()]
        path = keyring_path(self.path)
        if members or path.exists():
            write_keyring(path, members)

    def save_peer(self, swarm: bytes, peer_id: str, addrs: Sequence[str], now: int) -> None:
        """Remember a peer that was reachable now (resets its failure count).

        At most 1,000 peers are kept per swarm: the most failing, then least
        recently seen, are dropped.
        """
        peer_id = text_arg(peer_id, "peer id", 128)
        if (
            isinstance(addrs, str)
            or not isinstance(addrs, Sequence)
            or not all(isinstance(a, str) and 0 < len(a) <= 512 for a in addrs)
            or len(addrs) > 64
        ):
            raise InvalidArgument("addrs must be a list of at most 64 multiaddr strings")
        now = int_arg(now, "now")
        with self._use() as conn:
            raw = self._swarm_arg(swarm)
            with self._write(conn):
                conn.execute(
                    """INSERT INTO peers(swarm, peer_id, addrs, last_seen, failures) VALUES (?, ?, ?, ?, 0)
                    ON CONFLICT (swarm, peer_id) DO UPDATE SET
                        addrs = excluded.addrs, last_seen = excluded.last_seen, failures = 0""",
                    (raw, peer_id, json.dumps(list(addrs)), now),
                )
                if conn.execute("SELECT count(*) FROM peers WHERE swarm = ?", (raw,)).fetchone()[0] > (
                    MAX_PEERS_PER_SWARM
                ):
                    conn.execute(
                        """DELETE FROM peers WHERE swarm = ?1 AND peer_id NOT IN (
                            SELECT peer_id FROM peers WHERE swarm = ?1
                            ORDER BY failures, last_seen DESC LIMIT ?2)""",
                        (raw, MAX_PEERS_PER_SWARM),
                    )

    def peers(self, swarm: bytes) -> list[PeerRow]:
        """Known peers of a swarm, best redial candidates first (fewest failures, then most recent)."""
        with self._use() as conn:
            raw = self._swarm_arg(swarm)
            rows = conn.execute(
                """SELECT peer_id, addrs, last_seen, failures FROM peers WHERE swarm = ?
                ORDER BY failures, last_seen DESC, peer_id""",
                (raw,),
            ).fetchall()
        return [PeerRow(p, tuple(json.loads(a)), s, f) for p, a, s, f in rows]

    def note_peer_failure(self, swarm: bytes, peer_id: str) -> int:
        """Count one failed dial of a peer.

        Returns:
            The peer's failure count now (0 if the peer is not known).
        """
        peer_id = text_arg(peer_id, "peer id", 128)
        with self._use() as conn:
            raw = self._swarm_arg(swarm)
            with self._write(conn):
                conn.execute("UPDATE peers SET failures = failures + 1 WHERE swarm = ? AND peer_id = ?", (raw, peer_id))
                row = conn.execute(
                    "SELECT failures FROM peers WHERE swarm = ? AND peer_id = ?", (raw, peer_id)
                ).fetchone()
        return 0 if row is None else int(row[0])
