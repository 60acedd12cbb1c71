"""Checkpoints in one SQLite file: the embedded default, shared by processes on one host.

WAL journaling with ``synchronous=FULL``: a save has reached the disk when it
returns, so it survives SIGKILL (and power loss); readers never block the writer,
and concurrent writers wait on SQLite's lock (``timeout``) instead of failing.
The blocking sqlite3 calls run on one private thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, TypeVar

from ..errors import CoordinationError
from . import Checkpoint, _StoreBase

__all__ = ["SqliteCheckpoints"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer TEXT NOT NULL,
    stream TEXT NOT NULL,
    continuation_token TEXT,
    fragment_number TEXT,
    fence INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (consumer, stream)
) WITHOUT ROWID
"""

_COLUMNS = "consumer, stream, continuation_token, fragment_number, fence, updated_at"

_PUT = f"""
INSERT INTO checkpoints ({_COLUMNS}) VALUES (?, ?, ?, ?, 0, ?)
ON CONFLICT (consumer, stream) DO UPDATE SET
    continuation_token = excluded.continuation_token,
    fragment_number = excluded.fragment_number,
    updated_at = excluded.updated_at
"""


def _cas(claim: bool) -> str:
    """Write iff the writer's fence is at least the stored one; a claim keeps the position."""
    keep = "checkpoints.continuation_token" if claim else "excluded.continuation_token"
    keep_fragment = "checkpoints.fragment_number" if claim else "excluded.fragment_number"
    return f"""
INSERT INTO checkpoints ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (consumer, stream) DO UPDATE SET
    continuation_token = {keep},
    fragment_number = {keep_fragment},
    fence = excluded.fence,
    updated_at = excluded.updated_at
WHERE excluded.fence >= checkpoints.fence
"""


_CAS_SAVE = _cas(claim=False)
_CAS_CLAIM = _cas(claim=True)


class SqliteCheckpoints(_StoreBase):
    """A :class:`~kvs_async.CheckpointStore` in the SQLite file at ``path`` (created if missing)."""

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 30.0,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        self.path = Path(path)
        self._timeout = timeout
        self._synchronous = synchronous
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kvs-checkpoints")
        self._db: sqlite3.Connection | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SqliteCheckpoints({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            db.execute(_SCHEMA)
            self._db = db
        return self._db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: work(self._connect()))
        except sqlite3.OperationalError as exc:  # locked past the timeout, disk full, ...
            raise CoordinationError(f"checkpoint file {str(self.path)!r}: {exc}") from exc

    async def get(self, consumer: str, stream: str) -> Checkpoint | None:
        def work(db: sqlite3.Connection) -> Checkpoint | None:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM checkpoints WHERE consumer = ? AND stream = ?",
                (consumer, stream),
            ).fetchone()
            return _row(row) if row else None

        return await self._run(work)

    async def put(
        self,
        consumer: str,
        stream: str,
        *,
        continuation_token: str | None,
        fragment_number: str | None = None,
    ) -> None:
        params = (consumer, stream, continuation_token, fragment_number, time.time())
        await self._run(lambda db: db.execute(_PUT, params))

    async def compare_and_set(
        self,
        consumer: str,
        stream: str,
        *,
        fence: int,
        continuation_token: str | None = None,
        fragment_number: str | None = None,
    ) -> bool:
        claim = continuation_token is None and fragment_number is None
        params = (consumer, stream, continuation_token, fragment_number, fence, time.time())

        sql = _CAS_CLAIM if claim else _CAS_SAVE
        return await self._run(lambda db: db.execute(sql, params).rowcount == 1)

    async def list(self, consumer: str) -> list[Checkpoint]:
        def work(db: sqlite3.Connection) -> list[Checkpoint]:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM checkpoints WHERE consumer = ? ORDER BY stream",
                (consumer,),
            ).fetchall()
            return [_row(r) for r in rows]

        return await self._run(work)

    async def close(self) -> None:
        if self._closed:
            return

        def work(db: sqlite3.Connection) -> None:
            db.close()

        if self._db is not None:
            await self._run(work)
            self._db = None
        self._closed = True
        self._executor.shutdown(wait=False)


def _row(row: tuple[str, str, str | None, str | None, int, float]) -> Checkpoint:
    consumer, stream, token, fragment, fence, updated = row
    return Checkpoint(
        consumer=consumer,
        stream=stream,
        continuation_token=token,
        fragment_number=fragment,
        fence=int(fence),
        updated_at=float(updated),
    )
