"""Archived media in the emulator: HLS, DASH, GetClip and GetImages, remuxed by PyAV.

:class:`ArchivedMedia` adds three JSON operations to the emulator's dispatch
(``GetHLSStreamingSessionURL``, ``GetDASHStreamingSessionURL``, ``GetImages``), streams
``GetClip``'s MP4 body, and serves the session URLs KVS hands out, unsigned and authorized
by their ``SessionToken`` alone, as KVS does::

    /hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=...
    /hls/v1/getHLSMediaPlaylist.m3u8?SessionToken=...
    /hls/v1/getMP4InitFragment.mp4?SessionToken=...
    /hls/v1/getMP4MediaFragment.mp4?FragmentNumber=...&SessionToken=...
    /hls/v1/getTSFragment.ts?FragmentNumber=...&SessionToken=...
    /dash/v1/getDASHManifest.mpd?SessionToken=...
    /dash/v1/getMP4InitFragment.mp4?TrackNumber=...&SessionToken=...
    /dash/v1/getMP4MediaFragment.mp4?SequenceNumber=...&TrackNumber=...&SessionToken=...

(DASH: one adaptation set per track, segments by session sequence number, ``$Number$``.)

Without PyAV and Pillow (the ``kvs_async[media]`` extra) these operations answer a 400
that names the extra; everything else in the emulator works.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from ... import protocol
from ...errors import ServiceError
from ..controlplane import ApiError, Wire, invalid
from ..storage import FragmentRecord, StreamMedia
from . import codecs, images, playlists, remux
from .sessions import LIVE_WINDOW_SECONDS, MAX_RANGE_SECONDS, Session, select_range, timestamp_of

if TYPE_CHECKING:
    from .. import Emulator

__all__ = ["MEDIA_EXTRA", "ArchivedMedia", "Session"]

MEDIA_EXTRA = remux.MEDIA_EXTRA
#: GetClip: the first 200 fragments or 100 MB of the range (KVS limits).
CLIP_MAX_FRAGMENTS = 200
CLIP_MAX_BYTES = 100 * 1024 * 1024
#: Bytes of remuxed fragments kept for other requests (players re-read, viewers share).
CACHE_BYTES = 128 << 20
_READ_PIECE = 1 << 20
_DEFAULT_EXPIRES = 300


def _missing_extra(operation: str, exc: remux.MediaExtraMissing) -> ApiError:
    """A 400 in the operation's own terms (GetImages' model has no media-type error)."""
    if operation == "GetImages":
        code = "InvalidArgumentException"
    else:
        code = "UnsupportedStreamMediaTypeException"
    return ApiError(code, f"The emulator cannot serve {operation}: {exc}", 400)


def _track(request: web.Request) -> int | None:
    text = request.query.get("TrackNumber")
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise invalid(f"TrackNumber {text[:20]!r} is not a track number.")
    return int(text)


class ArchivedMedia:
    """The archived-media side of one :class:`~kvs_async.emulator.Emulator`."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.sessions: dict[str, Session] = {}
        self._cache: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._cache_bytes = 0
        self._inflight: dict[tuple[object, ...], asyncio.Future[bytes]] = {}

    def operations(self) -> dict[str, Callable[[Wire], Awaitable[Wire]]]:
        return {
            "GetHLSStreamingSessionURL": self.get_hls_streaming_session_url,
            "GetDASHStreamingSessionURL": self.get_dash_streaming_session_url,
            "GetImages": self.get_images,
        }

    # -- shared checks --------------------------------------------------------------------

    def _stream(self, p: Wire) -> tuple[Wire, StreamMedia]:
        stream = self.emu.control.stream(p)
        if int(stream.get("DataRetentionInHours") or 0) == 0:
            raise ApiError(
                "NoDataRetentionException",
                f"Stream {stream['StreamName']} does not retain data (DataRetentionInHours is 0).",
            )
        return stream, self.emu.media.setdefault(stream["StreamARN"], StreamMedia())

    @staticmethod
    def _need_media(operation: str) -> None:
        try:
            remux.require_media()
        except remux.MediaExtraMissing as exc:
            raise _missing_extra(operation, exc) from None

    @staticmethod
    def _range(selector: Wire | None, *, what: str, required: bool) -> tuple[float, float | None]:
        rng = (selector or {}).get("TimestampRange")
        if not rng or rng.get("StartTimestamp") is None:
            if required:
                raise invalid(f"{what}: TimestampRange.StartTimestamp is required.")
            return 0.0, None
        start = float(rng["StartTimestamp"])
        end = None if rng.get("EndTimestamp") is None else float(rng["EndTimestamp"])
        if end is not None:
            if end <= start:
                raise invalid(f"{what}: EndTimestamp must be later than StartTimestamp.")
            if end - start > MAX_RANGE_SECONDS:
                raise invalid(f"{what}: EndTimestamp must be within 24 hours of StartTimestamp.")
        return start, end

    # -- HLS / DASH session URLs ----------------------------------------------------------

    async def get_hls_streaming_session_url(self, p: Wire) -> Wire:
        session = self._new_session(p, kind="HLS")
        url = f"{self.emu.url}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken={session.token}"
        return {"HLSStreamingSessionURL": url}

    async def get_dash_streaming_session_url(self, p: Wire) -> Wire:
        session = self._new_session(p, kind="DASH")
        url = f"{self.emu.url}/dash/v1/getDASHManifest.mpd?SessionToken={session.token}"
        return {"DASHStreamingSessionURL": url}

    def _new_session(self, p: Wire, *, kind: str) -> Session:
        operation = f"Get{kind}StreamingSessionURL"
        stream, media = self._stream(p)
        self._need_media(operation)
        mode = str(p.get("PlaybackMode") or "LIVE")
        selector = p.get(f"{kind}FragmentSelector")
        producer = (selector or {}).get("FragmentSelectorType", "SERVER_TIMESTAMP") == (
            "PRODUCER_TIMESTAMP"
        )
        now = self.emu.clock.now()
        if mode == "LIVE":
            if (selector or {}).get("TimestampRange"):
                raise invalid(
                    f"{operation}: TimestampRange must not be set when PlaybackMode is LIVE."
                )
            start, end = 0.0, None
            frags = select_range(media, producer=producer, start=0.0, end=None)
            recent = [f for f in media.fragments if f.server_ts >= now - LIVE_WINDOW_SECONDS]
            if not recent:
                raise ApiError(
                    "ResourceNotFoundException",
                    f"No fragments found in the last 30 seconds of stream {stream['StreamName']}.",
                    404,
                )
        else:
            if not selector:
                raise invalid(f"{operation}: {kind}FragmentSelector is required for {mode}.")
            start, end = self._range(selector, what=operation, required=True)
            if mode == "ON_DEMAND" and end is None:
                raise invalid(
                    f"{operation}: EndTimestamp is required when PlaybackMode is ON_DEMAND."
                )
            frags = select_range(media, producer=producer, start=start, end=end)
            if not frags:
                raise ApiError(
                    "ResourceNotFoundException",
                    f"No fragments found in stream {stream['StreamName']} for the requested "
                    "time range.",
                    404,
                )
        container = "FRAGMENTED_MP4"
        rules = codecs.DASH
        if kind == "HLS":
            container = str(p.get("ContainerFormat") or container)
            rules = codecs.HLS_TS if container == "MPEG_TS" else codecs.HLS_MP4
        first = frags[-1] if mode == "LIVE" else frags[0]
        codecs.check_tracks(
            codecs.parse_tracks(first.tracks), rules, f"fragment {first.number_str}"
        )
        default_max = 1000 if mode == "ON_DEMAND" else 5
        max_key = (
            "MaxMediaPlaylistFragmentResults" if kind == "HLS" else "MaxManifestFragmentResults"
        )
        discontinuity = str(p.get("DiscontinuityMode") or ("NEVER" if producer else "ALWAYS"))
        expires = int(p.get("Expires") or _DEFAULT_EXPIRES)
        session = Session(
            kind=kind,
            stream_name=str(stream["StreamName"]),
            media=media,
            mode=mode,
            producer=producer,
            start=start if mode != "LIVE" else None,
            end=end,
            container=container,
            discontinuity=discontinuity if kind == "HLS" else "NEVER",
            display_timestamp=p.get("DisplayFragmentTimestamp") == "ALWAYS",
            display_number=p.get("DisplayFragmentNumber") == "ALWAYS",
            max_results=int(p.get(max_key) or default_max),
            created=now,
            expires_at=now + expires,
        )
        session.begin(frags)
        self._purge(now)
        self.sessions[session.token] = session
        return session

    def _purge(self, now: float) -> None:
        for token in [t for t, s in self.sessions.items() if s.expires_at <= now]:
            del self.sessions[token]

    # -- the session URLs -----------------------------------------------------------------

    async def serve(self, request: web.Request, request_id: str) -> web.StreamResponse:
        """Answer a GET under ``/hls/v1/`` or ``/dash/v1/`` (authorized by SessionToken)."""
        try:
            return await self._serve(request, request_id)
        except ApiError as exc:
            error = ServiceError(exc.message, code=exc.code, status_code=exc.status)
            error.request_id = request_id
            status, headers, body = protocol.encode_error(error)
            return web.Response(status=status, headers=headers, body=body)

    def _session(self, request: web.Request, kind: str) -> Session:
        token = request.query.get("SessionToken")
        if not token:
            raise invalid("SessionToken is required.")
        session = self.sessions.get(token)
        now = self.emu.clock.now()
        if session is None or session.kind != kind:
            raise ApiError("NotAuthorizedException", "The SessionToken is not valid.", 403)
        if now >= session.expires_at:
            raise ApiError("NotAuthorizedException", "The streaming session has expired.", 403)
        session.refresh(now)
        return session

    async def _serve(self, request: web.Request, request_id: str) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[1] != "v1" or parts[0] not in ("hls", "dash"):
            raise ApiError("ResourceNotFoundException", f"No resource at {request.path}.", 404)
        kind, name = parts[0].upper(), parts[2]
        session = self._session(request, kind)
        headers = {"x-amzn-RequestId": request_id, "Cache-Control": "no-cache"}
        if kind == "HLS" and name == "getHLSMasterPlaylist.m3u8":
            text, ctype = playlists.hls_master(session), playlists.HLS_CONTENT_TYPE
        elif kind == "HLS" and name == "getHLSMediaPlaylist.m3u8":
            text, ctype = playlists.hls_media(session), playlists.HLS_CONTENT_TYPE
        elif kind == "DASH" and name == "getDASHManifest.mpd":
            text = playlists.dash_manifest(session, self.emu.clock.now())
            ctype = playlists.DASH_CONTENT_TYPE
        elif name == "getMP4InitFragment.mp4":
            frag = self._fragment(session, request, optional=True)
            body = await self._remuxed(session, frag, "init", _track(request))
            return web.Response(body=body, content_type="video/mp4", headers=headers)
        elif name == "getMP4MediaFragment.mp4":
            frag = self._fragment(session, request)
            body = await self._remuxed(session, frag, "fmp4", _track(request))
            return web.Response(body=body, content_type="video/mp4", headers=headers)
        elif kind == "HLS" and name == "getTSFragment.ts" and session.container == "MPEG_TS":
            body = await self._remuxed(session, self._fragment(session, request), "ts")
            return web.Response(body=body, content_type="video/mp2t", headers=headers)
        else:
            raise ApiError("ResourceNotFoundException", f"No resource at {request.path}.", 404)
        return web.Response(text=text, content_type=ctype, headers=headers)

    def _fragment(
        self, session: Session, request: web.Request, *, optional: bool = False
    ) -> FragmentRecord:
        number = request.query.get("FragmentNumber")
        sequence = request.query.get("SequenceNumber")
        if number is None and sequence is None:
            if optional and session.shown:
                return session.shown[0]
            if optional and session.pending:
                return session.pending[0]
            raise invalid("FragmentNumber is required.")
        try:
            if sequence is not None:
                seq = int(sequence)
                if not 0 <= seq < len(session.shown):
                    raise KeyError(seq)
            else:
                seq = session.by_number[int(str(number))]
        except (ValueError, KeyError):
            raise ApiError(
                "ResourceNotFoundException",
                f"Fragment {number if sequence is None else '#' + str(sequence)} is not part "
                "of this streaming session.",
                404,
            ) from None
        return session.shown[seq]

    async def _remuxed(
        self, session: Session, frag: FragmentRecord, what: str, track: int | None = None
    ) -> bytes:
        start_ms = session.start_ms(frag)
        key = (frag.number, what, start_ms, track)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            try:
                if what == "ts":
                    data = await asyncio.to_thread(remux.ts_fragment, frag, start_ms)
                else:
                    init, media = await asyncio.to_thread(
                        remux.fmp4_fragment, frag, start_ms, track
                    )
                    data, other = (init, media) if what == "init" else (media, init)
                    other_what = "fmp4" if what == "init" else "init"
                    self._store((frag.number, other_what, start_ms, track), other)
            except remux.MediaExtraMissing as exc:
                raise _missing_extra(f"{session.kind} fragments", exc) from None
            except remux.RemuxError as exc:
                raise ApiError("InvalidMediaFrameException", str(exc)) from None
            self._store(key, data)
            future.set_result(data)
            return data
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            del self._inflight[key]

    def clear_cache(self) -> None:
        """Forget every remuxed fragment (the next request remuxes again)."""
        self._cache.clear()
        self._cache_bytes = 0

    def _store(self, key: tuple[object, ...], data: bytes) -> None:
        if key in self._cache or len(data) > CACHE_BYTES // 4:
            return
        self._cache[key] = data
        self._cache_bytes += len(data)
        while self._cache_bytes > CACHE_BYTES:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= len(old)

    # -- GetClip ----------------------------------------------------------------------------

    def _clip_fragments(self, p: Wire) -> list[FragmentRecord]:
        stream, media = self._stream(p)
        self._need_media("GetClip")
        selector = p["ClipFragmentSelector"]
        producer = selector["FragmentSelectorType"] == "PRODUCER_TIMESTAMP"
        start, end = self._range(selector, what="GetClip", required=True)
        frags = select_range(media, producer=producer, start=start, end=end)
        if not frags:
            raise ApiError(
                "ResourceNotFoundException",
                f"No fragments found in stream {stream['StreamName']} for the requested time range.",
                404,
            )
        picked: list[FragmentRecord] = []
        total = 0
        for frag in frags[:CLIP_MAX_FRAGMENTS]:
            if picked and total + frag.size > CLIP_MAX_BYTES:
                break
            picked.append(frag)
            total += frag.size
        first_tracks = codecs.parse_tracks(picked[0].tracks)
        codecs.check_tracks(first_tracks, codecs.CLIP, f"fragment {picked[0].number_str}")
        expected = [(t.number, t.codec_id, t.codec_private) for t in first_tracks]
        for frag in picked[1:]:
            if frag.tracks is picked[0].tracks or frag.tracks == picked[0].tracks:
                continue
            got = [
                (t.number, t.codec_id, t.codec_private) for t in codecs.parse_tracks(frag.tracks)
            ]
            if got != expected:
                raise ApiError(
                    "InvalidCodecPrivateDataException",
                    f"GetClip: the tracks or codec private data change at fragment "
                    f"{frag.number_str}; a clip needs the same ones throughout.",
                )
        return picked

    async def get_clip_response(
        self, request: web.Request, p: Wire, headers: dict[str, str]
    ) -> web.StreamResponse:
        """Build the MP4 of the range in a temporary file, then stream it out."""
        frags = self._clip_fragments(p)
        producer = p["ClipFragmentSelector"]["FragmentSelectorType"] == "PRODUCER_TIMESTAMP"
        starts: list[int] = []
        origin = timestamp_of(frags[0], producer)
        for i, frag in enumerate(frags):
            at = round((timestamp_of(frag, producer) - origin) * 1000)
            if i:  # never back in time: an overlap would make the muxer refuse frames
                at = max(at, starts[-1] + frags[i - 1].duration_ms)
            starts.append(at)
        fd, name = tempfile.mkstemp(prefix="kvs-emu-clip-", suffix=".mp4")
        os.close(fd)
        path = Path(name)
        try:
            try:
                await asyncio.to_thread(remux.mp4_clip, frags, starts, path)
            except remux.RemuxError as exc:
                raise ApiError("InvalidMediaFrameException", f"GetClip: {exc}") from None
            response = web.StreamResponse(
                status=200, headers={**headers, "Content-Type": "video/mp4"}
            )
            response.content_length = path.stat().st_size
            await response.prepare(request)
            with path.open("rb") as fh:
                while piece := await asyncio.to_thread(fh.read, _READ_PIECE):
                    await response.write(piece)
            await response.write_eof()
            return response
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    # -- GetImages --------------------------------------------------------------------------

    async def get_images(self, p: Wire) -> Wire:
        _, media = self._stream(p)
        req = images.parse_request(p)
        self._need_media("GetImages")
        lo = req.instants_ms[req.first] / 1000 - 3600
        hi = req.instants_ms[-1] / 1000
        frags = [f for f in media.fragments if lo <= timestamp_of(f, req.producer) <= hi]
        page = await asyncio.to_thread(images.render_page, req, frags)
        out: Wire = {"Images": page}
        token = images.next_token(req)
        if token:
            out["NextToken"] = token
        return out
