"""Input fields for what users paste."""

from __future__ import annotations

import re

from textual import events
from textual.widgets import Input

__all__ = ["InviteInput", "invite_pasted"]

# White space, and the box-drawing and block characters a selection across the
# invite dialog picks up from its border and the QR code beside the key.
_NOT_KEY = re.compile(r"[\s\u2500-\u259f]+")


def invite_pasted(text: str) -> str:
    """An invite key as pasted, without the line breaks and frame the screen it was copied from added."""
    return _NOT_KEY.sub("", text)


class InviteInput(Input):
    """A field that takes an invite key pasted whole, however many lines it was cut into.

    A key selected on screen comes with the line breaks of the dialog that
    showed it; Textual's Input keeps only the first line of a paste, which
    left an incomplete key.  Here the lines are joined: an invite key holds
    no white space, so nothing of it is lost.
    """

    def _on_paste(self, event: events.Paste) -> None:
        joined = invite_pasted(event.text)
        if joined:
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(joined)
            else:
                self.replace(joined, *selection)
        event.stop()
        event.prevent_default()  # else Input's own handler, next in the MRO, pastes the first line again
