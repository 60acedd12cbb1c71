"""Exit codes and the one stderr line every failure of every subcommand ends with.

A subcommand raises :class:`UsageError` (the user asked for something impossible: exit 2)
or :class:`CommandError` (it could not be done: exit 1), or lets a library error out;
:func:`explain` turns library and OS errors into the same shape, in the CLI's language
(flags and environment variables, not Python parameters).
"""

from __future__ import annotations

import errno
import sqlite3

from ..errors import (
    CredentialsError,
    EndpointConnectionError,
    EndpointResolutionError,
    KvsError,
    ParamValidationError,
    ReadTimeoutError,
    ServiceError,
    TransportError,
)

EXIT_OK = 0
EXIT_FAILURE = 1  # the command could not do its job (runtime failure)
EXIT_USAGE = 2  # bad flags, values or paths
EXIT_SIGINT = 130  # 128 + SIGINT
EXIT_SIGTERM = 143  # 128 + SIGTERM


class CliError(Exception):
    """A failure shown as ``prog: problem; fix`` on one line, ending with exit ``code``."""

    code = EXIT_FAILURE

    def __init__(self, problem: str, fix: str | None = None, *, code: int | None = None) -> None:
        self.problem = problem
        self.fix = fix
        if code is not None:
            self.code = code
        super().__init__(self.line())

    def line(self) -> str:
        problem = self.problem.rstrip(". ") if self.fix else self.problem
        text = problem if not self.fix else f"{problem}; {self.fix}"
        return " ".join(text.split())  # one line, whatever the parts held


class UsageError(CliError):
    """Bad flags, values or paths: exit 2."""

    code = EXIT_USAGE


class CommandError(CliError):
    """The command could not do its job: exit 1."""

    code = EXIT_FAILURE


_CREDENTIALS_FIX = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or pass --profile; for the local "
    "emulator, export the lines `kvs-async emulator` prints"
)
_EMULATOR_KEY_FIX = (
    "the emulator accepts only its own key pair: export the AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY lines `kvs-async emulator` prints (or start it with "
    "--access-key/--secret-key matching yours)"
)
_SIGNATURE_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidSignatureException", "SignatureDoesNotMatch"}
)


def _service_line(exc: ServiceError, endpoint: str | None) -> CliError:
    text = exc.message or exc.code
    # Messages often start with their own code already ("X: ..."): say it once.
    prefix = f"{exc.code}:"
    while text.startswith(prefix):
        text = text[len(prefix) :].strip()
    problem = f"{exc.code}: {text}" if text and text != exc.code else exc.code
    if exc.code == "ResourceNotFoundException":
        return CommandError(
            problem, "check the stream name (and --region/--endpoint-url) or create it first"
        )
    if exc.code in _SIGNATURE_CODES:
        local = endpoint is not None and _is_loopback(endpoint)
        return CommandError(
            problem,
            _EMULATOR_KEY_FIX if local else "check the credentials (AWS_PROFILE / --profile)",
        )
    if exc.throttling:
        return CommandError(problem, "the service is throttling: wait a little and try again")
    return CommandError(problem)


def _is_loopback(url: str) -> bool:
    from yarl import URL

    host = URL(url).host or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def explain(exc: BaseException, *, endpoint: str | None = None) -> CliError | None:
    """The one-line form of a library or OS error, or ``None`` for a bug (an internal error)."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, EndpointResolutionError):
        # The library speaks Python parameters (region=); the CLI speaks flags and variables.
        if "no region" in str(exc):
            return UsageError(
                "no AWS region given",
                "pass --region or set AWS_REGION (for the local emulator: export the lines "
                "`kvs-async emulator` prints)",
            )
        return UsageError(str(exc), "check --region and --endpoint-url")
    if isinstance(exc, CredentialsError):
        if str(exc).startswith("no AWS credentials found"):
            return UsageError("no AWS credentials found", _CREDENTIALS_FIX)
        return UsageError(f"cannot load AWS credentials: {exc}", _CREDENTIALS_FIX)
    if isinstance(exc, ParamValidationError):
        return UsageError(f"invalid request: {exc}")
    if isinstance(exc, ServiceError):
        return _service_line(exc, endpoint)
    if isinstance(exc, EndpointConnectionError):
        fix = "check --endpoint-url (or AWS_ENDPOINT_URL)"
        if exc.reason == "connection refused" and _is_loopback(exc.url):
            fix = "is the emulator running (kvs-async emulator)? else check --endpoint-url"
        return CommandError(f"{exc.reason} at {exc.url}", fix)
    if isinstance(exc, ReadTimeoutError):
        return CommandError(str(exc), "raise --read-timeout or check the endpoint")
    if isinstance(exc, TransportError):
        return CommandError(str(exc), "check the network and --endpoint-url")
    if isinstance(exc, KvsError):
        return CommandError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):
        return CommandError(os_error_text(exc))
    if isinstance(exc, sqlite3.Error):
        return CommandError(f"database error: {exc}")
    return None


def os_error_text(exc: OSError, what: str | None = None) -> str:
    """``what: reason`` for an OSError, without Python's ``[Errno N]`` noise.

    ``what`` defaults to the file name; ``""`` gives the reason alone.
    """
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOENT and exc.filename is not None:
        reason = "no such file or directory"
    subject = what if what is not None else exc.filename
    return f"{subject}: {reason.lower()}" if subject else reason.lower()
