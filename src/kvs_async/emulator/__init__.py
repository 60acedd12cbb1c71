"""A local Kinesis Video Streams: a real HTTP server speaking the KVS APIs.

``async with Emulator() as emu:`` serves the control plane (``kinesisvideo``), GetMedia and
the archived-media calls on ``emu.url`` (127.0.0.1, an ephemeral port by default), checks
every SigV4 signature against ``emu.credentials``, and can be fed with MKV
(:meth:`Emulator.load_media`, :meth:`Emulator.start_live`, HTTP ``POST /putMedia``) and made to
misbehave (:attr:`Emulator.faults`). :attr:`Emulator.log` records every call and every
media connection. ``python -m kvs_async.emulator --help`` runs it standalone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType

from aiohttp import web

from ..mkv.writer import SourceFragment
from .archived import ArchivedMedia
from .controlplane import DEFAULT_ACCOUNT, ApiError, ControlPlane, Wire, invalid
from .faults import Fault, Faults
from .feeds import FragmentInfo, MediaFeed
from .keys import TEST_ACCESS_KEY, TEST_SECRET_KEY, resolve_credentials
from .media import (
    LiveFeed,
    MediaFormatError,
    ReadOutcome,
    StartPosition,
    build_records,
    cut_media,
    fragment_bytes,
    iter_fragments,
    loaded_starts,
    read_source,
    resolve_start,
    run_live,
    split_media,
)
from .requestlog import LogEntry, RequestLog
from .routing import CHIME, not_emulated_error
from .signaling import SignalingHub
from .storage import (
    Clock,
    FragmentNumbers,
    FragmentRecord,
    Persistence,
    SqlitePersistence,
    StreamMedia,
)
from .streampools import StreamPools
from .throttle import RateLimiter
from .webrtcstorage import StorageSessions

__all__ = [
    "TEST_ACCESS_KEY",
    "TEST_SECRET_KEY",
    "Emulator",
    "Fault",
    "Faults",
    "FragmentInfo",
    "LiveFeed",
    "LogEntry",
    "RequestLog",
    "resolve_credentials",
]


class Emulator:
    """A KVS emulator bound to ``host:port`` (``port=0``: an ephemeral port).

    Limits and timings are arguments so tests can shrink them: ``session_duration``
    (seconds a GetMedia session lasts, KVS: about 45 min), ``idle_timeout`` (a read that has
    caught up with a stream without a live feed ends after this many idle seconds),
    ``edge_sync_delay`` (SYNCING -> IN_SYNC / DELETING -> gone), ``stream_pool_delay`` (a
    Chime stream pool's CREATING / UPDATING / DELETING), ``getmedia_calls_per_second``
    (per stream, KVS: 5), ``max_requests_per_second`` (all calls), ``max_body_bytes`` (API
    bodies), ``max_media_bytes`` (PutMedia bodies), ``zero_retention_seconds`` (how long a
    stream with DataRetentionInHours=0 keeps fragments for live readers). PutMedia:
    ``putmedia_calls_per_second`` (per stream, KVS: 5), ``max_fragment_bytes`` (50 MB) and
    ``max_fragment_duration_ms`` (20 s) answered with ERROR acks 4001/4002,
    ``idle_ack_interval`` (IDLE keep-alives), ``fragment_grace`` (how long a whole Cluster waits
    for producer Tags after it before it is acked when no more bytes are coming).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-west-2",
        account: str = DEFAULT_ACCOUNT,
        data_dir: str | Path | None = None,
        session_duration: float = 45 * 60,
        idle_timeout: float = 3.0,
        edge_sync_delay: float = 2.0,
        stream_pool_delay: float = 2.0,
        getmedia_calls_per_second: int = 5,
        max_requests_per_second: int = 2000,
        max_body_bytes: int = 1 << 20,
        max_media_bytes: int = 256 << 20,
        zero_retention_seconds: float = 3600.0,
        retention_interval: float = 1.0,
        verify_signatures: bool = True,
        putmedia_calls_per_second: int = 5,
        max_fragment_bytes: int = 50_000_000,
        max_fragment_duration_ms: int = 20_000,
        idle_ack_interval: float = 3.0,
        fragment_grace: float = 0.02,
    ) -> None:
        for label, value in (
            ("session_duration", session_duration),
            ("idle_timeout", idle_timeout),
            ("getmedia_calls_per_second", getmedia_calls_per_second),
            ("max_requests_per_second", max_requests_per_second),
            ("max_body_bytes", max_body_bytes),
            ("max_media_bytes", max_media_bytes),
            ("retention_interval", retention_interval),
        ):
            if value <= 0:
                raise ValueError(f"Emulator {label} must be positive, got {value!r}")
        if min(edge_sync_delay, stream_pool_delay, zero_retention_seconds) < 0:
            raise ValueError(
                "Emulator edge_sync_delay, stream_pool_delay and zero_retention_seconds must be >= 0"
            )
        self.host = host
        self.port = port
        self.region = region
        self.account = account
        self.credentials = resolve_credentials(access_key, secret_key)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.session_duration = session_duration
        self.idle_timeout = idle_timeout
        self.getmedia_calls_per_second = getmedia_calls_per_second
        self.max_requests_per_second = max_requests_per_second
        self.max_body_bytes = max_body_bytes
        self.max_media_bytes = max_media_bytes
        self.zero_retention_seconds = zero_retention_seconds
        self.retention_interval = retention_interval
        self.verify_signatures = verify_signatures
        self.putmedia_calls_per_second = putmedia_calls_per_second
        self.max_fragment_bytes = max_fragment_bytes
        self.max_fragment_duration_ms = max_fragment_duration_ms
        self.idle_ack_interval = idle_ack_interval
        self.fragment_grace = fragment_grace
        #: Every PutMedia ack sent, as (request id, JSON object), newest last (bounded).
        self.put_media_acks: deque[tuple[str, dict[str, object]]] = deque(maxlen=100_000)
        self.clock = Clock()
        self.faults = Faults()
        self.log = RequestLog()
        self.numbers = FragmentNumbers()
        self.persistence: Persistence = (
            SqlitePersistence(self.data_dir) if self.data_dir is not None else Persistence()
        )
        self.getmedia_limiter = RateLimiter(getmedia_calls_per_second, clock=self.clock.now)
        self.putmedia_limiter = RateLimiter(putmedia_calls_per_second, clock=self.clock.now)
        self.global_limiter = RateLimiter(max_requests_per_second, clock=self.clock.now)
        self.control = ControlPlane(
            region=region,
            account=account,
            clock=self.clock,
            persistence=self.persistence,
            faults=self.faults,
            data_endpoint=lambda: self.url,
            edge_sync_delay=edge_sync_delay,
            on_stream_deleted=self._stream_deleted,
        )
        self.signaling = SignalingHub(
            control=self.control,
            clock=self.clock,
            turn_host=host,
            region=region,
            secret_for=self.secret_for,
            verify_signatures=lambda: self.verify_signatures,
            log=self.log,
        )
        self.storage_sessions = StorageSessions(control=self.control, clock=self.clock)
        self.pools = StreamPools(
            region=region,
            account=account,
            clock=self.clock,
            persistence=self.persistence,
            faults=self.faults,
            transition_delay=stream_pool_delay,
        )
        self.media: dict[str, StreamMedia] = {}
        self.archived = ArchivedMedia(self)
        self.live: dict[str, LiveFeed] = {}
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._retention_task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._dispatch: dict[str, Callable[[Wire], Awaitable[Wire]]] = {}
        self._chime_dispatch: dict[str, Callable[[Wire], Awaitable[Wire]]] = {}

    # -- life cycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the control plane and the data endpoint."""
        return f"http://{self.host}:{self.port}"

    def secret_for(self, access_key: str) -> str | None:
        return self.credentials.secret_key if access_key == self.credentials.access_key else None

    async def start(self) -> None:
        from .server import Handler

        state = await self.persistence.open()
        self.pools.restore(state.resources)
        self.control.restore(state.resources)
        for stream in self.control.streams.values():
            media = self.media.setdefault(stream["StreamARN"], StreamMedia())
            frags = state.fragments.get(stream["StreamARN"], [])
            media.append(frags)
            for frag in frags:
                self.numbers.observe(frag.number)
        handler = Handler(self)
        self._build_dispatch()
        self._runner = web.AppRunner(
            handler.make_app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=0.5,
            # A GetMedia reader that hangs up must end its handler at once, even while the
            # handler waits for new fragments and writes nothing.
            handler_cancellation=True,
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()
        self._retention_task = asyncio.get_running_loop().create_task(self._retention_loop())

    async def close(self) -> None:
        for feed in list(self.live.values()):
            await feed.stop()
        self.live.clear()
        if self._retention_task is not None:
            self._retention_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention_task
            self._retention_task = None
        await self.control.close()
        await self.pools.close()
        await self.signaling.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.persistence.close()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- Python API: streams and media --------------------------------------------------------

    async def create_stream(
        self,
        name: str,
        *,
        retention_hours: int = 24,
        media_type: str | None = "video/h264",
        tags: dict[str, str] | None = None,
        exist_ok: bool = False,
    ) -> str:
        """Create a stream (as CreateStream would) and return its ARN."""
        existing = self.control.stream_by_name(name)
        if existing is not None and exist_ok:
            return str(existing["StreamARN"])
        params: Wire = {"StreamName": name, "DataRetentionInHours": retention_hours}
        if media_type:
            params["MediaType"] = media_type
        if tags:
            params["Tags"] = tags
        result = await self.dispatch("CreateStream", params)
        return str(result["StreamARN"])

    def _media_of(self, name: str) -> tuple[Wire, StreamMedia]:
        stream = self.control.stream({"StreamName": name})
        return stream, self.media.setdefault(stream["StreamARN"], StreamMedia())

    async def ingest(
        self, name: str, data: bytes, *, producer_start: float | None = None
    ) -> list[FragmentRecord]:
        """Cut ``data`` into fragments and store them durably (400 on malformed MKV)."""
        try:
            sources, cuts = await asyncio.to_thread(cut_media, data)
        except MediaFormatError as exc:
            raise invalid(str(exc)) from None
        async with self._write_lock:
            stream, media = self._media_of(name)
            server_start, prod_start = loaded_starts(
                sources, media, self.clock.now(), producer_start
            )
            records = build_records(
                sources,
                numbers=self.numbers,
                server_start=server_start,
                producer_start=prod_start,
                cuts=cuts,
            )
            await self.persistence.add_fragments(stream["StreamARN"], records)
            media.append(records)
        return records

    async def append_fragment(
        self,
        name: str,
        source: SourceFragment,
        *,
        server_ts: float,
        producer_ts: float,
        head: bytes = b"",
        tail: bytes = b"",
    ) -> FragmentRecord:
        """Store one fragment as it arrives (PutMedia streaming): durable before returning."""
        async with self._write_lock:
            stream, media = self._media_of(name)
            last = media.last()
            if last is not None:
                server_ts = max(server_ts, last.server_ts + 0.001)
            server_ts = round(server_ts, 3)
            record = FragmentRecord(
                number=self.numbers.next(server_ts),
                server_ts=server_ts,
                producer_ts=round(producer_ts, 3),
                duration_ms=int(source.duration_ms),
                timecode_ms=int(source.timecode_ms),
                keyframe_start=bool(source.keyframe_start),
                info=source.info,
                tracks=source.tracks,
                cluster=source.cluster,
                head=head,
                tail=tail,
            )
            await self.persistence.add_fragments(stream["StreamARN"], [record])
            media.append([record])
        return record

    async def load_media(
        self,
        stream: str,
        source: bytes | str | Path,
        *,
        create: bool = True,
        producer_start: float | None = None,
    ) -> list[FragmentInfo]:
        """Store an MKV file or bytes as fragments of ``stream`` (created if missing)."""
        if create:
            await self.create_stream(stream, exist_ok=True)
        data = await asyncio.to_thread(read_source, source)
        return [
            FragmentInfo.of(r)
            for r in await self.ingest(stream, data, producer_start=producer_start)
        ]

    async def start_live(
        self,
        stream: str,
        source: bytes | str | Path,
        *,
        loop: bool = True,
        speed: float = 1.0,
        create: bool = True,
    ) -> LiveFeed:
        """Append ``source``'s fragments at real-time pace (``speed`` times faster), looping.

        Each fragment is appended when it would have finished arriving; its producer
        timestamp is when it would have started. ``stop_live`` (or deleting the stream) ends it.
        """
        if speed <= 0:
            raise ValueError(f"live speed must be positive, got {speed!r}")
        if create:
            await self.create_stream(stream, exist_ok=True)
        data = await asyncio.to_thread(read_source, source)
        try:
            sources = await asyncio.to_thread(split_media, data)
        except MediaFormatError as exc:
            raise ValueError(str(exc)) from None
        await self.stop_live(stream)
        stream_wire, media = self._media_of(stream)
        feed = LiveFeed(stream_name=stream, sources=sources, loop=loop, speed=speed)
        arn = stream_wire["StreamARN"]

        async def append(records: list[FragmentRecord]) -> None:
            async with self._write_lock:
                if self.control.stream_by_name(stream) is None:
                    raise asyncio.CancelledError
                await self.persistence.add_fragments(arn, records)
                media.append(records)

        media.live = True
        feed.task = asyncio.get_running_loop().create_task(
            run_live(feed, media=media, clock=self.clock, numbers=self.numbers, append=append)
        )
        self.live[stream] = feed
        return feed

    async def stop_live(self, stream: str) -> None:
        feed = self.live.pop(stream, None)
        if feed is not None:
            await feed.stop()

    def fragments(self, stream: str) -> list[FragmentInfo]:
        """The fragments ``stream`` holds now, oldest first."""
        _, media = self._media_of(stream)
        return [FragmentInfo.of(f) for f in media.fragments]

    async def enforce_retention(self) -> int:
        """Drop fragments older than each stream's retention; returns how many went."""
        dropped_total = 0
        now = self.clock.now()
        for stream in list(self.control.streams.values()):
            hours = int(stream["DataRetentionInHours"])
            keep = hours * 3600.0 if hours > 0 else self.zero_retention_seconds
            media = self.media.get(stream["StreamARN"])
            if media is None:
                continue
            async with self._write_lock:
                dropped = media.drop_older_than(now - keep)
                if dropped:
                    await self.persistence.drop_fragments(
                        stream["StreamARN"], [f.number for f in dropped]
                    )
            dropped_total += len(dropped)
        return dropped_total

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retention_interval)
            try:
                await self.enforce_retention()
            except Exception:  # keep serving; the next tick retries
                continue

    async def _stream_deleted(self, stream: Wire) -> None:
        await self.stop_live(stream["StreamName"])
        media = self.media.pop(stream["StreamARN"], None)
        if media is not None:
            media.notify()

    # -- dispatch ------------------------------------------------------------------------

    def _build_dispatch(self) -> None:
        cp = self.control
        self._dispatch = {
            "CreateStream": cp.create_stream,
            "DescribeStream": cp.describe_stream,
            "ListStreams": cp.list_streams,
            "DeleteStream": cp.delete_stream,
            "UpdateStream": cp.update_stream,
            "UpdateDataRetention": cp.update_data_retention,
            "GetDataEndpoint": cp.get_data_endpoint,
            "TagStream": cp.tag_stream,
            "UntagStream": cp.untag_stream,
            "ListTagsForStream": cp.list_tags_for_stream,
            "TagResource": cp.tag_resource,
            "UntagResource": cp.untag_resource,
            "ListTagsForResource": cp.list_tags_for_resource,
            "UpdateImageGenerationConfiguration": cp.update_image_generation_configuration,
            "DescribeImageGenerationConfiguration": cp.describe_image_generation_configuration,
            "UpdateNotificationConfiguration": cp.update_notification_configuration,
            "DescribeNotificationConfiguration": cp.describe_notification_configuration,
            "DescribeStreamStorageConfiguration": cp.describe_stream_storage_configuration,
            "UpdateStreamStorageConfiguration": cp.update_stream_storage_configuration,
            "DescribeMappedResourceConfiguration": cp.describe_mapped_resource_configuration,
            "CreateSignalingChannel": cp.create_signaling_channel,
            "DescribeSignalingChannel": cp.describe_signaling_channel,
            "ListSignalingChannels": cp.list_signaling_channels,
            "UpdateSignalingChannel": cp.update_signaling_channel,
            "DeleteSignalingChannel": cp.delete_signaling_channel,
            "GetSignalingChannelEndpoint": cp.get_signaling_channel_endpoint,
            "UpdateMediaStorageConfiguration": cp.update_media_storage_configuration,
            "DescribeMediaStorageConfiguration": cp.describe_media_storage_configuration,
            "StartEdgeConfigurationUpdate": cp.start_edge_configuration_update,
            "DescribeEdgeConfiguration": cp.describe_edge_configuration,
            "DeleteEdgeConfiguration": cp.delete_edge_configuration,
            "ListEdgeAgentConfigurations": cp.list_edge_agent_configurations,
            "ListFragments": self._list_fragments,
            **self.signaling.handlers(),
            **self.storage_sessions.handlers(),
            **self.archived.operations(),
        }
        self._chime_dispatch = self.pools.handlers()

    async def dispatch(self, operation: str, params: Wire, *, service: str | None = None) -> Wire:
        """Run one non-streaming operation on wire-form input (raises ApiError).

        ``service`` (a botocore service name) picks chime's table; the five KVS models
        share one table, their operation names being distinct.
        """
        if not self._dispatch:
            self._build_dispatch()
        table = self._chime_dispatch if service == CHIME else self._dispatch
        handler = table.get(operation)
        if handler is None:
            raise not_emulated_error(service or "kinesisvideo", operation)
        return await handler(params)

    # -- archived media ------------------------------------------------------------------------

    async def _list_fragments(self, p: Wire) -> Wire:
        stream = self.control.stream(p)
        media = self.media.setdefault(stream["StreamARN"], StreamMedia())
        frags = list(media.fragments)
        selector = p.get("FragmentSelector")
        if selector:
            producer = selector["FragmentSelectorType"] == "PRODUCER_TIMESTAMP"
            rng = selector["TimestampRange"]
            lo, hi = float(rng["StartTimestamp"]), float(rng["EndTimestamp"])
            if hi < lo:
                raise invalid("TimestampRange.EndTimestamp is before StartTimestamp.")
            frags = [f for f in frags if lo <= (f.producer_ts if producer else f.server_ts) <= hi]
        token = p.get("NextToken")
        if token:
            try:
                after = int(json.loads(base64.urlsafe_b64decode(token.encode()))["after"])
            except Exception:
                raise invalid(
                    f"NextToken {token[:40]!r} is not a token this service issued"
                ) from None
            frags = [f for f in frags if f.number > after]
        limit = int(p.get("MaxResults") or 1000)
        page = frags[:limit]
        out: Wire = {
            "Fragments": [
                {
                    "FragmentNumber": f.number_str,
                    "FragmentSizeInBytes": f.size,
                    "ProducerTimestamp": f.producer_ts,
                    "ServerTimestamp": f.server_ts,
                    "FragmentLengthInMilliseconds": f.duration_ms,
                }
                for f in page
            ]
        }
        if len(frags) > limit and page:
            out["NextToken"] = base64.urlsafe_b64encode(
                json.dumps({"after": page[-1].number_str}).encode()
            ).decode()
        return out

    def open_get_media(self, name: str, p: Wire) -> MediaFeed:
        """Resolve the StartSelector now (errors before any byte), stream lazily."""
        stream, media = self._media_of(name)
        sel = p["StartSelector"]
        try:
            start = resolve_start(
                media,
                sel["StartSelectorType"],
                after_fragment_number=sel.get("AfterFragmentNumber"),
                start_timestamp=sel.get("StartTimestamp"),
                continuation_token=sel.get("ContinuationToken"),
            )
        except ValueError as exc:
            raise invalid(str(exc)) from None
        outcome = ReadOutcome()
        arn = stream["StreamARN"]
        return MediaFeed(self._get_media_bytes(media, start, arn, outcome), outcome)

    async def _get_media_bytes(
        self, media: StreamMedia, start: StartPosition, arn: str, outcome: ReadOutcome
    ) -> AsyncIterator[bytes]:
        frags = iter_fragments(
            media,
            start,
            clock=self.clock,
            session_end_at=self.clock.now() + self.session_duration,
            idle_timeout=self.idle_timeout,
            is_gone=lambda: self.media.get(arn) is not media,
            outcome=outcome,
        )
        try:
            async for frag in frags:
                yield fragment_bytes(frag, now=self.clock.now())
        finally:
            await frags.aclose()

    def open_fragment_list(self, name: str, p: Wire) -> MediaFeed:
        _, media = self._media_of(name)
        wanted: Sequence[str] = p["Fragments"]
        records = []
        for number in wanted:
            rec = media.find(int(number))
            if rec is None:
                raise ApiError(
                    "ResourceNotFoundException",
                    f"Fragment {number} is not found in stream {name}.",
                    404,
                )
            records.append(rec)
        outcome = ReadOutcome()

        async def gen() -> AsyncIterator[bytes]:
            for rec in records:
                yield fragment_bytes(rec, now=None)

        return MediaFeed(gen(), outcome)
