"""Each fault kind, per stream and for the next request, as a client experiences it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from botocore.exceptions import ClientError
from conftest import MKV_DIR
from emulator_testkit import boto, call, get_media_bytes, parse_chunks, signed

from kvs_async.emulator import Emulator

SAMPLE = MKV_DIR / "test_mixed_tags.mkv"
EARLIEST = {"StartSelectorType": "EARLIEST"}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(idle_timeout=0.2) as e:
        await e.load_media("a", SAMPLE)
        await e.load_media("b", SAMPLE)
        yield e


async def full_size(emu: Emulator, stream: str) -> int:
    return len(await get_media_bytes(emu, stream, EARLIEST))


async def read_get_media(
    emu: Emulator, stream: str, *, sock_read: float | None = None
) -> tuple[bytes, BaseException | None]:
    """What a client gets before the body ends or breaks."""
    url, headers, data = signed(emu, "/getMedia", {"StreamName": stream, "StartSelector": EARLIEST})
    got = bytearray()
    timeout = aiohttp.ClientTimeout(total=None, sock_read=sock_read)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=data, headers=headers) as resp,
        ):
            assert resp.status == 200
            async for piece in resp.content.iter_chunked(65536):
                got += piece
    except (aiohttp.ClientError, TimeoutError) as exc:
        return bytes(got), exc
    return bytes(got), None


async def test_cut_after_n_bytes(emu: Emulator) -> None:
    fault = emu.faults.cut_after(1000)
    got, error = await read_get_media(emu, "a")
    assert error is not None
    assert len(got) == 1000
    assert fault.fired == 1
    close = emu.log.closes("GetMedia", "a")[-1]
    assert (close.reason, close.bytes_sent) == ("fault_cut", 1000)
    # Only the next request was affected.
    got, error = await read_get_media(emu, "a")
    assert error is None and len(got) == await full_size(emu, "a")


async def test_cut_per_stream_until_cleared(emu: Emulator) -> None:
    emu.faults.cut_after(500, stream="a", times=None)
    for _ in range(2):
        got, error = await read_get_media(emu, "a")
        assert error is not None and len(got) == 500
    got, error = await read_get_media(emu, "b")
    assert error is None
    emu.faults.clear()
    got, error = await read_get_media(emu, "a")
    assert error is None


async def test_stall_trips_a_client_read_timeout(emu: Emulator) -> None:
    emu.faults.stall(2.0, after_bytes=300, stream="a")
    got, error = await read_get_media(emu, "a", sock_read=0.3)
    assert isinstance(error, TimeoutError | aiohttp.ServerTimeoutError)
    assert len(got) == 300


async def test_stall_then_everything_arrives(emu: Emulator) -> None:
    fault = emu.faults.stall(0.2, after_bytes=100)
    got, error = await read_get_media(emu, "a", sock_read=5)
    assert error is None
    assert len(got) == await full_size(emu, "a")
    assert fault.fired == 1


async def test_http_500_next_request(emu: Emulator) -> None:
    emu.faults.http_500()
    kv = boto(emu)
    with pytest.raises(ClientError) as exc:
        await asyncio.to_thread(kv.list_streams)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert exc.value.response["Error"]["Code"] == "InternalFailure"
    resp = await asyncio.to_thread(kv.list_streams)
    assert len(resp["StreamInfoList"]) == 2
    assert [c.status for c in emu.log.calls("ListStreams")] == [500, 200]


async def test_http_500_on_one_operation_of_one_stream(emu: Emulator) -> None:
    emu.faults.http_500(stream="a", operation="DescribeStream", times=2)
    codes = []
    for name in ("a", "b", "a", "a"):
        status, _, _ = await call(emu, "/describeStream", {"StreamName": name})
        codes.append(status)
    assert codes == [500, 200, 500, 200]


async def test_throttle_fault(emu: Emulator) -> None:
    emu.faults.throttle(stream="a", times=None)
    status, headers, _ = await call(
        emu, "/getMedia", {"StreamName": "a", "StartSelector": EARLIEST}
    )
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ClientLimitExceededException")
    kv = boto(emu)
    with pytest.raises(ClientError) as exc:
        await asyncio.to_thread(kv.get_data_endpoint, StreamName="a", APIName="GET_MEDIA")
    assert exc.value.response["Error"]["Code"] == "ClientLimitExceededException"
    assert await asyncio.to_thread(kv.get_data_endpoint, StreamName="b", APIName="GET_MEDIA")


async def test_error_tag_ends_the_stream(emu: Emulator) -> None:
    emu.faults.error_tag("INTERNAL_ERROR", 5000, after_fragments=3, stream="a")
    body = await get_media_bytes(emu, "a", EARLIEST)
    chunks = parse_chunks(body)
    assert [c.error_code for c in chunks[:3]] == [None, None, None]
    assert len([c for c in chunks if c.fragment_number]) == 3
    last = chunks[-1]
    assert last.error_code == "INTERNAL_ERROR"
    assert last.error_id == 5000
    assert emu.log.closes("GetMedia", "a")[-1].reason == "error_tag"


async def test_error_tag_before_any_fragment(emu: Emulator) -> None:
    emu.faults.error_tag("FRAGMENT_NOT_FOUND", 4000)
    chunks = parse_chunks(await get_media_bytes(emu, "b", EARLIEST))
    assert len(chunks) == 1
    assert (chunks[0].error_code, chunks[0].error_id) == ("FRAGMENT_NOT_FOUND", 4000)


async def test_stall_and_cut_on_a_control_plane_call(emu: Emulator) -> None:
    emu.faults.stall(2.0, operation="ListStreams")
    url, headers, data = signed(emu, "/listStreams", {})
    timeout = aiohttp.ClientTimeout(total=0.3)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(TimeoutError):
            async with session.post(url, data=data, headers=headers) as resp:
                await resp.read()
    emu.faults.cut_after(5, operation="ListStreams")
    url, headers, data = signed(emu, "/listStreams", {})
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.post(url, data=data, headers=headers) as resp:
                assert resp.status == 200
                await resp.read()
    status, _, _ = await call(emu, "/listStreams", {})
    assert status == 200


async def test_cut_inside_a_given_fragment(emu: Emulator) -> None:
    whole = await get_media_bytes(emu, "a", EARLIEST)
    sizes = [len(c.raw) for c in parse_chunks(whole)]
    emu.faults.cut_after(100, after_fragments=3)
    got, error = await read_get_media(emu, "a")
    assert error is not None
    assert len(got) == sum(sizes[:3]) + 100
    assert got[:50] == whole[:50]
    assert emu.log.closes("GetMedia", "a")[-1].fragments_sent == 3
