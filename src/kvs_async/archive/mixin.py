"""Helpers on ``KinesisVideoArchivedMediaClient`` for the loops users would write by hand.

- ``await client.get_clip_to_file(path, stream_name=..., start=..., end=...)``: GetClip's MP4
  streamed to disk (a ``.part`` file renamed when complete), with a progress callback.
- ``async for image in client.iter_images(...)``: GetImages pages followed through
  ``NextToken`` (and ranges longer than KVS's 300 s split into windows), each image's
  bytes decoded from base64, with its timestamp.
- ``await client.hls_url(...)`` / ``await client.dash_url(...)``: a session URL a player opens.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from attrs import define

from .._enums import coerce
from ..errors import KvsError

if TYPE_CHECKING:
    from ..kinesis_video_archived_media import KinesisVideoArchivedMediaClient

#: KVS refuses a GetImages range longer than this.
IMAGES_MAX_RANGE = timedelta(seconds=300)


class ArchiveError(KvsError):
    """A helper could not finish: a malformed response, or a bad argument combination."""


@define(frozen=True, slots=True, kw_only=True)
class ClipFile:
    """What ``get_clip_to_file`` wrote."""

    path: Path
    size: int
    content_type: str | None


@define(frozen=True, slots=True, kw_only=True)
class ArchivedImage:
    """One GetImages result: ``content`` (JPEG/PNG bytes) or ``error`` (NO_MEDIA, MEDIA_ERROR)."""

    timestamp: datetime
    content: bytes | None
    error: str | None
    format: str


#: ``progress(bytes_written)`` after every piece written.
Progress = Callable[[int], None]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ArchiveMixin:
    """Adds ``get_clip_to_file``, ``iter_images``, ``hls_url`` and ``dash_url``."""

    def _archived(self) -> KinesisVideoArchivedMediaClient:
        return cast("KinesisVideoArchivedMediaClient", self)

    async def get_clip_to_file(
        self,
        path: str | os.PathLike[str],
        *,
        stream_name: str | None = None,
        stream_arn: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        timestamp_type: str = "SERVER_TIMESTAMP",
        clip_fragment_selector: Any = None,
        progress: Progress | None = None,
    ) -> ClipFile:
        """Save the MP4 clip of ``start``..``end`` (or ``clip_fragment_selector``) to ``path``.

        The body is written as it arrives, never held whole; ``path`` appears only once the
        clip is complete (a failed download leaves no partial file behind).
        """
        from ..kinesis_video_archived_media import (
            ClipFragmentSelector,
            ClipFragmentSelectorType,
            ClipTimestampRange,
        )

        if clip_fragment_selector is None:
            if start is None or end is None:
                raise ArchiveError(
                    "get_clip_to_file needs start and end, or clip_fragment_selector"
                )
            clip_fragment_selector = ClipFragmentSelector(
                fragment_selector_type=coerce(ClipFragmentSelectorType, timestamp_type),
                timestamp_range=ClipTimestampRange(
                    start_timestamp=_utc(start), end_timestamp=_utc(end)
                ),
            )
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        output = await self._archived().get_clip(
            stream_name=stream_name,
            stream_arn=stream_arn,
            clip_fragment_selector=clip_fragment_selector,
        )
        payload = output.payload
        if payload is None:
            raise ArchiveError("GetClip answered without a body")
        written = 0
        handle = await asyncio.to_thread(partial.open, "wb")
        try:
            async for piece in payload:
                await asyncio.to_thread(handle.write, piece)
                written += len(piece)
                if progress is not None:
                    progress(written)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, partial, target)
        except BaseException:
            payload.close()
            handle.close()
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        return ClipFile(path=target, size=written, content_type=output.content_type)

    async def iter_images(
        self,
        *,
        start: datetime,
        end: datetime,
        format: str = "JPEG",
        stream_name: str | None = None,
        stream_arn: str | None = None,
        image_selector_type: str = "SERVER_TIMESTAMP",
        sampling_interval: int | None = None,
        format_config: Mapping[str, str] | None = None,
        width_pixels: int | None = None,
        height_pixels: int | None = None,
        max_results: int | None = None,
    ) -> AsyncIterator[ArchivedImage]:
        """Every image from ``start`` to ``end``, one per ``sampling_interval`` ms, in order.

        Follows ``NextToken``; a range longer than KVS's 300 s is asked for in windows that
        keep the sampling grid. Images the service could not make come with ``error`` set.
        """
        from ..kinesis_video_archived_media import Format, ImageSelectorType

        start, end = _utc(start), _utc(end)
        if end < start:
            raise ArchiveError("iter_images: end is before start")
        client = self._archived()
        for lo, hi in _windows(start, end, sampling_interval):
            token: str | None = None
            while True:
                page = await client.get_images(
                    stream_name=stream_name,
                    stream_arn=stream_arn,
                    image_selector_type=coerce(ImageSelectorType, image_selector_type),
                    start_timestamp=lo,
                    end_timestamp=hi,
                    sampling_interval=sampling_interval,
                    format=coerce(Format, format),
                    format_config=format_config,
                    width_pixels=width_pixels,
                    height_pixels=height_pixels,
                    max_results=max_results,
                    next_token=token,
                )
                for image in page.images or ():
                    yield _image(image, format)
                token = page.next_token
                if not token:
                    break

    async def hls_url(
        self,
        *,
        stream_name: str | None = None,
        stream_arn: str | None = None,
        playback_mode: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        timestamp_type: str = "SERVER_TIMESTAMP",
        container_format: str | None = None,
        discontinuity_mode: str | None = None,
        display_fragment_timestamp: str | None = None,
        expires: int | None = None,
        max_media_playlist_fragment_results: int | None = None,
    ) -> str:
        """An HLS master playlist URL (ffplay, VLC, Safari or hls.js play it).

        Without ``start``: LIVE. With ``start``: LIVE_REPLAY, or ON_DEMAND when ``end`` is
        given too (unless ``playback_mode`` says otherwise).
        """
        from ..kinesis_video_archived_media import (
            ContainerFormat,
            HLSDiscontinuityMode,
            HLSDisplayFragmentTimestamp,
            HLSFragmentSelector,
            HLSFragmentSelectorType,
            HLSPlaybackMode,
            HLSTimestampRange,
        )

        mode = playback_mode or _mode(start, end)
        selector = None
        if start is not None or timestamp_type != "SERVER_TIMESTAMP":
            selector = HLSFragmentSelector(
                fragment_selector_type=coerce(HLSFragmentSelectorType, timestamp_type),
                timestamp_range=None
                if start is None
                else HLSTimestampRange(
                    start_timestamp=_utc(start), end_timestamp=None if end is None else _utc(end)
                ),
            )
        out = await self._archived().get_hls_streaming_session_url(
            stream_name=stream_name,
            stream_arn=stream_arn,
            playback_mode=coerce(HLSPlaybackMode, mode),
            hls_fragment_selector=selector,
            container_format=coerce(ContainerFormat, container_format),
            discontinuity_mode=coerce(HLSDiscontinuityMode, discontinuity_mode),
            display_fragment_timestamp=coerce(
                HLSDisplayFragmentTimestamp, display_fragment_timestamp
            ),
            expires=expires,
            max_media_playlist_fragment_results=max_media_playlist_fragment_results,
        )
        if not out.hls_streaming_session_url:
            raise ArchiveError("GetHLSStreamingSessionURL answered without a URL")
        return out.hls_streaming_session_url

    async def dash_url(
        self,
        *,
        stream_name: str | None = None,
        stream_arn: str | None = None,
        playback_mode: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        timestamp_type: str = "SERVER_TIMESTAMP",
        display_fragment_timestamp: str | None = None,
        display_fragment_number: str | None = None,
        expires: int | None = None,
        max_manifest_fragment_results: int | None = None,
    ) -> str:
        """An MPEG-DASH manifest URL; modes chosen from ``start``/``end`` as in ``hls_url``."""
        from ..kinesis_video_archived_media import (
            DASHDisplayFragmentNumber,
            DASHDisplayFragmentTimestamp,
            DASHFragmentSelector,
            DASHFragmentSelectorType,
            DASHPlaybackMode,
            DASHTimestampRange,
        )

        mode = playback_mode or _mode(start, end)
        selector = None
        if start is not None or timestamp_type != "SERVER_TIMESTAMP":
            selector = DASHFragmentSelector(
                fragment_selector_type=coerce(DASHFragmentSelectorType, timestamp_type),
                timestamp_range=None
                if start is None
                else DASHTimestampRange(
                    start_timestamp=_utc(start), end_timestamp=None if end is None else _utc(end)
                ),
            )
        out = await self._archived().get_dash_streaming_session_url(
            stream_name=stream_name,
            stream_arn=stream_arn,
            playback_mode=coerce(DASHPlaybackMode, mode),
            dash_fragment_selector=selector,
            display_fragment_timestamp=coerce(
                DASHDisplayFragmentTimestamp, display_fragment_timestamp
            ),
            display_fragment_number=coerce(DASHDisplayFragmentNumber, display_fragment_number),
            expires=expires,
            max_manifest_fragment_results=max_manifest_fragment_results,
        )
        if not out.dash_streaming_session_url:
            raise ArchiveError("GetDASHStreamingSessionURL answered without a URL")
        return out.dash_streaming_session_url


def _mode(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return "LIVE"
    return "ON_DEMAND" if end is not None else "LIVE_REPLAY"


def _windows(
    start: datetime, end: datetime, interval_ms: int | None
) -> list[tuple[datetime, datetime]]:
    """[start, end] cut into ranges KVS accepts, each starting on the sampling grid."""
    if end - start <= IMAGES_MAX_RANGE or not interval_ms:
        return [(start, end)]
    step = timedelta(milliseconds=interval_ms)
    per_window = max(1, IMAGES_MAX_RANGE // step)  # instants after a window's first
    out = []
    lo = start
    while lo <= end:
        hi = min(lo + step * per_window, end)
        out.append((lo, hi))
        lo = lo + step * (per_window + 1)
    return out


def _image(image: Any, fmt: str) -> ArchivedImage:
    content = None
    if image.image_content:
        try:
            content = base64.b64decode(image.image_content, validate=True)
        except (binascii.Error, ValueError):
            raise ArchiveError(
                f"GetImages: the image at {image.time_stamp} is not valid base64"
            ) from None
    stamp = image.time_stamp or datetime.fromtimestamp(0, UTC)
    error = None if image.error is None else str(image.error)
    return ArchivedImage(timestamp=stamp, content=content, error=error, format=fmt)
