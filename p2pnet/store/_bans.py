"""Bans of misbehaving peers and addresses, kept across restarts (docs/storage.md, section 5)."""

from __future__ import annotations

from dataclasses import dataclass

from ._args import int_arg, text_arg
from ._db import Database
from ._errors import InvalidArgument

__all__ = ["BanRow", "Bans"]


@dataclass(frozen=True)
class BanRow:
    """A stored ban: of ``peer_id`` (``ip`` is where it came from, if known), or of ``ip`` alone."""

    peer_id: str | None
    ip: str | None
    until: int
    reason: str


class Bans(Database):
    """The ``bans`` table: the node writes each new ban and reads those in force at start."""

    def save_ban(self, ban: BanRow) -> None:
        """Store a ban, replacing an earlier one of the same peer id (or address)."""
        if ban.peer_id is None and ban.ip is None:
            raise InvalidArgument("a ban names a peer id or an address")
        peer_id = None if ban.peer_id is None else text_arg(ban.peer_id, "peer id", 128)
        ip = None if ban.ip is None else text_arg(ban.ip, "address", 64)
        until = int_arg(ban.until, "until")
        reason = text_arg(ban.reason, "reason", 200)
        with self._use() as conn, self._write(conn):
            if peer_id is not None:
                conn.execute("DELETE FROM bans WHERE peer_id = ?", (peer_id,))
            else:
                conn.execute("DELETE FROM bans WHERE peer_id IS NULL AND ip = ?", (ip,))
            conn.execute(
                "INSERT INTO bans(peer_id, ip, until, reason) VALUES (?, ?, ?, ?)", (peer_id, ip, until, reason)
            )

    def bans(self, now: int) -> list[BanRow]:
        """Bans in force at ``now``, soonest to end first; ended ones are deleted."""
        now = int_arg(now, "now")
        with self._use() as conn:
            with self._write(conn):
                conn.execute("DELETE FROM bans WHERE until <= ?", (now,))
            rows = conn.execute("SELECT peer_id, ip, until, reason FROM bans ORDER BY until, peer_id, ip").fetchall()
        return [BanRow(p, i, u, r) for p, i, u, r in rows]
