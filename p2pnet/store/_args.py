"""Checks on the arguments callers pass: a bad one raises :class:`InvalidArgument` before any SQL runs."""

from __future__ import annotations

import re
import time
from typing import Any

from ._errors import InvalidArgument

__all__ = ["CONTROL", "HEX", "id32_arg", "int_arg", "now_arg", "text_arg"]

HEX = re.compile(r"[0-9a-fA-F]+")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # never in stored text; a NUL would end an FTS5 query string


def now_arg(value: int | None) -> int:
    if value is None:
        return int(time.time())
    return int_arg(value, "now")


def int_arg(value: Any, what: str, low: int = 0, high: int = 1 << 62) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidArgument(f"{what} must be an integer between {low} and {high}, not {value!r}")
    return value


def id32_arg(value: Any, what: str = "id") -> bytes:
    """A 32-byte id given as bytes or as 64 hex characters."""
    if isinstance(value, str) and len(value) == 64 and HEX.fullmatch(value):
        return bytes.fromhex(value)
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == 32:
        return bytes(value)
    raise InvalidArgument(f"{what} must be 32 bytes or 64 hex characters")


def text_arg(value: Any, what: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise InvalidArgument(f"{what} must be a non-empty string of at most {max_len} characters")
    return value
