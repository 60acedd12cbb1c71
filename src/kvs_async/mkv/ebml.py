"""The stepping core over fed pieces, and the event reader (tables and values: `elements`).

`EbmlReader` is sans-I/O: `feed(data)` returns the events that the bytes complete, `close()` ends the
stream. The stepping core (`_Core`) is shared with `ChunkParser`, which adds a fast loop for
SimpleBlocks inside clusters on top of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from .elements import (
    BINARY,
    DEFAULT_MAX_BUFFER_SIZE,
    DEFAULT_MAX_ELEMENT_SIZE,
    ELEMENT_KIND,
    ELEMENT_LEVEL,
    END,
    ID_LENGTH,
    INFINITE,
    LEAF,
    MASTER,
    START,
    UNKNOWN_LEVEL,
    VINT_LENGTH,
    VINT_MASK,
    StackEntry,
    decode_value,
    element_name,
)
from .errors import MkvFormatError, MkvLimitError, MkvParseError, MkvTruncatedError
from .events import Event, Leaf, MasterEnd, MasterStart

__all__ = ["DEFAULT_MAX_DEPTH", "SMALL_PIECE", "EbmlReader", "iter_events"]

#: Pieces shorter than this are copied into one accumulating buffer instead of being kept one
#: by one (bounds the per-piece bookkeeping when a caller feeds tiny pieces).
SMALL_PIECE: Final = 2048
#: Bytes joined at most to finish an element header that straddles two pieces (ID + size <= 12).
_HEADER_JOIN: Final = 16
#: Default bound on open (nested) master elements; Matroska needs about 8.
DEFAULT_MAX_DEPTH: Final = 64


class _Core:
    """Current buffer, read position and open-element stack: one EBML element per `_step()`.

    No byte is copied on the common path: each fed piece (bytes, or a read-only view of bytes)
    is parsed where it lies, `buf[pos]` being stream offset `base + pos`. Only an element that
    straddles two pieces is joined, once, into a buffer of its own (its header first, then -
    for a leaf - its payload up to the exact end the header declares), so every byte is joined
    at most once and the work stays linear whatever the split. Offsets kept in the stack are
    absolute stream offsets. `_need` is the stream offset up to which the element at `pos` must
    be joined (0 while its header is incomplete).
    """

    def __init__(self, *, max_element_size: int, max_buffer_size: int, max_depth: int) -> None:
        if max_element_size < 1 or max_buffer_size < 1 or max_depth < 1:
            raise ValueError("limits must be positive")
        self.max_element_size = max_element_size
        self.max_buffer_size = max_buffer_size
        self.max_depth = max_depth
        self._buf: bytes = b""
        self._view = memoryview(b"")  # read-only view of _buf: frame payloads are its slices
        self._end = 0  # len(_buf)
        self._base = 0
        self._pos = 0
        self._need = 0
        self._carry: list[bytes | memoryview] = []  # the straddling element's bytes so far
        self._carry_len = 0
        self._fed = 0  # stream offset after the last byte fed
        self._joined_bytes = 0  # bytes copied to join straddling elements (instrumentation)
        self._stack: list[StackEntry] = []
        self._elements = 0
        self._element_cap = INFINITE  # the stepper raises when _elements would pass it
        self._failed: MkvParseError | None = None
        self._closed = False

    # -- errors -------------------------------------------------------------------------------

    def _path(self) -> tuple[str, ...]:
        return tuple(element_name(e[0]) for e in self._stack)

    def _format_error(self, message: str, offset: int) -> MkvFormatError:
        return MkvFormatError(message, offset=offset, path=self._path())

    def _limit_error(self, message: str, offset: int) -> MkvLimitError:
        return MkvLimitError(message, offset=offset, path=self._path())

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise self._failed.again()
        if self._closed:
            raise MkvParseError("the parser was closed", offset=self._base + self._pos)

    @property
    def elements_parsed(self) -> int:
        """How many elements (masters and leaves) have been read so far."""
        return self._elements

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet parsed."""
        return self._base + self._pos

    @property
    def bytes_copied(self) -> int:
        """Bytes the parser copied so far: elements that straddled two fed pieces (joined once),
        pieces under 2 KiB (coalesced) and input that was not bytes (copied into bytes)."""
        return self._joined_bytes

    def _pending(self) -> int:
        """Bytes fed but not parsed yet (an incomplete element)."""
        return self._fed - (self._base + self._pos)

    # -- feeding ------------------------------------------------------------------------------

    def _ingest(self, data: bytes) -> None:
        """Parse one fed piece (immutable): finish a straddling element, then the piece itself."""
        size = len(data)
        start = self._fed  # stream offset of data[0]
        self._fed = start + size
        used = 0
        while self._carry_len:
            cstart = self._base + self._pos
            have = cstart + self._carry_len
            if self._need:
                take = min(size - used, self._need - have)
            else:
                take = min(size - used, _HEADER_JOIN)
            if take > 0:
                self._carry.append(data[used : used + take])
                self._carry_len += take
                used += take
            if (self._need and cstart + self._carry_len < self._need) or take <= 0:
                return  # wait for more
            joined = b"".join(self._carry)
            self._joined_bytes += len(joined)
            self._carry.clear()
            self._carry_len = 0
            self._on_join(cstart, joined)
            self._set_buf(joined, cstart, 0)
            self._run_buf()
            if self._pos < self._end:
                self._carry_from_buf()
        if used < size or size == 0:
            self._set_buf(data, start, used)
            self._run_buf()
            if self._pos < self._end:
                self._carry_from_buf()

    def _set_buf(self, data: bytes, base: int, pos: int) -> None:
        self._buf = data
        self._view = memoryview(data)
        self._end = len(data)
        self._base = base
        self._pos = pos
        self._need = 0

    def _carry_from_buf(self) -> None:
        """The element at `pos` is incomplete: keep its bytes (a view, no copy) for the join."""
        self._carry = [self._view[self._pos : self._end]]
        self._carry_len = self._end - self._pos

    def _run_buf(self) -> None:
        raise NotImplementedError

    def _on_join(self, start: int, joined: bytes) -> None:
        """The bytes at stream offset `start` were joined into `joined` (ChunkParser stores it)."""

    # -- stepping -----------------------------------------------------------------------------

    def _step(self) -> tuple[int, StackEntry | int, int, int, int] | None:
        """Read one element header (and a leaf's whole payload) or close one element.

        Returns None when more bytes are needed (`_need` says up to where, 0 while the header
        is incomplete). Raises MkvFormatError/MkvLimitError.
        """
        stack = self._stack
        pos = self._pos
        base = self._base
        abspos = base + pos
        if stack:
            top = stack[-1]
            if top[4] == abspos:
                stack.pop()
                return (END, top, abspos, 0, 0)
        buf = self._buf
        n = self._end
        if pos >= n:
            return None
        b0 = buf[pos]
        idlen = ID_LENGTH[b0]
        if idlen == 0:
            raise self._format_error(
                f"element ID longer than 4 bytes (first byte 0x{b0:02X})", abspos
            )
        if pos + idlen >= n:
            self._need = 0
            return None
        eid = b0 if idlen == 1 else int.from_bytes(buf[pos : pos + idlen], "big")
        s0 = buf[pos + idlen]
        slen = VINT_LENGTH[s0]
        if slen == 0:
            raise self._format_error(
                f"size of {element_name(eid)} longer than 8 bytes (first byte 0x00)", abspos
            )
        hend = pos + idlen + slen
        if hend > n:
            self._need = 0
            return None
        if slen == 1:
            size = s0 & 0x7F
            unknown = size == 0x7F
        else:
            mask = VINT_MASK[slen]
            size = int.from_bytes(buf[pos + idlen : hend], "big") & mask
            unknown = size == mask
        level = ELEMENT_LEVEL.get(eid, UNKNOWN_LEVEL)
        if stack and level >= 0:
            top = stack[-1]
            if top[3] == -1 and top[2] >= level:
                # An element of the unknown-size element's level or higher ends it.
                stack.pop()
                return (END, top, abspos, 0, 0)
        kind = ELEMENT_KIND.get(eid)
        hsize = hend - pos
        parent_bound = stack[-1][4] if stack else INFINITE
        if self._elements >= self._element_cap:
            self._elements_exceeded(abspos)
        if unknown:
            if kind != MASTER or level < 0:
                raise self._format_error(
                    f"unknown size on {element_name(eid)}, which is not a master element", abspos
                )
            self._check_depth(eid, abspos)
            self._elements += 1
            entry = (eid, abspos, level, -1, parent_bound)
            stack.append(entry)
            self._pos = hend
            return (START, entry, hsize, 0, 0)
        end = abspos + hsize + size
        if end > parent_bound:
            raise self._format_error(
                f"{element_name(eid)} of {size} bytes ends at {end}, beyond its parent's end "
                f"at {parent_bound}",
                abspos,
            )
        if kind == MASTER:
            self._check_depth(eid, abspos)
            self._check_master(eid, abspos, end)
            self._elements += 1
            entry = (eid, abspos, level, end, end)
            stack.append(entry)
            self._pos = hend
            return (START, entry, hsize, 0, 0)
        if size > self.max_element_size:
            raise self._limit_error(
                f"{element_name(eid)} of {size} bytes is larger than max_element_size "
                f"({self.max_element_size})",
                abspos,
            )
        self._check_leaf(eid, abspos, end)
        if hend + size > n:
            self._need = end
            return None
        self._elements += 1
        self._pos = hend + size
        return (LEAF, eid, abspos, hsize, size)

    def _check_depth(self, eid: int, offset: int) -> None:
        if len(self._stack) >= self.max_depth:
            raise self._limit_error(
                f"{element_name(eid)} nested {len(self._stack) + 1} deep, deeper than max_depth "
                f"({self.max_depth})",
                offset,
            )

    def _check_master(self, eid: int, offset: int, end: int) -> None:
        """A known-size master is about to open (ChunkParser refuses one it could not hold)."""

    def _check_leaf(self, eid: int, offset: int, end: int) -> None:
        """A leaf's header is read (ChunkParser checks that its chunk can hold it)."""

    def _elements_exceeded(self, offset: int) -> None:
        """The element count reached `_element_cap` (ChunkParser raises)."""

    # -- values -------------------------------------------------------------------------------

    def _bytes(self, start: int, end: int) -> bytes:
        """Bytes at stream offsets [start, end) of the current buffer (one copy)."""
        base = self._base
        return bytes(self._view[start - base : end - base])


