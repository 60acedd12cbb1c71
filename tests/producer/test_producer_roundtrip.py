"""Round trips through the emulator: what is put comes back from GetMedia frame for frame."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import MKV_DIR
from producer_testkit import (
    av_file,
    demux,
    emu,
    ffprobe_frames,
    frames_of,
    media_client,
    needs_ffmpeg,
    read_back,
    remux,
)

from kvs_async import AckEventType, FragmentAck
from kvs_async.emulator import Emulator
from kvs_async.mkv import ChunkParser
from kvs_async.producer import FrameMuxer, PutMediaLimits

__all__ = ["av_file", "emu"]  # fixtures

FAST = PutMediaLimits(calls_per_second=1000, fragments_per_second=1000, bytes_per_second=1e12)


async def put_frames(emu: Emulator, data: bytes, stream: str = "cam") -> list[FragmentAck]:
    tracks, frames = demux(data)
    async with media_client(emu) as media:
        async with media.put_media(
            stream_name=stream, fragment_timecode_type="RELATIVE", limits=FAST
        ) as producer:
            seen: list[FragmentAck] = []

            async def collect() -> None:
                async for ack in producer.acks():
                    seen.append(ack)

            task = asyncio.create_task(collect())
            producer.set_tracks(tracks)
            for track, tc, key, payload in frames:
                await producer.put_frame(track, tc, payload, keyframe=key)
        await task
    return seen


@needs_ffmpeg
async def test_put_frame_round_trip_h264_aac(emu: Emulator, av_file: Path, tmp_path: Path) -> None:
    data = av_file.read_bytes()
    _, source_frames = demux(data)
    acks = await put_frames(emu, data)
    chunks = await read_back(emu, "cam")
    assert frames_of(chunks) == source_frames  # same frames, once each, in order
    # A fragment per keyframe of the video track (GOP 12 at 25 fps, 3 s: 7 keyframes).
    video_keys = sum(1 for t, _, k, _ in source_frames if t == 1 and k)
    assert len(chunks) == video_keys
    assert all(c.frames[0].keyframe for c in chunks)
    assert all(c.frames[0].track_number == 1 for c in chunks[1:])  # cut at video keyframes
    persisted = [a for a in acks if a.event_type == AckEventType.PERSISTED]
    assert [a.fragment for a in persisted] == list(range(len(chunks)))
    assert [a.fragment_number for a in persisted] == [c.fragment_number for c in chunks]
    kinds = [a.event_type for a in acks if a.fragment == 0]
    assert kinds == [AckEventType.BUFFERING, AckEventType.RECEIVED, AckEventType.PERSISTED]
    out = tmp_path / "back.mkv"
    out.write_bytes(remux(chunks))
    assert ffprobe_frames(out) == ffprobe_frames(av_file)


@needs_ffmpeg
async def test_put_fragment_round_trip(emu: Emulator, av_file: Path) -> None:
    tracks, frames = demux(av_file.read_bytes())
    muxer = FrameMuxer(tracks, limits=PutMediaLimits())
    fragments = []
    for track, tc, key, payload in frames:
        frag = muxer.add(track, tc, payload, keyframe=key, index=len(fragments))
        if frag is not None:
            fragments.append(frag.data)
    last = muxer.flush(index=len(fragments))
    assert last is not None
    fragments.append(last.data)
    async with media_client(emu) as media:
        async with media.put_media(stream_name="cam", limits=FAST) as producer:
            for data in fragments:
                await producer.put_fragment(data)
        assert producer.stats.persisted == len(fragments)
    chunks = await read_back(emu, "cam")
    assert frames_of(chunks) == frames


async def test_fixture_fragments_keep_their_producer_tags(emu: Emulator) -> None:
    """Each fragment of the C-SDK fixture, put whole, comes back with its testTag Tags."""
    data = (MKV_DIR / "test_mixed_tags.mkv").read_bytes()
    parser = ChunkParser()
    source = parser.feed(data) + parser.close()
    docs = [data[c.offset : c.offset + len(c.raw)] for c in source]
    async with media_client(emu) as media:
        async with media.put_media(stream_name="cam", limits=FAST) as producer:
            for doc in docs:
                await producer.put_fragment(doc)
    chunks = await read_back(emu, "cam")
    assert frames_of(chunks) == frames_of(source)
    user = [[t for t in c.tag_list if t[0].startswith("testTag")] for c in chunks]
    assert user == [[t for t in c.tag_list if t[0].startswith("testTag")] for c in source]
    assert sum(map(len, user)) == 55  # 55 SimpleTags: 110 "testTag" strings (name + value)
    body = b"".join(c.raw for c in chunks)
    assert body.count(b"testTag") == data.count(b"testTag") == 110


async def test_loaded_fixture_keeps_producer_tags_in_both_reads(emu: Emulator) -> None:
    data = (MKV_DIR / "test_mixed_tags.mkv").read_bytes()
    await emu.load_media("cam", data)
    chunks = await read_back(emu, "cam")
    assert sum(1 for c in chunks for t in c.tag_list if t[0].startswith("testTag")) == 55
    numbers = [c.fragment_number for c in chunks if c.fragment_number]
    async with media_client(emu) as _media:
        from kvs_async.kinesis_video_archived_media import KinesisVideoArchivedMediaClient

        async with KinesisVideoArchivedMediaClient(
            region=emu.region, credentials=emu.credentials, control_endpoint_url=emu.url
        ) as archived:
            listed = [
                c
                async for c in archived.get_media_for_fragment_list(
                    stream_name="cam", fragments=numbers
                )
            ]
    assert sum(1 for c in listed for t in c.tag_list if t[0].startswith("testTag")) == 55
    assert frames_of(listed) == frames_of(chunks)
