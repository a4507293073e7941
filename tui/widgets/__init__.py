"""Small widgets; each keeps its own DEFAULT_CSS."""

from .cards import NewPostsBar, PostCard, ReplyRow, SearchResult
from .feed import FeedList
from .footer import AppFooter
from .header import AppHeader
from .inputs import InviteInput
from .qr import QRCode

__all__ = [
    "AppFooter",
    "AppHeader",
    "FeedList",
    "InviteInput",
    "NewPostsBar",
    "PostCard",
    "QRCode",
    "ReplyRow",
    "SearchResult",
]
