"""Streaming PutMedia: fragments stored as they arrive, acked on the same connection.

The documented ack sequence per fragment: BUFFERING when its Cluster begins, RECEIVED once
it is whole, PERSISTED once stored durably (streams that retain data only); ERROR with the
documented ids for bad input (4006 not MKV, 4001 over the size limit, 4002 over the duration
limit, 4004 timecode going back, 4003 connection too long, 4008 stream deleted), and IDLE
keep-alives while nothing arrives. Armed faults with ``operation="PutMedia"`` cut the
connection some bytes into a fragment, stall it, answer a fragment with an ERROR ack, or
store a fragment and drop the connection before its acks (the "lost acks" case).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
from aiohttp import web

from ..producer.cutter import CutError, CutFragment, FragmentCutter, FragmentStarted
from ..producer.errors import ACK_ERRORS
from .controlplane import ApiError, Wire
from .media import MediaFormatError, split_media
from .requestlog import LogEntry
from .storage import FragmentRecord

if TYPE_CHECKING:
    from . import Emulator

logger = logging.getLogger("kvs_async.emulator")

PUT_MEDIA = "PutMedia"


class _Cut(Exception):
    """The connection was dropped on purpose (a fault)."""


def ack_line(
    event: str, timecode: int | None = None, number: str | None = None, **extra: object
) -> bytes:
    doc: dict[str, object] = {"EventType": event}
    if timecode is not None:
        doc["FragmentTimecode"] = timecode
    if number is not None:
        doc["FragmentNumber"] = number
    doc.update(extra)
    return (json.dumps(doc) + "\n").encode()


class PutMediaSession:
    """One streaming PutMedia request (``x-amz-content-sha256: UNSIGNED-PAYLOAD``)."""

    def __init__(
        self,
        emu: Emulator,
        request: web.Request,
        *,
        request_id: str,
        access_key: str | None,
        stream: Wire,
        producer_start: float | None,
        log_call: Callable[..., None],
    ) -> None:
        self.emu = emu
        self.request = request
        self.request_id = request_id
        self.access_key = access_key
        self.name = str(stream["StreamName"])
        self.retains = int(stream.get("DataRetentionInHours") or 0) > 0
        self.producer_start = producer_start
        self.absolute = (
            request.headers.get("x-amzn-fragment-timecode-type", "").upper() == "ABSOLUTE"
        )
        self._log_call = log_call
        self.response: web.StreamResponse | None = None
        self.cutter = FragmentCutter(max_fragment_size=emu.max_fragment_bytes)
        self.received = 0  # body bytes
        self.fragments = 0  # fragments seen complete on this connection
        self.stored = 0
        self.acks_sent: list[dict[str, object]] = []
        self.started_at = emu.clock.now()
        self.previous_tc: int | None = None
        faults = emu.faults
        self.cut = faults.take("cut", PUT_MEDIA, self.name)
        self.stall = faults.take("stall", PUT_MEDIA, self.name)
        self.error_ack = faults.take("error_tag", PUT_MEDIA, self.name)
        self.lose_acks = faults.take("lose_acks", PUT_MEDIA, self.name)
        self.cut_at: int | None = None
        self.begun = 0  # fragments whose Cluster began
        self._invalid_message = ""

    # -- output -------------------------------------------------------------------------------

    async def respond(self, data: bytes) -> None:
        if self.response is None:
            self.response = web.StreamResponse(
                status=200,
                headers={"Content-Type": "application/json", "x-amzn-RequestId": self.request_id},
            )
            await self.response.prepare(self.request)
            self._log_call(
                operation=PUT_MEDIA,
                stream=self.name,
                status=200,
                request_id=self.request_id,
                access_key=self.access_key,
            )
        doc = json.loads(data)
        self.acks_sent.append(doc)
        self.emu.put_media_acks.append((self.request_id, doc))
        await self.response.write(data)

    async def error(
        self, error_id: int, message: str, timecode: int | None = None, code: str | None = None
    ) -> None:
        known = ACK_ERRORS.get(error_id)
        code = code or (known.ERROR_CODE if known is not None else "INTERNAL_ERROR")
        await self.respond(
            ack_line("ERROR", timecode, None, ErrorId=error_id, ErrorCode=code, Message=message)
        )

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        raise _Cut

    # -- the read loop ------------------------------------------------------------------------

    async def run(self) -> web.StreamResponse:
        reason = "end"
        self._log("open", reason=None)
        try:
            reason = await self._loop()
        except _Cut:
            reason = "fault_cut"
        except (ConnectionError, asyncio.CancelledError) as exc:
            reason = "client_gone"
            if isinstance(exc, asyncio.CancelledError):
                self._log("close", reason=reason)
                raise
        except Exception:
            logger.exception("emulator: PutMedia on stream %s failed mid-body", self.name)
            reason = "server_error"
            if self.request.transport is not None:
                self.request.transport.abort()
        self._log("close", reason=reason)
        if self.response is None:
            if reason == "invalid":
                raise ApiError("InvalidArgumentException", self._invalid_message)
            self.response = web.StreamResponse(
                status=200, headers={"x-amzn-RequestId": self.request_id}
            )
            await self.response.prepare(self.request)
        if reason not in ("fault_cut", "client_gone", "server_error"):
            try:
                await self.response.write_eof()
            except ConnectionError:
                pass
        return self.response

    async def _loop(self) -> str:
        emu = self.emu
        content = self.request.content
        loop = asyncio.get_running_loop()
        deadline = loop.time() + emu.session_duration
        while True:
            wait = emu.idle_ack_interval
            if self.cutter.complete_pending:
                wait = emu.fragment_grace
            wait = min(wait, max(0.0, deadline - loop.time()))
            try:
                async with asyncio.timeout(wait):
                    data = await content.readany()
            except TimeoutError:
                if loop.time() >= deadline:
                    await self._handle(self.cutter.flush())
                    await self.error(4003, "PutMedia connection exceeded its maximum duration")
                    return "session_end"
                if self.cutter.complete_pending:
                    await self._handle(self.cutter.flush())
                else:
                    await self.respond(ack_line("IDLE"))
                continue
            if not data:
                try:
                    await self._handle(self.cutter.close())
                except CutError as exc:
                    return await self._bad_input(exc)
                if self.stored == 0 and self.fragments == 0 and self.response is None:
                    self._invalid_message = "MKV holds no Cluster: nothing to store as a fragment"
                    return "invalid"
                return "end"
            data = await self._faults_before(data)
            self.received += len(data)
            try:
                await self._handle(self.cutter.feed(data))
            except CutError as exc:
                return await self._bad_input(exc)
            if self.emu.control.stream_by_name(self.name) is None:
                await self.error(4008, f"Stream {self.name} is no longer active")
                return "stream_deleted"

    async def _bad_input(self, exc: CutError) -> str:
        # A whole fragment before the bad bytes is still stored.
        pending = self.cutter.take_pending()
        if pending is not None:
            await self._handle([pending])
        if self.response is None and self.stored == 0:
            self._invalid_message = f"malformed MKV: {exc}"
            return "invalid"
        if exc.rule == "max-fragment-size":
            await self.error(4001, str(exc))
        else:
            await self.error(4006, f"malformed MKV: {exc}")
        return "invalid_data"

    async def _faults_before(self, data: bytes) -> bytes:
        """Apply a cut or stall that falls inside ``data`` (cuts keep the bytes before)."""
        if self.cut is not None and self.cut_at is not None:
            if self.received + len(data) >= self.cut_at:
                keep = max(0, self.cut_at - self.received)
                if keep:
                    self.received += keep
                    await self._handle(self.cutter.feed(data[:keep]))
                self.abort()
        return data

    async def _handle(self, events: list[FragmentStarted | CutFragment]) -> None:
        for event in events:
            if isinstance(event, FragmentStarted):
                await self._started(event)
            else:
                await self._fragment(event)

    async def _started(self, event: FragmentStarted) -> None:
        index = self.begun
        self.begun += 1
        self.started_at = self.emu.clock.now()
        if self.cut is not None and self.cut_at is None and index >= self.cut.after_fragments:
            self.cut_at = event.offset + self.cut.after_bytes
        if self.stall is not None and index >= self.stall.after_fragments:
            seconds, self.stall = self.stall.seconds, None
            await asyncio.sleep(seconds)  # read nothing, ack nothing
        await self.respond(ack_line("BUFFERING", event.timecode_ms))

    async def _fragment(self, cut: CutFragment) -> None:
        emu = self.emu
        index = self.fragments
        self.fragments += 1
        try:
            source = split_media(cut.document)[0]
        except MediaFormatError as exc:
            await self.error(4006, str(exc), cut.timecode_ms)
            return
        tc = source.timecode_ms
        if self.previous_tc is not None and tc < self.previous_tc:
            await self.error(
                4004,
                f"fragment timecode {tc} is lower than the previous fragment's {self.previous_tc}",
                tc,
            )
            return
        if source.duration_ms > emu.max_fragment_duration_ms:
            await self.error(
                4002,
                f"fragment of {source.duration_ms} ms, more than {emu.max_fragment_duration_ms} ms",
                tc,
            )
            return
        fault = self.error_ack
        if fault is not None and index >= fault.after_fragments:
            self.error_ack = None
            await self.error(fault.error_id, f"injected {fault.error_code}", tc, fault.error_code)
            return
        self.previous_tc = tc
        if self.producer_start is None and not self.absolute:
            self.producer_start = self.started_at - tc / 1000
        base = 0.0 if self.absolute else (self.producer_start or 0.0)
        rec = await emu.append_fragment(
            self.name,
            attrs.evolve(source, cluster=cut.cluster),
            server_ts=self.started_at,
            producer_ts=base + tc / 1000,
            head=cut.head,
            tail=cut.tail,
        )
        self.stored += 1
        lose = self.lose_acks
        if lose is not None and index >= lose.after_fragments:
            self.lose_acks = None
            self.abort()  # stored, but its acks never leave
        await self._acked(rec)

    async def _acked(self, rec: FragmentRecord) -> None:
        await self.respond(ack_line("RECEIVED", rec.timecode_ms, rec.number_str))
        if self.retains:
            await self.respond(ack_line("PERSISTED", rec.timecode_ms, rec.number_str))

    def _log(self, kind: str, *, reason: str | None) -> None:
        self.emu.log.add(
            LogEntry(
                kind=kind,  # type: ignore[arg-type]
                time=self.emu.clock.now(),
                operation=PUT_MEDIA,
                stream=self.name,
                status=200,
                request_id=self.request_id,
                bytes_sent=self.received,
                fragments_sent=self.stored,
                reason=reason,
                access_key=self.access_key,
            )
        )
