"""Stored MKV fragments in, fMP4 / MPEG-TS / MP4 / still images out, all by PyAV.

Everything here is synchronous and CPU-bound: callers run it in a worker thread. PyAV
(``av``) and Pillow are the optional ``kvs_async[media]`` extra; :func:`require_media`
raises :class:`MediaExtraMissing` (naming the extra) when they are not installed.

Timestamps: every fragment is placed on the caller's timeline at ``start_ms`` (its KVS
timestamp minus the session origin); frames keep their offsets inside the fragment.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import define

from ...mkv import writer

if TYPE_CHECKING:
    from ..storage import FragmentRecord

#: What to install for GetClip, GetImages, HLS and DASH.
MEDIA_EXTRA = "kvs_async[media]"
_ID_SEGMENT = 0x18538067
#: fMP4 video timescale: fixed so every media fragment matches the init fragment.
_VIDEO_TIMESCALE = "90000"
_FMP4_FLAGS = "frag_keyframe+empty_moov+default_base_moof+frag_discont"


class MediaExtraMissing(RuntimeError):
    """PyAV / Pillow are not installed: the media operations cannot run."""


class RemuxError(ValueError):
    """PyAV could not read or write the fragment media (bad frames, unsupported codec)."""


def require_media() -> Any:
    """The ``av`` module, or MediaExtraMissing naming the extra to install."""
    try:
        import av
        import PIL.Image  # noqa: F401  (GetImages encodes with Pillow)
    except ImportError as exc:
        raise MediaExtraMissing(
            f"this needs PyAV and Pillow ({exc.name} is not installed): pip install '{MEDIA_EXTRA}'"
        ) from None
    return av


def fragment_document(frag: FragmentRecord) -> bytes:
    """One stored fragment as a standalone Matroska document (EBML header + Segment)."""
    return writer.ebml_header() + writer.element(
        _ID_SEGMENT, frag.info + frag.tracks + frag.cluster
    )


def _open_input(frag: FragmentRecord) -> Any:
    # Probing stays on: it costs ~24 ms of a 37 ms 1080p fragment remux, but it is what
    # learns a stream's B-frame delay, which the demuxer needs to infer decode timestamps.
    av = require_media()
    try:
        return av.open(io.BytesIO(fragment_document(frag)), format="matroska")
    except av.error.FFmpegError as exc:
        raise RemuxError(f"fragment {frag.number}: PyAV cannot read it: {exc}") from None


def _mux_fragments(
    output: Any,
    frags: Sequence[FragmentRecord],
    starts_ms: Sequence[int],
    track: int | None = None,
) -> int:
    """Copy the packets of ``frags`` (of Matroska track ``track``, else all) into ``output``.

    Output streams are made from the first fragment's; returns the video frame count.
    """
    av = require_media()
    out_streams: dict[int, Any] = {}
    frames = 0
    for frag, start_ms in zip(frags, starts_ms, strict=True):
        wanted = None if track is None else _stream_index(frag, track)
        source = _open_input(frag)
        try:
            for stream in source.streams:
                if wanted is not None and stream.index != wanted:
                    continue
                if stream.index not in out_streams:
                    if frag is not frags[0]:
                        raise RemuxError(
                            f"fragment {frag.number} has a track the first fragment lacks"
                        )
                    made = output.add_stream_from_template(stream)
                    if stream.codec_context.name == "hevc":
                        made.codec_context.codec_tag = "hvc1"  # what Apple's HLS players require
                    out_streams[stream.index] = made
            if not out_streams:
                raise RemuxError(f"fragment {frag.number} holds no track PyAV can read")
            packets = (
                p  # not the flush packet demux() ends with, nor another track's
                for p in source.demux()
                if (p.pts is not None or p.dts is not None) and p.stream.index in out_streams
            )
            for packet in _with_dts(packets):
                tb = packet.time_base or source.streams[packet.stream.index].time_base
                shift = round(Fraction(start_ms - frag.timecode_ms, 1000) / Fraction(tb))
                if packet.pts is not None:
                    packet.pts += shift
                if packet.dts is not None:
                    packet.dts += shift
                packet.stream = out_streams[packet.stream.index]
                output.mux(packet)
                if packet.stream.type == "video":
                    frames += 1
        except av.error.FFmpegError as exc:
            raise RemuxError(f"fragment {frag.number}: {exc}") from None
        finally:
            source.close()
    return frames


def _with_dts(packets: Iterable[Any]) -> Iterator[Any]:
    """The packets of one fragment, each with a decode timestamp.

    Matroska stores presentation times only; a demuxer opened on one fragment infers DTS
    from the third frame or so of a stream with B-frames, and leaves the first ones
    without. Left so, the muxer guesses DTS = PTS and then meets a smaller real one.
    Those first frames get the DTS before the first known one, one frame apart (and
    all frames DTS = PTS when the stream never reorders).
    """
    held: dict[int, list[Any]] = {}
    known: set[int] = set()
    for packet in packets:
        index = packet.stream.index
        if packet.dts is None and index not in known:
            held.setdefault(index, []).append(packet)
            continue
        waiting = held.pop(index, [])
        if packet.dts is None:
            packet.dts = packet.pts
        known.add(index)
        step = packet.duration or (waiting[0].duration if waiting else 0) or 1
        for k, early in enumerate(waiting):
            early.dts = min(early.pts, packet.dts - (len(waiting) - k) * step)
            yield early
        yield packet
    for waiting in held.values():
        for packet in waiting:
            packet.dts = packet.pts
            yield packet


def _mp4_flavour(frag: FragmentRecord) -> str:
    """ffmpeg's ``mp4`` muxer has no sample entry for G.711; its ``mov`` flavour writes ``alaw``/``ulaw``."""
    from .codecs import G711, parse_tracks

    return "mov" if any(t.codec_id == G711 for t in parse_tracks(frag.tracks)) else "mp4"


