"""Swarms: list, create (invite key + QR code), join with an invite key, leave.

Also the first-run "create or join" screen (``onboarding=True``): it closes once
the user is in a swarm.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Input, Static

from p2pnet import api

from ..messages import ReadAgain, ScreenNodeEvent
from ..node import ControlError
from ..widgets import AppFooter, AppHeader, InviteInput
from ._base import ItemActions
from .invite import AnnounceDialog, InviteScreen

__all__ = ["SwarmsScreen"]

WELCOME = (
    "You are in no swarm yet. A swarm is a circle of friends whose nodes share posts.\n"
    "Create one and give its invite key to your friends, or paste the invite key a friend gave you."
)


class SwarmsScreen(ItemActions):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("i", "invite", "Invite"),
        Binding("x", "leave", "Leave"),
        Binding("a", "announce", "Address"),
        Binding("c", "to('create-name')", "Create"),  # no tabbing round the list to reach the fields
        Binding("j", "to('join-invite')", "Join"),
        Binding("question_mark", "app.help", "Help", show=False),
    ]

    def __init__(self, *, onboarding: bool = False, focus: str | None = None) -> None:
        super().__init__()
        self.onboarding = onboarding
        self.focus_first = focus  # the field to start in ("create-name", "join-invite"): the palette's own
        self.names: list[str] = []
        self.joining = False

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with VerticalScroll(id="swarms-body"):
            yield Static(WELCOME if self.onboarding else "Your swarms", id="swarms-intro")
            yield DataTable(id="swarms-table", cursor_type="row", zebra_stripes=True)
            with Horizontal(classes="swarms-row", id="swarms-actions"):
                yield Button("Invite…", id="btn-invite")
                yield Button("Leave", id="btn-leave", variant="error")
            with Horizontal(classes="swarms-row"):
                yield Input(placeholder="name for a new swarm, e.g. friends", id="create-name", max_length=64)
                yield Button("Create", id="btn-create", variant="primary")
            with Horizontal(classes="swarms-row"):
                yield InviteInput(placeholder="paste an invite key (p2pnet-invite1…)", id="join-invite")
                yield Button("Join", id="btn-join", variant="primary")
            yield Static("", id="swarms-status")
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = "welcome" if self.onboarding else "swarms"
        table = self.query_one(DataTable)
        table.add_columns("swarm", "peers", "state")
        if self.onboarding:
            # Hidden until the list says there is something to show, so the
            # create box does not jump away from under a click while it loads.
            table.display = False
            self.query_one("#swarms-actions").display = False
            self.query_one("#create-name", Input).focus()
        if self.focus_first:
            self.action_to(self.focus_first)
        self.refresh_list()

    @work(exclusive=True, group="swarm-list")
    async def refresh_list(self) -> None:
        try:
            swarms = await self.node.swarms()
        except ControlError as exc:
            self._status(exc.message, error=True)
            return
        self.names = [s.name for s in swarms]
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for s in swarms:
            table.add_row(s.name, str(s.peers), "running" if s.running else "stopped", key=s.name)
        if swarms:
            table.move_cursor(row=min(cursor, len(swarms) - 1))
        has = bool(swarms)
        table.display = has or not self.onboarding
        self.query_one("#swarms-actions").display = has

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#swarms-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    def _selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.names or table.cursor_row < 0 or table.cursor_row >= len(self.names):
            return None
        return str(table.get_row_at(table.cursor_row)[0])

    # -- create -------------------------------------------------------------------------

    @on(Button.Pressed, "#btn-create")
    @on(Input.Submitted, "#create-name")
    def _create(self) -> None:
        name = self.query_one("#create-name", Input).value.strip()
        if not name:
            self._status("give the new swarm a name", error=True)
            return
        self.create(name)

    @work(exclusive=True, group="swarm-action")
    async def create(self, name: str) -> None:
        self._status(f"creating {name}…")
        try:
            result = await self.node.create_swarm(name)
        except ControlError as exc:
            self._status(exc.message + (" (a: name it here)" if exc.code == "no_address" else ""), error=True)
            return
        self.query_one("#create-name", Input).value = ""
        self._status(f"created {result.name}")
        self.refresh_list()
        await self.app.push_screen_wait(InviteScreen(result.name, result.invite, result.reach_note))
        self._done()

    # -- join ---------------------------------------------------------------------------

    @on(Button.Pressed, "#btn-join")
    @on(Input.Submitted, "#join-invite")
    def _join(self) -> None:
        invite = self.query_one("#join-invite", Input).value.strip()
        if not invite:
            self._status("paste the invite key a friend gave you", error=True)
            return
        self.join(invite)

    @work(exclusive=True, group="swarm-action")
    async def join(self, invite: str) -> None:
        button = self.query_one("#btn-join", Button)
        button.disabled = self.joining = True
        self._status("joining: dialling the peers in the invite…")
        try:
            result = await self.node.join_swarm(invite)
        except ControlError as exc:
            title = {"bad_invite": "that invite key does not work", "join_failed": "nobody answered"}.get(
                exc.code, "could not join"
            )
            self._status(f"{title}: {exc.message}", error=True)
            self.notify(exc.message, title=title, severity="error", timeout=10)
            return
        finally:
            button.disabled = self.joining = False
        self.query_one("#join-invite", Input).value = ""
        self._status(f"joined {result.name}: connected to {result.connected} peer(s)")
        self.notify(f"joined {result.name}", timeout=4)
        self.refresh_list()
        self._done()

    def on_read_again(self, message: ReadAgain) -> None:
        self.refresh_list()

    def on_screen_node_event(self, message: ScreenNodeEvent) -> None:
        event = message.event
        # Progress comes on the event connection, which may deliver it after the
        # join's own answer: it is news only while the join runs.
        if isinstance(event, api.JoinProgress) and self.joining:
            self._status(f"joining {event.swarm}: trying peer {event.n} of {event.of}…")
        elif isinstance(event, api.SwarmEvent | api.SwarmLeftEvent):
            self.refresh_list()

    def _done(self) -> None:
        if self.onboarding:
            self.dismiss(True)

    # -- invite and leave ---------------------------------------------------------------

    @on(Button.Pressed, "#btn-invite")
    def action_invite(self) -> None:
        name = self._selected()
        if name:
            self.show_invite(name)

    @work(group="swarm-action")
    async def show_invite(self, name: str) -> None:
        try:
            invite = await self.node.invite(name)
        except ControlError as exc:
            self._status(exc.message + (" (a: name it here)" if exc.code == "no_address" else ""), error=True)
            return
        await self.app.push_screen_wait(InviteScreen(invite.name, invite.invite, invite.reach_note))

    def action_to(self, field: str) -> None:
        self.query_one(f"#{field}", Input).focus()

    def action_announce(self) -> None:
        self.app.push_screen(AnnounceDialog())

    @on(Button.Pressed, "#btn-leave")
    def action_leave(self) -> None:
        name = self._selected()
        if not name:
            return
        from .dialogs import ConfirmDialog

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.leave(name)

        self.app.push_screen(
            ConfirmDialog(f"Leave the swarm {name}?", "You stop receiving its posts; rejoin with an invite.", "Leave"),
            confirmed,
        )

    @work(group="swarm-action")
    async def leave(self, name: str) -> None:
        try:
            await self.node.leave_swarm(name)
        except ControlError as exc:
            self._status(exc.message, error=True)
            return
        self._status(f"left {name}")
        self.refresh_list()

    def action_back(self) -> None:
        if self.onboarding:
            self.app.exit()
        else:
            self.dismiss(False)
