"""One thread: the post, its replies with per-thread icons (♛ = original poster), and a reply box."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from p2pnet import api

from ..format import icon_parts
from ..messages import DeleteRequested, FlagRequested, HeartRequested, ReadAgain, ScreenNodeEvent
from ..node import ControlError
from ..widgets import AppFooter, AppHeader, PostCard, ReplyRow
from ..widgets.cards import _ItemWidget
from ._base import ItemActions, drafts_of

REPLY_PLACEHOLDER = "write a reply — Enter sends"

__all__ = ["ThreadScreen"]


class ThreadScreen(ItemActions):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("r", "focus_reply", "Reply"),
        Binding("down,j", "move(1)", "Next", show=False),
        Binding("up,k", "move(-1)", "Previous", show=False),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self, post_id: str) -> None:
        super().__init__()
        self.post_id = post_id
        self.root_id: str | None = None
        self.ids: set[str] = set()
        self.revealed: set[str] = set()  # items collapsed by flags that the user opened
        self.reply_to: str | None = None  # the reply the reply box answers; None: the post
        # The item last selected, kept apart from the focus: a reload replaces the widgets, and keys
        # pressed meanwhile must still move the selection and act on it.
        self.selected_id: str | None = None

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield VerticalScroll(id="thread")
        with Horizontal(id="reply-bar"):
            yield Input(placeholder=REPLY_PLACEHOLDER, max_length=1000, id="reply-input")
            yield Button("♥", id="btn-heart", tooltip="heart the selected post (h)")
            yield Button("⚑", id="btn-flag", tooltip="flag the selected post (f)")
            yield Button("✕", id="btn-delete", tooltip="delete your selected post (d)")
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = "thread"
        self.load(focus=True)

    @work(exclusive=True, group="thread")
    async def load(self, focus: bool = False) -> None:
        box = self.query_one("#thread", VerticalScroll)
        if focus:
            box.loading = True
        try:
            thread = await self.node.thread(self.post_id)
        except ControlError as exc:
            box.loading = False
            if exc.code == "not_found" and self.root_id is not None:
                self.notify("this thread was deleted", severity="warning")
                self.dismiss()
                return
            await box.remove_children()
            await box.mount(Static(f"Could not open this thread: {exc.message}", classes="empty"))
            return
        box.loading = False
        scroll_y = box.scroll_y
        root, replies = thread.root, thread.replies
        if self.root_id is None:  # first read: the reply left unsent here last time comes back
            self.query_one("#reply-input", Input).value = drafts_of(self).replies.get(root.id, "")
        self.root_id = root.id
        self.ids = {root.id, *(r.id for r in replies)}
        if thread.hidden:
            self.sub_title = "thread (hidden: M to show it again)"
        widgets: list[Widget] = [PostCard(root, id="root", revealed=root.id in self.revealed)]
        widgets.append(Static(self._participants(root, replies), id="thread-info"))
        shown = {reply.id: reply for reply in replies}
        widgets += [
            ReplyRow(
                reply,
                to_reply=reply.parent not in (None, root.id),
                parent=shown.get(reply.parent or ""),
                revealed=reply.id in self.revealed,
            )
            for reply in replies
        ]
        if not replies:
            widgets.append(Static("No replies yet. Press r to answer.", classes="empty"))
        async with box.batch():
            await box.remove_children()
            await box.mount_all(widgets)
        box.scroll_to(y=scroll_y, animate=False)
        target = self.post_id if focus and self.selected_id is None else self.selected_id
        items = list(box.query(_ItemWidget))
        for widget in items:
            if widget.post_id == target:
                widget.focus(scroll_visible=focus)
                break
        else:
            if target is not None and items:  # the focused item is gone (muted, deleted): keep the keys working
                items[0].focus(scroll_visible=False)

    def _participants(self, root: api.ThreadRoot, replies: list[api.ThreadItem]) -> Text:
        n = len(replies)
        text = Text(f" {n} repl{'y' if n == 1 else 'ies'} · ", style="dim")
        seen: list[tuple[str, str, bool]] = []
        for item in [root, *replies]:
            glyph, colour = icon_parts(item.icon)
            key = (glyph, colour, item.is_author)
            if key not in seen:
                seen.append(key)
        for glyph, colour, author in seen:
            text.append(glyph, style=f"bold {colour}")
            if author:
                text.append("♛", style="bold #fde047")
            text.append(" ")
        return text

    def on_read_again(self, message: ReadAgain) -> None:
        self.load()

    def on_screen_node_event(self, message: ScreenNodeEvent) -> None:
        # Read the thread again: an event carries the root's feed item, not the
        # replies, their hearts and flags, or the per-thread icons this screen shows.
        event = message.event
        if not isinstance(event, api.ObjectEvent):
            return
        related = {event.root, event.target, event.id}
        if related & (self.ids | {self.root_id, self.post_id}):
            self.load()

    @on(_ItemWidget.Revealed)
    def _revealed(self, message: _ItemWidget.Revealed) -> None:
        self.revealed.add(message.post_id)

    def muted(self, *, hid_thread: bool) -> None:
        super().muted(hid_thread=hid_thread)
        if hid_thread:
            self.dismiss()
        else:
            self.load()

    # -- actions ------------------------------------------------------------------------

    def _items(self) -> list[_ItemWidget]:
        return list(self.query_one("#thread", VerticalScroll).query(_ItemWidget))

    def _selected(self) -> _ItemWidget | None:
        items = self._items()
        return next((item for item in items if item.post_id == self.selected_id), items[0] if items else None)

    def action_move(self, delta: int) -> None:
        items = self._items()
        if not items:
            return
        ids = [item.post_id for item in items]
        index = ids.index(self.selected_id) if self.selected_id in ids else -1
        items[max(0, min(len(items) - 1, index + delta if index >= 0 else 0))].focus()

    def save_draft(self) -> None:
        if self.root_id is not None:
            drafts_of(self).keep_reply(self.root_id, self.query_one("#reply-input", Input).value)

    def action_back(self) -> None:
        self.save_draft()
        self.dismiss()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, _ItemWidget):
            self.selected_id = event.widget.post_id

    def action_focus_reply(self) -> None:
        # r on a reply answers that reply (the thread then shows what it answers); on the post, the post.
        box = self.query_one("#reply-input", Input)
        selected = next((row for row in self.query(ReplyRow) if row.post_id == self.selected_id), None)
        self.reply_to = selected.post_id if selected is not None else None
        if selected is not None:
            glyph, _ = icon_parts(selected.item.icon)
            box.placeholder = f"reply to {glyph} “{api.preview(selected.item.text, 24)}” — Enter sends"
        else:
            box.placeholder = REPLY_PLACEHOLDER
        box.focus()

    @on(Button.Pressed, "#btn-heart")
    def _heart(self) -> None:
        if (item := self._selected()) is not None:
            self.post_message(HeartRequested(item.post_id))

    @on(Button.Pressed, "#btn-flag")
    def _flag(self) -> None:
        if (item := self._selected()) is not None:
            self.post_message(FlagRequested(item.post_id))

    @on(Button.Pressed, "#btn-delete")
    def _delete(self) -> None:
        item = self._selected()
        if item is not None:
            if item.item.mine:
                self.post_message(DeleteRequested(item.post_id))
            else:
                self.notify("only your own posts can be deleted", severity="warning")

    @on(Input.Submitted, "#reply-input")
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self.send_reply(text)

    @work(exclusive=True, group="reply")
    async def send_reply(self, text: str) -> None:
        box = self.query_one("#reply-input", Input)
        box.disabled = True
        try:
            parent = self.root_id or self.post_id
            result = await self.node.reply(self.reply_to or parent, text)
        except ControlError as exc:
            self.show_error(exc, "reply not sent")
            return
        finally:
            box.disabled = False
        box.value = ""
        self.reply_to, box.placeholder = None, REPLY_PLACEHOLDER
        drafts_of(self).keep_reply(parent, "")
        box.focus()
        self.notify(f"replied · id {result.id[:12]}", timeout=3)
        self.load()
