"""``KinesisVideoMediaClient.put_media``: PutMedia is not in botocore's models, so it is here."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from attrs import define

from ..dataplane import endpoint_key
from ..errors import ParamValidationError
from ..getmedia import ResumePolicy
from .connection import PutMediaConnection, put_media_headers
from .limits import PutMediaLimits
from .producer import MediaProducer

if TYPE_CHECKING:
    from ..client import BaseClient

__all__ = ["PutMediaMixin"]

TIMECODE_TYPES = ("ABSOLUTE", "RELATIVE")


@define(frozen=True, slots=True)
class _Target:
    stream_name: str | None
    stream_arn: str | None


class PutMediaMixin:
    """Adds ``put_media`` (a :class:`~kvs_async.producer.MediaProducer`) to the media client."""

    def put_media(
        self,
        *,
        stream_name: str | None = None,
        stream_arn: str | None = None,
        fragment_timecode_type: str = "ABSOLUTE",
        producer_start_timestamp: float | None = None,
        resume: bool | ResumePolicy = True,
        limits: PutMediaLimits | None = None,
        max_inflight_fragments: int = 32,
        max_inflight_bytes: int = 64 << 20,
        ack_timeout: float | None = None,
        close_timeout: float = 60.0,
        min_fragment_duration_ms: int = 0,
        max_fragment_duration_ms: int | None = None,
        wait_for_persisted: bool | None = None,
    ) -> MediaProducer:
        """A producer sending to one stream over a long-running PutMedia connection.

        ``fragment_timecode_type``: ABSOLUTE (cluster timecodes are epoch milliseconds) or
        RELATIVE (added to ``producer_start_timestamp``, epoch seconds; default: when the
        producer starts, fixed for every reconnection). ``limits``: client-side quotas
        (default: KVS's). The window (``max_inflight_fragments``/``_bytes``) bounds what is
        held for resending. ``ack_timeout`` (default: the client's read timeout) is how long a
        sent fragment may go without any ack before the connection is deemed stalled.
        ``wait_for_persisted``: what counts as acknowledged; None asks DescribeStream whether
        the stream retains data (PERSISTED) or not (RECEIVED).
        """
        if bool(stream_name) == bool(stream_arn):
            raise ParamValidationError(
                "stream_name", "required", "put_media needs exactly one of stream_name, stream_arn"
            )
        timecode_type = fragment_timecode_type.upper()
        if timecode_type not in TIMECODE_TYPES:
            raise ParamValidationError(
                "fragment_timecode_type",
                "enum",
                f"must be ABSOLUTE or RELATIVE, got {fragment_timecode_type!r}",
            )
        client: BaseClient = self  # type: ignore[assignment]
        policy = resume if isinstance(resume, ResumePolicy) else ResumePolicy(enabled=resume)
        target = _Target(stream_name, stream_arn)
        start_ts = producer_start_timestamp
        if start_ts is None and timecode_type == "RELATIVE":
            start_ts = time.time()
        headers = put_media_headers(
            stream_name=stream_name,
            stream_arn=stream_arn,
            fragment_timecode_type=timecode_type,
            producer_start_timestamp=start_ts,
        )
        key = endpoint_key(client.SERVICE.name, "PutMedia", target) if client._discover else None

        async def route() -> Any:
            if key is not None:
                return await client._data_route(key)
            return await client._static_route()

        async def connector(body: AsyncIterator[bytes]) -> PutMediaConnection:
            r = await route()
            conn = PutMediaConnection(
                client,
                route_base=r.url_base,
                signing_region=r.signing_region,
                signing_name=r.signing_name,
                headers=headers,
                body=body,
                connect_timeout=client.config.connect_timeout,
            )
            try:
                await conn.open()
            except Exception:
                if key is not None:
                    client._data_endpoints.invalidate(key)
                raise
            return conn

        async def need_persisted() -> bool:
            if wait_for_persisted is not None:
                return wait_for_persisted
            out = await client._control_client().describe_stream(
                stream_name=stream_name, stream_arn=stream_arn
            )
            info = out.stream_info
            return bool(info is not None and (info.data_retention_in_hours or 0) > 0)

        async def prepare() -> None:
            await route()  # a missing stream fails here (GetDataEndpoint), before any put

        return MediaProducer(
            connector,
            stream=stream_arn or stream_name or "",
            resume=policy,
            limits=limits or PutMediaLimits(),
            need_persisted=need_persisted,
            prepare=prepare,
            max_inflight_fragments=max_inflight_fragments,
            max_inflight_bytes=max_inflight_bytes,
            ack_timeout=ack_timeout if ack_timeout is not None else client.config.read_timeout,
            close_timeout=close_timeout,
            min_fragment_duration_ms=min_fragment_duration_ms,
            max_fragment_duration_ms=max_fragment_duration_ms,
        )
