"""AWS "standard" retry mode, plus KVS's own throttling codes and clock-skew detection.

Same rules as botocore's standard mode: up to ``max_attempts`` attempts,
truncated exponential backoff with full jitter (``random() * min(2**(n-1), 20)``
seconds before retry ``n``), and a per-client retry quota of 500 tokens where a
retry costs 5 (10 after a timeout) and a success returns what its retries took
(or 1 when it needed none). KVS answers ``ClientLimitExceededException`` and
``ConnectionLimitExceededException`` with HTTP 400 when it throttles; these are
retried as throttles too.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

from .errors import ConnectTimeoutError, ReadTimeoutError, ServiceError, TransportError

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        # Kinesis Video Streams throttles with these (HTTP 400).
        "ClientLimitExceededException",
        "ConnectionLimitExceededException",
    }
)
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
THROTTLING_STATUS = frozenset({429})
SKEW_CODES = frozenset({"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"})
_SKEW_SIGNATURE_CODES = frozenset(
    {"InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure"}
)
_SKEW_PHRASES = ("signature expired", "signature not yet current", "skew")

INITIAL_QUOTA = 500
RETRY_COST = 5
TIMEOUT_RETRY_COST = 10
NO_RETRY_INCREMENT = 1
MAX_BACKOFF = 20.0


class ErrorKind(Enum):
    THROTTLING = "throttling"
    TRANSIENT = "transient"
    TIMEOUT = "timeout"
    CONNECTION = "connection"


def classify(error: BaseException) -> ErrorKind | None:
    """Why ``error`` may be retried, or ``None`` when it must not be."""
    if isinstance(error, ServiceError):
        if error.code in THROTTLING_CODES or error.throttling:
            return ErrorKind.THROTTLING
        if error.status_code in THROTTLING_STATUS:
            return ErrorKind.THROTTLING
        if error.code in TRANSIENT_CODES or error.status_code in TRANSIENT_STATUS:
            return ErrorKind.TRANSIENT
        return None
    if isinstance(error, (ReadTimeoutError, ConnectTimeoutError)):
        return ErrorKind.TIMEOUT
    if isinstance(error, TransportError):
        return ErrorKind.CONNECTION
    return None


def is_clock_skew_error(error: ServiceError) -> bool:
    """True when the service says the request's signing time is off."""
    if error.code in SKEW_CODES:
        return True
    if error.code in _SKEW_SIGNATURE_CODES:
        text = error.message.lower()
        return any(phrase in text for phrase in _SKEW_PHRASES)
    return False


def server_time(headers: Mapping[str, str]) -> datetime | None:
    """The server's clock from its ``Date`` header (RFC 1123), if it sent a parseable one."""
    raw = headers.get("Date") or headers.get("date")
    if not raw:
        return None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


class RetryQuota:
    """The token bucket that stops retry storms when a service is down (one per client)."""

    def __init__(self, capacity: int = INITIAL_QUOTA) -> None:
        self.max_capacity = capacity
        self.available = capacity

    def acquire(self, amount: int) -> bool:
        if amount > self.available:
            return False
        self.available -= amount
        return True

    def release(self, amount: int) -> None:
        self.available = min(self.max_capacity, self.available + amount)


class RetryPolicy:
    """Decides whether and when to retry; one per client (the quota is shared by its calls)."""

    def __init__(
        self,
        max_attempts: int,
        *,
        quota: RetryQuota | None = None,
        rand: Callable[[], float] = random.random,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self.max_attempts = max_attempts
        self.quota = quota if quota is not None else RetryQuota()
        self._rand = rand
        self._max_backoff = max_backoff

    def acquire(self, attempt: int, kind: ErrorKind) -> int | None:
        """Tokens taken for retrying after ``attempt`` (1-based), or ``None`` to give up."""
        if attempt >= self.max_attempts:
            return None
        cost = TIMEOUT_RETRY_COST if kind is ErrorKind.TIMEOUT else RETRY_COST
        if not self.quota.acquire(cost):
            return None
        return cost

    def delay(self, attempt: int) -> float:
        """Seconds to wait before the retry that follows ``attempt`` (1-based): full jitter."""
        return self._rand() * min(2.0 ** (attempt - 1), self._max_backoff)

    def succeeded(self, last_cost: int | None) -> None:
        self.quota.release(NO_RETRY_INCREMENT if last_cost is None else last_cost)
