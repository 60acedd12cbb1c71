"""Structured fleet logs: every record carries an ``event`` name and its fields.

Records go through the standard ``logging`` module (logger ``kvs_async.fleet``); the
text message reads well on a terminal, and :class:`JsonLogFormatter` writes one JSON
object per line for log collectors (``kvs-async consume --json``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

__all__ = ["JsonLogFormatter", "event", "log"]

log = logging.getLogger("kvs_async.fleet")


def event(level: int, name: str, **fields: Any) -> None:
    """Log ``name`` with ``fields`` (kept whole on the record as ``record.fleet``)."""
    if not log.isEnabledFor(level):
        return
    text = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
    log.log(level, "%s %s", name, text, extra={"fleet": {"event": name, **fields}})


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, event and fields (or the message)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "t": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fleet", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["message"] = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            out["error"] = repr(record.exc_info[1])
        return json.dumps(out, default=str)
