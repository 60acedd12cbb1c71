"""What the ``clip``, ``images`` and ``hls`` subcommands share: the stream, the time range."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..cli.clients import client_kwargs
from ..cli.errors import UsageError
from ..cli.options import add_client_arguments, timestamp
from ..cli.status import Status

if TYPE_CHECKING:
    from ..kinesis_video_archived_media import KinesisVideoArchivedMediaClient


def add_stream_arguments(parser: argparse.ArgumentParser, *, range_required: bool) -> None:
    """STREAM, --arn, --start/--end (ISO 8601 or epoch seconds), --timestamps; connection flags."""
    parser.add_argument("stream", metavar="STREAM", help="stream name (or ARN with --arn)")
    parser.add_argument("--arn", action="store_true", help="STREAM is a stream ARN")
    parser.add_argument(
        "--start",
        type=timestamp,
        required=range_required,
        help="start of the range (ISO 8601, naive means UTC, or epoch seconds)",
    )
    parser.add_argument(
        "--end",
        type=timestamp,
        required=range_required,
        help="end of the range (inclusive; compared to fragment start times)",
    )
    parser.add_argument(
        "--timestamps",
        choices=("server", "producer"),
        default="server",
        help="which fragment timestamps the range refers to (default: server)",
    )
    add_client_arguments(parser)


def time_range(
    args: argparse.Namespace, *, allow_equal: bool = False
) -> tuple[datetime | None, datetime | None]:
    """--start/--end; ``allow_equal``: one instant (GetImages), else --end must be later."""
    start: datetime | None = args.start
    end: datetime | None = args.end
    if (
        start is not None
        and end is not None
        and (end < start or (end == start and not allow_equal))
    ):
        later = "at or after" if allow_equal else "later than"
        raise UsageError("--end is before --start", f"give an --end {later} --start")
    if end is not None and start is None:
        raise UsageError("--end needs --start")
    return start, end


def selector_type(args: argparse.Namespace) -> str:
    return "PRODUCER_TIMESTAMP" if args.timestamps == "producer" else "SERVER_TIMESTAMP"


def archived_client(args: argparse.Namespace, status: Status) -> KinesisVideoArchivedMediaClient:
    from ..kinesis_video_archived_media import KinesisVideoArchivedMediaClient

    kwargs: dict[str, Any] = client_kwargs(KinesisVideoArchivedMediaClient, args, status)
    return KinesisVideoArchivedMediaClient(**kwargs)
