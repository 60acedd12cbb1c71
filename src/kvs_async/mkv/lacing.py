"""Block headers and lacing (Xiph, EBML, fixed): where each frame of a block lies in the buffer."""

from __future__ import annotations

from .elements import VINT_LENGTH, VINT_MASK
from .errors import MkvFormatError

__all__ = ["BlockFrames", "parse_block"]

# (track number, relative timecode, flags, frame spans as absolute (start, end) offsets)
BlockFrames = tuple[int, int, int, list[tuple[int, int]]]


def parse_block(
    buf: bytes | bytearray | memoryview, start: int, end: int, base: int
) -> BlockFrames:
    """Parse the Block/SimpleBlock payload `buf[start:end]`; spans are `base`-relative offsets."""
    offset = base + start
    if start >= end:
        raise MkvFormatError("empty block", offset=offset)
    t0 = buf[start]
    tlen = VINT_LENGTH[t0]
    if tlen == 0:
        raise MkvFormatError("block track number longer than 8 bytes", offset=offset)
    h = start + tlen
    if h + 3 > end:
        raise MkvFormatError("block shorter than its header", offset=offset)
    track = int.from_bytes(buf[start:h], "big") & VINT_MASK[tlen]
    rel = (buf[h] << 8) | buf[h + 1]
    if rel & 0x8000:
        rel -= 0x10000
    flags = buf[h + 2]
    p = h + 3
    lacing = flags & 0x06
    if lacing == 0:
        return track, rel, flags, [(base + p, base + end)]
    if p >= end:
        raise MkvFormatError("laced block without a frame count", offset=offset)
    count = buf[p] + 1
    p += 1
    sizes: list[int] = []
    if lacing == 0x02:  # Xiph
        for _ in range(count - 1):
            size = 0
            while True:
                if p >= end:
                    raise MkvFormatError("Xiph lace sizes run past the block", offset=offset)
                b = buf[p]
                p += 1
                size += b
                if b != 0xFF:
                    break
            sizes.append(size)
    elif lacing == 0x06:  # EBML
        if count > 1:
            size, p = _vint(buf, p, end, offset)
            sizes.append(size)
            for _ in range(count - 2):
                raw, q = _vint(buf, p, end, offset)
                n = q - p
                size += raw - ((1 << (7 * n - 1)) - 1)
                if size < 0:
                    raise MkvFormatError("negative EBML lace size", offset=offset)
                sizes.append(size)
                p = q
    else:  # fixed
        total = end - p
        if total % count:
            raise MkvFormatError(
                f"fixed lacing: {total} bytes do not split into {count} frames", offset=offset
            )
        sizes = [total // count] * (count - 1)
    spans: list[tuple[int, int]] = []
    for size in sizes:
        q = p + size
        if q > end:
            raise MkvFormatError("laced frames run past the block", offset=offset)
        spans.append((base + p, base + q))
        p = q
    spans.append((base + p, base + end))
    return track, rel, flags, spans


def _vint(buf: bytes | bytearray | memoryview, p: int, end: int, offset: int) -> tuple[int, int]:
    if p >= end:
        raise MkvFormatError("EBML lace size runs past the block", offset=offset)
    n = VINT_LENGTH[buf[p]]
    if n == 0 or p + n > end:
        raise MkvFormatError("bad EBML lace size", offset=offset)
    return int.from_bytes(buf[p : p + n], "big") & VINT_MASK[n], p + n
