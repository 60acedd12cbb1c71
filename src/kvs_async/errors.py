"""The exception families every part of kvs_async raises.

One base per failure kind so callers can ``except`` at the level they care
about: the service said no (``ServiceError``), we refused to send
(``ParamValidationError``), or the bytes never made it (``TransportError``).
"""

from __future__ import annotations

from typing import ClassVar


class KvsError(Exception):
    """Root of every exception kvs_async raises on purpose."""


class ServiceError(KvsError):
    """An error response from the service.

    Generated modules subclass this once per modeled error shape; an unknown
    code arrives as a plain ``ServiceError`` with ``code`` set.
    """

    #: The wire code this class stands for (``ResourceNotFoundException``).
    CODE: ClassVar[str] = ""
    #: Whether the service documents this code as a throttle.
    THROTTLING: ClassVar[bool] = False

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        throttling: bool | None = None,
    ) -> None:
        self.code: str = code if code is not None else (self.CODE or type(self).__name__)
        self.message: str = message
        self.status_code: int | None = status_code
        self.request_id: str | None = request_id
        self.throttling: bool = self.THROTTLING if throttling is None else throttling
        if retryable is None:
            retryable = self.throttling or (status_code is not None and status_code >= 500)
        self.retryable: bool = retryable
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"{self.code}: {self.message}" if self.message else self.code]
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return " | ".join(parts)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_service_error,
            (
                type(self),
                self.message,
                self.code,
                self.status_code,
                self.request_id,
                self.retryable,
                self.throttling,
            ),
        )


def _rebuild_service_error(
    cls: type[ServiceError],
    message: str,
    code: str,
    status_code: int | None,
    request_id: str | None,
    retryable: bool,
    throttling: bool,
) -> ServiceError:
    return cls(
        message,
        code=code,
        status_code=status_code,
        request_id=request_id,
        retryable=retryable,
        throttling=throttling,
    )


class ParamValidationError(KvsError, ValueError):
    """Input refused before sending, naming the member path and the rule broken."""

    def __init__(self, path: str, rule: str, detail: str = "") -> None:
        self.path = path
        self.rule = rule
        self.detail = detail
        text = f"{path or '<input>'}: {rule}"
        if detail:
            text = f"{text} ({detail})"
        super().__init__(text)


class TransportError(KvsError):
    """The request or response did not complete at the connection level.

    The underlying cause is chained as ``__cause__``.
    """


class ReadTimeoutError(TransportError):
    """No bytes arrived within the configured read timeout."""


class ConnectTimeoutError(TransportError):
    """The connection could not be established within the connect timeout."""


class EndpointConnectionError(TransportError):
    """No connection could be made to ``url``: refused, or its host name does not resolve.

    ``reason`` is short and human (``"connection refused"``, ``"cannot resolve host"``).
    """

    def __init__(self, message: str, *, reason: str, url: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_connection_error, (type(self), str(self), self.reason, self.url))


def _rebuild_connection_error(
    cls: type[EndpointConnectionError], message: str, reason: str, url: str
) -> EndpointConnectionError:
    return cls(message, reason=reason, url=url)


class CredentialsError(KvsError):
    """No usable credentials could be found or refreshed."""


class EndpointResolutionError(KvsError):
    """The endpoint rule set refused the configuration (the message is the rule set's)."""
