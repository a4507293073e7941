"""The home screen: Latest / Popular posts, per swarm or all, live and lazily paged."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static, Tab, Tabs

from p2pnet import api

from ..messages import ScreenNodeEvent
from ..node import PAGE, ControlError
from ..widgets import AppFooter, AppHeader, FeedList, NewPostsBar
from ._base import ItemActions

__all__ = ["FeedList", "FeedScreen"]


class ScopeLabel(Static):
    """Which swarm the feed shows; click (or w) to switch."""

    DEFAULT_CSS = """
    ScopeLabel { width: auto; height: 2; padding: 0 1; content-align: right middle; color: $text-muted; }
    ScopeLabel:hover { color: $text; text-style: bold; }
    """

    class Pressed(Message):
        """The scope label was clicked: show the next swarm."""

    def on_click(self) -> None:
        self.post_message(self.Pressed())


class FeedScreen(ItemActions):
    AUTO_FOCUS = "#feed"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "compose", "Post"),
        Binding("slash", "search", "Search"),
        Binding("l", "tab('latest')", "Latest", show=False),
        Binding("p", "tab('popular')", "Popular", show=False),
        Binding("w", "next_swarm", "Swarm", show=False),
        Binding("n", "show_new", "New posts", show=False),
        Binding("r", "reload", "Refresh", show=False),
        Binding("s", "swarms", "Swarms"),
        Binding("i", "peers", "Peers"),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.popular = False
        self.swarm: str | None = None
        self.swarm_names: list[str] = []
        self.cursor: list[int] | None = None
        self.at_end = False
        self.loading_page = False
        self.pending: list[str] = []  # ids of new posts waiting behind the yellow bar, oldest first

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with Horizontal(id="feed-bar"):
            yield Tabs(Tab("Latest", id="latest"), Tab("Popular", id="popular"), id="feed-tabs")
            yield ScopeLabel("swarm: all ▸", id="scope")
        yield NewPostsBar(id="new-posts")
        yield FeedList(id="feed")
        yield AppFooter()

    def on_mount(self) -> None:
        self._show_scope()
        self.load_swarms()
        self.reload()

    # -- loading ------------------------------------------------------------------------

    @property
    def feed_list(self) -> FeedList:
        return self.query_one(FeedList)

    @property
    def shown(self) -> dict[str, int]:
        """The posts on the feed: id -> position."""
        return self.feed_list.index

    def reload(self) -> None:
        self.cursor = None
        self.at_end = False
        self.load_page(reset=True)

    @work(exclusive=True, group="feed")
    async def load_page(self, reset: bool = False) -> None:
        """Fetch a page in the background; keys keep working while the node answers."""
        feed = self.feed_list
        self.loading_page = True
        if reset:
            feed.loading = True
        try:
            page = await self.node.feed(popular=self.popular, swarm=self.swarm, cursor=self.cursor)
        except ControlError as exc:
            self.loading_page = feed.loading = False
            self.show_error(exc, "could not load the feed")
            return
        feed.loading = False
        try:
            if reset:
                self.set_pending([])
                feed.set_items(page.posts)
            else:
                feed.extend(page.posts)
            self.cursor = page.cursor
            self.at_end = page.cursor is None or not page.posts
            await self._show_empty(not feed.items)
        finally:
            self.loading_page = False

    async def _show_empty(self, empty: bool) -> None:
        hints = self.query("#empty")
        if empty and not hints:
            await self.mount(Static(self._empty_text(), id="empty", classes="empty"), before=self.feed_list)
        elif not empty:
            await hints.remove()

    def _empty_text(self) -> str:
        where = f" in {self.swarm}" if self.swarm else ""
        return f"No posts{where} yet.\n\nPress c to write the first one, or s to invite friends to a swarm."

    @on(FeedList.NearEnd)
    def _near_end(self) -> None:
        if not self.at_end and not self.loading_page and self.cursor is not None:
            self.load_page()

    @work(group="swarms")
    async def load_swarms(self) -> None:
        try:
            self.swarm_names = [s.name for s in await self.node.swarms()]
        except ControlError:
            return
        if self.swarm is not None and self.swarm not in self.swarm_names:
            self.swarm = None
            self._show_scope()
            self.reload()

    def _show_scope(self) -> None:
        self.query_one(ScopeLabel).update(f"swarm: {self.swarm or 'all'} ▸")
        self.sub_title = ("Popular" if self.popular else "Latest") + (f" · {self.swarm}" if self.swarm else "")

    # -- live updates -----------------------------------------------------------------

    def set_pending(self, ids: list[str]) -> None:
        self.pending = ids
        self.query_one(NewPostsBar).set_count(len(ids))

    def on_screen_node_event(self, message: ScreenNodeEvent) -> None:
        event = message.event
        if isinstance(event, api.SwarmEvent):
            self.load_swarms()
            self.reload()
        elif isinstance(event, api.Purged):
            self.refresh_cards(list(self.shown))
        elif isinstance(event, api.ObjectEvent):
            self._object_stored(event)

    def _object_stored(self, event: api.ObjectEvent) -> None:
        if event.kind == "post":
            if self.swarm is not None and event.swarm != self.swarm:
                return
            if event.id in self.shown or event.id in self.pending:
                return
            at_top = self.feed_list.scroll_y <= 0.5
            if not self.popular and at_top and not self.pending:
                self.insert_new(event.id)
            else:
                self.set_pending([*self.pending, event.id])
        elif event.kind == "reply" and event.root is not None and event.root in self.shown:
            self.refresh_cards([event.root])
        elif event.kind in ("heart", "flag") and event.target is not None and event.target in self.shown:
            self.refresh_cards([event.target])
        elif event.kind == "delete" and event.target is not None and event.target in self.shown:
            self.feed_list.remove_item(event.target)
            self.call_later(self._show_empty, not self.shown)

    @work(group="live")
    async def insert_new(self, post_id: str) -> None:
        await self._insert_at_top([post_id])

    async def _insert_at_top(self, ids: list[str]) -> None:
        """Fetch these posts and put them at the top, the last one first (newest on top).

        Post times are coarsened to 10 minutes on the wire, so the node's Latest
        order cannot tell which of several recent posts came in last; the feed
        shows them in the order they arrived here instead.
        """
        feed = self.feed_list
        for post_id in ids:
            try:
                item = await self.node.post_item(post_id)
            except ControlError:
                continue
            if item is None or post_id in self.shown:
                continue
            feed.insert_top(item)
            await self._show_empty(False)
            if feed.current_item() is None:
                feed.select(0, scroll=False)

    @work(group="live")
    async def refresh_cards(self, ids: list[str]) -> None:
        for post_id in ids:
            try:
                item = await self.node.post_item(post_id)
            except ControlError:
                continue
            if post_id not in self.shown:
                continue
            if item is None:
                self.feed_list.remove_item(post_id)
            else:
                self.feed_list.update_item(item)
        await self._show_empty(not self.shown)

    @on(NewPostsBar.Pressed)
    def action_show_new(self) -> None:
        if self.popular or not self.pending or len(self.pending) > PAGE:
            self.reload()
        else:
            self.show_pending()

    @work(exclusive=True, group="feed")
    async def show_pending(self) -> None:
        """The new posts slide in at the top and the view jumps there, the newest selected."""
        ids = self.pending
        self.set_pending([])
        feed = self.feed_list
        feed.scroll_home(animate=False, immediate=True)
        await self._insert_at_top(ids)
        feed.action_first()

    # -- actions ------------------------------------------------------------------------

    @on(Tabs.TabActivated)
    def _tab_activated(self, event: Tabs.TabActivated) -> None:
        popular = event.tab.id == "popular"
        if popular != self.popular:
            self.popular = popular
            self._show_scope()
            self.reload()

    def action_tab(self, tab: str) -> None:
        self.query_one(Tabs).active = tab

    @on(ScopeLabel.Pressed)
    def action_next_swarm(self) -> None:
        scopes: list[str | None] = [None, *self.swarm_names]
        index = scopes.index(self.swarm) if self.swarm in scopes else 0
        self.swarm = scopes[(index + 1) % len(scopes)]
        self._show_scope()
        self.reload()

    def action_reload(self) -> None:
        self.load_swarms()
        self.reload()

    def action_compose(self) -> None:
        from .compose import ComposeScreen

        self.app.push_screen(ComposeScreen(self.swarm_names, default_swarm=self.swarm))

    def action_search(self) -> None:
        from .search import SearchScreen

        self.app.push_screen(SearchScreen())

    def action_swarms(self) -> None:
        from .swarms import SwarmsScreen

        self.app.push_screen(SwarmsScreen())

    def action_peers(self) -> None:
        from .peers import PeersScreen

        self.app.push_screen(PeersScreen())
