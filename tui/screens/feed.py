"""The home screen: Latest / Popular posts, per swarm or all, live and lazily paged."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Static, Tab, Tabs

from ..messages import ScreenNodeEvent
from ..node import PAGE, ControlError
from ..widgets import AppFooter, AppHeader, NewPostsBar, PostCard
from ._base import ItemActions

__all__ = ["MAX_CARDS", "FeedList", "FeedScreen"]

MAX_CARDS = 150  # cards kept on the feed at once (five pages)


class FeedList(VerticalScroll):
    """The scrolling column of cards; asks for the next page when the reader nears the end.

    Keys move the selection card by card (or a page at a time) and scroll without
    animation, so the view follows each keystroke at once even with long feeds.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "move(1)", "Next", show=False),
        Binding("up,k", "move(-1)", "Previous", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("home,g", "first", "Top", show=False),
        Binding("end,G", "last", "End", show=False),
    ]

    class NearEnd(Message):
        """Fewer than two screens of posts are left below the view."""

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.max_scroll_y - new_value <= 2 * max(1, self.size.height):
            self.post_message(self.NearEnd())

    def cards(self) -> list[PostCard]:
        return list(self.query_children(PostCard))

    def _select(self, card: PostCard) -> None:
        card.focus(scroll_visible=False)
        self.scroll_to_widget(card, animate=False)

    def action_move(self, delta: int) -> None:
        cards = self.cards()
        if not cards:
            return
        focused = self.screen.focused
        index = cards.index(focused) if isinstance(focused, PostCard) and focused in cards else -1
        target = max(0, min(len(cards) - 1, index + delta if index >= 0 else 0))
        self._select(cards[target])
        if target == len(cards) - 1:
            self.post_message(self.NearEnd())

    def action_page(self, direction: int) -> None:
        if direction > 0:
            self.scroll_page_down(animate=False)
        else:
            self.scroll_page_up(animate=False)
        self.call_after_refresh(self._select_in_view, direction)

    def _select_in_view(self, direction: int) -> None:
        """After a page jump, select the first card in view (the last one when paging up)."""
        top, bottom = self.scroll_y, self.scroll_y + self.scrollable_content_region.height
        cards = self.cards()
        in_view = [card for card in cards if card.virtual_region.y >= top and card.virtual_region.bottom <= bottom]
        if not in_view:  # a card taller than the view
            in_view = [card for card in cards if card.virtual_region.bottom > top and card.virtual_region.y < bottom]
        if not in_view:
            return
        card = in_view[0] if direction > 0 else in_view[-1]
        card.focus(scroll_visible=False)
        if card is cards[-1]:
            self.post_message(self.NearEnd())

    def action_first(self) -> None:
        screen = self.screen
        if isinstance(screen, FeedScreen) and screen.trimmed:
            screen.reload()  # the newest posts were let go: fetch them again
            return
        self.scroll_home(animate=False)
        cards = self.cards()
        if cards:
            cards[0].focus(scroll_visible=False)

    def action_last(self) -> None:
        cards = self.cards()
        if cards:
            self._select(cards[-1])
        self.scroll_end(animate=False)
        self.post_message(self.NearEnd())


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
        self.cursor: Any = None
        self.at_end = False
        self.loading_page = False
        self.trimmed = False  # cards at the top were let go (see _trim_top)
        self.pending: list[str] = []  # ids of new posts waiting behind the yellow bar, oldest first
        self.shown: dict[str, PostCard] = {}

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

    def reload(self) -> None:
        self.cursor = None
        self.at_end = False
        self.load_page(reset=True)

    @work(exclusive=True, group="feed")
    async def load_page(self, reset: bool = False) -> None:
        feed = self.feed_list
        self.loading_page = True
        if reset:
            feed.loading = True
        try:
            posts, cursor = await self.node.feed(popular=self.popular, swarm=self.swarm, cursor=self.cursor)
        except ControlError as exc:
            self.loading_page = feed.loading = False
            self.show_error(exc, "could not load the feed")
            return
        feed.loading = False
        try:  # still "loading" while the cards mount, so scrolling does not ask for the same page again
            if reset:
                await feed.remove_children()
                self.shown.clear()
                self.trimmed = False
                self.set_pending([])
                feed.scroll_home(animate=False)
            cards = [PostCard(item) for item in posts if item["id"] not in self.shown]
            for card in cards:
                self.shown[card.post_id] = card
            if cards:
                await feed.mount_all(cards)
            self.cursor = cursor
            self.at_end = cursor is None or not posts
            if not self.shown:
                await feed.mount(Static(self._empty_text(), id="empty", classes="empty"))
            elif reset and cards and not isinstance(self.focused, PostCard):
                cards[0].focus(scroll_visible=False)
            if not reset:
                await self._trim_top()
        finally:
            self.loading_page = False

    async def _trim_top(self) -> None:
        """Keep at most MAX_CARDS cards: let the oldest-read ones at the top go.

        Every card on the screen costs layout time, so a reader scrolling through
        thousands of posts would make each keystroke slower.  The page does not
        move; the yellow bar then offers the way back to the newest posts.
        """
        feed = self.feed_list
        cards = feed.cards()
        excess = len(cards) - MAX_CARDS
        if excess <= 0 or self.focused in cards[:excess]:
            return
        drop = cards[:excess]
        shift = cards[excess].virtual_region_with_margin.y - cards[0].virtual_region_with_margin.y
        with self.app.batch_update():
            await feed.remove_children(drop)
            for card in drop:
                self.shown.pop(card.post_id, None)
            feed.scroll_to(y=max(0.0, feed.scroll_y - shift), animate=False, immediate=True)
        self.trimmed = True
        self.set_pending(self.pending)

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
            self.swarm_names = [s["name"] for s in await self.node.swarms()]
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
        self.query_one(NewPostsBar).set_count(len(ids), trimmed=self.trimmed)

    def on_screen_node_event(self, message: ScreenNodeEvent) -> None:
        data = message.data
        if message.event == "swarm":
            self.load_swarms()
            self.reload()
            return
        if message.event == "purged":
            self.refresh_cards(list(self.shown))
            return
        if message.event != "object":
            return
        kind = data.get("kind")
        if kind == "post":
            if self.swarm is not None and data.get("swarm") != self.swarm:
                return
            post_id = str(data.get("id"))
            if post_id in self.shown or post_id in self.pending:
                return
            at_top = self.feed_list.scroll_y <= 0.5 and not self.trimmed
            if not self.popular and at_top and not self.pending:
                self.insert_new(post_id)
            else:
                self.set_pending([*self.pending, post_id])
        elif kind == "reply" and data.get("root") in self.shown:
            self.refresh_cards([str(data["root"])])
        elif kind in ("heart", "flag") and data.get("target") in self.shown:
            self.refresh_cards([str(data["target"])])
        elif kind == "delete" and data.get("target") in self.shown:
            card = self.shown.pop(str(data["target"]))
            card.remove()

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
                item = await self.node.item(post_id)
            except ControlError:
                continue
            if item is None or post_id in self.shown:
                continue
            for empty in feed.query("#empty"):
                await empty.remove()
            card = PostCard(item)
            self.shown[post_id] = card
            first = feed.cards()
            await feed.mount(card, before=first[0] if first else None)
            if not isinstance(self.focused, PostCard) and self.app.screen is self:
                card.focus(scroll_visible=False)

    @work(group="live")
    async def refresh_cards(self, ids: list[str]) -> None:
        for post_id in ids:
            try:
                item = await self.node.item(post_id)
            except ControlError:
                continue
            card = self.shown.get(post_id)
            if card is None:
                continue
            if item is None:
                self.shown.pop(post_id, None)
                card.remove()
            else:
                card.set_item(item)

    @on(NewPostsBar.Pressed)
    def action_show_new(self) -> None:
        if self.popular or self.trimmed or not self.pending or len(self.pending) > PAGE:
            self.reload()
        else:
            self.show_pending()

    @work(exclusive=True, group="feed")
    async def show_pending(self) -> None:
        """The new posts slide in at the top and the view jumps there, the newest selected."""
        ids = self.pending
        self.set_pending([])
        feed = self.feed_list
        feed.scroll_home(animate=False)
        await self._insert_at_top(ids)
        feed.scroll_home(animate=False)
        cards = feed.cards()
        if cards and self.app.screen is self:
            cards[0].focus(scroll_visible=False)

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

    def action_toggle_tab(self) -> None:
        self.action_tab("latest" if self.popular else "popular")

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
