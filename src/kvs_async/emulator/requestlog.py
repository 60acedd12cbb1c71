"""What the emulator saw: one entry per API call and per GetMedia connection open/close.

Tests assert on it (``emu.log.calls(operation="GetMedia", stream="cam")``) and can wait
for an event that happens on the server side (``await emu.log.wait_for(...)``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from attrs import define

EntryKind = Literal["call", "open", "close"]


@define(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """One event.

    ``kind`` is ``call`` (a completed request/response, or the response headers of a
    streaming call), ``open`` (a media stream started) or ``close`` (it ended, with
    ``bytes_sent``, ``fragments_sent`` and the ``reason``: ``end`` (a fragment list was
    sent), ``session_end`` (the session duration ran out), ``idle`` (caught up with a stream
    without a live feed), ``stream_deleted``, ``error_tag``, ``fault_cut``, ``client_gone``,
    ``server_error``). ``time`` is the emulator clock (epoch seconds).
    """

    kind: EntryKind
    time: float
    operation: str
    stream: str | None
    status: int
    request_id: str
    error_code: str | None = None
    bytes_sent: int = 0
    fragments_sent: int = 0
    reason: str | None = None
    access_key: str | None = None


class RequestLog:
    """An append-only list of :class:`LogEntry` with filters and a waiter."""

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self.entries: list[LogEntry] = []
        self.max_entries = max_entries
        self._changed = asyncio.Event()

    def add(self, entry: LogEntry) -> None:
        self.entries.append(entry)
        if len(self.entries) > self.max_entries:
            del self.entries[: len(self.entries) - self.max_entries]
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def clear(self) -> None:
        self.entries.clear()

    def _select(self, kind: EntryKind, operation: str | None, stream: str | None) -> list[LogEntry]:
        return [
            e
            for e in self.entries
            if e.kind == kind
            and (operation is None or e.operation == operation)
            and (stream is None or e.stream == stream)
        ]

    def calls(self, operation: str | None = None, stream: str | None = None) -> list[LogEntry]:
        """Completed calls (any status), oldest first."""
        return self._select("call", operation, stream)

    def opens(self, operation: str | None = None, stream: str | None = None) -> list[LogEntry]:
        return self._select("open", operation, stream)

    def closes(self, operation: str | None = None, stream: str | None = None) -> list[LogEntry]:
        """Media connections that ended, with ``bytes_sent`` and ``reason``."""
        return self._select("close", operation, stream)

    async def wait_for(
        self, predicate: Callable[[LogEntry], bool], *, timeout: float = 10.0
    ) -> LogEntry:
        """The first entry (already logged or future) matching ``predicate``."""
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                event = self._changed
                for entry in self.entries[seen:]:
                    if predicate(entry):
                        return entry
                seen = len(self.entries)
                await event.wait()
