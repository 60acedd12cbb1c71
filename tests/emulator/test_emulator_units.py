"""The emulator's pure parts: fragment numbers, ordering, rate windows, the log, no blocking I/O."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from blockbuster import BlockBuster, blockbuster_ctx
from conftest import MKV_DIR
from emulator_testkit import call, get_media_bytes, put_media
from hypothesis import given, settings
from hypothesis import strategies as st

from kvs_async.emulator import Emulator
from kvs_async.emulator.faults import Faults
from kvs_async.emulator.requestlog import LogEntry, RequestLog
from kvs_async.emulator.storage import Clock, FragmentNumbers, FragmentRecord, StreamMedia
from kvs_async.emulator.throttle import RateLimiter
from kvs_async.mkv import writer
from kvs_async.producer.cutter import CutFragment, FragmentCutter


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=1e9, max_value=4e9), min_size=1, max_size=50))
def test_fragment_numbers_are_47_digits_and_strictly_increasing(times: list[float]) -> None:
    gen = FragmentNumbers()
    numbers = [gen.next(t) for t in times]
    assert all(len(str(n)) == 47 for n in numbers)
    assert all(a < b for a, b in itertools.pairwise(numbers))


def record(number: int, ts: float, dur: int = 1000) -> FragmentRecord:
    return FragmentRecord(
        number=number,
        server_ts=ts,
        producer_ts=ts - 0.25,
        duration_ms=dur,
        timecode_ms=0,
        keyframe_start=True,
        info=b"",
        tracks=b"",
        cluster=b"x",
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10**6), max_size=40))
def test_stream_media_keeps_number_order_and_ignores_duplicates(nums: list[int]) -> None:
    media = StreamMedia()
    for n in nums:
        media.append([record(n, float(n))])
    assert [f.number for f in media.fragments] == sorted(set(nums))
    for n in set(nums):
        assert media.find(n) is not None
        after = media.after(n)
        assert after is None or after.number == min(m for m in set(nums) if m > n)


def test_stream_media_time_lookup_and_retention() -> None:
    media = StreamMedia()
    media.append([record(i, 100.0 + i) for i in range(1, 6)])
    found = media.at_timestamp(103.5, producer=False)
    assert found is not None and found.number == 3
    found = media.at_timestamp(50.0, producer=True)
    assert found is not None and found.number == 1
    assert media.at_timestamp(500.0, producer=False) is None
    dropped = media.drop_older_than(103.0)
    assert [f.number for f in dropped] == [1, 2]
    assert [f.number for f in media.fragments] == [3, 4, 5]


def test_rate_limiter_sliding_window() -> None:
    clock = Clock()
    limiter = RateLimiter(5, clock=clock.now)
    assert [limiter.allow("s") for _ in range(6)] == [True] * 5 + [False]
    assert limiter.allow("other")
    clock.advance(0.5)
    assert not limiter.allow("s")
    clock.advance(0.51)
    assert limiter.allow("s")


def test_fault_matching_and_counts() -> None:
    faults = Faults()
    once = faults.http_500(operation="ListStreams")
    forever = faults.throttle(stream="a", times=None)
    assert faults.take("http_500", "DescribeStream", None) is None
    assert faults.take("http_500", "ListStreams", None) is once
    assert faults.take("http_500", "ListStreams", None) is None
    for _ in range(3):
        assert faults.take("throttle", "GetMedia", "a") is forever
    assert faults.take("throttle", "GetMedia", "b") is None
    media_cut = faults.cut_after(10)
    assert faults.take("cut", "ListFragments", None) is None
    assert faults.take("cut", "GetMediaForFragmentList", None) is media_cut
    faults.clear()
    assert faults.take("throttle", "GetMedia", "a") is None


async def test_request_log_wait_for() -> None:
    log = RequestLog()

    async def later() -> None:
        await asyncio.sleep(0.01)
        log.add(
            LogEntry(
                kind="close", time=1.0, operation="GetMedia", stream="s", status=200, request_id="r"
            )
        )

    task = asyncio.create_task(later())
    entry = await log.wait_for(lambda e: e.kind == "close", timeout=5)
    await task
    assert entry.stream == "s"
    assert log.closes("GetMedia", "s") == [entry]
    assert log.calls() == []


@pytest.fixture
def blockbuster() -> Iterator[BlockBuster]:
    with blockbuster_ctx() as bb:
        yield bb


async def test_no_blocking_io_on_the_event_loop(tmp_path: Path, blockbuster: BlockBuster) -> None:
    """With a data dir, every path (ingest, GetMedia, retention, close) keeps I/O off the loop."""
    sample = await asyncio.to_thread((MKV_DIR / "test_mixed_tags.mkv").read_bytes)
    async with Emulator(data_dir=tmp_path, idle_timeout=0.1) as emu:
        await emu.create_stream("s", retention_hours=1)
        acks = await put_media(emu, "s", sample)
        assert len(acks) == 10
        await emu.load_media("s", sample)
        body = await get_media_bytes(emu, "s", {"StartSelectorType": "EARLIEST"})
        assert body
        emu.clock.advance(7200)
        assert await emu.enforce_retention() == 20
        status, _, _ = await call(
            emu, "/deleteStream", {"StreamARN": emu.control.streams["s"]["StreamARN"]}
        )
        assert status == 200


def _cut_whole(data: bytes) -> list[bytes]:
    cutter = FragmentCutter(max_fragment_size=1 << 24)
    events = cutter.feed(data) + cutter.close()
    return [e.document for e in events if isinstance(e, CutFragment)]


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(["test_mixed_tags.mkv", "clusters.mkv"]),
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 21), max_size=12),
)
def test_stream_cutter_is_independent_of_how_bytes_arrive(name: str, cuts: list[int]) -> None:
    data = (MKV_DIR / name).read_bytes()
    points = sorted({c % (len(data) + 1) for c in cuts})
    cutter = FragmentCutter(max_fragment_size=1 << 24)
    docs: list[bytes] = []
    prev = 0
    for point in [*points, len(data)]:
        docs += [e.document for e in cutter.feed(data[prev:point]) if isinstance(e, CutFragment)]
        prev = point
    docs += [e.document for e in cutter.close() if isinstance(e, CutFragment)]
    assert docs == _cut_whole(data)
    # Every document is one fragment with the same Cluster bytes the splitter finds.
    assert [writer.split_fragments(d)[0].cluster for d in docs] == [
        s.cluster for s in writer.split_fragments(data)
    ]


def _walk(media: StreamMedia, after: int) -> list[int]:
    out = []
    frag = media.after(after)
    while frag is not None:
        out.append(frag.number)
        frag = media.after(frag.number)
    return out


@settings(max_examples=100, deadline=None)
@given(
    durations=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=12),
    kind=st.sampled_from(
        ["EARLIEST", "NOW", "FRAGMENT_NUMBER", "CONTINUATION_TOKEN", "SERVER_TIMESTAMP"]
    ),
    pick=st.integers(min_value=0, max_value=11),
    offset=st.floats(min_value=-10.0, max_value=10.0),
)
def test_start_selectors_against_a_reference(
    durations: list[int], kind: str, pick: int, offset: float
) -> None:
    from kvs_async.emulator.media import resolve_start

    media = StreamMedia()
    ts = 1000.0
    frags = []
    for i, dur in enumerate(durations):
        frags.append(record(10 + i * 7, ts, dur))
        ts += dur / 1000
    media.append(frags)
    numbers = [f.number for f in frags]
    k = pick % len(frags)
    target_ts = frags[k].server_ts + offset
    start = resolve_start(
        media,
        kind,
        after_fragment_number=str(numbers[k]),
        start_timestamp=target_ts,
        continuation_token=str(numbers[k]),
    )
    got = [n for n in _walk(media, start.after)]
    if kind == "EARLIEST":
        expected = numbers
    elif kind == "NOW":
        expected = []
    elif kind == "FRAGMENT_NUMBER":
        expected = numbers[k:]
    elif kind == "CONTINUATION_TOKEN":
        expected = numbers[k + 1 :]
    else:
        first = next(
            (
                i
                for i, f in enumerate(frags)
                if f.server_ts <= target_ts < f.server_ts + f.duration_ms / 1000
                or f.server_ts >= target_ts
            ),
            None,
        )
        expected = [] if first is None else numbers[first:]
    assert got == expected
