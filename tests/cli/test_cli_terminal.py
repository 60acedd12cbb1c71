"""On a terminal the CLI says what it waits for, within 2 s of the wait starting: retries
against an endpoint that refuses, and a stream nobody writes to (run under a real pty)."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

from cli_testkit import clean_env, emulator_env

from kvs_async.emulator import Emulator

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\r")


def run_on_pty(args: list[str], env: dict[str, str], want: str, limit: float) -> tuple[float, str]:
    """Seconds from spawn until ``want`` shows on the terminal (or ``limit`` passes)."""
    master, slave = pty.openpty()
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kvs_async.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**env, "TERM": "xterm"},
        close_fds=True,
    )
    os.close(slave)
    seen = ""
    try:
        while time.monotonic() - start < limit:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break
            if want in _ANSI.sub("\n", seen):
                return time.monotonic() - start, seen
            if proc.poll() is not None and not ready:
                break
        return float("inf"), seen
    finally:
        proc.terminate()
        proc.wait(10)
        os.close(master)


def startup_seconds(env: dict[str, str]) -> float:
    """How long the interpreter and the CLI take to start here and now (the baseline)."""
    elapsed, _ = run_on_pty(["get-media", "cam", "--max-chunks", "0"], env, "--max-chunks", 30)
    return elapsed


def test_retries_show_on_the_terminal_at_once(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    env = clean_env(
        tmp_path, AWS_REGION="us-west-2", AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b"
    )
    base = startup_seconds(env)
    url = f"http://127.0.0.1:{dead}"
    elapsed, seen = run_on_pty(
        ["get-media", "cam", "--endpoint-url", url], env, f"connection refused at {url}", 30
    )
    assert "retrying in " in seen and " s (2/3): connection refused at " in seen, seen
    assert elapsed - base < 2.0, (elapsed, base, seen)


async def test_a_stream_with_nothing_new_says_so(tmp_path: Path) -> None:
    async with Emulator(idle_timeout=30) as emu:
        await emu.create_stream("quiet")
        env = emulator_env(tmp_path, emu)
        base = await asyncio.to_thread(startup_seconds, env)
        elapsed, seen = await asyncio.to_thread(
            run_on_pty, ["get-media", "quiet"], env, "waiting for new fragments on quiet", 30
        )
    assert "none written for" in seen and "--start EARLIEST" in seen, seen
    # The line appears after one idle second; the wait starts once the CLI is up.
    assert elapsed - base < 1.0 + 2.0, (elapsed, base, seen)


async def test_verbose_off_a_terminal_prints_the_wait(tmp_path: Path) -> None:
    async with Emulator(idle_timeout=30) as emu:
        await emu.create_stream("quiet")
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "kvs_async.cli", "get-media", "quiet", "-v"),
            env=emulator_env(tmp_path, emu),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None
        try:
            line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        finally:
            proc.send_signal(2)
            _, err = await proc.communicate()
    assert line.startswith("kvs-async get-media: waiting for new fragments on quiet"), line
    assert proc.returncode == 130
    assert "no fragment received, so no continuation token yet" in err.decode()
    assert "None" not in err.decode()
