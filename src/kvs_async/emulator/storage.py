"""Where the emulator keeps streams and fragments: in memory, optionally backed by a directory.

Every fragment lives in memory (GetMedia never touches the disk). With a data directory,
media bytes are appended to one file per stream and fsynced, then the fragment rows are
committed to SQLite (WAL, ``synchronous=FULL``); only after that commit is a write
acknowledged, so a kill -9 at any moment loses nothing that was acknowledged. Bytes
appended without a committed row are ignored on restart. All disk work runs on one
dedicated thread so the event loop never blocks on it.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from attrs import define, field

T = TypeVar("T")

#: KVS fragment numbers are 47-digit decimal strings; ours start with the same 11 digits.
_NUMBER_BASE = 91343852333 * 10**36
_MS_FACTOR = 10**20


class Clock:
    """Wall-clock seconds with an adjustable offset, so tests can age data (retention)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class FragmentNumbers:
    """Strictly increasing 47-digit fragment numbers derived from the server time (loop-only)."""

    def __init__(self) -> None:
        self._last = _NUMBER_BASE

    def observe(self, number: int) -> None:
        self._last = max(self._last, number)

    def next(self, server_ts: float) -> int:
        # Low-order digits vary like KVS's do; order still follows the server time.
        candidate = _NUMBER_BASE + int(server_ts * 1000) * _MS_FACTOR
        candidate += secrets.randbelow(_MS_FACTOR // 2)
        self._last = max(candidate, self._last + 1)
        return self._last


@define(slots=True, kw_only=True, eq=False)
class FragmentRecord:
    """One stored fragment: the producer's Info/Tracks/Cluster bytes plus KVS metadata."""

    number: int
    server_ts: float
    producer_ts: float
    duration_ms: int
    timecode_ms: int
    keyframe_start: bool
    info: bytes = field(repr=False)
    tracks: bytes = field(repr=False)
    cluster: bytes = field(repr=False)
    #: The producer's level-1 elements before the Cluster, exactly as sent (Info and Tracks
    #: among them); empty: Info + Tracks. ``tail``: those after the Cluster (producer Tags...).
    head: bytes = field(default=b"", repr=False)
    tail: bytes = field(default=b"", repr=False)

    @property
    def number_str(self) -> str:
        return str(self.number)

    @property
    def before_cluster(self) -> bytes:
        return self.head or self.info + self.tracks

    @property
    def size(self) -> int:
        return (
            len(self.info) + len(self.tracks) + len(self.cluster) + len(self.head) + len(self.tail)
        )


class StreamMedia:
    """The ordered fragments of one stream, with a wake-up for readers tailing it."""

    def __init__(self) -> None:
        self.fragments: list[FragmentRecord] = []
        self._numbers: list[int] = []
        self._changed = asyncio.Event()
        self.live = False

    def __len__(self) -> int:
        return len(self.fragments)

    def append(self, frags: Iterable[FragmentRecord]) -> None:
        added = False
        for frag in frags:
            if self._numbers and frag.number <= self._numbers[-1]:
                idx = bisect.bisect_left(self._numbers, frag.number)
                if idx < len(self._numbers) and self._numbers[idx] == frag.number:
                    continue
                self._numbers.insert(idx, frag.number)
                self.fragments.insert(idx, frag)
            else:
                self._numbers.append(frag.number)
                self.fragments.append(frag)
            added = True
        if added:
            self.notify()

    def notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def change_event(self) -> asyncio.Event:
        """The event the next change sets (grab it *before* checking for data)."""
        return self._changed

    def after(self, number: int) -> FragmentRecord | None:
        """The first fragment whose number is greater than ``number``."""
        idx = bisect.bisect_right(self._numbers, number)
        return self.fragments[idx] if idx < len(self.fragments) else None

    def find(self, number: int) -> FragmentRecord | None:
        idx = bisect.bisect_left(self._numbers, number)
        if idx < len(self._numbers) and self._numbers[idx] == number:
            return self.fragments[idx]
        return None

    def first(self) -> FragmentRecord | None:
        return self.fragments[0] if self.fragments else None

    def last(self) -> FragmentRecord | None:
        return self.fragments[-1] if self.fragments else None

    def at_timestamp(self, ts: float, *, producer: bool) -> FragmentRecord | None:
        """The fragment containing ``ts``, else the first one starting after it."""
        for frag in self.fragments:
            start = frag.producer_ts if producer else frag.server_ts
            if start <= ts < start + frag.duration_ms / 1000 or start >= ts:
                return frag
        return None

    def drop_older_than(self, cutoff: float) -> list[FragmentRecord]:
        """Remove fragments whose server timestamp is before ``cutoff``; return them."""
        keep = 0
        while keep < len(self.fragments) and self.fragments[keep].server_ts < cutoff:
            keep += 1
        dropped = self.fragments[:keep]
        if dropped:
            del self.fragments[:keep]
            del self._numbers[:keep]
            self.notify()
        return dropped


@define(slots=True, kw_only=True)
class LoadedState:
    """What a data directory held at start-up."""

    resources: list[dict[str, Any]] = field(factory=list)
    fragments: dict[str, list[FragmentRecord]] = field(factory=dict)


class Persistence:
    """No persistence: the in-memory default. Subclasses write through to disk."""

    async def open(self) -> LoadedState:
        return LoadedState()

    async def put_resource(self, arn: str, kind: str, body: dict[str, Any]) -> None:
        return None

    async def delete_resource(self, arn: str) -> None:
        return None

    async def add_fragments(self, stream_arn: str, frags: Sequence[FragmentRecord]) -> None:
        return None

    async def drop_fragments(self, stream_arn: str, numbers: Sequence[int]) -> None:
        return None

    async def close(self) -> None:
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    arn TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fragments (
    stream_arn TEXT NOT NULL,
    number TEXT NOT NULL,
    server_ts REAL NOT NULL,
    producer_ts REAL NOT NULL,
    duration_ms INTEGER NOT NULL,
    timecode_ms INTEGER NOT NULL,
    keyframe_start INTEGER NOT NULL,
    file TEXT NOT NULL,
    offset INTEGER NOT NULL,
    info_len INTEGER NOT NULL,
    tracks_len INTEGER NOT NULL,
    cluster_len INTEGER NOT NULL,
    head_len INTEGER NOT NULL DEFAULT 0,
    tail_len INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_arn, number)
);
"""
#: Columns added after the first schema: (name, declaration) for ALTER TABLE on old files.
_ADDED_COLUMNS = (
    ("head_len", "INTEGER NOT NULL DEFAULT 0"),
    ("tail_len", "INTEGER NOT NULL DEFAULT 0"),
)


class SqlitePersistence(Persistence):
    """SQLite (WAL, synchronous=FULL) for metadata, one append-only, fsynced file per stream."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.media_dir = self.data_dir / "media"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kvs-emu-disk")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("persistence is not open")
        return self._db

    async def open(self) -> LoadedState:
        return await self._run(self._open_sync)

    def _open_sync(self) -> LoadedState:
        self.media_dir.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.data_dir / "emulator.sqlite3", check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        have = {row[1] for row in db.execute("PRAGMA table_info(fragments)")}
        for name, decl in _ADDED_COLUMNS:
            if name not in have:
                db.execute(f"ALTER TABLE fragments ADD COLUMN {name} {decl}")
        db.commit()
        self._db = db
        state = LoadedState()
        for (body,) in db.execute("SELECT body FROM resources ORDER BY rowid"):
            state.resources.append(json.loads(body))
        files: dict[str, bytes] = {}
        rows = db.execute(
            "SELECT stream_arn, number, server_ts, producer_ts, duration_ms, timecode_ms,"
            " keyframe_start, file, offset, info_len, tracks_len, cluster_len, head_len, tail_len"
            " FROM fragments"
        ).fetchall()
        for arn, number, sts, pts, dur, tc, key, fname, off, ilen, tlen, clen, hlen, xlen in rows:
            if fname not in files:
                path = self.media_dir / fname
                files[fname] = path.read_bytes() if path.exists() else b""
            blob = files[fname]
            end = off + ilen + tlen + clen
            if end + hlen + xlen > len(blob):
                continue  # cannot happen after fsync-before-commit; never serve torn bytes
            state.fragments.setdefault(arn, []).append(
                FragmentRecord(
                    number=int(number),
                    server_ts=sts,
                    producer_ts=pts,
                    duration_ms=dur,
                    timecode_ms=tc,
                    keyframe_start=bool(key),
                    info=blob[off : off + ilen],
                    tracks=blob[off + ilen : off + ilen + tlen],
                    cluster=blob[off + ilen + tlen : end],
                    head=blob[end : end + hlen],
                    tail=blob[end + hlen : end + hlen + xlen],
                )
            )
        for frags in state.fragments.values():
            frags.sort(key=lambda f: f.number)
        return state

    @staticmethod
    def media_file_name(stream_arn: str) -> str:
        return hashlib.sha256(stream_arn.encode()).hexdigest()[:24] + ".media"

    async def put_resource(self, arn: str, kind: str, body: dict[str, Any]) -> None:
        text = json.dumps(body, sort_keys=True)
        await self._run(self._put_resource_sync, arn, kind, text)

    def _put_resource_sync(self, arn: str, kind: str, text: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO resources(arn, kind, body) VALUES (?, ?, ?)"
                " ON CONFLICT(arn) DO UPDATE SET kind=excluded.kind, body=excluded.body",
                (arn, kind, text),
            )

    async def delete_resource(self, arn: str) -> None:
        await self._run(self._delete_resource_sync, arn)

    def _delete_resource_sync(self, arn: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM resources WHERE arn = ?", (arn,))
            self.db.execute("DELETE FROM fragments WHERE stream_arn = ?", (arn,))
        path = self.media_dir / self.media_file_name(arn)
        path.unlink(missing_ok=True)

    async def add_fragments(self, stream_arn: str, frags: Sequence[FragmentRecord]) -> None:
        if frags:
            await self._run(self._add_fragments_sync, stream_arn, list(frags))

    def _add_fragments_sync(self, stream_arn: str, frags: list[FragmentRecord]) -> None:
        fname = self.media_file_name(stream_arn)
        path = self.media_dir / fname
        rows = []
        with open(path, "ab") as fh:
            offset = fh.tell()
            for frag in frags:
                fh.write(frag.info)
                fh.write(frag.tracks)
                fh.write(frag.cluster)
                fh.write(frag.head)
                fh.write(frag.tail)
                rows.append(
                    (
                        stream_arn,
                        frag.number_str,
                        frag.server_ts,
                        frag.producer_ts,
                        frag.duration_ms,
                        frag.timecode_ms,
                        int(frag.keyframe_start),
                        fname,
                        offset,
                        len(frag.info),
                        len(frag.tracks),
                        len(frag.cluster),
                        len(frag.head),
                        len(frag.tail),
                    )
                )
                offset += frag.size
            fh.flush()
            os.fsync(fh.fileno())
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO fragments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    async def drop_fragments(self, stream_arn: str, numbers: Sequence[int]) -> None:
        if numbers:
            await self._run(self._drop_fragments_sync, stream_arn, [str(n) for n in numbers])

    def _drop_fragments_sync(self, stream_arn: str, numbers: list[str]) -> None:
        with self.db:
            self.db.executemany(
                "DELETE FROM fragments WHERE stream_arn = ? AND number = ?",
                [(stream_arn, n) for n in numbers],
            )

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        await asyncio.to_thread(self._executor.shutdown, wait=True)
