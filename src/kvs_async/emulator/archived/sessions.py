"""HLS and DASH streaming sessions: which fragments a session shows, in which order, until when.

A session is created by GetHLSStreamingSessionURL / GetDASHStreamingSessionURL and named by
an unguessable ``SessionToken``. Every fragment gets a session sequence number when the
session first shows it; playlists and manifests are windows over that sequence:

- ``ON_DEMAND``: the oldest ``max_results`` fragments of the range, fixed at creation.
- ``LIVE``: the newest ``max_results`` fragments; a fragment older than the newest one
  already shown is never added (KVS does not fill gaps).
- ``LIVE_REPLAY``: fragments of the range from its start, each added once the session has
  run as long as the media before it lasts; ends when an ``EndTimestamp`` is reached.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from attrs import define, field

from ..storage import FragmentRecord, StreamMedia

#: KVS: a LIVE session needs a fragment from the last 30 seconds.
LIVE_WINDOW_SECONDS = 30.0
#: ON_DISCONTINUITY marks a gap or overlap of more than this.
DISCONTINUITY_MS = 50
MAX_RANGE_SECONDS = 24 * 3600


def timestamp_of(frag: FragmentRecord, producer: bool) -> float:
    return frag.producer_ts if producer else frag.server_ts


def select_range(
    media: StreamMedia, *, producer: bool, start: float, end: float | None
) -> list[FragmentRecord]:
    """Fragments whose start timestamp is in ``[start, end]``, in timestamp order.

    With producer timestamps, of fragments sharing a start timestamp only the newest
    (largest fragment number) is kept, as KVS documents.
    """
    picked = [
        f
        for f in media.fragments
        if timestamp_of(f, producer) >= start and (end is None or timestamp_of(f, producer) <= end)
    ]
    picked.sort(key=lambda f: (timestamp_of(f, producer), f.number))
    if producer:
        unique: dict[float, FragmentRecord] = {}
        for frag in picked:
            unique[frag.producer_ts] = frag  # the later (larger number) wins
        picked = list(unique.values())
    return picked


@define(slots=True, kw_only=True, eq=False)
class Session:
    """One streaming session's parameters and the fragments it has shown so far."""

    kind: str  # "HLS" or "DASH"
    stream_name: str
    media: StreamMedia
    mode: str
    producer: bool
    start: float | None
    end: float | None
    container: str
    discontinuity: str
    display_timestamp: bool
    display_number: bool
    max_results: int
    created: float
    expires_at: float
    token: str = field(factory=lambda: secrets.token_urlsafe(48))
    origin_ms: int = 0
    shown: list[FragmentRecord] = field(factory=list)
    by_number: dict[int, int] = field(factory=dict)  # fragment number -> sequence number
    #: LIVE_REPLAY: the fragments of the range not yet shown, oldest first.
    pending: list[FragmentRecord] = field(factory=list)
    replay_origin: float = 0.0

    def _show(self, frags: Sequence[FragmentRecord]) -> None:
        for frag in frags:
            if frag.number not in self.by_number:
                self.by_number[frag.number] = len(self.shown)
                self.shown.append(frag)

    def begin(self, frags: Sequence[FragmentRecord]) -> None:
        """Fix the first fragments (creation time) and the media timeline's origin."""
        if self.mode == "LIVE_REPLAY":
            self.pending = list(frags)
            self.replay_origin = timestamp_of(frags[0], self.producer)
            first = frags[0]
        elif self.mode == "LIVE":
            self._show(frags[-self.max_results :])
            first = self.shown[0]
        else:
            self._show(frags[: self.max_results])
            first = self.shown[0]
        # Hour-aligned (and 10 s early, so no decode timestamp goes negative): sessions that
        # start within the same hour share remuxed fragments, and media times stay below
        # MPEG-TS's 26.5 h wrap for any session range (at most 24 h).
        first_ts = timestamp_of(first, self.producer)
        self.origin_ms = int((first_ts - 10) // 3600 * 3600 * 1000)

    def _newer(self, last: FragmentRecord | None) -> list[FragmentRecord]:
        """Fragments stored after ``last`` (by number) that start later than it, in order.

        Reads the stream from its newest end, so a poll costs what is new, not its length.
        """
        newest = float("-inf") if last is None else timestamp_of(last, self.producer)
        fresh = []
        for frag in reversed(self.media.fragments):
            if last is not None and frag.number <= last.number:
                break
            if timestamp_of(frag, self.producer) > newest:
                fresh.append(frag)
        fresh.sort(key=lambda f: (timestamp_of(f, self.producer), f.number))
        return fresh

    def refresh(self, now: float) -> None:
        """Add what a player asking now would see (LIVE and LIVE_REPLAY)."""
        if self.mode == "LIVE":
            self._show(self._newer(self.shown[-1] if self.shown else None))
        elif self.mode == "LIVE_REPLAY":
            if self.end is None:
                last = self.pending[-1] if self.pending else self.shown[-1] if self.shown else None
                self.pending.extend(self._newer(last))
            elapsed = now - self.created
            due = 0
            while due < len(self.pending) and (
                timestamp_of(self.pending[due], self.producer) - self.replay_origin <= elapsed
            ):
                due += 1
            self._show(self.pending[:due])
            del self.pending[:due]

    def window(self) -> tuple[int, list[FragmentRecord]]:
        """(sequence number of the first, fragments) a playlist or manifest lists now."""
        if self.mode == "ON_DEMAND":
            return 0, list(self.shown)
        first = max(0, len(self.shown) - self.max_results)
        return first, self.shown[first:]

    @property
    def ended(self) -> bool:
        """No fragment will ever be added (an ENDLIST / static manifest)."""
        if self.mode == "ON_DEMAND":
            return True
        if self.mode == "LIVE_REPLAY":
            return self.end is not None and not self.pending
        return False

    def start_ms(self, frag: FragmentRecord) -> int:
        """Where ``frag`` starts on this session's media timeline (ms)."""
        return int(timestamp_of(frag, self.producer) * 1000) - self.origin_ms

    def discontinuous(self, prev: FragmentRecord, frag: FragmentRecord) -> bool:
        if self.discontinuity == "ALWAYS":
            return True
        if self.discontinuity == "NEVER":
            return False
        expected = self.start_ms(prev) + prev.duration_ms
        return abs(self.start_ms(frag) - expected) > DISCONTINUITY_MS

    def discontinuities_before(self, seq: int) -> int:
        """How many discontinuity markers precede sequence number ``seq`` (for live windows)."""
        if self.discontinuity == "NEVER":
            return 0
        if self.discontinuity == "ALWAYS":
            return seq
        return sum(
            1 for i in range(1, seq + 1) if self.discontinuous(self.shown[i - 1], self.shown[i])
        )
