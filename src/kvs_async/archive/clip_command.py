"""``kvs-async clip STREAM --start ... --end ... -o clip.mp4``: GetClip saved to a file."""

from __future__ import annotations

import argparse
import json
import time

from ..cli.options import output_file, stream_target
from ..cli.status import Status
from .commands import (
    add_stream_arguments,
    archived_client,
    selector_type,
    time_range,
)

HELP = "save a time range of a stream as an MP4 clip (GetClip)"
DESCRIPTION = """\
Download the MP4 that GetClip makes of the fragments whose start time is in
--start..--end (KVS serves at most the first 200 fragments or 100 MB of a range) and write
it to -o as it arrives; the file appears only once complete. Prints the file, its size and
content type (JSON with --json).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stream_arguments(parser, range_required=True)
    parser.add_argument(
        "-o", "--output", type=output_file, required=True, help="the .mp4 file to write"
    )


async def run(args: argparse.Namespace) -> int:
    target = stream_target(args)
    start, end = time_range(args)
    status = Status(verbose=args.verbose, as_json=args.json, prog="kvs-async clip")
    began = time.monotonic()

    def progress(written: int) -> None:
        rate = written / 1e6 / max(time.monotonic() - began, 1e-9)
        status.live(f"{args.output}: {written / 1e6:.1f} MB  {rate:.1f} MB/s")

    async with archived_client(args, status) as client:
        status.note(f"asking for the clip of {args.stream}")
        clip = await client.get_clip_to_file(
            args.output,
            start=start,
            end=end,
            timestamp_type=selector_type(args),
            progress=progress,
            **target,
        )
    status.clear()
    record = {"output": str(clip.path), "bytes": clip.size, "content_type": clip.content_type}
    status.echo(
        json.dumps(record)
        if args.json
        else f"wrote {clip.path}: {clip.size} bytes ({clip.content_type or 'video/mp4'})"
    )
    return 0


__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]
