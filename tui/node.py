"""The TUI's one door to the node: every control-API call goes through here.

Screens ask a :class:`Node` for data and actions and get the API's own types
back (:mod:`p2pnet.api`); nothing else in the TUI touches the socket.  Node
events are posted to the app as :class:`~tui.messages.NodeEvent` messages
carrying the typed event, so widgets never see the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import msgspec

from p2pnet import api
from p2pnet.api import AsyncControlClient, ControlError, Home, NodeNotRunning, sync_summary

from .messages import NodeDisconnected, NodeEvent

__all__ = ["ControlError", "Node", "NodeNotRunning", "sync_summary"]

PAGE = 30  # posts per feed page

R = TypeVar("R")


class Node:
    """A connection to one running node, with one method per API call the TUI uses."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = Path(socket_path)
        self._client: AsyncControlClient | None = None
        self._events: AsyncControlClient | None = None
        self._closing = False

    @property
    def home(self) -> Home:
        return Home(self.socket_path.parent)

    async def connect(self) -> None:
        """Open the call connection (raises NodeNotRunning)."""
        if self._client is None:
            self._client = await AsyncControlClient.connect(self.socket_path)

    async def reconnect(self) -> None:
        """Drop the connections to a node that went away and open the call connection again.

        Raises:
            NodeNotRunning: no node answers yet.
        """
        for client in (self._events, self._client):
            if client is not None:
                await client.close()
        self._client = self._events = None
        self._closing = False
        await self.connect()

    async def close(self) -> None:
        self._closing = True
        for client in (self._events, self._client):
            if client is not None:
                await client.close()
        self._client = self._events = None

    async def _request(self, request: api.Request[R]) -> R:
        if self._client is None:
            await self.connect()
        assert self._client is not None
        if self._client.closed:
            raise ControlError("disconnected", "the node is not answering; the TUI reconnects when it is back")
        return await self._client.request(request)

    async def pump_events(self, post: Callable[[NodeEvent | NodeDisconnected], object]) -> None:
        """Subscribe on a connection of its own and post each event as a NodeEvent until it closes.

        A separate connection keeps a slow reader of events from delaying replies.
        """
        self._events = await AsyncControlClient.connect(self.socket_path)
        try:
            await self._events.request(api.Subscribe())
            async for event in self._events.events():
                post(NodeEvent(event))
        except ControlError:
            pass  # the stream ended; the check below tells who ended it
        if not self._closing:  # the node went away, not us
            post(NodeDisconnected())

    # -- node and identity ----------------------------------------------------------

    async def status(self) -> api.StatusResult:
        return await self._request(api.Status())

    async def create_identity(self, passphrase: str | None) -> api.IdentityCreated:
        """Create the identity; the result holds the 24-word backup phrase (shown once)."""
        return await self._request(api.IdentityCreate(passphrase=passphrase or None))

    async def restore_identity(self, phrase: str, passphrase: str | None) -> api.IdentityRestored:
        """Make the identity of a backup phrase this node's (it must have none yet)."""
        return await self._request(api.IdentityRestore(phrase=phrase, passphrase=passphrase or None))

    async def unlock(self, passphrase: str) -> api.IdentityState:
        return await self._request(api.IdentityUnlock(passphrase=passphrase))

    # -- swarms ------------------------------------------------------------------------

    async def swarms(self) -> list[api.SwarmInfo]:
        return (await self._request(api.SwarmList())).swarms

    async def create_swarm(self, name: str) -> api.SwarmCreated:
        return await self._request(api.SwarmCreate(name=name))

    async def join_swarm(self, invite: str) -> api.SwarmJoined:
        return await self._request(api.SwarmJoin(invite=invite.strip()))

    async def invite(self, name: str) -> api.SwarmInviteResult:
        return await self._request(api.SwarmInvite(name=name))

    async def announce(self, request: api.Announce) -> api.Announced:
        """The address invites name: asked (an empty request), set (``ip``) or back to automatic (``clear``)."""
        return await self._request(request)

    async def leave_swarm(self, name: str) -> api.SwarmLeft:
        return await self._request(api.SwarmLeave(name=name))

    async def peers(self) -> list[api.SwarmPeers]:
        return (await self._request(api.Peers())).swarms

    # -- posts -------------------------------------------------------------------------

    async def feed(
        self, *, popular: bool = False, swarm: str | None = None, cursor: list[int] | None = None
    ) -> api.FeedPage:
        """One page of the feed; its cursor asks for the next (None at the end)."""
        return await self._request(api.Feed(popular=popular, swarm=swarm, cursor=cursor, limit=PAGE))

    async def thread(self, ident: str) -> api.ThreadResult:
        return await self._request(api.Thread(id=ident))

    async def post_item(self, ident: str) -> api.FeedItem | None:
        """The feed item of a root post as it stands now (hearts, replies…), or None if it is gone.

        One ``thread`` call: the API has no call for a post's feed item alone.
        """
        try:
            root = (await self.thread(ident)).root
        except ControlError as exc:
            if exc.code == "not_found":
                return None
            raise
        return msgspec.convert(root, api.FeedItem, from_attributes=True) if root.id == ident else None

    async def search(self, query: str) -> list[api.SearchHit]:
        return (await self._request(api.Search(query=query))).results

    async def post(self, draft: api.Post) -> api.Published:
        return await self._request(draft)

    async def reply(self, ident: str, text: str) -> api.Published:
        return await self._request(api.Reply(id=ident, text=text))

    async def heart(self, ident: str) -> api.Published:
        return await self._request(api.Heart(id=ident))

    async def flag(self, ident: str, reason: str) -> api.Published:
        return await self._request(api.Flag(id=ident, reason=reason))

    async def delete(self, ident: str) -> api.Published:
        return await self._request(api.Delete(id=ident))

    # -- moderation: stays on the node, never sent ------------------------------------

    async def mutes(self) -> api.Mutes:
        return await self._request(api.MuteList())

    async def mute(self, *, word: str | None = None, author: str | None = None, thread: str | None = None) -> api.Mutes:
        return await self._request(api.Mute(word=word, author=author, thread=thread))

    async def unmute(
        self, *, word: str | None = None, author: str | None = None, thread: str | None = None
    ) -> api.Mutes:
        return await self._request(api.Unmute(word=word, author=author, thread=thread))

    # -- private messages: sealed to one key, opened only there ---------------------

    async def dm(self, ident: str, text: str) -> api.DmSent:
        """Write to the author of a post or reply, or in a conversation (``ident`` names either)."""
        return await self._request(api.Dm(id=ident, text=text))

    async def inbox(self) -> api.InboxResult:
        return await self._request(api.Inbox())

    async def conversation(self, ident: str) -> api.ConversationResult:
        """A conversation and its messages; reading it clears its unread count."""
        return await self._request(api.Conversation(id=ident))

    async def block(self, ident: str, blocked: bool) -> api.ConversationInfo:
        return await self._request(api.ConversationBlock(id=ident, blocked=blocked))

    async def activity(self) -> api.ActivityResult:
        """Replies to me and in my threads, hearts on mine, unread messages: worked out by the node, nothing sent."""
        return await self._request(api.Activity())
