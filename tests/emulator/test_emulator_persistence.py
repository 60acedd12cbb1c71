"""--data-dir: streams and acknowledged fragments survive restarts and kill -9."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import MKV_DIR
from emulator_testkit import call, parse_chunks, put_media, put_media_streaming

from kvs_async.credentials import Credentials
from kvs_async.emulator import TEST_ACCESS_KEY, TEST_SECRET_KEY, Emulator
from kvs_async.mkv import writer

SAMPLE = MKV_DIR / "kinesis_video_renderer_example_output.mkv"
SMALL = MKV_DIR / "test_mixed_tags.mkv"
KEY, SECRET = "AKIDPERSIST", "persist-secret"
SEGMENT_ID = 0x18538067


@asynccontextmanager
async def emulator_process(
    data_dir: Path, *extra: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Any]]:
    """The emulator as a child process; yields it and a stand-in with url/region/credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kvs_async.emulator",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--access-key",
        KEY,
        "--secret-key",
        SECRET,
        "--idle-timeout",
        "0.2",
        *extra,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = None
        async with asyncio.timeout(30):
            while url is None:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    assert proc.stderr is not None
                    raise AssertionError((await proc.stderr.read()).decode())
                if line.startswith("KVS emulator ready:"):
                    url = line.split("url=", 1)[1].split()[0]
        target = SimpleNamespace(url=url, region="us-west-2", credentials=Credentials(KEY, SECRET))
        yield proc, target
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def one_fragment_documents() -> list[bytes]:
    """Each Cluster of SAMPLE as its own small MKV document (what a producer would send)."""
    header = writer.ebml_header() + writer.unknown_size(SEGMENT_ID)
    return [
        header + src.info + src.tracks + src.cluster
        for src in writer.split_fragments(SAMPLE.read_bytes())
    ]


async def all_fragment_numbers(target: Any, stream: str) -> list[str]:
    numbers: list[str] = []
    body: dict[str, Any] = {"StreamName": stream, "MaxResults": 7}
    while True:
        status, _, raw = await call(target, "/listFragments", body)
        assert status == 200, raw
        page = json.loads(raw)
        numbers += [f["FragmentNumber"] for f in page["Fragments"]]
        if "NextToken" not in page:
            return numbers
        body["NextToken"] = page["NextToken"]


@pytest.mark.slow
async def test_kill_9_while_loading_keeps_every_acknowledged_fragment(tmp_path: Path) -> None:
    docs = one_fragment_documents()
    acked: list[str] = []
    async with emulator_process(tmp_path) as (proc, target):
        status, _, raw = await call(
            target, "/createStream", {"StreamName": "cam", "DataRetentionInHours": 24}
        )
        assert status == 200, raw
        arn = json.loads(raw)["StreamARN"]
        enough = asyncio.Event()

        async def load_forever() -> None:
            i = 0
            while True:
                batch = docs[i % len(docs)] + docs[(i + 1) % len(docs)]
                acks = await put_media(target, "cam", batch)
                acked.extend(a["FragmentNumber"] for a in acks if a["EventType"] == "PERSISTED")
                if len(acked) >= 12:
                    enough.set()
                i += 2

        loader = asyncio.create_task(load_forever())
        await asyncio.wait_for(enough.wait(), 60)
        proc.send_signal(signal.SIGKILL)  # mid-load: a PutMedia is in flight or about to be
        with pytest.raises(Exception):  # noqa: B017 - any connection error ends the loader
            await asyncio.wait_for(loader, 30)
        assert await proc.wait() == -signal.SIGKILL
    assert len(acked) >= 12

    async with emulator_process(tmp_path) as (_, target):
        status, _, raw = await call(target, "/describeStream", {"StreamName": "cam"})
        assert status == 200
        assert json.loads(raw)["StreamInfo"]["StreamARN"] == arn
        stored = await all_fragment_numbers(target, "cam")
        assert set(acked) <= set(stored)
        assert stored == sorted(stored, key=int)
        # The bytes are intact too: every stored fragment reads back with its frames.
        status, _, body = await call(
            target,
            "/getMedia",
            {"StreamName": "cam", "StartSelector": {"StartSelectorType": "EARLIEST"}},
        )
        assert status == 200
        chunks = parse_chunks(body)
        assert [c.fragment_number for c in chunks] == stored
        assert all(len(c.frames) > 0 for c in chunks)
        # New fragments after the restart number after the old ones.
        acks = await put_media(target, "cam", docs[0])
        assert int(acks[0]["FragmentNumber"]) > int(stored[-1])