def _stream_index(frag: FragmentRecord, track: int) -> int:
    """The PyAV stream index of a Matroska track number (streams follow TrackEntry order)."""
    from .codecs import parse_tracks

    numbers = [t.number for t in parse_tracks(frag.tracks)]
    if track not in numbers:
        raise RemuxError(f"fragment {frag.number} has no track {track}")
    return numbers.index(track)


def fmp4_fragment(
    frag: FragmentRecord, start_ms: int, track: int | None = None
) -> tuple[bytes, bytes]:
    """(init, media) for one fragment: ``ftyp``+``moov``, then its ``moof``+``mdat`` boxes.

    ``track``: only that Matroska track (DASH serves one track per adaptation set).
    """
    av = require_media()
    out = io.BytesIO()
    output = av.open(
        out,
        "w",
        format=_mp4_flavour(frag),
        options={
            "movflags": _FMP4_FLAGS,
            "video_track_timescale": _VIDEO_TIMESCALE,
            "avoid_negative_ts": "disabled",
        },
    )
    try:
        _mux_fragments(output, [frag], [start_ms], track)
    finally:
        output.close()
    data = out.getvalue()
    cut = data.find(b"moof") - 4
    if cut < 0:
        raise RemuxError(f"fragment {frag.number} produced no media (no frames)")
    return data[:cut], data[cut:]


def ts_fragment(frag: FragmentRecord, start_ms: int) -> bytes:
    """One fragment as MPEG-TS (PAT/PMT and Annex B video: playable on its own)."""
    av = require_media()
    out = io.BytesIO()
    output = av.open(out, "w", format="mpegts", options={"avoid_negative_ts": "disabled"})
    try:
        _mux_fragments(output, [frag], [start_ms])
    finally:
        output.close()
    return out.getvalue()


def mp4_clip(frags: Sequence[FragmentRecord], starts_ms: Sequence[int], path: Path) -> int:
    """Write a progressive MP4 of ``frags`` to ``path``; returns the video frame count."""
    av = require_media()
    output = av.open(str(path), "w", format=_mp4_flavour(frags[0]))
    try:
        return _mux_fragments(output, frags, starts_ms)
    finally:
        output.close()


@define(frozen=True, slots=True, kw_only=True)
class Still:
    """One decoded picture: its offset in the fragment (ms) and the frame."""

    offset_ms: float
    frame: Any


def decode_video(frag: FragmentRecord) -> Iterator[Still]:
    """Every video frame of a fragment, in presentation order, with its offset in ms."""
    av = require_media()
    source = _open_input(frag)
    try:
        video = next((s for s in source.streams if s.type == "video"), None)
        if video is None:
            raise RemuxError(f"fragment {frag.number} has no video track")
        video.thread_type = "AUTO"
        origin = frag.timecode_ms
        for frame in source.decode(video):
            if frame.pts is None:
                continue
            ms = float(frame.pts * frame.time_base * 1000)
            yield Still(offset_ms=ms - origin, frame=frame)
    except av.error.FFmpegError as exc:
        raise RemuxError(f"fragment {frag.number}: cannot decode: {exc}") from None
    finally:
        source.close()


def encode_image(
    frame: Any, *, fmt: str, width: int | None, height: int | None, quality: int
) -> bytes:
    """A decoded frame as JPEG or PNG bytes at the requested size (Pillow encodes)."""
    require_media()
    if width is not None or height is not None:
        src_w, src_h = frame.width, frame.height
        if width is None:
            assert height is not None
            width = max(1, round(src_w * height / src_h))
        if height is None:
            height = max(1, round(src_h * width / src_w))
        frame = frame.reformat(width=width, height=height)
    image = frame.to_image()
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, format="PNG")
    else:
        image.save(out, format="JPEG", quality=quality)
    return out.getvalue()
