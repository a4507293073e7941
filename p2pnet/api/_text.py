"""Sentences for people from API results, shared by the CLI and the TUI."""

from __future__ import annotations

from ._contract import FeedItem, SwarmPeers, SwarmStatus, SyncStatus, ThreadItem
from ._home import Home
from ._local import Mutes

__all__ = [
    "flagged_notice",
    "locked_note",
    "mutes_text",
    "path_text",
    "paths_text",
    "preview",
    "reach_lines",
    "reach_text",
    "size_text",
    "sync_summary",
    "upnp_text",
]


_REACH = {"public": "reachable from outside", "behind_nat": "behind NAT", "unknown": "reachability not known yet"}


def reach_text(swarm: SwarmStatus) -> str:
    """Whether peers could dial this node in ``swarm``, and its public members: ``behind NAT, 1 public member``."""
    said = _REACH.get(swarm.reachability, swarm.reachability)
    if swarm.public_peers:
        said += f", {swarm.public_peers} public member{'s' if swarm.public_peers > 1 else ''} connected"
    return said


_UPNP = {
    "off": "off",
    "searching": "asking the router",
    "no_gateway": "no router answers",
    "refused": "the router refused to forward the port",
    "double_nat": "the router is behind another NAT",
}


def upnp_text(swarm: SwarmStatus) -> str:
    """The port mapping asked of the router: ``the router forwards 203.0.113.10:4001 here``."""
    if swarm.upnp == "mapped":
        return f"the router forwards {swarm.upnp_addr} here" + (f" ({swarm.upnp_via})" if swarm.upnp_via else "")
    return _UPNP.get(swarm.upnp, swarm.upnp)


_PATHS = {"direct": "direct", "hole_punched": "hole-punched", "relayed": "relayed"}


def paths_text(swarm: SwarmStatus) -> str:
    """How this node's peers are connected and what it relays: ``2 direct, 1 relayed; 1 relay address``."""
    counts = [f"{n} {said}" for path, said in _PATHS.items() if (n := sum(p == path for p in swarm.paths.values()))]
    parts = [", ".join(counts) or "no peers"]
    if swarm.relay_addrs:
        parts.append(f"{len(swarm.relay_addrs)} relay address{'es' if len(swarm.relay_addrs) > 1 else ''}")
    if swarm.relaying:
        parts.append(f"relaying {swarm.relaying} circuit{'s' if swarm.relaying > 1 else ''}")
    return "; ".join(parts)


def path_text(swarm: SwarmPeers, peer: str) -> str:
    """One connected peer's path for people: ``hole-punched``; "" when the node did not say."""
    path = swarm.paths.get(peer)
    return _PATHS.get(path, path) if path else ""


def reach_lines(swarm: SwarmStatus) -> list[str]:
    """What stands under a swarm's reach line, in the CLI's status and the TUI's peers screen."""
    lines = [swarm.reach_note] if swarm.reach_note else []
    return [*lines, f"upnp: {upnp_text(swarm)}", f"paths: {paths_text(swarm)}"]


def size_text(n: int) -> str:
    """Bytes for people: '12.3 MiB'."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def flagged_notice(item: FeedItem | ThreadItem) -> str:
    """What stands in for the text of a post or reply collapsed by flags."""
    return f"⚑ collapsed: flagged {item.flags} time{'s' if item.flags != 1 else ''} in this swarm"


def mutes_text(muted: Mutes) -> str:
    """Everything muted, a line each."""
    lines = [f"muted word: {word}" for word in muted.words]
    lines += [f"muted writer {a.key[:12]} in thread [{a.thread[:12]}]" for a in muted.authors]
    lines += [f"hidden thread [{t.id[:12]}] {t.text or '(no longer here)'}" for t in muted.threads]
    return "\n".join(lines) or "nothing muted"


def preview(text: str, chars: int = 40) -> str:
    """The first ``chars`` characters of a text on one line, with "…" when cut: what "replying to" quotes."""
    words = " ".join(text.split())
    return words if len(words) <= chars else words[:chars].rstrip() + "…"


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
