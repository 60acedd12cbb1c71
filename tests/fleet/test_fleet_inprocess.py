"""Fleet in one process against the emulator and a real redis-server: retries, status, shares."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from fleet_testkit import RedisServer, redis_server_fixture  # noqa: F401
from hypothesis import given
from hypothesis import strategies as st

from kvs_async import Fleet, HandlerRetry, ListStreamsDiscovery, RedisLeases, SqliteCheckpoints
from kvs_async.emulator import Emulator
from kvs_async.fleet.balance import fair_share, plan
from kvs_async.kinesis_video_media import StartSelector
from kvs_async.mkv.writer import synthetic_mkv

EARLIEST = StartSelector(start_selector_type="EARLIEST")


@given(
    streams=st.integers(0, 500),
    workers=st.sets(st.text("abcdef0123", min_size=1, max_size=6), min_size=1, max_size=12),
)
def test_fair_shares_add_up_and_differ_by_at_most_one(streams: int, workers: set[str]) -> None:
    shares = [fair_share(streams, workers, w) for w in workers]
    assert sum(shares) == streams
    assert max(shares) - min(shares) <= 1


@given(
    held=st.lists(st.text("xyz", min_size=1, max_size=3), unique=True, max_size=10),
    free=st.lists(st.text("abc", min_size=1, max_size=3), unique=True, max_size=10),
    target=st.integers(0, 12),
)
def test_plan_moves_towards_the_target(held: list[str], free: list[str], target: int) -> None:
    shed, take = plan(held, free, target)
    assert not (shed and take)
    assert shed == held[target:]  # the newest go back first
    after = len(held) - len(shed) + take
    assert after == target or (take == len(free) and after < target)


def fleet_for(emu: Emulator, server: RedisServer, tmp: Path, handler: Any, **kw: Any) -> Fleet:
    return Fleet(
        streams=kw.pop("streams", ListStreamsDiscovery("cam-", tags={"site": "a"}, interval=0.5)),
        handler=handler,
        leases=RedisLeases(server.url, ttl=2.0),
        checkpoints=SqliteCheckpoints(tmp / "cp.sqlite3"),
        consumer="inproc",
        start_selector=EARLIEST,
        region=emu.region,
        credentials=emu.credentials,
        endpoint_url=emu.url,
        **kw,
    )


async def test_a_failing_handler_is_retried_then_reported_without_stalling_others(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with Emulator(idle_timeout=0.3) as emu:
        media = synthetic_mkv(6, frames_per_fragment=3, frame_size=200)
        for name in ("cam-a", "cam-b"):
            await emu.create_stream(name, tags={"site": "a"})
            await emu.load_media(name, media)
        await emu.create_stream("cam-other-site", tags={"site": "b"})
        await emu.load_media("cam-other-site", media)
        bad = emu.fragments("cam-a")[2].fragment_number
        seen: dict[str, list[str | None]] = {"cam-a": [], "cam-b": []}
        attempts: list[float] = []
        failures: list[tuple[str, str | None, str]] = []

        async def handler(stream: str, chunk: Any) -> None:
            if chunk.fragment_number == bad:
                attempts.append(asyncio.get_running_loop().time())
                raise RuntimeError("poison fragment")
            seen[stream].append(chunk.fragment_number)

        async def on_failure(stream: str, chunk: Any, exc: BaseException) -> None:
            failures.append((stream, chunk.fragment_number, str(exc)))

        fleet = fleet_for(
            emu,
            redis_server,
            tmp_path,
            handler,
            retry=HandlerRetry(attempts=3, backoff_base=0.05),
            on_failure=on_failure,
        )
        caplog.set_level(logging.INFO, logger="kvs_async.fleet")
        task = asyncio.create_task(fleet.run())
        async with asyncio.timeout(20):
            while len(seen["cam-a"]) < 5 or len(seen["cam-b"]) < 6:
                await asyncio.sleep(0.05)
        status = fleet.status()
        await fleet.stop()
        await task
    assert len(attempts) == 3 and attempts[2] - attempts[0] >= 0.05  # backed off
    assert failures == [("cam-a", bad, "poison fragment")]
    assert bad not in seen["cam-a"] and len(seen["cam-a"]) == 5  # reported, then moved on
    assert [f.fragment_number for f in emu.fragments("cam-b")] == seen["cam-b"]
    held = {s.stream: s for s in status.held}
    assert set(held) == {"cam-a", "cam-b"}  # the other site's stream is not ours
    assert status.workers == 1 and status.target == 2 and status.coordinator_ok
    assert held["cam-a"].chunks_failed == 1 and held["cam-a"].handler_failures == 3
    assert held["cam-b"].last_checkpoint == seen["cam-b"][-1]
    assert held["cam-b"].lag_seconds is not None
    events = [getattr(r, "fleet", {}).get("event") for r in caplog.records]
    assert events.count("handler_retry") == 2 and events.count("handler_failed") == 1
    assert "stream_acquired" in events and "stream_released" in events
    # Positions were saved under the lease's fence: a restart continues after them.
    async with SqliteCheckpoints(tmp_path / "cp.sqlite3") as store:
        saved = await store.get("inproc", "cam-b")
        assert saved is not None and saved.fragment_number == seen["cam-b"][-1] and saved.fence >= 1


async def test_cancelling_run_releases_every_lease(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with Emulator(idle_timeout=0.3) as emu:
        await emu.start_live("cam-live", synthetic_mkv(4, frames_per_fragment=3), speed=4.0)
        got: list[str] = []

        async def handler(stream: str, chunk: Any) -> None:
            got.append(stream)

        fleet = fleet_for(emu, redis_server, tmp_path, handler, streams=["cam-live"])
        task = asyncio.create_task(fleet.run())
        async with asyncio.timeout(20):
            while not got:
                await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        leases = RedisLeases(redis_server.url, ttl=2.0)
        leases.bind("inproc", "observer")
        assert await leases.holders(["cam-live"]) == {"cam-live": None}
        assert await leases.workers() == {}
        await leases.close()


async def test_one_worker_reads_more_streams_than_a_default_connection_pool(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # GetMedia keeps one connection per stream: past the default pool of 100, streams would
    # wait for a connection forever unless the fleet's client has room for all of them.
    count = 130
    async with Emulator(idle_timeout=30.0, max_requests_per_second=100_000) as emu:
        media = synthetic_mkv(2, frames_per_fragment=2, frame_size=100)
        names = [f"cam-{i:03d}" for i in range(count)]
        for name in names:
            await emu.load_media(name, media)
        seen: dict[str, int] = {}

        async def handler(stream: str, chunk: Any) -> None:
            seen[stream] = seen.get(stream, 0) + 1

        fleet = fleet_for(emu, redis_server, tmp_path, handler, streams=names)
        task = asyncio.create_task(fleet.run())
        try:
            async with asyncio.timeout(60):
                while len([s for s, n in seen.items() if n == 2]) < count:
                    await asyncio.sleep(0.1)
        finally:
            await fleet.stop()
            await task
