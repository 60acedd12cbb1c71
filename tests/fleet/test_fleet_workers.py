"""The fleet as real processes: 3 workers, live emulator streams, one redis-server."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fleet_cluster import Cluster, check_history
from fleet_testkit import RedisServer, redis_server_fixture  # noqa: F401

from kvs_async.emulator import Emulator

pytestmark = pytest.mark.slow

TTL = 2.0
REFRESH = 2.0
WORKERS = ["w0", "w1", "w2"]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(idle_timeout=1.0, getmedia_calls_per_second=50) as emulator:
        yield emulator


def names(n: int, start: int = 0) -> list[str]:
    return [f"cam-{i:02d}" for i in range(start, start + n)]


async def test_kill_new_and_deleted_streams(
    emu: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    cluster = Cluster(emu, redis_server, tmp_path, ttl=TTL, refresh=REFRESH, work=0.02)
    streams = names(30)
    await cluster.add_streams(streams)
    for w in WORKERS:
        await cluster.start_worker(w)
    try:
        # All held, each worker within one of the fair share (10).
        await cluster.wait_held(streams, WORKERS, timeout=40)
        await asyncio.sleep(1.0)
        held_before = cluster.holders(streams)
        victim = [s for s, h in held_before.items() if h == "w2"]
        assert len(victim) == 10
        cluster.signal("w2", signal.SIGKILL)
        took = await cluster.wait_held(streams, ["w0", "w1"], timeout=TTL + 10, balanced=False)
        print(f"take-over after SIGKILL: {took:.2f}s")
        assert took <= TTL + 2.0
        await cluster.wait_held(streams, ["w0", "w1"], timeout=10)
        # A new stream is picked up within one refresh interval (plus process scheduling).
        await cluster.add_streams(["cam-30"])
        new_after = await cluster.wait_held(
            ["cam-30"], ["w0", "w1"], timeout=REFRESH + 10, balanced=False
        )
        print(f"new stream held after {new_after:.2f}s")
        assert new_after <= REFRESH + 1.0
        # A deleted stream is released.
        gone = streams[5]
        await emu.dispatch(
            "DeleteStream", {"StreamARN": emu.control.stream_by_name(gone)["StreamARN"]}
        )
        released = await cluster.wait_free(gone, timeout=REFRESH + 10)
        print(f"deleted stream released after {released:.2f}s")
        assert released <= REFRESH + 1.0
        await asyncio.sleep(1.0)
    finally:
        codes = await cluster.stop_all()
    orders = {
        s: [f.fragment_number for f in emu.fragments(s)] for s in [*streams, "cam-30"] if s != gone
    }
    assert codes["w0"] == codes["w1"] == 143  # SIGTERM: clean stop
    assert all(h is None for h in cluster.holders([*streams, "cam-30"]).values())  # released
    history = cluster.history()
    for stream, order in orders.items():
        repeats = check_history(history[stream], order)
        for fragment, before, after in repeats:
            # Only the killed worker's chunk in flight is handled twice.
            assert before == "w2" and stream in victim, (stream, fragment, before, after)


async def test_a_paused_worker_neither_handles_nor_checkpoints_what_it_lost(
    emu: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    cluster = Cluster(emu, redis_server, tmp_path, ttl=TTL, refresh=REFRESH, work=0.05)
    streams = names(12)
    await cluster.add_streams(streams)
    for w in WORKERS:
        await cluster.start_worker(w)
    try:
        await cluster.wait_held(streams, WORKERS, timeout=40)
        await asyncio.sleep(1.0)
        lost = [s for s, h in cluster.holders(streams).items() if h == "w1"]
        # Stop w1 just after a handler finished: its readers wait for the next chunk, which
        # will be there the moment it runs again (the in-handler case is the fence's job).
        await cluster.wait_event("w1", "E")
        t_stop = time.time()
        cluster.signal("w1", signal.SIGSTOP)
        took = await cluster.wait_held(lost, ["w0", "w2"], timeout=TTL + 10, balanced=False)
        assert took <= TTL + 2.0
        await asyncio.sleep(max(0.0, t_stop + TTL + 1.5 - time.time()))
        t_cont = time.time()
        cluster.signal("w1", signal.SIGCONT)
        # w1 comes back: it drops what it lost and may take streams again with new leases.
        await cluster.wait_held(streams, WORKERS, timeout=20)
        await asyncio.sleep(1.0)
    finally:
        await cluster.stop_all()
    orders = {s: [f.fragment_number for f in emu.fragments(s)] for s in streams}
    w1 = cluster.logs("w1")
    history = cluster.history()
    for stream in lost:
        reacquired = [
            r["t"]
            for r in w1
            if r.get("event") == "stream_acquired" and r["stream"] == stream and r["t"] > t_stop
        ]
        first_again = min(reacquired, default=float("inf"))
        late = [
            (t, f)
            for t, w, kind, f in history[stream]
            if w == "w1" and kind == "B" and t_cont <= t < first_again
        ]
        assert late == [], f"w1 handled {stream} after losing its lease: {late}"
        assert any(
            r.get("event") == "stream_lost" and r["stream"] == stream and r["t"] >= t_cont
            for r in w1
        ), f"w1 never noticed it lost {stream}"
    for stream, order in orders.items():
        for fragment, before, after in check_history(history[stream], order, paused="w1"):
            assert before == "w1" and stream in lost, (stream, fragment, before, after)


async def test_redis_restart_keeps_one_holder_per_stream_and_resumes(
    emu: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    cluster = Cluster(emu, redis_server, tmp_path, ttl=TTL, refresh=REFRESH, work=0.02)
    streams = names(12)
    await cluster.add_streams(streams)
    for w in WORKERS:
        await cluster.start_worker(w)
    try:
        await cluster.wait_held(streams, WORKERS, timeout=40)
        await asyncio.sleep(1.0)
        redis_server.stop()
        await asyncio.sleep(TTL + 1.0)  # every lease runs out while Redis is away
        redis_server.start()
        t_back = time.time()
        back = await cluster.wait_held(streams, WORKERS, timeout=30)
        print(f"all streams held again {back:.2f}s after Redis came back")
        await asyncio.sleep(1.5)
    finally:
        codes = await cluster.stop_all()
    orders = {s: [f.fragment_number for f in emu.fragments(s)] for s in streams}
    assert set(codes.values()) == {143}
    history = cluster.history()
    for stream, order in orders.items():
        check_history(history[stream], order)
        # Handling went on after Redis came back.
        assert any(t > t_back for t, _, kind, _ in history[stream] if kind == "B")
