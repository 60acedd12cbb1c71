"""``kvs-async demo``: the self-checking demo (see :mod:`kvs_async.demo`)."""

from __future__ import annotations

import argparse

from .options import non_negative_int, output_file, positive_int

HELP = "consume a generated stream from the embedded emulator while it cuts connections"
DESCRIPTION = """\
Start the embedded emulator, load a generated test stream, and read it with get_media
through the real stack (SigV4 over loopback HTTP, data endpoint discovery, the chunk
parser) while the emulator cuts connections at seeded random byte offsets; then check
that every fragment arrived once, in order, and that the reader resumed once per cut.
Needs no AWS account, credentials or network. Exit 0 when the check passes, 1 when not.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fragments", type=positive_int, default=30, help="fragments in the test stream"
    )
    parser.add_argument(
        "--faults", type=non_negative_int, default=4, help="connection faults to inject"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed for where faults fall")
    parser.add_argument(
        "--output", "-o", type=output_file, help="also write the media to this .mkv file"
    )


async def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    return await run_demo(args)
