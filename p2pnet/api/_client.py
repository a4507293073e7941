"""Clients of the node's control API (docs/control-api.md).

Line-delimited JSON over the home's Unix socket.  This module uses only the
standard library, so the CLI (blocking) and the TUI (asyncio) can talk to the
node without importing trio or libp2p.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "API_VERSION",
    "MAX_LINE",
    "AsyncControlClient",
    "ControlClient",
    "ControlError",
    "NodeNotRunning",
    "decode_line",
    "encode_line",
    "sync_summary",
]

API_VERSION = 1
MAX_LINE = 1 << 20  # one request or response line; longer ones are refused


class ControlError(Exception):
    """The node answered with an error, or the conversation broke.

    ``code`` is a stable machine-readable slug (docs/control-api.md lists
    them); ``str(err)`` is a sentence for a person.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NodeNotRunning(ControlError):
    """No node answers on this home's socket."""

    def __init__(self, socket_path: Path) -> None:
        home = socket_path.parent
        super().__init__(
            "not_running",
            f"no p2pnet node is running for {home}; start one with: p2pnet daemon --home {home}",
        )


def sync_summary(sync: dict[str, Any] | None, now: float) -> str:
    """One line of sync progress from a swarm's ``status`` ``sync`` field, for people."""
    if not sync:
        return "not running"
    if sync.get("state") == "syncing":
        peers = len(sync.get("peers") or [])
        head = f"syncing with {peers} peer{'s' if peers != 1 else ''}: {sync.get('received', 0):,}"
        head += f" of ~{sync.get('expected', 0):,} objects"
    elif sync.get("last_session") is None:
        head = "idle, no session yet"
    else:
        head = f"idle, last session {max(0, int(now) - int(sync['last_session']))}s ago"
    parts = [
        head,
        f"{sync.get('sessions_ok', 0)} ok / {sync.get('sessions_failed', 0)} failed",
        f"{sync.get('fetched', 0):,} fetched, {sync.get('sent', 0):,} sent",
    ]
    last = sync.get("last")
    if last:
        parts.append(f"last: {last['round_trips']} round trips, {last['bytes_in'] + last['bytes_out']:,} bytes")
    return " · ".join(parts)


def encode_line(obj: dict[str, Any]) -> bytes:
    """One JSON object as one UTF-8 line."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode_line(line: bytes) -> dict[str, Any]:
    """Parse one line into a JSON object, or raise ControlError('bad_json')."""
    if len(line) > MAX_LINE:
        raise ControlError("too_large", f"a control message is limited to {MAX_LINE} bytes")
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ControlError("bad_json", "a control message is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ControlError("bad_json", "a control message must be a JSON object")
    return obj


def _result(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result")
    err = reply.get("error") or {}
    raise ControlError(str(err.get("code", "error")), str(err.get("message", "the node reported an error")))


class ControlClient:
    """A blocking client, one call at a time; used by the CLI and by tests."""

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
        """Call ``method`` and return its result.

        Raises:
            ControlError: the node refused the call (see ``code``).
        """
        request_id = next(self._ids)
        self._sock.sendall(encode_line({"v": API_VERSION, "id": request_id, "method": method, "params": params}))
        while True:
            reply = self._readline()
            if reply.get("id") == request_id:
                return _result(reply)

    def events(self) -> Iterator[dict[str, Any]]:
        """Subscribe, then yield events as the node sends them (blocks)."""
        self.call("subscribe")
        while True:
            msg = self._readline()
            if "event" in msg:
                yield msg


class AsyncControlClient:
    """An asyncio client: concurrent calls and an event stream on one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
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

    async def _read_loop(self) -> None:
        error = ControlError("disconnected", "the node closed the connection")
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                msg = decode_line(line)
                if "event" in msg:
                    self._events.put_nowait(msg)
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
        """Call ``method`` and return its result; raises ControlError on refusal."""
        if self._task.done():
            raise ControlError("disconnected", "the node closed the connection")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._writer.write(encode_line({"v": API_VERSION, "id": request_id, "method": method, "params": params}))
        await self._writer.drain()
        return _result(await future)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Yield events after :meth:`call` ('subscribe'); ends when the node goes away."""
        while True:
            msg = await self._events.get()
            if msg is None:
                return
            yield msg

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