def _immutable(data: bytes | bytearray | memoryview) -> bytes:
    """What `feed()` keeps: bytes as given (no copy); a view of a whole bytes object, that object;
    anything else (a mutable buffer, part of one) copied once into bytes."""
    if type(data) is bytes:
        return data
    if isinstance(data, memoryview) and data.readonly and type(data.obj) is bytes:
        whole: bytes = data.obj
        if data.nbytes == len(whole) and data.c_contiguous:
            return whole
    return bytes(data)


class EbmlReader(_Core):
    """Incremental EBML reader: bytes in, `MasterStart`/`MasterEnd`/`Leaf` events out.

    Unknown-size masters end when an element of their level or higher begins (or at `close()`).
    Leaves are returned whole, so a leaf is buffered until complete (bounded by
    `max_element_size`); everything already returned is dropped from the buffer.
    """

    def __init__(
        self,
        *,
        max_element_size: int = DEFAULT_MAX_ELEMENT_SIZE,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        super().__init__(
            max_element_size=max_element_size, max_buffer_size=max_buffer_size, max_depth=max_depth
        )
        self._out: list[Event] = []

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Parse more bytes; return the events they complete. On an error, `exc.events` holds
        the events completed before it."""
        self._check_usable()
        out: list[Event] = []
        self._out = out
        try:
            self._ingest(_immutable(data))
        except MkvParseError as exc:
            exc.events = out
            self._failed = exc
            raise
        finally:
            self._out = []
        return out

    def close(self) -> list[Event]:
        """End the stream: unknown-size masters end here; anything else open is truncation."""
        self._check_usable()
        self._closed = True
        out: list[Event] = []
        offset = self._base + self._pos
        if self._pending():
            raise MkvTruncatedError(
                f"stream ended inside an element ({self._pending()} bytes pending)",
                offset=offset,
                path=self._path(),
            )
        while self._stack:
            top = self._stack[-1]
            if top[3] != -1:
                raise MkvTruncatedError(
                    f"stream ended inside {element_name(top[0])}, which should end at {top[3]}",
                    offset=offset,
                    path=self._path(),
                )
            self._stack.pop()
            out.append(self._end_event(top, offset))
        return out

    def _end_event(self, entry: StackEntry, end: int) -> MasterEnd:
        return MasterEnd(
            id=entry[0],
            name=element_name(entry[0]),
            offset=entry[1],
            end=end,
            depth=len(self._stack),
        )

    def _check_leaf(self, eid: int, offset: int, end: int) -> None:
        if end - offset > self.max_buffer_size:
            raise self._limit_error(
                f"{element_name(eid)} of {end - offset} bytes is more than max_buffer_size "
                f"({self.max_buffer_size})",
                offset,
            )

    def _run_buf(self) -> None:
        out = self._out
        step = self._step
        while (r := step()) is not None:
            kind = r[0]
            if kind == START:
                entry = r[1]
                assert isinstance(entry, tuple)
                out.append(
                    MasterStart(
                        id=entry[0],
                        name=element_name(entry[0]),
                        offset=entry[1],
                        header_size=r[2],
                        size=None if entry[3] == -1 else entry[3] - entry[1] - r[2],
                        depth=len(self._stack) - 1,
                    )
                )
            elif kind == END:
                entry = r[1]
                assert isinstance(entry, tuple)
                out.append(self._end_event(entry, r[2]))
            else:
                eid = r[1]
                assert isinstance(eid, int)
                offset, hsize, size = r[2], r[3], r[4]
                data = self._bytes(offset + hsize, offset + hsize + size)
                name = element_name(eid)
                kind_ = ELEMENT_KIND.get(eid, BINARY)
                try:
                    value = decode_value(kind_, data, offset=offset, name=name)
                except MkvFormatError as exc:
                    raise MkvFormatError(exc.message, offset=offset, path=self._path()) from None
                out.append(
                    Leaf(
                        id=eid,
                        name=name,
                        offset=offset,
                        header_size=hsize,
                        size=size,
                        depth=len(self._stack),
                        value=value,
                    )
                )


def iter_events(data: bytes | bytearray | memoryview) -> Iterator[Event]:
    """All events of a complete byte string (raises MkvTruncatedError if it is cut short)."""
    reader = EbmlReader()
    yield from reader.feed(data)
    yield from reader.close()
