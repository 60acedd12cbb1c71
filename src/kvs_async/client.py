"""The hand-written base every generated client class stands on.

Generated modules declare data (shapes, operation specs); this runtime does the
work: credentials, endpoint resolution, signing, sending, retries, parsing.

Importing a generated module must stay cheap (a CLI, a worker that only builds a
client): the wire protocol (cattrs), the transport (aiohttp), endpoint rules and
the signer load on the first call, not at import.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from attrs import define

from ._http import HttpRequest
from ._model import OperationSpec, ServiceSpec
from .config import ClientConfig, configured_endpoint_url
from .credentials import (
    CredentialProvider,
    Credentials,
    credential_provider,
    region_from_environment,
    resolve_region,
)
from .dataplane import (
    CHANNEL_SERVICES,
    DATA_PLANE_SERVICES,
    DataEndpointCache,
    EndpointKey,
    endpoint_key,
)
from .errors import (
    EndpointResolutionError,
    KvsError,
    ReadTimeoutError,
    TransportError,
)
from .retries import (
    ErrorKind,
    RetryEvent,
    RetryPolicy,
    announce,
    classify,
    is_clock_skew_error,
    server_time,
)

if TYPE_CHECKING:
    from .endpoints import RuleSet
    from .kinesisvideo import KinesisVideoClient
    from .transport import Transport

log = logging.getLogger("kvs_async")
# Media bodies read by our own protocol instead of aiohttp's parser (kvs_async.wire.takeover).
_TAKEOVER_OPS = frozenset({"GetMedia", "GetMediaForFragmentList"})


@define(frozen=True, slots=True, kw_only=True)
class _Route:
    """Where and how to sign for one endpoint."""

    url_base: str
    signing_region: str
    signing_name: str


class BaseClient:
    """One client per service; an async context manager that owns one aiohttp session.

    ``credentials``: explicit :class:`Credentials` or a provider; default is
    botocore's chain for ``profile``. ``region``: else ``AWS_REGION`` /
    ``AWS_DEFAULT_REGION`` / the profile's region. ``endpoint_url`` replaces
    the rule-set endpoint (else ``AWS_ENDPOINT_URL_<SERVICE>`` / ``AWS_ENDPOINT_URL``,
    as the AWS SDKs read them); data-plane clients without it discover theirs via
    the control plane (at ``control_endpoint_url`` when given).
    """

    SERVICE: ClassVar[ServiceSpec]

    def __init__(
        self,
        *,
        region: str | None = None,
        credentials: Credentials | CredentialProvider | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        config: ClientConfig | None = None,
        control_endpoint_url: str | None = None,
    ) -> None:
        self._region: str | None = region or region_from_environment()
        self._region_resolved = self._region is not None
        self._profile = profile
        self._credentials = credential_provider(credentials, profile)
        if endpoint_url is None:
            endpoint_url = configured_endpoint_url(
                self.SERVICE.module, data_plane=self.SERVICE.name in DATA_PLANE_SERVICES
            )
        self._endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self._control_endpoint_url = control_endpoint_url
        self._config = config or ClientConfig()
        self._transport: Transport | None = None  # created on the first call
        self._retry = RetryPolicy(self._config.max_attempts)
        self._clock_offset = timedelta(0)
        self._route: _Route | None = None
        self._rules: RuleSet | None = None
        self._prepare_lock: asyncio.Lock | None = None
        self._discover = self.SERVICE.name in DATA_PLANE_SERVICES and self._endpoint_url is None
        self._data_endpoints = DataEndpointCache(self._config.data_endpoint_ttl)
        self._data_routes: dict[str, _Route] = {}
        self._control: KinesisVideoClient | None = None
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(region={self._region!r}, "
            f"endpoint_url={self._endpoint_url!r}, credentials={self._credentials!r})"
        )

    # --- public attributes -----------------------------------------------------------------

    @property
    def region(self) -> str | None:
        """The region in use; a profile's region is known once the client has been entered
        (``async with``) or has made a call."""
        return self._region

    @property
    def config(self) -> ClientConfig:
        return self._config

    @property
    def clock_offset(self) -> timedelta:
        """Correction added to the local clock when signing (learned from skew errors)."""
        return self._clock_offset

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    @property
    def data_endpoint_cache(self) -> DataEndpointCache:
        return self._data_endpoints

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._ensure_region()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (and the control-plane client used for discovery); idempotent."""
        self._closed = True
        control, self._control = self._control, None
        if control is not None:
            await control.close()
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    # --- setup -----------------------------------------------------------------------------

    async def _ensure_region(self) -> str | None:
        if not self._region_resolved:
            self._region = await resolve_region(None, self._profile)
            self._region_resolved = True
        return self._region

    def _signing_region(self, endpoint_region: str | None) -> str:
        region = endpoint_region or self._region
        if not region:
            raise EndpointResolutionError(
                f"{self.SERVICE.name}: no region to sign for: pass region=, set AWS_REGION "
                f"or AWS_DEFAULT_REGION, or set a region in the profile"
            )
        return region

    async def _ruleset(self) -> RuleSet:
        ruleset = self._rules
        if ruleset is None:
            from .endpoints import load_ruleset

            # The packaged JSON is read once per process, in a worker thread.
            ruleset = self._rules = await asyncio.to_thread(load_ruleset, self.SERVICE.name)
        return ruleset

    async def _make_route(self, endpoint_url: str | None, *, discovered: bool = False) -> _Route:
        from .endpoints import resolve_with_builtins, signing_overrides

        # A discovered data endpoint is already the right (FIPS/dual-stack or not) host.
        endpoint = resolve_with_builtins(
            await self._ruleset(),
            region=self._region,
            use_fips=self._config.use_fips_endpoint and not discovered,
            use_dualstack=self._config.use_dualstack_endpoint and not discovered,
            endpoint_url=endpoint_url,
        )
        region, name = signing_overrides(endpoint)
        return _Route(
            url_base=endpoint.url.rstrip("/"),
            signing_region=self._signing_region(region),
            signing_name=name or self.SERVICE.signing_name,
        )

    async def _static_route(self) -> _Route:
        route = self._route
        if route is None:
            await self._ensure_region()
            route = self._route = await self._make_route(self._endpoint_url)
        return route

    def _control_client(self) -> KinesisVideoClient:
        if self._control is None:
            from .kinesisvideo import KinesisVideoClient

            self._control = KinesisVideoClient(
                region=self._region,
                credentials=self._credentials,
                endpoint_url=self._control_endpoint_url,
                profile=self._profile,
                config=self._config,
            )
        return self._control

    async def _lookup_data_endpoint(self, key: EndpointKey) -> str:
        from .kinesisvideo import (
            APIName,
            ChannelProtocol,
            ChannelRole,
            SingleMasterChannelEndpointConfiguration,
        )

        control = self._control_client()
        if key.service in CHANNEL_SERVICES:
            protocol_name, _, role = key.api.partition("/")
            out = await control.get_signaling_channel_endpoint(
                channel_arn=key.resource,
                single_master_channel_endpoint_configuration=(
                    SingleMasterChannelEndpointConfiguration(
                        protocols=[ChannelProtocol(protocol_name)], role=ChannelRole(role)
                    )
                ),
            )
            for item in out.resource_endpoint_list or ():
                if item.protocol == protocol_name and item.resource_endpoint:
                    return item.resource_endpoint
            raise EndpointResolutionError(
                f"GetSignalingChannelEndpoint returned no {protocol_name} endpoint "
                f"for {key.resource}"
            )
        kind, _, value = key.resource.partition(":")
        data = await control.get_data_endpoint(
            api_name=APIName(key.api),
            stream_name=value if kind == "name" else None,
            stream_arn=value if kind == "arn" else None,
        )
        if not data.data_endpoint:
            raise EndpointResolutionError(
                f"GetDataEndpoint returned no endpoint for {key.api} on {value}"
            )
        return data.data_endpoint

    async def _data_route(self, key: EndpointKey) -> _Route:
        await self._ensure_region()
        url = await self._data_endpoints.get(key, lambda: self._lookup_data_endpoint(key))
        route = self._data_routes.get(url)
        if route is None:
            route = self._data_routes[url] = await self._make_route(url, discovered=True)
        return route

    # --- calls -----------------------------------------------------------------------------

    def _http(self) -> Transport:
        transport = self._transport
        if transport is None:
            from .transport import Transport

            transport = self._transport = Transport(self._config)
        return transport

    def _now(self) -> datetime:
        return datetime.now(UTC) + self._clock_offset

    async def _invoke(self, op: OperationSpec, params: Any, *, retries: bool = True) -> Any:
        """Send one operation. ``retries=False`` makes one attempt (a clock-skew re-sign
        aside) and leaves retrying to the caller, as resumable GetMedia does."""
        if self._closed:
            raise KvsError(f"{type(self).__name__} is closed")
        from . import protocol
        from .signing import sign_request

        service = self.SERVICE
        template = protocol.serialize_request(service, op, params)
        key: EndpointKey | None = None
        if self._discover:
            key = endpoint_key(service.name, op.name, params)
            route = await self._data_route(key)
        else:
            route = self._route or await self._static_route()
        url_base = route.url_base
        if op.host_prefix is not None:
            url_base = _with_host_prefix(
                url_base, protocol.expand_host_prefix(service, op, params) or ""
            )
        policy = self._retry
        attempt = 0
        cost: int | None = None
        skew_fixed = False
        while True:
            attempt += 1
            request = HttpRequest(
                method=template.method,
                path=template.path,
                query=template.query,
                headers=dict(template.headers),
                body=template.body,
                url_base=url_base,
            )
            creds = await self._credentials.get_credentials()
            sign_request(
                request,
                credentials=creds,
                region=route.signing_region,
                service=route.signing_name,
                now=self._now(),
            )
            try:
                raw = await self._http().send(
                    request, stream=op.streaming_output, takeover=op.name in _TAKEOVER_OPS
                )
            except TransportError as exc:
                if key is not None and not isinstance(exc, ReadTimeoutError):
                    self._data_endpoints.invalidate(key)
                kind = classify(exc)
                cost = policy.acquire(attempt, kind) if kind is not None and retries else None
                if cost is None:
                    raise
                delay = policy.delay(attempt)
                self._announce_retry(op.name, attempt, delay, exc, url_base)
                await asyncio.sleep(delay)
                if key is not None:
                    route = await self._data_route(key)
                    url_base = route.url_base
                continue
            if 200 <= raw.status < 300:
                policy.succeeded(cost)
                if raw.stream is not None:
                    try:
                        return protocol.parse_streaming_response(
                            service, op, raw.status, raw.headers, raw.stream
                        )
                    except BaseException:
                        raw.stream.close()
                        raise
                return protocol.parse_response(service, op, raw.status, raw.headers, raw.body)
            error = protocol.parse_error(service, raw.status, raw.headers, raw.body)
            if not skew_fixed and is_clock_skew_error(error):
                server = server_time(raw.headers)
                if server is not None and attempt < policy.max_attempts:
                    skew_fixed = True
                    self._clock_offset = server - datetime.now(UTC)
                    log.info(
                        "%s: clock skew reported by the service; signing with offset %s",
                        op.name,
                        self._clock_offset,
                    )
                    continue
            kind = classify(error)
            if kind is not None:
                # KVS's 400 throttles (ClientLimitExceededException ...) are modeled as plain errors.
                error.retryable = True
                error.throttling = error.throttling or kind is ErrorKind.THROTTLING
            cost = policy.acquire(attempt, kind) if kind is not None and retries else None
            if cost is None:
                raise error
            delay = policy.delay(attempt)
            self._announce_retry(op.name, attempt, delay, error, url_base)
            await asyncio.sleep(delay)

    def _announce_retry(
        self, operation: str, attempt: int, delay: float, error: BaseException, url: str
    ) -> None:
        announce(
            self._config.on_retry,
            RetryEvent(
                operation=operation,
                attempt=attempt,
                max_attempts=self._retry.limit(classify(error)),
                delay=delay,
                error=error,
                url=url,
            ),
        )


def _with_host_prefix(url_base: str, prefix: str) -> str:
    scheme, sep, rest = url_base.partition("://")
    return f"{scheme}{sep}{prefix}{rest}" if prefix else url_base
