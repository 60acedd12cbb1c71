"""MediaStream.frames(): each frame as soon as its block arrives, once, in order, across resumes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async import ClientConfig
from kvs_async.credentials import Credentials
from kvs_async.emulator import Emulator
from kvs_async.getmedia import MediaStream, ResumePolicy
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector
from kvs_async.mkv import Chunk, FrameEvent
from kvs_async.mkv import writer as w
from kvs_async.mkv.writer import synthetic_mkv

STREAM = "cam"
EARLIEST = StartSelector(start_selector_type="EARLIEST")
Seen = tuple[str | None, int, int, int, bool, bytes]


def client_for(emu: Emulator, **config: float) -> KinesisVideoMediaClient:
    return KinesisVideoMediaClient(
        region=emu.region,
        credentials=emu.credentials,
        control_endpoint_url=emu.url,
        config=ClientConfig(**config),  # type: ignore[arg-type]
    )


def seen(event: FrameEvent) -> Seen:
    f = event.frame
    return (
        event.fragment_number,
        event.frame_index,
        f.track_number,
        f.timecode_ms,
        f.keyframe,
        bytes(f.payload),
    )


def from_chunk(chunk: Chunk) -> list[Seen]:
    return [
        (chunk.fragment_number, i, f.track_number, f.timecode_ms, f.keyframe, bytes(f.payload))
        for i, f in enumerate(chunk.frames)
    ]


async def read_frames(stream: MediaStream, limit: int) -> list[Seen]:
    got: list[Seen] = []
    async with stream:
        async for event in stream.frames():
            got.append(seen(event))
            if len(got) >= limit:
                break
    return got


# One fault per GetMedia connection, as in test_getmedia_resume: cuts land inside fragments
# (60 KB each here), so resumes restart a partly delivered fragment.
FAULT = st.one_of(
    st.tuples(st.just("cut"), st.integers(min_value=1, max_value=150_000)),
    st.tuples(st.just("stall"), st.integers(min_value=0, max_value=100_000)),
    st.tuples(st.just("http_500"), st.just(0)),
    st.tuples(st.just("throttle"), st.just(0)),
)


async def _scenario(faults: list[tuple[str, int]], count: int, session: float | None) -> None:
    async with Emulator(idle_timeout=0.5, session_duration=session or 45 * 60.0) as emu:
        await emu.load_media(STREAM, synthetic_mkv(count, frame_size=2000))
        async with client_for(emu) as client:
            expected: list[Seen] = []
            async with client.get_media(stream_name=STREAM, start_selector=EARLIEST) as plain:
                async for chunk in plain:
                    expected += from_chunk(chunk)
                    if plain.chunks == count:
                        break
        for kind, n in faults:
            if kind == "cut":
                emu.faults.cut_after(n, stream=STREAM)
            elif kind == "stall":
                emu.faults.stall(2.0, after_bytes=n, stream=STREAM)
            elif kind == "http_500":
                emu.faults.http_500(stream=STREAM, operation="GetMedia")
            else:
                emu.faults.throttle(stream=STREAM, operation="GetMedia")
        async with client_for(emu, read_timeout=0.3, max_attempts=1) as client:
            stream = client.get_media(
                stream_name=STREAM,
                start_selector=EARLIEST,
                resume=ResumePolicy(max_attempts=len(faults) + 2, backoff_base=0.01),
            )
            got = await read_frames(stream, len(expected))
    assert len(expected) == 30 * count
    assert got == expected
    assert stream.frames_delivered == len(expected)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    faults=st.lists(FAULT, max_size=4),
    count=st.integers(min_value=2, max_value=5),
    session=st.sampled_from([None, None, 0.05]),
)
def test_frames_equal_the_chunks_frames_once_each_under_faults(
    faults: list[tuple[str, int]], count: int, session: float | None
) -> None:
    asyncio.run(_scenario(faults, count, session))


async def test_a_cut_inside_a_fragment_resends_it_but_repeats_no_frame() -> None:
    async with Emulator(idle_timeout=0.5) as emu:
        await emu.load_media(STREAM, synthetic_mkv(3, frame_size=2000))
        emu.faults.cut_after(30_000, stream=STREAM)  # about half of the first fragment
        async with client_for(emu, read_timeout=0.3) as client:
            stream = client.get_media(stream_name=STREAM, start_selector=EARLIEST)
            got = await read_frames(stream, 90)
    assert [(g[0], g[1]) for g in got] == [
        (f, i) for f in sorted({g[0] for g in got}, key=lambda n: int(n or 0)) for i in range(30)
    ]
    assert stream.resumes == 1 and stream.chunks >= 2


def _fragment(frames: int, size: int) -> tuple[bytes, list[int]]:
    """A KVS fragment and the byte offsets where each of its SimpleBlocks ends."""
    video = w.track_entry(number=1, width=64, height=48)
    blocks = [w.simple_block(1, i * 33, bytes([i]) * size, keyframe=i == 0) for i in range(frames)]
    src = w.SourceFragment(
        info=w.info(),
        tracks=w.tracks(video),
        cluster=w.cluster(1000, blocks),
        timecode_ms=1000,
        duration_ms=frames * 33,
        keyframe_start=True,
    )
    data = w.kvs_fragment(
        src,
        fragment_number="91343852333181432392682062622220590765191907586",
        server_timestamp="1700000000.000",
        producer_timestamp="1700000000.000",
        millis_behind_now=0,
        continuation_token="91343852333181432392682062622220590765191907586",
    )
    cluster_end = data.index(src.cluster) + len(src.cluster)
    ends, pos = [], cluster_end
    for block in reversed(blocks):
        ends.append(pos)
        pos -= len(block)
    return data, ends[::-1]


@pytest.fixture
async def slow_server() -> AsyncIterator[tuple[str, asyncio.Event, asyncio.Event, list[int]]]:
    """A GetMedia endpoint that sends the first 3 blocks, then waits until released."""
    data, ends = _fragment(6, 5000)
    first_sent, release = asyncio.Event(), asyncio.Event()

    async def get_media(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "video/webm"})
        await response.prepare(request)
        await response.write(data[: ends[2]])
        first_sent.set()
        await release.wait()
        await response.write(data[ends[2] :])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/getMedia", get_media)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", first_sent, release, ends
    finally:
        release.set()
        await runner.cleanup()


async def test_frames_arrive_before_their_fragment_is_complete(
    slow_server: tuple[str, asyncio.Event, asyncio.Event, list[int]],
) -> None:
    url, first_sent, release, _ = slow_server
    async with KinesisVideoMediaClient(
        region="us-west-2", credentials=Credentials("AKIDEXAMPLE", "secret"), endpoint_url=url
    ) as client:
        stream = client.get_media(stream_name=STREAM, start_selector=EARLIEST, resume=False)
        frames = stream.frames()
        early = [await asyncio.wait_for(anext(frames), 5) for _ in range(3)]
        assert first_sent.is_set() and not release.is_set() and stream.chunks == 0
        assert [e.frame_index for e in early] == [0, 1, 2]
        assert [bytes(e.frame.payload[:1]) for e in early] == [b"\x00", b"\x01", b"\x02"]
        assert early[0].fragment_number == "91343852333181432392682062622220590765191907586"
        assert early[0].server_timestamp is not None and early[0].frame.keyframe
        release.set()
        rest = [e async for e in frames]
        assert [e.frame_index for e in rest] == [3, 4, 5]
        assert stream.chunks == 1 and stream.continuation_token == early[0].fragment_number


async def test_a_stream_is_read_as_chunks_or_as_frames_not_both() -> None:
    async with Emulator(idle_timeout=0.3) as emu:
        await emu.load_media(STREAM, synthetic_mkv(2, frame_size=500))
        async with client_for(emu) as client:
            stream = client.get_media(stream_name=STREAM, start_selector=EARLIEST)
            async with stream:
                await anext(stream)
                with pytest.raises(RuntimeError, match="either as chunks or with frames"):
                    stream.frames()
