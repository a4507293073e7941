"""The p2pnet Textual app: connects to the node, walks first-run, then shows the feed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.widget import MountError
from textual.worker import WorkerFailed, active_worker, get_current_worker

from p2pnet import api
from p2pnet.api import Home

from .commands import P2PCommands
from .drafts import Drafts, HoldsDraft
from .messages import NodeDisconnected, NodeEvent, ReadAgain, ScreenNodeEvent
from .node import ControlError, Node, NodeNotRunning
from .screens import (
    BootScreen,
    ConfirmDialog,
    CreateIdentityScreen,
    FeedScreen,
    HelpScreen,
    SwarmsScreen,
    UnlockScreen,
)

__all__ = ["P2PApp"]

RECONNECT_MIN, RECONNECT_MAX = 0.5, 5.0  # seconds between tries to reach a node that went away


class P2PApp(App[int]):
    """The terminal front-end of one p2pnet node.

    When the node goes away the app keeps every screen (and what is typed in
    it) and connects again, backing off from half a second to five; a node
    this app started is started again, unless it said it stops on purpose
    (docs/tui.md, "When the node goes away").

    Args:
        socket_path: the node's control socket (``<home>/control.sock``).
        started_node: the launcher started the daemon just now; tell the user,
            and start it again should it go away.
        start: starts this home's node and waits until it answers (the
            launcher's :func:`p2pnet.api.ensure_node`); None: the app starts none.
        clock: the time used for post ages (tests pass a fixed one).
    """

    CSS_PATH = "app.tcss"
    TITLE = "p2pnet"
    COMMANDS = App.COMMANDS | {P2PCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("f1", "help", "Help", show=False),
    ]

    def __init__(
        self,
        socket_path: Path,
        *,
        started_node: bool = False,
        start: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.node = Node(socket_path)
        self.started_node = started_node
        self.start_node = start
        self.clock = clock
        self.feed_screen: FeedScreen | None = None
        self.node_stopping = False  # the node said it stops on purpose: not started again
        self.drafts = Drafts()

    async def on_mount(self) -> None:
        await self.push_screen(BootScreen())
        if self.started_node:
            stop = Home(self.node.socket_path.parent).command("stop")
            self.notify(f"started a node for you; it keeps running after you quit ({stop})", timeout=6)
        self.action_boot()

    def action_boot(self) -> None:
        self.boot()

    @work(exclusive=True, group="boot")
    async def boot(self) -> None:
        """Connect, then walk the user through whatever is missing: identity, unlock, a swarm."""
        screen = self.screen
        if isinstance(screen, BootScreen):
            screen.show_waiting()
        try:
            await self.node.connect()
            status = await self.node.status()
            if status.identity == "none":
                await self.push_screen_wait(CreateIdentityScreen())
            elif status.identity == "locked":
                await self.push_screen_wait(UnlockScreen())
            if not await self.node.swarms():
                await self.push_screen_wait(SwarmsScreen(onboarding=True))
        except (NodeNotRunning, ControlError) as exc:
            if isinstance(self.screen, BootScreen):
                self.screen.show_error(f"cannot reach the node: {exc.message}")
            return
        if get_current_worker().is_cancelled:
            return
        self.pump_events()
        self.feed_screen = FeedScreen()
        await self.switch_screen(self.feed_screen)

    @work(group="events")
    async def pump_events(self) -> None:
        await self.node.pump_events(self.post_message)

    def on_node_event(self, message: NodeEvent) -> None:
        if isinstance(message, ScreenNodeEvent):
            return
        event = message.event
        if isinstance(event, api.StoppingEvent):
            self.node_stopping = True
        for screen in self.screen_stack:
            screen.post_message(ScreenNodeEvent(event))
        if isinstance(event, api.Lagged):
            self.read_again()  # events were lost: what every screen shows may be out of date

    def read_again(self) -> None:
        for screen in self.screen_stack:
            screen.post_message(ReadAgain())

    def on_node_disconnected(self, message: NodeDisconnected) -> None:
        if self.is_running:
            self.reconnect()

    @work(exclusive=True, group="reconnect")
    async def reconnect(self) -> None:
        """Connect again when the node is back, starting a node this app started; then read everything again.

        Nothing on screen is closed meanwhile: a draft stays where it is, and
        a call made while the node is away says so and can be made again.
        """
        restart = self.start_node if self.started_node and not self.node_stopping else None
        said = "the node stopped" if self.node_stopping else "lost the node"
        if restart is not None:
            said += "; starting it again"
        else:
            said += f"; reconnecting when it runs again (start it with: {self.node.home.command('daemon')})"
        self.notify(said, title="disconnected", severity="warning", timeout=10)
        delay, tries = RECONNECT_MIN, 0
        while True:
            tries += 1
            self.title = f"p2pnet · {said.split(';')[0]}, reconnecting… (try {tries})"
            try:
                await self.node.reconnect()
                break
            except ControlError:
                pass
            if restart is not None:
                try:
                    await asyncio.to_thread(restart)
                except ControlError as exc:
                    self.notify(exc.message, title="could not start the node", severity="error", timeout=10)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)
        self.node_stopping = False
        self.title = self.TITLE
        self.pump_events()
        with contextlib.suppress(ControlError):
            if (await self.node.status()).identity == "locked" and not isinstance(self.screen, UnlockScreen):
                await self.push_screen_wait(UnlockScreen())  # a node started again waits for its passphrase
        self.notify("connected to your node again", timeout=4)
        self.read_again()

    async def on_unmount(self) -> None:
        await self.node.close()

    def _handle_exception(self, error: Exception) -> None:
        """Let a closing screen's worker find its widgets gone; anything else still ends the app.

        A worker waits on the node, then touches its screen's widgets.  When the
        screen is dismissed, or the app quits, meanwhile, Textual removes the
        widgets before it cancels the screen's workers: the worker wakes to
        ``NoMatches`` (a widget it looks up), ``NoScreen`` (one it holds) or a
        refused mount, on a screen that is going away.
        """
        if isinstance(error, WorkerFailed) and isinstance(error.error, NoMatches | NoScreen | MountError):
            worker = active_worker.get(None)
            node = worker.node if worker is not None else None
            if node is not None and not node.display:  # closing, closed or being removed
                self.log.worker(f"dropped: {error.error!r} in {worker}")
                return
        super()._handle_exception(error)

    async def action_quit(self) -> None:
        """Quit, asking first when something written is not sent (ctrl+q, q, the palette)."""
        for screen in self.screen_stack:
            if isinstance(screen, HoldsDraft):
                screen.save_draft()
        lost = self.drafts.summary()
        if not lost:
            self.exit()
            return
        if isinstance(self.screen, ConfirmDialog):
            return  # asked already

        def answered(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self.exit()

        question = f"Quit and lose {lost} you have not sent?"
        detail = "Drafts live only while p2pnet runs. Esc goes back to them."
        self.push_screen(ConfirmDialog(question, detail, "Quit anyway"), answered)

    # -- actions for the command palette and global keys ---------------------------------

    def _feed(self) -> FeedScreen | None:
        if self.feed_screen is None or self.feed_screen not in self.screen_stack:
            self.notify("finish setting up first", severity="warning")
            return None
        return self.feed_screen

    def _to_feed(self) -> FeedScreen | None:
        feed = self._feed()
        if feed is not None:
            while self.screen is not feed and len(self.screen_stack) > 1:
                self.pop_screen()
        return feed

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_compose(self) -> None:
        if (feed := self._to_feed()) is not None:
            feed.action_compose()

    def action_search(self) -> None:
        if (feed := self._to_feed()) is not None:
            feed.action_search()

    def action_feed(self, tab: str) -> None:
        if (feed := self._to_feed()) is not None:
            feed.action_tab(tab)

    def action_swarms(self, field: str | None = None) -> None:
        if (feed := self._to_feed()) is not None:
            feed.action_swarms(field)

    def action_peers(self) -> None:
        if (feed := self._to_feed()) is not None:
            feed.action_peers()

    def action_mutes(self) -> None:
        if (feed := self._to_feed()) is not None:
            feed.action_mutes()

    def action_inbox(self) -> None:
        if (feed := self._to_feed()) is not None:
            feed.action_inbox()

    def action_activity(self) -> None:
        if (feed := self._to_feed()) is not None:
            feed.action_activity()
