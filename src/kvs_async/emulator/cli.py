"""Command line: ``python -m kvs_async.emulator`` and the ``kvs-async emulator`` subcommand."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from . import TEST_ACCESS_KEY, TEST_SECRET_KEY, Emulator

DESCRIPTION = f"""\
Run a local Kinesis Video Streams emulator (control plane, GetMedia, ListFragments,
GetMediaForFragmentList, PutMedia) on one HTTP port. Every request must be SigV4-signed
with the emulator's key pair: --access-key/--secret-key, else the AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY environment variables, else the fixed test pair
{TEST_ACCESS_KEY} / {TEST_SECRET_KEY} (for local testing only; never a real key).
"""


def _named_file(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE.mkv, got {text!r}")
    return name, path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser`` (used by ``kvs-async emulator`` too)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: 0 = pick a free one)")
    parser.add_argument(
        "--region", default="us-west-2", help="region in ARNs (default: %(default)s)"
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
        "--live-speed", type=float, default=1.0, help="live pace factor (default: 1)"
    )
    parser.add_argument(
        "--data-dir", default=None, help="keep streams and fragments here across restarts"
    )
    parser.add_argument("--access-key", default=None, help="access key id clients must sign with")
    parser.add_argument("--secret-key", default=None, help="secret key clients must sign with")
    parser.add_argument(
        "--session-duration",
        type=float,
        default=45 * 60,
        help="seconds after which GetMedia ends a session, as KVS does (default: 2700)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=3.0,
        help="seconds a caught-up GetMedia waits on a stream without a live feed (default: 3)",
    )
    parser.add_argument(
        "--edge-sync-delay",
        type=float,
        default=2.0,
        help="seconds from SYNCING to IN_SYNC for edge configurations (default: 2)",
    )
    parser.add_argument(
        "--getmedia-calls-per-second",
        type=int,
        default=5,
        help="GetMedia calls per second per stream before ClientLimitExceededException "
        "(default: 5, as KVS)",
    )


async def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; prints one ``ready`` line with the URL first."""
    try:
        emu = Emulator(
            host=args.host,
            port=args.port,
            region=args.region,
            access_key=args.access_key,
            secret_key=args.secret_key,
            data_dir=args.data_dir,
            session_duration=args.session_duration,
            idle_timeout=args.idle_timeout,
            edge_sync_delay=args.edge_sync_delay,
            getmedia_calls_per_second=args.getmedia_calls_per_second,
        )
    except ValueError as exc:
        print(f"kvs-async emulator: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with emu:
        try:
            for name, path in args.load:
                frags = await emu.load_media(name, path)
                print(f"loaded {len(frags)} fragments from {path} into stream {name}", flush=True)
            for name, path in args.live:
                await emu.start_live(name, path, speed=args.live_speed)
                print(f"live: stream {name} loops {path}", flush=True)
        except (OSError, ValueError) as exc:
            print(f"kvs-async emulator: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:
            print(f"kvs-async emulator: cannot load media: {exc}", file=sys.stderr)
            return 2
        print(
            f"KVS emulator ready: url={emu.url} region={emu.region} "
            f"access_key={emu.credentials.access_key}",
            flush=True,
        )
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kvs_async.emulator",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return asyncio.run(run(args))
