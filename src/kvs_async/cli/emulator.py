"""``kvs-async emulator``: the local KVS emulator (the same as ``python -m kvs_async.emulator``)."""

from __future__ import annotations

from ..emulator.cli import DESCRIPTION, HELP, add_arguments, run

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]
