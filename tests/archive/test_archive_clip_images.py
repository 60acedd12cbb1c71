"""GetClip and GetImages against the emulator: ffprobe plays the clip, Pillow opens the images."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from archive_media import (
    FPS,
    GOP,
    aws_cli,
    boto,
    ffprobe,
    make_media,
    needs_ffmpeg,
    selector,
    video_frames,
    when,
)
from botocore.exceptions import ClientError
from PIL import Image

from kvs_async.emulator import Emulator, FragmentInfo
from kvs_async.emulator import archived as archived_mod
from kvs_async.mkv import writer

pytestmark = needs_ffmpeg


@pytest.fixture(scope="module")
def av_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media") / "av.mkv", audio=True)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as e:
        yield e


async def loaded(emu: Emulator, media: Path, name: str = "cam") -> list[FragmentInfo]:
    await emu.create_stream(name, retention_hours=24)
    return await emu.load_media(name, media)


def error_code(fn: Any, **kw: Any) -> str:
    try:
        fn(**kw)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


async def test_get_clip_is_an_mp4_with_the_frames_of_the_range(
    emu: Emulator, av_media: Path, tmp_path: Path
) -> None:
    frags = await loaded(emu, av_media)
    client = boto(emu)
    start, end = frags[1].server_timestamp, frags[4].server_timestamp + 0.001

    def clip() -> tuple[str, bytes]:
        out = client.get_clip(StreamName="cam", **selector("", start, end))
        return out["ContentType"], out["Payload"].read()

    ctype, body = await asyncio.to_thread(clip)
    assert ctype == "video/mp4" and body[4:8] == b"ftyp"
    path = tmp_path / "clip.mp4"
    path.write_bytes(body)
    probe = await ffprobe(path)
    assert video_frames(probe) == 4 * GOP
    assert abs(float(probe["format"]["duration"]) - 4 * GOP / FPS) < 0.1
    assert {s["codec_name"] for s in probe["streams"]} == {"h264", "aac"}


async def test_get_clip_limits_and_errors(
    emu: Emulator, av_media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frags = await loaded(emu, av_media)
    await emu.create_stream("no-retention", retention_hours=0)
    client = boto(emu)
    first = frags[0].server_timestamp
    codes = await asyncio.to_thread(
        lambda: {
            "missing": error_code(
                client.get_clip, StreamName="nope", **selector("", first, first + 5)
            ),
            "retention": error_code(
                client.get_clip, StreamName="no-retention", **selector("", first, first + 5)
            ),
            "empty": error_code(
                client.get_clip, StreamName="cam", **selector("", first - 60, first - 30)
            ),
            "backwards": error_code(
                client.get_clip, StreamName="cam", **selector("", first, first - 5)
            ),
            "over 24h": error_code(
                client.get_clip, StreamName="cam", **selector("", first, first + 86401)
            ),
        }
    )
    assert codes == {
        "missing": "ResourceNotFoundException",
        "retention": "NoDataRetentionException",
        "empty": "ResourceNotFoundException",
        "backwards": "InvalidArgumentException",
        "over 24h": "InvalidArgumentException",
    }
    # KVS serves the first 200 fragments (or 100 MB) of a range: shrink the limit to see it
    monkeypatch.setattr(archived_mod, "CLIP_MAX_FRAGMENTS", 2)
    out = await asyncio.to_thread(
        lambda: client.get_clip(StreamName="cam", **selector("", first, first + 60))[
            "Payload"
        ].read()
    )
    (tmp_path / "two.mp4").write_bytes(out)
    assert video_frames(await ffprobe(tmp_path / "two.mp4")) == 2 * GOP


def _mkv(codec_id: str, private: bytes | None) -> bytes:
    track = writer.track_entry(
        number=1, codec_id=codec_id, codec_private=private, width=16, height=16
    )
    block = writer.simple_block(1, 0, b"\x00\x00\x00\x02\x65\x88", keyframe=True)
    body = writer.info() + writer.tracks(track) + writer.cluster(0, [block])
    return writer.ebml_header() + writer.element(0x18538067, body)


@pytest.mark.parametrize(
    ("codec_id", "private", "expected"),
    [
        ("V_MPEG4/ISO/AVC", None, "MissingCodecPrivateDataException"),
        ("V_MPEG4/ISO/AVC", b"\x00\x42\x00", "InvalidCodecPrivateDataException"),
        ("V_VP8", None, "UnsupportedStreamMediaTypeException"),
    ],
)
async def test_codec_errors(
    emu: Emulator, codec_id: str, private: bytes | None, expected: str
) -> None:
    await emu.create_stream("odd", retention_hours=1)
    frags = await emu.load_media("odd", _mkv(codec_id, private))
    client = boto(emu)
    t = frags[0].server_timestamp
    got = await asyncio.to_thread(
        lambda: {
            error_code(client.get_clip, StreamName="odd", **selector("", t, t + 1)),
            error_code(client.get_hls_streaming_session_url, StreamName="odd"),
            error_code(
                client.get_dash_streaming_session_url,
                StreamName="odd",
                PlaybackMode="ON_DEMAND",
                **selector("DASH", t, t + 1),
            ),
        }
    )
    assert got == {expected}


async def test_aws_cli_get_clip_writes_a_playable_file(
    emu: Emulator, av_media: Path, tmp_path: Path
) -> None:
    frags = await loaded(emu, av_media)
    out = tmp_path / "cli.mp4"
    rc, stdout, err = await aws_cli(
        emu,
        "kinesis-video-archived-media",
        "get-clip",
        "--stream-name",
        "cam",
        "--clip-fragment-selector",
        "FragmentSelectorType=SERVER_TIMESTAMP,TimestampRange={StartTimestamp="
        # the AWS CLI sends whole seconds: a range that holds fragments 0 and 1 after rounding
        f"{int(frags[0].server_timestamp)},EndTimestamp={int(frags[1].server_timestamp) + 1}}}",
        str(out),
    )
    assert rc == 0, err
    assert json.loads(stdout)["ContentType"] == "video/mp4"
    assert video_frames(await ffprobe(out)) == 2 * GOP


def _decoded(images: list[dict[str, Any]]) -> list[Image.Image]:
    out = []
    for image in images:
        content = image["ImageContent"]
        raw = base64.b64decode(content) if isinstance(content, str) else content
        out.append(Image.open(io.BytesIO(raw)))
    return out


async def test_get_images_one_per_interval_at_the_requested_size(
    emu: Emulator, av_media: Path
) -> None:
    frags = await loaded(emu, av_media)
    client = boto(emu)
    start = frags[0].producer_timestamp
    out = await asyncio.to_thread(
        client.get_images,
        StreamName="cam",
        ImageSelectorType="PRODUCER_TIMESTAMP",
        StartTimestamp=when(start),
        EndTimestamp=when(start + 4.9),
        SamplingInterval=500,
        Format="JPEG",
        FormatConfig={"JPEGQuality": "90"},
        WidthPixels=160,
        HeightPixels=100,
    )
    images = out["Images"]
    assert len(images) == 10 and "NextToken" not in out
    assert [round(i["TimeStamp"].timestamp() - start, 3) for i in images] == [
        k * 0.5 for k in range(10)
    ]
    decoded = _decoded(images)
    assert all(img.format == "JPEG" and img.size == (160, 100) for img in decoded)
    # testsrc moves: stills half a second apart differ
    assert decoded[0].tobytes() != decoded[1].tobytes()
    # PNG, height only: the width follows the aspect ratio (320x240 -> 80x60)
    png = await asyncio.to_thread(
        client.get_images,
        StreamName="cam",
        ImageSelectorType="SERVER_TIMESTAMP",
        StartTimestamp=when(frags[2].server_timestamp),
        EndTimestamp=when(frags[2].server_timestamp + 0.1),
        Format="PNG",
        HeightPixels=60,
    )
    (img,) = _decoded(png["Images"])
    assert img.format == "PNG" and img.size == (80, 60)


async def test_get_images_pagination_no_media_and_errors(emu: Emulator, av_media: Path) -> None:
    frags = await loaded(emu, av_media)
    client = boto(emu)
    start = frags[0].server_timestamp - 2.0  # two instants before the first fragment
    base = {
        "StreamName": "cam",
        "ImageSelectorType": "SERVER_TIMESTAMP",
        "StartTimestamp": when(start),
        "EndTimestamp": when(start + 9.5),
        "SamplingInterval": 1000,
        "Format": "JPEG",
    }

    def pages() -> list[list[dict[str, Any]]]:
        got = []
        token = None
        while True:
            out = client.get_images(**base, MaxResults=4, **({"NextToken": token} if token else {}))
            got.append(out["Images"])
            token = out.get("NextToken")
            if not token:
                return got

    got = await asyncio.to_thread(pages)
    assert [len(p) for p in got] == [4, 4, 2]
    flat = [i for p in got for i in p]
    assert [i.get("Error") for i in flat[:2]] == ["NO_MEDIA", "NO_MEDIA"]
    assert all("ImageContent" in i for i in flat[2:9])  # the media lasts a little over 6 s
    assert flat[9].get("Error") == "NO_MEDIA"  # after the media
    # boto3's paginator follows NextToken the same way
    paged = await asyncio.to_thread(
        lambda: [
            len(p["Images"])
            for p in client.get_paginator("get_images").paginate(
                **base, PaginationConfig={"PageSize": 4}
            )
        ]
    )
    assert paged == [4, 4, 2]
    await emu.create_stream("no-retention", retention_hours=0)
    codes = await asyncio.to_thread(
        lambda: {
            "range": error_code(client.get_images, **{**base, "EndTimestamp": when(start + 301)}),
            "width only": error_code(client.get_images, **base, WidthPixels=10),
            "interval": error_code(client.get_images, **{**base, "SamplingInterval": 100}),
            "quality": error_code(client.get_images, **base, FormatConfig={"JPEGQuality": "0"}),
            "token": error_code(client.get_images, **base, NextToken="bm9wZQ=="),
            "retention": error_code(client.get_images, **{**base, "StreamName": "no-retention"}),
            "missing": error_code(client.get_images, **{**base, "StreamName": "nope"}),
        }
    )
    assert codes == {
        "range": "InvalidArgumentException",
        "width only": "InvalidArgumentException",
        "interval": "InvalidArgumentException",
        "quality": "InvalidArgumentException",
        "token": "InvalidArgumentException",
        "retention": "NoDataRetentionException",
        "missing": "ResourceNotFoundException",
    }


async def test_get_images_media_error_on_audio_only_fragments(emu: Emulator) -> None:
    track = writer.track_entry(number=1, track_type=2, codec_id="A_AAC", codec_private=b"\x11\x90")
    block = writer.simple_block(1, 0, b"\x21\x00", keyframe=True)
    body = (
        writer.info()
        + writer.tracks(track)
        + writer.cluster(0, [block, writer.simple_block(1, 500, b"\x21\x00", keyframe=True)])
    )
    await emu.create_stream("audio", retention_hours=1)
    frags = await emu.load_media("audio", writer.ebml_header() + writer.element(0x18538067, body))
    out = await asyncio.to_thread(
        boto(emu).get_images,
        StreamName="audio",
        ImageSelectorType="SERVER_TIMESTAMP",
        StartTimestamp=when(frags[0].server_timestamp),
        EndTimestamp=when(frags[0].server_timestamp + 0.2),
        Format="JPEG",
    )
    assert [i.get("Error") for i in out["Images"]] == ["MEDIA_ERROR"]
