"""Sentences for people from API results, shared by the CLI and the TUI."""

from __future__ import annotations

from ._contract import SyncStatus
from ._home import Home

__all__ = ["locked_note", "sync_summary"]


def sync_summary(sync: SyncStatus | None, now: float) -> str:
    """One line of sync progress from a swarm's ``status`` ``sync`` field."""
    if sync is None:
        return "not running"
    if sync.state == "syncing":
        peers = len(sync.peers)
        head = f"syncing with {peers} peer{'s' if peers != 1 else ''}: {sync.received:,}"
        head += f" of ~{sync.expected:,} objects"
    elif sync.last_session is None:
        head = "idle, no session yet"
    else:
        head = f"idle, last session {max(0, int(now) - sync.last_session)}s ago"
    parts = [
        head,
        f"{sync.sessions_ok} ok / {sync.sessions_failed} failed",
        f"{sync.fetched:,} fetched, {sync.sent:,} sent",
    ]
    if sync.last is not None:
        parts.append(f"last: {sync.last.round_trips} round trips, {sync.last.bytes_in + sync.last.bytes_out:,} bytes")
    return " · ".join(parts)


def locked_note(home: Home) -> str:
    """What a locked identity means and the command that ends it, for every front-end to say."""
    return (
        "the identity is locked with a passphrase: no swarm runs and nothing syncs until you unlock it with: "
        + home.command("unlock")
    )
