"""A swarm's invite: the key to copy, its QR code, where friends will dial, and the address to announce."""

from __future__ import annotations

import asyncio
import os
import time
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

import protocol
from p2pnet import api

from ..clipboard import copy_text
from ..node import ControlError, Node
from ..widgets import QRCode
from ._base import node_of

__all__ = ["AnnounceDialog", "InviteScreen", "dialled"]

# Wide enough for the key beside its QR code: a 40-line terminal then shows both without scrolling.
SIDE_BY_SIDE = 116


def dialled(invite: str) -> str:
    """Where a friend's node will dial, from the invite itself: ``192.0.2.2:37885, …``."""
    try:
        bootstrap = protocol.decode_invite(invite, now=int(time.time())).bootstrap
    except protocol.InviteError:
        return "?"
    places = []
    for addr in bootstrap:
        parts = addr.split("/")
        places.append(f"{parts[2]}:{parts[4]}" if len(parts) > 4 else addr)
    return ", ".join(dict.fromkeys(places))


class InviteScreen(ModalScreen[None]):
    """A swarm's invite key, as text to copy and as a QR code to scan, with where friends will dial."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (SIDE_BY_SIDE, "-wide")]  # noqa: RUF012 - declared by Textual as an instance variable
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "dismiss(None)", "Done"),
        Binding("c", "copy", "Copy key"),
        Binding("a", "announce", "Address"),
    ]

    def __init__(self, name: str, invite: str, reach_note: str = "") -> None:
        super().__init__()
        self.swarm_name = name
        self.invite = invite
        self.reach_note = reach_note  # the node's warning that friends elsewhere may not reach it

    @property
    def node(self) -> Node:
        return node_of(self)

    def compose(self) -> ComposeResult:
        with Vertical(id="invite-box"):
            yield Label(f"Invite friends to “{self.swarm_name}”", id="invite-title")
            with VerticalScroll(id="invite-scroll"), Horizontal(id="invite-body"):
                with Vertical(id="invite-text"):
                    yield Static(
                        "Give this key only to people you want in the circle. They paste it into p2pnet "
                        "(s, then the invite field), or scan the code.",
                        classes="dialog-detail",
                    )
                    yield Static(self.invite, id="invite-key")
                    yield Static(self._where(), id="invite-where", classes="dialog-detail")
                    yield Static(self.reach_note, id="invite-reach", classes="wizard-warning")
                    with Horizontal(classes="dialog-buttons"):
                        yield Button("Copy key  c", id="invite-copy")
                        yield Button("Address…  a", id="invite-announce")
                        yield Button("Done", variant="primary", id="invite-done")
                with Center(id="invite-code"):
                    yield QRCode(self.invite, id="invite-qr")

    def _where(self) -> str:
        return (
            f"Their nodes dial {dialled(self.invite)}: it must be reachable from theirs (the same network, or a "
            "port forwarded to this machine). a names another address."
        )

    def on_mount(self) -> None:
        self.query_one("#invite-reach").display = bool(self.reach_note)
        self.query_one("#invite-scroll").focus()

    def on_resize(self, event: events.Resize) -> None:
        # The box grows with what it holds up to the screen; past that its body scrolls
        # (3 lines: the border and the title), so a small terminal reaches the QR code too.
        self.query_one("#invite-scroll").styles.max_height = max(event.size.height - 3, 3)

    def action_copy(self) -> None:
        self.copy()

    @work(group="invite-copy")
    async def copy(self) -> None:
        copied = await asyncio.to_thread(copy_text, self.invite, env=os.environ, osc52=self.app.copy_to_clipboard)
        self.notify(copied.message, title="invite key", severity="information" if copied.ok else "warning", timeout=8)

    def action_announce(self) -> None:
        self.announce()

    @work(group="invite-announce")
    async def announce(self) -> None:
        if await self.app.push_screen_wait(AnnounceDialog()):
            try:
                result = await self.node.invite(self.swarm_name)
            except ControlError as exc:
                self.notify(exc.message, title="no invite", severity="error", timeout=10)
                return
            self.invite, self.reach_note = result.invite, result.reach_note
            self.query_one("#invite-key", Static).update(self.invite)
            reach = self.query_one("#invite-reach", Static)
            reach.update(self.reach_note)
            reach.display = bool(self.reach_note)
            self.query_one("#invite-where", Static).update(self._where())
            await self.query_one("#invite-qr", QRCode).remove()
            await self.query_one("#invite-code", Center).mount(QRCode(self.invite, id="invite-qr"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "invite-copy":
            self.action_copy()
        elif event.button.id == "invite-announce":
            self.action_announce()
        else:
            self.dismiss(None)


class AnnounceDialog(ModalScreen[bool]):
    """The address invite keys name: the one friends on other machines dial.  True if it changed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Cancel")]

    @property
    def node(self) -> Node:
        return node_of(self)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("The address friends dial", classes="dialog-title")
            yield Static("…", id="announce-now", classes="dialog-detail")
            yield Input(placeholder="an IPv4 address, e.g. 203.0.113.7 — enter sets it", id="announce-ip")
            yield Static("", id="announce-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("This machine's own", id="announce-clear", tooltip="name the addresses found here")
                yield Button("Set", variant="primary", id="announce-set")
                yield Button("Cancel", id="announce-cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.show(None)

    @work(exclusive=True, group="announce")
    async def show(self, change: api.Announce | None) -> None:
        status = self.query_one("#announce-status", Static)
        try:
            announced = await self.node.announce(change or api.Announce())
        except ControlError as exc:
            status.update(exc.message)
            status.set_class(True, "-error")
            return
        if change is not None:
            self.dismiss(True)
            return
        if announced.ips:
            where = "the one you set" if announced.ip else "this machine's own"
            said = f"Invite keys name {', '.join(announced.ips)} ({where})."
        else:
            said = "Invite keys can name no address: this machine has none that another machine could reach."
        self.query_one("#announce-now", Static).update(
            said + " Behind a home router, name its public address and forward the swarm's port to this machine."
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#announce-set")
    def _set(self) -> None:
        ip = self.query_one(Input).value.strip()
        if ip:
            self.show(api.Announce(ip=ip))

    @on(Button.Pressed, "#announce-clear")
    def _clear(self) -> None:
        self.show(api.Announce(clear=True))

    @on(Button.Pressed, "#announce-cancel")
    def _cancel(self) -> None:
        self.dismiss(False)
