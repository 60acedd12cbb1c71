"""What a command says while it works: a live status line on a terminal, notes otherwise.

``Status.live(text)`` redraws one line on a terminal's stderr (and is silent elsewhere).
``Status.note(text)`` is something worth saying while waiting (a retry, a long wait):
on a terminal it takes the status line; off a terminal it is printed on its own line
with -v (as a JSON object with --json). ``Status.retry`` is a ready
``ClientConfig(on_retry=...)`` hook. ``Status.echo(line)`` prints a result line on
stdout without tearing the status line.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO

from ..retries import RetryEvent

_REDRAW_EVERY = 0.2  # seconds between two live redraws


class Status:
    """One per command run; writes to ``stream`` (stderr) and results to ``out`` (stdout)."""

    def __init__(
        self,
        *,
        verbose: int = 0,
        as_json: bool = False,
        stream: IO[str] | None = None,
        out: IO[str] | None = None,
        prog: str = "kvs-async",
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.out = out if out is not None else sys.stdout
        self.tty = self._stream.isatty()
        self.verbose = verbose
        self.as_json = as_json
        self.prog = prog
        self._shown = ""
        self._last = 0.0
        #: time.monotonic() of the latest note (a wait report can stay quiet right after one)
        self.last_note = float("-inf")

    def live(self, text: str, *, force: bool = False) -> None:
        """Redraw the status line (terminal only; at most every 0.2 s unless forced)."""
        if not self.tty:
            return
        now = time.monotonic()
        if not force and now - self._last < _REDRAW_EVERY:
            return
        self._last = now
        self._draw(text)

    def note(self, text: str, **fields: object) -> None:
        """Say what is being waited for: the status line on a terminal, a line with -v."""
        self.last_note = time.monotonic()
        if self.tty:
            self._last = time.monotonic()
            self._draw(text)
            if self.verbose:
                self._newline()
        elif self.verbose:
            if self.as_json:
                line = json.dumps({"note": text, **fields}, default=str)
            else:
                line = f"{self.prog}: {text}"
            print(line, file=self._stream, flush=True)

    def retry(self, event: RetryEvent) -> None:
        """A ``ClientConfig.on_retry`` hook: one note per retry."""
        self.note(
            str(event),
            operation=event.operation,
            attempt=event.attempt,
            max_attempts=event.max_attempts,
            delay=round(event.delay, 3),
        )

    def echo(self, line: str) -> None:
        """Print a result line on stdout, keeping the status line below it."""
        shown = self._shown
        self.clear()
        print(line, file=self.out, flush=True)
        if shown:
            self._draw(shown)

    def message(self, line: str) -> None:
        """A line for the person on stderr (a summary, a hint), off the status line."""
        self.clear()
        print(line, file=self._stream, flush=True)

    def clear(self) -> None:
        if self.tty and self._shown:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
            self._shown = ""

    def _draw(self, text: str) -> None:
        self._stream.write(f"\r\x1b[2K{text}")
        self._stream.flush()
        self._shown = text

    def _newline(self) -> None:
        self._stream.write("\n")
        self._stream.flush()
        self._shown = ""
