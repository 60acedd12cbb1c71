"""Plain request/response descriptions shared by the serializer, the signer and the transport.

Nothing here does I/O: the serializer produces an ``HttpRequest`` relative to an
endpoint, the signer adds headers to it, and the transport sends it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from attrs import define, field


@define(slots=True, kw_only=True)
class HttpRequest:
    """A request ready to sign and send.

    ``path`` is already percent-encoded as it goes on the wire (labels escaped),
    ``query`` is a list of *decoded* key/value pairs in order (repeated keys allowed).
    ``url_base`` is the endpoint (``https://host[:port][/base]``), filled in by the client.
    """

    method: str
    path: str
    query: list[tuple[str, str]] = field(factory=list)
    headers: dict[str, str] = field(factory=dict)
    body: bytes = b""
    url_base: str = ""


class ByteStream(Protocol):
    """What a streaming payload exposes: bytes pieces as they arrive, and a way to stop early."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def readany(self) -> bytes:
        """The next piece as it arrived, whole; ``b""`` at the end."""
        ...

    async def read(self, n: int = -1) -> bytes: ...

    def close(self) -> None: ...
