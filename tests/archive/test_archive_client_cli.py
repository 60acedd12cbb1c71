"""The library helpers (get_clip_to_file, iter_images, hls_url, dash_url) and the CLI commands."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from archive_media import FPS, GOP, ffprobe, make_media, needs_ffmpeg, video_frames, when
from PIL import Image

from kvs_async.archive.mixin import _windows
from kvs_async.emulator import Emulator, FragmentInfo
from kvs_async.kinesis_video_archived_media import (
    KinesisVideoArchivedMediaClient,
    ResourceNotFoundException,
)

pytestmark = needs_ffmpeg


@pytest.fixture(scope="module")
def av_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media") / "av.mkv", audio=True)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as e:
        yield e


async def loaded(emu: Emulator, media: Path) -> list[FragmentInfo]:
    await emu.create_stream("cam", retention_hours=24)
    return await emu.load_media("cam", media)


def client(emu: Emulator) -> KinesisVideoArchivedMediaClient:
    return KinesisVideoArchivedMediaClient(
        credentials=emu.credentials, region=emu.region, control_endpoint_url=emu.url
    )


async def test_get_clip_to_file_streams_to_disk_with_progress(
    emu: Emulator, av_media: Path, tmp_path: Path
) -> None:
    frags = await loaded(emu, av_media)
    seen: list[int] = []
    target = tmp_path / "clip.mp4"
    async with client(emu) as c:
        clip = await c.get_clip_to_file(
            target,
            stream_name="cam",
            start=when(frags[0].producer_timestamp),
            end=when(frags[2].producer_timestamp),
            timestamp_type="PRODUCER_TIMESTAMP",
            progress=seen.append,
        )
        assert clip.path == target and clip.size == target.stat().st_size
        assert clip.content_type == "video/mp4"
        assert seen and seen == sorted(seen) and seen[-1] == clip.size
        probe = await ffprobe(target)
        assert video_frames(probe) == 3 * GOP
        assert abs(float(probe["format"]["duration"]) - 3 * GOP / FPS) < 0.1
        # nothing in range: the service's typed error, and no file (not even a .part) left
        missing = tmp_path / "none.mp4"
        with pytest.raises(ResourceNotFoundException):
            await c.get_clip_to_file(
                missing,
                stream_name="cam",
                start=when(frags[0].server_timestamp - 100),
                end=when(frags[0].server_timestamp - 50),
            )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_windows_keep_the_sampling_grid_within_300_seconds() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for seconds, interval in ((299, 1000), (300, 7000), (301, 1000), (1000, 30_000), (905, 200)):
        end = start + timedelta(seconds=seconds)
        windows = _windows(start, end, interval)
        step = timedelta(milliseconds=interval)
        grid = []
        for lo, hi in windows:
            assert timedelta(0) <= hi - lo <= timedelta(seconds=300)
            assert (lo - start) % step == timedelta(0)
            t = lo
            while t <= hi:
                grid.append(t)
                t += step
        expected = []
        t = start
        while t <= end:
            expected.append(t)
            t += step
        assert grid == expected, (seconds, interval)


async def test_iter_images_follows_pages_and_windows(emu: Emulator, av_media: Path) -> None:
    frags = await loaded(emu, av_media)
    start = when(frags[0].server_timestamp)
    async with client(emu) as c:
        images = [
            image
            async for image in c.iter_images(
                stream_name="cam",
                start=start,
                end=start + timedelta(seconds=330),  # longer than one GetImages call may ask
                sampling_interval=1500,
                max_results=3,
                height_pixels=120,
            )
        ]
    assert len(images) == 221  # 0, 1.5, ... 330 s
    assert [i.timestamp for i in images] == [
        start + timedelta(milliseconds=1500 * k) for k in range(221)
    ]
    with_content = [i for i in images if i.content is not None]
    assert len(with_content) == 5  # 0, 1.5, 3, 4.5 and 6 s are inside the 6.02 s of media
    assert {i.error for i in images if i.content is None} == {"NO_MEDIA"}
    for image in with_content:
        picture = Image.open(io.BytesIO(image.content or b""))
        assert picture.format == "JPEG" and picture.size == (160, 120)


async def test_hls_url_and_dash_url_play(emu: Emulator, av_media: Path) -> None:
    frags = await loaded(emu, av_media)
    start, end = when(frags[1].server_timestamp), when(frags[2].server_timestamp)
    async with client(emu) as c:
        hls = await c.hls_url(stream_name="cam", start=start, end=end, container_format="MPEG_TS")
        dash = await c.dash_url(stream_name="cam", start=start, end=end)
        live = await c.hls_url(stream_name="cam")
    assert video_frames(await ffprobe(hls)) == 2 * GOP
    assert video_frames(await ffprobe(dash)) == 2 * GOP
    assert "/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=" in live


# -- the CLI ------------------------------------------------------------------------------


async def cli(emu: Emulator, home: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(home),
        AWS_ENDPOINT_URL=emu.url,
        AWS_REGION=emu.region,
        AWS_ACCESS_KEY_ID=emu.credentials.access_key,
        AWS_SECRET_ACCESS_KEY=emu.credentials.secret_key,
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kvs_async.cli",
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_clip_images_hls(emu: Emulator, av_media: Path, tmp_path: Path) -> None:
    frags = await loaded(emu, av_media)
    start = f"{frags[0].server_timestamp:.3f}"
    end = f"{frags[1].server_timestamp:.3f}"
    clip = tmp_path / "clip.mp4"
    rc, out, err = await cli(
        emu, tmp_path, "clip", "cam", "--start", start, "--end", end, "-o", str(clip), "--json"
    )
    assert rc == 0, err
    assert json.loads(out)["bytes"] == clip.stat().st_size
    assert video_frames(await ffprobe(clip)) == 2 * GOP

    shots = tmp_path / "shots"
    rc, out, err = await cli(
        emu, tmp_path, "images", "cam", "--start", start, "--end", end,
        "--interval", "500", "--format", "png", "--height", "60", "-o", str(shots),
    )  # fmt: skip
    assert rc == 0, err
    files = sorted(shots.iterdir())
    assert len(files) == 3 and all(f.suffix == ".png" for f in files)  # 0, 0.5, 1.0 s
    assert {Image.open(f).size for f in files} == {(80, 60)}

    rc, out, err = await cli(emu, tmp_path, "hls", "cam", "--start", start, "--end", end)
    assert rc == 0, err
    assert video_frames(await ffprobe(out.strip())) == 2 * GOP


async def test_cli_errors_are_one_line(emu: Emulator, av_media: Path, tmp_path: Path) -> None:
    frags = await loaded(emu, av_media)
    t = f"{frags[0].server_timestamp:.3f}"
    rc, _, err = await cli(
        emu,
        tmp_path,
        "images",
        "cam",
        "--start",
        t,
        "--end",
        t,
        "--width",
        "10",
        "-o",
        str(tmp_path / "d"),
    )
    assert rc == 2 and err.strip().count("\n") == 0 and "--width needs --height" in err
    rc, _, err = await cli(
        emu,
        tmp_path,
        "clip",
        "nope",
        "--start",
        t,
        "--end",
        "9999999999",
        "-o",
        str(tmp_path / "x.mp4"),
    )
    assert rc == 1 and "Traceback" not in err and err.strip().count("\n") == 0, err
    assert not (tmp_path / "x.mp4").exists()
    rc, _, err = await cli(emu, tmp_path, "hls", "cam", "--mode", "ON_DEMAND", "--start", t)
    assert rc == 2 and "--end" in err
