"""``kvs-async put-media STREAM [FILE|-]``: send an MKV file or a pipe to a stream.

The input is re-fragmented at keyframes whatever its cluster layout
(:mod:`kvs_async.producer.source`), sent over one PutMedia connection that resumes by itself,
and acknowledged fragment by fragment. Ctrl-C sends the fragment being built, waits briefly
for the acks, and says what was persisted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import stat
import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ..cli.errors import CommandError, UsageError
from ..cli.options import (
    add_client_arguments,
    non_negative_int,
    positive_float,
    stream_target,
)

if TYPE_CHECKING:
    from ..cli.status import Status
    from .producer import MediaProducer

HELP = "send an MKV file or standard input to a stream (PutMedia)"
DESCRIPTION = """\
Send MKV media to a stream over one long-running PutMedia connection, re-cut into one
fragment per video keyframe whatever the input's cluster layout (ffmpeg, mkvmerge,
GStreamer, unknown-size clusters). FILE '-' (the default) reads standard input:

  ffmpeg -i rtsp://camera/stream -c copy -f matroska - | kvs-async put-media cam -

A file is sent as fast as the PutMedia limits allow (--realtime paces it at its own
timecodes). Drops, 5xx answers and throttles reconnect and resend what was not yet
acknowledged. A live status line on a terminal; --json prints every acknowledgement as a
JSON line. Ctrl-C sends the fragment being built, waits briefly for its acks, and reports
what was persisted.
"""

_READ = 1 << 20
_CLOSE_WAIT_ON_SIGNAL = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stream", metavar="STREAM", help="stream name (or ARN with --arn)")
    parser.add_argument(
        "file", metavar="FILE", nargs="?", default="-", help="MKV file, or - for standard input"
    )
    parser.add_argument("--arn", action="store_true", help="STREAM is a stream ARN")
    parser.add_argument(
        "--realtime", action="store_true", help="pace the input at its own timecodes"
    )
    parser.add_argument(
        "--create", action="store_true", help="create the stream if it does not exist"
    )
    parser.add_argument(
        "--retention-hours",
        type=non_negative_int,
        default=24,
        help="data retention of a stream made by --create (default: 24; 0 keeps nothing)",
    )
    parser.add_argument(
        "--min-fragment-seconds",
        type=positive_float,
        default=None,
        help="cut at a keyframe only once a fragment is this long (default: every keyframe)",
    )
    add_client_arguments(parser)


def _target(args: argparse.Namespace) -> tuple[str | None, str | None]:
    target = stream_target(args)
    if args.create and args.arn:
        raise UsageError("--create needs a stream name, not an ARN", "drop --arn or --create")
    return target["stream_name"], target["stream_arn"]


async def _pieces(path: str) -> AsyncIterator[bytes]:
    """The input's bytes: pipes and terminals without blocking the loop, files in a thread."""
    if path == "-":
        fd = sys.stdin.fileno()
        mode = os.fstat(fd).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode):
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader(limit=_READ)
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", closefd=False)
            )
            try:
                while data := await reader.read(_READ):
                    yield data
            finally:
                transport.close()
            return
        handle = os.fdopen(fd, "rb", closefd=False)
    else:
        try:
            handle = open(path, "rb")
        except OSError as exc:
            from ..cli.errors import os_error_text

            raise UsageError(os_error_text(exc, path), "give an MKV file, or - for stdin") from None
    try:
        while data := await asyncio.to_thread(handle.read, _READ):
            yield data
    finally:
        handle.close()


