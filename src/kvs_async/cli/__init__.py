"""The ``kvs-async`` command (``python -m kvs_async.cli``): one module per subcommand.

Adding a subcommand is one line in :data:`COMMANDS` (name -> module path). The module,
wherever it lives (``kvs_async.producer.cli`` ...), provides::

    HELP = "one line for kvs-async --help"
    DESCRIPTION = "a paragraph for kvs-async NAME --help"

    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    async def run(args: argparse.Namespace) -> int: ...   # the exit code

and keeps heavy imports inside ``run`` (every module is imported to build ``--help``).
The conventions every subcommand follows come from this package:

- Failures: raise :class:`~kvs_async.cli.errors.UsageError` (exit 2) or
  :class:`~kvs_async.cli.errors.CommandError` (exit 1) with the problem and the fix, or
  let a library error (``KvsError``) or ``OSError`` out; the shell prints one line,
  ``kvs-async NAME: problem; fix``, and a traceback only with ``--debug`` (or ``-vv``).
- Flags: ``-v``, ``--debug`` and ``--json`` are global and work before or after the
  subcommand; client commands add :func:`~kvs_async.cli.options.add_client_arguments`
  (``--region``, ``--profile``, ``--endpoint-url``, timeouts) and build clients with
  :func:`~kvs_async.cli.clients.client_kwargs`. Validate values in argparse types
  (:mod:`kvs_async.cli.options`: ``positive_int``, ``positive_float``, ``output_file``,
  ``endpoint_url`` ...) so bad input is refused before anything is sent.
- Signals: SIGINT/SIGTERM cancel ``run``; finish cleanly in ``finally`` or
  ``except asyncio.CancelledError`` (close files, print a summary), then re-raise; the exit
  code is 130/143.
- Progress: :class:`~kvs_async.cli.status.Status` draws a live status line on a terminal,
  prints notes (waits, retries: ``Status.retry`` is an ``on_retry`` hook) with ``-v``, and
  results on stdout (JSON lines with ``--json``).
"""

from __future__ import annotations

from collections.abc import Sequence

#: Subcommand name -> module path. Register a new subcommand with one line here.
COMMANDS: dict[str, str] = {
    "get-media": "kvs_async.cli.get_media",
    "emulator": "kvs_async.cli.emulator",
    "demo": "kvs_async.cli.demo",
    "clip": "kvs_async.archive.clip_command",
    "images": "kvs_async.archive.images_command",
    "hls": "kvs_async.archive.hls_command",
    "put-media": "kvs_async.producer.cli",
    "consume": "kvs_async.fleet.cli",
}


def main(argv: Sequence[str] | None = None) -> int:
    """The console entry point: ``kvs-async [global flags] COMMAND [flags]``."""
    from .shell import main_with

    return main_with(COMMANDS, argv)


__all__ = ["COMMANDS", "main"]
