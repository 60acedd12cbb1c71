"""The ``kvs-async`` command: read a stream, run the local emulator, or run the demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from . import __version__
from .config import ClientConfig
from .errors import KvsError
from .getmedia import MediaStream
from .mkv import Chunk

START_TYPES = (
    "NOW",
    "EARLIEST",
    "FRAGMENT_NUMBER",
    "SERVER_TIMESTAMP",
    "PRODUCER_TIMESTAMP",
    "CONTINUATION_TOKEN",
)


def _timestamp(text: str) -> datetime:
    """ISO 8601 (naive means UTC) or epoch seconds, as KVS tags write them."""
    try:
        seconds = Decimal(text)
    except InvalidOperation:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not an ISO 8601 time or epoch seconds: {text!r}"
            ) from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    micros = int((seconds * 1_000_000).to_integral_value())
    return datetime.fromtimestamp(0, UTC) + timedelta(microseconds=micros)


def _client_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS connection (default: the usual AWS environment)")
    group.add_argument("--region", help="AWS region (else AWS_REGION / the profile's region)")
    group.add_argument("--profile", help="named profile from ~/.aws/config")
    group.add_argument(
        "--endpoint-url",
        help="control-plane endpoint (e.g. a local emulator); the data endpoint is discovered",
    )
    group.add_argument(
        "--read-timeout", type=float, default=None, help="seconds to wait for each read"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kvs-async",
        description="Typed asyncio client for Amazon Kinesis Video Streams.",
    )
    parser.add_argument("--version", action="version", version=f"kvs-async {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    get = sub.add_parser(
        "get-media",
        help="read a stream's fragments, resuming after drops",
        description="Print one line per chunk (fragment, timestamps, frames, bytes, lag).",
    )
    get.add_argument("stream", metavar="STREAM", help="stream name (or ARN with --arn)")
    get.add_argument("--arn", action="store_true", help="STREAM is a stream ARN")
    get.add_argument(
        "--start",
        type=str.upper,
        choices=START_TYPES,
        default=None,
        help="start selector type (default NOW; implied by the options below)",
    )
    get.add_argument("--fragment-number", help="start after this fragment (FRAGMENT_NUMBER)")
    get.add_argument(
        "--timestamp",
        type=_timestamp,
        help="start time for SERVER_TIMESTAMP/PRODUCER_TIMESTAMP (ISO 8601 or epoch seconds)",
    )
    get.add_argument("--continuation-token", help="resume from a saved token")
    get.add_argument("--output", "-o", type=Path, help="write the media to this .mkv file")
    get.add_argument("--max-chunks", type=int, default=None, help="stop after N chunks")
    get.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help="stop when no chunk arrives for this many seconds",
    )
    get.add_argument("--json", action="store_true", help="print JSON lines")
    get.add_argument("--no-resume", action="store_true", help="do not reconnect after drops")
    _client_options(get)

    emu = sub.add_parser(
        "emulator",
        help="run the local KVS emulator",
        description="A local Kinesis Video Streams on loopback: control plane, media, faults.",
    )
    from .emulator import cli as emulator_cli

    emulator_cli.add_arguments(emu)

    demo = sub.add_parser(
        "demo",
        help="consume a generated stream from the embedded emulator while it cuts connections",
    )
    demo.add_argument("--fragments", type=int, default=30, help="fragments in the test stream")
    demo.add_argument("--faults", type=int, default=4, help="connection faults to inject")
    demo.add_argument("--seed", type=int, default=7, help="seed for where faults fall")
    demo.add_argument("--output", "-o", type=Path, help="also write the media to this .mkv file")
    demo.add_argument("--json", action="store_true", help="print JSON lines")
    return parser


def _selector(args: argparse.Namespace) -> Any:
    from .kinesis_video_media import StartSelector

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
        f"fragment {record['fragment_number']}  server {record['server_timestamp']}  "
        f"producer {record['producer_timestamp']}  frames {record['frames']:4d}  "
        f"bytes {record['bytes']:8d}  lag {'-' if lag is None else f'{lag} ms'}"
    )


class _Status:
    """A live status line on a terminal's stderr; silent otherwise."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._start = time.monotonic()
        self._last = 0.0

    def update(self, chunks: int, nbytes: int, resumes: int, *, force: bool = False) -> None:
        if not self._tty:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        elapsed = max(now - self._start, 1e-9)
        self._stream.write(
            f"\r\x1b[2K{chunks} chunks  {nbytes / 1e6:.1f} MB  "
            f"{nbytes / 1e6 / elapsed:.1f} MB/s  resumes {resumes}"
        )
        self._stream.flush()

    def clear(self) -> None:
        if self._tty:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()


async def consume(
    stream: MediaStream,
    *,
    out: IO[str],
    as_json: bool,
    max_chunks: int | None,
    output: Path | None,
    on_chunk: Callable[[Chunk], None] | None = None,
) -> int:
    """Print each chunk of a MediaStream (and write the media file); returns how many."""
    from .mkvfile import MkvFileWriter

    status = _Status(sys.stderr)
    count = 0
    writer = MkvFileWriter(output.open("wb")) if output is not None else None
    try:
        async with stream:
            async for chunk in stream:
                count += 1
                if on_chunk is not None:
                    on_chunk(chunk)
                record = chunk_record(chunk)
                if writer is not None:
                    writer.write(chunk)
                status.clear()
                print(json.dumps(record) if as_json else _line(record), file=out, flush=True)
                status.update(count, stream.bytes_received, stream.resumes)
                if max_chunks is not None and count >= max_chunks:
                    break
    finally:
        status.clear()
        if writer is not None:
            writer.close()
    return count


async def _get_media(args: argparse.Namespace) -> int:
    from .getmedia import ResumePolicy
    from .kinesis_video_media import KinesisVideoMediaClient

    config = ClientConfig(read_timeout=args.read_timeout) if args.read_timeout else None
    async with KinesisVideoMediaClient(
        region=args.region,
        profile=args.profile,
        control_endpoint_url=args.endpoint_url,
        config=config,
    ) as client:
        stream = client.get_media(
            stream_name=None if args.arn else args.stream,
            stream_arn=args.stream if args.arn else None,
            start_selector=_selector(args),
            resume=ResumePolicy(enabled=not args.no_resume),
            idle_timeout=args.idle_timeout,
        )
        count = await consume(
            stream,
            out=sys.stdout,
            as_json=args.json,
            max_chunks=args.max_chunks,
            output=args.output,
        )
        summary = {
            "chunks": count,
            "bytes": stream.bytes_received,
            "resumes": stream.resumes,
            "continuation_token": stream.continuation_token,
        }
        print(json.dumps({"summary": summary}) if args.json else _summary(summary), file=sys.stderr)
    return 0


def _summary(summary: dict[str, Any]) -> str:
    return (
        f"{summary['chunks']} chunks, {summary['bytes']} bytes, resumed {summary['resumes']} "
        f"times; resume later with --continuation-token {summary['continuation_token']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "get-media":
            return asyncio.run(_get_media(args))
        if args.command == "emulator":
            from .emulator import cli as emulator_cli

            return asyncio.run(emulator_cli.run(args))
        if args.command == "demo":
            from .demo import run_demo

            return asyncio.run(run_demo(args))
    except KvsError as exc:
        print(f"kvs-async: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
