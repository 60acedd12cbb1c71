"""The kvs-async CLI (get-media, emulator, demo) and get_media's memory under a slow consumer."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from conftest import MKV_DIR

from kvs_async.emulator import Emulator
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector
from kvs_async.mkv import ChunkParser
from kvs_async.mkv.writer import synthetic_mkv

STREAM = "cli-cam"


def cli_env(emu: Emulator) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=emu.credentials.access_key,
        AWS_SECRET_ACCESS_KEY=emu.credentials.secret_key,
        AWS_REGION=emu.region,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    return env


async def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kvs_async.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_get_media_json_lines_and_output_file(tmp_path: Path) -> None:
    async with Emulator(idle_timeout=0.5) as emu:
        loaded = await emu.load_media(STREAM, synthetic_mkv(5))
        expected = [f.fragment_number for f in loaded]
        emu.faults.cut_after(90_000, stream=STREAM)
        out_file = tmp_path / "out.mkv"
        code, out, err = await run_cli(
            "get-media",
            STREAM,
            "--start",
            "earliest",
            "--endpoint-url",
            emu.url,
            "--max-chunks",
            "5",
            "--json",
            "--output",
            str(out_file),
            env=cli_env(emu),
        )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["fragment_number"] for r in lines] == expected
    assert all(r["frames"] == 30 and r["bytes"] > 0 for r in lines)
    summary = json.loads(err.strip().splitlines()[-1])["summary"]
    assert summary["chunks"] == 5 and summary["resumes"] == 1
    assert summary["continuation_token"] == expected[-1]
    # The output file is one Segment with every frame, timecodes running forward.
    parser = ChunkParser()
    chunks = parser.feed(out_file.read_bytes()) + parser.close()
    assert len(chunks) == 1
    frames = chunks[0].frames
    assert len(frames) == 5 * 30
    times = [f.timecode_ms for f in frames]
    assert times == sorted(times)


async def test_get_media_resumes_from_a_saved_token() -> None:
    async with Emulator(idle_timeout=0.3) as emu:
        loaded = await emu.load_media(STREAM, synthetic_mkv(4))
        expected = [f.fragment_number for f in loaded]
        code, out, err = await run_cli(
            "get-media",
            STREAM,
            "--continuation-token",
            expected[1],
            "--endpoint-url",
            emu.url,
            "--idle-timeout",
            "2",
            env=cli_env(emu),
        )
    assert code == 0, err
    assert [line.split()[1] for line in out.splitlines()] == expected[2:]


async def test_get_media_reports_a_missing_stream_clearly() -> None:
    async with Emulator() as emu:
        code, out, err = await run_cli(
            "get-media", "nope", "--endpoint-url", emu.url, env=cli_env(emu)
        )
    assert code == 1
    assert "ResourceNotFoundException" in err and out == ""


async def test_bad_options_are_refused_by_argparse() -> None:
    code, _, err = await run_cli("get-media", "s", "--timestamp", "yesterday", env=dict(os.environ))
    assert code == 2 and "not an ISO 8601 time" in err


async def test_demo_runs_and_checks_itself() -> None:
    code, out, err = await run_cli(
        "demo",
        "--fragments",
        "20",
        "--faults",
        "3",
        "--json",
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])["summary"]
    assert summary["in_order_each_once"] is True
    assert summary["fragments_received"] == summary["fragments_expected"] == 20
    assert summary["resumes"] == summary["cuts_injected"] == 3


async def test_emulator_help_names_the_test_credentials() -> None:
    code, out, _ = await run_cli("emulator", "--help", env=dict(os.environ))
    assert code == 0
    assert "--port" in out and "--access-key" in out


async def test_slow_consumer_keeps_memory_flat() -> None:
    frame = 40_000
    fragment_bytes = 30 * frame
    async with Emulator(idle_timeout=1.0) as emu:
        loaded = await emu.load_media(STREAM, synthetic_mkv(40, frame_size=frame))
        async with KinesisVideoMediaClient(
            region=emu.region, credentials=emu.credentials, endpoint_url=emu.url
        ) as client:
            stream = client.get_media(
                stream_name=STREAM, start_selector=StartSelector(start_selector_type="EARLIEST")
            )
            tracemalloc.start()
            try:
                got = 0
                async for chunk in stream:
                    got += 1
                    del chunk
                    await asyncio.sleep(0.01)  # slower than the server can send
                    if got == len(loaded):
                        break
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            await stream.aclose()
    total = 40 * fragment_bytes
    assert got == 40
    # Bounded by a few fragments (parser buffer + one chunk + socket buffers), not the stream.
    assert peak < 6 * fragment_bytes < total / 6, (peak, fragment_bytes)


@pytest.mark.media
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg/ffprobe")
async def test_output_file_plays_in_ffprobe_with_every_frame(tmp_path: Path) -> None:
    source = tmp_path / "src.mkv"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
            "-t", "4", "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", str(source),
        ],
        check=True,
    )  # fmt: skip
    async with Emulator(idle_timeout=0.5) as emu:
        loaded = await emu.load_media(STREAM, source.read_bytes())
        out_file = tmp_path / "out.mkv"
        code, _out, err = await run_cli(
            "get-media", STREAM, "--start", "EARLIEST", "--endpoint-url", emu.url,
            "--max-chunks", str(len(loaded)), "--output", str(out_file),
            env=cli_env(emu),
        )  # fmt: skip
    assert code == 0, err

    def frames(path: Path) -> int:
        probe = subprocess.run(
            [
                "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path),
            ],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return int(probe.stdout.strip())

    assert frames(source) == 100
    assert frames(out_file) == 100


async def test_emulator_command_serves_until_stopped() -> None:
    from kvs_async import Credentials
    from kvs_async.emulator import TEST_ACCESS_KEY, TEST_SECRET_KEY
    from kvs_async.kinesisvideo import KinesisVideoClient

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "kvs_async.cli", "emulator", "--port", "0"),
        *("--load", f"{STREAM}={MKV_DIR / 'clusters.mkv'}"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        url = ""
        async with asyncio.timeout(30):
            while not url:
                line = (await proc.stdout.readline()).decode()
                assert line, "the emulator exited before it was ready"
                if line.startswith("KVS emulator ready:"):
                    url = line.split("url=", 1)[1].split()[0]
        assert TEST_SECRET_KEY not in line
        async with KinesisVideoClient(
            region="us-west-2",
            credentials=Credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY),
            endpoint_url=url,
        ) as kv:
            names = [s.stream_name for s in (await kv.list_streams()).stream_info_list or []]
        assert names == [STREAM]
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
