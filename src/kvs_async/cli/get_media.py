"""``kvs-async get-media``: print a stream's chunks (and write them to a playable .mkv)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clients import client_kwargs, endpoint_of
from .errors import UsageError, explain
from .options import (
    add_client_arguments,
    output_file,
    positive_float,
    positive_int,
    stream_target,
    timestamp,
)
from .status import Status

if TYPE_CHECKING:
    from ..getmedia import MediaStream
    from ..kinesis_video_media import StartSelector
    from ..mkv import Chunk

HELP = "read a stream's fragments, resuming after drops"
DESCRIPTION = """\
Print one line per chunk (fragment number, timestamps, frames, bytes, lag), or JSON lines
with --json; --output also writes the media to a playable .mkv. The read follows the
stream for as long as it lives: --idle-timeout stops it when nothing new arrives,
--max-chunks after N chunks. Ctrl-C or SIGTERM stop it cleanly: the file is closed with its
duration, and the token to resume from is printed (exit 130 / 143).
"""

START_TYPES = (
    "NOW",
    "EARLIEST",
    "FRAGMENT_NUMBER",
    "SERVER_TIMESTAMP",
    "PRODUCER_TIMESTAMP",
    "CONTINUATION_TOKEN",
)
_FRAGMENT_NUMBER = re.compile(r"[0-9]{1,128}")
_TOKEN = re.compile(r"[a-zA-Z0-9_.-]{1,128}")


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not pattern.fullmatch(text):
            raise argparse.ArgumentTypeError(f"not a valid {what}: {text!r}")
        return text

    return check


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stream", metavar="STREAM", help="stream name (or ARN with --arn)")
    parser.add_argument("--arn", action="store_true", help="STREAM is a stream ARN")
    parser.add_argument(
        "--start",
        type=str.upper,
        choices=START_TYPES,
        default=None,
        help="start selector type (default NOW; implied by the options below)",
    )
    parser.add_argument(
        "--fragment-number",
        type=_matching(_FRAGMENT_NUMBER, "fragment number (digits)"),
        help="start after this fragment (FRAGMENT_NUMBER)",
    )
    parser.add_argument(
        "--timestamp",
        type=timestamp,
        help="start time for SERVER_TIMESTAMP/PRODUCER_TIMESTAMP (ISO 8601 or epoch seconds)",
    )
    parser.add_argument(
        "--continuation-token",
        type=_matching(_TOKEN, "continuation token"),
        help="resume from a saved token (the one a previous run printed)",
    )
    parser.add_argument(
        "--output", "-o", type=output_file, help="write the media to this .mkv file"
    )
    parser.add_argument("--max-chunks", type=positive_int, default=None, help="stop after N chunks")
    parser.add_argument(
        "--idle-timeout",
        type=positive_float,
        default=None,
        help="stop when no chunk arrives for this many seconds (default: follow the stream)",
    )
    parser.add_argument("--no-resume", action="store_true", help="do not reconnect after drops")
    add_client_arguments(parser)


def _selector(args: argparse.Namespace) -> StartSelector:
    from ..kinesis_video_media import StartSelector

    kind = args.start
    if kind is None:
        if args.continuation_token:
            kind = "CONTINUATION_TOKEN"
        elif args.fragment_number:
            kind = "FRAGMENT_NUMBER"
        elif args.timestamp:
            kind = "SERVER_TIMESTAMP"
        else:
            kind = "NOW"
    needs = {
        "FRAGMENT_NUMBER": ("--fragment-number", args.fragment_number),
        "SERVER_TIMESTAMP": ("--timestamp", args.timestamp),
        "PRODUCER_TIMESTAMP": ("--timestamp", args.timestamp),
        "CONTINUATION_TOKEN": ("--continuation-token", args.continuation_token),
    }
    for flag, value, owner in (
        ("--fragment-number", args.fragment_number, ("FRAGMENT_NUMBER",)),
        ("--timestamp", args.timestamp, ("SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP")),
        ("--continuation-token", args.continuation_token, ("CONTINUATION_TOKEN",)),
    ):
        if value is not None and kind not in owner:
            raise UsageError(f"{flag} does not go with --start {kind}", "give one start only")
    if kind in needs and needs[kind][1] is None:
        raise UsageError(f"--start {kind} needs {needs[kind][0]}")
    return StartSelector(
        start_selector_type=kind,
        after_fragment_number=args.fragment_number,
        start_timestamp=args.timestamp,
        continuation_token=args.continuation_token,
    )


def chunk_record(chunk: Chunk) -> dict[str, Any]:
    """What one printed line says about a chunk."""
    return {
        "fragment_number": chunk.fragment_number,
        "server_timestamp": _iso(chunk.server_timestamp),
        "producer_timestamp": _iso(chunk.producer_timestamp),
        "frames": len(chunk.frames),
        "bytes": len(chunk.raw),
        "millis_behind_now": chunk.millis_behind_now,
        "continuation_token": chunk.continuation_token,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None


def _line(record: dict[str, Any]) -> str:
    lag = record["millis_behind_now"]
    return (
        f"fragment {record['fragment_number'] or '-'}  server {record['server_timestamp'] or '-'}  "
        f"producer {record['producer_timestamp'] or '-'}  frames {record['frames']:4d}  "
        f"bytes {record['bytes']:8d}  lag {'-' if lag is None else f'{lag} ms'}"
    )


class _Progress:
    """The live status line of one read, and what it says while nothing arrives."""

    def __init__(self, status: Status, stream: MediaStream, name: str, start: str) -> None:
        self.status = status
        self.stream = stream
        self.name = name
        self.start = start
        self.count = 0
        self.began = self.last = time.monotonic()
        self._next_note = 1.0

    def chunk(self) -> None:
        self.count += 1
        self.last = time.monotonic()
        self._next_note = 1.0
        stream = self.stream
        elapsed = max(self.last - self.began, 1e-9)
        self.status.live(
            f"{self.count} chunks  {stream.bytes_received / 1e6:.1f} MB  "
            f"{stream.bytes_received / 1e6 / elapsed:.1f} MB/s  resumes {stream.resumes}"
        )

    def idle_text(self, idle: float) -> str:
        if self.count == 0 and self.start == "NOW":
            what = f"waiting for new fragments on {self.name}: none written for {idle:.0f} s"
            hint = (
                " (NOW reads only what is written from now on; --start EARLIEST reads stored ones)"
            )
        elif self.count == 0:
            what = f"waiting for the first fragment of {self.name}: {idle:.0f} s"
            hint = ""
        else:
            what = f"{self.count} chunks; nothing new on {self.name} for {idle:.0f} s"
            hint = ""
        extra = f", {self.stream.resumes} reconnects" if self.stream.resumes else ""
        return f"{what}{extra}{hint}"

    async def watch(self) -> None:
        """Say so while nothing arrives: on a terminal every second, with -v after 1, 2, 4... s."""
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            idle = now - self.last
            if idle < 1.0 or now - self.status.last_note < 2.0:
                continue  # progress, or a retry note says what is going on
            if self.status.tty:
                self.status.live(self.idle_text(idle), force=True)
            elif idle >= self._next_note:
                self._next_note = min(idle * 2, idle + 60)
                self.status.note(self.idle_text(idle), idle_seconds=round(idle, 1))


async def consume(
    stream: MediaStream,
    *,
    status: Status,
    max_chunks: int | None,
    output: Path | None,
    name: str = "the stream",
    start: str = "NOW",
    on_chunk: Callable[[Chunk], None] | None = None,
) -> int:
    """Print each chunk of a MediaStream (and write the media file); returns how many.

    The file is closed (with its duration) however this ends, cancellation included;
    when no frame arrived, no file is left.
    """
    from ..mkvfile import MkvFileWriter

    progress = _Progress(status, stream, name, start)
    writer = MkvFileWriter(output.open("wb")) if output is not None else None
    watcher = asyncio.get_running_loop().create_task(progress.watch())
    try:
        async with stream:
            async for chunk in stream:
                if writer is not None:
                    writer.write(chunk)
                if on_chunk is not None:
                    on_chunk(chunk)
                record = chunk_record(chunk)
                status.echo(json.dumps(record) if status.as_json else _line(record))
                progress.chunk()
                if max_chunks is not None and progress.count >= max_chunks:
                    break
    finally:
        watcher.cancel()
        status.clear()
        if writer is not None:
            writer.close()
            if output is not None and not writer.frames_written:
                output.unlink(missing_ok=True)  # an empty file is no video: leave none
    return progress.count


async def run(args: argparse.Namespace) -> int:
    from ..getmedia import ResumePolicy
    from ..kinesis_video_media import KinesisVideoMediaClient

    target = stream_target(args)
    selector = _selector(args)
    status = Status(verbose=args.verbose, as_json=args.json, prog="kvs-async get-media")
    async with KinesisVideoMediaClient(
        **client_kwargs(KinesisVideoMediaClient, args, status)
    ) as client:
        stream = client.get_media(
            **target,
            start_selector=selector,
            resume=ResumePolicy(enabled=not args.no_resume),
            idle_timeout=args.idle_timeout,
        )
        try:
            count = await consume(
                stream,
                status=status,
                max_chunks=args.max_chunks,
                output=args.output,
                name=args.stream,
                start=selector.start_selector_type,
            )
        except asyncio.CancelledError:
            stopped = getattr(args, "stopped_by", None) or "cancelled"
            _print_summary(status, stream, stream.chunks, args, stopped)
            raise
        except Exception as exc:
            # One line: the failure, and where to resume when something was received.
            failure = explain(exc, endpoint=endpoint_of(args))
            token = stream.continuation_token
            if failure is None or token is None:
                raise
            fix = f"{failure.fix}; " if failure.fix else ""
            raise type(failure)(
                f"{failure.problem} (after {stream.chunks} chunks)",
                f"{fix}resume with --continuation-token {token}",
                code=failure.code,
            ) from exc
        _print_summary(status, stream, count, args, None)
    return 0


def _print_summary(
    status: Status,
    stream: MediaStream,
    count: int,
    args: argparse.Namespace,
    interrupted: str | None,
) -> None:
    # A run that received nothing resumes where it was asked to start.
    token = stream.continuation_token or args.continuation_token
    summary: dict[str, Any] = {
        "chunks": count,
        "bytes": stream.bytes_received,
        "resumes": stream.resumes,
        "continuation_token": token,
        "last_fragment_number": stream.fragment_number,
    }
    written = args.output is not None and args.output.exists()
    if written:
        summary["output"] = str(args.output)
    if interrupted:
        summary["stopped_by"] = interrupted
    if args.json:
        status.message(json.dumps({"summary": summary}))
        return
    head = "stopped: " if interrupted else ""
    text = f"{head}{count} chunks, {stream.bytes_received} bytes, resumed {stream.resumes} times"
    if written:
        text += f", written to {args.output}"
    elif args.output is not None:
        text += f", nothing to write to {args.output}"
    if token:
        text += f"; resume later with --continuation-token {token}"
    else:
        text += "; no fragment received, so no continuation token yet"
    status.message(text)


__all__ = ["DESCRIPTION", "HELP", "add_arguments", "chunk_record", "consume", "run"]
