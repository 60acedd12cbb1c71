"""Media in and out: ingesting MKV into fragments, live feeds, and the GetMedia read loop.

Timestamps follow KVS: the server timestamp is when a fragment started arriving, the
producer timestamp is the producer's clock (here: when the media would have been recorded),
both epoch seconds. The continuation token KVS sends equals the fragment number, and so
does ours. Fragment layout on the wire is :func:`kvs_async.mkv.writer.kvs_fragment`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from pathlib import Path

from attrs import define

from ..mkv import writer
from ..producer.cutter import CutError, CutFragment, FragmentCutter
from .storage import Clock, FragmentNumbers, FragmentRecord, StreamMedia

#: How long after the producer timestamp the server timestamp is (ingestion latency).
INGEST_LATENCY = 0.25
#: Used for pacing a live feed when a fragment reports no duration.
DEFAULT_FRAGMENT_MS = 1000
SEGMENT_ID = 0x18538067


class MediaFormatError(ValueError):
    """The bytes given as media are not an MKV stream we can cut into fragments."""


def split_media(data: bytes) -> list[writer.SourceFragment]:
    """Cut MKV bytes into per-Cluster fragments, or raise :class:`MediaFormatError`."""
    if not data:
        raise MediaFormatError("empty media: expected MKV bytes (EBML header, Segment, Clusters)")
    try:
        frags = writer.split_fragments(data)
    except Exception as exc:  # the parser's own error family, plus anything odd it raises
        raise MediaFormatError(f"malformed MKV: {exc}") from exc
    if not frags:
        raise MediaFormatError("MKV holds no Cluster: nothing to store as a fragment")
    return list(frags)


def cut_media(data: bytes) -> tuple[list[writer.SourceFragment], list[CutFragment] | None]:
    """Fragments of ``data`` with what the producer wrote around each Cluster (its Tags...).

    Durations come from the next Cluster's timecode (``split_media``); the exact bytes around
    each Cluster from the cutter. None for the latter if the two disagree on the Clusters.
    """
    sources = split_media(data)
    cutter = FragmentCutter(max_fragment_size=max(len(data), 1))
    try:
        events = cutter.feed(data) + cutter.close()
    except CutError:
        return sources, None
    cuts = [e for e in events if isinstance(e, CutFragment)]
    if len(cuts) != len(sources):
        return sources, None
    return sources, cuts


def read_source(source: bytes | str | Path) -> bytes:
    """Bytes of a media source given as bytes or a file path (call off the event loop)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    return Path(source).read_bytes()


def build_records(
    sources: Sequence[writer.SourceFragment],
    *,
    numbers: FragmentNumbers,
    server_start: float,
    producer_start: float,
    cuts: Sequence[CutFragment] | None = None,
) -> list[FragmentRecord]:
    """Number and timestamp source fragments laid end to end from the given starts."""
    records = []
    offset = 0.0
    for i, src in enumerate(sources):
        cut = cuts[i] if cuts is not None else None
        server_ts = round(server_start + offset, 3)
        records.append(
            FragmentRecord(
                number=numbers.next(server_ts),
                server_ts=server_ts,
                producer_ts=round(producer_start + offset, 3),
                duration_ms=int(src.duration_ms),
                timecode_ms=int(src.timecode_ms),
                keyframe_start=bool(src.keyframe_start),
                info=src.info,
                tracks=src.tracks,
                cluster=src.cluster if cut is None else cut.cluster,
                head=b"" if cut is None else cut.head,
                tail=b"" if cut is None else cut.tail,
            )
        )
        offset += max(int(src.duration_ms), 0) / 1000
    return records


def loaded_starts(
    sources: Sequence[writer.SourceFragment],
    media: StreamMedia,
    now: float,
    producer_start: float | None,
) -> tuple[float, float]:
    """Place loaded media so that it ends now, after anything already stored."""
    total = sum(max(int(s.duration_ms), 0) for s in sources) / 1000
    server_start = now - total
    last = media.last()
    if last is not None:
        server_start = max(server_start, last.server_ts + last.duration_ms / 1000 + 0.001)
    if producer_start is None:
        producer_start = server_start - INGEST_LATENCY
    return server_start, producer_start


def to_source(frag: FragmentRecord) -> writer.SourceFragment:
    return writer.SourceFragment(
        info=frag.info,
        tracks=frag.tracks,
        cluster=frag.cluster,
        timecode_ms=frag.timecode_ms,
        duration_ms=frag.duration_ms,
        keyframe_start=frag.keyframe_start,
    )


def ts_text(ts: float) -> str:
    """Epoch seconds with exactly three decimals, as in the KVS tags."""
    return f"{ts:.3f}"


def fragment_bytes(frag: FragmentRecord, *, now: float | None, with_token: bool = True) -> bytes:
    """One fragment as GetMedia sends it (``now=None``: no trailing Tags, archived style).

    Layout as KVS writes it: EBML header, unknown-size Segment, what the producer sent before
    its Cluster (Info, Tracks, producer Tags, ... as sent), the KVS Tags, the Cluster, what
    the producer sent after it, then the trailing KVS Tags.
    """
    out = [
        writer.ebml_header(),
        writer.unknown_size(SEGMENT_ID),
        frag.before_cluster,
        writer.kvs_tags(
            [
                ("AWS_KINESISVIDEO_FRAGMENT_NUMBER", frag.number_str),
                ("AWS_KINESISVIDEO_SERVER_TIMESTAMP", ts_text(frag.server_ts)),
                ("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", ts_text(frag.producer_ts)),
            ]
        ),
        frag.cluster,
        frag.tail,
    ]
    if now is not None:
        trailing = [
            ("AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", str(max(0, int((now - frag.server_ts) * 1000))))
        ]
        if with_token:
            trailing.append(("AWS_KINESISVIDEO_CONTINUATION_TOKEN", frag.number_str))
        out.append(writer.kvs_tags(trailing))
    return b"".join(out)


