"""The app's screens, one module per screen."""

from .activity import ActivityScreen
from .boot import BootScreen
from .compose import ComposeScreen
from .conversation import ConversationScreen, MessageScreen
from .dialogs import ConfirmDialog, FlagDialog
from .feed import FeedList, FeedScreen
from .help import HelpScreen
from .identity import BackupPhraseScreen, CreateIdentityScreen, RestoreIdentityScreen, UnlockScreen
from .inbox import InboxScreen
from .invite import AnnounceDialog, InviteScreen
from .mutes import MutesScreen
from .peers import PeersScreen
from .search import SearchScreen
from .swarms import SwarmsScreen
from .thread import ThreadScreen

__all__ = [
    "ActivityScreen",
    "AnnounceDialog",
    "BackupPhraseScreen",
    "BootScreen",
    "ComposeScreen",
    "ConfirmDialog",
    "ConversationScreen",
    "CreateIdentityScreen",
    "FeedList",
    "FeedScreen",
    "FlagDialog",
    "HelpScreen",
    "InboxScreen",
    "InviteScreen",
    "MessageScreen",
    "MutesScreen",
    "PeersScreen",
    "RestoreIdentityScreen",
    "SearchScreen",
    "SwarmsScreen",
    "ThreadScreen",
    "UnlockScreen",
]
