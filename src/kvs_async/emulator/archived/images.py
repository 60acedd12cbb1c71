"""GetImages: one still per sampling instant, decoded from the fragment that covers it."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

from attrs import define

from ..controlplane import Wire, invalid
from ..storage import FragmentRecord
from . import remux
from .sessions import timestamp_of

#: KVS: at most 300 s between StartTimestamp and EndTimestamp.
MAX_RANGE_MS = 300_000
MIN_SAMPLING_MS = 200
#: Used when SamplingInterval is not given (the model has no default; this is ours).
DEFAULT_SAMPLING_MS = 3000
#: KVS returns at most 25 images per page, whatever MaxResults asks for.
PAGE_LIMIT = 25
DEFAULT_JPEG_QUALITY = 80


@define(frozen=True, slots=True, kw_only=True)
class ImageRequest:
    """A validated GetImages input."""

    producer: bool
    instants_ms: tuple[int, ...]
    fmt: str
    width: int | None
    height: int | None
    quality: int
    page_size: int
    first: int  # index into instants_ms where this page starts
    range_key: tuple[int, int, int]  # (start ms, end ms, step): what a NextToken belongs to


def parse_request(p: Wire) -> ImageRequest:
    """Validate GetImages parameters the way KVS documents them (InvalidArgumentException)."""
    start_ms = round(float(p["StartTimestamp"]) * 1000)
    end_ms = round(float(p["EndTimestamp"]) * 1000)
    if end_ms < start_ms:
        raise invalid("GetImages: EndTimestamp is before StartTimestamp.")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise invalid(
            f"GetImages: the range from StartTimestamp to EndTimestamp is "
            f"{(end_ms - start_ms) / 1000:g} s; it must be at most 300 s."
        )
    interval = p.get("SamplingInterval")
    step = DEFAULT_SAMPLING_MS if interval is None else int(interval)
    if step < MIN_SAMPLING_MS:
        raise invalid(f"GetImages: SamplingInterval {step} ms is below the minimum of 200 ms.")
    width, height = p.get("WidthPixels"), p.get("HeightPixels")
    if width is not None and height is None:
        raise invalid(
            "GetImages: WidthPixels needs HeightPixels (give both, or HeightPixels alone)."
        )
    quality = DEFAULT_JPEG_QUALITY
    config = p.get("FormatConfig") or {}
    if "JPEGQuality" in config:
        text = str(config["JPEGQuality"])
        if not text.isdigit() or not 1 <= int(text) <= 100:
            raise invalid(
                f"GetImages: FormatConfig JPEGQuality {text!r} is not an int from 1 to 100."
            )
        quality = int(text)
    count = (end_ms - start_ms) // step + 1
    first = 0
    token = p.get("NextToken")
    if token:
        try:
            doc = json.loads(base64.urlsafe_b64decode(token.encode()))
            first = int(doc["next"])
            if tuple(doc.get("range") or ()) != (start_ms, end_ms, step) or not 0 < first < count:
                raise ValueError
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise invalid(
                f"GetImages: NextToken {token[:40]!r} does not belong to this request."
            ) from None
    size = min(int(p.get("MaxResults") or PAGE_LIMIT), PAGE_LIMIT)
    return ImageRequest(
        producer=p["ImageSelectorType"] == "PRODUCER_TIMESTAMP",
        instants_ms=tuple(start_ms + i * step for i in range(count)),
        fmt=str(p["Format"]),
        width=None if width is None else int(width),
        height=None if height is None else int(height),
        quality=quality,
        page_size=size,
        first=first,
        range_key=(start_ms, end_ms, step),
    )


def next_token(req: ImageRequest) -> str | None:
    nxt = req.first + req.page_size
    if nxt >= len(req.instants_ms):
        return None
    doc = {"next": nxt, "range": list(req.range_key)}
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def covering(frags: Sequence[FragmentRecord], producer: bool, ms: int) -> FragmentRecord | None:
    """The newest fragment whose [start, start + duration) holds the instant ``ms``."""
    found = None
    for frag in frags:
        start = round(timestamp_of(frag, producer) * 1000)
        if start <= ms < start + max(frag.duration_ms, 1):
            found = frag
    return found


def render_page(req: ImageRequest, frags: Sequence[FragmentRecord]) -> list[Wire]:
    """The Images of one page (call in a worker thread: it decodes and encodes)."""
    instants = req.instants_ms[req.first : req.first + req.page_size]
    wanted: dict[int, list[int]] = {}  # fragment number -> instants it covers
    by_number: dict[int, FragmentRecord] = {}
    images: dict[int, Wire] = {}
    for ms in instants:
        frag = covering(frags, req.producer, ms)
        if frag is None:
            images[ms] = {"TimeStamp": ms / 1000, "Error": "NO_MEDIA"}
        else:
            wanted.setdefault(frag.number, []).append(ms)
            by_number[frag.number] = frag
    for number, times in wanted.items():
        frag = by_number[number]
        base = round(timestamp_of(frag, req.producer) * 1000)
        try:
            picks = _frames_at(frag, [ms - base for ms in times])
            for ms, frame in zip(times, picks, strict=True):
                content = remux.encode_image(
                    frame, fmt=req.fmt, width=req.width, height=req.height, quality=req.quality
                )
                images[ms] = {
                    "TimeStamp": ms / 1000,
                    "ImageContent": base64.b64encode(content).decode(),
                }
        except remux.RemuxError:
            for ms in times:
                images[ms] = {"TimeStamp": ms / 1000, "Error": "MEDIA_ERROR"}
    return [images[ms] for ms in instants]


def _frames_at(frag: FragmentRecord, offsets: list[int]) -> list[object]:
    """For each offset (ms into the fragment), the frame on screen then (decoded once)."""
    picks: list[object | None] = [None] * len(offsets)
    order = sorted(range(len(offsets)), key=lambda i: offsets[i])
    pos = 0
    previous = None
    for still in remux.decode_video(frag):
        while pos < len(order) and still.offset_ms > offsets[order[pos]]:
            picks[order[pos]] = previous if previous is not None else still.frame
            pos += 1
        previous = still.frame
        if pos == len(order):
            break
    for i in order[pos:]:
        picks[i] = previous
    if any(p is None for p in picks):
        raise remux.RemuxError(f"fragment {frag.number} has no decodable video frame")
    return picks
