"""Which characters user text may hold, shared by posts, names and swarm names."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["BAD_NAME", "BAD_TEXT", "is_blank"]

# Terminal control characters, bidi controls and invisible marks could repaint
# a reader's screen or disguise text; no object may carry them.  Text may hold
# newlines; zero-width (non-)joiners stay, since emoji and scripts need them.
_INVISIBLE: Final = "\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
BAD_TEXT: Final = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")
BAD_NAME: Final = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_BLANK: Final = " \t\n\u00a0\u200c\u200d\u3000"


def is_blank(text: str) -> bool:
    """True when nothing visible is left: empty, white space, or only joiners."""
    return not text.strip(_BLANK) or text.isspace()
