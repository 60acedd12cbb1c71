"""Bad input to the producer: a typed error naming the fragment and the rule, nothing acked lost."""

from __future__ import annotations

import pytest
from producer_testkit import emu, media_client, read_back

from kvs_async.emulator import Emulator
from kvs_async.mkv import writer
from kvs_async.producer import (
    ACK_ERRORS,
    AckEventType,
    AckParser,
    FragmentAck,
    FragmentRejectedError,
    PutMediaAckError,
    PutMediaLimits,
)

__all__ = ["emu"]

SRC = writer.synthetic_fragments(3, frames_per_fragment=4, frame_size=300)
HEAD = writer.ebml_header() + writer.unknown_size(0x18538067)


def doc(i: int, *, key: bool = True, tc: int | None = None) -> bytes:
    s = SRC[i]
    start = s.timecode_ms if tc is None else tc
    blocks = [writer.simple_block(1, j * 33, bytes(300), keyframe=key and j == 0) for j in range(4)]
    return HEAD + s.info + s.tracks + writer.cluster(start, blocks)


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (b"RIFF....WAVEfmt not matroska", "mkv"),
        (doc(1, key=False), "starts-with-keyframe"),
        (doc(1, tc=0), "forward-timecodes"),
        (doc(1) + doc(2)[len(HEAD) :], "one-cluster"),
        (HEAD + SRC[1].info + SRC[1].cluster, "tracks"),
    ],
    ids=["not-mkv", "no-keyframe", "backwards", "two-clusters", "no-tracks"],
)
async def test_bad_fragment_is_refused_and_the_good_ones_are_kept(
    emu: Emulator, bad: bytes, rule: str
) -> None:
    async with media_client(emu) as media:
        async with media.put_media(stream_name="cam") as producer:
            await producer.put_fragment(doc(0))
            with pytest.raises(FragmentRejectedError) as info:
                await producer.put_fragment(bad)
            await producer.put_fragment(doc(2))
    assert info.value.fragment == 1 and info.value.rule == rule
    assert "fragment 1:" in str(info.value)
    chunks = await read_back(emu, "cam")
    assert [c.frames[0].timecode_ms for c in chunks] == [SRC[0].timecode_ms, SRC[2].timecode_ms]


async def test_size_and_duration_limits_name_the_rule(emu: Emulator) -> None:
    limits = PutMediaLimits(max_fragment_size=1000)
    async with media_client(emu) as media:
        async with media.put_media(stream_name="cam", limits=limits) as producer:
            with pytest.raises(FragmentRejectedError, match="maximum fragment size") as size:
                await producer.put_fragment(doc(0))
    assert size.value.rule == "max-fragment-size"
    small = PutMediaLimits(max_fragment_duration_ms=50)
    async with media_client(emu) as media:
        async with media.put_media(stream_name="cam", limits=small) as producer:
            with pytest.raises(FragmentRejectedError) as dur:
                await producer.put_fragment(doc(0))
    assert dur.value.rule == "max-fragment-duration"


async def test_missing_stream_raises_at_entry(emu: Emulator) -> None:
    from kvs_async.kinesisvideo import ResourceNotFoundException

    async with media_client(emu) as media:
        with pytest.raises(ResourceNotFoundException):
            async with media.put_media(stream_name="nope"):
                pass


async def test_server_error_ack_is_typed_and_raised_on_exit(emu: Emulator) -> None:
    emu.faults.put_media_error_ack(4010, "TRACK_NUMBER_MISMATCH", after_fragments=1, stream="cam")
    seen: list[FragmentAck] = []
    async with media_client(emu) as media:
        producer = media.put_media(stream_name="cam")
        with pytest.raises(PutMediaAckError) as info:
            async with producer:
                for i in range(3):
                    await producer.put_fragment(doc(i))
        seen = list(producer._acks)
    assert type(info.value) is ACK_ERRORS[4010] and info.value.fragment == 1
    assert info.value.error_code == "TRACK_NUMBER_MISMATCH"
    errors = [a for a in seen if a.event_type == AckEventType.ERROR]
    assert errors and isinstance(errors[0].error, ACK_ERRORS[4010])
    chunks = await read_back(emu, "cam")  # the others are stored
    assert [c.frames[0].timecode_ms for c in chunks] == [SRC[0].timecode_ms, SRC[2].timecode_ms]


def test_ack_parser_keeps_unknown_event_types_and_splits_anywhere() -> None:
    wire = (
        b'{"EventType":"BUFFERING","FragmentTimecode":5}\n\n'
        b'{"EventType":"SOMETHING_NEW","FragmentTimecode":5}\n'
        b'{"EventType":"ERROR","FragmentTimecode":5,"ErrorId":4002}\n'
    )
    for cut in range(len(wire)):
        parser = AckParser()
        acks = parser.feed(wire[:cut]) + parser.feed(wire[cut:]) + parser.close()
        assert [str(a.event_type) for a in acks] == ["BUFFERING", "SOMETHING_NEW", "ERROR"]
    assert acks[1].event_type == "SOMETHING_NEW" and acks[1].event_type not in list(AckEventType)
    err = acks[2].with_fragment(7).error
    assert err is not None and err.ERROR_ID == 4002 and err.fragment == 7
    with pytest.raises(ValueError, match="byte 0"):
        AckParser().feed(b"not json\n")
