"""PutMedia acknowledgements: newline-delimited JSON objects in the response, as typed events.

KVS answers a PutMedia with HTTP 200 and then, on the same connection while the body is still
being sent, one JSON object per line: ``{"EventType": "BUFFERING", "FragmentTimecode": 12000,
"FragmentNumber": "9134..."}``. BUFFERING: the first byte of a fragment arrived; RECEIVED: all of
it; PERSISTED: stored durably (streams with retention only); ERROR: rejected (``ErrorId``); IDLE:
a keep-alive on a quiet connection. :class:`AckParser` is sans-I/O: bytes in, acks out.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from attrs import define

from .errors import PutMediaAckError, ack_error

__all__ = ["MAX_ACK_LINE", "AckEventType", "AckParser", "FragmentAck"]

#: An ack line longer than this is not an ack: the parser refuses to buffer more.
MAX_ACK_LINE = 64 * 1024


class AckEventType(StrEnum):
    """What an acknowledgement reports; values KVS adds later are kept, not rejected."""

    BUFFERING = "BUFFERING"
    RECEIVED = "RECEIVED"
    PERSISTED = "PERSISTED"
    ERROR = "ERROR"
    IDLE = "IDLE"

    @classmethod
    def _missing_(cls, value: object) -> AckEventType | None:
        if not isinstance(value, str):
            return None
        upper = value.upper()
        for member in cls:
            if member.value == upper:
                return member
        # An unknown event type: a pseudo-member that compares equal to its text.
        pseudo = str.__new__(cls, value)
        pseudo._name_ = upper
        pseudo._value_ = value
        return pseudo


@define(frozen=True, slots=True, kw_only=True)
class FragmentAck:
    """One acknowledgement. ``error`` is the typed error of an ERROR ack (else None).

    ``fragment`` is the index (0-based, in put order) of the fragment it is about, when the
    producer could match ``fragment_timecode`` to a fragment it sent.
    """

    event_type: AckEventType
    fragment_timecode: int | None = None
    fragment_number: str | None = None
    error_id: int | None = None
    error_code: str | None = None
    fragment: int | None = None
    error: PutMediaAckError | None = None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FragmentAck:
        raw_type = doc.get("EventType", doc.get("AckEventType", ""))
        event = AckEventType(str(raw_type))
        timecode = _int_or_none(doc.get("FragmentTimecode"))
        number = doc.get("FragmentNumber")
        error_id = _int_or_none(doc.get("ErrorId"))
        code = doc.get("ErrorCode")
        return cls(
            event_type=event,
            fragment_timecode=timecode,
            fragment_number=str(number) if number is not None else None,
            error_id=error_id,
            error_code=str(code) if code is not None else None,
        )

    def with_fragment(self, fragment: int | None) -> FragmentAck:
        """This ack matched to fragment index ``fragment`` (an ERROR ack gets its typed error)."""
        error = None
        if self.event_type == AckEventType.ERROR:
            error = ack_error(
                self.error_code,
                self.error_id,
                fragment_timecode=self.fragment_timecode,
                fragment=fragment,
            )
        return FragmentAck(
            event_type=self.event_type,
            fragment_timecode=self.fragment_timecode,
            fragment_number=self.fragment_number,
            error_id=self.error_id,
            error_code=self.error_code,
            fragment=fragment,
            error=error,
        )

    def to_json(self) -> dict[str, Any]:
        """The wire form (for ``--json`` output and logs)."""
        doc: dict[str, Any] = {"EventType": str(self.event_type)}
        if self.fragment_timecode is not None:
            doc["FragmentTimecode"] = self.fragment_timecode
        if self.fragment_number is not None:
            doc["FragmentNumber"] = self.fragment_number
        if self.error_id is not None:
            doc["ErrorId"] = self.error_id
        if self.error_code is not None:
            doc["ErrorCode"] = self.error_code
        return doc


def _int_or_none(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


class AckFormatError(ValueError):
    """A response line that is not an acknowledgement (names the byte offset)."""

    def __init__(self, message: str, *, offset: int) -> None:
        self.offset = offset
        super().__init__(f"{message} at byte {offset} of the PutMedia response")


class AckParser:
    """Incremental: ``feed(bytes) -> list[FragmentAck]``; blank lines are skipped."""

    def __init__(self, *, max_line: int = MAX_ACK_LINE) -> None:
        self._buf = bytearray()
        self._offset = 0  # response offset of _buf[0]
        self._max_line = max_line

    def feed(self, data: bytes) -> list[FragmentAck]:
        self._buf += data
        out: list[FragmentAck] = []
        start = 0
        buf = self._buf
        while (nl := buf.find(b"\n", start)) >= 0:
            line = bytes(buf[start:nl]).strip()
            if line:
                out.append(self._parse(line, self._offset + start))
            start = nl + 1
        if start:
            del buf[:start]
            self._offset += start
        if len(buf) > self._max_line:
            raise AckFormatError(
                f"an acknowledgement line longer than {self._max_line} bytes", offset=self._offset
            )
        return out

    def close(self) -> list[FragmentAck]:
        line = bytes(self._buf).strip()
        self._buf.clear()
        return [self._parse(line, self._offset)] if line else []

    @staticmethod
    def _parse(line: bytes, offset: int) -> FragmentAck:
        try:
            doc = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            raise AckFormatError("a line that is not JSON", offset=offset) from None
        if not isinstance(doc, dict):
            raise AckFormatError("a JSON line that is not an object", offset=offset)
        return FragmentAck.from_json(doc)
