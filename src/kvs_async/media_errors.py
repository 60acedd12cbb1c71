"""Errors KVS reports inside a GetMedia byte stream (``AWS_KINESISVIDEO_ERROR_*`` tags).

They arrive after HTTP 200, so they are not service errors of the response: one
class per documented ``AWS_KINESISVIDEO_ERROR_ID`` lets callers catch the KMS
family apart from a missing fragment.
"""

from __future__ import annotations

from typing import ClassVar

from .errors import KvsError


class GetMediaStreamError(KvsError):
    """KVS ended a GetMedia stream with an error tag.

    ``error_id`` is the numeric ``AWS_KINESISVIDEO_ERROR_ID``, ``error_code`` the
    text KVS sent beside it; ``continuation_token`` is the position reached before
    the error, so a caller can start again from there.
    """

    ERROR_ID: ClassVar[int | None] = None
    #: Whether resuming from the last continuation token may succeed.
    RETRYABLE: ClassVar[bool] = False

    def __init__(
        self,
        error_code: str,
        error_id: int | None,
        *,
        fragment_number: str | None = None,
        continuation_token: str | None = None,
    ) -> None:
        self.error_code = error_code
        self.error_id = error_id
        self.fragment_number = fragment_number
        self.continuation_token = continuation_token
        doc = (type(self).__doc__ or "").strip().splitlines()[0]
        where = f" after fragment {fragment_number}" if fragment_number else ""
        super().__init__(f"GetMedia stream error {error_id} ({error_code}): {doc}{where}")

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild,
            (
                type(self),
                self.error_code,
                self.error_id,
                self.fragment_number,
                self.continuation_token,
            ),
        )


def _rebuild(
    cls: type[GetMediaStreamError],
    error_code: str,
    error_id: int | None,
    fragment_number: str | None,
    continuation_token: str | None,
) -> GetMediaStreamError:
    return cls(
        error_code,
        error_id,
        fragment_number=fragment_number,
        continuation_token=continuation_token,
    )


class StreamWriteError(GetMediaStreamError):
    """Error writing to the stream (3002)."""

    ERROR_ID = 3002
    RETRYABLE = True


class FragmentNotFoundError(GetMediaStreamError):
    """Requested fragment is not found (4000)."""

    ERROR_ID = 4000


class KmsAccessDeniedError(GetMediaStreamError):
    """Access denied for the stream's KMS key (4500)."""

    ERROR_ID = 4500


class KmsKeyDisabledError(GetMediaStreamError):
    """Stream's KMS key is disabled (4501)."""

    ERROR_ID = 4501


class KmsValidationError(GetMediaStreamError):
    """Validation error on the stream's KMS key (4502)."""

    ERROR_ID = 4502


class KmsKeyUnavailableError(GetMediaStreamError):
    """KMS key specified in the stream is unavailable (4503)."""

    ERROR_ID = 4503


class KmsInvalidUsageError(GetMediaStreamError):
    """Invalid usage of the KMS key specified in the stream (4504)."""

    ERROR_ID = 4504


class KmsInvalidStateError(GetMediaStreamError):
    """Invalid state of the KMS key specified in the stream (4505)."""

    ERROR_ID = 4505


class KmsKeyNotFoundError(GetMediaStreamError):
    """Unable to find the KMS key specified in the stream (4506)."""

    ERROR_ID = 4506


class InternalStreamError(GetMediaStreamError):
    """Internal error (5000)."""

    ERROR_ID = 5000
    RETRYABLE = True


STREAM_ERRORS: dict[int, type[GetMediaStreamError]] = {
    cls.ERROR_ID: cls
    for cls in (
        StreamWriteError,
        FragmentNotFoundError,
        KmsAccessDeniedError,
        KmsKeyDisabledError,
        KmsValidationError,
        KmsKeyUnavailableError,
        KmsInvalidUsageError,
        KmsInvalidStateError,
        KmsKeyNotFoundError,
        InternalStreamError,
    )
    if cls.ERROR_ID is not None
}


def stream_error(
    error_code: str | None,
    error_id: str | int | None,
    *,
    fragment_number: str | None = None,
    continuation_token: str | None = None,
) -> GetMediaStreamError:
    """The typed error for what the tags said; an unknown id gives the base class."""
    number: int | None
    try:
        number = int(str(error_id).strip()) if error_id is not None else None
    except ValueError:
        number = None
    cls = (
        STREAM_ERRORS.get(number, GetMediaStreamError)
        if number is not None
        else GetMediaStreamError
    )
    return cls(
        error_code or "",
        number,
        fragment_number=fragment_number,
        continuation_token=continuation_token,
    )
