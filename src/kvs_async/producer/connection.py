"""One PutMedia call on the wire: a chunked POST whose body streams while acks stream back.

aiohttp writes a request body given as an async iterator from a task of its own and returns
the response as soon as its headers arrive, so the acks are read from ``response.content`` on
this side while the body is still being written (tests/producer check that ordering). The
request is signed once, for its headers, with ``x-amz-content-sha256: UNSIGNED-PAYLOAD``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .._http import HttpRequest
from ..errors import ReadTimeoutError, ServiceError, TransportError
from ..retries import ErrorKind, classify
from ..signing import UNSIGNED_PAYLOAD, sign_request
from .acks import AckParser, FragmentAck

if TYPE_CHECKING:
    import aiohttp

    from ..client import BaseClient

__all__ = ["PutMediaConnection", "put_media_headers"]

_READ = 65536


def put_media_headers(
    *,
    stream_name: str | None,
    stream_arn: str | None,
    fragment_timecode_type: str,
    producer_start_timestamp: float | None,
) -> dict[str, str]:
    headers = {
        "x-amz-content-sha256": UNSIGNED_PAYLOAD,
        "x-amzn-fragment-timecode-type": fragment_timecode_type,
        "Content-Type": "application/octet-stream",
    }
    if stream_arn:
        headers["x-amzn-stream-arn"] = stream_arn
    if stream_name:
        headers["x-amzn-stream-name"] = stream_name
    if producer_start_timestamp is not None:
        headers["x-amzn-producer-start-timestamp"] = f"{producer_start_timestamp:.3f}"
    return headers


class PutMediaConnection:
    """``await open()``, then ``async for ack in acks()``; ``close()`` drops the connection."""

    def __init__(
        self,
        client: BaseClient,
        *,
        route_base: str,
        signing_region: str,
        signing_name: str,
        headers: dict[str, str],
        body: AsyncIterator[bytes],
        connect_timeout: float,
    ) -> None:
        self._client = client
        self._route = (route_base, signing_region, signing_name)
        self._headers = headers
        self._body = body
        self._connect_timeout = connect_timeout
        self._response: aiohttp.ClientResponse | None = None
        self._parser = AckParser()
        self.bytes_received = 0

    async def open(self) -> None:
        """Send the headers; raise the service's typed error on a non-200 answer."""
        # Loaded on use: importing the bindings pays for neither aiohttp nor cattrs (issue 10).
        import aiohttp

        from .. import protocol
        from ..transport import request_url

        client = self._client
        base, region, name = self._route
        request = HttpRequest(
            method="POST", path="/putMedia", headers=dict(self._headers), url_base=base
        )
        creds = await client._credentials.get_credentials()
        sign_request(request, credentials=creds, region=region, service=name, now=client._now())
        session = client._http()._get_session()
        where = f"POST {base}/putMedia"
        try:
            response = await session.post(
                request_url(request),
                headers=request.headers,
                data=self._body,
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=self._connect_timeout, sock_read=None
                ),
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"{where} failed: {type(exc).__name__}: {exc}") from exc
        if response.status != 200:
            try:
                body = await response.read()
            except (aiohttp.ClientError, OSError) as exc:
                response.close()
                raise TransportError(f"{where}: HTTP {response.status}, body lost: {exc}") from exc
            finally:
                response.release()
            error = protocol.parse_error(client.SERVICE, response.status, response.headers, body)
            kind = classify(error)
            if kind is not None:
                error.retryable = True
                error.throttling = error.throttling or kind is ErrorKind.THROTTLING
            raise error
        self._response = response

    async def acks(self, *, read_timeout: float) -> AsyncIterator[FragmentAck]:
        """Acks as they arrive; ReadTimeoutError after ``read_timeout`` s of silence."""
        import aiohttp

        response = self._response
        assert response is not None
        content = response.content
        while True:
            try:
                async with asyncio.timeout(read_timeout):
                    data = await content.readany()
            except TimeoutError:
                raise ReadTimeoutError(
                    f"no PutMedia acknowledgement for {read_timeout:g}s"
                ) from None
            except (aiohttp.ClientError, OSError) as exc:
                raise TransportError(
                    f"the PutMedia connection failed: {type(exc).__name__}: {exc}"
                ) from exc
            if not data:
                for ack in self._parser.close():
                    yield ack
                return
            self.bytes_received += len(data)
            for ack in self._parser.feed(data):
                yield ack

    def close(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed call is worth another try (drops, timeouts, 5xx, throttles)."""
    if isinstance(exc, TransportError):
        return True
    if isinstance(exc, ServiceError):
        return bool(exc.retryable or exc.throttling)
    return False
