"""Standard retry mode rules: what is retried, backoff bounds, the quota, clock-skew detection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvs_async.errors import ConnectTimeoutError, ReadTimeoutError, ServiceError, TransportError
from kvs_async.retries import (
    INITIAL_QUOTA,
    THROTTLING_CODES,
    ErrorKind,
    RetryPolicy,
    classify,
    is_clock_skew_error,
    server_time,
)


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ClientLimitExceededException", 400, ErrorKind.THROTTLING),
        ("ConnectionLimitExceededException", 400, ErrorKind.THROTTLING),
        ("ThrottlingException", 400, ErrorKind.THROTTLING),
        ("SomethingNew", 429, ErrorKind.THROTTLING),
        ("InternalFailure", 500, ErrorKind.TRANSIENT),
        ("ServiceUnavailable", 503, ErrorKind.TRANSIENT),
        ("RequestTimeout", 408, ErrorKind.TRANSIENT),
        ("InvalidArgumentException", 400, None),
        ("ResourceNotFoundException", 404, None),
        ("NotAuthorizedException", 401, None),
        ("InternalFailure", 501, None),
    ],
)
def test_classify_service_errors(code: str, status: int, kind: ErrorKind | None) -> None:
    assert classify(ServiceError("m", code=code, status_code=status)) is kind


def test_classify_transport_errors() -> None:
    assert classify(ReadTimeoutError("x")) is ErrorKind.TIMEOUT
    assert classify(ConnectTimeoutError("x")) is ErrorKind.TIMEOUT
    assert classify(TransportError("x")) is ErrorKind.CONNECTION
    assert classify(ValueError("x")) is None


def test_all_botocore_throttling_codes_plus_kvs() -> None:
    from botocore.retries.standard import ThrottledRetryableChecker

    assert set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) <= THROTTLING_CODES
    assert {"ClientLimitExceededException", "ConnectionLimitExceededException"} <= THROTTLING_CODES


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=40), st.floats(min_value=0, max_value=1))
def test_backoff_is_full_jitter_capped(attempt: int, r: float) -> None:
    policy = RetryPolicy(50, rand=lambda: r)
    delay = policy.delay(attempt)
    assert 0 <= delay <= 20
    assert delay == pytest.approx(r * min(2 ** (attempt - 1), 20))


def test_quota_costs_and_refunds() -> None:
    policy = RetryPolicy(3)
    assert policy.quota.available == INITIAL_QUOTA
    cost = policy.acquire(1, ErrorKind.THROTTLING)
    assert cost == 5
    assert policy.acquire(1, ErrorKind.TIMEOUT) == 10
    assert policy.quota.available == INITIAL_QUOTA - 15
    policy.succeeded(cost)
    assert policy.quota.available == INITIAL_QUOTA - 10
    policy.succeeded(None)
    assert policy.quota.available == INITIAL_QUOTA - 9
    assert policy.acquire(3, ErrorKind.TRANSIENT) is None  # no attempts left
    for _ in range(200):
        policy.succeeded(None)
    assert policy.quota.available == INITIAL_QUOTA  # never above the maximum


def test_quota_exhaustion_refuses_retries() -> None:
    policy = RetryPolicy(10)
    taken = 0
    while policy.acquire(1, ErrorKind.TRANSIENT) is not None:
        taken += 1
    assert taken == INITIAL_QUOTA // 5
    assert policy.quota.available == 0


@pytest.mark.parametrize(
    ("code", "message", "skew"),
    [
        ("RequestTimeTooSkewed", "", True),
        ("RequestExpired", "", True),
        ("InvalidSignatureException", "Signature expired: 20200101T000000Z is now earlier", True),
        ("InvalidSignatureException", "Signature not yet current: x is still later", True),
        ("InvalidSignatureException", "The request signature we calculated does not match", False),
        ("SignatureDoesNotMatch", "Signature expired", True),
        ("AccessDeniedException", "Signature expired", False),
    ],
)
def test_clock_skew_detection(code: str, message: str, skew: bool) -> None:
    assert is_clock_skew_error(ServiceError(message, code=code, status_code=403)) is skew


def test_server_time_from_date_header() -> None:
    assert server_time({"Date": "Wed, 21 Oct 2015 07:28:00 GMT"}) == datetime(
        2015, 10, 21, 7, 28, tzinfo=UTC
    )
    assert server_time({"Date": "garbage"}) is None
    assert server_time({}) is None
