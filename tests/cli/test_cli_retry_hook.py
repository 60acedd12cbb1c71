"""What the CLI's waiting lines stand on, tested in the library: the retry hook
(``ClientConfig.on_retry``), the short budget for refused and unresolvable endpoints,
AWS_ENDPOINT_URL, and the finished ``--output`` file (Duration, Cues, sizes)."""

from __future__ import annotations

import io
import re
import socket
import subprocess
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from kvs_async import ClientConfig
from kvs_async.emulator import Emulator
from kvs_async.errors import EndpointConnectionError, ServiceError
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector
from kvs_async.kinesisvideo import KinesisVideoClient
from kvs_async.mkv import ChunkParser, Leaf, iter_events
from kvs_async.mkv.writer import synthetic_mkv, synthetic_stream
from kvs_async.mkvfile import MkvFileWriter
from kvs_async.retries import UNREACHABLE_MAX_ATTEMPTS, RetryEvent
from kvs_async.transport import _translate

_LINE = re.compile(r"retrying in \d+\.\d s \((\d+)/(\d+)\): connection refused at (http://\S+)")


@pytest.fixture
def dead_url() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}"  # closed again: nothing listens there


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS_VIDEO", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")


async def test_refused_calls_are_announced_and_end_after_three_attempts(
    dead_url: str, keys: None
) -> None:
    events: list[RetryEvent] = []
    config = ClientConfig(max_attempts=10, on_retry=events.append)
    async with KinesisVideoClient(region="us-west-2", endpoint_url=dead_url, config=config) as kv:
        with pytest.raises(EndpointConnectionError) as caught:
            await kv.list_streams()
    assert caught.value.reason == "connection refused" and caught.value.url == dead_url
    assert len(events) == UNREACHABLE_MAX_ATTEMPTS - 1
    for number, event in enumerate(events, start=1):
        match = _LINE.fullmatch(str(event))
        assert match, str(event)
        assert match.groups() == (str(number + 1), "3", dead_url)
        assert event.operation == "ListStreams" and event.attempt == number


async def test_media_stream_reconnects_are_announced_and_bounded(dead_url: str, keys: None) -> None:
    events: list[RetryEvent] = []
    async with KinesisVideoMediaClient(
        region="us-west-2",
        control_endpoint_url=dead_url,
        config=ClientConfig(max_attempts=1, on_retry=events.append),
    ) as media:
        stream = media.get_media(
            stream_name="cam", start_selector=StartSelector(start_selector_type="EARLIEST")
        )
        with pytest.raises(EndpointConnectionError):
            async for _ in stream:
                pass
    # ResumePolicy allows 10 failures; an unreachable endpoint gets 3.
    assert stream.attempts == UNREACHABLE_MAX_ATTEMPTS
    assert [e.operation for e in events] == ["GetMedia"] * (UNREACHABLE_MAX_ATTEMPTS - 1)
    assert all(_LINE.fullmatch(str(e)) for e in events), [str(e) for e in events]


def test_unresolvable_hosts_are_named_as_such() -> None:
    key = SimpleNamespace(host="kvs.example.invalid", port=443, ssl=True)
    exc = aiohttp.ClientConnectorDNSError(key, OSError(-2, "Name or service not known"))  # type: ignore[arg-type]
    error = _translate(
        exc, "POST kvs.example.invalid/listStreams", 60, "https://kvs.example.invalid"
    )
    assert isinstance(error, EndpointConnectionError)
    assert error.reason == "cannot resolve host"
    event = RetryEvent(operation="ListStreams", attempt=1, max_attempts=3, delay=0.42, error=error)
    assert str(event) == (
        "retrying in 0.4 s (2/3): cannot resolve host at https://kvs.example.invalid"
    )


def test_throttles_read_as_throttles() -> None:
    error = ServiceError("slow down", code="ClientLimitExceededException", throttling=True)
    event = RetryEvent(operation="GetMedia", attempt=4, max_attempts=None, delay=1.6, error=error)
    assert str(event) == "retrying in 1.6 s (5): ClientLimitExceededException (throttled)"


async def test_clients_read_aws_endpoint_url(monkeypatch: pytest.MonkeyPatch) -> None:
    async with Emulator() as emu:
        await emu.load_media("cam", synthetic_mkv(2))
        monkeypatch.setenv("AWS_ENDPOINT_URL", emu.url)
        monkeypatch.delenv("AWS_ENDPOINT_URL_KINESIS_VIDEO", raising=False)
        kwargs: dict[str, Any] = {"region": emu.region, "credentials": emu.credentials}
        async with KinesisVideoClient(**kwargs) as kv:
            names = [s.stream_name for s in (await kv.list_streams()).stream_info_list or []]
        assert names == ["cam"]
        # A data-plane client discovers its endpoint through the configured control plane.
        async with KinesisVideoMediaClient(**kwargs) as media:
            stream = media.get_media(
                stream_name="cam",
                start_selector=StartSelector(start_selector_type="EARLIEST"),
                idle_timeout=2,
            )
            assert len([c async for c in stream]) == 2
        monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
        assert KinesisVideoClient(**kwargs)._endpoint_url is None


def _leaves(data: bytes) -> dict[str, Any]:
    return {e.name: e.value for e in iter_events(data) if isinstance(e, Leaf)}


def _chunks() -> list[Any]:
    parser = ChunkParser()
    return (
        parser.feed(b"".join(synthetic_stream(3, frames_per_fragment=10, fps=10))) + parser.close()
    )


class _Pipe(io.BytesIO):
    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.kept = self.getvalue()
        super().close()


def test_output_files_are_finished_when_seekable(tmp_path: Any) -> None:
    path = tmp_path / "out.mkv"
    writer = MkvFileWriter(path.open("wb"))
    for chunk in _chunks():
        writer.write(chunk)
    writer.close()
    writer.close()  # idempotent
    data = path.read_bytes()
    leaves = _leaves(data)
    assert leaves["Duration"] == 3000.0 == float(writer.duration_ms)  # 3 s of 10 fps
    assert "CueClusterPosition" in leaves and "SeekPosition" in leaves
    parser = ChunkParser()
    frames = [f for c in parser.feed(data) + parser.close() for f in c.frames]
    assert len(frames) == writer.frames_written == 30
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
    )
    if probe.returncode == 0:  # ffprobe is optional here; the media tests require it
        assert abs(float(probe.stdout) - 3.0) < 0.01


def test_pipes_get_a_valid_file_without_duration() -> None:
    pipe = _Pipe()
    writer = MkvFileWriter(pipe)
    for chunk in _chunks():
        writer.write(chunk)
    writer.close()
    leaves = _leaves(pipe.kept)
    assert "Duration" not in leaves and "CueClusterPosition" not in leaves
    parser = ChunkParser()
    assert sum(len(c.frames) for c in parser.feed(pipe.kept) + parser.close()) == 30
