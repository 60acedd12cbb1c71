"""Fleet worker processes (``kvs-async consume``, as ``python -m kvs_async.cli consume``) around one emulator and Redis.

The emulator runs in the test's event loop (live feeds, streams created and deleted
mid-run); each worker is a real process, signalled with SIGKILL/SIGSTOP/SIGCONT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import redis
from fleet_testkit import RedisServer, read_events

from kvs_async.emulator import TEST_ACCESS_KEY, TEST_SECRET_KEY, Emulator
from kvs_async.mkv.writer import synthetic_mkv

HERE = Path(__file__).parent
CONSUMER = "fleet-test"
# 200 ms fragments of a small synthetic video, looping.
LIVE_MEDIA = synthetic_mkv(10, frames_per_fragment=6, frame_size=300)


class Cluster:
    def __init__(
        self,
        emu: Emulator,
        server: RedisServer,
        tmp: Path,
        *,
        ttl: float = 2.0,
        refresh: float = 2.0,
        work: float = 0.0,
    ) -> None:
        self.emu = emu
        self.server = server
        self.tmp = tmp
        self.ttl = ttl
        self.refresh = refresh
        self.work = work
        self.events = tmp / "events.log"
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.pids: dict[str, str] = {}

    async def add_streams(self, names: Iterable[str]) -> None:
        for name in names:
            await self.emu.start_live(name, LIVE_MEDIA, speed=1.0)

    async def start_worker(self, name: str) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
            "FLEET_EVENTS": str(self.events),
            "FLEET_WORK": str(self.work),
        }
        log = (self.tmp / f"{name}.log").open("ab")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kvs_async.cli",
            "consume",
            "--prefix",
            "cam-",
            "--refresh",
            str(self.refresh),
            "--redis",
            self.server.url,
            "--checkpoints",
            self.server.url,
            "--consumer",
            CONSUMER,
            "--ttl",
            str(self.ttl),
            "--start",
            "EARLIEST",
            "--handler",
            "fleet_handlers:record",
            "--worker-id",
            name,
            "--endpoint-url",
            self.emu.url,
            "--region",
            self.emu.region,
            "--json",
            env=env,
            stdout=log,
            stderr=log,
        )
        log.close()
        self.procs[name] = proc
        self.pids[str(proc.pid)] = name

    def signal(self, name: str, signum: int) -> None:
        self.procs[name].send_signal(signum)

    async def stop_all(self, timeout: float = 20.0) -> dict[str, int]:
        codes = {}
        for proc in self.procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                async with asyncio.timeout(timeout):
                    codes[name] = await proc.wait()
            except TimeoutError:
                proc.kill()
                codes[name] = await proc.wait()
        return codes

    # --- what Redis says ------------------------------------------------------------------

    def holders(self, streams: list[str]) -> dict[str, str | None]:
        """Stream -> worker id holding its lease (asked synchronously: one round trip)."""
        client = redis.Redis(port=self.server.port, decode_responses=True)
        try:
            tokens = client.mget([f"kvs-async:{CONSUMER}:lease:{s}" for s in streams])
        finally:
            client.close()
        return {
            s: (t.split("|", 1)[0] if t else None) for s, t in zip(streams, tokens, strict=True)
        }

    async def wait_held(
        self, streams: list[str], workers: list[str], timeout: float, *, balanced: bool = True
    ) -> float:
        """Seconds until every stream is held by one of ``workers`` (each within one of fair)."""
        start = time.monotonic()
        async with asyncio.timeout(timeout):
            while True:
                held = self.holders(streams)
                if all(h in workers for h in held.values()):
                    counts = [sum(1 for h in held.values() if h == w) for w in workers]
                    fair = len(streams) / len(workers)
                    if not balanced or all(abs(c - fair) < 1 for c in counts):
                        return time.monotonic() - start
                await asyncio.sleep(0.05)

    async def wait_event(self, worker: str, kind: str, timeout: float = 10.0) -> None:
        """Until ``worker``'s handler writes a new ``kind`` (B or E) line."""
        pid = next(p for p, w in self.pids.items() if w == worker)
        seen = sum(1 for e in read_events(self.events) if e[1] == pid and e[2] == kind)
        async with asyncio.timeout(timeout):
            while sum(1 for e in read_events(self.events) if e[1] == pid and e[2] == kind) == seen:
                await asyncio.sleep(0.002)

    async def wait_free(self, stream: str, timeout: float) -> float:
        start = time.monotonic()
        async with asyncio.timeout(timeout):
            while self.holders([stream])[stream] is not None:
                await asyncio.sleep(0.05)
        return time.monotonic() - start

    def logs(self, name: str) -> list[dict[str, Any]]:
        out = []
        for line in (self.tmp / f"{name}.log").read_text().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    out.append(record)
        return out

    # --- what the handlers saw ------------------------------------------------------------

    def history(self) -> dict[str, list[tuple[float, str, str, str]]]:
        """Stream -> [(t, worker, B|E, fragment)] in time order."""
        per: dict[str, list[tuple[float, str, str, str]]] = {}
        for t, pid, kind, stream, fragment in read_events(self.events):
            per.setdefault(stream, []).append((float(t), self.pids.get(pid, pid), kind, fragment))
        for items in per.values():
            items.sort()
        return per


def check_history(
    items: list[tuple[float, str, str, str]],
    order: list[str],
    *,
    paused: str | None = None,
) -> list[tuple[str, str, str]]:
    """Assert one stream's handling is complete, in order and never concurrent; return repeats.

    Walking the chunks begun in time order, each is the one after the furthest begun so
    far, or repeats exactly the previous chunk begun (the one in flight when its worker
    died or lost the lease) in another worker. No worker begins a chunk while another
    worker's handler of this stream is still running, unless that worker was ``paused``
    (SIGSTOP: its handler resumes after SIGCONT, but no new chunk is begun). Returns
    (fragment, previous worker, new worker) per repeat.
    """
    index = {f: i for i, f in enumerate(order)}
    begun = [(t, w, f) for t, w, kind, f in items if kind == "B"]
    assert begun, "stream never handled"
    assert begun[0][2] == order[0], "the first chunk handled is the stream's first (EARLIEST)"
    ends = {(w, f): t for t, w, kind, f in items if kind == "E"}
    repeats = []
    furthest = index[begun[0][2]]
    _, prev_worker, prev_fragment = begun[0]
    open_since: dict[str, tuple[float, str]] = {prev_worker: (begun[0][0], prev_fragment)}
    for t, worker, fragment in begun[1:]:
        for other, (_, f) in list(open_since.items()):
            end = ends.get((other, f))
            if end is not None and end <= t:
                del open_since[other]
            elif other != worker and other != paused and end is not None:
                raise AssertionError(f"{worker} began {fragment} while {other} handled {f}")
        open_since[worker] = (t, fragment)
        i = index[fragment]
        if i == furthest + 1:
            furthest = i
        else:
            assert fragment == prev_fragment, (
                f"{worker} began {fragment} out of order after {prev_worker} began {prev_fragment}"
            )
            repeats.append((fragment, prev_worker, worker))
        prev_worker, prev_fragment = worker, fragment
    return repeats
