"""Write a post: text with a live count, colour, optional name, self-destruct time, swarm."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

import protocol
from p2pnet import api

from ..drafts import PostDraft
from ..format import CARD_COLOURS, EXPIRY_CHOICES, card_colour
from ..messages import ReadAgain, ScreenNodeEvent
from ..node import ControlError, Node
from ._base import drafts_of, node_of

__all__ = ["ComposeScreen"]


class ComposeScreen(ModalScreen[str | None]):
    """Returns the new post's id, or None if the user gave up.

    The swarm picker shows whenever the node has more than one swarm: the
    screen asks the node on opening and again when a swarm is joined,
    created or left, so a swarm made a minute ago is offered at once.  The
    post always names its swarm, the one the feed shows by default.

    Closing it (esc) keeps what was written as the draft the composer opens
    with next time; only Discard, or sending it, throws it away.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close, keep the draft"),
        Binding("ctrl+s", "send", "Send"),
    ]

    def __init__(self, swarms: list[str], default_swarm: str | None = None, draft: PostDraft | None = None) -> None:
        super().__init__()
        self.swarms = swarms  # as the feed knew them; the node's list replaces it on mount
        self.draft = draft
        self.default_swarm = draft.swarm if draft is not None and draft.swarm else default_swarm
        self.sending = False

    @property
    def node(self) -> Node:
        return node_of(self)

    def compose(self) -> ComposeResult:
        colours = [(Text("■ ", style=CARD_COLOURS[name]) + Text(name), name) for name in protocol.PALETTE]
        expiry = [(label, seconds or 0) for label, seconds in EXPIRY_CHOICES]
        with Vertical(id="compose-box"):
            yield Label(
                "New post — anonymous; only your words and colour travel · esc keeps it as a draft", id="compose-title"
            )
            yield TextArea(id="compose-text", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
            yield Static("0 / 1000", id="compose-count")
            with Horizontal(classes="compose-row"):
                yield Select(colours, value="slate", allow_blank=False, id="compose-bg", prompt="colour")
                yield Select(expiry, value=0, allow_blank=False, id="compose-expires", prompt="self-destruct")
            with Horizontal(classes="compose-row"):
                yield Input(placeholder="name for this post only (optional)", max_length=32, id="compose-name")
                yield Select([], id="compose-swarm", prompt="swarm")
            with Horizontal(id="compose-buttons"):
                yield Static("", id="compose-status")
                yield Button("Discard", id="compose-discard", tooltip="throw this draft away")
                yield Button("Post  ^S", variant="primary", id="compose-send")

    def on_mount(self) -> None:
        draft = self.draft or PostDraft("")
        area = self.query_one(TextArea)
        area.text = draft.text
        area.move_cursor(area.document.end)
        self.query_one("#compose-bg", Select).value = draft.bg
        self.query_one("#compose-expires", Select).value = draft.expires
        self.query_one("#compose-name", Input).value = draft.name
        self._paint(draft.bg)
        self._offer_swarms(self.swarms)
        area.focus()
        self.load_swarms()

    def current_draft(self) -> PostDraft:
        """What the composer holds now."""
        swarm = self.query_one("#compose-swarm", Select).value
        expires = self.query_one("#compose-expires", Select).value
        return PostDraft(
            text=self.query_one(TextArea).text,
            bg=str(self.query_one("#compose-bg", Select).value),
            name=self.query_one("#compose-name", Input).value,
            expires=expires if isinstance(expires, int) else 0,
            swarm=swarm if isinstance(swarm, str) else None,
        )

    def save_draft(self) -> None:
        drafts_of(self).keep_post(self.current_draft())

    @work(exclusive=True, group="compose-swarms")
    async def load_swarms(self) -> None:
        try:
            names = [s.name for s in await self.node.swarms()]
        except ControlError:
            return  # the feed's list stands; sending says what is wrong
        self._offer_swarms(names)

    def _offer_swarms(self, names: list[str]) -> None:
        """Offer these swarms, keeping the one picked if it is still there; the picker shows for two or more."""
        select: Select[str] = self.query_one("#compose-swarm", Select)
        picked = select.value if isinstance(select.value, str) else self.default_swarm
        self.swarms = names
        select.set_options([(name, name) for name in names])
        if names:
            select.value = picked if picked in names else names[0]
        select.display = len(names) > 1

    def on_read_again(self, message: ReadAgain) -> None:
        self.load_swarms()

    def on_screen_node_event(self, message: ScreenNodeEvent) -> None:
        if isinstance(message.event, api.SwarmEvent | api.SwarmLeftEvent):
            self.load_swarms()

    def _paint(self, bg: str) -> None:
        area = self.query_one(TextArea)
        area.styles.background = card_colour(bg)
        area.notify_style_update()  # TextArea caches its rendered lines with the old colour

    @on(Select.Changed, "#compose-bg")
    def _colour_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._paint(event.value)

    @on(TextArea.Changed)
    def _count(self) -> None:
        n = len(self.query_one(TextArea).text)
        count = self.query_one("#compose-count", Static)
        count.update(f"{n} / {protocol.MAX_TEXT_CHARS}" + (" — too long" if n > protocol.MAX_TEXT_CHARS else ""))
        count.set_class(n > protocol.MAX_TEXT_CHARS, "-over")

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#compose-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    def action_cancel(self) -> None:
        """Close, keeping what was written for next time."""
        if self.sending:
            return
        self.save_draft()
        if drafts_of(self).post is not None:
            self.app.notify("draft kept: c opens it again", timeout=4)
        self.dismiss(None)

    @on(Button.Pressed, "#compose-discard")
    def action_discard(self) -> None:
        if not self.sending:
            drafts_of(self).post = None
            self.dismiss(None)

    @on(Button.Pressed, "#compose-send")
    def action_send(self) -> None:
        if self.sending:
            return
        text = self.query_one(TextArea).text.strip()
        if not text:
            self._status("write something first", error=True)
            return
        if len(text) > protocol.MAX_TEXT_CHARS:
            self._status(f"at most {protocol.MAX_TEXT_CHARS} characters", error=True)
            return
        draft = api.Post(
            text=text,
            bg=self.query_one("#compose-bg", Select).selection,
            name=self.query_one("#compose-name", Input).value.strip() or None,
            expires=self.query_one("#compose-expires", Select).selection or None,  # 0: never
            swarm=self.query_one("#compose-swarm", Select).selection if self.swarms else None,
        )
        self.send(draft)

    @work(exclusive=True, group="compose")
    async def send(self, draft: api.Post) -> None:
        self.sending = True
        button = self.query_one("#compose-send", Button)
        button.disabled = True
        self._status("sending… storing and handing it to your peers")
        try:
            result = await self.node.post(draft)
        except ControlError as exc:
            self._status(exc.message, error=True)
            self.notify(exc.message, title="not posted", severity="error", timeout=8)
            if exc.code in ("choose_swarm", "no_swarm"):
                self.load_swarms()  # the swarms changed under us: offer them as they are now
            return
        finally:
            self.sending = False
            button.disabled = False
        drafts_of(self).post = None
        self.app.notify(f"posted · id {result.id[:12]}", title="sent", timeout=4)
        self.dismiss(result.id)
