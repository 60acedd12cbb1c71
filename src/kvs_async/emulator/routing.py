"""Which served service and operation a request names, and how each service says no.

The emulator serves all six models on one port. Their request paths do not collide, so
the path (plus chime's constant ``?operation=`` query) picks the operation, and the
operation's service fixes the SigV4 signing name the credential scope must carry. Every
refusal uses an error code the service's own model defines: the KVS models call a bad
request ``InvalidArgumentException``, chime calls it ``BadRequestException``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .. import chime_sdk_media_pipelines as chime
from .. import kinesis_video_archived_media as archived
from .. import kinesis_video_media as media_api
from .. import kinesis_video_signaling as signaling
from .. import kinesis_video_webrtc_storage as webrtc_storage
from .. import kinesisvideo as control
from .. import protocol
from .._model import OperationSpec, ServiceSpec
from ..errors import ServiceError
from .answers import ApiError

SERVICES: tuple[ServiceSpec, ...] = (
    control.SERVICE,
    media_api.SERVICE,
    archived.SERVICE,
    signaling.SERVICE,
    webrtc_storage.SERVICE,
    chime.SERVICE,
)
BY_NAME = {s.name: s for s in SERVICES}
CHIME = chime.SERVICE.name
#: The SigV4 service names a credential scope may carry here ("kinesisvideo", "chime").
SIGNING_NAMES = frozenset(s.signing_name for s in SERVICES)
#: Each model's name for "the input is not acceptable", in order of preference.
_BAD_REQUEST_CODES = ("InvalidArgumentException", "BadRequestException")


def match(
    method: str, path: str, query: Sequence[tuple[str, str]]
) -> tuple[ServiceSpec, OperationSpec, dict[str, str]] | None:
    """The (service, operation, URI labels) a request targets, or None."""
    for service in SERVICES:
        found = protocol.match_operation(service, method, path, query=query)
        if found is not None:
            return service, found[0], found[1]
    return None


def bad_request_code(service: ServiceSpec) -> str:
    """The code this service's model gives a malformed or invalid request."""
    for code in _BAD_REQUEST_CODES:
        if code in service.errors:
            return code
    raise LookupError(f"{service.name} defines no bad-request error")  # a model change


def bad_request(service: ServiceSpec, message: str) -> ServiceError:
    """A 400 with the service's own bad-request code."""
    return ServiceError(message, code=bad_request_code(service), status_code=400)


def not_emulated(service: ServiceSpec, operation: str) -> ServiceError:
    """What an operation the model defines but the emulator does not serve answers.

    AWS answers an action it does not offer to a caller as a refused request of that
    service; the emulator does the same with the model's own bad-request code, naming
    the operation, so SDKs raise their typed exception rather than an unknown one.
    """
    return bad_request(
        service,
        f"{operation} ({service.name}) is not served by this Kinesis Video Streams emulator.",
    )


def not_emulated_error(service_name: str, operation: str) -> ApiError:
    """:func:`not_emulated` as the ApiError a handler table raises."""
    service = BY_NAME.get(service_name, control.SERVICE)
    error = not_emulated(service, operation)
    return ApiError(error.code, error.message, error.status_code or 400)


#: The emulator's shared refusals (KVS codes) in the terms of a model that lacks them.
_SHARED_TO_CHIME = {
    "InvalidArgumentException": "BadRequestException",
    "ClientLimitExceededException": "ThrottledClientException",
    "InternalFailure": "ServiceFailureException",
}


def in_service_terms(service: ServiceSpec, error: ServiceError) -> ServiceError:
    """``error`` with the code ``service``'s model uses for it (chime names bad requests,
    throttles and internal failures differently from KVS); other errors unchanged."""
    code = _SHARED_TO_CHIME.get(error.code) if service.name == CHIME else None
    if code is None or error.code in service.errors:
        return error
    status = error.status_code
    if code == "ThrottledClientException":
        status = 429
    return ServiceError(error.message, code=code, status_code=status)


#: chime's ErrorCode enum value for each of its error shapes (ConflictException has none).
_CHIME_ERROR_CODES = {
    "BadRequestException": "BadRequest",
    "ForbiddenException": "Forbidden",
    "NotFoundException": "NotFound",
    "ResourceLimitExceededException": "ResourceLimitExceeded",
    "ServiceFailureException": "ServiceFailure",
    "ServiceUnavailableException": "ServiceUnavailable",
    "ThrottledClientException": "Throttling",
}


def error_body(service: ServiceSpec, error: ServiceError, request_id: str) -> bytes | None:
    """The body chime sends for its modeled errors (``Code``, ``Message``, ``RequestId``
    members); None where the common ``__type``/``message`` body is what AWS sends."""
    if service.name != CHIME or error.code not in service.errors:
        return None
    doc = {"Message": error.message, "RequestId": request_id}
    if error.code in _CHIME_ERROR_CODES:
        doc["Code"] = _CHIME_ERROR_CODES[error.code]
    return json.dumps(doc).encode()


def unknown_operation(method: str, path: str) -> ServiceError:
    """No served model has an operation at this method and path (AWS: 404)."""
    return ServiceError(
        f"No operation matches {method} {path}.",
        code="UnknownOperationException",
        status_code=404,
    )
