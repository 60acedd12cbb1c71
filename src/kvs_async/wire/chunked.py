"""A sans-I/O HTTP/1.1 response body decoder: chunked transfer coding, Content-Length, or EOF.

`feed(data)` returns the body bytes `data` carries: `data` itself when all of it is body (no
copy), else slices of it. `wanted()` says how many body bytes the current chunk still holds,
so a reader can size its next socket read to end exactly at the chunk's end (then a read holds
only body bytes and is handed over whole). Framing errors raise `BodyFramingError` with the
byte offset in the body (framing included) where the problem is. Hostile input is bounded:
a size line (with extensions) and the trailer section have fixed limits.
"""

from __future__ import annotations

from typing import Final

from ..errors import TransportError

__all__ = ["MAX_LINE", "MAX_TRAILERS", "BodyDecoder", "BodyFramingError"]

#: Longest chunk-size line (extensions included) or trailer line accepted.
MAX_LINE: Final = 4096
#: Largest trailer section accepted.
MAX_TRAILERS: Final = 65536
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class BodyFramingError(TransportError):
    """The body's framing is broken (a bad chunk size line, a missing CRLF, a short body)."""

    def __init__(self, message: str, *, offset: int) -> None:
        super().__init__(f"{message} at byte {offset} of the response body")
        self.offset = offset
        #: Body bytes the failing ``feed()`` decoded before the error (nothing is lost).
        self.pieces: list[bytes] = []


class BodyDecoder:
    """Body bytes out of the wire bytes of one response.

    ``chunked=True`` decodes the chunked transfer coding (extensions ignored, trailers read
    and dropped); else ``length`` bytes are the body, or (``length=None``) everything up to
    the end of the connection.
    """

    __slots__ = ("_chunked", "_left", "_line", "_offset", "_size_line", "_state", "_trailers")

    def __init__(self, *, chunked: bool, length: int | None = None) -> None:
        self._chunked = chunked
        self._state = _SIZE if chunked else _DATA
        self._left = -1 if length is None and not chunked else (length or 0)
        if not chunked and length == 0:
            self._state = _DONE
        self._line = bytearray()  # a size line or trailer line in progress (bounded)
        self._trailers = 0
        self._size_line = 8  # length of the last chunk-size line (CRLF included): a guess
        self._offset = 0  # wire bytes consumed so far

    @property
    def done(self) -> bool:
        """The whole body (and, chunked, its trailers) has been read."""
        return self._state == _DONE

    @property
    def offset(self) -> int:
        """Wire bytes of the body read so far (framing included)."""
        return self._offset

    def wanted(self) -> int:
        """Body bytes the current chunk still holds (0 between chunks; -1: unknown, to EOF)."""
        return self._left if self._state == _DATA else 0

    def framing(self) -> int:
        """Between chunks: the framing bytes expected before the next chunk's data, guessed
        from the last size line (consecutive chunks have sizes of the same hex length), so a
        read of that many bytes usually ends exactly where the data begins."""
        state = self._state
        have = len(self._line)
        if state == _DATA_END:
            return 2 - have + self._size_line
        if state == _SIZE:
            return max(self._size_line - have, 8)
        return 32

    def feed(self, data: bytes) -> list[bytes]:
        """The body bytes in ``data`` (``[data]`` itself when it is all body)."""
        n = len(data)
        if self._state == _DATA and (self._left < 0 or n <= self._left):
            self._offset += n
            if self._left > 0:
                self._left -= n
                if self._left == 0:
                    self._state = _DATA_END if self._chunked else _DONE
            return [data] if n else []
        out: list[bytes] = []
        try:
            self._feed(data, n, out)
        except BodyFramingError as exc:
            exc.pieces = out
            raise
        return out

    def _feed(self, data: bytes, n: int, out: list[bytes]) -> None:
        pos = 0
        while pos < n:
            state = self._state
            if state == _DATA:
                left = self._left
                take = n - pos if left < 0 else min(left, n - pos)
                out.append(data if take == n else data[pos : pos + take])
                pos += take
                self._offset += take
                if left > 0:
                    self._left = left - take
                    if self._left == 0:
                        self._state = _DATA_END if self._chunked else _DONE
            elif state == _DONE:
                raise BodyFramingError("bytes after the end of the body", offset=self._offset)
            else:
                pos = self._framing(data, pos, n)

    def close(self) -> None:
        """The connection ended: raise unless the body was complete (or is read to EOF)."""
        if self._state == _DONE:
            return
        if not self._chunked and self._left < 0:
            self._state = _DONE
            return
        if self._chunked:
            what = "before the last chunk" if self._state != _TRAILER else "inside the trailers"
        else:
            what = f"{self._left} bytes short of its Content-Length"
        raise BodyFramingError(f"the body ended {what}", offset=self._offset)

    def _framing(self, data: bytes, pos: int, n: int) -> int:
        """Consume size-line / CRLF / trailer bytes from ``data[pos:]``; return the new pos."""
        nl = data.find(b"\n", pos)
        end = n if nl < 0 else nl + 1
        line = self._line
        line += data[pos:end] if end - pos <= MAX_LINE + 2 else data[pos : pos + MAX_LINE + 3]
        if self._state == _DATA_END and not b"\r\n".startswith(line):
            bad = next(i for i, b in enumerate(line) if i > 1 or b != b"\r\n"[i])
            lstart = self._offset - (len(line) - (end - pos))  # stream offset of line[0]
            raise BodyFramingError("chunk data not followed by CRLF", offset=lstart + bad)
        if len(line) > MAX_LINE + 2:
            what = "chunk size line" if self._state == _SIZE else "trailer line"
            raise BodyFramingError(f"{what} too long", offset=self._offset)
        self._offset += end - pos
        if nl < 0:
            return end
        text = bytes(line)
        line.clear()
        at = self._offset - len(text)  # offset of the line's first byte
        if not text.endswith(b"\r\n"):
            raise BodyFramingError("line not ended by CRLF", offset=at + len(text) - 1)
        text = text[:-2]
        state = self._state
        if state == _DATA_END:  # the check above leaves only an exact CRLF here
            self._state = _SIZE
        elif state == _SIZE:
            digits = text.split(b";", 1)[0].rstrip(b" \t")
            if not digits or len(digits) > 16 or not _HEX.issuperset(digits):
                raise BodyFramingError(f"bad chunk size {digits[:20]!r}", offset=at)
            size = int(digits, 16)
            self._size_line = len(text) + 2
            if size:
                self._left = size
                self._state = _DATA
            else:
                self._state = _TRAILER
        else:  # trailers: a field line each, an empty line ends them
            self._trailers += len(text) + 2
            if self._trailers > MAX_TRAILERS:
                raise BodyFramingError("trailer section too long", offset=at)
            if not text:
                self._state = _DONE
            elif b":" not in text or text[:1] in b" \t":
                raise BodyFramingError("malformed trailer field", offset=at)
        return end
