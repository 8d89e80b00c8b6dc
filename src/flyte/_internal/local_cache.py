"""The persistent cache of local mode: task outputs by cache key, in one SQLite file.

Outputs are stored as serialized ``flyteidl2.task.Outputs`` messages, the same bytes a control
plane would keep, so a cached value decodes exactly as it would remotely. Writes are buffered and
flushed in one transaction (at the end of a run, or when the buffer fills), because a fan-out of a
thousand cached children must not pay a thousand fsyncs.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

CACHE_DIR_ENV = "FLYTE_LOCAL_CACHE_DIR"
_FLUSH_EVERY = 500

__all__ = ["CACHE_DIR_ENV", "LocalCache", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$FLYTE_LOCAL_CACHE_DIR``, else ``~/.flyte/local-cache``."""
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override).expanduser() if override else Path.home() / ".flyte" / "local-cache"


class LocalCache:
    """A key/value store of serialized outputs, safe to share between processes.

    Example:
        >>> cache = LocalCache(Path("/tmp/flyte-cache-doc"))
        >>> cache.put("k", b"outputs")
        >>> cache.flush()
        >>> cache.get("k")
        b'outputs'
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_cache_dir()
        self._connection: sqlite3.Connection | None = None
        self._pending: dict[str, tuple[bytes, str, float]] = {}
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self.directory / "cache.db"

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS outputs ("
                " cache_key TEXT PRIMARY KEY, task_name TEXT NOT NULL, outputs BLOB NOT NULL, created_at REAL NOT NULL)"
            )
            self._connection = connection
        return self._connection

    def get(self, key: str, *, max_age_seconds: float | None = None) -> bytes | None:
        """The outputs stored under ``key``, or ``None`` (also when older than ``max_age_seconds``)."""
        with self._lock:
            pending = self._pending.get(key)
            if pending is not None:
                return pending[0]
            row = (
                self._connect()
                .execute("SELECT outputs, created_at FROM outputs WHERE cache_key = ?", (key,))
                .fetchone()
            )
        if row is None:
            return None
        if max_age_seconds is not None and time.time() - row[1] > max_age_seconds:
            return None
        return bytes(row[0])

    def put(self, key: str, outputs: bytes, *, task_name: str = "") -> None:
        """Store ``outputs`` under ``key`` (replacing what was there); written on the next flush."""
        with self._lock:
            self._pending[key] = (outputs, task_name, time.time())
            full = len(self._pending) >= _FLUSH_EVERY
        if full:
            self.flush()

    def flush(self) -> None:
        """Write buffered entries in one transaction."""
        with self._lock:
            if not self._pending:
                return
            rows = [(key, name, blob, created) for key, (blob, name, created) in self._pending.items()]
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR REPLACE INTO outputs (cache_key, task_name, outputs, created_at) VALUES (?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            self._pending.clear()

    def clear(self, task_name: str | None = None) -> int:
        """Delete every entry (or those of one task); returns how many were removed."""
        with self._lock:
            self._pending.clear()
            if not self.path.exists():
                return 0
            connection = self._connect()
            if task_name is None:
                cursor = connection.execute("DELETE FROM outputs")
            else:
                cursor = connection.execute("DELETE FROM outputs WHERE task_name = ?", (task_name,))
            return cursor.rowcount

    def close(self) -> None:
        """Flush and close the database."""
        self.flush()
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
