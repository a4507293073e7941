"""First run: create the identity (backup phrase shown once) or restore it from its phrase; or unlock it."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Static, TextArea

from ..node import ControlError, Node
from ..widgets import AppHeader
from ._base import node_of

__all__ = [
    "BackupPhraseScreen",
    "CreateIdentityScreen",
    "RestoreIdentityScreen",
    "UnlockScreen",
    "phrase_table",
    "phrase_words",
]

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

    def passphrase_fields(self) -> ComposeResult:
        """The optional passphrase, typed twice, and the line that says what went wrong."""
        yield Input(placeholder="passphrase (optional)", password=True, id="pass1")
        yield Input(placeholder="passphrase again", password=True, id="pass2")
        yield Static("", id="wizard-status")

    @on(Input.Submitted, "#pass1")
    def _next(self) -> None:
        self.query_one("#pass2", Input).focus()

    def passphrase(self) -> str | None:
        """The passphrase typed twice ("" for none); None, said on screen, when the two differ."""
        p1, p2 = self.query_one("#pass1", Input).value, self.query_one("#pass2", Input).value
        if p1 != p2:
            self.say("the two passphrases differ")
            return None
        return p1

    def say(self, text: str, error: bool = True) -> None:
        self.query_one("#wizard-status", Static).update(Text(text, style="bold red") if error else text)


class CreateIdentityScreen(_WizardStep):
    """Step 1 of the wizard: optional passphrase, then create."""

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with VerticalScroll(classes="wizard"):
            yield Static("Create your identity", classes="wizard-title")
            yield Static(INTRO, classes="wizard-text")
            yield from self.passphrase_fields()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Restore from a backup phrase", id="restore")
                yield Button("Create my identity", variant="primary", id="create")

    def on_mount(self) -> None:
        self.sub_title = "first run"
        self.query_one("#pass1", Input).focus()

    @on(Input.Submitted, "#pass2")
    @on(Button.Pressed, "#create")
    def _create(self) -> None:
        if (passphrase := self.passphrase()) is not None:
            self.create(passphrase)

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

    @on(Button.Pressed, "#restore")
    @work(exclusive=True, group="identity")
    async def _restore(self) -> None:
        if await self.app.push_screen_wait(RestoreIdentityScreen()):
            self.dismiss(True)


def phrase_words(text: str) -> str:
    """The words of a backup phrase as typed or pasted: numbers, dots, case and line breaks dropped."""
    return " ".join(re.findall(r"[a-z]+", text.lower()))


class RestoreIdentityScreen(_WizardStep):
    """First run, instead of creating: the identity of a backup phrase.  True once restored."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Back")]

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with VerticalScroll(classes="wizard"):
            yield Static("Restore your identity", classes="wizard-title")
            yield Static(
                "Type or paste your 24-word backup phrase (the numbers may stay). "
                "A passphrase here protects it on this computer; it need not be the old one.",
                classes="wizard-text",
            )
            yield TextArea(id="phrase-in", soft_wrap=True)
            yield from self.passphrase_fields()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Back", id="back")
                yield Button("Restore", variant="primary", id="restore-go")

    def on_mount(self) -> None:
        self.sub_title = "restore"
        self.query_one(TextArea).focus()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(False)

    @on(Input.Submitted, "#pass2")
    @on(Button.Pressed, "#restore-go")
    def _go(self) -> None:
        words = phrase_words(self.query_one(TextArea).text)
        if len(words.split()) != 24:
            self.say(f"a backup phrase has 24 words; this has {len(words.split())}")
        elif (passphrase := self.passphrase()) is not None:
            self.restore(words, passphrase)

    @work(exclusive=True, group="identity")
    async def restore(self, phrase: str, passphrase: str) -> None:
        self.say("restoring…", error=False)
        try:
            await self.node.restore_identity(phrase, passphrase or None)
        except ControlError as exc:
            self.say(f"that is not a valid backup phrase ({exc.message})" if exc.code == "invalid" else exc.message)
            return
        self.notify("identity restored: posts come back from your swarms once you join them again", timeout=8)
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
            yield Static(
                "Your node is running but its identity is locked with a passphrase: until you unlock it, "
                "no swarm runs and nothing syncs, so no post reaches you or leaves.",
                classes="wizard-text",
            )
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
