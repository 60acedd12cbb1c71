"""The aiohttp application: one catch-all route that checks, decodes, dispatches and logs.

Per request: bounded rate, bounded body, SigV4 verification (scoped to the emulator's
region and the operation's service), operation match across the six served models
(``routing``) plus ``PutMedia``, bounded JSON nesting, model validation by the generated
rules, armed faults, then the handler. Errors go out as AWS sends them
(``x-amzn-ErrorType``, JSON body, ``x-amzn-RequestId``), with codes the service's model
defines. ``GET /`` with ``X-Amz-ChannelARN`` is the signaling WebSocket (``signaling``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from .. import kinesisvideo as control
from .. import protocol
from .._model import OperationSpec, ServiceSpec
from ..errors import ParamValidationError, ServiceError
from ..signing import UNSIGNED_PAYLOAD, SignatureError, verify_request
from . import routing
from .controlplane import ApiError, Wire
from .faults import Fault
from .jsonlimits import MAX_JSON_DEPTH, json_depth
from .putmedia import PutMediaSession, ack_line
from .requestlog import LogEntry
from .wire import from_wire, to_wire

if TYPE_CHECKING:
    from . import Emulator

logger = logging.getLogger("kvs_async.emulator")

STREAMING_OPS = frozenset({"GetMedia", "GetMediaForFragmentList"})
PUT_MEDIA = "PutMedia"
MEDIA_CONTENT_TYPE = "video/webm"


class CutConnection(Exception):
    """A cut fault fired: the connection has been aborted mid-body."""


def _stream_name_of(params: Wire) -> str | None:
    name = params.get("StreamName")
    if name:
        return str(name)
    arn = params.get("StreamARN") or params.get("ResourceARN")
    if isinstance(arn, str) and ":stream/" in arn:
        return arn.split(":stream/", 1)[1].split("/", 1)[0]
    return None


class Handler:
    """Request handling for one :class:`Emulator`."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.emu.max_media_bytes)
        app.router.add_get("/", self.root_get)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # -- plumbing ----------------------------------------------------------------------

    async def root_get(self, request: web.Request) -> web.StreamResponse:
        """The signaling channel WebSocket (ConnectAsMaster/Viewer); else the usual route."""
        if "X-Amz-ChannelARN" in request.rel_url.query:
            return await self.emu.signaling.connect(request)
        return await self.handle(request)

    def error_response(
        self,
        error: ServiceError,
        *,
        request_id: str,
        service: ServiceSpec | None = None,
    ) -> web.Response:
        if service is not None and error.code in service.errors and type(error) is ServiceError:
            cls = service.errors[error.code]
            error = cls(error.message, code=error.code, status_code=error.status_code)
        error.request_id = request_id
        status, headers, body = protocol.encode_error(error)
        if service is not None:
            body = routing.error_body(service, error, request_id) or body
        headers = {**headers, "x-amzn-RequestId": request_id}
        return web.Response(status=status, headers=headers, body=body)

    def api_error(self, exc: ApiError) -> ServiceError:
        return ServiceError(exc.message, code=exc.code, status_code=exc.status)

    def log_call(
        self,
        *,
        operation: str,
        stream: str | None,
        status: int,
        request_id: str,
        error_code: str | None = None,
        access_key: str | None = None,
    ) -> None:
        self.emu.log.add(
            LogEntry(
                kind="call",
                time=self.emu.clock.now(),
                operation=operation,
                stream=stream,
                status=status,
                request_id=request_id,
                error_code=error_code,
                access_key=access_key,
            )
        )

    async def _read_body(self, request: web.Request, limit: int) -> bytes:
        if request.content_length is not None and request.content_length > limit:
            raise ApiError(
                "InvalidArgumentException",
                f"Request body of {request.content_length} bytes exceeds the limit of {limit} bytes.",
                413,
            )
        parts: list[bytes] = []
        total = 0
        while True:
            chunk = await request.content.readany()
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise ApiError(
                    "InvalidArgumentException",
                    f"Request body exceeds the limit of {limit} bytes.",
                    413,
                )
            parts.append(chunk)
        return b"".join(parts)

    # -- the route -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        emu = self.emu
        request_id = str(uuid.uuid4())
        raw_path = request.rel_url.raw_path
        if request.method == "GET" and raw_path.startswith(("/hls/v1/", "/dash/v1/")):
            return await emu.archived.serve(request, request_id)  # SessionToken, not SigV4

        is_put_media = request.method == "POST" and raw_path == "/putMedia"
        query = list(request.rel_url.query.items())
        matched = None if is_put_media else routing.match(request.method, raw_path, query)
        operation = PUT_MEDIA if is_put_media else (matched[1].name if matched else "Unknown")
        service = matched[0] if matched else control.SERVICE
        stream: str | None = request.headers.get("x-amzn-stream-name") if is_put_media else None
        access_key: str | None = None

        def fail(error: ServiceError) -> web.Response:
            error = routing.in_service_terms(service, error)
            self.log_call(
                operation=operation,
                stream=stream,
                status=error.status_code or 400,
                request_id=request_id,
                error_code=error.code,
                access_key=access_key,
            )
            return self.error_response(error, request_id=request_id, service=service)

        try:
            if not emu.global_limiter.allow("*"):
                return fail(
                    ServiceError(
                        f"Rate exceeded: more than {emu.max_requests_per_second} requests per second.",
                        code="ClientLimitExceededException",
                        status_code=400,
                    )
                )
            content_hash = request.headers.get("x-amz-content-sha256")
            streaming_put = is_put_media and content_hash == UNSIGNED_PAYLOAD
            if streaming_put:
                body = b""  # read as it arrives, after the headers' signature is checked
            else:
                limit = emu.max_media_bytes if is_put_media else emu.max_body_bytes
                body = await self._read_body(request, limit)
            if emu.verify_signatures:
                try:
                    access_key = verify_request(
                        method=request.method,
                        path=raw_path,
                        query=query,
                        headers=request.headers,
                        body=body,
                        secret_for=emu.secret_for,
                        now=datetime.now(UTC),
                        region=emu.region,
                        service=service.signing_name if matched or is_put_media else None,
                    )
                except SignatureError as exc:
                    return fail(exc)
            if streaming_put:
                return await self.put_media_streaming(request, request_id, access_key)
            if matched is None and not is_put_media:
                return fail(routing.unknown_operation(request.method, raw_path))
            if is_put_media:
                return await self.put_media(request, body, request_id, access_key)
            assert matched is not None
            service, op, labels = matched
            depth = json_depth(body)
            if depth > MAX_JSON_DEPTH:
                return fail(
                    routing.bad_request(
                        service,
                        f"Malformed request body: JSON nested {depth} levels deep; "
                        f"at most {MAX_JSON_DEPTH} are accepted.",
                    )
                )
            try:
                decoded = protocol.decode_request(
                    service,
                    op,
                    path_labels=labels,
                    query=query,
                    headers=request.headers,
                    body=body,
                )
            except ParamValidationError as exc:
                return fail(routing.bad_request(service, str(exc)))
            except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:
                # UnicodeDecodeError is a ValueError; OverflowError an ArithmeticError.
                return fail(routing.bad_request(service, f"Malformed request body: {exc}"))
            params: Wire = to_wire(service, op.input_shape, decoded) if op.input_shape else {}
            stream = _stream_name_of(params)
            fault = emu.faults.take("http_500", operation, stream)
            if fault is not None:
                return fail(
                    ServiceError(
                        "We encountered an internal error. Please try again.",
                        code="InternalFailure",
                        status_code=500,
                    )
                )
            if emu.faults.take("throttle", operation, stream) is not None:
                return fail(
                    ServiceError(
                        "Rate exceeded (injected fault).",
                        code="ClientLimitExceededException",
                        status_code=400,
                    )
                )
            if op.name in STREAMING_OPS:
                return await self.media_call(
                    request, service, op, params, request_id, stream, access_key
                )
            if op.name == "GetClip":
                clip = await emu.archived.get_clip_response(
                    request, params, {"x-amzn-RequestId": request_id}
                )
                self.log_call(
                    operation=operation,
                    stream=stream,
                    status=200,
                    request_id=request_id,
                    access_key=access_key,
                )
                return clip
            stall = emu.faults.take("stall", operation, stream)
            if stall is not None:
                await asyncio.sleep(stall.seconds)
            result = await emu.dispatch(op.name, params, service=service.name)
            output = from_wire(service, op.output_shape, result) if op.output_shape else None
            status, headers, out_body = protocol.encode_response(service, op, output)
            self.log_call(
                operation=operation,
                stream=stream,
                status=status,
                request_id=request_id,
                access_key=access_key,
            )
            headers = {**headers, "x-amzn-RequestId": request_id}
            cut = emu.faults.take("cut", operation, stream)
            if cut is not None:
                return await self._cut_response(request, status, headers, out_body, cut)
            return web.Response(status=status, headers=headers, body=out_body)
        except ApiError as exc:
            return fail(self.api_error(exc))
        except Exception as exc:  # a bug here must still answer like AWS, and be visible
            logger.exception("emulator: %s %s failed", request.method, raw_path)
            return fail(
                ServiceError(
                    f"Internal error in the emulator: {type(exc).__name__}",
                    code="InternalFailure",
                    status_code=500,
                )
            )

    async def _cut_response(
        self,
        request: web.Request,
        status: int,
        headers: dict[str, str],
        body: bytes,
        cut: Fault,
    ) -> web.StreamResponse:
        """Promise the whole body, send ``cut.after_bytes`` of it, then drop the connection."""
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        if cut.after_bytes:
            await response.write(body[: cut.after_bytes])
        if request.transport is not None:
            request.transport.abort()
        return response

    # -- PutMedia ----------------------------------------------------------------------

    def _put_media_target(self, request: web.Request) -> tuple[Wire, float | None]:
        """The stream a PutMedia names (headers) and its producer start timestamp, if any."""
        params: Wire = {}
        if request.headers.get("x-amzn-stream-name"):
            params["StreamName"] = request.headers["x-amzn-stream-name"]
        if request.headers.get("x-amzn-stream-arn"):
            params["StreamARN"] = request.headers["x-amzn-stream-arn"]
        stream = self.emu.control.stream(params)
        producer_start: float | None = None
        start_header = request.headers.get("x-amzn-producer-start-timestamp")
        if start_header:
            try:
                producer_start = float(start_header)
            except ValueError:
                raise ApiError(
                    "InvalidArgumentException",
                    f"x-amzn-producer-start-timestamp {start_header!r} is not epoch seconds.",
                ) from None
        return stream, producer_start

    async def put_media(
        self, request: web.Request, body: bytes, request_id: str, access_key: str | None
    ) -> web.Response:
        """A whole signed body: store every fragment, then one PERSISTED ack per fragment.

        The fragments are placed so that the media ends now (like ``load_media``).
        """
        stream, producer_start = self._put_media_target(request)
        records = await self.emu.ingest(stream["StreamName"], body, producer_start=producer_start)
        self.log_call(
            operation=PUT_MEDIA,
            stream=stream["StreamName"],
            status=200,
            request_id=request_id,
            access_key=access_key,
        )
        return web.Response(
            status=200,
            headers={"Content-Type": "application/json", "x-amzn-RequestId": request_id},
            body=b"".join(
                ack_line("PERSISTED", rec.timecode_ms, rec.number_str) for rec in records
            ),
        )

    async def put_media_streaming(
        self, request: web.Request, request_id: str, access_key: str | None
    ) -> web.StreamResponse:
        """``x-amz-content-sha256: UNSIGNED-PAYLOAD``: see :mod:`.putmedia` (acks as it streams).

        Server timestamps are arrival times. Producer timestamps follow
        ``x-amzn-fragment-timecode-type``: ABSOLUTE (cluster timecodes are epoch ms) or
        RELATIVE (added to ``x-amzn-producer-start-timestamp``, else to the first arrival).
        """
        emu = self.emu
        stream, producer_start = self._put_media_target(request)
        name = str(stream["StreamName"])
        if emu.faults.take("http_500", PUT_MEDIA, name) is not None:
            raise ApiError(
                "InternalFailure", "We encountered an internal error. Please try again.", 500
            )
        if emu.faults.take("throttle", PUT_MEDIA, name) is not None:
            raise ApiError("ClientLimitExceededException", "Rate exceeded (injected fault).")
        if not emu.putmedia_limiter.allow(name):
            raise ApiError(
                "ClientLimitExceededException",
                f"Exceeded the limit of {emu.putmedia_calls_per_second} PutMedia calls per "
                f"second on stream {name}.",
            )
        session = PutMediaSession(
            emu,
            request,
            request_id=request_id,
            access_key=access_key,
            stream=stream,
            producer_start=producer_start,
            log_call=self.log_call,
        )
        return await session.run()

    # -- GetMedia / GetMediaForFragmentList -------------------------------------------------

    async def media_call(
        self,
        request: web.Request,
        service: ServiceSpec,
        op: OperationSpec,
        params: Wire,
        request_id: str,
        stream_name: str | None,
        access_key: str | None,
    ) -> web.StreamResponse:
        emu = self.emu
        stream = emu.control.stream(params)
        name = stream["StreamName"]
        if op.name == "GetMedia":
            if not emu.getmedia_limiter.allow(name):
                raise ApiError(
                    "ClientLimitExceededException",
                    f"Exceeded the limit of {emu.getmedia_calls_per_second} GetMedia calls "
                    f"per second on stream {name}.",
                )
            fragments = emu.open_get_media(name, params)
        else:
            fragments = emu.open_fragment_list(name, params)
        assert op.output_shape is not None
        output = from_wire(service, op.output_shape, {"ContentType": MEDIA_CONTENT_TYPE})
        status, headers, _ = protocol.encode_response(service, op, output)
        response = web.StreamResponse(
            status=status, headers={**headers, "x-amzn-RequestId": request_id}
        )
        await response.prepare(request)
        self.log_call(
            operation=op.name,
            stream=name,
            status=status,
            request_id=request_id,
            access_key=access_key,
        )
        now = emu.clock.now
        self.emu.log.add(
            LogEntry(
                kind="open",
                time=now(),
                operation=op.name,
                stream=name,
                status=status,
                request_id=request_id,
                access_key=access_key,
            )
        )
        sent = 0
        count = 0
        reason = "end"
        cut = emu.faults.take("cut", op.name, name)
        stall = emu.faults.take("stall", op.name, name)
        error_tag = emu.faults.take("error_tag", op.name, name)

        # Byte offsets in the body where the cut / stall happen, fixed once the fragment
        # they count from (``after_fragments``) begins.
        cut_at: int | None = None
        stall_at: int | None = None

        def arm() -> None:
            nonlocal cut_at, stall_at
            if cut is not None and cut_at is None and count >= cut.after_fragments:
                cut_at = sent + cut.after_bytes
            if stall is not None and stall_at is None and count >= stall.after_fragments:
                stall_at = sent + stall.after_bytes

        async def write(data: bytes) -> None:
            nonlocal sent, stall, stall_at
            arm()
            while data:
                piece = data
                if stall_at is not None and stall_at >= sent:
                    piece = data[: stall_at - sent]
                if cut_at is not None:
                    piece = piece[: max(0, cut_at - sent)]
                if piece:
                    await response.write(piece)
                    sent += len(piece)
                    data = data[len(piece) :]
                if stall is not None and stall_at is not None and sent >= stall_at:
                    seconds, stall, stall_at = stall.seconds, None, None
                    await asyncio.sleep(seconds)
                    continue
                if cut_at is not None and sent >= cut_at:
                    transport = request.transport
                    if transport is not None:
                        transport.abort()
                    raise CutConnection

        try:
            if error_tag is not None and error_tag.after_fragments == 0:
                await write(_error_bytes(error_tag))
                reason = "error_tag"
            else:
                async for data in fragments:
                    await write(data)
                    count += 1
                    if error_tag is not None and count >= error_tag.after_fragments:
                        await write(_error_bytes(error_tag))
                        reason = "error_tag"
                        break
                else:
                    reason = fragments.reason
            await response.write_eof()
        except CutConnection:
            reason = "fault_cut"
        except (ConnectionError, asyncio.CancelledError) as exc:
            reason = "client_gone"
            if isinstance(exc, asyncio.CancelledError):
                raise
        except Exception:  # headers are out: all we can do is end the body abruptly
            logger.exception("emulator: %s on stream %s failed mid-body", op.name, name)
            reason = "server_error"
            if request.transport is not None:
                request.transport.abort()
        finally:
            await fragments.aclose()
            self.emu.log.add(
                LogEntry(
                    kind="close",
                    time=now(),
                    operation=op.name,
                    stream=name,
                    status=status,
                    request_id=request_id,
                    bytes_sent=sent,
                    fragments_sent=count,
                    reason=reason,
                    access_key=access_key,
                )
            )
        return response


def _error_bytes(fault: Fault) -> bytes:
    from ..mkv import writer

    return writer.kvs_error_fragment(fault.error_code, str(fault.error_id))
