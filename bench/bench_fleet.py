"""Fleet costs over loopback: per-chunk checkpoint and lease overhead, streams per worker at a
CPU budget, and take-over time after a worker is killed.

1. Per chunk: one process reads a stored stream of small fragments to the end, as a plain
   ``get_media`` loop (the anchor), with ``checkpoint=`` a SQLite file (``synchronous=FULL``:
   an fsync per save) or Redis, and as a one-stream ``Fleet`` (lease, fenced Redis
   checkpoint after every chunk). Each round runs every variant in a fresh process,
   interleaved; rows give min/median/max microseconds per chunk over the rounds, and the
   overhead over the anchor's median.
2. CPU load: one worker process follows S live streams (1 s fragments, one per second each)
   for a window after a warm-up, as plain ``get_media`` loops and as a ``Fleet``; the
   process's CPU time over the window gives CPU per stream, and so how many streams one
   worker carries at half a core. The emulator (its own process) shares the machine.
3. Take-over: two ``kvs-async consume`` workers share 20 live streams with a 2 s lease TTL;
   one is SIGKILLed; the time until the other holds all of its streams, over rounds.

The emulator and redis-server (no persistence) run as their own processes on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.bench_emulator import KEY, SECRET, _start

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-west-2"
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("bench fleet needs redis-server (apt-get install redis-server)")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# --- children -----------------------------------------------------------------------------------


def _media_client(url: str) -> Any:
    from kvs_async.fleet.runner import media_config
    from kvs_async.kinesis_video_media import KinesisVideoMediaClient

    # One connection per followed stream: the same pool for the plain loops and the fleet.
    return KinesisVideoMediaClient(
        region=REGION, control_endpoint_url=url, config=media_config(None)
    )


async def _drain(client: Any, stream: str, count: int, **kwargs: Any) -> int:
    from kvs_async.kinesis_video_media import StartSelector

    media = client.get_media(
        stream_name=stream, start_selector=StartSelector(start_selector_type="EARLIEST"), **kwargs
    )
    got = 0
    async with media:
        async for _chunk in media:
            got += 1
            if got >= count:
                break
    return got


async def _per_chunk(
    variant: str, url: str, redis_url: str, count: int, tmp: str
) -> dict[str, Any]:
    from kvs_async import Fleet, RedisCheckpoints, RedisLeases, SqliteCheckpoints
    from kvs_async.kinesis_video_media import StartSelector

    consumer = f"bench-{uuid.uuid4().hex[:8]}"
    async with _media_client(url) as client:
        await _drain(client, "warm", 5)  # first-call costs (imports, signing keys) untimed
        start, cpu = time.perf_counter(), time.process_time()
        if variant == "plain":
            got = await _drain(client, "bulk", count)
        elif variant == "sqlite":
            async with SqliteCheckpoints(Path(tmp) / f"{consumer}.sqlite3") as store:
                got = await _drain(client, "bulk", count, checkpoint=store, consumer=consumer)
        elif variant == "redis":
            async with RedisCheckpoints(redis_url) as store:
                got = await _drain(client, "bulk", count, checkpoint=store, consumer=consumer)
        elif variant == "fleet":
            done = asyncio.Event()
            seen = 0

            async def handler(stream: str, chunk: Any) -> None:
                nonlocal seen
                seen += 1
                if seen >= count:
                    done.set()

            async with RedisCheckpoints(redis_url) as store:
                fleet = Fleet(
                    streams=["bulk"],
                    handler=handler,
                    leases=RedisLeases(redis_url, ttl=10.0),
                    checkpoints=store,
                    consumer=consumer,
                    start_selector=StartSelector(start_selector_type="EARLIEST"),
                    client=client,
                    control=_control(url),
                )
                task = asyncio.create_task(fleet.run())
                await done.wait()
                wall = time.perf_counter() - start
                await fleet.stop()
                await task
                return {"wall": wall, "cpu": time.process_time() - cpu, "chunks": seen}
        else:
            raise SystemExit(f"unknown variant {variant}")
        return {
            "wall": time.perf_counter() - start,
            "cpu": time.process_time() - cpu,
            "chunks": got,
        }


def _control(url: str) -> Any:
    from kvs_async.kinesisvideo import KinesisVideoClient

    return KinesisVideoClient(region=REGION, endpoint_url=url)


async def _load(
    variant: str, url: str, redis_url: str, streams: int, warm: float, window: float
) -> dict[str, Any]:
    from kvs_async import Fleet, RedisCheckpoints, RedisLeases
    from kvs_async.kinesis_video_media import StartSelector

    names = [f"live-{i:04d}" for i in range(streams)]
    chunks = 0

    async def handler(stream: str, chunk: Any) -> None:
        nonlocal chunks
        chunks += 1

    async def plain(client: Any, name: str) -> None:
        media = client.get_media(
            stream_name=name, start_selector=StartSelector(start_selector_type="NOW")
        )
        async with media:
            async for chunk in media:
                await handler(name, chunk)

    async with _media_client(url) as client:
        if variant == "plain":
            tasks = [asyncio.create_task(plain(client, n)) for n in names]
            stop = None
        else:
            store = RedisCheckpoints(redis_url)
            fleet = Fleet(
                streams=names,
                handler=handler,
                leases=RedisLeases(redis_url, ttl=10.0),
                checkpoints=store,
                consumer=f"load-{uuid.uuid4().hex[:8]}",
                start_selector=StartSelector(start_selector_type="NOW"),
                client=client,
                control=_control(url),
            )
            tasks = [asyncio.create_task(fleet.run())]
            stop = fleet
        await asyncio.sleep(warm)
        before_chunks, cpu, start = chunks, time.process_time(), time.perf_counter()
        await asyncio.sleep(window)
        result = {
            "cpu": time.process_time() - cpu,
            "wall": time.perf_counter() - start,
            "chunks": chunks - before_chunks,
        }
        if stop is not None:
            result["held"] = len(stop.status().held)
            await stop.stop()
            await tasks[0]
            await store.close()
        else:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            result["held"] = streams
        return result


def _child(argv: list[str]) -> None:
    mode, rest = argv[0], json.loads(argv[1])
    import kvs_async.fleet.runner
    import kvs_async.kinesis_video_media  # noqa: F401

    if mode == "per-chunk":
        out = asyncio.run(_per_chunk(**rest))
    else:
        out = asyncio.run(_load(**rest))
    print(json.dumps(out))


def _run_child(mode: str, **kwargs: Any) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_fleet", "child", mode, json.dumps(kwargs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=ENV,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {mode} {kwargs.get('variant')} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- parent -------------------------------------------------------------------------------------


def _mmm(values: list[float], fmt: str = "{:.1f}") -> str:
    return "/".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def _media_file(tmp: Path, name: str, count: int, **kwargs: int) -> Path:
    from kvs_async.mkv.writer import synthetic_mkv

    path = tmp / f"{name}.mkv"
    path.write_bytes(synthetic_mkv(count, **kwargs))
    return path


async def _emulator(*extra: str) -> tuple[asyncio.subprocess.Process, str]:
    return await _start(
        [
            *(sys.executable, "-m", "kvs_async.emulator", "--access-key", KEY),
            *("--secret-key", SECRET, "--idle-timeout", "0.5"),
            *("--getmedia-calls-per-second", "1000"),
            *extra,
        ]
    )


async def _section_per_chunk(tmp: Path, redis_url: str, quick: bool) -> None:
    count = 400 if quick else 2000
    rounds = 2 if quick else 5
    bulk = _media_file(tmp, "bulk", count, frames_per_fragment=3, frame_size=300)
    warm = _media_file(tmp, "warm", 5, frames_per_fragment=3, frame_size=300)
    emu, url = await _emulator(f"--load=bulk={bulk}", f"--load=warm={warm}")
    variants = ["plain", "sqlite", "redis", "fleet"]
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    try:
        for _ in range(rounds):
            for variant in variants:
                r = await asyncio.to_thread(
                    _run_child,
                    "per-chunk",
                    variant=variant,
                    url=url,
                    redis_url=redis_url,
                    count=count,
                    tmp=str(tmp),
                )
                assert r["chunks"] == count, r
                runs[variant].append(r)
    finally:
        emu.terminate()
        await emu.wait()
    per = {v: [1e6 * r["wall"] / r["chunks"] for r in rs] for v, rs in runs.items()}
    cpu = {v: [1e6 * r["cpu"] / r["chunks"] for r in rs] for v, rs in runs.items()}
    anchor = statistics.median(per["plain"])
    anchor_cpu = statistics.median(cpu["plain"])
    print(
        f"\n1. Per chunk: {count} stored fragments (3 frames, ~1 KB) read to the end, "
        f"{rounds} interleaved rounds, fresh process each (min/median/max)"
    )
    print(
        f"{'variant':46} {'us/chunk wall':>18} {'us/chunk CPU':>18} {'CPU overhead':>18} "
        f"{'wall overhead':>14}"
    )
    labels = {
        "plain": "get_media loop (anchor)",
        "sqlite": "get_media checkpoint=SqliteCheckpoints (FULL)",
        "redis": "get_media checkpoint=RedisCheckpoints",
        "fleet": "Fleet, 1 stream (lease + fenced Redis CAS)",
    }
    for v in variants:
        med, med_cpu = statistics.median(per[v]), statistics.median(cpu[v])
        over_cpu = (
            "" if v == "plain" else f"{med_cpu - anchor_cpu:+.0f} us ({med_cpu / anchor_cpu:.2f}x)"
        )
        over = "" if v == "plain" else f"{med - anchor:+.0f} us"
        print(f"{labels[v]:46} {_mmm(per[v]):>18} {_mmm(cpu[v]):>18} {over_cpu:>18} {over:>14}")
    print(
        "  The client waits on the emulator (its own process) for most of each chunk, so the\n"
        "  client's CPU per chunk is the cost; wall time hides it except the SQLite fsync."
    )


async def _section_load(tmp: Path, redis_url: str, quick: bool, streams: int) -> None:
    warm, window = (4.0, 5.0) if quick else (6.0, 15.0)
    rounds = 1 if quick else 2
    live = _media_file(tmp, "live", 4, frames_per_fragment=30, frame_size=1500)
    lives = [f"--live=live-{i:04d}={live}" for i in range(streams)]
    emu, url = await _emulator(*lives)
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "fleet": []}
    try:
        await asyncio.sleep(2.0)
        for _ in range(rounds):
            for variant in runs:
                r = await asyncio.to_thread(
                    _run_child,
                    "load",
                    variant=variant,
                    url=url,
                    redis_url=redis_url,
                    streams=streams,
                    warm=warm,
                    window=window,
                )
                runs[variant].append(r)
    finally:
        emu.terminate()
        await emu.wait()
    print(
        f"\n2. CPU load: {streams} live streams, one 1 s fragment per second each, "
        f"{window:.0f} s window after {warm:.0f} s warm-up, {rounds} rounds (min/median/max)"
    )
    print(
        f"{'variant':30} {'CPU % of a core':>18} {'ms CPU/stream/s':>18} {'chunks/s':>10} {'streams @50%':>13}"
    )
    per_stream: dict[str, float] = {}
    for v, rs in runs.items():
        load = [100 * r["cpu"] / r["wall"] for r in rs]
        per = [1000 * r["cpu"] / r["wall"] / streams for r in rs]
        rate = statistics.median(r["chunks"] / r["wall"] for r in rs)
        per_stream[v] = statistics.median(per)
        capacity = 500 / per_stream[v]
        label = "plain get_media loops" if v == "plain" else "Fleet (leases, checkpoints)"
        print(
            f"{label:30} {_mmm(load):>18} {_mmm(per, '{:.2f}'):>18} {rate:>10.0f} {capacity:>13.0f}"
        )
    print(f"  fleet / plain CPU per stream: {per_stream['fleet'] / per_stream['plain']:.2f}x")


async def _section_takeover(tmp: Path, redis_url: str, quick: bool) -> None:
    import redis as redis_sync

    streams = 20
    ttl = 2.0
    rounds = 2 if quick else 4
    live = _media_file(tmp, "takeover", 4, frames_per_fragment=6, frame_size=300)
    emu, url = await _emulator(*(f"--live=cam-{i:02d}={live}" for i in range(streams)))
    names = [f"cam-{i:02d}" for i in range(streams)]
    consumer = f"takeover-{uuid.uuid4().hex[:8]}"
    client = redis_sync.Redis.from_url(redis_url, decode_responses=True)

    def holders() -> list[str | None]:
        tokens = client.mget([f"kvs-async:{consumer}:lease:{n}" for n in names])
        return [t.split("|", 1)[0] if t else None for t in tokens]

    def start(worker: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "kvs_async.cli", "consume", *names),
                *("--redis", redis_url, "--checkpoints", redis_url, "--consumer", consumer),
                *("--ttl", str(ttl), "--worker-id", worker, "--endpoint-url", url),
                *("--region", REGION),
            ],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=(tmp / f"worker-{worker}.log").open("ab"),
        )

    async def until(check: Any, timeout: float = 60.0) -> float:
        t0 = time.monotonic()
        while not check():
            if time.monotonic() - t0 > timeout:
                raise TimeoutError("fleet did not settle")
            await asyncio.sleep(0.02)
        return time.monotonic() - t0

    workers = {"a": start("a"), "b": start("b")}
    takeovers: list[float] = []
    try:
        for i in range(rounds):
            await until(lambda: sorted(map(str, holders())) == ["a"] * 10 + ["b"] * 10)
            victim = "b" if i % 2 == 0 else "a"
            survivor = "a" if victim == "b" else "b"
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            alone = [survivor] * streams
            takeovers.append(await until(lambda alone=alone: holders() == alone))
            workers[victim] = start(victim)
    finally:
        hung = []
        for proc in workers.values():
            proc.terminate()
        for name, proc in workers.items():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                hung.append(name)
                proc.kill()
                proc.wait()
        client.close()
        emu.terminate()
        await emu.wait()
    if hung:
        logs = {n: (tmp / f"worker-{n}.log").read_text()[-2000:] for n in hung}
        raise RuntimeError(f"workers {hung} did not stop on SIGTERM: {logs}")
    print(
        f"\n3. Take-over: 2 workers, {streams} live streams, lease TTL {ttl:.0f} s (renewed every "
        f"{ttl / 3:.2f} s); SIGKILL one, {rounds} rounds"
    )
    print(
        f"  seconds until the survivor holds all {streams}: {_mmm(takeovers, '{:.2f}')} "
        f"(min/median/max) = {statistics.median(takeovers) / ttl:.2f} x TTL"
    )


async def _main(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as name:
        tmp = Path(name)
        redis_proc, redis_url = _redis(tmp)
        try:
            print(
                f"redis-server {redis_url} (no persistence); emulator in its own process; {os.cpu_count()} CPUs"
            )
            await _section_per_chunk(tmp, redis_url, quick)
            for streams in (20,) if quick else (100, 400):
                await _section_load(tmp, redis_url, quick, streams)
            await _section_takeover(tmp, redis_url, quick)
        finally:
            redis_proc.terminate()
            redis_proc.wait(10)


def run(quick: bool) -> None:
    asyncio.run(_main(quick))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        _child(sys.argv[2:])
