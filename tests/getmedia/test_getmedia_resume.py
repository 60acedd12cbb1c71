"""get_media against the emulator: every fragment once, in order, whatever the faults."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async import ClientConfig, ServiceError, TransportError
from kvs_async.emulator import Emulator
from kvs_async.getmedia import MediaStream, ResumePolicy
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector
from kvs_async.media_errors import (
    FragmentNotFoundError,
    GetMediaStreamError,
    InternalStreamError,
    KmsKeyDisabledError,
)
from kvs_async.mkv.writer import synthetic_mkv

STREAM = "cam"
EARLIEST = StartSelector(start_selector_type="EARLIEST")


def client_for(emu: Emulator, **config: float) -> KinesisVideoMediaClient:
    return KinesisVideoMediaClient(
        region=emu.region,
        credentials=emu.credentials,
        control_endpoint_url=emu.url,
        config=ClientConfig(**config),  # type: ignore[arg-type]
    )


async def drain(stream: MediaStream, limit: int, delay: float = 0.0) -> list[str | None]:
    got: list[str | None] = []
    async with stream:
        async for chunk in stream:
            got.append(chunk.fragment_number)
            if len(got) >= limit:
                break
            if delay:
                await asyncio.sleep(delay)
    return got


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(idle_timeout=0.5) as emulator:
        yield emulator


async def settled(emu: Emulator, timeout: float = 5.0) -> None:
    """Wait until every media connection the emulator opened has been logged as closed."""
    async with asyncio.timeout(timeout):
        while len(emu.log.closes()) < len(emu.log.opens()):
            await asyncio.sleep(0.01)


async def load(emu: Emulator, count: int, *, frame_size: int = 2000) -> list[str]:
    loaded = await emu.load_media(STREAM, synthetic_mkv(count, frame_size=frame_size))
    return [f.fragment_number for f in loaded]


async def test_reads_every_fragment_with_tags(emu: Emulator) -> None:
    expected = await load(emu, 6)
    async with client_for(emu) as client:
        stream = client.get_media(stream_name=STREAM, start_selector=EARLIEST)
        chunks = []
        async with stream:
            async for chunk in stream:
                chunks.append(chunk)
                if len(chunks) == len(expected):
                    break
    assert [c.fragment_number for c in chunks] == expected
    assert all(c.continuation_token == c.fragment_number for c in chunks)
    assert all(len(c.frames) == 30 and c.server_timestamp is not None for c in chunks)
    assert stream.resumes == 0 and stream.attempts == 1
    assert stream.continuation_token == expected[-1]
    # GetDataEndpoint was asked once, then GetMedia went to the discovered endpoint.
    assert len(emu.log.calls(operation="GetDataEndpoint")) == 1
    assert len(emu.log.calls(operation="GetMedia")) == 1


# One fault per GetMedia connection: a cut after N bytes, a stall longer than the
# read timeout, an HTTP 500, a throttle (ClientLimitExceededException).
FAULT = st.one_of(
    st.tuples(st.just("cut"), st.integers(min_value=1, max_value=150_000)),
    st.tuples(st.just("stall"), st.integers(min_value=0, max_value=100_000)),
    st.tuples(st.just("http_500"), st.just(0)),
    st.tuples(st.just("throttle"), st.just(0)),
)


async def _scenario(faults: list[tuple[str, int]], count: int, session: float | None) -> None:
    # A short session with a consumer slower than the server makes KVS-style session ends
    # (a clean end of the response after a whole fragment) part of the schedule.
    async with Emulator(idle_timeout=0.5, session_duration=session or 45 * 60.0) as emu:
        expected = await load(emu, count)
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
            got = await drain(stream, len(expected), delay=0.03 if session else 0.0)
        assert got == expected
        await settled(emu)
        calls = emu.log.calls(operation="GetMedia", stream=STREAM)
        assert stream.attempts == len(calls)
        # The resume count matches the faults that took effect, as the server saw them:
        # refused calls (500, throttle) and connections that ended early (cut, stall, session
        # end); the last connection is the one the consumer closes once it has everything.
        refused = [c for c in calls if c.status != 200]
        ended = [
            e.reason
            for e in emu.log.closes(operation="GetMedia", stream=STREAM)
            if e.reason not in ("end", "idle")
        ]
        assert stream.resumes == len(calls) - 1 == len(refused) + len(ended) - 1
        if session is None:
            assert "session_end" not in ended
        assert len(refused) == sum(1 for kind, _ in faults if kind in ("http_500", "throttle"))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    faults=st.lists(FAULT, max_size=4),
    count=st.integers(min_value=3, max_value=8),
    session=st.sampled_from([None, None, 0.05]),
)
def test_fault_schedules_lose_and_repeat_nothing(
    faults: list[tuple[str, int]], count: int, session: float | None
) -> None:
    asyncio.run(_scenario(faults, count, session))


async def test_session_end_resumes_from_the_token() -> None:
    async with Emulator(idle_timeout=5.0, session_duration=0.4) as emu:
        await emu.create_stream(STREAM)
        feed = await emu.start_live(STREAM, synthetic_mkv(40), speed=20.0)
        async with client_for(emu) as client:
            stream = client.get_media(stream_name=STREAM, start_selector=EARLIEST)
            got = await drain(stream, 25)
        await emu.stop_live(STREAM)
        del feed
        stored = [f.fragment_number for f in emu.fragments(STREAM)]
        assert got == stored[: len(got)]
        ended = [
            e
            for e in emu.log.closes(operation="GetMedia", stream=STREAM)
            if e.reason == "session_end"
        ]
        assert ended, "the emulator should have ended at least one session"
        assert stream.resumes >= len(ended)


async def test_retryable_error_tag_resumes_and_fatal_one_raises(emu: Emulator) -> None:
    expected = await load(emu, 6)
    emu.faults.error_tag("INTERNAL_ERROR", 5000, after_fragments=2, stream=STREAM)
    async with client_for(emu) as client:
        stream = client.get_media(stream_name=STREAM, start_selector=EARLIEST)
        assert await drain(stream, len(expected)) == expected
        assert stream.resumes == 1
        assert isinstance(stream.last_error, InternalStreamError)

        emu.faults.error_tag("KMS_KEY_DISABLED", 4501, after_fragments=1, stream=STREAM)
        stream = client.get_media(stream_name=STREAM, start_selector=EARLIEST)
        got = []
        with pytest.raises(KmsKeyDisabledError) as info:
            async for chunk in stream:
                got.append(chunk.fragment_number)
        assert got == expected[:1]
        assert info.value.error_id == 4501 and info.value.continuation_token == expected[0]
        assert info.value.fragment_number == expected[0]
        assert isinstance(info.value, GetMediaStreamError)


async def test_start_from_saved_token(emu: Emulator) -> None:
    expected = await load(emu, 6)
    async with client_for(emu) as client:
        first = client.get_media(stream_name=STREAM, start_selector=EARLIEST)
        assert await drain(first, 2) == expected[:2]
        saved = first.continuation_token
        again = client.get_media(
            stream_name=STREAM,
            start_selector=StartSelector(
                start_selector_type="CONTINUATION_TOKEN", continuation_token=saved
            ),
        )
        assert await drain(again, 4) == expected[2:]


async def test_service_errors_that_cannot_be_retried_raise(emu: Emulator) -> None:
    async with client_for(emu) as client:
        stream = client.get_media(stream_name="missing", start_selector=EARLIEST)
        # Raised by GetDataEndpoint (the control plane's class) before any GetMedia call.
        with pytest.raises(ServiceError) as info:
            await anext(stream)
        assert info.value.code == "ResourceNotFoundException"
        assert stream.attempts == 1 and not emu.log.calls(operation="GetMedia")


async def test_resume_off_raises_the_drop(emu: Emulator) -> None:
    await load(emu, 4)
    emu.faults.cut_after(1000, stream=STREAM)
    async with client_for(emu) as client:
        stream = client.get_media(stream_name=STREAM, start_selector=EARLIEST, resume=False)
        with pytest.raises(TransportError):
            async for _ in stream:
                pass


async def test_gives_up_after_max_attempts_without_progress(emu: Emulator) -> None:
    await load(emu, 2)
    emu.faults.http_500(stream=STREAM, operation="GetMedia", times=None)
    async with client_for(emu, max_attempts=1) as client:
        stream = client.get_media(
            stream_name=STREAM,
            start_selector=EARLIEST,
            resume=ResumePolicy(max_attempts=3, backoff_base=0.01),
        )
        with pytest.raises(Exception) as info:
            await anext(stream)
        assert getattr(info.value, "status_code", None) == 500
        assert stream.attempts == 3


async def test_twenty_consumers_stay_within_five_calls_per_second(emu: Emulator) -> None:
    expected = await load(emu, 3)
    async with client_for(emu) as client:
        streams = [client.get_media(stream_name=STREAM, start_selector=EARLIEST) for _ in range(20)]
        results = await asyncio.gather(*(drain(s, len(expected)) for s in streams))
    assert all(r == expected for r in results)
    times = sorted(e.time for e in emu.log.calls(operation="GetMedia", stream=STREAM))
    assert len(times) == 20
    for i in range(len(times) - 5):
        assert times[i + 5] - times[i] >= 1.0, f"6 GetMedia calls within a second at {i}"
    assert not [
        e
        for e in emu.log.calls(operation="GetMedia")
        if e.error_code == "ClientLimitExceededException"
    ]


async def test_cancel_and_break_close_the_connection_at_once() -> None:
    async with Emulator(idle_timeout=30.0) as emu:
        await load(emu, 3)
        async with client_for(emu) as client:
            # A reader blocked waiting for more media is cancelled.
            stream = client.get_media(stream_name=STREAM, start_selector=EARLIEST)

            async def read_all() -> None:
                async for _ in stream:
                    pass

            task = asyncio.create_task(read_all())
            await emu.log.wait_for(lambda e: e.kind == "open" and e.operation == "GetMedia")
            await asyncio.sleep(0.2)  # it has caught up and waits for new fragments
            start = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await emu.log.wait_for(lambda e: e.kind == "close" and e.operation == "GetMedia")
            assert time.monotonic() - start < 0.1
            assert emu.log.closes(operation="GetMedia")[-1].reason == "client_gone"

            # Breaking out of async for (no async with) drops the iterator and its response.
            emu.log.clear()
            async for _ in client.get_media(stream_name=STREAM, start_selector=EARLIEST):
                break
            gc.collect()
            start = time.monotonic()
            await emu.log.wait_for(lambda e: e.kind == "close" and e.operation == "GetMedia")
            assert time.monotonic() - start < 0.1


async def test_fragment_list_yields_chunks_and_resumes(emu: Emulator) -> None:
    from kvs_async.kinesis_video_archived_media import KinesisVideoArchivedMediaClient

    expected = await load(emu, 5)
    wanted = [expected[3], expected[1], expected[4]]
    emu.faults.cut_after(70_000, stream=STREAM, operation="GetMediaForFragmentList")
    async with KinesisVideoArchivedMediaClient(
        region=emu.region, credentials=emu.credentials, control_endpoint_url=emu.url
    ) as client:
        stream = client.get_media_for_fragment_list(stream_name=STREAM, fragments=wanted)
        got = [c.fragment_number async for c in stream]
    assert got == wanted
    assert stream.resumes == 1


async def test_fragment_not_found_error_class() -> None:
    err = FragmentNotFoundError("FRAGMENT_NOT_FOUND", 4000, fragment_number="1")
    assert "4000" in str(err) and "fragment 1" in str(err)
    import pickle

    again = pickle.loads(pickle.dumps(err))
    assert type(again) is FragmentNotFoundError and again.error_id == 4000
