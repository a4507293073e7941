"""What every screen shares: access to the node, error display, item actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.screen import Screen

from ..drafts import Drafts
from ..messages import (
    DeleteRequested,
    FlagRequested,
    HeartRequested,
    HideRequested,
    MessageAuthor,
    MuteRequested,
    OpenThread,
)
from ..node import ControlError, Node

if TYPE_CHECKING:
    from ..app import P2PApp

__all__ = ["ItemActions", "drafts_of", "node_of"]


def node_of(screen: Screen[Any]) -> Node:
    return cast("P2PApp", screen.app).node


def drafts_of(screen: Screen[Any]) -> Drafts:
    return cast("P2PApp", screen.app).drafts


class ItemActions(Screen[Any]):
    """Heart, flag, delete, mute, hide, open and message the writer, for screens that show posts or replies."""

    @property
    def node(self) -> Node:
        return node_of(self)

    def show_error(self, exc: ControlError, title: str) -> None:
        self.notify(exc.message, title=title, severity="error", timeout=8)

    @on(OpenThread)
    def _open_thread(self, message: OpenThread) -> None:
        message.stop()
        from .thread import ThreadScreen

        self.app.push_screen(ThreadScreen(message.post_id))

    @on(MessageAuthor)
    def _message_author(self, message: MessageAuthor) -> None:
        message.stop()
        from .conversation import MessageScreen

        self.app.push_screen(MessageScreen(message.post_id))

    @on(HeartRequested)
    def _heart_requested(self, message: HeartRequested) -> None:
        message.stop()
        self.give_heart(message.post_id)

    @work(group="actions")
    async def give_heart(self, post_id: str) -> None:
        try:
            await self.node.heart(post_id)
        except ControlError as exc:
            self.show_error(exc, "could not heart")
        else:
            self.notify("♥ hearted — it travels on to your other swarms", timeout=3)

    @on(FlagRequested)
    def _flag_requested(self, message: FlagRequested) -> None:
        message.stop()
        from .dialogs import FlagDialog

        def flagged(reason: str | None) -> None:
            if reason:
                self.give_flag(message.post_id, reason)

        self.app.push_screen(FlagDialog(), flagged)

    @work(group="actions")
    async def give_flag(self, post_id: str, reason: str) -> None:
        try:
            await self.node.flag(post_id, reason)
        except ControlError as exc:
            self.show_error(exc, "could not flag")
        else:
            self.notify(f"flagged as {reason}", timeout=3)

    @on(MuteRequested)
    def _mute_requested(self, message: MuteRequested) -> None:
        message.stop()
        self.moderate(author=message.post_id)

    @on(HideRequested)
    def _hide_requested(self, message: HideRequested) -> None:
        message.stop()
        self.moderate(thread=message.post_id)

    @work(group="actions")
    async def moderate(self, *, author: str | None = None, thread: str | None = None) -> None:
        """Mute a writer in their thread, or hide a thread: on this node only, never sent."""
        try:
            await self.node.mute(author=author, thread=thread)
        except ControlError as exc:
            self.show_error(exc, "could not mute")
            return
        said = "writer muted in this thread" if author else "thread hidden"
        self.notify(f"{said}, on this node only · M lists what you muted", timeout=4)
        self.muted(hid_thread=thread is not None)

    def muted(self, *, hid_thread: bool) -> None:
        """What the screen shows changed: a mute or hide was just made (the feed reads itself again)."""
        feed = getattr(self.app, "feed_screen", None)
        if feed is not None and feed is not self:
            feed.reload()

    @on(DeleteRequested)
    def _delete_requested(self, message: DeleteRequested) -> None:
        message.stop()
        from .dialogs import ConfirmDialog

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.do_delete(message.post_id)

        self.app.push_screen(
            ConfirmDialog("Delete this post for everyone?", "Peers erase it when the deletion reaches them.", "Delete"),
            confirmed,
        )

    @work(group="actions")
    async def do_delete(self, post_id: str) -> None:
        try:
            await self.node.delete(post_id)
        except ControlError as exc:
            self.show_error(exc, "could not delete")
        else:
            self.notify("deleted", timeout=3)
