"""The TUI's one door to the node: every control-API call goes through here.

Screens ask a :class:`Node` for data and actions; nothing else in the TUI
touches the socket.  Node events are turned into :class:`~tui.messages.NodeEvent`
messages posted to the app, so widgets never see the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from p2pnet.api import AsyncControlClient, ControlError, NodeNotRunning, sync_summary

from .messages import NodeDisconnected, NodeEvent

__all__ = ["ControlError", "Node", "NodeNotRunning", "sync_summary"]

PAGE = 30  # posts per feed page


class Node:
    """A connection to one running node, with one method per API call the TUI uses."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = Path(socket_path)
        self._client: AsyncControlClient | None = None
        self._events: AsyncControlClient | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def connect(self) -> None:
        """Open the call connection (raises NodeNotRunning)."""
        if self._client is None:
            self._client = await AsyncControlClient.connect(self.socket_path)

    async def close(self) -> None:
        self._closing = True
        for client in (self._events, self._client):
            if client is not None:
                await client.close()
        self._client = self._events = None

    async def _call(self, method: str, **params: Any) -> Any:
        if self._client is None:
            await self.connect()
        assert self._client is not None
        return await self._client.call(method, **{k: v for k, v in params.items() if v is not None})

    async def pump_events(self, post: Callable[[Any], object]) -> None:
        """Subscribe on a connection of its own and post each event as a NodeEvent until it closes.

        A separate connection keeps a slow reader of events from delaying replies.
        """
        self._events = await AsyncControlClient.connect(self.socket_path)
        try:
            await self._events.call("subscribe")
            async for event in self._events.events():
                post(NodeEvent(event.event, msgspec.to_builtins(event)))
        except ControlError:
            pass  # the stream ended; the check below tells who ended it
        if not self._closing:  # the node went away, not us
            post(NodeDisconnected())

    # -- node and identity ----------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        return await self._call("status")  # type: ignore[no-any-return]

    async def create_identity(self, passphrase: str | None) -> str:
        """Create the identity; returns the 24-word backup phrase (shown once)."""
        result = await self._call("identity.create", passphrase=passphrase or None)
        return str(result["phrase"])

    async def unlock(self, passphrase: str) -> None:
        await self._call("identity.unlock", passphrase=passphrase)

    # -- swarms ------------------------------------------------------------------------

    async def swarms(self) -> list[dict[str, Any]]:
        return list((await self._call("swarm.list"))["swarms"])

    async def create_swarm(self, name: str) -> dict[str, Any]:
        return await self._call("swarm.create", name=name)  # type: ignore[no-any-return]

    async def join_swarm(self, invite: str) -> dict[str, Any]:
        return await self._call("swarm.join", invite=invite.strip())  # type: ignore[no-any-return]

    async def invite(self, name: str) -> str:
        return str((await self._call("swarm.invite", name=name))["invite"])

    async def leave_swarm(self, name: str) -> None:
        await self._call("swarm.leave", name=name)

    async def peers(self) -> list[dict[str, Any]]:
        return list((await self._call("peers"))["swarms"])

    # -- posts -------------------------------------------------------------------------

    async def feed(
        self, *, popular: bool = False, swarm: str | None = None, cursor: Any = None, limit: int = PAGE
    ) -> tuple[list[dict[str, Any]], Any]:
        """One page of the feed and the cursor of the next (None at the end)."""
        result = await self._call("feed", popular=popular or None, swarm=swarm, cursor=cursor, limit=limit)
        # docs/control-api.md names them posts/cursor; the store's own names are items/next.
        posts = result.get("posts", result.get("items", []))
        return list(posts), result.get("cursor", result.get("next"))

    async def thread(self, ident: str) -> dict[str, Any]:
        return await self._call("thread", id=ident)  # type: ignore[no-any-return]

    async def item(self, ident: str) -> dict[str, Any] | None:
        """The current feed item of a post or reply (hearts, replies…), or None if unknown."""
        try:
            thread = await self.thread(ident)
        except ControlError as exc:
            if exc.code == "not_found":
                return None
            raise
        for item in [thread["root"], *thread["replies"]]:
            if item["id"] == ident:
                return dict(item)
        return None

    async def search(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        return list((await self._call("search", query=query, limit=limit))["results"])

    async def post(
        self, text: str, *, bg: str, swarm: str | None = None, name: str | None = None, expires: int | None = None
    ) -> dict[str, Any]:
        return await self._call(  # type: ignore[no-any-return]
            "post", text=text, bg=bg, swarm=swarm, name=name or None, expires=expires
        )

    async def reply(self, ident: str, text: str) -> dict[str, Any]:
        return await self._call("reply", id=ident, text=text)  # type: ignore[no-any-return]

    async def heart(self, ident: str) -> dict[str, Any]:
        return await self._call("heart", id=ident)  # type: ignore[no-any-return]

    async def flag(self, ident: str, reason: str) -> dict[str, Any]:
        return await self._call("flag", id=ident, reason=reason)  # type: ignore[no-any-return]

    async def delete(self, ident: str) -> dict[str, Any]:
        return await self._call("delete", id=ident)  # type: ignore[no-any-return]
