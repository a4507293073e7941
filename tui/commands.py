"""Command palette entries (ctrl+p) for the main actions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .app import P2PApp

__all__ = ["COMMANDS", "P2PCommands"]

# (name, help, app action)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Write a post", "compose a new post (c)", "compose"),
    ("Search posts", "keyword search over this node's posts (/)", "search"),
    ("Latest posts", "the newest posts first (l)", "feed('latest')"),
    ("Popular posts", "the most loved posts first (p)", "feed('popular')"),
    ("Swarms", "list, create, join, invite, leave (s)", "swarms"),
    ("Create a swarm", "start a circle and get its invite key (s, then c)", "swarms('create-name')"),
    ("Join a swarm", "paste the invite key a friend gave you (s, then j)", "swarms('join-invite')"),
    ("Peers and node status", "connected peers per swarm, node health (i)", "peers"),
    ("Mute a word", "hide posts with a word or phrase, on this node only (M)", "mutes"),
    ("Muted words, writers and threads", "see and undo what you muted (M)", "mutes"),
    ("Private messages", "your conversations, the latest first (I); P on a post writes to its writer", "inbox"),
    ("Activity", "replies to you and in your threads, hearts on yours, unread messages (A)", "activity"),
    ("Help: keys", "every key on one screen (?)", "help"),
    ("Quit p2pnet", "the node keeps running in the background", "quit"),
)


class P2PCommands(Provider):
    """p2pnet's actions by name."""

    def _runner(self, action: str) -> Callable[[], object]:
        app = cast("P2PApp", self.app)
        return partial(app.run_action, action)

    async def discover(self) -> Hits:
        for name, help_text, action in COMMANDS:
            yield DiscoveryHit(name, self._runner(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, action in COMMANDS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), self._runner(action), help=help_text)
