"""A consumer process for the kill -9 tests: get_media with a SQLite checkpoint.

Usage: python checkpoint_consumer.py URL STREAM DB LOG MODE WORK
Writes ``t pid B stream fragment`` before handling a chunk and ``... E ...`` after;
MODE ``explicit`` commits inside the handler, ``implicit`` lets the next ask commit.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from fleet_testkit import append_line

from kvs_async import SqliteCheckpoints
from kvs_async.credentials import Credentials
from kvs_async.emulator import TEST_ACCESS_KEY, TEST_SECRET_KEY
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector


async def main(url: str, name: str, db: str, log: str, mode: str, work: float) -> None:
    pid = os.getpid()
    async with (
        SqliteCheckpoints(db) as store,
        KinesisVideoMediaClient(
            region="us-west-2",
            credentials=Credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY),
            control_endpoint_url=url,
        ) as client,
    ):
        stream = client.get_media(
            stream_name=name,
            start_selector=StartSelector(start_selector_type="EARLIEST"),
            checkpoint=store,
            consumer="kill-test",
        )
        async with stream:
            async for chunk in stream:
                append_line(log, f"{time.time():.6f} {pid} B {name} {chunk.fragment_number}")
                if work:
                    await asyncio.sleep(work)
                if mode == "explicit":
                    await stream.commit()
                append_line(log, f"{time.time():.6f} {pid} E {name} {chunk.fragment_number}")


if __name__ == "__main__":
    url, name, db, log, mode, work = sys.argv[1:7]
    asyncio.run(main(url, name, db, log, mode, float(work)))
