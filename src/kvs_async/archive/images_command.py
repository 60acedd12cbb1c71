"""``kvs-async images STREAM --start ... --end ... -o DIR``: GetImages saved as files."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from ..cli.errors import CommandError, UsageError
from ..cli.options import positive_int, stream_target
from ..cli.status import Status
from .commands import (
    add_stream_arguments,
    archived_client,
    selector_type,
    time_range,
)

HELP = "save stills of a time range as JPEG or PNG files (GetImages)"
DESCRIPTION = """\
One image every --interval milliseconds from --start to --end, decoded by KVS from the
stored video, written to DIR as <epoch-milliseconds>.jpg (or .png). Ranges longer than
KVS's 300 s are fetched in windows; pages are followed. Instants without media are listed
with their reason (NO_MEDIA, MEDIA_ERROR) and skipped.
"""


def _directory(text: str) -> Path:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a directory")
    return path


def _quality(text: str) -> int:
    value = positive_int(text)
    if value > 100:
        raise argparse.ArgumentTypeError(f"must be 1 to 100, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stream_arguments(parser, range_required=True)
    parser.add_argument(
        "-o",
        "--output",
        type=_directory,
        required=True,
        help="directory for the images (made if missing)",
    )
    parser.add_argument(
        "--interval",
        type=positive_int,
        default=1000,
        help="milliseconds between images (>= 200; default 1000)",
    )
    parser.add_argument("--format", type=str.upper, choices=("JPEG", "PNG"), default="JPEG")
    parser.add_argument("--quality", type=_quality, help="JPEG quality 1-100 (KVS default 80)")
    parser.add_argument("--width", type=positive_int, help="image width in pixels (needs --height)")
    parser.add_argument(
        "--height", type=positive_int, help="image height (alone: keeps the aspect ratio)"
    )


async def run(args: argparse.Namespace) -> int:
    target = stream_target(args)
    start, end = time_range(args, allow_equal=True)
    assert start is not None and end is not None  # argparse requires both
    if args.interval < 200:
        raise UsageError(
            f"--interval {args.interval}: KVS samples at most every 200 ms",
            "give --interval 200 or more",
        )
    if args.width is not None and args.height is None:
        raise UsageError("--width needs --height", "give both, or --height alone")
    status = Status(verbose=args.verbose, as_json=args.json, prog="kvs-async images")
    await asyncio.to_thread(os.makedirs, args.output, exist_ok=True)
    suffix = ".jpg" if args.format == "JPEG" else ".png"
    saved = missing = 0
    async with archived_client(args, status) as client:
        async for image in client.iter_images(
            start=start,
            end=end,
            format=args.format,
            image_selector_type=selector_type(args),
            sampling_interval=args.interval,
            format_config=None if args.quality is None else {"JPEGQuality": str(args.quality)},
            width_pixels=args.width,
            height_pixels=args.height,
            **target,
        ):
            stamp = image.timestamp.isoformat(timespec="milliseconds")
            if image.content is None:
                missing += 1
                record: dict[str, object] = {"timestamp": stamp, "error": image.error}
                status.echo(json.dumps(record) if args.json else f"{stamp}  {image.error}")
                continue
            path = args.output / f"{round(image.timestamp.timestamp() * 1000)}{suffix}"
            await asyncio.to_thread(path.write_bytes, image.content)
            saved += 1
            record = {"timestamp": stamp, "file": str(path), "bytes": len(image.content)}
            status.echo(
                json.dumps(record) if args.json else f"{stamp}  {path}  {len(image.content)} bytes"
            )
            status.live(f"{saved} images saved, {missing} without media")
    status.clear()
    status.message(f"{saved} images written to {args.output}, {missing} instants without an image")
    if saved == 0:
        raise CommandError(
            f"no image of {args.stream} between {start.isoformat()} and {end.isoformat()}",
            "check the range (kvs-async get-media / ListFragments show what is stored)",
        )
    return 0


__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]
