"""The app's screens, one module per screen."""

from .boot import BootScreen
from .compose import ComposeScreen
from .dialogs import ConfirmDialog, FlagDialog
from .feed import FeedList, FeedScreen
from .help import HelpScreen
from .identity import BackupPhraseScreen, CreateIdentityScreen, RestoreIdentityScreen, UnlockScreen
from .invite import AnnounceDialog, InviteScreen
from .mutes import MutesScreen
from .peers import PeersScreen
from .search import SearchScreen
from .swarms import SwarmsScreen
from .thread import ThreadScreen

__all__ = [
    "AnnounceDialog",
    "BackupPhraseScreen",
    "BootScreen",
    "ComposeScreen",
    "ConfirmDialog",
    "CreateIdentityScreen",
    "FeedList",
    "FeedScreen",
    "FlagDialog",
    "HelpScreen",
    "InviteScreen",
    "MutesScreen",
    "PeersScreen",
    "RestoreIdentityScreen",
    "SearchScreen",
    "SwarmsScreen",
    "ThreadScreen",
    "UnlockScreen",
]
