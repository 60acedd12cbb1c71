"""SIGINT/SIGTERM at hypothesis-chosen moments during ``get-media --output`` on a live stream:
the exit code says which, the file always opens in ffprobe with a duration and holds every
frame printed, and the printed token resumes exactly after the last fragment written."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_testkit import emulator_env, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async.emulator import Emulator

pytestmark = [
    pytest.mark.media,
    pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffmpeg/ffprobe"),
]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s of H.264 at 1 s GOPs: 8 fragments."""
    path = tmp_path_factory.mktemp("media") / "video.mkv"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
            "-t", "8", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def probe(path: Path) -> tuple[float, int]:
    """(duration in seconds, video packets) as ffprobe reads the file."""
    result = subprocess.run(
        [
            "ffprobe", "-v", "error", "-count_packets", "-show_entries",
            "format=duration:stream=nb_read_packets", "-of", "json", str(path),
        ],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    info = json.loads(result.stdout)
    return float(info["format"]["duration"]), int(info["streams"][0]["nb_read_packets"])


async def interrupt_run(
    video: Path, tmp: Path, sig: signal.Signals, lines_before: int, delay: float
) -> None:
    out_file = tmp / "out.mkv"
    out_file.unlink(missing_ok=True)
    async with Emulator(idle_timeout=5) as emu:
        await emu.load_media("cam", video)
        await emu.start_live("cam", video, speed=4.0)  # a new fragment every 0.25 s
        env = emulator_env(tmp, emu)
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "kvs_async.cli", "get-media", "cam", "--json"),
            *("--start", "EARLIEST", "--output", str(out_file)),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        lines: list[str] = []
        enough = asyncio.Event()

        async def read_stdout() -> None:
            assert proc.stdout is not None
            while line := (await proc.stdout.readline()).decode():
                lines.append(line)
                if len(lines) >= lines_before:
                    enough.set()
            enough.set()

        reader = asyncio.create_task(read_stdout())
        # "During get-media": once it has opened the output (a signal while the interpreter
        # itself starts up meets Python's defaults, not this program).
        async with asyncio.timeout(30):
            while not out_file.exists():
                await asyncio.sleep(0.01)
        if lines_before:
            await asyncio.wait_for(enough.wait(), 30)
        await asyncio.sleep(delay)
        proc.send_signal(sig)
        err = (await asyncio.wait_for(proc.stderr.read(), 30)).decode()
        await asyncio.wait_for(reader, 30)
        code = await proc.wait()
        assert code == 128 + sig, (code, err)
        assert "Traceback" not in err
        assert len(err.splitlines()) == 1, err
        summary = json.loads(err)["summary"]
        records = [json.loads(line) for line in lines]
        stored = [f.fragment_number for f in emu.fragments("cam")]
        # Printed in stream order from the first fragment: no loss, no repeat.
        assert [r["fragment_number"] for r in records] == stored[: len(records)]
        assert summary["chunks"] == len(records)
        assert summary["stopped_by"] == sig.name
        if not records:
            assert summary["continuation_token"] is None
            assert not out_file.exists()  # no chunk, no (empty, unplayable) file
            return
        last = records[-1]
        assert summary["continuation_token"] == last["continuation_token"]
        duration, packets = probe(out_file)
        assert duration > 0
        assert packets == sum(r["frames"] for r in records)
        # The printed token resumes right after the last fragment written.
        code, out, err = await run_cli(
            "get-media", "cam", "--continuation-token", summary["continuation_token"],
            "--max-chunks", "1", "--json", env=env,
        )  # fmt: skip
        assert code == 0, err
        resumed = json.loads(out.splitlines()[0])["fragment_number"]
        stored = [f.fragment_number for f in emu.fragments("cam")]
        assert resumed == stored[stored.index(last["fragment_number"]) + 1]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    sig=st.sampled_from([signal.SIGINT, signal.SIGTERM]),
    lines_before=st.integers(0, 12),
    delay=st.floats(0, 0.4),
)
def test_signals_leave_a_playable_file_and_an_exact_token(
    video: Path, tmp_path: Path, sig: signal.Signals, lines_before: int, delay: float
) -> None:
    asyncio.run(interrupt_run(video, tmp_path, sig, lines_before, delay))
