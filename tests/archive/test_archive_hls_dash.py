"""HLS and DASH sessions served by the emulator: boto3 asks for the URL, ffprobe plays it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from archive_media import (
    GOP,
    aws_cli,
    boto,
    decoded_frames,
    ffprobe,
    make_media,
    needs_ffmpeg,
    selector,
    video_frames,
)
from botocore.exceptions import ClientError

from kvs_async.emulator import Emulator, FragmentInfo

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
    frags = [f for f in await emu.load_media(name, media) if f.duration_ms > 0]
    assert len(frags) >= 6
    return frags


def middle(frags: list[FragmentInfo]) -> tuple[float, float]:
    """A range holding fragments 1, 2 and 3 (start inclusive, end compared to starts)."""
    return frags[1].server_timestamp, frags[3].server_timestamp + 0.001


async def get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, dict(r.headers), await r.read()


@pytest.mark.parametrize("container", ["FRAGMENTED_MP4", "MPEG_TS"])
async def test_hls_on_demand_plays_the_frames_of_the_range(
    emu: Emulator, av_media: Path, container: str
) -> None:
    frags = await loaded(emu, av_media)
    start, end = middle(frags)
    client = boto(emu)
    out = await asyncio.to_thread(
        client.get_hls_streaming_session_url,
        StreamName="cam",
        PlaybackMode="ON_DEMAND",
        ContainerFormat=container,
        **selector("HLS", start, end),
    )
    url = out["HLSStreamingSessionURL"]
    assert url.startswith(f"{emu.url}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=")
    probe = await ffprobe(url)
    assert video_frames(probe) == 3 * GOP
    assert {s["codec_name"] for s in probe["streams"]} >= {"h264", "aac"}
    status, headers, master = await get(url)
    assert status == 200 and headers["Content-Type"].startswith("application/x-mpegURL")
    assert b'CODECS="avc1.' in master and b"RESOLUTION=320x240" in master
    media_url = url.replace("getHLSMasterPlaylist", "getHLSMediaPlaylist")
    playlist = (await get(media_url))[2].decode()
    ext = "getMP4MediaFragment.mp4" if container == "FRAGMENTED_MP4" else "getTSFragment.ts"
    listed = [line for line in playlist.splitlines() if line.startswith(ext)]
    assert [line.split("FragmentNumber=")[1].split("&")[0] for line in listed] == [
        f.fragment_number for f in frags[1:4]
    ]
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
    assert ("#EXT-X-MAP:" in playlist) == (container == "FRAGMENTED_MP4")
    # SERVER_TIMESTAMP: a discontinuity between every fragment by default
    assert playlist.count("#EXT-X-DISCONTINUITY\n") == 2


async def test_dash_on_demand_plays_the_frames_of_the_range(emu: Emulator, av_media: Path) -> None:
    frags = await loaded(emu, av_media)
    start, end = middle(frags)
    out = await asyncio.to_thread(
        boto(emu).get_dash_streaming_session_url,
        StreamName="cam",
        PlaybackMode="ON_DEMAND",
        DisplayFragmentNumber="ALWAYS",
        DisplayFragmentTimestamp="ALWAYS",
        **selector("DASH", start, end),
    )
    url = out["DASHStreamingSessionURL"]
    assert url.startswith(f"{emu.url}/dash/v1/getDASHManifest.mpd?SessionToken=")
    probe = await ffprobe(url)
    assert video_frames(probe) == 3 * GOP
    manifest = (await get(url))[2].decode()
    assert 'type="static"' in manifest
    for f in frags[1:4]:
        assert f'kvs:fn="{f.fragment_number}"' in manifest
        assert f'kvs:ts="{f.server_timestamp:.3f}"' in manifest


async def test_hls_live_window_discontinuities_timestamps_and_expiry(
    emu: Emulator, av_media: Path
) -> None:
    frags = await loaded(emu, av_media)
    out = await asyncio.to_thread(
        boto(emu).get_hls_streaming_session_url,
        StreamName="cam",
        PlaybackMode="LIVE",
        HLSFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP"},
        MaxMediaPlaylistFragmentResults=2,
        DisplayFragmentTimestamp="ALWAYS",
        Expires=300,
    )
    media_url = out["HLSStreamingSessionURL"].replace("getHLSMasterPlaylist", "getHLSMediaPlaylist")
    playlist = (await get(media_url))[2].decode()
    numbers = [
        ln.split("FragmentNumber=")[1].split("&")[0]
        for ln in playlist.splitlines()
        if "FragmentNumber=" in ln
    ]
    assert numbers == [f.fragment_number for f in frags[-2:]]
    assert "#EXT-X-ENDLIST" not in playlist
    assert playlist.count("#EXT-X-PROGRAM-DATE-TIME:") == 2
    assert "#EXT-X-DISCONTINUITY\n" not in playlist  # PRODUCER_TIMESTAMP: NEVER by default
    # new fragments slide the window
    more = await emu.load_media("cam", av_media)
    playlist = (await get(media_url))[2].decode()
    numbers = [
        ln.split("FragmentNumber=")[1].split("&")[0]
        for ln in playlist.splitlines()
        if "FragmentNumber=" in ln
    ]
    assert numbers == [f.fragment_number for f in more[-2:]]
    # a fragment of the window is served; one outside the session is not
    seg = next(ln for ln in playlist.splitlines() if ln.startswith("getMP4MediaFragment"))
    base = media_url.split("getHLSMediaPlaylist")[0]
    status, headers, body = await get(base + seg)
    assert (
        status == 200 and headers["Content-Type"] == "video/mp4" and body[4:8] in (b"moof", b"styp")
    )
    bad = base + seg.replace(
        f"FragmentNumber={numbers[0]}", f"FragmentNumber={frags[0].fragment_number}"
    )
    status, headers, _ = await get(bad)
    assert status == 404 and headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    # after Expires, every URL of the session answers 403
    emu.clock.advance(301)
    status, headers, _ = await get(media_url)
    assert status == 403 and headers["x-amzn-ErrorType"] == "NotAuthorizedException"
    status, headers, _ = await get(media_url.split("SessionToken=")[0] + "SessionToken=forged")
    assert status == 403


async def test_hls_live_replay_adds_fragments_as_time_passes(emu: Emulator, av_media: Path) -> None:
    frags = await loaded(emu, av_media)
    out = await asyncio.to_thread(
        boto(emu).get_hls_streaming_session_url,
        StreamName="cam",
        PlaybackMode="LIVE_REPLAY",
        DiscontinuityMode="ON_DISCONTINUITY",
        **selector("HLS", frags[0].producer_timestamp, frags[2].producer_timestamp, producer=True),
    )
    media_url = out["HLSStreamingSessionURL"].replace("getHLSMasterPlaylist", "getHLSMediaPlaylist")

    async def listed() -> list[str]:
        text = (await get(media_url))[2].decode()
        return [
            ln.split("FragmentNumber=")[1].split("&")[0]
            for ln in text.splitlines()
            if "FragmentNumber=" in ln
        ]

    assert await listed() == [frags[0].fragment_number]
    emu.clock.advance(frags[0].duration_ms / 1000 + 0.01)
    assert await listed() == [f.fragment_number for f in frags[:2]]
    emu.clock.advance(5)
    text = (await get(media_url))[2].decode()
    assert text.rstrip().endswith("#EXT-X-ENDLIST")  # the EndTimestamp was reached
    assert "#EXT-X-DISCONTINUITY\n" not in text  # producer timestamps are contiguous

    # without EndTimestamp the replay goes on into media ingested after the session began
    out = await asyncio.to_thread(
        boto(emu).get_hls_streaming_session_url,
        StreamName="cam",
        PlaybackMode="LIVE_REPLAY",
        MaxMediaPlaylistFragmentResults=100,
        **selector("HLS", frags[-1].producer_timestamp, None, producer=True),
    )
    media_url = out["HLSStreamingSessionURL"].replace("getHLSMasterPlaylist", "getHLSMediaPlaylist")
    assert await listed() == [frags[-1].fragment_number]
    more = await emu.load_media("cam", av_media)
    emu.clock.advance(60)
    text = (await get(media_url))[2].decode()
    assert "#EXT-X-ENDLIST" not in text
    assert await listed() == [frags[-1].fragment_number] + [f.fragment_number for f in more]


async def test_session_errors(emu: Emulator, av_media: Path) -> None:
    frags = await loaded(emu, av_media)
    client = boto(emu)

    def code(**kw: object) -> str:
        try:
            client.get_hls_streaming_session_url(**kw)
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "ok"

    def dash_code(**kw: object) -> str:
        try:
            client.get_dash_streaming_session_url(**kw)
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "ok"

    await emu.create_stream("no-retention", retention_hours=0)
    await emu.load_media("no-retention", av_media)
    first = frags[0].server_timestamp
    checks = await asyncio.to_thread(
        lambda: {
            "missing": code(StreamName="nope"),
            "retention": code(StreamName="no-retention"),
            "empty range": code(
                StreamName="cam",
                PlaybackMode="ON_DEMAND",
                **selector("HLS", first - 100, first - 50),
            ),
            "no end": code(
                StreamName="cam", PlaybackMode="ON_DEMAND", **selector("HLS", first, None)
            ),
            "over 24h": code(
                StreamName="cam",
                PlaybackMode="ON_DEMAND",
                **selector("HLS", first, first + 25 * 3600),
            ),
            "range in live": code(
                StreamName="cam", PlaybackMode="LIVE", **selector("HLS", first, first + 5)
            ),
            "dash empty": dash_code(
                StreamName="cam",
                PlaybackMode="ON_DEMAND",
                **selector("DASH", first - 100, first - 50),
            ),
        }
    )
    assert checks == {
        "missing": "ResourceNotFoundException",
        "retention": "NoDataRetentionException",
        "empty range": "ResourceNotFoundException",
        "no end": "InvalidArgumentException",
        "over 24h": "InvalidArgumentException",
        "range in live": "InvalidArgumentException",
        "dash empty": "ResourceNotFoundException",
    }
    emu.clock.advance(60)  # nothing ingested in the last 30 s: no LIVE session
    assert await asyncio.to_thread(code, StreamName="cam") == "ResourceNotFoundException"


async def test_aws_cli_gets_an_hls_url_ffprobe_plays(emu: Emulator, av_media: Path) -> None:
    frags = await loaded(emu, av_media)
    rc, out, err = await aws_cli(
        emu,
        "kinesis-video-archived-media",
        "get-hls-streaming-session-url",
        "--stream-name",
        "cam",
        "--playback-mode",
        "ON_DEMAND",
        "--container-format",
        "MPEG_TS",
        "--hls-fragment-selector",
        "FragmentSelectorType=SERVER_TIMESTAMP,TimestampRange={StartTimestamp="
        # the AWS CLI sends whole seconds: a range that holds fragments 0 and 1 after rounding
        f"{int(frags[0].server_timestamp)},EndTimestamp={int(frags[1].server_timestamp) + 1}}}",
        "--query",
        "HLSStreamingSessionURL",
        "--output",
        "text",
    )
    assert rc == 0, err
    assert video_frames(await ffprobe(out.strip())) == 2 * GOP


async def test_live_hls_and_dash_play_a_live_feed(emu: Emulator, av_media: Path) -> None:
    await emu.start_live("live", av_media)
    await asyncio.sleep(3.2)  # three one-second fragments in
    client = boto(emu)
    for call, key in (
        (client.get_hls_streaming_session_url, "HLSStreamingSessionURL"),
        (client.get_dash_streaming_session_url, "DASHStreamingSessionURL"),
    ):
        url = (await asyncio.to_thread(call, StreamName="live"))[key]
        # a player joins live and plays on while new fragments arrive
        assert await decoded_frames(url, "-t", "2") >= 2 * GOP - 1, key
    manifest = (await get(url))[2].decode()
    assert 'type="dynamic"' in manifest and "availabilityStartTime=" in manifest
