"""``kvs-async put-media`` as a user runs it: a real process, a file or an ffmpeg pipe."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from conftest import MKV_DIR
from producer_testkit import av_file, demux, emu, frames_of, needs_ffmpeg, read_back

from kvs_async.emulator import Emulator

__all__ = ["av_file", "emu"]


def env_for(emu: Emulator) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=emu.credentials.access_key,
        AWS_SECRET_ACCESS_KEY=emu.credentials.secret_key,
        AWS_REGION=emu.region,
    )
    env.pop("AWS_PROFILE", None)
    return env


async def put_media_cli(
    emu: Emulator, *args: str, stdin: int | None = None
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kvs_async.cli", "put-media", *args, "--endpoint-url", emu.url,
        stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env_for(emu),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@needs_ffmpeg
async def test_cli_file_round_trip_with_json_acks(emu: Emulator, av_file: Path) -> None:
    code, out, err = await put_media_cli(emu, "cam", str(av_file), "--json")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    summary = lines[-1]["summary"]
    acks = lines[:-1]
    chunks = await read_back(emu, "cam")
    assert summary["persisted"] == summary["fragments"] == len(chunks)
    persisted = [a for a in acks if a["EventType"] == "PERSISTED"]
    assert [a["FragmentNumber"] for a in persisted] == [c.fragment_number for c in chunks]
    _, frames = demux(av_file.read_bytes())
    assert frames_of(chunks) == frames


@needs_ffmpeg
async def test_cli_from_an_ffmpeg_pipe_creates_the_stream(emu: Emulator, av_file: Path) -> None:
    read_fd, write_fd = os.pipe()
    ffmpeg = await asyncio.create_subprocess_exec(
        "ffmpeg", "-v", "error", "-re", "-i", str(av_file), "-c", "copy", "-f", "matroska", "-",
        stdout=write_fd,
    )  # fmt: skip
    os.close(write_fd)
    try:
        code, _, err = await put_media_cli(
            emu, "piped", "-", "--create", "--retention-hours", "2", stdin=read_fd
        )
    finally:
        os.close(read_fd)
        await ffmpeg.wait()
    assert code == 0, err
    assert "persisted to piped" in err
    assert emu.control.streams["piped"]["DataRetentionInHours"] == 2
    chunks = await read_back(emu, "piped")
    _, frames = demux(av_file.read_bytes())
    # ffmpeg's -c copy keeps every packet; timecodes may be re-based by the muxer.
    got = frames_of(chunks)
    assert [(t, k, p) for t, _, k, p in got] == [(t, k, p) for t, _, k, p in frames]


async def test_cli_refragments_unknown_size_clusters(emu: Emulator) -> None:
    path = MKV_DIR / "test_mixed_tags.mkv"
    code, _, err = await put_media_cli(emu, "cam", str(path))
    assert code == 0, err
    chunks = await read_back(emu, "cam")
    assert sum(len(c.frames) for c in chunks) == 100


async def test_cli_bad_input_is_one_line_exit_1(emu: Emulator, tmp_path: Path) -> None:
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(b"this is not matroska at all" * 10)
    code, _, err = await put_media_cli(emu, "cam", str(bad))
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("kvs-async put-media:")]
    assert any("not valid MKV" in line or "MKV" in line for line in lines), err
    assert "Traceback" not in err


async def test_cli_missing_stream_and_missing_file(emu: Emulator, tmp_path: Path) -> None:
    code, _, err = await put_media_cli(emu, "nope", str(MKV_DIR / "test_mixed_tags.mkv"))
    assert code == 1 and "Traceback" not in err
    assert "nope" in err or "ResourceNotFound" in err or "not found" in err.lower()
    code, _, err = await put_media_cli(emu, "cam", str(tmp_path / "missing.mkv"))
    assert code == 2 and "no such file" in err


@needs_ffmpeg
async def test_ctrl_c_finishes_the_fragment_and_reports_what_was_persisted(
    emu: Emulator, av_file: Path
) -> None:
    import signal

    read_fd, write_fd = os.pipe()
    ffmpeg = await asyncio.create_subprocess_exec(
        "ffmpeg", "-v", "error", "-re", "-stream_loop", "3", "-i", str(av_file),
        "-c", "copy", "-f", "matroska", "-",
        stdout=write_fd,
    )  # fmt: skip
    os.close(write_fd)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kvs_async.cli", "put-media", "cam", "-", "--json",
        "--endpoint-url", emu.url,
        stdin=read_fd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env_for(emu),
    )  # fmt: skip
    os.close(read_fd)
    try:
        assert proc.stdout is not None
        while True:  # interrupt once the first fragment is persisted
            line = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
            if line.get("EventType") == "PERSISTED":
                break
        await asyncio.sleep(0.7)  # mid-fragment (GOP 0.48 s at -re)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if ffmpeg.returncode is None:
            ffmpeg.kill()
        await ffmpeg.wait()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"interrupted" in err
    summary = json.loads(out.decode().splitlines()[-1])["summary"]
    assert summary["interrupted"] is True
    stored = emu.fragments("cam")
    assert summary["persisted"] == len(stored) == summary["fragments"] >= 2
