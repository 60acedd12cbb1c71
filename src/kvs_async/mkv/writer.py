"""Write Matroska the way KVS GetMedia sends it: for the emulator, tests and demos.

Building blocks (`element`, `uint_element`, `simple_block`, `cluster`, ...), a cutter that turns
any MKV file into per-Cluster `SourceFragment`s (`split_fragments`), the GetMedia framing of one
fragment (`kvs_fragment`, `kvs_error_fragment`), and `synthetic_stream`/`synthetic_mkv`: media that
needs no ffmpeg. Synthetic frames are deterministic filler bytes inside a valid Matroska structure
(V_MPEG4/ISO/AVC track with a plausible CodecPrivate): parsers and ffprobe's demuxer accept them,
but a decoder does not - use an ffmpeg-made file through `split_fragments` for decodable video.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Iterator, Sequence

from attrs import Factory, define

from .ebml import EbmlReader
from .elements import ID_CLUSTER, ID_EBML, ID_SEGMENT
from .errors import MkvFormatError
from .events import Leaf, MasterEnd, MasterStart

__all__ = [
    "FIRST_FRAGMENT_NUMBER",
    "FRAGMENT_NUMBER_STEP",
    "KVS_TAG_SIZE_LENGTH",
    "SourceFragment",
    "block_group",
    "cluster",
    "ebml_header",
    "element",
    "encode_id",
    "encode_size",
    "float_element",
    "format_timestamp",
    "info",
    "kvs_error_fragment",
    "kvs_fragment",
    "kvs_tags",
    "laced_block",
    "simple_block",
    "split_fragments",
    "string_element",
    "synthetic_fragments",
    "synthetic_mkv",
    "synthetic_stream",
    "track_entry",
    "tracks",
    "uint_element",
    "unknown_size",
]

KVS_TAG_SIZE_LENGTH = 4  # KVS writes every size in its Tags with 4 bytes: 10 00 00 EB
_UNKNOWN_SIZE_8 = b"\x01\xff\xff\xff\xff\xff\xff\xff"

ID_TAGS = 0x1254C367
ID_TAG = 0x7373
ID_SIMPLETAG = 0x67C8
ID_TAGNAME = 0x45A3
ID_TAGSTRING = 0x4487
ID_INFO = 0x1549A966
ID_TRACKS = 0x1654AE6B


def encode_id(element_id: int) -> bytes:
    """An element ID as written (the ID integer already carries its length marker)."""
    if not 0x81 <= element_id <= 0x1FFFFFFE:
        raise ValueError(f"not an EBML element ID: 0x{element_id:X}")
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")


def encode_size(size: int, *, length: int | None = None) -> bytes:
    """A size VINT: minimal unless `length` (1-8) asks for a wider, non-minimal encoding."""
    if size < 0:
        raise ValueError("negative size")
    if length is None:
        length = 1
        while size >= (1 << (7 * length)) - 1:
            length += 1
    if not 1 <= length <= 8 or size >= (1 << (7 * length)) - 1:
        raise ValueError(f"size {size} does not fit a {length}-byte VINT")
    return ((1 << (7 * length)) | size).to_bytes(length, "big")


def element(element_id: int, payload: bytes, *, size_length: int | None = None) -> bytes:
    """ID + size + payload."""
    return encode_id(element_id) + encode_size(len(payload), length=size_length) + payload


def unknown_size(element_id: int) -> bytes:
    """The header of an unknown-size master, as KVS writes the Segment: ID + 01 FF FF FF FF FF FF FF."""
    return encode_id(element_id) + _UNKNOWN_SIZE_8


def uint_element(element_id: int, value: int, *, size_length: int | None = None) -> bytes:
    if value < 0:
        raise ValueError("negative unsigned integer")
    return element(
        element_id,
        value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"),
        size_length=size_length,
    )


def string_element(element_id: int, value: str, *, size_length: int | None = None) -> bytes:
    return element(element_id, value.encode("utf-8"), size_length=size_length)


def float_element(element_id: int, value: float) -> bytes:
    return element(element_id, struct.pack(">d", value))


def ebml_header(doc_type: str = "matroska") -> bytes:
    """The EBML header KVS sends before every fragment (its size written with 8 bytes)."""
    body = (
        uint_element(0x4286, 1)
        + uint_element(0x42F7, 1)
        + uint_element(0x42F2, 4)
        + uint_element(0x42F3, 8)
        + string_element(0x4282, doc_type)
        + uint_element(0x4287, 4)
        + uint_element(0x4285, 2)
    )
    return element(ID_EBML, body, size_length=8)


def kvs_tags(tags: Sequence[tuple[str, str]]) -> bytes:
    """One Tags element with one Tag (no Targets) holding a SimpleTag per pair, 4-byte sizes."""
    n = KVS_TAG_SIZE_LENGTH
    simple = b"".join(
        element(
            ID_SIMPLETAG,
            string_element(ID_TAGNAME, name, size_length=n)
            + string_element(ID_TAGSTRING, value, size_length=n),
            size_length=n,
        )
        for name, value in tags
    )
    return element(ID_TAGS, element(ID_TAG, simple, size_length=n), size_length=n)


# -- media building blocks --------------------------------------------------------------------


def info(
    *, timecode_scale: int = 1_000_000, duration: float | None = None, app: str = "kvs_async"
) -> bytes:
    body = uint_element(0x2AD7B1, timecode_scale) + string_element(0x4D80, app)
    body += string_element(0x5741, app)
    if duration is not None:
        body += float_element(0x4489, duration)
    return element(ID_INFO, body)


def track_entry(
    *,
    number: int,
    uid: int | None = None,
    track_type: int = 1,
    codec_id: str = "V_MPEG4/ISO/AVC",
    codec_private: bytes | None = None,
    name: str | None = None,
    width: int | None = None,
    height: int | None = None,
    sampling_rate: float | None = None,
    channels: int | None = None,
    default_duration_ns: int | None = None,
) -> bytes:
    body = uint_element(0xD7, number) + uint_element(0x73C5, uid if uid is not None else number)
    body += uint_element(0x83, track_type) + string_element(0x86, codec_id)
    if name is not None:
        body += string_element(0x536E, name)
    if default_duration_ns is not None:
        body += uint_element(0x23E383, default_duration_ns)
    if codec_private is not None:
        body += element(0x63A2, codec_private)
    if width is not None or height is not None:
        video = b""
        if width is not None:
            video += uint_element(0xB0, width)
        if height is not None:
            video += uint_element(0xBA, height)
        body += element(0xE0, video)
    if sampling_rate is not None or channels is not None:
        audio = b""
        if sampling_rate is not None:
            audio += float_element(0xB5, sampling_rate)
        if channels is not None:
            audio += uint_element(0x9F, channels)
        body += element(0xE1, audio)
    return element(0xAE, body)


def tracks(*entries: bytes) -> bytes:
    return element(ID_TRACKS, b"".join(entries))


def _block_header(track: int, rel_timecode: int, flags: int) -> bytes:
    if not -0x8000 <= rel_timecode <= 0x7FFF:
        raise ValueError(f"block timecode {rel_timecode} outside int16")
    return encode_size(track) + struct.pack(">hB", rel_timecode, flags)


def simple_block(
    track: int,
    rel_timecode: int,
    payload: bytes,
    *,
    keyframe: bool = False,
    invisible: bool = False,
    discardable: bool = False,
) -> bytes:
    flags = (0x80 if keyframe else 0) | (0x08 if invisible else 0) | (0x01 if discardable else 0)
    return element(0xA3, _block_header(track, rel_timecode, flags) + payload)


def laced_block(
    track: int,
    rel_timecode: int,
    frames: Sequence[bytes],
    *,
    lacing: str,
    keyframe: bool = False,
    block_group: bool = False,
) -> bytes:
    """A SimpleBlock (or a BlockGroup's Block) holding several frames with "xiph", "ebml" or "fixed" lacing."""
    if not 1 <= len(frames) <= 256:
        raise ValueError("a laced block holds 1 to 256 frames")
    if lacing == "xiph":
        bits, sizes = (
            0x02,
            b"".join(b"\xff" * (len(f) // 255) + bytes([len(f) % 255]) for f in frames[:-1]),
        )
    elif lacing == "ebml":
        bits = 0x06
        parts = [encode_size(len(frames[0]))] if len(frames) > 1 else []
        for prev, cur in itertools.pairwise(frames[:-1]):
            diff = len(cur) - len(prev)
            length = 1
            while not -((1 << (7 * length - 1)) - 1) <= diff <= (1 << (7 * length - 1)) - 1:
                length += 1
            parts.append(encode_size(diff + (1 << (7 * length - 1)) - 1, length=length))
        sizes = b"".join(parts)
    elif lacing == "fixed":
        if len({len(f) for f in frames}) != 1:
            raise ValueError("fixed lacing needs frames of equal size")
        bits, sizes = 0x04, b""
    else:
        raise ValueError(f"unknown lacing {lacing!r}")
    flags = bits | (0x80 if keyframe and not block_group else 0)
    body = (
        _block_header(track, rel_timecode, flags)
        + bytes([len(frames) - 1])
        + sizes
        + b"".join(frames)
    )
    if block_group:
        return element(0xA0, element(0xA1, body) + (b"" if keyframe else element(0xFB, b"\xff")))
    return element(0xA3, body)


def block_group(
    track: int,
    rel_timecode: int,
    payload: bytes,
    *,
    keyframe: bool = True,
    duration: int | None = None,
) -> bytes:
    """A BlockGroup with one Block; a non-key frame gets a ReferenceBlock (-1)."""
    body = element(0xA1, _block_header(track, rel_timecode, 0) + payload)
    if duration is not None:
        body += uint_element(0x9B, duration)
    if not keyframe:
        body += element(0xFB, b"\xff")
    return element(0xA0, body)


def cluster(timecode: int, blocks: Sequence[bytes], *, unknown: bool = False) -> bytes:
    """A Cluster (Timecode + blocks); `unknown=True` writes it with unknown size like the C SDK."""
    body = uint_element(0xE7, timecode) + b"".join(blocks)
    if unknown:
        return unknown_size(ID_CLUSTER) + body
    return element(ID_CLUSTER, body, size_length=8)


# -- fragments --------------------------------------------------------------------------------


@define(frozen=True, slots=True, kw_only=True)
class SourceFragment:
    """One Cluster of a source file with the Info and Tracks in force for it (exact element bytes)."""

    info: bytes
    tracks: bytes
    cluster: bytes
    timecode_ms: int
    duration_ms: int
    keyframe_start: bool


def kvs_fragment(
    src: SourceFragment,
    *,
    fragment_number: str,
    server_timestamp: str,
    producer_timestamp: str,
    millis_behind_now: int | None,
    continuation_token: str | None,
    extra_tags: Sequence[tuple[str, str]] = (),
) -> bytes:
    """One fragment as GetMedia sends it.

    EBML header, unknown-size Segment, Info, Tracks, KVS Tags (fragment number, server and producer
    timestamps), Cluster, then - if given - `extra_tags` in their own Tags element (where the C
    producer SDK's fragment metadata lands), and the trailing KVS Tags (millis behind now,
    continuation token; omitted when both are None).
    """
    out = [
        ebml_header(),
        unknown_size(ID_SEGMENT),
        src.info,
        src.tracks,
        kvs_tags(
            [
                ("AWS_KINESISVIDEO_FRAGMENT_NUMBER", fragment_number),
                ("AWS_KINESISVIDEO_SERVER_TIMESTAMP", server_timestamp),
                ("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", producer_timestamp),
            ]
        ),
        src.cluster,
    ]
    if extra_tags:
        out.append(kvs_tags(extra_tags))
    trailing: list[tuple[str, str]] = []
    if millis_behind_now is not None:
        trailing.append(("AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", str(millis_behind_now)))
    if continuation_token is not None:
        trailing.append(("AWS_KINESISVIDEO_CONTINUATION_TOKEN", continuation_token))
    if trailing:
        out.append(kvs_tags(trailing))
    return b"".join(out)


def kvs_error_fragment(error_code: str, error_id: str) -> bytes:
    """What ends a GetMedia stream on error: EBML header, unknown-size Segment, error Tags."""
    return (
        ebml_header()
        + unknown_size(ID_SEGMENT)
        + kvs_tags(
            [("AWS_KINESISVIDEO_ERROR_CODE", error_code), ("AWS_KINESISVIDEO_ERROR_ID", error_id)]
        )
    )


@define(slots=True)
class _OpenCluster:
    offset: int
    header_size: int
    known: bool
    timecode: int = 0
    first_block_key: bool | None = None
    block_timecodes: list[int] = Factory(list)
    in_group: bool = False
    group_has_reference: bool = False


def split_fragments(mkv: bytes) -> list[SourceFragment]:
    """Cut an MKV file (ffmpeg, mkvmerge or GetMedia output) into one SourceFragment per Cluster.

    Each fragment carries the Info and Tracks in force at its Cluster. An unknown-size Cluster is
    re-emitted with a known (8-byte) size. Raises MkvParseError on a file the parser rejects.
    """
    data = bytes(mkv)
    reader = EbmlReader(max_element_size=max(len(data), 1), max_buffer_size=max(2 * len(data), 1))
    events = [*reader.feed(data), *reader.close()]
    info_bytes = b""
    tracks_bytes = b""
    scale = 1_000_000
    default_duration_ns: int | None = None
    raw: list[tuple[bytes, bytes, bytes, int, int, int, bool, list[int]]] = []
    # (info, tracks, cluster, scale, cluster_tc, default_duration_ticks, keyframe, block tcs)
    open_cluster: _OpenCluster | None = None
    segment_index = 0
    segments: list[int] = []
    for ev in events:
        if isinstance(ev, MasterStart):
            if ev.id == ID_SEGMENT:
                segment_index += 1
            elif ev.id == ID_CLUSTER:
                open_cluster = _OpenCluster(
                    offset=ev.offset, header_size=ev.header_size, known=ev.size is not None
                )
            elif ev.id == 0xA0 and open_cluster is not None:
                open_cluster.in_group = True
                open_cluster.group_has_reference = False
        elif isinstance(ev, Leaf):
            if ev.id == 0x2AD7B1 and isinstance(ev.value, int) and ev.value > 0:
                scale = ev.value
            elif ev.id == 0x23E383 and isinstance(ev.value, int) and default_duration_ns is None:
                default_duration_ns = ev.value
            elif open_cluster is not None:
                if ev.id == 0xE7 and isinstance(ev.value, int):
                    open_cluster.timecode = ev.value
                elif ev.id in (0xA3, 0xA1) and isinstance(ev.value, bytes):
                    rel, flags = _block_timecode_flags(ev.value, ev.offset)
                    open_cluster.block_timecodes.append(open_cluster.timecode + rel)
                    if open_cluster.first_block_key is None:
                        open_cluster.first_block_key = bool(flags & 0x80) if ev.id == 0xA3 else True
                elif (
                    ev.id == 0xFB
                    and open_cluster.in_group
                    and len(open_cluster.block_timecodes) == 1
                ):
                    open_cluster.first_block_key = False
        elif isinstance(ev, MasterEnd):
            if ev.id == ID_INFO:
                info_bytes = data[ev.offset : ev.end]
            elif ev.id == ID_TRACKS:
                tracks_bytes = data[ev.offset : ev.end]
            elif ev.id == 0xA0 and open_cluster is not None:
                open_cluster.in_group = False
            elif ev.id == ID_CLUSTER and open_cluster is not None:
                oc = open_cluster
                if oc.known:
                    cluster_bytes = data[ev.offset : ev.end]
                else:
                    cluster_bytes = element(
                        ID_CLUSTER, data[oc.offset + oc.header_size : ev.end], size_length=8
                    )
                dd = None if default_duration_ns is None else max(1, default_duration_ns // scale)
                raw.append(
                    (
                        info_bytes,
                        tracks_bytes,
                        cluster_bytes,
                        scale,
                        oc.timecode,
                        dd or 0,
                        bool(oc.first_block_key),
                        oc.block_timecodes,
                    )
                )
                segments.append(segment_index)
                open_cluster = None
    out: list[SourceFragment] = []
    for i, (inf, trk, clu, sc, tc, dd, key, tcs) in enumerate(raw):
        nxt = raw[i + 1][4] if i + 1 < len(raw) and segments[i + 1] == segments[i] else None
        if nxt is not None and nxt > tc:
            ticks = nxt - tc
        else:
            distinct = sorted(set(tcs))
            gaps = [b - a for a, b in itertools.pairwise(distinct) if b > a]
            gap = dd or (min(gaps) if gaps else 0)
            ticks = (max(tcs) - tc + gap) if tcs else gap
        out.append(
            SourceFragment(
                info=inf,
                tracks=trk,
                cluster=clu,
                timecode_ms=tc * sc // 1_000_000,
                duration_ms=max(0, ticks) * sc // 1_000_000,
                keyframe_start=key,
            )
        )
    return out


def _block_timecode_flags(block: bytes, offset: int) -> tuple[int, int]:
    if not block or block[0] == 0:
        raise MkvFormatError("block without a track number", offset=offset)
    n = 9 - block[0].bit_length()
    if len(block) < n + 3:
        raise MkvFormatError("block shorter than its header", offset=offset)
    rel, flags = struct.unpack_from(">hB", block, n)
    return int(rel), int(flags)


# -- synthetic media --------------------------------------------------------------------------

#: An avcC record for 640x480 Main profile (plausible, from a real x264 stream's SPS/PPS shape).
_AVCC = bytes.fromhex(
    "014d401effe1001b674d401ee8802802dd80b501010140000003004000000f03c58b4480010005e8ebb2c8b0"
)


def _frame_bytes(seed: int, fragment: int, index: int, size: int) -> bytes:
    head = hashlib.sha256(f"{seed}/{fragment}/{index}".encode()).digest()
    return (head * (size // len(head) + 1))[:size]


def synthetic_fragments(
    count: int = 3,
    *,
    frames_per_fragment: int = 30,
    frame_size: int = 2000,
    fps: int = 30,
    width: int = 640,
    height: int = 480,
    seed: int = 0,
    start_timecode_ms: int = 0,
    unknown_size_clusters: bool = False,
) -> list[SourceFragment]:
    """`count` fragments of one video track: keyframe first, deterministic (not decodable) frames."""
    frame_ms = 1000 // fps
    inf = info()
    trk = tracks(
        track_entry(
            number=1,
            uid=1,
            codec_id="V_MPEG4/ISO/AVC",
            codec_private=_AVCC,
            name="kvs_async synthetic",
            width=width,
            height=height,
            default_duration_ns=1_000_000_000 // fps,
        )
    )
    out = []
    for f in range(count):
        tc = start_timecode_ms + f * frames_per_fragment * frame_ms
        blocks = [
            simple_block(1, i * frame_ms, _frame_bytes(seed, f, i, frame_size), keyframe=i == 0)
            for i in range(frames_per_fragment)
        ]
        clu = cluster(tc, blocks, unknown=unknown_size_clusters)
        if unknown_size_clusters:
            clu = element(ID_CLUSTER, clu[len(unknown_size(ID_CLUSTER)) :], size_length=8)
        out.append(
            SourceFragment(
                info=inf,
                tracks=trk,
                cluster=clu,
                timecode_ms=tc,
                duration_ms=frames_per_fragment * frame_ms,
                keyframe_start=True,
            )
        )
    return out


def synthetic_mkv(count: int = 3, **kwargs: int | bool) -> bytes:
    """A plain MKV file (EBML header, unknown-size Segment, Info, Tracks, Clusters) of synthetic media."""
    frags = synthetic_fragments(count, **kwargs)  # type: ignore[arg-type]
    if not frags:
        return ebml_header() + unknown_size(ID_SEGMENT) + info()
    return b"".join(
        [ebml_header(), unknown_size(ID_SEGMENT), frags[0].info, frags[0].tracks]
        + [f.cluster for f in frags]
    )


FIRST_FRAGMENT_NUMBER = 91343852333181432392682062607743920146159169392
FRAGMENT_NUMBER_STEP = 4951760157141521099596496896


def format_timestamp(epoch_ms: int) -> str:
    """Epoch milliseconds as KVS writes them in tags: seconds with exactly three decimals."""
    sign = "-" if epoch_ms < 0 else ""
    epoch_ms = abs(epoch_ms)
    return f"{sign}{epoch_ms // 1000}.{epoch_ms % 1000:03d}"


def synthetic_stream(
    count: int = 3,
    *,
    frames_per_fragment: int = 30,
    frame_size: int = 2000,
    fps: int = 30,
    seed: int = 0,
    server_start_ms: int = 1_700_000_000_000,
    first_fragment_number: int = FIRST_FRAGMENT_NUMBER,
    continuation: bool = True,
) -> Iterator[bytes]:
    """GetMedia-style fragments of synthetic media, one `bytes` per fragment (see the module doc).

    Fragment numbers are 47-digit decimals increasing by a fixed step; the continuation token of
    each fragment equals its fragment number (as in every real recording); the last fragment has
    no trailing Tags when `continuation` is False.
    """
    frags = synthetic_fragments(
        count, frames_per_fragment=frames_per_fragment, frame_size=frame_size, fps=fps, seed=seed
    )
    for i, src in enumerate(frags):
        fn = str(first_fragment_number + i * FRAGMENT_NUMBER_STEP)
        last = i == len(frags) - 1
        yield kvs_fragment(
            src,
            fragment_number=fn,
            server_timestamp=format_timestamp(server_start_ms + src.timecode_ms + 500),
            producer_timestamp=format_timestamp(server_start_ms + src.timecode_ms),
            millis_behind_now=None
            if (last and not continuation)
            else (len(frags) - 1 - i) * src.duration_ms,
            continuation_token=None if (last and not continuation) else fn,
        )
