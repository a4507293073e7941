"""First run against the fake node: restoring an identity from its backup phrase, and a locked node.

The wizard that creates an identity is tested on a real daemon in
tests/test_tui.py; here the other ways in: a newcomer who had p2pnet before
brings the identity back with its 24 words, and a node started locked from
the CLI says what being locked means before asking for the passphrase.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

import protocol
from tests.harness.fakenode import Model, fake_node
from tests.harness.polling import pilot_until
from tests.test_tui import SMALL, at, run

pytest.importorskip("textual")

from textual import events
from textual.widgets import Button, Static, TextArea

from tui.app import P2PApp
from tui.screens import CreateIdentityScreen, RestoreIdentityScreen, SwarmsScreen, UnlockScreen
from tui.screens.identity import phrase_words


def as_written_down(phrase: str) -> str:
    """The phrase as copied from the backup screen's table: numbered, four to a line."""
    words = phrase.split()
    return "\n".join("   ".join(f"{i + 1:>2}. {words[i]}" for i in range(r, r + 4)) for r in range(0, 24, 4))


def text_of(app: Any, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def press_restore(pilot: Any) -> None:
    """Click Restore, once its look of being pressed from the last click is gone (it ignores clicks till then)."""
    button = pilot.app.screen.query_one("#restore-go", Button)
    await pilot_until(pilot, lambda: not button.has_class("-active"), "the button ready")
    await pilot.click("#restore-go")


def test_phrase_words_takes_the_words_as_written_down() -> None:
    phrase = protocol.seed_to_phrase(protocol.new_seed())
    assert phrase_words(as_written_down(phrase).upper()) == phrase


def test_first_run_restores_an_identity_from_its_backup_phrase() -> None:
    seed = protocol.new_seed()
    phrase = protocol.seed_to_phrase(seed)
    with fake_node(Model()) as fresh:
        assert fresh.call("status")["identity"] == "none"

        async def main() -> None:
            app = P2PApp(fresh.socket)
            async with app.run_test(size=SMALL) as pilot:
                await pilot_until(pilot, lambda: at(app, CreateIdentityScreen), "the wizard")
                await pilot.click("#restore")
                await pilot_until(pilot, lambda: at(app, RestoreIdentityScreen), "the restore step")
                # Esc goes back to creating: no step a newcomer is stuck in.
                await pilot.press("escape")
                await pilot_until(pilot, lambda: at(app, CreateIdentityScreen), "back to the wizard")
                await pilot.click("#restore")
                await pilot_until(pilot, lambda: at(app, RestoreIdentityScreen), "the restore step again")
                area = app.screen.query_one(TextArea)
                # Too few words: said before asking the node.
                await pilot.press(*"abandon ability")
                await press_restore(pilot)
                await pilot_until(pilot, lambda: "has 2" in text_of(app, "#wizard-status"), "the word count")
                # 24 words with a wrong checksum: the node refuses, and the screen says why.
                area.text = " ".join(phrase.split()[::-1])
                await press_restore(pilot)
                await pilot_until(pilot, lambda: "not a valid backup phrase" in text_of(app, "#wizard-status"), "bad")
                assert fresh.call("status")["identity"] == "none"
                # The phrase as written down, pasted.
                area.text = ""
                area.focus()
                app.post_message(events.Paste(as_written_down(phrase)))  # as the terminal delivers it: to the app
                await pilot_until(pilot, lambda: "24." in area.text, "the pasted phrase")
                await press_restore(pilot)
                await pilot_until(pilot, lambda: at(app, SwarmsScreen), "on to joining a swarm ")
                assert app.screen.onboarding  # type: ignore[attr-defined]

        run(main)
        assert fresh.call("status")["identity"] == "ready"
        assert fresh.run(lambda: fresh.model.seed) == seed


def test_a_locked_node_says_nothing_syncs_until_it_is_unlocked() -> None:
    model = Model(seed=protocol.new_seed(), passphrase="pw", swarms={"friends": os.urandom(32)})
    with fake_node(model) as locked:

        async def main() -> None:
            app = P2PApp(locked.socket)
            async with app.run_test(size=SMALL) as pilot:
                await pilot_until(pilot, lambda: at(app, UnlockScreen), "the unlock screen")
                said = " ".join(str(s.render()) for s in app.screen.query(".wizard-text").results(Static))
                assert "no swarm runs and nothing syncs" in " ".join(said.split())

        run(main)
