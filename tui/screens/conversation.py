"""Private messages: write to the person behind a post, and read and answer one conversation.

A message is sealed to one key and opened only by its holder
(docs/protocol.md, section 14); the conversation's two sides never learn
each other's other posts.  What is typed and not sent is kept as a draft
(tui/drafts.py) by what it goes to: the post written about, or the
conversation.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static, TextArea

import protocol
from p2pnet import api
from p2pnet.api import preview

from ..format import age
from ..messages import ReadAgain, ScreenNodeEvent
from ..node import ControlError, Node
from ..widgets import AppFooter, AppHeader
from ..widgets.cards import now_of
from ._base import ItemActions, drafts_of, node_of

__all__ = ["ConversationScreen", "MessageScreen"]

TEXT_HINT = "ctrl+s sends · esc keeps it as a draft"


def _check(text: str) -> str | None:
    """Why this text cannot be sent, or None."""
    if not text.strip():
        return "write something first"
    if len(text) > protocol.MAX_TEXT_CHARS:
        return f"at most {protocol.MAX_TEXT_CHARS} characters"
    return None


def _refusal(exc: ControlError) -> str:
    """The node's refusal, said for a private message."""
    if exc.code == "blocked":
        return "you blocked this conversation: ctrl+b unblocks it, then you can write"
    return exc.message


class _Box:
    """The box a private message is written in: checks and sends it, and shows the node's refusals below it."""

    def __init__(self, screen: Screen[Any], status_id: str) -> None:
        self.screen = screen
        self.status_id = status_id
        self.sending = False

    def status(self, text: str, error: bool = False) -> None:
        status = self.screen.query_one(self.status_id, Static)
        status.update(text)
        status.set_class(error, "-error")

    def ready(self) -> str | None:
        """The text to send now; None (and why, below the box) if there is none or it is being sent."""
        text = self.screen.query_one(TextArea).text
        if (why := _check(text)) is not None:
            self.status(why, error=True)
            return None
        return None if self.sending else text.strip()

    async def seal(self, to: str, text: str) -> api.DmSent | None:
        """Send ``text`` to ``to``; None if the node refused (it says why), else the draft kept for ``to`` is gone."""
        self.sending = True
        self.status("sealing it and handing it to your peers…")
        try:
            sent = await node_of(self.screen).dm(to, text)
        except ControlError as exc:
            self.status(_refusal(exc), error=True)
            self.screen.notify(_refusal(exc), title="not sent", severity="error", timeout=8)
            return None
        finally:
            self.sending = False
        drafts_of(self.screen).keep_message(to, "")
        return sent