@pytest.mark.slow
async def test_kill_9_during_one_streamed_put_media(tmp_path: Path) -> None:
    """One endless PutMedia connection; the process dies right after an ack went out."""
    sources = writer.split_fragments(SAMPLE.read_bytes())
    head = writer.ebml_header() + writer.unknown_size(SEGMENT_ID) + sources[0].info
    head += sources[0].tracks
    acked: list[str] = []
    async with emulator_process(tmp_path) as (proc, target):
        # PERSISTED acks come only from a stream that retains data, as in KVS.
        status, _, raw = await call(
            target, "/createStream", {"StreamName": "cam", "DataRetentionInHours": 1}
        )
        assert status == 200, raw

        async def endless() -> AsyncIterator[bytes]:
            yield head
            i = 0
            while True:
                cluster = sources[i % len(sources)].cluster
                for j in range(0, len(cluster), 16384):  # each Cluster in several pieces
                    yield cluster[j : j + 16384]
                    await asyncio.sleep(0)
                i += 1

        async def on_ack(ack: dict[str, Any]) -> None:
            if ack["EventType"] == "PERSISTED":
                acked.append(str(ack["FragmentNumber"]))
                if len(acked) == 10:
                    proc.send_signal(signal.SIGKILL)

        with pytest.raises(Exception):  # noqa: B017 - the connection dies with the process
            await asyncio.wait_for(put_media_streaming(target, "cam", endless(), on_ack=on_ack), 60)
        assert await proc.wait() == -signal.SIGKILL
    assert len(acked) >= 10
    async with emulator_process(tmp_path) as (_, target):
        stored = await all_fragment_numbers(target, "cam")
        assert set(acked) <= set(stored)
        status, _, body = await call(
            target,
            "/getMedia",
            {"StreamName": "cam", "StartSelector": {"StartSelectorType": "EARLIEST"}},
        )
        assert status == 200
        assert [c.fragment_number for c in parse_chunks(body)] == stored


async def test_cli_load_and_help(tmp_path: Path) -> None:
    async with emulator_process(tmp_path, "--load", f"small={SMALL}") as (_, target):
        status, _, raw = await call(target, "/listStreams", {})
        assert status == 200
        assert [s["StreamName"] for s in json.loads(raw)["StreamInfoList"]] == ["small"]
        assert len(await all_fragment_numbers(target, "small")) == 10
    async with emulator_process(
        tmp_path / "live", "--live", f"live={SMALL}", "--live-speed", "100"
    ) as (_, target):
        numbers: list[str] = []
        async with asyncio.timeout(20):
            while len(numbers) < 3:  # fragments keep arriving: one every 50 ms
                await asyncio.sleep(0.05)
                numbers = await all_fragment_numbers(target, "live")
    out = subprocess.run(
        [sys.executable, "-m", "kvs_async.emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert TEST_ACCESS_KEY in out and TEST_SECRET_KEY in out
    for flag in ("--port", "--load", "--live", "--data-dir", "--access-key", "--secret-key"):
        assert flag in out


async def test_in_process_restart_keeps_state(tmp_path: Path) -> None:
    async with Emulator(data_dir=tmp_path) as emu:
        await emu.create_stream("gone")
        await emu.create_stream("short", retention_hours=1)
        frags = await emu.load_media("short", SMALL)
        await emu.load_media("kept", SMALL)
        status, _, _ = await call(emu, "/tagStream", {"StreamName": "kept", "Tags": {"k": "v"}})
        assert status == 200
        arn = emu.control.streams["gone"]["StreamARN"]
        status, _, _ = await call(emu, "/deleteStream", {"StreamARN": arn})
        assert status == 200
        emu.clock.advance(3600 - 20)
        dropped = await emu.enforce_retention()
        assert 0 < dropped < len(frags)
        left = emu.fragments("short")
    async with Emulator(data_dir=tmp_path) as emu:
        assert sorted(emu.control.streams) == ["kept", "short"]
        assert emu.fragments("short") == left
        assert len(emu.fragments("kept")) == 10
        status, _, raw = await call(emu, "/listTagsForStream", {"StreamName": "kept"})
        assert json.loads(raw)["Tags"] == {"k": "v"}
