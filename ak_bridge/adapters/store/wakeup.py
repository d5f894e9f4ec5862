"""Waking the workers on one box: a FIFO per waiting worker beside the SQLite file.

PostgreSQL has LISTEN/NOTIFY; SQLite has nothing across processes, and serve and worker are
separate processes. Each waiting worker makes ``<database>.wake/<pid>`` (a named pipe) and
selects on it; whoever commits due deliveries writes one byte into every pipe there, never
blocking (a pipe whose reader is gone is removed). The interval sweep stays as the fallback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
from pathlib import Path


class FifoWaker:
    def __init__(self, database: Path) -> None:
        self.dir = database.with_name(database.name + ".wake")
        self._read: int | None = None
        self._keep: int | None = None

    def signal(self) -> None:
        """Wake every worker waiting on this database (cheap when none is)."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return
        for name in names:
            path = self.dir / name
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # nobody reads it: its worker is gone
                    with contextlib.suppress(OSError):
                        path.unlink()
                continue
            try:
                os.write(fd, b"!")
            except OSError:
                pass  # full: that worker has a wake-up pending already
            finally:
                os.close(fd)

    def wait(self, timeout: float) -> bool:
        if self._read is None:
            self._open()
        assert self._read is not None
        ready, _, _ = select.select([self._read], [], [], timeout)
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass
        return True

    def _open(self) -> None:
        self.dir.mkdir(mode=0o700, exist_ok=True)
        path = self.dir / str(os.getpid())
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.mkfifo(path, 0o600)
        self._read = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        # our own writer keeps the pipe from reading end-of-file between wake-ups
        self._keep = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