@define(frozen=True, slots=True, kw_only=True)
class StartPosition:
    """Where a GetMedia read begins: after fragment number ``after`` (-1: from the first)."""

    after: int
    #: For timestamp selectors past the newest fragment: the first acceptable start time.
    min_ts: float | None = None
    producer: bool = False


def resolve_start(
    media: StreamMedia,
    selector_type: str,
    *,
    after_fragment_number: str | None,
    start_timestamp: float | None,
    continuation_token: str | None,
) -> StartPosition:
    """Turn a StartSelector into a position; ValueError names what is missing or wrong."""
    last = media.last()
    newest = last.number if last is not None else -1
    if selector_type == "EARLIEST":
        return StartPosition(after=-1)
    if selector_type == "NOW":
        return StartPosition(after=newest)
    if selector_type == "FRAGMENT_NUMBER":
        if not after_fragment_number:
            raise ValueError("StartSelector FRAGMENT_NUMBER requires AfterFragmentNumber")
        return StartPosition(after=int(after_fragment_number) - 1)
    if selector_type == "CONTINUATION_TOKEN":
        if not continuation_token:
            raise ValueError("StartSelector CONTINUATION_TOKEN requires ContinuationToken")
        if not continuation_token.isdigit():
            raise ValueError(f"ContinuationToken {continuation_token!r} is not a valid token")
        return StartPosition(after=int(continuation_token))
    if selector_type in ("SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP"):
        if start_timestamp is None:
            raise ValueError(f"StartSelector {selector_type} requires StartTimestamp")
        producer = selector_type == "PRODUCER_TIMESTAMP"
        frag = media.at_timestamp(start_timestamp, producer=producer)
        if frag is not None:
            return StartPosition(after=frag.number - 1)
        return StartPosition(after=newest, min_ts=start_timestamp, producer=producer)
    raise ValueError(f"unknown StartSelectorType {selector_type!r}")


@define(slots=True, kw_only=True)
class ReadOutcome:
    """Why a GetMedia read loop stopped."""

    reason: str = "end"


async def iter_fragments(
    media: StreamMedia,
    start: StartPosition,
    *,
    clock: Clock,
    session_end_at: float,
    idle_timeout: float,
    is_gone: Callable[[], bool],
    outcome: ReadOutcome,
) -> AsyncGenerator[FragmentRecord, None]:
    """Fragments from ``start`` on, tailing new ones, until the session or the data ends.

    A stream with a live feed is tailed until the session ends; otherwise the read ends
    after ``idle_timeout`` seconds without a new fragment, as KVS ends a read that has
    caught up with a stream nobody is writing to.
    """
    cursor = start.after
    loop = asyncio.get_running_loop()
    end_mono = loop.time() + max(0.0, session_end_at - clock.now())
    while True:
        if loop.time() >= end_mono:
            outcome.reason = "session_end"
            return
        event = media.change_event()
        frag = media.after(cursor)
        if frag is not None:
            cursor = frag.number
            if start.min_ts is not None:
                ts = frag.producer_ts if start.producer else frag.server_ts
                if ts < start.min_ts:
                    continue
            yield frag
            continue
        if is_gone():
            outcome.reason = "stream_deleted"
            return
        timeout = end_mono - loop.time()
        if not media.live:
            timeout = min(timeout, idle_timeout)
        try:
            await asyncio.wait_for(event.wait(), timeout=max(timeout, 0.0))
        except TimeoutError:
            if not media.live and loop.time() < end_mono:
                outcome.reason = "idle"
                return


@define(slots=True, kw_only=True, eq=False)
class LiveFeed:
    """A task appending the fragments of a looping source at real-time pace."""

    stream_name: str
    sources: list[writer.SourceFragment]
    loop: bool
    speed: float
    task: asyncio.Task[None] | None = None
    appended: int = 0

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


async def run_live(
    feed: LiveFeed,
    *,
    media: StreamMedia,
    clock: Clock,
    numbers: FragmentNumbers,
    append: Callable[[list[FragmentRecord]], Awaitable[None]],
) -> None:
    """Append each source fragment when it would have finished arriving, looping if asked."""
    loop = asyncio.get_running_loop()
    start_mono = loop.time()
    start_wall = clock.now()
    elapsed = 0.0  # media seconds since start
    try:
        while True:
            for src in feed.sources:
                dur = (src.duration_ms if src.duration_ms > 0 else DEFAULT_FRAGMENT_MS) / 1000
                producer_ts = start_wall + elapsed / feed.speed
                due = start_mono + (elapsed + dur) / feed.speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                server_ts = round(producer_ts + min(INGEST_LATENCY, dur / 2), 3)
                record = FragmentRecord(
                    number=numbers.next(server_ts),
                    server_ts=server_ts,
                    producer_ts=round(producer_ts, 3),
                    duration_ms=int(src.duration_ms),
                    timecode_ms=int(src.timecode_ms),
                    keyframe_start=bool(src.keyframe_start),
                    info=src.info,
                    tracks=src.tracks,
                    cluster=src.cluster,
                )
                await append([record])
                feed.appended += 1
                elapsed += dur
            if not feed.loop:
                return
    finally:
        media.live = False
        media.notify()
