"""A QR code drawn with Unicode half blocks (two modules per character cell)."""

from __future__ import annotations

from typing import Any

import segno
from rich.text import Text
from textual.widget import Widget

__all__ = ["QRCode", "qr_lines"]


def qr_lines(data: str, *, border: int = 2) -> list[str]:
    """The QR code of ``data`` as text lines: dark modules are drawn black on white.

    Each character covers two rows of modules (upper and lower half block), so
    a version-10 code (57 modules) is 61 columns by 31 rows with its quiet zone.
    """
    qr = segno.make(data, error="l")
    matrix = [list(row) for row in qr.matrix_iter(scale=1, border=border)]
    if len(matrix) % 2:
        matrix.append([0] * len(matrix[0]))
    lines = []
    for top, bottom in zip(matrix[::2], matrix[1::2], strict=True):
        chars = []
        for up, down in zip(top, bottom, strict=True):
            # Light is the "ink" here: white cells on black read as a QR code on dark terminals too.
            if up and down:
                chars.append(" ")
            elif up:
                chars.append("▄")
            elif down:
                chars.append("▀")
            else:
                chars.append("█")
        lines.append("".join(chars))
    return lines


class QRCode(Widget):
    """Shows ``data`` as a QR code; put it in a scrolling container on small terminals."""

    DEFAULT_CSS = """
    QRCode { width: auto; height: auto; }
    """

    def __init__(self, data: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines = qr_lines(data)

    def get_content_width(self, container: Any, viewport: Any) -> int:
        return len(self.lines[0]) if self.lines else 0

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        return len(self.lines)

    def render(self) -> Text:
        return Text("\n".join(self.lines), style="#ffffff on #000000", no_wrap=True, end="")
