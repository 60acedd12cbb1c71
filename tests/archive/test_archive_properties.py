"""Properties of the pure parts: GetImages paging, iter_images windows, session fragment choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kvs_async.archive.mixin import _windows
from kvs_async.emulator.archived import images
from kvs_async.emulator.archived.sessions import Session, select_range
from kvs_async.emulator.storage import FragmentRecord, StreamMedia


@given(
    start=st.integers(0, 10**6),
    span=st.integers(0, 300_000),
    step=st.integers(200, 400_000),
    page=st.integers(1, 100),
)
@settings(max_examples=200, deadline=None)
def test_get_images_pages_cover_the_grid_once(start: int, span: int, step: int, page: int) -> None:
    params = {
        "ImageSelectorType": "SERVER_TIMESTAMP",
        "StartTimestamp": start / 1000,
        "EndTimestamp": (start + span) / 1000,
        "SamplingInterval": step,
        "Format": "JPEG",
        "MaxResults": page,
    }
    seen: list[int] = []
    token = None
    for _ in range(2000):
        req = images.parse_request({**params, **({"NextToken": token} if token else {})})
        got = req.instants_ms[req.first : req.first + req.page_size]
        assert 0 < len(got) <= min(page, images.PAGE_LIMIT)
        seen.extend(got)
        token = images.next_token(req)
        if token is None:
            break
    assert seen == list(range(start, start + span + 1, step))


@given(
    seconds=st.integers(0, 4000),
    interval=st.integers(200, 120_000),
    offset_us=st.integers(0, 999_999),
)
@settings(max_examples=200, deadline=None)
def test_iter_images_windows_tile_the_sampling_grid(
    seconds: int, interval: int, offset_us: int
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=offset_us)
    end = start + timedelta(seconds=seconds)
    step = timedelta(milliseconds=interval)
    grid: list[datetime] = []
    for lo, hi in _windows(start, end, interval):
        assert timedelta(0) <= hi - lo <= timedelta(seconds=300)
        t = lo
        while t <= hi:
            grid.append(t)
            t += step
    expected = []
    t = start
    while t <= end:
        expected.append(t)
        t += step
    assert grid == expected


def _frag(number: int, ts: float, dur: int = 1000) -> FragmentRecord:
    return FragmentRecord(
        number=number,
        server_ts=ts + 0.25,
        producer_ts=ts,
        duration_ms=dur,
        timecode_ms=0,
        keyframe_start=True,
        info=b"",
        tracks=b"",
        cluster=b"",
    )


stamps = st.lists(st.integers(0, 50), min_size=1, max_size=40)


@given(stamps=stamps, lo=st.integers(0, 50), width=st.integers(0, 50))
def test_select_range_keeps_starts_in_range_and_the_newest_of_equal_producer_starts(
    stamps: list[int], lo: int, width: int
) -> None:
    media = StreamMedia()
    media.append(_frag(i + 1, float(ts)) for i, ts in enumerate(stamps))
    picked = select_range(media, producer=True, start=float(lo), end=float(lo + width))
    starts = [f.producer_ts for f in picked]
    assert starts == sorted(set(starts))
    assert set(starts) == {float(t) for t in stamps if lo <= t <= lo + width}
    for frag in picked:  # the largest fragment number of those sharing its start
        assert frag.number == max(
            i + 1 for i, ts in enumerate(stamps) if float(ts) == frag.producer_ts
        )


@given(count=st.integers(1, 60), window=st.integers(1, 10), added=st.integers(0, 30))
def test_live_window_is_the_newest_fragments_and_sequence_numbers_only_grow(
    count: int, window: int, added: int
) -> None:
    media = StreamMedia()
    media.append(_frag(i + 1, float(i)) for i in range(count))
    session = Session(
        kind="HLS",
        stream_name="s",
        media=media,
        mode="LIVE",
        producer=True,
        start=None,
        end=None,
        container="FRAGMENTED_MP4",
        discontinuity="NEVER",
        display_timestamp=False,
        display_number=False,
        max_results=window,
        created=0.0,
        expires_at=300.0,
    )
    session.begin(select_range(media, producer=True, start=0.0, end=None))
    first, shown = session.window()
    assert [f.number for f in shown] == list(range(max(1, count - window + 1), count + 1))
    media.append(_frag(count + i + 1, float(count + i)) for i in range(added))
    session.refresh(1.0)
    first2, shown2 = session.window()
    total = count + added
    assert [f.number for f in shown2] == list(range(max(1, total - window + 1), total + 1))
    assert first2 >= first
    assert all(session.by_number[f.number] == first2 + i for i, f in enumerate(shown2))
