"""``kvs-async consume``: a real worker process, ``--status``, signals and one-line errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from fleet_testkit import RedisServer, free_port, redis_server_fixture  # noqa: F401

from kvs_async.emulator import TEST_ACCESS_KEY, TEST_SECRET_KEY, Emulator
from kvs_async.mkv.writer import synthetic_mkv

ENV = {**os.environ, "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY}


async def consume(*args: str, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kvs_async.cli",
        "consume",
        *args,
        cwd=cwd,
        env=ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "no streams to read"),
        (["cam", "--prefix", "c"], "not both"),
        (["cam", "--handler", "nomodule"], "MODULE:FUNCTION"),
        (["cam", "--handler", "no_such_module_here:f"], "cannot import"),
        (["cam", "--ttl", "0"], "ttl"),
    ],
)
async def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path, argv: list[str], needle: str
) -> None:
    code, _, err = await finish(await consume(*argv, cwd=tmp_path))
    assert code == 2, err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


async def test_unreachable_redis_is_one_line_and_exit_1(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    code, _, err = await finish(await consume("cam", "--redis", url, cwd=tmp_path))
    assert code == 1 and "--redis" in err and len(err.strip().splitlines()) == 1


async def test_a_worker_prints_chunks_shows_in_status_and_leaves_on_sigint(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with Emulator(idle_timeout=0.5) as emu:
        for name in ("cam-a", "cam-b"):
            await emu.start_live(
                name, synthetic_mkv(4, frames_per_fragment=3, frame_size=200), speed=4
            )
        common = ["--redis", redis_server.url, "--checkpoints", str(tmp_path / "cp.sqlite3")]
        common += ["--endpoint-url", emu.url, "--region", emu.region, "--consumer", "cli"]
        worker = await consume(
            "cam-a", "cam-b", "--start", "EARLIEST", "--ttl", "2", "--json", *common, cwd=tmp_path
        )
        assert worker.stdout is not None
        seen: set[str] = set()
        async with asyncio.timeout(20):
            while seen != {"cam-a", "cam-b"}:
                line = json.loads(await worker.stdout.readline())
                seen.add(line["stream"])
                assert line["fragment_number"] and line["bytes"] > 0
        await asyncio.sleep(1.0)  # one more coordination round announces the progress
        code, out, err = await finish(await consume("--status", "--json", *common, cwd=tmp_path))
        assert code == 0, err
        status = json.loads(out)
        assert len(status["workers"]) == 1
        (worker_id,) = status["workers"]
        rows = {r["stream"]: r for r in status["streams"]}
        assert set(rows) == {"cam-a", "cam-b"}
        assert all(r["holder"] == worker_id and r["last_checkpoint"] for r in rows.values())
        code, text, _ = await finish(await consume("--status", *common, cwd=tmp_path))
        assert code == 0 and "held by" in text and worker_id in text
        worker.send_signal(signal.SIGINT)
        code, _, err = await finish(worker)
        assert code == 130
        events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert {e["event"] for e in events} >= {
            "worker_started",
            "stream_acquired",
            "stream_released",
            "worker_stopped",
        }
        code, out, _ = await finish(await consume("--status", "--json", *common, cwd=tmp_path))
        after = json.loads(out)
        assert after["workers"] == {} and all(r["holder"] is None for r in after["streams"])
