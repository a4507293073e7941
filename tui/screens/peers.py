"""Peers per swarm and the node's health, refreshed every two seconds."""

from __future__ import annotations

import time
from typing import ClassVar

import msgspec
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from p2pnet import api

from ..messages import ReadAgain
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


def _counted(counts: msgspec.Struct) -> str:
    return ", ".join(f"{name} {value}" for name, value in msgspec.structs.asdict(counts).items())


def render_status(status: api.StatusResult) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("node", Text(f"running · pid {status.pid} · up {_duration(status.uptime)}"))
    table.add_row("identity", Text(status.identity, style="green" if status.identity == "ready" else "yellow"))
    table.add_row("home", Text(status.home, overflow="fold"))
    table.add_row("stored", Text(_counted(status.counts)))
    table.add_row("gossip", Text(_counted(status.gossip)))
    now = time.time()
    for swarm in status.swarms:
        sync = swarm.sync
        style = "cyan" if sync is not None and sync.state == "syncing" else ""
        table.add_row(f"sync {swarm.name}", Text(sync_summary(sync, now), style=style))
        reach = Text(api.reach_text(swarm), style="yellow" if swarm.reach_note else "")
        for line in api.reach_lines(swarm):
            reach.append("\n" + line)
        table.add_row(f"reach {swarm.name}", reach)
    return table


def _peer_line(swarm: api.SwarmPeers, peer: str) -> str:
    line = peer[-12:]
    if path := api.path_text(swarm, peer):
        line += f" · {path}"
    if swarm.invalid.get(peer):
        line += f" ⚠ {swarm.invalid[peer]} invalid"
    return line


def render_peers(swarms: list[api.SwarmPeers]) -> Table | Text:
    if not swarms:
        return Text("You are in no swarm yet (s on the feed to create or join one).", style="dim")
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("swarm", style="bold", no_wrap=True)
    table.add_column("connected", justify="right")
    table.add_column("mesh", justify="right")
    table.add_column("known", justify="right")
    table.add_column("peers (connected)", overflow="fold", ratio=1)
    for s in swarms:
        peers = "\n".join(_peer_line(s, p) for p in s.connected)
        table.add_row(s.swarm, str(len(s.connected)), str(len(s.mesh)), str(s.known), peers or "—")
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

    def on_read_again(self, message: ReadAgain) -> None:
        self.refresh_now()

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
