"""Which data endpoint a KVS data-plane call goes to, and a cache so we ask KVS rarely.

The media, archived-media, signaling and webrtc-storage services have no fixed
endpoint: the control plane hands one out per stream (GetDataEndpoint) or per
signaling channel (GetSignalingChannelEndpoint). KVS throttles those calls, so
answers are cached per (stream or channel, API) with an expiry and concurrent
callers share one lookup.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from attrs import define

from .errors import ParamValidationError

MEDIA_SERVICES = frozenset({"kinesis-video-media", "kinesis-video-archived-media"})
# service -> the ChannelProtocol its endpoint is published under.
CHANNEL_SERVICES = {"kinesis-video-signaling": "HTTPS", "kinesis-video-webrtc-storage": "WEBRTC"}
DATA_PLANE_SERVICES = MEDIA_SERVICES | frozenset(CHANNEL_SERVICES)

# Operation name -> the APIName value GetDataEndpoint expects.
API_NAMES = {
    "PutMedia": "PUT_MEDIA",
    "GetMedia": "GET_MEDIA",
    "ListFragments": "LIST_FRAGMENTS",
    "GetMediaForFragmentList": "GET_MEDIA_FOR_FRAGMENT_LIST",
    "GetHLSStreamingSessionURL": "GET_HLS_STREAMING_SESSION_URL",
    "GetDASHStreamingSessionURL": "GET_DASH_STREAMING_SESSION_URL",
    "GetClip": "GET_CLIP",
    "GetImages": "GET_IMAGES",
}

DEFAULT_TTL = 300.0


def api_name(operation: str) -> str:
    """``GetHLSStreamingSessionURL`` -> ``GET_HLS_STREAMING_SESSION_URL``."""
    known = API_NAMES.get(operation)
    if known is not None:
        return known
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", operation)
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", words)
    return words.upper()


@define(frozen=True, slots=True)
class EndpointKey:
    """What a data endpoint is cached under."""

    service: str
    resource: str  # stream name, stream ARN or channel ARN
    api: str  # APIName, or "<protocol>/<role>" for channels


def endpoint_key(service: str, operation: str, params: Any) -> EndpointKey:
    """The cache key for calling ``operation`` with input ``params`` on a data-plane service."""
    if service in MEDIA_SERVICES:
        arn = getattr(params, "stream_arn", None)
        name = getattr(params, "stream_name", None)
        resource = arn or name
        if not resource:
            raise ParamValidationError(
                "stream_name", "required", f"{operation} needs stream_name or stream_arn"
            )
        return EndpointKey(service, f"arn:{arn}" if arn else f"name:{name}", api_name(operation))
    channel = getattr(params, "channel_arn", None)
    if not channel:
        raise ParamValidationError("channel_arn", "required", f"{operation} needs channel_arn")
    protocol = CHANNEL_SERVICES[service]
    role = "VIEWER" if getattr(params, "client_id", None) else "MASTER"
    if operation == "SendAlexaOfferToMaster":
        role = "VIEWER"
    return EndpointKey(service, channel, f"{protocol}/{role}")


@define(slots=True)
class _Entry:
    url: str
    expires: float


class DataEndpointCache:
    """Answers cached until ``ttl`` seconds old; one lookup per key in flight at a time."""

    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[EndpointKey, _Entry] = {}
        self._locks: dict[EndpointKey, asyncio.Lock] = {}
        self.lookups = 0

    def _cached(self, key: EndpointKey) -> str | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires > self._clock():
            return entry.url
        return None

    async def get(self, key: EndpointKey, lookup: Callable[[], Awaitable[str]]) -> str:
        url = self._cached(key)
        if url is not None:
            return url
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            url = self._cached(key)
            if url is not None:
                return url
            self.lookups += 1
            url = await lookup()
            self._entries[key] = _Entry(url, self._clock() + self._ttl)
            return url

    def invalidate(self, key: EndpointKey) -> None:
        self._entries.pop(key, None)
