"""AWS "standard" retry mode, plus KVS's own throttling codes and clock-skew detection.

Same rules as botocore's standard mode: up to ``max_attempts`` attempts,
truncated exponential backoff with full jitter (``random() * min(2**(n-1), 20)``
seconds before retry ``n``), and a per-client retry quota of 500 tokens where a
retry costs 5 (10 after a timeout) and a success returns what its retries took
(or 1 when it needed none). An endpoint that refuses connections or whose host
does not resolve is given at most ``UNREACHABLE_MAX_ATTEMPTS`` attempts: waiting
longer rarely helps, and the caller should hear about it soon.

Every retry is announced (:func:`announce`): an INFO record on the
``kvs_async.retries`` logger and ``ClientConfig.on_retry`` with a :class:`RetryEvent`. KVS answers ``ClientLimitExceededException`` and
``ConnectionLimitExceededException`` with HTTP 400 when it throttles; these are
retried as throttles too.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

from attrs import define

from .errors import (
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ServiceError,
    TransportError,
)

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
UNREACHABLE_MAX_ATTEMPTS = 3

log = logging.getLogger("kvs_async.retries")


class ErrorKind(Enum):
    THROTTLING = "throttling"
    TRANSIENT = "transient"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    UNREACHABLE = "unreachable"  # refused, or the host name does not resolve


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
    if isinstance(error, EndpointConnectionError):
        return ErrorKind.UNREACHABLE
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
        if attempt >= self.limit(kind):
            return None
        cost = TIMEOUT_RETRY_COST if kind is ErrorKind.TIMEOUT else RETRY_COST
        if not self.quota.acquire(cost):
            return None
        return cost

    def limit(self, kind: ErrorKind | None) -> int:
        """How many attempts an error of this kind gets in all."""
        if kind is ErrorKind.UNREACHABLE:
            return min(self.max_attempts, UNREACHABLE_MAX_ATTEMPTS)
        return self.max_attempts

    def delay(self, attempt: int) -> float:
        """Seconds to wait before the retry that follows ``attempt`` (1-based): full jitter."""
        return self._rand() * min(2.0 ** (attempt - 1), self._max_backoff)

    def succeeded(self, last_cost: int | None) -> None:
        self.quota.release(NO_RETRY_INCREMENT if last_cost is None else last_cost)


@define(frozen=True, slots=True, kw_only=True)
class RetryEvent:
    """One retry about to happen: after ``attempt`` failed, the next starts in ``delay`` s.

    ``max_attempts`` is the bound that applies (``None``: unbounded); ``url`` is the
    endpoint that failed when known. ``str()`` is the line a person wants to read:
    ``retrying in 1.6 s (3/10): connection refused at http://127.0.0.1:4567``.
    """

    operation: str
    attempt: int
    max_attempts: int | None
    delay: float
    error: BaseException
    url: str | None = None

    @property
    def reason(self) -> str:
        """Why the attempt failed, in a few words."""
        error = self.error
        if isinstance(error, EndpointConnectionError):
            return f"{error.reason} at {error.url}"
        if isinstance(error, ServiceError):
            kind = "throttled" if error.throttling else f"HTTP {error.status_code}"
            return f"{error.code} ({kind})" if error.status_code or error.throttling else error.code
        text = str(error) or type(error).__name__
        # "GET host/path failed at the connection level: <aiohttp's details>": the first part.
        text = text.split(": ", 1)[0] if "failed at the connection level" in text else text
        return f"{text} at {self.url}" if self.url and self.url not in text else text

    def __str__(self) -> str:
        bound = "" if self.max_attempts is None else f"/{self.max_attempts}"
        return f"retrying in {self.delay:.1f} s ({self.attempt + 1}{bound}): {self.reason}"


RetryHook = Callable[[RetryEvent], None]


def announce(hook: RetryHook | None, event: RetryEvent) -> None:
    """Log a retry (INFO, ``kvs_async.retries``) and pass it to the caller's hook, if any."""
    log.info("%s: %s", event.operation, event)
    if hook is not None:
        hook(event)