async def _ensure_stream(args: argparse.Namespace, status: Status) -> None:
    from ..cli.clients import client_kwargs
    from ..kinesisvideo import KinesisVideoClient, ResourceNotFoundException

    async with KinesisVideoClient(**client_kwargs(KinesisVideoClient, args, status)) as control:
        try:
            await control.describe_stream(stream_name=args.stream)
            return
        except ResourceNotFoundException:
            pass
        status.note(f"creating stream {args.stream} (retention {args.retention_hours} h)")
        await control.create_stream(
            stream_name=args.stream, data_retention_in_hours=args.retention_hours
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = await control.describe_stream(stream_name=args.stream)
            if out.stream_info is not None and out.stream_info.status == "ACTIVE":
                return
            status.note(f"waiting for stream {args.stream} to become ACTIVE")
            await asyncio.sleep(0.5)
        raise CommandError(f"stream {args.stream} did not become ACTIVE within 60 s")


class _Report:
    """The status line and the --json ack lines of one run."""

    def __init__(self, status: Status, producer: MediaProducer, as_json: bool) -> None:
        self.status = status
        self.producer = producer
        self.as_json = as_json

    def line(self) -> str:
        s = self.producer.stats
        elapsed = max(time.monotonic() - s.started, 1e-9)
        latency = s.mean_ack_latency
        lat = f"  ack {latency * 1000:.0f} ms" if latency is not None else ""
        return (
            f"{s.put} fragments put  {s.sends} sent  {s.persisted} persisted"
            f"{lat}  {s.bytes_sent / 1e6:.1f} MB  {s.bytes_sent / 1e6 / elapsed:.1f} MB/s"
            + (f"  resumes {s.resumes}" if s.resumes else "")
        )

    async def follow(self) -> None:
        async for ack in self.producer.acks():
            if self.as_json:
                doc: dict[str, Any] = ack.to_json()
                if ack.fragment is not None:
                    doc["fragment"] = ack.fragment
                self.status.echo(json.dumps(doc))
            self.status.live(self.line())


async def run(args: argparse.Namespace) -> int:
    from ..cli.clients import client_kwargs
    from ..cli.status import Status
    from ..kinesis_video_media import KinesisVideoMediaClient
    from .cutter import CutError
    from .source import MkvFrameSource

    stream_name, stream_arn = _target(args)
    status = Status(verbose=args.verbose, as_json=args.json, prog="kvs-async put-media")
    if args.create:
        await _ensure_stream(args, status)
    source = MkvFrameSource()
    min_ms = int(args.min_fragment_seconds * 1000) if args.min_fragment_seconds else 0
    async with KinesisVideoMediaClient(
        **client_kwargs(KinesisVideoMediaClient, args, status)
    ) as media:
        producer = media.put_media(
            stream_name=stream_name,
            stream_arn=stream_arn,
            fragment_timecode_type="RELATIVE",
            min_fragment_duration_ms=min_ms,
        )
        status.note(f"connecting to {args.stream}")
        await producer.start()
        report = _Report(status, producer, args.json)
        follower = asyncio.get_running_loop().create_task(report.follow())
        began = time.monotonic()
        first_tc: int | None = None
        offset = 0  # added to timecodes that restart (concatenated recordings)
        last_cluster_tc: int | None = None
        last_tc = 0
        tracks = None
        interrupted = False
        try:
            try:
                async for data in _pieces(args.file):
                    try:
                        clusters = source.feed(data)
                    except CutError as exc:
                        raise CommandError(
                            f"{args.file}: {exc}", "give MKV (e.g. ffmpeg ... -f matroska -)"
                        ) from None
                    for cluster in clusters:
                        if cluster.tracks != tracks:
                            tracks = cluster.tracks
                            producer.set_tracks(tracks)
                        head = cluster.frames[0].timecode_ms + offset
                        if last_cluster_tc is not None and head <= last_cluster_tc:
                            offset += last_tc - head + 1 + 33
                        last_cluster_tc = cluster.frames[0].timecode_ms + offset
                        for frame in cluster.frames:
                            tc = frame.timecode_ms + offset
                            if args.realtime:
                                if first_tc is None:
                                    first_tc = tc
                                delay = began + (tc - first_tc) / 1000 - time.monotonic()
                                if delay > 0:
                                    await asyncio.sleep(delay)
                            await producer.put_frame(
                                frame.track_number, tc, frame.payload, keyframe=frame.keyframe
                            )
                            last_tc = max(last_tc, tc)
                        status.live(report.line())
                try:
                    for cluster in source.close():
                        if cluster.tracks != tracks:
                            tracks = cluster.tracks
                            producer.set_tracks(tracks)
                        for frame in cluster.frames:
                            await producer.put_frame(
                                frame.track_number,
                                frame.timecode_ms + offset,
                                frame.payload,
                                keyframe=frame.keyframe,
                            )
                except CutError as exc:
                    raise CommandError(
                        f"{args.file}: {exc}", "the input ended mid-element"
                    ) from None
                if producer.stats.put == 0 and tracks is None:
                    raise CommandError(f"{args.file}: no frames in the input", "give MKV media")
            except asyncio.CancelledError:
                interrupted = True
                status.message(
                    "kvs-async put-media: interrupted; sending the fragment being built and "
                    "waiting for its acknowledgements"
                )
                await producer.close(timeout=_CLOSE_WAIT_ON_SIGNAL, raise_errors=False)
                raise
            await producer.close()
        finally:
            if not producer.finished:
                with contextlib.suppress(Exception):
                    await producer.close(timeout=1.0, raise_errors=False)
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            status.clear()
            s = producer.stats
            summary = {
                "stream": args.stream,
                "fragments": s.put,
                "persisted": s.persisted,
                "received": s.received,
                "failed": s.failed,
                "unconfirmed": s.unconfirmed,
                "pending": producer.in_flight,
                "bytes": s.bytes_put,
                "resumes": s.resumes,
                "seconds": round(time.monotonic() - began, 3),
                "interrupted": interrupted,
            }
            if args.json:
                status.echo(json.dumps({"summary": summary}))
            else:
                kept = s.persisted if s.persisted else s.received
                verb = "persisted" if s.persisted or not s.received else "received (no retention)"
                status.message(
                    f"{kept} of {s.put} fragments {verb} to {args.stream} "
                    f"({s.bytes_put / 1e6:.1f} MB in {summary['seconds']} s"
                    + (f", {s.resumes} reconnects" if s.resumes else "")
                    + (f", {producer.in_flight} unacknowledged" if producer.in_flight else "")
                    + ")"
                )
    return 0


__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]
