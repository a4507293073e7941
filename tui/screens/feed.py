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

from ..messages import ReadAgain, ScreenNodeEvent
from ..node import PAGE, ControlError
from ..widgets import AppFooter, AppHeader, FeedList, NewPostsBar
from ._base import ItemActions, drafts_of

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


class InboxBadge(Static):
    """Unread private messages, on the feed's bar; click (or I) for the inbox."""

    DEFAULT_CSS = """
    InboxBadge { width: auto; height: 2; padding: 0 1; content-align: right middle; color: #fde047; display: none; }
    InboxBadge:hover { text-style: bold; }
    """

    class Pressed(Message):
        """The badge was clicked: show the inbox."""

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
        Binding("M", "mutes", "Mutes", show=False),
        Binding("I", "inbox", "Inbox", show=False),
        Binding("A", "activity", "Activity", show=False),
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
        self.pending: dict[str, api.FeedItem] = {}  # new posts waiting behind the yellow bar, oldest first
        self.unread = 0  # private messages not read yet

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with Horizontal(id="feed-bar"):
            yield Tabs(Tab("Latest", id="latest"), Tab("Popular", id="popular"), id="feed-tabs")
            yield InboxBadge("", id="inbox-badge")
            yield ScopeLabel("swarm: all ▸", id="scope")
        yield NewPostsBar(id="new-posts")
        yield FeedList(id="feed")
        yield AppFooter()

    def on_mount(self) -> None:
        self._show_scope()
        self.load_swarms()
        self.load_unread()
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
                self.set_pending({})
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

    @work(exclusive=True, group="unread")
    async def load_unread(self) -> None:
        try:
            self.unread = (await self.node.inbox()).unread
        except ControlError:
            return  # the badge stays as it was; the inbox itself says what is wrong
        from .inbox import unread_badge

        badge = self.query_one(InboxBadge)
        badge.update(unread_badge(self.unread))
        badge.display = self.unread > 0  # no room taken from the tabs while there is nothing to read

    def on_screen_resume(self) -> None:
        self.load_unread()  # conversations read meanwhile

    def _show_scope(self) -> None:
        self.query_one(ScopeLabel).update(f"swarm: {self.swarm or 'all'} ▸")
        self.sub_title = ("Popular" if self.popular else "Latest") + (f" · {self.swarm}" if self.swarm else "")

    # -- live updates -----------------------------------------------------------------

    def set_pending(self, posts: dict[str, api.FeedItem]) -> None:
        self.pending = posts
        self.query_one(NewPostsBar).set_count(len(posts))

    def on_read_again(self, message: ReadAgain) -> None:
        self.load_swarms()
        self.load_unread()
        self.reload()

    def on_screen_node_event(self, message: ScreenNodeEvent) -> None:
        event = message.event
        if isinstance(event, api.SwarmEvent | api.SwarmLeftEvent):
            self.load_swarms()  # a swarm left takes its posts with it
            self.reload()
        elif isinstance(event, api.Purged):
            self.recheck_expiring()
        elif isinstance(event, api.ObjectEvent):
            self._object_stored(event)
        elif isinstance(event, api.DmEvent):
            self.load_unread()

    def _object_stored(self, event: api.ObjectEvent) -> None:
        """Show what a new object changes, from the post the event carries as it stands now."""
        if event.kind == "post":
            if event.item is None or (self.swarm is not None and event.swarm != self.swarm):
                return
            if event.id in self.shown or event.id in self.pending:
                return
            at_top = self.feed_list.scroll_y <= 0.5
            if not self.popular and at_top and not self.pending:
                self._insert_at_top([event.item])
            else:
                self.set_pending({**self.pending, event.id: event.item})
        elif event.kind == "reply" and event.root is not None:
            self._post_changed(event.root, event.item)
        elif event.kind in ("heart", "flag") and event.target is not None:
            self._post_changed(event.target, event.item)
        elif event.kind == "delete" and event.target is not None:
            self._post_changed(event.target, None)

    def _post_changed(self, post_id: str, item: api.FeedItem | None) -> None:
        """A post on the feed or behind the yellow bar now stands as ``item``; None: it is gone here."""
        if post_id in self.pending:
            pending = dict(self.pending)
            if item is None:
                del pending[post_id]
            else:
                pending[post_id] = item
            self.set_pending(pending)
        elif post_id in self.shown:
            if item is None:
                self.feed_list.remove_item(post_id)
                self.call_later(self._show_empty, not self.shown)
            else:
                self.feed_list.update_item(item)

    def _insert_at_top(self, posts: list[api.FeedItem]) -> None:
        """Put these posts at the top, the last one first (newest on top).

        Post times are coarsened to 10 minutes on the wire, so the node's Latest
        order cannot tell which of several recent posts came in last; the feed
        shows them in the order they arrived here instead.
        """
        feed = self.feed_list
        for item in posts:
            if item.id not in self.shown:
                feed.insert_top(item)
        if feed.current_item() is None:
            feed.select(0, scroll=False)
        self.call_later(self._show_empty, not self.shown)

    @work(group="live")
    async def recheck_expiring(self) -> None:
        """After a purge, read again the posts that have a self-destruct time.

        The purged event says how many objects were erased, not which; only a
        post with a self-destruct time (with its replies and hearts) can be
        among them, so only those are asked for.
        """
        for item in [*self.feed_list.items, *self.pending.values()]:
            if item.expires is None:
                continue
            try:
                current = await self.node.post_item(item.id)
            except ControlError:
                continue
            self._post_changed(item.id, current)

    @on(NewPostsBar.Pressed)
    def action_show_new(self) -> None:
        if self.popular or not self.pending or len(self.pending) > PAGE:
            self.reload()
        else:
            self.show_pending()

    def show_pending(self) -> None:
        """The new posts slide in at the top and the view jumps there, the newest selected."""
        posts = list(self.pending.values())
        self.set_pending({})
        feed = self.feed_list
        feed.scroll_home(animate=False, immediate=True)
        self._insert_at_top(posts)
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

        self.app.push_screen(ComposeScreen(self.swarm_names, default_swarm=self.swarm, draft=drafts_of(self).post))

    def action_search(self) -> None:
        from .search import SearchScreen

        self.app.push_screen(SearchScreen())

    def action_swarms(self, field: str | None = None) -> None:
        from .swarms import SwarmsScreen

        self.app.push_screen(SwarmsScreen(focus=field))

    def action_peers(self) -> None:
        from .peers import PeersScreen

        self.app.push_screen(PeersScreen())

    def action_mutes(self) -> None:
        from .mutes import MutesScreen

        self.app.push_screen(MutesScreen())

    @on(InboxBadge.Pressed)
    def action_inbox(self) -> None:
        from .inbox import InboxScreen

        self.app.push_screen(InboxScreen())

    def action_activity(self) -> None:
        from .activity import ActivityScreen

        self.app.push_screen(ActivityScreen())

    def muted(self, *, hid_thread: bool) -> None:
        self.reload()
