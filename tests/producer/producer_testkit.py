"""Shared by the producer tests: ffmpeg-made media, an emulator with clients, read-back helpers."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kvs_async.emulator import Emulator
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector
from kvs_async.mkv import Chunk, ChunkParser, Track, writer

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="needs ffmpeg and ffprobe (.ci/run installs them)",
)

#: (track, timecode ms, keyframe, payload): what must survive a round trip.
FrameKey = tuple[int, int, bool, bytes]


def make_av(path: Path, *, seconds: float = 3.0, size: str = "320x240", gop: int = 12) -> Path:
    """H.264 (ultrafast, a keyframe every ``gop`` frames) + AAC in Matroska, from lavfi."""
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop), "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k",
            "-f", "matroska", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def demux(data: bytes) -> tuple[tuple[Track, ...], list[FrameKey]]:
    """Tracks and frames of a plain MKV file, by our parser."""
    parser = ChunkParser(max_buffer_size=max(2 * len(data), 1 << 20))
    chunks = parser.feed(data) + parser.close()
    frames = [
        (f.track_number, f.timecode_ms, f.keyframe, bytes(f.payload))
        for c in chunks
        for f in c.frames
    ]
    return chunks[0].tracks, frames


def frames_of(chunks: list[Chunk]) -> list[FrameKey]:
    return [
        (f.track_number, f.timecode_ms, f.keyframe, bytes(f.payload))
        for c in chunks
        for f in c.frames
    ]


def media_client(emu: Emulator) -> KinesisVideoMediaClient:
    return KinesisVideoMediaClient(
        region=emu.region, credentials=emu.credentials, control_endpoint_url=emu.url
    )


async def read_back(emu: Emulator, stream: str) -> list[Chunk]:
    """Every chunk GetMedia returns from the earliest fragment."""
    async with media_client(emu) as media:
        return [
            c
            async for c in media.get_media(
                stream_name=stream,
                start_selector=StartSelector(start_selector_type="EARLIEST"),
                idle_timeout=1.0,
            )
        ]


def remux(chunks: list[Chunk]) -> bytes:
    """One plain MKV of the chunks' frames (for ffprobe), tracks of the first chunk."""
    first = chunks[0]
    head = writer.ebml_header() + writer.unknown_size(0x18538067) + writer.info()
    head += writer.tracks(
        *(
            writer.track_entry(
                number=t.number,
                uid=t.uid,
                track_type=t.type or 1,
                codec_id=t.codec_id or "",
                codec_private=t.codec_private,
                width=t.width,
                height=t.height,
                sampling_rate=t.sampling_rate,
                channels=t.channels,
            )
            for t in first.tracks
        )
    )
    clusters = []
    for c in chunks:
        if not c.frames:
            continue
        tc = c.frames[0].timecode_ms
        blocks = [
            writer.simple_block(
                f.track_number, f.timecode_ms - tc, bytes(f.payload), keyframe=f.keyframe
            )
            for f in c.frames
        ]
        clusters.append(writer.cluster(tc, blocks))
    return head + b"".join(clusters)


def ffprobe_frames(path: Path) -> dict[str, int]:
    """Decoded frames per stream type (video, audio), as ffprobe counts them."""
    out = subprocess.run(
        [
            "ffprobe", "-v", "error", "-count_frames",
            "-show_entries", "stream=codec_type,nb_read_frames", "-of", "json", str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    return {s["codec_type"]: int(s["nb_read_frames"]) for s in json.loads(out)["streams"]}


@pytest.fixture(scope="session")
def av_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg (.ci/run installs it)")
    return make_av(tmp_path_factory.mktemp("av") / "av.mkv")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(idle_timeout=0.3, putmedia_calls_per_second=1000) as e:
        await e.create_stream("cam", retention_hours=24)
        yield e
