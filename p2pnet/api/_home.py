"""A node's home directory: where its identity, database and socket live.

One daemon owns one home.  ``--home`` beats ``P2PNET_HOME``, which beats the
platform's per-user data directory.
"""

from __future__ import annotations

import fcntl
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import platformdirs

__all__ = ["Home", "HomeLocked", "resolve_home", "write_private"]


class HomeLocked(RuntimeError):
    """Another daemon already owns this home."""


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The home directory to use, from the argument, the environment, or the platform default."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("P2PNET_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir("p2pnet", appauthor=False)).resolve()


@dataclass(frozen=True)
class Home:
    """Paths inside one home directory."""

    root: Path

    @property
    def identity(self) -> Path:
        return self.root / "identity.json"

    @property
    def database(self) -> Path:
        return self.root / "node.sqlite3"

    @property
    def socket(self) -> Path:
        return self.root / "control.sock"

    @property
    def lock(self) -> Path:
        return self.root / "daemon.lock"

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    def command(self, *words: str) -> str:
        """The ``p2pnet`` command line that runs ``words`` on this home, as a user would type it.

        ``--home`` goes before the command, and only when this is not the
        home ``p2pnet`` finds by itself.
        """
        home = () if self.root == resolve_home(None) else ("--home", shlex.quote(str(self.root)))
        return " ".join(("p2pnet", *home, *words))

    def create(self) -> None:
        """Make the directory, private to this user."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def acquire_lock(self) -> IO[str]:
        """Take the daemon lock; keep the returned file open for as long as the daemon runs.

        Raises:
            HomeLocked: another daemon holds it.
        """
        self.create()
        handle = open(self.lock, "a+")  # noqa: SIM115 - held for the daemon's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise HomeLocked(f"another p2pnet daemon is already running for {self.root}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return handle

    def write_private(self, path: Path, data: bytes) -> None:
        """Write ``data`` atomically to ``path`` with mode 0600: never half-written."""
        write_private(path, data)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically to ``path`` with mode 0600 (temporary file, fsync, rename): never half-written.

    Raises:
        OSError: it cannot be written.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
