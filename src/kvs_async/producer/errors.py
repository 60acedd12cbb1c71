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


class StreamReadError(PutMediaAckError):
    """Error reading the data stream (4000)."""

    ERROR_ID = 4000
    ERROR_CODE = "STREAM_READ_ERROR"
    RETRYABLE = True


class MaxFragmentSizeReachedError(PutMediaAckError):
    """Fragment size is greater than the maximum limit (4001)."""

    ERROR_ID = 4001
    ERROR_CODE = "MAX_FRAGMENT_SIZE_REACHED"


class MaxFragmentDurationReachedError(PutMediaAckError):
    """Fragment duration is greater than the maximum limit (4002)."""

    ERROR_ID = 4002
    ERROR_CODE = "MAX_FRAGMENT_DURATION_REACHED"


class MaxConnectionDurationReachedError(PutMediaAckError):
    """Connection duration is greater than the maximum allowed (4003)."""

    ERROR_ID = 4003
    ERROR_CODE = "MAX_CONNECTION_DURATION_REACHED"
    RETRYABLE = True


class FragmentTimecodeLesserThanPreviousError(PutMediaAckError):
    """Fragment timecode is lower than the previous fragment's (4004)."""

    ERROR_ID = 4004
    ERROR_CODE = "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS"


class MoreThanAllowedTracksFoundError(PutMediaAckError):
    """More tracks than allowed in the MKV (4005)."""

    ERROR_ID = 4005
    ERROR_CODE = "MORE_THAN_ALLOWED_TRACKS_FOUND"


class InvalidMkvDataError(PutMediaAckError):
    """The input could not be parsed as valid MKV (4006)."""

    ERROR_ID = 4006
    ERROR_CODE = "INVALID_MKV_DATA"


class InvalidProducerTimestampError(PutMediaAckError):
    """Invalid producer timestamp (4007)."""

    ERROR_ID = 4007
    ERROR_CODE = "INVALID_PRODUCER_TIMESTAMP"


class StreamNotActiveError(PutMediaAckError):
    """The stream no longer exists (4008)."""

    ERROR_ID = 4008
    ERROR_CODE = "STREAM_NOT_ACTIVE"


class FragmentMetadataLimitReachedError(PutMediaAckError):
    """Fragment metadata limit reached (4009)."""

    ERROR_ID = 4009
    ERROR_CODE = "FRAGMENT_METADATA_LIMIT_REACHED"


class TrackNumberMismatchError(PutMediaAckError):
    """A block's track number does not match a track in the MKV header (4010)."""

    ERROR_ID = 4010
    ERROR_CODE = "TRACK_NUMBER_MISMATCH"


class FramesMissingForTrackError(PutMediaAckError):
    """The fragment holds no frame for a track (4011)."""

    ERROR_ID = 4011
    ERROR_CODE = "FRAMES_MISSING_FOR_TRACK"


class KmsKeyAccessDeniedError(PutMediaAckError):
    """Access denied for the stream's KMS key (4500)."""

    ERROR_ID = 4500
    ERROR_CODE = "KMS_KEY_ACCESS_DENIED"


class KmsKeyDisabledError(PutMediaAckError):
    """The stream's KMS key is disabled (4501)."""

    ERROR_ID = 4501
    ERROR_CODE = "KMS_KEY_DISABLED"


class KmsKeyValidationError(PutMediaAckError):
    """Validation error on the stream's KMS key (4502)."""

    ERROR_ID = 4502
    ERROR_CODE = "KMS_KEY_VALIDATION_ERROR"


class KmsKeyUnavailableError(PutMediaAckError):
    """The stream's KMS key is unavailable (4503)."""

    ERROR_ID = 4503
    ERROR_CODE = "KMS_KEY_UNAVAILABLE"
    RETRYABLE = True


class KmsKeyInvalidUsageError(PutMediaAckError):
    """Invalid usage of the stream's KMS key (4504)."""

    ERROR_ID = 4504
    ERROR_CODE = "KMS_KEY_INVALID_USAGE"


class KmsKeyInvalidStateError(PutMediaAckError):
    """Invalid state of the stream's KMS key (4505)."""

    ERROR_ID = 4505
    ERROR_CODE = "KMS_KEY_INVALID_STATE"


class KmsKeyNotFoundError(PutMediaAckError):
    """The stream's KMS key was not found (4506)."""

    ERROR_ID = 4506
    ERROR_CODE = "KMS_KEY_NOT_FOUND"


class InternalError(PutMediaAckError):
    """Internal service error (5000)."""

    ERROR_ID = 5000
    ERROR_CODE = "INTERNAL_ERROR"
    RETRYABLE = True


class ArchivalError(PutMediaAckError):
    """The service failed to persist the fragment (5001)."""

    ERROR_ID = 5001
    ERROR_CODE = "ARCHIVAL_ERROR"
    RETRYABLE = True


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
