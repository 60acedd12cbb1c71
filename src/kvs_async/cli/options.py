"""Flags every subcommand shares, and argparse types that refuse bad values up front.

``add_global_arguments`` (-v, --debug, --json) is added to the top parser and to every
subcommand, so the flags work before or after the subcommand's name.
``add_client_arguments`` adds --region/--profile/--endpoint-url and the timeouts to a
subcommand that talks to KVS; ``client_kwargs`` turns them into client arguments.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypedDict

from yarl import URL

from .errors import UsageError

# The service's own patterns (botocore model), checked before anything is sent.
_STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,256}")
_STREAM_ARN = re.compile(
    r"arn:[a-z\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+"
)


def timestamp(text: str) -> datetime:
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
    if not seconds.is_finite() or seconds < 0:
        raise argparse.ArgumentTypeError(f"epoch seconds must be >= 0, got {text!r}")
    micros = int((seconds * 1_000_000).to_integral_value())
    try:
        return datetime.fromtimestamp(0, UTC) + timedelta(microseconds=micros)
    except OverflowError:
        raise argparse.ArgumentTypeError(f"time out of range: {text!r}") from None


class StreamTarget(TypedDict):
    stream_name: str | None
    stream_arn: str | None


def stream_target(args: argparse.Namespace) -> StreamTarget:
    """``stream_name`` / ``stream_arn`` from STREAM (an ARN with ``--arn``), checked first."""
    if args.arn and not _STREAM_ARN.fullmatch(args.stream):
        raise UsageError(
            f"not a stream ARN: {args.stream!r}",
            "give arn:aws:kinesisvideo:REGION:ACCOUNT:stream/NAME/ID, or drop --arn",
        )
    if not args.arn and not _STREAM_NAME.fullmatch(args.stream):
        raise UsageError(
            f"not a valid stream name: {args.stream!r}",
            "names are 1-256 letters, digits, '.', '_' or '-' (an ARN needs --arn)",
        )
    return {
        "stream_name": None if args.arn else args.stream,
        "stream_arn": args.stream if args.arn else None,
    }


def add_global_arguments(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-v/--verbose, --debug, --json; a subcommand's copies default to "not given"."""

    def default(value: object) -> Any:
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("output (these work before or after the subcommand)")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default(0),
        help="say what is happening: retries, waits, reconnects (-vv: debug log)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="debug log, and a traceback with any error",
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON lines"
    )


def _whole(low: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= {low}, got {text!r}"
        ) from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {text!r}")
    return value


def _seconds(text: str, *, zero_ok: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        raise argparse.ArgumentTypeError(
            f"must be a number {'>=' if zero_ok else '>'} 0, got {text!r}"
        )
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _whole(1, text)


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    return _whole(0, text)


def positive_float(text: str) -> float:
    """A finite number of seconds > 0."""
    return _seconds(text, zero_ok=False)


def non_negative_float(text: str) -> float:
    """A finite number of seconds >= 0."""
    return _seconds(text, zero_ok=True)


def port_number(text: str) -> int:
    """0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 (a free port) to 65535, got {text!r}")
    return value


_REGION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def region_name(text: str) -> str:
    """A region name as AWS spells them (``us-west-2``): lower-case words joined by '-'."""
    if len(text) > 64 or not _REGION.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a region name like us-west-2: {text!r}")
    return text


def endpoint_url(text: str) -> str:
    """An absolute http(s) URL with a host, checked before anything is sent."""
    hint = f"http://{text}" if "://" not in text else None
    try:
        url = URL(text)
    except ValueError:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        fix = f" (did you mean {hint}?)" if hint else ""
        raise argparse.ArgumentTypeError(
            f"expected an http:// or https:// URL with a host, got {text!r}{fix}"
        )
    if url.path not in ("", "/") or url.query_string:
        raise argparse.ArgumentTypeError(f"expected a URL without a path or query, got {text!r}")
    return text.rstrip("/")


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """--region, --profile, --endpoint-url, --connect-timeout, --read-timeout."""
    group = parser.add_argument_group("AWS connection (default: the usual AWS environment)")
    group.add_argument(
        "--region", type=region_name, help="AWS region (else AWS_REGION / the profile's region)"
    )
    group.add_argument("--profile", help="named profile from ~/.aws/config (else AWS_PROFILE)")
    group.add_argument(
        "--endpoint-url",
        type=endpoint_url,
        help="control-plane endpoint, e.g. the emulator's http://127.0.0.1:4567 (else "
        "AWS_ENDPOINT_URL); the data endpoint is discovered",
    )
    group.add_argument(
        "--connect-timeout",
        type=positive_float,
        default=None,
        help="seconds to wait for a connection (default: 10)",
    )
    group.add_argument(
        "--read-timeout",
        type=positive_float,
        default=None,
        help="seconds to wait for each read (default: 60)",
    )


def environment_endpoint() -> str | None:
    """AWS_ENDPOINT_URL_KINESIS_VIDEO, else AWS_ENDPOINT_URL, validated like the flag."""
    for name in ("AWS_ENDPOINT_URL_KINESIS_VIDEO", "AWS_ENDPOINT_URL"):
        value = os.environ.get(name)
        if value:
            try:
                return endpoint_url(value)
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"{name}: {exc}", f"fix or unset {name}") from None
    return None


def output_file(text: str) -> Path:
    """A file path whose directory exists and is writable (the file is made or replaced)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a file name in it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"directory {str(parent)!r} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable")
    return path
