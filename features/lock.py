"""One writer per store: an OS lock (``flock``) on the store's ``writer.lock``.

The kernel releases the lock when the holder's process ends, however it ends (``kill -9``
too), so a lock is never stale; the file holds the holder's pid for the message a second
writer gets. Readers never take it. The file is removed when the writer finishes, so that a
finished store holds only its data.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from avemo.errors import StoreLockedError
from avemo.features.schema import LOCK_FILE


class StoreLock:
    """The writer lock of the store folder ``root``: :meth:`acquire`, then :meth:`release`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> "StoreLock":
        """Take the lock at once, or raise :class:`StoreLockedError` naming the store and the
        pid of the process that holds it."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise StoreLockedError(
                    f"store {self.root} is being written by another process (pid {holder}): one writer per "
                    "store. Wait for it to finish (or stop it), then re-run; it resumes where that one left "
                    "off. Reading the store meanwhile is safe.") from None
            # A writer that finished between our open and our lock removed the file we opened:
            # lock the file that is there now instead.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:  # a full disk: the pid is only for the message, the lock holds without it
            pass
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and release the lock (no-op when not held)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
