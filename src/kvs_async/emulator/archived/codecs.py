"""What a fragment's tracks hold, and the codec rules each archived-media API enforces.

KVS checks track 1 (H.264 / H.265 video, or AAC for audio-only HLS) and track 2 (AAC, or
G.711 where the API allows it) and their codec private data before serving a fragment.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from attrs import define

from ...mkv import ChunkParser, MkvParseError, Track, writer
from ..controlplane import ApiError

AVC = "V_MPEG4/ISO/AVC"
HEVC = "V_MPEGH/ISO/HEVC"
AAC = "A_AAC"
G711 = "A_MS/ACM"
_ID_SEGMENT = 0x18538067


@define(frozen=True, slots=True, kw_only=True)
class Rules:
    """The codecs one API serves."""

    api: str
    video: frozenset[str]
    audio: frozenset[str]
    audio_only: bool


HLS_MP4 = Rules(api="HLS", video=frozenset({AVC, HEVC}), audio=frozenset({AAC}), audio_only=True)
HLS_TS = Rules(api="HLS (MPEG_TS)", video=frozenset({AVC}), audio=frozenset({AAC}), audio_only=True)
DASH = Rules(
    api="DASH", video=frozenset({AVC, HEVC}), audio=frozenset({AAC, G711}), audio_only=False
)
CLIP = Rules(
    api="GetClip", video=frozenset({AVC, HEVC}), audio=frozenset({AAC, G711}), audio_only=False
)


@lru_cache(maxsize=256)
def parse_tracks(tracks: bytes) -> tuple[Track, ...]:
    """The TrackEntries of a stored Tracks element (cached: fragments share their Tracks)."""
    parser = ChunkParser()
    doc = writer.ebml_header() + writer.element(_ID_SEGMENT, tracks)
    try:
        chunks = [*parser.feed(doc), *parser.close()]
    except MkvParseError:
        return ()
    for chunk in chunks:
        if chunk.tracks:
            return tuple(chunk.tracks)
    return ()


def _private_ok(track: Track) -> bool:
    data = track.codec_private or b""
    if track.codec_id == AVC:  # AVCDecoderConfigurationRecord
        return len(data) >= 7 and data[0] == 1
    if track.codec_id == HEVC:  # HEVCDecoderConfigurationRecord
        return len(data) >= 23 and data[0] == 1
    if track.codec_id == AAC:  # AudioSpecificConfig
        return len(data) >= 2 and (data[0] >> 3) != 0
    if track.codec_id == G711:  # WAVEFORMATEX
        return len(data) >= 16
    return True


def check_tracks(tracks: Sequence[Track], rules: Rules, where: str) -> None:
    """Raise the documented ApiError when ``tracks`` cannot be served under ``rules``."""
    ordered = sorted(tracks, key=lambda t: t.number)
    if not ordered:
        raise ApiError(
            "UnsupportedStreamMediaTypeException",
            f"{rules.api}: {where} has no tracks; track 1 must be one of "
            f"{', '.join(sorted(rules.video))}.",
        )
    first = ordered[0]
    allowed_first = rules.video | (rules.audio if rules.audio_only else frozenset())
    if first.codec_id not in allowed_first:
        raise ApiError(
            "UnsupportedStreamMediaTypeException",
            f"{rules.api}: track 1 of {where} has codec {first.codec_id!r}; it must be one of "
            f"{', '.join(sorted(allowed_first))}.",
        )
    for extra in ordered[1:2]:
        if extra.codec_id not in rules.audio:
            raise ApiError(
                "UnsupportedStreamMediaTypeException",
                f"{rules.api}: track 2 of {where} has codec {extra.codec_id!r}; it must be one "
                f"of {', '.join(sorted(rules.audio))}.",
            )
    for track in ordered[:2]:
        if not track.codec_private:
            raise ApiError(
                "MissingCodecPrivateDataException",
                f"{rules.api}: track {track.number} ({track.codec_id}) of {where} has no "
                "codec private data.",
            )
        if not _private_ok(track):
            raise ApiError(
                "InvalidCodecPrivateDataException",
                f"{rules.api}: the codec private data of track {track.number} "
                f"({track.codec_id}) of {where} is not a valid configuration record.",
            )


def rfc6381(track: Track) -> str | None:
    """The CODECS string of a track (``avc1.64001f``, ``mp4a.40.2``...), if known."""
    data = track.codec_private or b""
    if track.codec_id == AVC and len(data) >= 4:
        return f"avc1.{data[1]:02x}{data[2]:02x}{data[3]:02x}"
    if track.codec_id == HEVC and len(data) >= 13:
        profile = data[1] & 0x1F
        tier = "H" if data[1] & 0x20 else "L"
        return f"hvc1.{profile}.{data[2:6].hex().lstrip('0') or '0'}.{tier}{data[12]}.B0"
    if track.codec_id == AAC and data:
        return f"mp4a.40.{data[0] >> 3}"
    return None
