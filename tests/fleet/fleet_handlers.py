"""Handlers the fleet worker processes load with ``--handler fleet_handlers:record``.

``record`` appends ``t pid B stream fragment`` before and ``t pid E ...`` after each chunk to
$FLEET_EVENTS, sleeping $FLEET_WORK seconds between (work in flight when a signal lands).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from fleet_testkit import append_line

EVENTS = os.environ.get("FLEET_EVENTS", "fleet-events.log")
WORK = float(os.environ.get("FLEET_WORK", "0"))
PID = os.getpid()


async def record(stream_name: str, chunk: Any) -> None:
    append_line(EVENTS, f"{time.time():.6f} {PID} B {stream_name} {chunk.fragment_number}")
    if WORK:
        await asyncio.sleep(WORK)
    append_line(EVENTS, f"{time.time():.6f} {PID} E {stream_name} {chunk.fragment_number}")
