"""Typed messages: how widgets and the node's event stream talk to screens."""

from __future__ import annotations

from textual.message import Message

from p2pnet import api

__all__ = [
    "DeleteRequested",
    "FlagRequested",
    "HeartRequested",
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


class OpenThread(Message):
    """The user wants to read the thread of a post or reply."""

    def __init__(self, post_id: str) -> None:
        super().__init__()
        self.post_id = post_id


class HeartRequested(Message):
    def __init__(self, post_id: str) -> None:
        super().__init__()
        self.post_id = post_id


class FlagRequested(Message):
    def __init__(self, post_id: str) -> None:
        super().__init__()
        self.post_id = post_id


class DeleteRequested(Message):
    def __init__(self, post_id: str) -> None:
        super().__init__()
        self.post_id = post_id
