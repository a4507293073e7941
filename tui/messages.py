"""Typed messages: how widgets and the node's event stream talk to screens."""

from __future__ import annotations

from textual.message import Message

from p2pnet import api

__all__ = [
    "DeleteRequested",
    "FlagRequested",
    "HeartRequested",
    "HideRequested",
    "ItemMessage",
    "MessageAuthor",
    "MuteRequested",
    "NodeDisconnected",
    "NodeEvent",
    "OpenThread",
    "ReadAgain",
    "ScreenNodeEvent",
]


class NodeEvent(Message):
    """An event from the node (docs/control-api.md, Events), posted to the app."""

    def __init__(self, event: api.Event) -> None:
        super().__init__()
        self.event = event


class ScreenNodeEvent(NodeEvent):
    """A node event handed by the app to one screen; does not bubble back up."""

    bubble = False


class NodeDisconnected(Message):
    """The node closed the event connection (it stopped or crashed)."""


class ReadAgain(Message):
    """Events were missed (lagged, or the node was away): read again what the screen shows."""

    bubble = False


class ItemMessage(Message):
    """The user wants something done with one post or reply."""

    def __init__(self, post_id: str) -> None:
        super().__init__()
        self.post_id = post_id


class OpenThread(ItemMessage):
    """The user wants to read the thread of a post or reply."""


class HeartRequested(ItemMessage):
    """Heart this post or reply."""


class FlagRequested(ItemMessage):
    """Flag this post or reply (a dialog asks why)."""


class DeleteRequested(ItemMessage):
    """Delete this post or reply of the user's (after a confirmation)."""


class MuteRequested(ItemMessage):
    """Mute the writer of this post or reply, in its thread."""


class HideRequested(ItemMessage):
    """Hide the whole thread of this post or reply."""


class MessageAuthor(ItemMessage):
    """Write privately to the writer of this post or reply."""
