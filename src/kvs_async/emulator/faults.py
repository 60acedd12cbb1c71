"""Misbehaviour on demand: cut, stall, HTTP 500, throttle, error tag, failed edge sync,
failed Chime stream pool creation.

``cut`` and ``stall`` default to media responses (``operation="media"``: GetMedia and
GetMediaForFragmentList), where they act mid-body; given another operation name they act
on that call's response (stall: before answering; cut: after ``n_bytes`` of the body).

Each fault matches an operation and/or a stream (``None`` matches any) and fires ``times``
times (``None`` = until cleared). ``emu.faults.cut_after(1000)`` hits the next GetMedia on
any stream once; PutMedia has its own helpers (``put_media_cut``, ``put_media_stall``,
``put_media_error_ack``, ``put_media_lose_acks``: counted in fragments of one connection); ``emu.faults.http_500(stream="cam", times=None)`` fails every call on
``cam`` until ``emu.faults.clear()``.
"""

from __future__ import annotations

from typing import Literal

from attrs import define, field

FaultKind = Literal[
    "cut",
    "stall",
    "http_500",
    "throttle",
    "error_tag",
    "edge_sync_failure",
    "stream_pool_failure",
    "lose_acks",
]

#: Faults applied while a media stream is being written (the others apply before dispatch).
STREAM_FAULTS = frozenset({"cut", "stall", "error_tag", "lose_acks"})
PUT_MEDIA = "PutMedia"
MEDIA_OPERATIONS = ("GetMedia", "GetMediaForFragmentList")


@define(slots=True, kw_only=True, eq=False)
class Fault:
    """One armed fault; ``fired`` counts how often it took effect."""

    kind: FaultKind
    operation: str | None = None
    stream: str | None = None
    times: int | None = 1
    after_bytes: int = 0
    after_fragments: int = 0
    seconds: float = 0.0
    error_code: str = "INTERNAL_ERROR"
    error_id: int = 5000
    details: str = "Edge agent failed to apply the configuration"
    fired: int = field(default=0)

    def matches(self, kind: str, operation: str | None, stream: str | None) -> bool:
        if self.kind != kind or (self.times is not None and self.fired >= self.times):
            return False
        if self.operation is not None and operation != self.operation:
            if not (self.operation == "media" and operation in MEDIA_OPERATIONS):
                return False
        return self.stream is None or stream == self.stream


class Faults:
    """The fault table of one emulator."""

    def __init__(self) -> None:
        self.armed: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.armed.append(fault)
        return fault

    def clear(self) -> None:
        self.armed.clear()

    def remove(self, fault: Fault) -> None:
        if fault in self.armed:
            self.armed.remove(fault)

    def take(self, kind: str, operation: str | None, stream: str | None) -> Fault | None:
        """Consume one firing of the first matching fault of ``kind``."""
        for fault in self.armed:
            if fault.matches(kind, operation, stream):
                fault.fired += 1
                if fault.times is not None and fault.fired >= fault.times:
                    self.armed.remove(fault)
                return fault
        return None

    def cut_after(
        self,
        n_bytes: int,
        *,
        after_fragments: int = 0,
        stream: str | None = None,
        operation: str | None = "media",
        times: int | None = 1,
    ) -> Fault:
        """Drop the connection ``n_bytes`` into a media body, counted from the start of
        fragment ``after_fragments`` (0: from the first byte)."""
        return self.add(
            Fault(
                kind="cut",
                after_bytes=n_bytes,
                after_fragments=after_fragments,
                stream=stream,
                operation=operation,
                times=times,
            )
        )

    def stall(
        self,
        seconds: float,
        *,
        after_bytes: int = 0,
        after_fragments: int = 0,
        stream: str | None = None,
        operation: str | None = "media",
        times: int | None = 1,
    ) -> Fault:
        """Send nothing for ``seconds``, ``after_bytes`` into a media body counted from the
        start of fragment ``after_fragments`` (both 0: before the first byte)."""
        return self.add(
            Fault(
                kind="stall",
                seconds=seconds,
                after_bytes=after_bytes,
                after_fragments=after_fragments,
                stream=stream,
                operation=operation,
                times=times,
            )
        )

    def http_500(
        self, *, stream: str | None = None, operation: str | None = None, times: int | None = 1
    ) -> Fault:
        """Answer HTTP 500 ``InternalFailure`` instead of handling the call."""
        return self.add(Fault(kind="http_500", stream=stream, operation=operation, times=times))

    def throttle(
        self, *, stream: str | None = None, operation: str | None = None, times: int | None = 1
    ) -> Fault:
        """Answer HTTP 400 ``ClientLimitExceededException`` instead of handling the call."""
        return self.add(Fault(kind="throttle", stream=stream, operation=operation, times=times))

    def error_tag(
        self,
        error_code: str = "INTERNAL_ERROR",
        error_id: int = 5000,
        *,
        after_fragments: int = 0,
        stream: str | None = None,
        operation: str | None = "media",
        times: int | None = 1,
    ) -> Fault:
        """End a media response with the AWS_KINESISVIDEO_ERROR_CODE/ID tags."""
        return self.add(
            Fault(
                kind="error_tag",
                error_code=error_code,
                error_id=error_id,
                after_fragments=after_fragments,
                stream=stream,
                operation=operation,
                times=times,
            )
        )

    def edge_sync_failure(
        self,
        details: str = "Edge agent failed to apply the configuration",
        *,
        stream: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """The next edge-configuration sync (or deletion) ends in SYNC_FAILED / DELETE_FAILED."""
        return self.add(
            Fault(kind="edge_sync_failure", details=details, stream=stream, times=times)
        )

    def stream_pool_failure(self, *, pool: str | None = None, times: int | None = 1) -> Fault:
        """The next Chime stream pool creation or update (of ``pool``) ends FAILED."""
        return self.add(Fault(kind="stream_pool_failure", stream=pool, times=times))

    # -- PutMedia -----------------------------------------------------------------------------

    def put_media_cut(
        self,
        n_bytes: int,
        *,
        after_fragments: int = 0,
        stream: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Drop a PutMedia connection once ``n_bytes`` of fragment ``after_fragments`` (0-based,
        counted from its Cluster's start) have arrived; what came before is kept."""
        return self.cut_after(
            n_bytes,
            after_fragments=after_fragments,
            stream=stream,
            operation=PUT_MEDIA,
            times=times,
        )

    def put_media_stall(
        self,
        seconds: float,
        *,
        after_fragments: int = 0,
        stream: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """When fragment ``after_fragments`` begins, read and ack nothing for ``seconds``."""
        return self.stall(
            seconds,
            after_fragments=after_fragments,
            stream=stream,
            operation=PUT_MEDIA,
            times=times,
        )

    def put_media_error_ack(
        self,
        error_id: int = 5000,
        error_code: str = "INTERNAL_ERROR",
        *,
        after_fragments: int = 0,
        stream: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Answer fragment ``after_fragments`` with an ERROR ack instead of storing it."""
        return self.error_tag(
            error_code,
            error_id,
            after_fragments=after_fragments,
            stream=stream,
            operation=PUT_MEDIA,
            times=times,
        )

    def put_media_lose_acks(
        self, *, after_fragments: int = 0, stream: str | None = None, times: int | None = 1
    ) -> Fault:
        """Store fragment ``after_fragments``, then drop the connection before its acks."""
        return self.add(
            Fault(
                kind="lose_acks",
                after_fragments=after_fragments,
                stream=stream,
                operation=PUT_MEDIA,
                times=times,
            )
        )
