"""Command line: ``python -m kvs_async.emulator`` and the ``kvs-async emulator`` subcommand.

When ready it prints one ``KVS emulator ready:`` line, then the environment a shell needs
to talk to it (``export AWS_ENDPOINT_URL=...`` and the rest), which ``kvs-async``, boto3
and the AWS CLI all read.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import re
import sqlite3
from pathlib import Path

from ..cli.errors import CommandError, UsageError, os_error_text
from ..cli.options import (
    non_negative_float,
    port_number,
    positive_float,
    positive_int,
    region_name,
)
from ..errors import KvsError
from . import TEST_ACCESS_KEY, TEST_SECRET_KEY, Emulator
from .answers import ApiError

HELP = "run the local KVS emulator"
DESCRIPTION = f"""\
Run a local Kinesis Video Streams emulator (control plane, GetMedia, ListFragments,
GetMediaForFragmentList, PutMedia) on one HTTP port. Every request must be SigV4-signed
with the emulator's key pair: --access-key/--secret-key, else the AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY environment variables, else the fixed test pair
{TEST_ACCESS_KEY} / {TEST_SECRET_KEY} (for local testing only; never a real key).
When ready it prints the lines to export in another shell (endpoint, region, key pair)
for kvs-async, boto3 and the AWS CLI. It runs until Ctrl-C or SIGTERM.
"""

_STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,256}")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def _named_file(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE.mkv, got {text!r}")
    if not _STREAM_NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"stream name {name!r} is not one KVS accepts: use 1-256 letters, digits, "
            f"'.', '_' or '-' (no spaces)"
        )
    file = Path(path)
    try:
        with file.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise argparse.ArgumentTypeError(os_error_text(exc, path)) from None
    if head != _EBML_MAGIC:
        raise argparse.ArgumentTypeError(
            f"{path} is not a Matroska (.mkv/.webm) file; convert it first, e.g. "
            f"ffmpeg -i {path} -c:v libx264 -g 25 video.mkv"
        )
    return name, file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser`` (used by ``kvs-async emulator`` too)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=port_number, default=0, help="port (default: 0 = pick a free one)"
    )
    parser.add_argument(
        "--region",
        type=region_name,
        default="us-west-2",
        help="region in ARNs (default: %(default)s)",
    )
    parser.add_argument(
        "--load",
        action="append",
        default=[],
        type=_named_file,
        metavar="NAME=FILE.mkv",
        help="create stream NAME (24 h retention) and store FILE's fragments; repeatable",
    )
    parser.add_argument(
        "--live",
        action="append",
        default=[],
        type=_named_file,
        metavar="NAME=FILE.mkv",
        help="append FILE's fragments to stream NAME at real-time pace, looping; repeatable",
    )
    parser.add_argument(
        "--live-speed", type=positive_float, default=1.0, help="live pace factor (default: 1)"
    )
    parser.add_argument(
        "--data-dir", default=None, help="keep streams and fragments here across restarts"
    )
    parser.add_argument("--access-key", default=None, help="access key id clients must sign with")
    parser.add_argument("--secret-key", default=None, help="secret key clients must sign with")
    parser.add_argument(
        "--session-duration",
        type=positive_float,
        default=45 * 60,
        help="seconds after which GetMedia ends a session, as KVS does (default: 2700)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=positive_float,
        default=3.0,
        help="seconds a caught-up GetMedia waits on a stream without a live feed (default: 3)",
    )
    parser.add_argument(
        "--edge-sync-delay",
        type=non_negative_float,
        default=2.0,
        help="seconds from SYNCING to IN_SYNC for edge configurations (default: 2)",
    )
    parser.add_argument(
        "--getmedia-calls-per-second",
        type=positive_int,
        default=5,
        help="GetMedia calls per second per stream before ClientLimitExceededException "
        "(default: 5, as KVS)",
    )


def _check_data_dir(text: str) -> Path:
    path = Path(text)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--data-dir {text}: {os_error_text(exc, '')}",
            "give a directory you can write to",
        ) from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(
            f"--data-dir {text}: not a writable directory", "give one you can write to"
        )
    return path


_MEDIA_ERRORS = (ValueError, OSError, KvsError, ApiError)


def _media_problem(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return os_error_text(exc, "")
    text = exc.message if isinstance(exc, ApiError) else str(exc)
    return f"not a usable Matroska file ({text}; is it complete?)"


def environment_lines(emu: Emulator) -> list[str]:
    """The shell lines that point kvs-async, boto3 and the AWS CLI at ``emu``.

    The secret is printed only when it is the public test pair's.
    """
    lines = [f"export AWS_ENDPOINT_URL={emu.url}", f"export AWS_DEFAULT_REGION={emu.region}"]
    if emu.credentials.secret_key == TEST_SECRET_KEY:
        lines += [
            f"export AWS_ACCESS_KEY_ID={emu.credentials.access_key}",
            f"export AWS_SECRET_ACCESS_KEY={TEST_SECRET_KEY}",
        ]
    else:
        lines.append(
            f"export AWS_ACCESS_KEY_ID={emu.credentials.access_key}  "
            "# and AWS_SECRET_ACCESS_KEY=the secret key you started it with"
        )
    return lines


async def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; prints one ``ready`` line with the URL first."""
    data_dir = _check_data_dir(args.data_dir) if args.data_dir else None
    try:
        emu = Emulator(
            host=args.host,
            port=args.port,
            region=args.region,
            access_key=args.access_key,
            secret_key=args.secret_key,
            data_dir=data_dir,
            session_duration=args.session_duration,
            idle_timeout=args.idle_timeout,
            edge_sync_delay=args.edge_sync_delay,
            getmedia_calls_per_second=args.getmedia_calls_per_second,
        )
    except ValueError as exc:
        raise UsageError(str(exc), "give --access-key and --secret-key together") from None
    try:
        await emu.start()
    except OSError as exc:
        await emu.close()
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {args.port} on {args.host} is already in use",
                "stop what uses it, or pick another with --port (--port 0 picks a free one)",
            ) from None
        if args.data_dir and exc.filename is not None:
            raise UsageError(f"--data-dir {args.data_dir}: {os_error_text(exc)}") from None
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {os_error_text(exc, '')}",
            "use --host 127.0.0.1 (or another address of this machine) and a port above 1023",
        ) from None
    except sqlite3.Error as exc:
        await emu.close()
        raise UsageError(
            f"--data-dir {args.data_dir}: cannot open its database ({exc})",
            "give an empty directory or one an earlier emulator wrote",
        ) from None
    try:
        for name, path in args.load:
            try:
                frags = await emu.load_media(name, path)
            except _MEDIA_ERRORS as exc:
                raise UsageError(f"--load {name}={path}: {_media_problem(exc)}") from None
            print(f"loaded {len(frags)} fragments from {path} into stream {name}", flush=True)
        for name, path in args.live:
            try:
                await emu.start_live(name, path, speed=args.live_speed)
            except _MEDIA_ERRORS as exc:
                raise UsageError(f"--live {name}={path}: {_media_problem(exc)}") from None
            print(f"live: stream {name} loops {path}", flush=True)
        print(
            f"KVS emulator ready: url={emu.url} region={emu.region} "
            f"access_key={emu.credentials.access_key}",
            flush=True,
        )
        print("# to use it from another shell (kvs-async, boto3, the AWS CLI):", flush=True)
        for line in environment_lines(emu):
            print(line, flush=True)
        await asyncio.Event().wait()  # until SIGINT/SIGTERM cancels this task
    finally:
        await emu.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    import sys

    from ..cli.options import add_global_arguments
    from ..cli.shell import Command, Parser, parse, run_command

    parser = Parser(
        prog="python -m kvs_async.emulator",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    add_global_arguments(parser, top=True)
    args = parse(parser, argv, parser.prog)
    if isinstance(args, int):
        return args
    command: Command = sys.modules[__name__]
    return run_command(command, args, parser.prog)
