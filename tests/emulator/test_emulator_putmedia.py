"""PutMedia with a streamed body: fragments stored and acked as each Cluster completes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import MKV_DIR
from emulator_testkit import get_media_bytes, parse_chunks, put_media_streaming

from kvs_async.emulator import Emulator
from kvs_async.mkv import writer

SMALL = MKV_DIR / "test_mixed_tags.mkv"  # C-SDK output: unknown-size Clusters
KNOWN = MKV_DIR / "clusters.mkv"  # mkvmerge output: known-size Clusters


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(idle_timeout=0.2) as e:
        await e.create_stream("cam", retention_hours=24)
        yield e


async def pieces_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("path", "frames"), [(SMALL, 100), (KNOWN, 444)], ids=["unknown-size", "known-size"]
)
async def test_streamed_put_media_stores_every_cluster(
    emu: Emulator, path: Path, frames: int
) -> None:
    data = path.read_bytes()
    expected = len(writer.split_fragments(data))
    status, acks = await put_media_streaming(emu, "cam", pieces_of(data, 777))
    assert status == 200
    persisted = [a for a in acks if a["EventType"] == "PERSISTED"]
    assert len(persisted) == expected
    assert [a["EventType"] for a in acks[:3]] == ["BUFFERING", "RECEIVED", "PERSISTED"]
    stored = emu.fragments("cam")
    assert [a["FragmentNumber"] for a in persisted] == [f.fragment_number for f in stored]
    assert [f.server_timestamp for f in stored] == sorted(f.server_timestamp for f in stored)
    body = await get_media_bytes(emu, "cam", {"StartSelectorType": "EARLIEST"})
    chunks = parse_chunks(body)
    assert [c.fragment_number for c in chunks] == [f.fragment_number for f in stored]
    assert sum(len(c.frames) for c in chunks) == frames


async def test_acks_arrive_while_the_body_is_still_streaming(emu: Emulator) -> None:
    data = SMALL.read_bytes()
    sources = writer.split_fragments(data)
    first_part = len(data) // 2
    acked = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield data[:first_part]
        await asyncio.wait_for(acked.wait(), 10)  # only continue once an ack came back
        yield data[first_part:]

    async def on_ack(ack: dict[str, object]) -> None:
        if ack["EventType"] == "PERSISTED":
            acked.set()

    status, acks = await put_media_streaming(emu, "cam", body(), on_ack=on_ack)
    assert status == 200
    assert len([a for a in acks if a["EventType"] == "PERSISTED"]) == len(sources)


async def test_absolute_and_relative_producer_timestamps(emu: Emulator) -> None:
    data = SMALL.read_bytes()  # cluster timecodes 0, 5000, ..., 45000 ms
    await put_media_streaming(
        emu,
        "cam",
        pieces_of(data, 4096),
        headers={
            "x-amzn-fragment-timecode-type": "RELATIVE",
            "x-amzn-producer-start-timestamp": "1700000000.5",
        },
    )
    produced = [f.producer_timestamp for f in emu.fragments("cam")]
    assert produced == [1700000000.5 + 5 * i for i in range(10)]
    await emu.create_stream("abs")
    await put_media_streaming(
        emu, "abs", pieces_of(data, 4096), headers={"x-amzn-fragment-timecode-type": "ABSOLUTE"}
    )
    assert [f.producer_timestamp for f in emu.fragments("abs")] == [5.0 * i for i in range(10)]


async def test_garbage_mid_stream_ends_with_an_error_ack(emu: Emulator) -> None:
    data = KNOWN.read_bytes()
    sources = writer.split_fragments(data)
    cut = data.index(sources[2].cluster) + 10  # inside the third Cluster's header

    async def body() -> AsyncIterator[bytes]:
        yield data[:cut]
        await asyncio.sleep(0.05)
        yield b"\x00" * 64

    status, acks = await put_media_streaming(emu, "cam", body())
    assert status == 200
    assert [a["EventType"] for a in acks] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2 + ["ERROR"]
    assert acks[-1]["ErrorId"] == 4006
    assert len(emu.fragments("cam")) == 2


async def test_garbage_first_is_a_400(emu: Emulator) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"this is not matroska"

    status, acks = await put_media_streaming(emu, "cam", body())
    assert status == 400
    assert emu.fragments("cam") == []
    assert "MKV" in acks[0]["message"]


async def test_unknown_stream_is_404(emu: Emulator) -> None:
    status, acks = await put_media_streaming(emu, "nope", pieces_of(SMALL.read_bytes(), 4096))
    assert status == 404
    assert acks[0]["__type"] == "ResourceNotFoundException"


def _fragment_doc(tc: int, frames: int = 3, *, step: int = 33) -> bytes:
    src = writer.synthetic_fragments(1)[0]
    blocks = [writer.simple_block(1, i * step, bytes(200), keyframe=i == 0) for i in range(frames)]
    head = writer.ebml_header() + writer.unknown_size(0x18538067) + src.info + src.tracks
    return head + writer.cluster(tc, blocks)


async def test_documented_error_acks_for_backwards_and_too_long_fragments() -> None:
    async with Emulator(idle_timeout=0.2, max_fragment_duration_ms=1000) as emu:
        await emu.create_stream("cam", retention_hours=24)

        async def body() -> AsyncIterator[bytes]:
            yield _fragment_doc(5000)
            yield _fragment_doc(1000)  # goes back: 4004, not stored
            yield _fragment_doc(9000, frames=40)  # 40 x 33 ms > 1 s: 4002, not stored
            yield _fragment_doc(20000)

        status, acks = await put_media_streaming(emu, "cam", body())
    assert status == 200
    errors = [
        (a["ErrorId"], a["ErrorCode"], a["FragmentTimecode"])
        for a in acks
        if a["EventType"] == "ERROR"
    ]
    assert errors == [
        (4004, "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS", 1000),
        (4002, "MAX_FRAGMENT_DURATION_REACHED", 9000),
    ]
    assert [f.timecode_ms for f in emu.fragments("cam")] == [5000, 20000]


async def test_idle_keep_alives_on_a_quiet_connection() -> None:
    async with Emulator(idle_timeout=0.2, idle_ack_interval=0.1) as emu:
        await emu.create_stream("cam", retention_hours=0)

        async def body() -> AsyncIterator[bytes]:
            yield _fragment_doc(0)
            await asyncio.sleep(0.5)
            yield _fragment_doc(1000)

        status, acks = await put_media_streaming(emu, "cam", body())
    kinds = [a["EventType"] for a in acks]
    assert status == 200 and "IDLE" in kinds
    assert "PERSISTED" not in kinds  # no retention: RECEIVED is the last word
    assert kinds.count("RECEIVED") == 2


async def test_putmedia_calls_per_second_per_stream_are_limited() -> None:
    async with Emulator(idle_timeout=0.2, putmedia_calls_per_second=2) as emu:
        await emu.create_stream("cam", retention_hours=24)

        async def one() -> AsyncIterator[bytes]:
            yield _fragment_doc(0)

        answers = [await put_media_streaming(emu, "cam", one()) for _ in range(3)]
    assert [status for status, _ in answers] == [200, 200, 400]
    assert answers[2][1][0]["__type"] == "ClientLimitExceededException"
