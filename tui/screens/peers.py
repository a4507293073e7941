"""Peers per swarm and the node's health, refreshed every two seconds."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import msgspec
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from p2pnet.api import SyncStatus

from ..node import ControlError, sync_summary
from ..widgets import AppFooter, AppHeader
from ._base import ItemActions

__all__ = ["PeersScreen", "render_peers", "render_status"]

REFRESH = 2.0


def _duration(seconds: int) -> str:
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(out) or f"{seconds}s"


def render_status(status: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    identity = str(status.get("identity", "?"))
    table.add_row("node", Text(f"running · pid {status.get('pid')} · up {_duration(int(status.get('uptime', 0)))}"))
    table.add_row("identity", Text(identity, style="green" if identity == "ready" else "yellow"))
    table.add_row("home", Text(str(status.get("home", "")), overflow="fold"))
    counts = status.get("counts") or {}
    table.add_row("stored", Text(", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing yet"))
    gossip = status.get("gossip") or {}
    table.add_row("gossip", Text(", ".join(f"{k} {v}" for k, v in gossip.items()) or "no traffic yet"))
    now = time.time()
    for swarm in status.get("swarms") or []:
        sync = msgspec.convert(swarm.get("sync"), SyncStatus | None)
        style = "cyan" if sync is not None and sync.state == "syncing" else ""
        table.add_row(f"sync {swarm.get('name')}", Text(sync_summary(sync, now), style=style))
    return table


def render_peers(swarms: list[dict[str, Any]]) -> Table | Text:
    if not swarms:
        return Text("You are in no swarm yet (s on the feed to create or join one).", style="dim")
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("swarm", style="bold", no_wrap=True)
    table.add_column("connected", justify="right")
    table.add_column("mesh", justify="right")
    table.add_column("known", justify="right")
    table.add_column("peers (connected)", overflow="fold", ratio=1)
    for s in swarms:
        connected = list(s.get("connected") or [])
        invalid = s.get("invalid") or {}
        peers = "\n".join(p[-12:] + (f" ⚠ {invalid[p]} invalid" if invalid.get(p) else "") for p in connected)
        table.add_row(
            str(s.get("swarm")),
            str(len(connected)),
            str(len(s.get("mesh") or [])),
            str(s.get("known", 0)),
            peers or "—",
        )
    return table


class PeersScreen(ItemActions):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back"), Binding("r", "refresh_now", "Refresh")]

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with VerticalScroll(id="peers-body"):
            yield Static("Node", classes="section-title")
            yield Static("loading…", id="node-status")
            yield Static("Peers", classes="section-title")
            yield Static("", id="peer-table")
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = "peers & status"
        self.refresh_now()
        self.set_interval(REFRESH, self.refresh_now)

    def action_refresh_now(self) -> None:
        self.refresh_now()

    @work(exclusive=True, group="peers")
    async def refresh_now(self) -> None:
        try:
            status = await self.node.status()
            peers = await self.node.peers()
        except ControlError as exc:
            self.query_one("#node-status", Static).update(Text(f"the node does not answer: {exc.message}", "red"))
            return
        self.query_one("#node-status", Static).update(render_status(status))
        self.query_one("#peer-table", Static).update(render_peers(peers))

    def action_back(self) -> None:
        self.dismiss()
