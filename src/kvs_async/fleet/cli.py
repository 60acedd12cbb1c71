"""``kvs-async consume``: run one fleet worker, or show the fleet (``--status``).

Every process started with the same ``--consumer`` and ``--redis`` shares the streams:
each is read by one worker at a time, from its checkpoint, and a dead worker's
streams move to the others after ``--ttl`` seconds. Follows the CLI's conventions
(:mod:`kvs_async.cli`): SIGINT/SIGTERM cancel :func:`run`, the worker leaves cleanly
(handlers finish, leases are released; exit 130/143), errors are one line.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
import time
from typing import IO, Any

from ..cli.errors import CommandError, UsageError
from ..cli.options import add_client_arguments, positive_float, positive_int
from .errors import CoordinationError
from .logs import JsonLogFormatter

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_CHECKPOINTS = "kvs-async-checkpoints.sqlite3"

HELP = "read many streams with a fleet of workers (leases on Redis, checkpoints)"
DESCRIPTION = """\
Read many streams with a fleet of workers coordinated through Redis: run this command on
every machine (same --consumer and --redis). Streams come from the command line or from
ListStreams (--prefix, --tag), refreshed every --refresh seconds. Each chunk goes to
--handler MODULE:FUNCTION (async def handler(stream_name, chunk)); without one, a line
per chunk is printed. Positions are saved in --checkpoints (a SQLite file for one host,
a redis:// URL for many). --status prints who holds what and exits.

The worker logs what it does (streams acquired, released, lost; retries; Redis outages)
on stderr, as JSON lines with --json; on a terminal it shows a live status line instead
(and the events with -v). Ctrl-C or SIGTERM: handlers finish, positions are saved,
leases are released, exit 130 / 143.
"""


def _tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kvs-async consume``."""
    parser.add_argument("streams", nargs="*", metavar="STREAM", help="streams to read")
    parser.add_argument("--prefix", help="read every stream whose name starts with this")
    parser.add_argument(
        "--tag",
        action="append",
        type=_tag,
        default=[],
        metavar="KEY=VALUE",
        help="only streams with this tag (with --prefix, or alone for all names); repeatable",
    )
    parser.add_argument(
        "--refresh",
        type=positive_float,
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
        "--ttl",
        type=positive_float,
        default=10.0,
        help="lease TTL: how soon a dead worker's streams move on (default: %(default)s s)",
    )
    parser.add_argument(
        "--retries",
        type=positive_int,
        default=3,
        help="handler attempts per chunk before it is reported and skipped (default: 3)",
    )
    parser.add_argument("--worker-id", help="this worker's name (default: HOST-PID)")
    parser.add_argument(
        "--status", action="store_true", help="print the fleet's workers and streams, then exit"
    )
    parser.add_argument(
        "--status-interval",
        type=positive_float,
        default=None,
        help="off a terminal, print this worker's status every N seconds (default: never)",
    )
    add_client_arguments(parser)


def _load_handler(spec: str) -> Any:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--handler must be MODULE:FUNCTION, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(
            f"--handler: cannot import {module_name!r}: {exc}", "check PYTHONPATH"
        ) from None
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


def _log_to_stderr(as_json: bool, verbose: int) -> logging.Handler:
    """Fleet events on stderr: all of them off a terminal or with -v, else warnings only."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLogFormatter() if as_json else logging.Formatter("%(asctime)s %(message)s")
    )
    logger = logging.getLogger("kvs_async.fleet")
    logger.addHandler(handler)
    quiet = sys.stderr.isatty() and not verbose
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
    return handler


async def run(args: argparse.Namespace) -> int:
    """Run a worker until cancelled (SIGINT/SIGTERM), or print ``--status``."""
    if args.status:
        return await _show_status(args)
    return await _work(args)


def _discovery(args: argparse.Namespace) -> Any:
    from .discovery import ListStreamsDiscovery

    if args.streams and (args.prefix is not None or args.tag):
        raise UsageError("give STREAM names or --prefix/--tag, not both")
    if args.streams:
        return list(args.streams)
    if args.prefix is None and not args.tag:
        raise UsageError(
            "no streams to read", "name them, or pass --prefix PREFIX (--prefix '' for all)"
        )
    return ListStreamsDiscovery(args.prefix or "", tags=dict(args.tag), interval=args.refresh)


async def _leases(args: argparse.Namespace) -> Any:
    from .leases import RedisLeases

    leases = RedisLeases(args.redis, ttl=args.ttl)
    try:
        await leases.ping()  # a wrong --redis fails now, in one line, not after a round
    except CoordinationError as exc:
        await leases.close()
        raise CommandError(str(exc), "is redis-server running there? check --redis") from exc
    return leases


async def _work(args: argparse.Namespace) -> int:
    from ..cli.clients import client_kwargs
    from ..kinesis_video_media import KinesisVideoMediaClient, StartSelector
    from ..kinesisvideo import KinesisVideoClient
    from .runner import Fleet, HandlerRetry, media_config

    as_json = bool(getattr(args, "json", False))
    streams = _discovery(args)
    handler = _load_handler(args.handler) if args.handler else _printer(as_json, sys.stdout)
    leases = await _leases(args)
    log_handler = _log_to_stderr(as_json, int(getattr(args, "verbose", 0) or 0))
    store = _checkpoints(args.checkpoints)
    media_args = client_kwargs(KinesisVideoMediaClient, args)
    media_args["config"] = media_config(media_args["config"])
    client = KinesisVideoMediaClient(**media_args)
    control = KinesisVideoClient(**client_kwargs(KinesisVideoClient, args))
    fleet = Fleet(
        streams=streams,
        handler=handler,
        leases=leases,
        checkpoints=store,
        consumer=args.consumer,
        start_selector=StartSelector(start_selector_type=args.start),
        retry=HandlerRetry(attempts=args.retries),
        worker_id=args.worker_id,
        client=client,
        control=control,
    )
    reporter = asyncio.create_task(_report(fleet, args.status_interval, as_json))
    try:
        await fleet.run()  # until SIGINT/SIGTERM cancel us; run() then leaves cleanly
    finally:
        reporter.cancel()
        logging.getLogger("kvs_async.fleet").removeHandler(log_handler)
        await client.close()
        await control.close()
        await store.close()
        await leases.close()
    return 0


async def _report(fleet: Any, interval: float | None, as_json: bool) -> None:
    """A live status line on a terminal; off one, a status record every ``interval``."""
    tty = sys.stderr.isatty()
    if not tty and interval is None:
        return
    while True:
        await asyncio.sleep(0.5 if tty else interval or 1.0)
        status = fleet.status()
        if tty:
            print("\r\x1b[2K" + _status_line(status), file=sys.stderr, end="", flush=True)
        elif as_json:
            print(json.dumps({"status": status.as_dict()}, default=str), file=sys.stderr)
        else:
            print(_status_line(status), file=sys.stderr)


def _status_line(status: Any) -> str:
    lags = [s.lag_seconds for s in status.held if s.lag_seconds is not None]
    line = (
        f"{status.worker}: {len(status.held)}/{status.target} streams of "
        f"{status.known_streams}, {status.workers} workers"
    )
    if lags:
        line += f", max lag {max(lags):.1f}s"
    return line


async def _show_status(args: argparse.Namespace) -> int:
    leases = await _leases(args)
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
        raise CommandError(str(exc), "is redis-server running there? check --redis") from exc
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
    if getattr(args, "json", False):
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
