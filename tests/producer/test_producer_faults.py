"""Resumption under hypothesis-chosen PutMedia fault schedules, and backpressure."""

from __future__ import annotations

import asyncio
import tracemalloc

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from producer_testkit import frames_of, media_client, read_back

from kvs_async.emulator import Emulator
from kvs_async.getmedia import ResumePolicy
from kvs_async.mkv import Chunk, ChunkParser, writer
from kvs_async.producer import AckEventType, FragmentAck, PutMediaLimits

COUNT = 8
SOURCES = writer.synthetic_fragments(COUNT, frames_per_fragment=5, frame_size=700)
DOCS = [
    writer.ebml_header() + writer.unknown_size(0x18538067) + s.info + s.tracks + s.cluster
    for s in SOURCES
]
FAST = PutMediaLimits(calls_per_second=1000, fragments_per_second=1000, bytes_per_second=1e12)
POLICY = ResumePolicy(max_attempts=30, backoff_base=0.005, backoff_cap=0.05)
#: Faults after which the server may hold a fragment whose acknowledgement never arrived.
ACK_LOSING = {"cut", "lose_acks", "stall"}


def parse(doc: bytes) -> list[Chunk]:
    parser = ChunkParser(trailing_tags=False)
    return parser.feed(doc) + parser.close()


fault = st.one_of(
    st.tuples(st.just("cut"), st.integers(0, COUNT - 1), st.integers(0, 4000)),
    st.tuples(st.just("http_500"), st.just(0), st.just(0)),
    st.tuples(st.just("throttle"), st.just(0), st.just(0)),
    st.tuples(st.just("error_ack"), st.integers(0, COUNT - 1), st.just(5000)),
    st.tuples(st.just("lose_acks"), st.integers(0, COUNT - 1), st.just(0)),
    st.tuples(st.just("stall"), st.integers(0, COUNT - 1), st.just(0)),
)


def arm(emu: Emulator, kind: str, after: int, value: int) -> None:
    f = emu.faults
    if kind == "cut":
        f.put_media_cut(value, after_fragments=after, stream="cam")
    elif kind == "http_500":
        f.http_500(stream="cam", operation="PutMedia")
    elif kind == "throttle":
        f.throttle(stream="cam", operation="PutMedia")
    elif kind == "error_ack":
        f.put_media_error_ack(value, after_fragments=after, stream="cam")
    elif kind == "lose_acks":
        f.put_media_lose_acks(after_fragments=after, stream="cam")
    else:
        f.put_media_stall(0.6, after_fragments=after, stream="cam")


async def run_schedule(schedule: list[tuple[str, int, int]]) -> None:
    async with Emulator(idle_timeout=0.3, putmedia_calls_per_second=1000) as emu:
        await emu.create_stream("cam", retention_hours=24)
        for kind, after, value in schedule:
            arm(emu, kind, after, value)
        seen: list[FragmentAck] = []
        async with media_client(emu) as media:
            async with media.put_media(
                stream_name="cam", limits=FAST, resume=POLICY, ack_timeout=0.3
            ) as producer:

                async def collect() -> None:
                    async for ack in producer.acks():
                        seen.append(ack)

                task = asyncio.create_task(collect())
                for doc in DOCS:
                    await producer.put_fragment(doc)
            await task
        assert producer.failures == []
        chunks = await read_back(emu, "cam")
        # Every fragment put is stored, with the frames put; a further copy only of a
        # fragment whose acknowledgement never reached the producer.
        by_tc: dict[int, list[str | None]] = {}
        for c in chunks:
            source = SOURCES[[x.timecode_ms for x in SOURCES].index(c.frames[0].timecode_ms)]
            assert frames_of([c]) == frames_of(parse(DOCS[SOURCES.index(source)]))
            by_tc.setdefault(source.timecode_ms, []).append(c.fragment_number)
        assert sorted(by_tc) == [s.timecode_ms for s in SOURCES]
        acked = {a.fragment_number for a in seen if a.event_type == AckEventType.PERSISTED}
        # The bound: one copy more than the times its acks were lost (at most twice when
        # they are lost once; never twice when no fault can lose an ack).
        lossy = sum(1 for kind, _, _ in schedule if kind in ACK_LOSING)
        for numbers in by_tc.values():
            assert len(numbers) <= 1 + lossy
            assert len([n for n in numbers if n in acked]) == 1  # the copy acknowledged
        if lossy <= 1:
            assert all(len(n) <= 2 for n in by_tc.values())
        # The acks the caller saw are acks the server sent, one PERSISTED per fragment.
        sent = {(d.get("EventType"), d.get("FragmentNumber")) for _, d in emu.put_media_acks}
        for ack in seen:
            if ack.fragment_number is not None:
                assert (str(ack.event_type), ack.fragment_number) in sent
        persisted = [a for a in seen if a.event_type == AckEventType.PERSISTED]
        assert sorted(a.fragment for a in persisted) == list(range(COUNT))
        numbers = {c.fragment_number for c in chunks}
        assert {a.fragment_number for a in persisted} <= numbers


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=st.lists(fault, min_size=1, max_size=4))
@example(schedule=[("lose_acks", 0, 0), ("lose_acks", 0, 0)])  # acks of one fragment lost twice
@example(schedule=[("error_ack", 0, 5000), ("cut", 3, 100)])
def test_fault_schedules_store_every_fragment_at_most_twice(
    schedule: list[tuple[str, int, int]],
) -> None:
    asyncio.run(run_schedule(schedule))


async def test_backpressure_bounds_memory_by_the_window() -> None:
    """A producer faster than the server: put_fragment waits, and what the producer holds
    (allocations made by kvs_async.producer) stays within the window, however much is put."""
    window = 4
    payload = bytes(range(256)) * 400  # 100 KB fragments
    # The emulator (same process) stores what it is sent through the cutter: not counted.
    only_producer = [
        tracemalloc.Filter(True, "*/kvs_async/producer/*"),
        tracemalloc.Filter(False, "*/kvs_async/producer/cutter.py"),
    ]

    def held() -> int:
        snap = tracemalloc.take_snapshot().filter_traces(only_producer)
        return sum(stat.size for stat in snap.statistics("filename"))

    async with Emulator(idle_timeout=0.3, putmedia_calls_per_second=1000) as emu:
        await emu.create_stream("cam", retention_hours=24)
        emu.faults.put_media_stall(0.5, after_fragments=2, stream="cam")
        async with media_client(emu) as media:
            async with media.put_media(
                stream_name="cam", limits=FAST, max_inflight_fragments=window, ack_timeout=5.0
            ) as producer:
                tracemalloc.start()
                peaks = []
                try:
                    for i in range(80):
                        data = writer.ebml_header() + writer.unknown_size(0x18538067)
                        data += SOURCES[0].info + SOURCES[0].tracks
                        block = writer.simple_block(1, 0, payload, keyframe=True)
                        data += writer.cluster(i * 1000, [block])
                        await producer.put_fragment(data)
                        del data, block
                        assert producer.in_flight <= window
                        if i % 10 == 9:
                            peaks.append(held())
                finally:
                    tracemalloc.stop()
        assert producer.stats.persisted == 80
    # At most the window's fragments (plus one being checked) are held: ~5 x 100 KB, for
    # 8 MB put; the same bound after 10 fragments as after 80.
    assert max(peaks) < (window + 2) * len(payload) * 1.5
