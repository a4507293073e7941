"""Clients of the node's control API: blocking (the CLI, tests) and asyncio (the TUI).

Both speak the same lines (docs/control-api.md) and offer the same two ways
to call: :meth:`request` with a typed request from :mod:`p2pnet.api` (the
result comes back typed and validated), or ``call(method, **params)`` with
the raw JSON values, for scripts and tests of the wire itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import msgspec

from ._contract import API_VERSION, MAX_LINE, Event, Request
from ._registry import EVENTS, METHODS
from ._wire import ControlError, NodeNotRunning, decode_line, encode_line

__all__ = ["AsyncControlClient", "ControlClient", "parse_event"]

R = TypeVar("R")


def _request_line(request_id: int, method: str, params: Any) -> bytes:
    return encode_line({"v": API_VERSION, "id": request_id, "method": method, "params": params})


def _result(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result")
    err = reply.get("error") or {}
    raise ControlError(str(err.get("code", "error")), str(err.get("message", "the node reported an error")))


def _typed(request: Request[R], raw: Any) -> R:
    try:
        return cast(R, msgspec.convert(raw, METHODS[request.method][1]))
    except msgspec.ValidationError as exc:
        what = f"the node's answer to {request.method} is not what this client expects: {exc}"
        raise ControlError("bad_reply", what) from None


def parse_event(msg: dict[str, Any]) -> Event | None:
    """The typed event of one event line; None for an event this client does not know (a newer node's)."""
    kind = EVENTS.get(str(msg.get("event")))
    if kind is None:
        return None
    try:
        return msgspec.convert(msg.get("data") or {}, kind)
    except msgspec.ValidationError:
        return None


class ControlClient:
    """A blocking client, one call at a time."""

    def __init__(self, socket_path: Path, timeout: float | None = 60.0) -> None:
        self.socket_path = Path(socket_path)
        self._ids = itertools.count(1)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(self.socket_path))
        except (FileNotFoundError, ConnectionRefusedError):
            self._sock.close()
            raise NodeNotRunning(self.socket_path) from None
        self._file = self._sock.makefile("rb")

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def _readline(self) -> dict[str, Any]:
        line = self._file.readline(MAX_LINE + 1)
        if not line:
            raise ControlError("disconnected", "the node closed the connection")
        return decode_line(line)

    def call(self, method: str, **params: Any) -> Any:
        """Call ``method`` with raw JSON params; returns the raw result.

        Raises:
            ControlError: the node refused the call (see ``code``).
        """
        request_id = next(self._ids)
        self._sock.sendall(_request_line(request_id, method, params))
        while True:
            reply = self._readline()
            if reply.get("id") == request_id:
                return _result(reply)

    def request(self, request: Request[R]) -> R:
        """Send a typed request; returns its typed result.

        Raises:
            ControlError: the node refused it (see ``code``).
        """
        return _typed(request, self.call(request.method, **msgspec.to_builtins(request)))

    def events(self) -> Iterator[Event]:
        """Subscribe, then yield typed events as the node sends them (blocks)."""
        self.call("subscribe")
        while True:
            msg = self._readline()
            if "event" in msg and (event := parse_event(msg)) is not None:
                yield event


class AsyncControlClient:
    """An asyncio client: concurrent calls and an event stream on one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def connect(cls, socket_path: Path) -> AsyncControlClient:
        """Connect to the node of the home whose socket is ``socket_path``.

        Raises:
            NodeNotRunning: nothing listens there.
        """
        try:
            reader, writer = await asyncio.open_unix_connection(str(socket_path), limit=MAX_LINE + 1)
        except (FileNotFoundError, ConnectionRefusedError):
            raise NodeNotRunning(Path(socket_path)) from None
        return cls(reader, writer)

    @property
    def closed(self) -> bool:
        """True once the connection ended (the node went away, or :meth:`close`)."""
        return self._task.done()

    async def _read_loop(self) -> None:
        error = ControlError("disconnected", "the node closed the connection")
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                msg = decode_line(line)
                if "event" in msg:
                    if (event := parse_event(msg)) is not None:
                        self._events.put_nowait(event)
                else:
                    future = self._pending.pop(msg.get("id"), None)  # type: ignore[arg-type]
                    if future is not None and not future.done():
                        future.set_result(msg)
        except (ConnectionError, ValueError, ControlError) as exc:
            error = exc if isinstance(exc, ControlError) else ControlError("disconnected", str(exc))
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            self._pending.clear()
            self._events.put_nowait(None)

    async def call(self, method: str, **params: Any) -> Any:
        """Call ``method`` with raw JSON params; returns the raw result; raises ControlError on refusal."""
        if self._task.done():
            raise ControlError("disconnected", "the node closed the connection")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._writer.write(_request_line(request_id, method, params))
        await self._writer.drain()
        return _result(await future)

    async def request(self, request: Request[R]) -> R:
        """Send a typed request; returns its typed result; raises ControlError on refusal."""
        return _typed(request, await self.call(request.method, **msgspec.to_builtins(request)))

    async def events(self) -> AsyncIterator[Event]:
        """Yield typed events after subscribing; ends when the node goes away."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
