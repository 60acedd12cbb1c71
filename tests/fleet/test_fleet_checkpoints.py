"""Checkpoint stores against a reference model, and get_media(checkpoint=...) over loopback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fleet_testkit import RedisServer, redis_server_fixture  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async import (
    CheckpointStore,
    FencedCheckpoints,
    ParamValidationError,
    RedisCheckpoints,
    SqliteCheckpoints,
    StaleFenceError,
)
from kvs_async.emulator import Emulator
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector
from kvs_async.mkv.writer import synthetic_mkv

EARLIEST = StartSelector(start_selector_type="EARLIEST")

# put(token) | cas(fence, token or None = claim), on one of two streams.
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from("ab"), st.integers(0, 5), st.none()),
        st.tuples(
            st.just("cas"),
            st.sampled_from("ab"),
            st.one_of(st.none(), st.integers(0, 5)),
            st.integers(0, 6),
        ),
    ),
    max_size=25,
)


async def _check_against_model(
    store: CheckpointStore, ops: list[tuple[str, str, int | None, int | None]], consumer: str
) -> None:
    model: dict[str, tuple[str | None, int]] = {}
    for kind, stream, token, fence in ops:
        text = None if token is None else f"tok{token}"
        if kind == "put":
            await store.put(consumer, stream, continuation_token=text, fragment_number=text)
            model[stream] = (text, model.get(stream, (None, 0))[1])
        else:
            assert fence is not None
            ok = await store.compare_and_set(
                consumer, stream, fence=fence, continuation_token=text, fragment_number=text
            )
            stored = model.get(stream)
            expected = stored is None or fence >= stored[1]
            assert ok == expected, (kind, stream, token, fence, model)
            if ok:
                position = stored[0] if (text is None and stored is not None) else text
                model[stream] = (position, fence)
        got = await store.get(consumer, stream)
        assert got is not None
        assert (got.continuation_token, got.fence) == model[stream]
        assert got.fragment_number == model[stream][0]
    listed = await store.list(consumer)
    assert {c.stream: (c.continuation_token, c.fence) for c in listed} == model


@settings(max_examples=40, deadline=None)
@given(ops=OPS)
def test_sqlite_store_matches_the_model(
    tmp_path_factory: pytest.TempPathFactory, ops: list
) -> None:  # type: ignore[type-arg]
    path = tmp_path_factory.mktemp("cp") / "cp.sqlite3"

    async def scenario() -> None:
        async with SqliteCheckpoints(path) as store:
            assert await store.get("c", "a") is None
            await _check_against_model(store, ops, "c")
        # Durable: a new store on the same file sees the same positions.
        async with SqliteCheckpoints(path) as again:
            assert {c.stream for c in await again.list("c")} == {o[1] for o in ops}

    asyncio.run(scenario())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_redis_store_matches_the_model(redis_server: RedisServer, ops: list) -> None:  # type: ignore[type-arg]
    consumer = uuid.uuid4().hex  # one fresh consumer per example on the shared server

    async def scenario() -> None:
        async with RedisCheckpoints(redis_server.url) as store:
            assert await store.get(consumer, "a") is None
            await _check_against_model(store, ops, consumer)

    asyncio.run(scenario())


async def test_fenced_store_refuses_an_older_lease(tmp_path: Path) -> None:
    async with SqliteCheckpoints(tmp_path / "cp.sqlite3") as store:
        old, new = FencedCheckpoints(store, 3), FencedCheckpoints(store, 4)
        await old.put("c", "s", continuation_token="10")
        assert await store.compare_and_set("c", "s", fence=4)  # the new holder claims
        with pytest.raises(StaleFenceError, match="fence 3"):
            await old.put("c", "s", continuation_token="11")
        await new.put("c", "s", continuation_token="12")
        saved = await store.get("c", "s")
        assert saved is not None and (saved.continuation_token, saved.fence) == ("12", 4)


def test_redis_store_repr_hides_the_password() -> None:
    store = RedisCheckpoints("redis://user:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in repr(store) and "***" in repr(store)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(idle_timeout=0.3) as emulator:
        yield emulator


def client_for(emu: Emulator) -> KinesisVideoMediaClient:
    return KinesisVideoMediaClient(
        region=emu.region, credentials=emu.credentials, control_endpoint_url=emu.url
    )


async def test_get_media_resumes_after_the_last_finished_chunk(
    emu: Emulator, tmp_path: Path
) -> None:
    loaded = [f.fragment_number for f in await emu.load_media("cam", synthetic_mkv(8))]
    async with SqliteCheckpoints(tmp_path / "cp.sqlite3") as store, client_for(emu) as client:
        stream = client.get_media(
            stream_name="cam", start_selector=EARLIEST, checkpoint=store, consumer="app"
        )
        got = []
        async with stream:
            async for chunk in stream:
                got.append(chunk.fragment_number)
                if len(got) == 3:
                    break
        # The third chunk was handed over but never finished with: not saved.
        saved = await store.get("app", "cam")
        assert saved is not None and saved.fragment_number == loaded[1]
        again = client.get_media(
            stream_name="cam", start_selector=EARLIEST, checkpoint=store, consumer="app"
        )
        async with again:
            first = await anext(again)
            assert first.fragment_number == loaded[2]
            await again.commit()
            saved = await store.get("app", "cam")
            assert saved is not None and saved.continuation_token == loaded[2]
            await again.commit()  # nothing new: no-op
        # Another consumer has its own position.
        other = client.get_media(
            stream_name="cam", start_selector=EARLIEST, checkpoint=store, consumer="other"
        )
        async with other:
            assert (await anext(other)).fragment_number == loaded[0]


async def test_a_position_without_token_resumes_after_that_fragment(
    emu: Emulator, tmp_path: Path
) -> None:
    loaded = [f.fragment_number for f in await emu.load_media("cam", synthetic_mkv(5))]
    async with SqliteCheckpoints(tmp_path / "cp.sqlite3") as store, client_for(emu) as client:
        await store.put("app", "cam", continuation_token=None, fragment_number=loaded[1])
        stream = client.get_media(
            stream_name="cam", start_selector=EARLIEST, checkpoint=store, consumer="app"
        )
        async with stream:
            assert (await anext(stream)).fragment_number == loaded[2]


async def test_checkpoint_needs_a_consumer_and_commit_needs_a_checkpoint(
    emu: Emulator, tmp_path: Path
) -> None:
    async with SqliteCheckpoints(tmp_path / "cp.sqlite3") as store, client_for(emu) as client:
        with pytest.raises(ParamValidationError, match="consumer"):
            client.get_media(stream_name="cam", start_selector=EARLIEST, checkpoint=store)
        plain = client.get_media(stream_name="cam", start_selector=EARLIEST)
        with pytest.raises(TypeError, match="checkpoint"):
            await plain.commit()
