"""AWS credentials: explicit, or resolved through botocore's standard chain off the event loop.

botocore's resolver reads files, runs ``credential_process`` and calls metadata
services, all blocking; every call into it here runs in a worker thread.
Expiring credentials are refreshed ahead of expiry, one refresh at a time
however many requests are waiting.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from attrs import define, field

from .errors import CredentialsError


@define(frozen=True, slots=True)
class Credentials:
    """An access key pair with an optional session token.

    The secret and the token never appear in ``repr`` or ``str``.
    """

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython / hypothesis pretty printers would otherwise list every attrs field.
        printer.text(repr(self))


@define(frozen=True, slots=True, kw_only=True)
class ExpiringCredentials:
    """Credentials with the time they stop working (``None``: they do not expire)."""

    credentials: Credentials
    expiry: datetime | None = None


@runtime_checkable
class CredentialProvider(Protocol):
    """Anything that can hand out current credentials without blocking the loop."""

    async def get_credentials(self) -> Credentials: ...


class StaticCredentialProvider:
    """Fixed credentials given by the caller."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    async def get_credentials(self) -> Credentials:
        return self._credentials

    def __repr__(self) -> str:
        return f"StaticCredentialProvider({self._credentials!r})"


log = logging.getLogger("kvs_async.credentials")
_RETRY_FAILED_REFRESH = timedelta(seconds=30)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RefreshingCredentialProvider:
    """Calls a blocking ``loader`` in a worker thread, caches its answer, refreshes ahead of expiry.

    Refresh happens ``refresh_ahead`` before expiry (or half-way through the
    lifetime of short-lived credentials). Concurrent callers share one refresh:
    an ``asyncio.Lock`` serialises it and the cache is re-checked under the lock.
    If a refresh fails while the old credentials are still valid, they are reused.
    """

    def __init__(
        self,
        loader: Callable[[], ExpiringCredentials],
        *,
        refresh_ahead: timedelta = timedelta(minutes=15),
        clock: Callable[[], datetime] = _utcnow,
        description: str = "credentials",
    ) -> None:
        self._loader = loader
        self._refresh_ahead = refresh_ahead
        self._clock = clock
        self._description = description
        self._current: ExpiringCredentials | None = None
        self._refresh_at: datetime | None = None
        self._lock: asyncio.Lock | None = None
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"RefreshingCredentialProvider({self._description})"

    def _fresh(self) -> Credentials | None:
        current = self._current
        if current is None:
            return None
        if self._refresh_at is not None and self._clock() >= self._refresh_at:
            return None
        return current.credentials

    async def get_credentials(self) -> Credentials:
        creds = self._fresh()
        if creds is not None:
            return creds
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            creds = self._fresh()
            if creds is not None:
                return creds
            return await self._refresh()

    async def _refresh(self) -> Credentials:
        now = self._clock()
        try:
            loaded = await asyncio.to_thread(self._loader)
        except Exception as exc:
            current = self._current
            if current is not None and self._still_valid(now):
                # Keep using what still works; try again in a little while, not on every call.
                self._refresh_at = now + _RETRY_FAILED_REFRESH
                log.warning(
                    "refreshing %s failed (%s); reusing the current ones",
                    self._description,
                    type(exc).__name__,
                )
                return current.credentials
            if isinstance(exc, CredentialsError):
                raise
            raise CredentialsError(
                f"could not load {self._description}: {type(exc).__name__}"
            ) from exc
        self.refresh_count += 1
        self._current = loaded
        if loaded.expiry is None:
            self._refresh_at = None
        else:
            expiry = loaded.expiry
            if expiry.tzinfo is None:
                expiry = expiry.replace(tzinfo=UTC)
            lifetime = expiry - now
            ahead = min(self._refresh_ahead, lifetime / 2)
            self._refresh_at = expiry - ahead
        return loaded.credentials

    def _still_valid(self, now: datetime) -> bool:
        cur = self._current
        if cur is None:
            return False
        return cur.expiry is None or cur.expiry > now + timedelta(seconds=30)


def _botocore_session(profile: str | None) -> Any:
    # Imported by name: botocore ships no type information, and importing it costs ~100 ms.
    session_module = importlib.import_module("botocore.session")
    return session_module.Session(profile=profile)


class BotocoreCredentialProvider(RefreshingCredentialProvider):
    """botocore's standard chain (environment, shared files, profiles, SSO, assume-role,
    web identity, container and instance metadata), always run off the event loop."""

    def __init__(
        self,
        profile: str | None = None,
        *,
        refresh_ahead: timedelta = timedelta(minutes=15),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._profile = profile
        self._botocore_creds: Any = None
        super().__init__(
            self._load,
            refresh_ahead=refresh_ahead,
            clock=clock,
            description=f"botocore credential chain (profile {profile or 'default'})",
        )

    def _load(self) -> ExpiringCredentials:
        if self._botocore_creds is None:
            try:
                session = _botocore_session(self._profile)
                found = session.get_credentials()
            except Exception as exc:
                # botocore's messages name files/profiles, never secrets; keep only the type.
                raise CredentialsError(
                    f"botocore could not resolve credentials for profile "
                    f"{self._profile or 'default'}: {type(exc).__name__}: {exc}"
                ) from exc
            if found is None:
                raise CredentialsError(
                    "no AWS credentials found: pass credentials=, set AWS_ACCESS_KEY_ID/"
                    "AWS_SECRET_ACCESS_KEY, or configure a profile"
                )
            self._botocore_creds = found
        boto = self._botocore_creds
        frozen = boto.get_frozen_credentials()  # refreshes inside botocore when needed
        expiry = getattr(boto, "_expiry_time", None)
        return ExpiringCredentials(
            credentials=Credentials(frozen.access_key, frozen.secret_key, frozen.token),
            expiry=expiry,
        )


def credential_provider(
    credentials: Credentials | CredentialProvider | None, profile: str | None
) -> CredentialProvider:
    """The provider a client uses for ``credentials=`` / ``profile=``."""
    if credentials is None:
        return BotocoreCredentialProvider(profile)
    if isinstance(credentials, Credentials):
        return StaticCredentialProvider(credentials)
    return credentials


def region_from_environment() -> str | None:
    """``AWS_REGION`` then ``AWS_DEFAULT_REGION`` (no I/O)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def _profile_region(profile: str | None) -> str | None:
    try:
        value = _botocore_session(profile).get_config_variable("region")
    except Exception:
        return None
    return str(value) if value else None


async def resolve_region(region: str | None, profile: str | None) -> str | None:
    """The argument, else the environment, else the profile's ``region`` (read off the loop)."""
    if region:
        return region
    env = region_from_environment()
    if env:
        return env
    return await asyncio.to_thread(_profile_region, profile)
