"""TrackEntry fields: which element IDs fill which `Track` field, and the spec's defaults."""

from __future__ import annotations

from typing import Any, Final

from .model import Track

__all__ = ["ID_AUDIO", "TRACK_FLOATS", "TRACK_IDS", "TRACK_STRINGS", "TRACK_UINTS", "make_track"]

ID_AUDIO: Final = 0xE1

TRACK_UINTS: Final[dict[int, str]] = {
    0xD7: "number",
    0x73C5: "uid",
    0x83: "type",
    0xB9: "flag_enabled",
    0x88: "flag_default",
    0x55AA: "flag_forced",
    0x56AA: "codec_delay_ns",
    0x56BB: "seek_pre_roll_ns",
    0xB0: "width",
    0xBA: "height",
    0x54B0: "display_width",
    0x54BA: "display_height",
    0x9F: "channels",
    0x6264: "bit_depth",
    0x23E383: "default_duration_ns",
}
TRACK_STRINGS: Final[dict[int, str]] = {
    0x86: "codec_id",
    0x536E: "name",
    0x22B59C: "language",
    0x22B59D: "language_bcp47",
}
TRACK_FLOATS: Final[dict[int, str]] = {0xB5: "sampling_rate", 0x78B5: "output_sampling_rate"}
ID_CODEC_PRIVATE: Final = 0x63A2
TRACK_IDS: Final = frozenset({*TRACK_UINTS, *TRACK_STRINGS, *TRACK_FLOATS, ID_CODEC_PRIVATE})

_FLAGS: Final = ("flag_enabled", "flag_default", "flag_forced")


def make_track(fields: dict[str, Any]) -> Track:
    """A Track from the fields read, with the Matroska defaults for those the file omits.

    Audio defaults (1 channel, 8000.0 Hz) apply to an audio track (TrackType 2 or an Audio
    element); LanguageBCP47 wins over Language, as the spec says.
    """
    audio = fields.pop("_audio", False) or fields.get("type") == 2
    bcp47 = fields.pop("language_bcp47", None)
    if bcp47:
        fields["language"] = bcp47
    for flag in _FLAGS:
        if flag in fields:
            fields[flag] = bool(fields[flag])
    if audio:
        fields.setdefault("channels", 1)
        fields.setdefault("sampling_rate", 8000.0)
    if fields.get("output_sampling_rate") is None and fields.get("sampling_rate") is not None:
        fields["output_sampling_rate"] = fields["sampling_rate"]
    if fields.get("display_width") is None:
        fields["display_width"] = fields.get("width")
    if fields.get("display_height") is None:
        fields["display_height"] = fields.get("height")
    return Track(**fields)
