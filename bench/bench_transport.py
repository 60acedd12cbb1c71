"""describe_stream requests/s with 50 concurrent calls on one event loop: kvs_async vs aiobotocore.

Both clients talk to the same loopback server in a separate process (a minimal
keep-alive HTTP responder with a canned DescribeStream answer), so the numbers
measure the client side: serialization, signing, sending, parsing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

CONCURRENCY = 50

_SERVER = r"""
import asyncio, json, sys

BODY = json.dumps({"StreamInfo": {
    "StreamName": "bench", "Status": "ACTIVE", "Version": "v1", "DataRetentionInHours": 24,
    "StreamARN": "arn:aws:kinesisvideo:us-west-2:123456789012:stream/bench/1700000000000",
    "CreationTime": 1700000000.123, "MediaType": "video/h264"}}).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)

class Responder(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""
    def data_received(self, data):
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = 0
            for line in self.buf[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = head_end + 4 + length
            if len(self.buf) < total:
                return
            self.buf = self.buf[total:]
            self.transport.write(RESPONSE)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Responder, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    server.close()

asyncio.run(main())
"""


def _start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


async def _drive(call: Callable[[], Awaitable[Any]], total: int) -> float:
    """Run ``total`` calls with CONCURRENCY workers; returns requests/s."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return total / (time.perf_counter() - start)


async def _kvs_async(url: str, total: int, warmup: int) -> float:
    from kvs_async import ClientConfig, Credentials
    from kvs_async.kinesisvideo import KinesisVideoClient

    async with KinesisVideoClient(
        region="us-west-2",
        credentials=Credentials("AKIDBENCH", "bench-secret"),
        endpoint_url=url,
        config=ClientConfig(max_pool_connections=CONCURRENCY, max_attempts=1),
    ) as client:

        async def call() -> None:
            await client.describe_stream(stream_name="bench")

        await _drive(call, warmup)
        return await _drive(call, total)


async def _aiobotocore(url: str, total: int, warmup: int) -> float:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    session = get_session()
    async with session.create_client(
        "kinesisvideo",
        region_name="us-west-2",
        endpoint_url=url,
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="bench-secret",
        config=AioConfig(
            max_pool_connections=CONCURRENCY, retries={"max_attempts": 1, "mode": "standard"}
        ),
    ) as client:

        async def call() -> None:
            await client.describe_stream(StreamName="bench")

        await _drive(call, warmup)
        return await _drive(call, total)


def run(quick: bool) -> None:
    total = 1_000 if quick else 10_000
    warmup = 200 if quick else 1_000
    rounds = 1 if quick else 3
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    proc, url = _start_server()
    try:
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(rounds):
            ours.append(asyncio.run(_kvs_async(url, total, warmup)))
            theirs.append(asyncio.run(_aiobotocore(url, total, warmup)))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
    best_ours, best_theirs = max(ours), max(theirs)
    print(f"describe_stream, {CONCURRENCY} concurrent calls on one loop, {total} calls per round")
    print(f"{'client':<14}{'req/s (best)':>14}{'rounds':>40}")
    print(f"{'kvs_async':<14}{best_ours:>14,.0f}{'  '.join(f'{r:,.0f}' for r in ours):>40}")
    print(f"{'aiobotocore':<14}{best_theirs:>14,.0f}{'  '.join(f'{r:,.0f}' for r in theirs):>40}")
    print(f"ratio kvs_async / aiobotocore: {best_ours / best_theirs:.2f}x (goal >= 3x)")


if __name__ == "__main__":
    run("--quick" in sys.argv)
