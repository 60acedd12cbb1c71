"""Typed PutMedia failures: one class per documented ack ``ErrorId``, and client-side refusals.

KVS reports a rejected fragment inside the 200 response, as an ERROR acknowledgement with a
numeric ``ErrorId`` (4000-4011 bad input or limits, 4500-4506 KMS, 5000-5001 internal). Each id
gets a class so callers can tell a bad fragment from a transient failure; ``RETRYABLE`` says
whether sending the same fragment again may succeed. Problems the client sees before sending
(not MKV, no leading keyframe, a rule of :class:`~kvs_async.producer.PutMediaLimits` broken)
raise :class:`FragmentRejectedError` naming the fragment and the rule.
"""

from __future__ import annotations

from typing import ClassVar

from ..errors import KvsError


class PutMediaError(KvsError):
    """The root of everything the producer raises."""


class FragmentRejectedError(PutMediaError, ValueError):
    """A fragment refused before it was sent: ``fragment`` (index put, 0-based) broke ``rule``."""

    def __init__(self, message: str, *, fragment: int, rule: str) -> None:
        self.fragment = fragment
        self.rule = rule
        super().__init__(f"fragment {fragment}: {message} (rule: {rule})")


class ProducerClosedError(PutMediaError):
    """``put_fragment``/``put_frame`` after the producer finished or failed."""


class AckTimeoutError(PutMediaError):
    """Leaving the producer, some fragments were still not acknowledged when the wait ended."""

    def __init__(self, message: str, *, pending: tuple[int, ...]) -> None:
        self.pending = pending
        super().__init__(message)


