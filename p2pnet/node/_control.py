"""The control API server: line-delimited JSON on a Unix socket (mode 0600).

Every front-end (CLI, TUI, tests) drives the node through here, so what a test
proves is what a user gets.  docs/control-api.md is the specification; the
methods behind ``dispatch`` take and return the types of :mod:`p2pnet.api`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket as stdlib_socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from ..api import API_VERSION, MAX_LINE, ControlError, Event, Lagged, decode_line, encode_line

__all__ = ["EventHub", "serve_control"]

log = logging.getLogger(__name__)

Dispatch = Callable[[str, dict[str, Any]], Awaitable[Any]]
MAX_INFLIGHT = 16  # concurrent requests per connection
EVENT_BUFFER = 256  # events queued per subscriber before it is told it lagged
BACKLOG = 1024  # connections the kernel queues before accept(); the TUI, the CLI and scripts at once


class _Subscriber:
    def __init__(self) -> None:
        self.send, self.receive = trio.open_memory_channel[dict[str, Any]](EVENT_BUFFER)
        self.missed = 0
        self.unsent = 0  # queued or being written
        self.idle = trio.Event()  # set while nothing is unsent

    def queue(self, msg: dict[str, Any]) -> None:
        self.send.send_nowait(msg)
        if not self.unsent:
            self.idle = trio.Event()
        self.unsent += 1

    def written(self) -> None:
        self.unsent -= 1
        if not self.unsent:
            self.idle.set()


class EventHub:
    """Fans node events out to subscribed connections without ever blocking the node.

    A subscriber that falls behind loses events; the next event it does get
    comes after a ``lagged`` event saying how many it missed, so it can re-read
    what it shows.
    """

    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()

    @property
    def listening(self) -> bool:
        """True if anyone is subscribed: events worth the cost of building them."""
        return bool(self._subscribers)

    def subscribe(self) -> _Subscriber:
        subscriber = _Subscriber()
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: _Subscriber) -> None:
        self._subscribers.discard(subscriber)
        subscriber.receive.close()
        subscriber.idle.set()

    async def drained(self) -> None:
        """Return once every subscriber has been written every event published so far (or went away)."""
        for subscriber in list(self._subscribers):
            if subscriber.unsent:
                await subscriber.idle.wait()

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                if subscriber.missed:
                    subscriber.queue(_message(Lagged(missed=subscriber.missed)))
                    subscriber.missed = 0
                subscriber.queue(_message(event))
            except trio.WouldBlock:
                subscriber.missed += 1
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.discard(subscriber)


def _message(event: Event) -> dict[str, Any]:
    return {"v": API_VERSION, "event": event.event, "data": event}


def _remove_stale(path: Path) -> None:
    # a socket left by a daemon that died; the home lock says we own the path now
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def _bind_unix(path: Path) -> trio.SocketListener:
    sock = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    _remove_stale(path)
    old_umask = os.umask(0o177)  # the socket is born 0600: no window where others can connect
    try:
        await sock.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(BACKLOG)
    return trio.SocketListener(sock)


async def _read_lines(stream: trio.SocketStream, send: trio.MemorySendChannel[bytes | ControlError]) -> None:
    buf = bytearray()
    async with send:
        while True:
            try:
                chunk = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not chunk:
                return
            buf += chunk
            while (nl := buf.find(b"\n")) >= 0:
                line = bytes(buf[:nl])
                del buf[: nl + 1]
                await send.send(line)
            if len(buf) > MAX_LINE:
                await send.send(ControlError("too_large", f"a control message is limited to {MAX_LINE} bytes"))
                return


def _error(request_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"v": API_VERSION, "id": request_id, "ok": False, "error": {"code": code, "message": message}}


class _Connection:
    def __init__(self, stream: trio.SocketStream, dispatch: Dispatch, hub: EventHub) -> None:
        self.stream = stream
        self.dispatch = dispatch
        self.hub = hub
        self.send_lock = trio.Lock()
        self.limiter = trio.CapacityLimiter(MAX_INFLIGHT)
        self.subscribed = False
        self.events_scope = trio.CancelScope()

    async def send(self, msg: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.stream.send_all(encode_line(msg))

    async def handle(self, nursery: trio.Nursery, line: bytes) -> None:
        request_id: Any = None
        try:
            request = decode_line(line)
            request_id = request.get("id")
            if request.get("v", API_VERSION) != API_VERSION:
                raise ControlError("bad_version", f"this node speaks control API version {API_VERSION}")
            method, params = request.get("method"), request.get("params", {})
            if not isinstance(method, str) or not isinstance(params, dict):
                raise ControlError("bad_request", "a request needs a string 'method' and an object 'params'")
            if method == "subscribe" and not self.subscribed:
                self.subscribed = True
                nursery.start_soon(self.pump_events)
            result = await self.dispatch(method, params)
            reply = {"v": API_VERSION, "id": request_id, "ok": True, "result": result}
        except ControlError as exc:
            reply = _error(request_id, exc.code, str(exc))
        except Exception as exc:  # a bug must not take the node down with it
            log.exception("control request failed")
            reply = _error(request_id, "internal", f"internal error: {type(exc).__name__}: {exc}")
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self.send(reply)

    async def pump_events(self) -> None:
        subscriber = self.hub.subscribe()
        try:
            with self.events_scope:
                async for msg in subscriber.receive:
                    await self.send(msg)
                    subscriber.written()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away; nothing is owed to it
        finally:
            self.hub.unsubscribe(subscriber)

    async def run_request(self, nursery: trio.Nursery, line: bytes) -> None:
        async with self.limiter:
            await self.handle(nursery, line)

    async def serve(self) -> None:
        send, receive = trio.open_memory_channel[bytes | ControlError](0)
        async with self.stream, trio.open_nursery() as nursery:
            nursery.start_soon(_read_lines, self.stream, send)
            async for item in receive:
                if isinstance(item, ControlError):
                    await self.send(_error(None, item.code, str(item)))
                    nursery.cancel_scope.cancel()
                    return
                if item.strip():
                    nursery.start_soon(self.run_request, nursery, item)
            # The client is done sending: answer what it asked, then stop its events.
            self.events_scope.cancel()


async def serve_control(
    path: Path,
    dispatch: Dispatch,
    hub: EventHub,
    *,
    task_status: Any = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the control API on ``path`` until cancelled; removes the socket on exit."""
    listener = await _bind_unix(path)

    async def handler(stream: trio.SocketStream) -> None:
        try:
            await _Connection(stream, dispatch, hub).serve()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client hung up mid-reply: its problem, not the node's
        except OSError as exc:
            # One client's broken socket never ends the node's other work.
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                log.info("control connection failed: %s", exc)

    try:
        async with listener:
            task_status.started()
            await trio.serve_listeners(handler, [listener])
    finally:
        _remove_stale(path)
