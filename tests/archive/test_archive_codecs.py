"""B-frames, H.265 and G.711: what real cameras send, through HLS, DASH, GetClip and GetImages."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from archive_media import (
    GOP,
    boto,
    decoded_frames,
    ffprobe,
    has_encoder,
    make_media,
    needs_ffmpeg,
    selector,
    video_frames,
    when,
)
from botocore.exceptions import ClientError
from PIL import Image

from kvs_async.emulator import Emulator

pytestmark = needs_ffmpeg
SECONDS = 3


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as e:
        yield e


async def _session_url(emu: Emulator, kind: str, **extra: object) -> str:
    frags = emu.fragments("cam")
    a, b = frags[0].server_timestamp, frags[-1].server_timestamp
    client = boto(emu)
    call = (
        client.get_dash_streaming_session_url
        if kind == "DASH"
        else client.get_hls_streaming_session_url
    )
    out = await asyncio.to_thread(
        call, StreamName="cam", PlaybackMode="ON_DEMAND", **selector(kind, a, b), **extra
    )
    return str(next(v for k, v in out.items() if k.endswith("StreamingSessionURL")))


async def _clip(emu: Emulator, path: Path) -> dict[str, object]:
    frags = emu.fragments("cam")
    a, b = frags[0].server_timestamp, frags[-1].server_timestamp
    body = await asyncio.to_thread(
        lambda: boto(emu).get_clip(StreamName="cam", **selector("", a, b))["Payload"].read()
    )
    path.write_bytes(body)
    return await ffprobe(path)


async def test_h264_with_b_frames(emu: Emulator, tmp_path: Path) -> None:
    media = make_media(tmp_path / "b.mkv", audio=True, preset="veryfast", seconds=SECONDS)
    await emu.create_stream("cam", retention_hours=1)
    await emu.load_media("cam", media)
    for container in ("FRAGMENTED_MP4", "MPEG_TS"):
        url = await _session_url(emu, "HLS", ContainerFormat=container)
        assert video_frames(await ffprobe(url)) == SECONDS * GOP, container
    assert await decoded_frames(await _session_url(emu, "DASH")) == SECONDS * GOP
    assert video_frames(await _clip(emu, tmp_path / "clip.mp4")) == SECONDS * GOP


@pytest.mark.skipif(not has_encoder("libx265"), reason="ffmpeg without libx265")
async def test_h265_plays_in_fmp4_and_is_refused_in_mpeg_ts(emu: Emulator, tmp_path: Path) -> None:
    media = make_media(tmp_path / "h.mkv", audio=True, video_codec="libx265", seconds=SECONDS)
    await emu.create_stream("cam", retention_hours=1)
    await emu.load_media("cam", media)
    url = await _session_url(emu, "HLS")
    probe = await ffprobe(url)
    assert video_frames(probe) == SECONDS * GOP
    assert {s["codec_name"] for s in probe["streams"]} >= {"hevc"}
    assert await decoded_frames(await _session_url(emu, "DASH")) == SECONDS * GOP
    clip = await _clip(emu, tmp_path / "clip.mp4")
    assert video_frames(clip) == SECONDS * GOP
    t = when(emu.fragments("cam")[1].server_timestamp + 0.5)
    images = await asyncio.to_thread(
        boto(emu).get_images,
        StreamName="cam",
        ImageSelectorType="SERVER_TIMESTAMP",
        StartTimestamp=t,
        EndTimestamp=t,
        Format="PNG",
    )
    (image,) = images["Images"]
    raw = image["ImageContent"]
    picture = Image.open(io.BytesIO(base64.b64decode(raw) if isinstance(raw, str) else raw))
    assert picture.size == (320, 240)
    with pytest.raises(ClientError) as err:
        await _session_url(emu, "HLS", ContainerFormat="MPEG_TS")
    assert err.value.response["Error"]["Code"] == "UnsupportedStreamMediaTypeException"


@pytest.mark.skipif(not has_encoder("libx265"), reason="ffmpeg without libx265")
async def test_g711_audio_in_dash_and_clips_not_in_hls(emu: Emulator, tmp_path: Path) -> None:
    media = make_media(
        tmp_path / "g.mkv",
        audio=True,
        video_codec="libx265",
        audio_codec="pcm_alaw",
        seconds=SECONDS,
    )
    await emu.create_stream("cam", retention_hours=1)
    await emu.load_media("cam", media)
    assert await decoded_frames(await _session_url(emu, "DASH")) == SECONDS * GOP
    clip = await _clip(emu, tmp_path / "clip.mp4")
    assert {s["codec_name"] for s in clip["streams"]} == {"hevc", "pcm_alaw"}  # type: ignore[union-attr]
    assert video_frames(clip) == SECONDS * GOP
    with pytest.raises(ClientError) as err:
        await _session_url(emu, "HLS")  # HLS carries AAC audio only
    assert err.value.response["Error"]["Code"] == "UnsupportedStreamMediaTypeException"