class PutMediaAckError(PutMediaError):
    """KVS answered a fragment with an ERROR acknowledgement.

    ``error_id``/``error_code`` as KVS sent them, ``fragment_timecode`` of the fragment (when the
    ack named one), ``fragment`` the index of the fragment put (when known).
    """

    ERROR_ID: ClassVar[int | None] = None
    ERROR_CODE: ClassVar[str] = ""
    RETRYABLE: ClassVar[bool] = False

    def __init__(
        self,
        error_code: str | None,
        error_id: int | None,
        *,
        fragment_timecode: int | None = None,
        fragment: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.error_code = error_code or self.ERROR_CODE
        self.error_id = error_id
        self.fragment_timecode = fragment_timecode
        self.fragment = fragment
        doc = (type(self).__doc__ or "").strip().splitlines()[0]
        where = ""
        if fragment is not None:
            where += f" on fragment {fragment}"
        if fragment_timecode is not None:
            where += f" (timecode {fragment_timecode})"
        extra = f": {detail}" if detail else ""
        super().__init__(f"PutMedia error {error_id} ({self.error_code}){where}: {doc}{extra}")


def _ack_error(
    error_id: int, code: str, doc: str, *, retryable: bool = False
) -> type[PutMediaAckError]:
    name = "".join(part.capitalize() for part in code.split("_")) + "Error"
    return type(
        name,
        (PutMediaAckError,),
        {
            "__doc__": f"{doc} ({error_id}).",
            "ERROR_ID": error_id,
            "ERROR_CODE": code,
            "RETRYABLE": retryable,
            "__module__": __name__,
        },
    )


StreamReadError = _ack_error(
    4000, "STREAM_READ_ERROR", "Error reading the data stream", retryable=True
)
MaxFragmentSizeReachedError = _ack_error(
    4001, "MAX_FRAGMENT_SIZE_REACHED", "Fragment size is greater than the maximum limit"
)
MaxFragmentDurationReachedError = _ack_error(
    4002, "MAX_FRAGMENT_DURATION_REACHED", "Fragment duration is greater than the maximum limit"
)
MaxConnectionDurationReachedError = _ack_error(
    4003,
    "MAX_CONNECTION_DURATION_REACHED",
    "Connection duration is greater than the maximum allowed",
    retryable=True,
)
FragmentTimecodeLesserThanPreviousError = _ack_error(
    4004,
    "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS",
    "Fragment timecode is lower than the previous fragment's",
)
MoreThanAllowedTracksFoundError = _ack_error(
    4005, "MORE_THAN_ALLOWED_TRACKS_FOUND", "More tracks than allowed in the MKV"
)
InvalidMkvDataError = _ack_error(
    4006, "INVALID_MKV_DATA", "The input could not be parsed as valid MKV"
)
InvalidProducerTimestampError = _ack_error(
    4007, "INVALID_PRODUCER_TIMESTAMP", "Invalid producer timestamp"
)
StreamNotActiveError = _ack_error(4008, "STREAM_NOT_ACTIVE", "The stream no longer exists")
FragmentMetadataLimitReachedError = _ack_error(
    4009, "FRAGMENT_METADATA_LIMIT_REACHED", "Fragment metadata limit reached"
)
TrackNumberMismatchError = _ack_error(
    4010,
    "TRACK_NUMBER_MISMATCH",
    "A block's track number does not match a track in the MKV header",
)
FramesMissingForTrackError = _ack_error(
    4011, "FRAMES_MISSING_FOR_TRACK", "The fragment holds no frame for a track"
)
KmsKeyAccessDeniedError = _ack_error(
    4500, "KMS_KEY_ACCESS_DENIED", "Access denied for the stream's KMS key"
)
KmsKeyDisabledError = _ack_error(4501, "KMS_KEY_DISABLED", "The stream's KMS key is disabled")
KmsKeyValidationError = _ack_error(
    4502, "KMS_KEY_VALIDATION_ERROR", "Validation error on the stream's KMS key"
)
KmsKeyUnavailableError = _ack_error(
    4503, "KMS_KEY_UNAVAILABLE", "The stream's KMS key is unavailable", retryable=True
)
KmsKeyInvalidUsageError = _ack_error(
    4504, "KMS_KEY_INVALID_USAGE", "Invalid usage of the stream's KMS key"
)
KmsKeyInvalidStateError = _ack_error(
    4505, "KMS_KEY_INVALID_STATE", "Invalid state of the stream's KMS key"
)
KmsKeyNotFoundError = _ack_error(4506, "KMS_KEY_NOT_FOUND", "The stream's KMS key was not found")
InternalError = _ack_error(5000, "INTERNAL_ERROR", "Internal service error", retryable=True)
ArchivalError = _ack_error(
    5001, "ARCHIVAL_ERROR", "The service failed to persist the fragment", retryable=True
)

ACK_ERRORS: dict[int, type[PutMediaAckError]] = {
    cls.ERROR_ID: cls
    for cls in (
        StreamReadError,
        MaxFragmentSizeReachedError,
        MaxFragmentDurationReachedError,
        MaxConnectionDurationReachedError,
        FragmentTimecodeLesserThanPreviousError,
        MoreThanAllowedTracksFoundError,
        InvalidMkvDataError,
        InvalidProducerTimestampError,
        StreamNotActiveError,
        FragmentMetadataLimitReachedError,
        TrackNumberMismatchError,
        FramesMissingForTrackError,
        KmsKeyAccessDeniedError,
        KmsKeyDisabledError,
        KmsKeyValidationError,
        KmsKeyUnavailableError,
        KmsKeyInvalidUsageError,
        KmsKeyInvalidStateError,
        KmsKeyNotFoundError,
        InternalError,
        ArchivalError,
    )
    if cls.ERROR_ID is not None
}
#: Error code text -> id, for acks that carry a code but no id.
ACK_ERROR_CODES: dict[str, int] = {cls.ERROR_CODE: i for i, cls in ACK_ERRORS.items()}


def ack_error(
    error_code: str | None,
    error_id: int | None,
    *,
    fragment_timecode: int | None = None,
    fragment: int | None = None,
    detail: str | None = None,
) -> PutMediaAckError:
    """The typed error for an ERROR ack; an unknown id gives the base class."""
    if error_id is None and error_code:
        error_id = ACK_ERROR_CODES.get(error_code)
    cls = ACK_ERRORS.get(error_id, PutMediaAckError) if error_id is not None else PutMediaAckError
    return cls(
        error_code,
        error_id,
        fragment_timecode=fragment_timecode,
        fragment=fragment,
        detail=detail,
    )
