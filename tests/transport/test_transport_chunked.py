"""The sans-I/O body decoder (kvs_async.wire.chunked): any chunking, any split, typed errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvs_async.errors import TransportError
from kvs_async.wire.chunked import MAX_LINE, BodyDecoder, BodyFramingError

_EXT = st.sampled_from([b"", b";a=1", b"; name=value", b';q="x y"', b";x"])
_TRAILERS = st.lists(st.sampled_from([b"X-A: 1", b"Checksum: abc", b"x-amz-trailer:v"]), max_size=3)


@st.composite
def _chunked(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(body, wire bytes): the body cut in chunks of any size, with extensions and trailers."""
    body = draw(st.binary(max_size=3000))
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=8)))
    wire = bytearray()
    last = 0
    for cut in [*cuts, len(body)]:
        piece = body[last:cut]
        last = cut
        if piece:
            hexsize = f"{len(piece):x}".encode()
            if draw(st.booleans()):
                hexsize = hexsize.upper()
            wire += hexsize + draw(_EXT) + b"\r\n" + piece + b"\r\n"
    wire += b"0" + draw(_EXT) + b"\r\n"
    for line in draw(_TRAILERS):
        wire += line + b"\r\n"
    wire += b"\r\n"
    return body, bytes(wire)


def _splits(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({min(p, len(data)) for p in points})
    out, last = [], 0
    for cut in [*cuts, len(data)]:
        out.append(data[last:cut])
        last = cut
    return out


@settings(max_examples=300, deadline=None)
@given(_chunked(), st.lists(st.integers(0, 4000), max_size=12))
def test_any_chunking_any_split_gives_the_body(
    case: tuple[bytes, bytes], points: list[int]
) -> None:
    body, wire = case
    decoder = BodyDecoder(chunked=True)
    got = b"".join(b"".join(decoder.feed(part)) for part in _splits(wire, points))
    assert got == body
    assert decoder.done
    assert decoder.offset == len(wire)
    decoder.close()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=8))
def test_content_length_any_split(body: bytes, points: list[int]) -> None:
    decoder = BodyDecoder(chunked=False, length=len(body))
    parts = _splits(body, points)
    out = [decoder.feed(part) for part in parts]
    assert b"".join(b"".join(o) for o in out) == body
    assert decoder.done
    # A read that is all body is handed over as the very object, not a copy.
    for part, pieces in zip(parts, out, strict=True):
        if part:
            assert pieces == [part] and pieces[0] is part


def test_whole_chunk_data_reads_are_not_copied_and_wanted_says_how_much_is_left() -> None:
    decoder = BodyDecoder(chunked=True)
    assert decoder.feed(b"a\r\n") == [] and decoder.wanted() == 10
    first = b"01234"
    assert decoder.feed(first)[0] is first
    assert decoder.wanted() == 5
    rest = b"56789"
    assert decoder.feed(rest)[0] is rest
    assert decoder.wanted() == 0
    assert decoder.feed(b"\r\n0\r\n\r\n") == []
    assert decoder.done


def test_framing_hint_ends_a_read_where_the_next_chunk_data_begins() -> None:
    decoder = BodyDecoder(chunked=True)
    wire = b"".join(b"%x\r\n" % 0x100000 + bytes(0x100000) + b"\r\n" for _ in range(3))
    pos = 0
    assert decoder.framing() == 8  # before the first size line: a guess ("100000\r\n" here)
    while pos < len(wire):
        size = decoder.wanted() or decoder.framing()
        part = wire[pos : pos + size]
        pos += len(part)
        pieces = decoder.feed(part)
        # Every read is all framing or all data: data reads come back whole, never sliced.
        assert pieces == [] or (pieces == [part] and pieces[0] is part)
    assert decoder.feed(b"0\r\n\r\n") == [] and decoder.done


def test_read_to_eof() -> None:
    decoder = BodyDecoder(chunked=False)
    assert decoder.wanted() == -1
    assert decoder.feed(b"abc") == [b"abc"]
    assert not decoder.done
    decoder.close()
    assert decoder.done


@pytest.mark.parametrize(
    ("wire", "offset", "words"),
    [
        (b"zz\r\n", 0, "bad chunk size"),
        (b"\r\n", 0, "bad chunk size"),
        (b"3\r\nabcX\r\n", 6, "not followed by CRLF"),
        (b"3\r\nabc\rX", 7, "not followed by CRLF"),
        (b"3\nabc\r\n", 1, "CRLF"),
        (b"1" * 17 + b"\r\n", 0, "bad chunk size"),
        (b"1" + b";" * (MAX_LINE + 10), 0, "too long"),
        (b"0\r\nno colon\r\n", 3, "malformed trailer"),
        (b"0\r\n\r\nextra", 5, "after the end"),
    ],
)
def test_malformed_framing_is_a_typed_error_with_offset(
    wire: bytes, offset: int, words: str
) -> None:
    decoder = BodyDecoder(chunked=True)
    with pytest.raises(BodyFramingError) as info:
        decoder.feed(wire)
    assert info.value.offset == offset
    assert words in str(info.value) and f"at byte {offset}" in str(info.value)
    assert isinstance(info.value, TransportError)  # a resumable connection-level failure


@pytest.mark.parametrize(
    ("wire", "chunked", "length"),
    [
        (b"5\r\nab", True, None),
        (b"5\r\nabcde\r\n", True, None),
        (b"0\r\n", True, None),
        (b"abc", False, 10),
    ],
)
def test_a_body_cut_short_is_a_typed_error_at_close(
    wire: bytes, chunked: bool, length: int | None
) -> None:
    decoder = BodyDecoder(chunked=chunked, length=length)
    decoder.feed(wire)
    with pytest.raises(BodyFramingError) as info:
        decoder.close()
    assert info.value.offset == len(wire)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6))
def test_garbage_gives_body_or_a_typed_error_never_anything_else(
    data: bytes, points: list[int]
) -> None:
    decoder = BodyDecoder(chunked=True)
    fed = 0
    try:
        for part in _splits(data, points):
            decoder.feed(part)
            fed += len(part)
        decoder.close()
    except BodyFramingError as exc:
        assert 0 <= exc.offset <= len(data)


@settings(max_examples=100, deadline=None)
@given(_chunked(), st.integers(0, 10_000), st.binary(min_size=1, max_size=3))
def test_a_mutation_gives_the_same_error_whatever_the_split(
    case: tuple[bytes, bytes], where: int, junk: bytes
) -> None:
    _, wire = case
    at = where % len(wire)
    bad = wire[:at] + junk + wire[at + 1 :]

    def outcome(parts: list[bytes]) -> tuple[bytes, object]:
        decoder = BodyDecoder(chunked=True)
        got = bytearray()
        try:
            for part in parts:
                for piece in decoder.feed(part):
                    got += piece
            decoder.close()
        except BodyFramingError as exc:
            return bytes(got) + b"".join(exc.pieces), exc.offset
        return bytes(got), None

    whole = outcome([bad])
    assert outcome([bad[i : i + 1] for i in range(len(bad))]) == whole
