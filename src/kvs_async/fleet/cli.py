"""``kvs-async consume``: run one fleet worker, or show the fleet (``--status``).

Every process started with the same ``--consumer`` and ``--redis`` shares the streams:
each is read by one worker at a time, from its checkpoint, and a dead worker's
streams move to the others after ``--ttl`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

from ..errors import KvsError
from .errors import CoordinationError
from .logs import JsonLogFormatter

__all__ = ["add_arguments", "main", "run"]

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_CHECKPOINTS = "kvs-async-checkpoints.sqlite3"

DESCRIPTION = """\
Read many streams with a fleet of workers coordinated through Redis: run this command on
every machine (same --consumer and --redis). Streams come from the command line or from
ListStreams (--prefix, --tag), refreshed every --refresh seconds. Each chunk goes to
--handler MODULE:FUNCTION (async def handler(stream_name, chunk)); without one, a line
per chunk is printed. Positions are saved in --checkpoints (a SQLite file for one host,
a redis:// URL for many). --status prints who holds what and exits.
"""


def _tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kvs-async consume``."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("streams", nargs="*", metavar="STREAM", help="streams to read")
    parser.add_argument("--prefix", help="read every stream whose name starts with this")
    parser.add_argument(
        "--tag",
        action="append",
        type=_tag,
        default=[],
        metavar="KEY=VALUE",
        help="with --prefix: only streams with this tag; repeatable",
    )
    parser.add_argument(
        "--refresh",
        type=_positive,
        default=30.0,
        help="seconds between ListStreams refreshes (default: %(default)s)",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("KVS_ASYNC_REDIS_URL", DEFAULT_REDIS),
        help="Redis for leases (default: $KVS_ASYNC_REDIS_URL or %(default)s)",
    )
    parser.add_argument(
        "--checkpoints",
        default=DEFAULT_CHECKPOINTS,
        help="a SQLite file, or a redis:// URL (default: %(default)s)",
    )
    parser.add_argument(
        "--consumer", default="kvs-async", help="fleet and checkpoint name (default: %(default)s)"
    )
    parser.add_argument("--handler", metavar="MODULE:FUNCTION", help="async handler to call")
    parser.add_argument(
        "--start",
        type=str.upper,
        choices=("NOW", "EARLIEST"),
        default="NOW",
        help="where a stream without a checkpoint starts (default: %(default)s)",
    )
    parser.add_argument(
        "--ttl", type=_positive, default=10.0, help="lease TTL in seconds (default: %(default)s)"
    )
    parser.add_argument(
        "--retries", type=int, default=3, help="handler attempts per chunk (default: %(default)s)"
    )
    parser.add_argument("--worker-id", help="this worker's name (default: HOST-PID)")
    parser.add_argument(
        "--status", action="store_true", help="print the fleet's workers and streams, then exit"
    )
    parser.add_argument(
        "--status-interval",
        type=_positive,
        default=None,
        help="while running, report this worker's status every N seconds",
    )
    parser.add_argument("--json", action="store_true", help="JSON lines (output, logs, status)")
    group = parser.add_argument_group("AWS connection (default: the usual AWS environment)")
    group.add_argument("--region", help="AWS region (else AWS_REGION / the profile's region)")
    group.add_argument("--profile", help="named profile from ~/.aws/config")
    group.add_argument("--endpoint-url", help="control-plane endpoint (e.g. a local emulator)")


class UsageError(Exception):
    """A bad flag combination: one line on stderr, exit code 2."""


def _load_handler(spec: str) -> Any:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--handler must be MODULE:FUNCTION, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--handler: cannot import {module_name!r}: {exc}") from None
    handler = getattr(module, attr, None)
    if handler is None or not callable(handler):
        raise UsageError(f"--handler: {module_name!r} has no callable {attr!r}")
    return handler


def _printer(as_json: bool, out: IO[str]) -> Any:
    async def handler(stream_name: str, chunk: Any) -> None:
        server = chunk.server_timestamp
        record = {
            "stream": stream_name,
            "fragment_number": chunk.fragment_number,
            "server_timestamp": server.isoformat(timespec="milliseconds") if server else None,
            "frames": len(chunk.frames),
            "bytes": len(chunk.raw),
        }
        if as_json:
            out.write(json.dumps(record) + "\n")
        else:
            out.write(
                f"{stream_name}  fragment {record['fragment_number']}  "
                f"server {record['server_timestamp']}  frames {record['frames']:4d}  "
                f"bytes {record['bytes']:8d}\n"
            )
        out.flush()

    return handler


def _checkpoints(spec: str) -> Any:
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from .checkpoints.redis import RedisCheckpoints

        return RedisCheckpoints(spec)
    from .checkpoints.sqlite import SqliteCheckpoints

    return SqliteCheckpoints(spec.removeprefix("sqlite:"))


def _log_to_stderr(as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLogFormatter() if as_json else logging.Formatter("%(asctime)s %(message)s")
    )
    logger = logging.getLogger("kvs_async.fleet")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


async def run(args: argparse.Namespace) -> int:
    """Run a worker until SIGINT (130) / SIGTERM (143), or print ``--status`` (0)."""
    try:
        if args.status:
            return await _show_status(args)
        return await _work(args)
    except UsageError as exc:
        print(f"kvs-async consume: {exc}", file=sys.stderr)
        return 2
    except (KvsError, OSError, ValueError) as exc:
        print(f"kvs-async consume: {exc}", file=sys.stderr)
        return 1


async def _work(args: argparse.Namespace) -> int:
    from ..kinesis_video_media import StartSelector
    from .discovery import ListStreamsDiscovery
    from .leases import RedisLeases
    from .runner import Fleet, HandlerRetry

    if args.streams and (args.prefix is not None or args.tag):
        raise UsageError("give STREAM names or --prefix/--tag, not both")
    if args.tag and args.prefix is None:
        args.prefix = ""
    if not args.streams and args.prefix is None:
        raise UsageError("name the streams to read, or --prefix PREFIX (--prefix '' for all)")
    if args.retries < 1:
        raise UsageError(f"--retries must be at least 1, got {args.retries}")
    handler = _load_handler(args.handler) if args.handler else _printer(args.json, sys.stdout)
    _log_to_stderr(args.json)
    leases = RedisLeases(args.redis, ttl=args.ttl)
    await leases.ping()  # a wrong --redis fails now, with one line, not after the first round
    store = _checkpoints(args.checkpoints)
    fleet = Fleet(
        streams=args.streams
        or ListStreamsDiscovery(args.prefix, tags=dict(args.tag), interval=args.refresh),
        handler=handler,
        leases=leases,
        checkpoints=store,
        consumer=args.consumer,
        start_selector=StartSelector(start_selector_type=args.start),
        retry=HandlerRetry(attempts=args.retries),
        worker_id=args.worker_id,
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
    )
    received: list[int] = []
    stopping: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        received.append(signum)
        stopping.add(loop.create_task(fleet.stop()))

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, on_signal, signum)
    reporter = (
        loop.create_task(_report(fleet, args.status_interval, args.json))
        if args.status_interval
        else None
    )
    try:
        await fleet.run()
    finally:
        if reporter is not None:
            reporter.cancel()
        await store.close()
        await leases.close()
    if received:
        return 128 + received[0]
    return 0


async def _report(fleet: Any, interval: float, as_json: bool) -> None:
    tty = sys.stderr.isatty() and not as_json
    while True:
        await asyncio.sleep(interval)
        status = fleet.status()
        if as_json:
            print(json.dumps({"status": status.as_dict()}, default=str), file=sys.stderr)
            continue
        lags = [s.lag_seconds for s in status.held if s.lag_seconds is not None]
        line = (
            f"{status.worker}: {len(status.held)}/{status.target} streams of "
            f"{status.known_streams}, {status.workers} workers"
        )
        if lags:
            line += f", max lag {max(lags):.1f}s"
        print(("\r\x1b[2K" + line) if tty else line, file=sys.stderr, end="" if tty else "\n")


async def _show_status(args: argparse.Namespace) -> int:
    from .leases import RedisLeases

    leases = RedisLeases(args.redis, ttl=args.ttl)
    leases.bind(args.consumer, "status-view")
    store = _checkpoints(args.checkpoints)
    try:
        workers = await leases.workers()
        checkpoints = {c.stream: c for c in await store.list(args.consumer)}
        streams = sorted(
            set(checkpoints) | {s for w in workers.values() for s in w.get("streams", {})}
        )
        holders = await leases.holders(streams)
    except CoordinationError as exc:
        raise CoordinationError(f"{exc} (is --redis right?)") from exc
    finally:
        await store.close()
        await leases.close()
    now = time.time()
    rows = []
    for name in streams:
        holder = holders.get(name)
        detail = workers.get(holder or "", {}).get("streams", {}).get(name, {})
        saved = checkpoints.get(name)
        rows.append(
            {
                "stream": name,
                "holder": holder,
                "fence": detail.get("fence"),
                "chunks": detail.get("chunks"),
                "lag_seconds": detail.get("lag"),
                "resumes": detail.get("resumes"),
                "handler_failures": detail.get("failures"),
                "last_checkpoint": saved.fragment_number if saved else None,
                "checkpoint_age_seconds": round(now - saved.updated_at, 3) if saved else None,
            }
        )
    summary = {
        "consumer": args.consumer,
        "workers": {
            w: {"held": s.get("held"), "target": s.get("target")} for w, s in workers.items()
        },
        "streams": rows,
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"consumer {args.consumer}: {len(workers)} workers, {len(rows)} streams")
    for name, state in sorted(workers.items()):
        print(f"  worker {name}: holds {state.get('held')} (fair share {state.get('target')})")
    for row in rows:
        lag = row["lag_seconds"]
        print(
            f"  {row['stream']}: {('held by ' + row['holder']) if row['holder'] else 'free'}"
            f"  checkpoint {row['last_checkpoint'] or '-'}"
            f"  lag {'-' if lag is None else f'{lag:.1f}s'}"
            f"  resumes {row['resumes'] if row['resumes'] is not None else '-'}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kvs_async.fleet.cli``: the same as ``kvs-async consume``."""
    parser = argparse.ArgumentParser(prog="kvs-async consume")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
