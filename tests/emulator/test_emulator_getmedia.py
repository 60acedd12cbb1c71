"""GetMedia and the archived-media calls: every StartSelector, live tail, limits, retention."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import MKV_DIR
from emulator_testkit import call, get_media_bytes, parse_archived_chunks, parse_chunks

from kvs_async.emulator import Emulator, FragmentInfo

SAMPLE = MKV_DIR / "output_get_media.mkv"
SMALL = MKV_DIR / "test_mixed_tags.mkv"


def chunks_of(body: bytes) -> list[Any]:
    return parse_chunks(body)


def numbers_of(body: bytes) -> list[str]:
    return [c.fragment_number for c in chunks_of(body)]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(idle_timeout=0.2) as e:
        yield e


@pytest.fixture
async def loaded(emu: Emulator) -> list[FragmentInfo]:
    return await emu.load_media("cam", SAMPLE)


def numbers(frags: list[FragmentInfo]) -> list[str]:
    return [f.fragment_number for f in frags]


async def test_fragment_numbers_and_timestamps_look_like_kvs(loaded: list[FragmentInfo]) -> None:
    assert all(len(f.fragment_number) == 47 and f.fragment_number.isdigit() for f in loaded)
    ints = [int(f.fragment_number) for f in loaded]
    assert ints == sorted(ints) and len(set(ints)) == len(ints)
    assert [f.server_timestamp for f in loaded] == sorted(f.server_timestamp for f in loaded)
    assert all(f.producer_timestamp < f.server_timestamp for f in loaded)


async def test_earliest(emu: Emulator, loaded: list[FragmentInfo]) -> None:
    body = await get_media_bytes(emu, "cam", {"StartSelectorType": "EARLIEST"})
    chunks = chunks_of(body)
    assert [c.fragment_number for c in chunks] == numbers(loaded)
    for chunk, frag in zip(chunks, loaded, strict=True):
        assert chunk.continuation_token == frag.fragment_number
        assert chunk.millis_behind_now is not None and chunk.millis_behind_now >= 0
        assert chunk.server_timestamp.timestamp() == pytest.approx(frag.server_timestamp, abs=0.001)
        assert chunk.producer_timestamp.timestamp() == pytest.approx(
            frag.producer_timestamp, abs=0.001
        )


async def test_fragment_number_selector_starts_at_that_fragment(
    emu: Emulator, loaded: list[FragmentInfo]
) -> None:
    selector = {"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": numbers(loaded)[2]}
    body = await get_media_bytes(emu, "cam", selector)
    assert numbers_of(body) == numbers(loaded)[2:]


async def test_continuation_token_resumes_after_that_fragment(
    emu: Emulator, loaded: list[FragmentInfo]
) -> None:
    selector = {"StartSelectorType": "CONTINUATION_TOKEN", "ContinuationToken": numbers(loaded)[1]}
    body = await get_media_bytes(emu, "cam", selector)
    assert numbers_of(body) == numbers(loaded)[2:]


@pytest.mark.parametrize("kind", ["SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP"])
async def test_timestamp_selectors(emu: Emulator, loaded: list[FragmentInfo], kind: str) -> None:
    third = loaded[3]
    ts = third.server_timestamp if kind == "SERVER_TIMESTAMP" else third.producer_timestamp
    # Inside the fourth fragment: the read starts with the fragment containing the time.
    body = await get_media_bytes(
        emu, "cam", {"StartSelectorType": kind, "StartTimestamp": ts + 0.5}
    )
    assert numbers_of(body) == numbers(loaded)[3:]
    before_all = await get_media_bytes(
        emu, "cam", {"StartSelectorType": kind, "StartTimestamp": ts - 3600}
    )
    assert numbers_of(before_all) == numbers(loaded)


async def test_now_on_an_idle_stream_returns_nothing_then_ends(
    emu: Emulator, loaded: list[FragmentInfo]
) -> None:
    body = await get_media_bytes(emu, "cam", {"StartSelectorType": "NOW"})
    assert body == b""
    assert emu.log.closes("GetMedia", "cam")[-1].reason == "idle"


async def test_now_tails_a_live_stream_until_the_session_ends(emu: Emulator) -> None:
    emu.session_duration = 1.5
    await emu.start_live("live", SMALL, speed=25.0)  # 5 s fragments -> one every 0.2 s
    body = await get_media_bytes(emu, "live", {"StartSelectorType": "NOW"})
    chunks = chunks_of(body)
    assert len(chunks) >= 2
    ints = [int(c.fragment_number) for c in chunks]
    assert ints == sorted(ints)
    stored = [f.fragment_number for f in emu.fragments("live")]
    assert set(c.fragment_number for c in chunks) <= set(stored)
    assert all(c.millis_behind_now is not None for c in chunks)
    close = emu.log.closes("GetMedia", "live")[-1]
    assert close.reason == "session_end"
    assert close.bytes_sent == len(body)
    assert close.fragments_sent == len(chunks)
    await emu.stop_live("live")


async def test_live_feed_loops_its_source(emu: Emulator) -> None:
    feed = await emu.start_live("loop", SMALL, speed=500.0)
    event = asyncio.Event()

    async def wait() -> None:
        while feed.appended < 12:
            await asyncio.sleep(0.01)
        event.set()

    await asyncio.wait_for(wait(), 10)
    await emu.stop_live("loop")
    frags = emu.fragments("loop")
    assert len(frags) >= 12
    assert [int(f.fragment_number) for f in frags] == sorted(int(f.fragment_number) for f in frags)


async def test_sixth_get_media_call_within_a_second_is_throttled(
    emu: Emulator, loaded: list[FragmentInfo]
) -> None:
    emu.getmedia_limiter.window = 60.0  # the same six calls, without depending on the clock
    selector = {"StreamName": "cam", "StartSelector": {"StartSelectorType": "NOW"}}
    statuses = []
    for _ in range(6):
        status, headers, body = await call(emu, "/getMedia", selector)
        statuses.append(status)
    assert statuses == [200] * 5 + [400]
    assert headers["x-amzn-ErrorType"] == "ClientLimitExceededException"
    assert "5 GetMedia calls per second" in json.loads(body)["message"]
    # Another stream has its own budget.
    await emu.load_media("other", SMALL)
    status, _, _ = await call(
        emu, "/getMedia", {"StreamName": "other", "StartSelector": {"StartSelectorType": "NOW"}}
    )
    assert status == 200


async def test_throttle_window_is_one_second(emu: Emulator, loaded: list[FragmentInfo]) -> None:
    assert all(emu.getmedia_limiter.allow("k") for _ in range(5))
    assert not emu.getmedia_limiter.allow("k")
    emu.clock.advance(1.01)
    assert emu.getmedia_limiter.allow("k")


async def test_bad_selectors_are_400(emu: Emulator, loaded: list[FragmentInfo]) -> None:
    for selector in (
        {"StartSelectorType": "FRAGMENT_NUMBER"},
        {"StartSelectorType": "CONTINUATION_TOKEN"},
        {"StartSelectorType": "SERVER_TIMESTAMP"},
        {"StartSelectorType": "SOMETIMES"},
    ):
        status, headers, _ = await call(
            emu, "/getMedia", {"StreamName": "cam", "StartSelector": selector}
        )
        assert status == 400, selector
        assert headers["x-amzn-ErrorType"] == "InvalidArgumentException"
    status, headers, _ = await call(
        emu, "/getMedia", {"StreamName": "nope", "StartSelector": {"StartSelectorType": "NOW"}}
    )
    assert (status, headers["x-amzn-ErrorType"]) == (404, "ResourceNotFoundException")


async def test_list_fragments_with_selector_and_pages(
    emu: Emulator, loaded: list[FragmentInfo]
) -> None:
    status, _, body = await call(emu, "/listFragments", {"StreamName": "cam", "MaxResults": 2})
    assert status == 200
    first = json.loads(body)
    assert [f["FragmentNumber"] for f in first["Fragments"]] == numbers(loaded)[:2]
    assert first["Fragments"][0]["FragmentSizeInBytes"] == loaded[0].size
    assert first["Fragments"][0]["FragmentLengthInMilliseconds"] == loaded[0].duration_ms
    status, _, body = await call(
        emu, "/listFragments", {"StreamName": "cam", "NextToken": first["NextToken"]}
    )
    rest = json.loads(body)
    assert [f["FragmentNumber"] for f in rest["Fragments"]] == numbers(loaded)[2:]
    assert "NextToken" not in rest
    selector = {
        "FragmentSelectorType": "SERVER_TIMESTAMP",
        "TimestampRange": {
            "StartTimestamp": loaded[1].server_timestamp,
            "EndTimestamp": loaded[3].server_timestamp,
        },
    }
    status, _, body = await call(
        emu, "/listFragments", {"StreamName": "cam", "FragmentSelector": selector}
    )
    assert [f["FragmentNumber"] for f in json.loads(body)["Fragments"]] == numbers(loaded)[1:4]


async def test_get_media_for_fragment_list(emu: Emulator, loaded: list[FragmentInfo]) -> None:
    wanted = [numbers(loaded)[3], numbers(loaded)[0]]
    status, headers, body = await call(
        emu, "/getMediaForFragmentList", {"StreamName": "cam", "Fragments": wanted}
    )
    assert status == 200
    assert headers["Content-Type"] == "video/webm"
    chunks = parse_archived_chunks(body)
    assert [c.fragment_number for c in chunks] == wanted
    assert [len(c.frames) for c in chunks] == [60, 60]
    assert all(c.continuation_token is None and c.millis_behind_now is None for c in chunks)
    status, headers, _ = await call(
        emu,
        "/getMediaForFragmentList",
        {"StreamName": "cam", "Fragments": ["1" + "0" * 46]},
    )
    assert (status, headers["x-amzn-ErrorType"]) == (404, "ResourceNotFoundException")


async def test_retention_drops_old_fragments(emu: Emulator) -> None:
    await emu.create_stream("short", retention_hours=1)
    frags = await emu.load_media("short", SAMPLE)
    assert await emu.enforce_retention() == 0
    emu.clock.advance(3600 - 5)  # the first fragments are now just over an hour old
    dropped = await emu.enforce_retention()
    assert 0 < dropped < len(frags)
    left = [f.fragment_number for f in emu.fragments("short")]
    assert left == numbers(frags)[dropped:]
    emu.clock.advance(3600)
    await emu.enforce_retention()
    assert emu.fragments("short") == []
    body = await get_media_bytes(emu, "short", {"StartSelectorType": "EARLIEST"})
    assert body == b""
    _, _, body = await call(emu, "/listFragments", {"StreamName": "short"})
    assert json.loads(body)["Fragments"] == []


async def test_deleting_a_stream_ends_its_readers(emu: Emulator) -> None:
    emu.idle_timeout = 30
    await emu.load_media("doomed", SMALL)
    arn = await emu.create_stream("doomed", exist_ok=True)
    reader = asyncio.create_task(get_media_bytes(emu, "doomed", {"StartSelectorType": "EARLIEST"}))
    await emu.log.wait_for(lambda e: e.kind == "open" and e.stream == "doomed")
    status, _, _ = await call(emu, "/deleteStream", {"StreamARN": arn})
    assert status == 200
    body = await asyncio.wait_for(reader, 10)
    assert len(numbers_of(body)) == 10
    assert emu.log.closes("GetMedia", "doomed")[-1].reason == "stream_deleted"
