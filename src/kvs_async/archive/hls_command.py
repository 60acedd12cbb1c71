"""``kvs-async hls STREAM``: print an HLS (or DASH) URL that ffplay, VLC or a browser opens."""

from __future__ import annotations

import argparse
import json

from ..cli.errors import UsageError
from ..cli.options import positive_int, stream_target
from ..cli.status import Status
from .commands import (
    add_stream_arguments,
    archived_client,
    selector_type,
    time_range,
)

HELP = "print a playable HLS (or --dash) URL for a stream"
DESCRIPTION = """\
Without --start: a LIVE session. With --start: LIVE_REPLAY from then on, or ON_DEMAND
for --start..--end (or pick with --mode). The URL carries its own session token and works
for --expires seconds (300 to 43200); open it with ffplay, VLC, Safari or hls.js.
"""


def _expires(text: str) -> int:
    value = positive_int(text)
    if not 300 <= value <= 43200:
        raise argparse.ArgumentTypeError(f"must be 300 to 43200 seconds, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stream_arguments(parser, range_required=False)
    parser.add_argument("--mode", type=str.upper, choices=("LIVE", "LIVE_REPLAY", "ON_DEMAND"))
    parser.add_argument("--dash", action="store_true", help="an MPEG-DASH manifest URL instead")
    parser.add_argument(
        "--container",
        type=str.upper,
        choices=("FRAGMENTED_MP4", "MPEG_TS"),
        help="HLS packaging (default FRAGMENTED_MP4; MPEG_TS for old players)",
    )
    parser.add_argument(
        "--expires", type=_expires, help="session lifetime in seconds (default 300)"
    )


async def run(args: argparse.Namespace) -> int:
    target = stream_target(args)
    start, end = time_range(args)
    if args.mode in ("LIVE_REPLAY", "ON_DEMAND") and start is None:
        raise UsageError(
            f"--mode {args.mode} needs --start", "give --start (and --end for ON_DEMAND)"
        )
    if args.mode == "ON_DEMAND" and end is None:
        raise UsageError("--mode ON_DEMAND needs --end")
    if args.mode == "LIVE" and start is not None:
        raise UsageError("--mode LIVE takes no --start/--end", "drop them, or pick LIVE_REPLAY")
    if args.dash and args.container:
        raise UsageError("--container is for HLS", "drop --container with --dash")
    status = Status(verbose=args.verbose, as_json=args.json, prog="kvs-async hls")
    async with archived_client(args, status) as client:
        if args.dash:
            url = await client.dash_url(
                playback_mode=args.mode,
                start=start,
                end=end,
                timestamp_type=selector_type(args),
                expires=args.expires,
                **target,
            )
        else:
            url = await client.hls_url(
                playback_mode=args.mode,
                start=start,
                end=end,
                timestamp_type=selector_type(args),
                container_format=args.container,
                expires=args.expires,
                **target,
            )
    status.echo(json.dumps({"url": url}) if args.json else url)
    return 0


__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]
