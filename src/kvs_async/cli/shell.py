"""The part every subcommand shares: parsing, logging, signals, and how failures end.

``main`` builds the parser from the command table, runs the chosen command's ``run``
on a fresh event loop, and turns whatever it raises into one line on stderr and an exit
code (see :mod:`kvs_async.cli.errors`). SIGINT and SIGTERM cancel the command's task:
its ``finally`` blocks and ``except asyncio.CancelledError`` handlers run (close files,
print a summary), then the exit code is 130 or 143.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import signal
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import NoReturn, Protocol, cast

from .._version import __version__
from .errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError, UsageError, explain
from .options import add_global_arguments, environment_endpoint


class Command(Protocol):
    """What a subcommand module provides (``HELP`` and ``DESCRIPTION`` are strings)."""

    HELP: str
    DESCRIPTION: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    async def run(self, args: argparse.Namespace) -> int: ...


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (``prog: problem; see prog --help``), exit 2."""

    def error(self, message: str) -> NoReturn:
        message = message.removeprefix("argument ")
        raise UsageError(message, f"see {self.prog} --help")


def load_command(path: str) -> Command:
    return cast(Command, importlib.import_module(path))


def build_parser(
    commands: Mapping[str, str], selected: str | None = None
) -> argparse.ArgumentParser:
    """The whole parser; with ``selected``, only that command's module is imported (the
    others get a placeholder), so a run pays for one command's imports, not all."""
    parser = Parser(
        prog="kvs-async",
        description="Typed asyncio client for Amazon Kinesis Video Streams: read streams, "
        "run the local emulator, run the demo.",
        epilog="Exit codes: 0 done, 1 failed, 2 bad usage, 130 interrupted (SIGINT), "
        "143 terminated (SIGTERM). Errors are one line on stderr; --debug adds the traceback.",
    )
    parser.add_argument("--version", action="version", version=f"kvs-async {__version__}")
    add_global_arguments(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, path in commands.items():
        if selected is not None and name != selected:
            sub.add_parser(name, add_help=False)
            continue
        command = load_command(path)
        child = sub.add_parser(
            name,
            help=command.HELP,
            description=getattr(command, "DESCRIPTION", None) or command.HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(child)
        add_global_arguments(child, top=False)
        child.set_defaults(_command=path)
    return parser


def configure_logging(args: argparse.Namespace) -> None:
    """Quiet by default (errors are the shell's one line); -v: warnings; -vv/--debug: all."""
    verbose = int(getattr(args, "verbose", 0) or 0)
    debug = bool(getattr(args, "debug", False)) or verbose >= 2
    level = logging.DEBUG if debug else logging.WARNING
    logging.basicConfig(
        level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )
    if not debug:
        # The library's own retry and give-up records: -v shows them as status notes
        # (Status.retry), and a failure ends in the shell's one line.
        logging.getLogger("kvs_async").setLevel(logging.WARNING if verbose else logging.ERROR)
        logging.getLogger("kvs_async.retries").setLevel(logging.ERROR)


def wants_traceback(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or int(getattr(args, "verbose", 0) or 0) >= 2


async def run_with_signals(command: Command, args: argparse.Namespace) -> int:
    """Run ``command.run(args)``; SIGINT/SIGTERM cancel it and set the exit code."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    caught: list[int] = []

    def on_signal(signum: int) -> None:
        caught.append(signum)
        args.stopped_by = signal.Signals(signum).name
        task.cancel()  # a second signal cancels the cleanup too

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not the main thread
            pass
    try:
        code = await command.run(args)
    except asyncio.CancelledError:
        if not caught:
            raise
        code = EXIT_OK
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
    return 128 + caught[0] if caught else code


def run_command(command: Command, args: argparse.Namespace, prog: str) -> int:
    """Run one parsed command to its exit code; failures become one line on stderr."""
    configure_logging(args)
    endpoint: str | None = getattr(args, "endpoint_url", None)
    if endpoint is None:
        with contextlib.suppress(CliError):
            endpoint = environment_endpoint()
    try:
        return asyncio.run(run_with_signals(command, args))
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except Exception as exc:
        if wants_traceback(args):
            traceback.print_exc()
        failure = explain(exc, endpoint=endpoint)
        if failure is None:
            failure = CliError(
                f"internal error: {type(exc).__name__}: {exc}",
                "this is a bug in kvs_async: please report it with the output of --debug",
            )
        print(f"{prog}: {failure.line()}", file=sys.stderr, flush=True)
        return failure.code


def parse(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, prog: str
) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code when parsing ended the run (errors, --help)."""
    try:
        return parser.parse_args(argv)
    except CliError as exc:
        print(f"{prog}: {exc.line()}", file=sys.stderr, flush=True)
        return exc.code
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        return 128 + signal.SIGINT


def main_with(commands: Mapping[str, str], argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` against the command table and run the chosen command."""
    selected = _selected(argv, commands)
    args = parse(build_parser(commands, selected), argv, f"kvs-async {selected or ''}".strip())
    if isinstance(args, int):
        return args
    return run_command(load_command(args._command), args, f"kvs-async {args.command}")


def _selected(argv: Sequence[str] | None, commands: Mapping[str, str]) -> str | None:
    # Global flags take no values, so the first word that is not a flag names the command.
    words = list(sys.argv[1:] if argv is None else argv)
    name = next((w for w in words if not w.startswith("-")), None)
    return name if name in commands else None


__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "Command",
    "Parser",
    "build_parser",
    "main_with",
    "parse",
    "run_command",
]
