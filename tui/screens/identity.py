"""First run: create the identity (backup phrase shown once) or unlock it."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Static

from ..node import ControlError, Node
from ..widgets import AppHeader
from ._base import node_of

__all__ = ["BackupPhraseScreen", "CreateIdentityScreen", "UnlockScreen", "phrase_table"]

INTRO = (
    "Welcome to p2pnet.\n\n"
    "Your identity is one secret key kept on this computer — no name, phone or e-mail, ever. "
    "Nobody, not even your friends, can tell which posts are yours.\n\n"
    "You may protect it with a passphrase (asked when your node starts), or leave it empty."
)


class _WizardStep(Screen[bool]):
    """A step that talks to the node before any feed exists: quit is the only way out."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "app.quit", "Quit")]

    @property
    def node(self) -> Node:
        return node_of(self)


class CreateIdentityScreen(_WizardStep):
    """Step 1 of the wizard: optional passphrase, then create."""

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with VerticalScroll(classes="wizard"):
            yield Static("Create your identity", classes="wizard-title")
            yield Static(INTRO, classes="wizard-text")
            yield Input(placeholder="passphrase (optional)", password=True, id="pass1")
            yield Input(placeholder="passphrase again", password=True, id="pass2")
            yield Static("", id="wizard-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Create my identity", variant="primary", id="create")

    def on_mount(self) -> None:
        self.sub_title = "first run"
        self.query_one("#pass1", Input).focus()

    @on(Input.Submitted, "#pass1")
    def _next(self) -> None:
        self.query_one("#pass2", Input).focus()

    @on(Input.Submitted, "#pass2")
    @on(Button.Pressed, "#create")
    def _create(self) -> None:
        p1 = self.query_one("#pass1", Input).value
        p2 = self.query_one("#pass2", Input).value
        status = self.query_one("#wizard-status", Static)
        if p1 != p2:
            status.update(Text("the two passphrases differ", style="bold red"))
            return
        self.create(p1)

    @work(exclusive=True, group="identity")
    async def create(self, passphrase: str) -> None:
        status = self.query_one("#wizard-status", Static)
        button = self.query_one("#create", Button)
        button.disabled = True
        status.update("creating your keys…")
        try:
            created = await self.node.create_identity(passphrase or None)
        except ControlError as exc:
            button.disabled = False
            status.update(Text(exc.message, style="bold red"))
            return
        await self.app.push_screen_wait(BackupPhraseScreen(created.phrase))
        self.dismiss(True)


def phrase_table(phrase: str, columns: int = 4) -> Table:
    words = phrase.split()
    rows = -(-len(words) // columns)
    table = Table.grid(padding=(0, 3))
    for _ in range(columns):
        table.add_column(no_wrap=True)
    for r in range(rows):
        cells = []
        for c in range(columns):
            i = c * rows + r
            cells.append(Text.assemble((f"{i + 1:>2}. ", "dim"), (words[i], "bold")) if i < len(words) else Text(""))
        table.add_row(*cells)
    return table


class BackupPhraseScreen(Screen[bool]):
    """Step 2: the 24 words, shown this once, and a confirmation before going on."""

    def __init__(self, phrase: str) -> None:
        super().__init__()
        self.phrase = phrase

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with VerticalScroll(classes="wizard"):
            yield Static("Write this down — your backup phrase", classes="wizard-title")
            yield Static(
                "These 24 words are the only way to get your identity back if this computer is lost. "
                "They are shown ONCE, now, and never again. Anyone who has them can post as you.",
                classes="wizard-warning",
            )
            yield Static(phrase_table(self.phrase), id="phrase")
            yield Checkbox("I have written down all 24 words", id="written")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Continue", variant="primary", id="continue", disabled=True)

    def on_mount(self) -> None:
        self.sub_title = "backup phrase"
        self.query_one(Checkbox).focus()

    @on(Checkbox.Changed)
    def _checked(self, event: Checkbox.Changed) -> None:
        self.query_one("#continue", Button).disabled = not event.value

    @on(Button.Pressed, "#continue")
    def _continue(self) -> None:
        if self.query_one(Checkbox).value:
            self.dismiss(True)


class UnlockScreen(_WizardStep):
    """The identity is passphrase-protected: ask for it and unlock the node."""

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with VerticalScroll(classes="wizard"):
            yield Static("Unlock your identity", classes="wizard-title")
            yield Static("Your node is running but its identity is locked with a passphrase.", classes="wizard-text")
            yield Input(placeholder="passphrase", password=True, id="passphrase")
            yield Static("", id="unlock-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Unlock", variant="primary", id="unlock")

    def on_mount(self) -> None:
        self.sub_title = "locked"
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#unlock")
    def _unlock(self) -> None:
        passphrase = self.query_one(Input).value
        if not passphrase:
            self.query_one("#unlock-status", Static).update(Text("type your passphrase", style="bold red"))
            return
        self.unlock(passphrase)

    @work(exclusive=True, group="identity")
    async def unlock(self, passphrase: str) -> None:
        status = self.query_one("#unlock-status", Static)
        status.update("unlocking…")
        try:
            await self.node.unlock(passphrase)
        except ControlError as exc:
            message = exc.message
            if exc.code in ("invalid", "bad_request", "bad_passphrase"):
                message = f"wrong passphrase ({message})"
            status.update(Text(message, style="bold red"))
            field = self.query_one(Input)
            field.value = ""
            field.focus()
            return
        self.dismiss(True)