class MessageScreen(ModalScreen[str | None]):
    """Write privately to the writer of one post or reply; returns the conversation's id once sent.

    The writer learns nothing else about you: the message comes from a key
    made for this conversation only.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close, keep the draft"),
        Binding("ctrl+s", "send", "Send"),
    ]

    def __init__(self, to: str) -> None:
        super().__init__()
        self.to = to  # the post or reply written about
        self.box = _Box(self, "#dm-status")

    @property
    def node(self) -> Node:
        return node_of(self)

    def compose(self) -> ComposeResult:
        with Vertical(id="dm-box"):
            yield Label("Private message to the writer of this post", id="dm-title")
            yield Static("", id="dm-about")
            yield TextArea(id="dm-text", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
            yield Static(
                "Only they can open it; it comes from a key made for this conversation, "
                "so they learn nothing else about you. " + TEXT_HINT,
                id="dm-status",
                classes="dialog-detail",
            )

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.text = drafts_of(self).messages.get(self.to, "")
        area.move_cursor(area.document.end)
        area.focus()
        self.load_about()

    @work(group="dm-about")
    async def load_about(self) -> None:
        self.query_one("#dm-about", Static).update(await about_text(self.node, self.to))

    def save_draft(self) -> None:
        drafts_of(self).keep_message(self.to, self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        if self.box.sending:
            return
        self.save_draft()
        if self.to in drafts_of(self).messages:
            self.app.notify("message kept as a draft: P on the post opens it again", timeout=4)
        self.dismiss(None)

    def action_send(self) -> None:
        if (text := self.box.ready()) is not None:
            self.send(text)

    @work(exclusive=True, group="dm-send")
    async def send(self, text: str) -> None:
        sent = await self.box.seal(self.to, text)
        if sent is None:
            return
        self.app.notify("sent privately · I lists your conversations", title="sent", timeout=4)
        self.dismiss(sent.conversation)
        self.app.push_screen(ConversationScreen(sent.conversation))


async def about_text(node: Node, ident: str) -> Text:
    """The post or reply a conversation started from, in a line; it may be gone here."""
    try:
        thread = await node.thread(ident)
    except ControlError:
        return Text(f"about a post no longer here (id {ident[:12]})", style="dim italic")
    for item in [thread.root, *thread.replies]:
        if item.id == ident:
            return Text.assemble(("about: ", "dim"), (f"“{preview(item.text)}”", "italic"))
    return Text(f"about a post no longer here (id {ident[:12]})", style="dim italic")


class ConversationScreen(ItemActions):
    """One conversation: its messages, oldest first, the post it started from, and a box to answer in."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+s", "send", "Send"),
        Binding("ctrl+o", "open_post", "Its post"),
        Binding("ctrl+b", "block", "Block / unblock"),
    ]

    def __init__(self, conversation: str) -> None:
        super().__init__()
        self.conversation = conversation
        self.info: api.ConversationInfo | None = None
        self.lines: list[api.DmLine] = []
        self.box = _Box(self, "#conversation-status")

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static("", id="conversation-about")
        yield VerticalScroll(id="conversation-lines")
        yield TextArea(
            id="conversation-text",
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder="write to them privately — ctrl+s sends",
        )
        yield Static(TEXT_HINT, id="conversation-status")
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = "private conversation"
        area = self.query_one(TextArea)
        area.text = drafts_of(self).messages.get(self.conversation, "")
        area.move_cursor(area.document.end)
        area.focus()
        self.load()

    @work(exclusive=True, group="conversation")
    async def load(self) -> None:
        try:
            result = await self.node.conversation(self.conversation)
        except ControlError as exc:
            self.box.status(f"could not open this conversation: {exc.message}", error=True)
            return
        first = self.info is None
        self.info, self.lines = result.conversation, result.messages
        if first:
            about = await about_text(self.node, self.info.about)
            who = "You wrote first, to the writer of a post · " if self.info.started else "Written to your post · "
            self.query_one("#conversation-about", Static).update(Text(who, style="bold") + about)
        self._show_blocked()
        box = self.query_one("#conversation-lines", VerticalScroll)
        now = now_of(self)
        widgets = [
            Static(
                Text.assemble(
                    ("you" if line.mine else "them", "bold #7dd3fc" if line.mine else "bold #fde047"),
                    (f" · {age(line.seen, now)}\n", "dim"),
                    line.text,
                ),
                classes="dm-line -mine" if line.mine else "dm-line",
            )
            for line in self.lines
        ]
        async with box.batch():
            await box.remove_children()
            await box.mount_all(widgets or [Static("No messages here yet.", classes="empty")])
        box.scroll_end(animate=False)

    def _show_blocked(self) -> None:
        if self.info is not None and self.info.blocked:
            self.sub_title = "private conversation · blocked (ctrl+b unblocks)"
        else:
            self.sub_title = "private conversation"

    def on_screen_node_event(self, message: ScreenNodeEvent) -> None:
        if isinstance(message.event, api.DmEvent) and message.event.conversation == self.conversation:
            self.load()  # read here at once: it is not unread

    def on_read_again(self, message: ReadAgain) -> None:
        self.load()

    def save_draft(self) -> None:
        drafts_of(self).keep_message(self.conversation, self.query_one(TextArea).text)

    def action_back(self) -> None:
        self.save_draft()
        self.dismiss()

    def action_send(self) -> None:
        if (text := self.box.ready()) is not None:
            self.send(text)

    @work(exclusive=True, group="conversation-send")
    async def send(self, text: str) -> None:
        if await self.box.seal(self.conversation, text) is None:
            return
        self.query_one(TextArea).text = ""
        self.box.status("sent privately · " + TEXT_HINT)
        self.load()

    def action_open_post(self) -> None:
        if self.info is not None:
            from .thread import ThreadScreen

            self.app.push_screen(ThreadScreen(self.info.about))

    def action_block(self) -> None:
        if self.info is None:
            return
        if self.info.blocked:
            self.set_blocked(False)
            return
        from .dialogs import ConfirmDialog

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.set_blocked(True)

        self.app.push_screen(
            ConfirmDialog(
                "Block this conversation?",
                "Nothing from it is shown again, and it leaves your inbox. Nothing is sent: they cannot tell. "
                f"ctrl+b here unblocks it, or later: {self.node.home.command('unblock', self.conversation[:12])}",
                "Block",
            ),
            confirmed,
        )

    @work(group="actions")
    async def set_blocked(self, blocked: bool) -> None:
        try:
            self.info = await self.node.block(self.conversation, blocked)
        except ControlError as exc:
            self.show_error(exc, "could not block" if blocked else "could not unblock")
            return
        self._show_blocked()
        self.notify("blocked: nothing from it shows again" if blocked else "unblocked", timeout=4)
