"""A streamed response body raced against the client leaving.

Starlette notices a departed client only when a send fails (with uvicorn, sends after
a disconnect are dropped silently), so the engine would go on generating for nobody.
Here the body and the wait for `http.disconnect` run side by side; whichever ends first
stops the other, and the body's generator is closed at once, which stops the engine
within one step.

The status line waits for the body's first piece: a body that fails before it (an
`ApiError`) is answered as an ordinary error response. After it, `StreamFailed` drops
the connection without ending the body, so the client sees a cut stream rather than a
complete but truncated file.

A client that stops reading makes every send wait (the server's buffer is full): a send
that waits longer than the send timeout aborts the response the same way (the body's
generator is closed, the engine stops, the slot is freed). uvicorn then closes the
connection; what is already buffered for that client stays with the kernel until it
reads or goes, bounded by the socket's buffers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from realtime.http.errors import ApiError

logger = logging.getLogger(__name__)


class StreamFailed(Exception):
    """The body failed after the status line went out."""


class StreamStalled(Exception):
    """The client read nothing for the send timeout while a piece of the body waited for it."""


class RacingStreamingResponse(Response):
    def __init__(
        self,
        body: AsyncGenerator[bytes, None],
        *,
        media_type: str,
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], None],
        on_error: Callable[[ApiError], None],
        send_timeout_s: float = 20.0,
    ) -> None:
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)
        self._body = body
        self._on_close = on_close
        self._on_error = on_error
        self._send_timeout_s = send_timeout_s

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            first = await anext(self._body, b"")
        except ApiError as error:
            self._on_error(error)
            await error.response()(scope, receive, send)
            return
        await self._send(send, {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if first:
            await self._send(send, {"type": "http.response.body", "body": first, "more_body": True})
        async for piece in self._body:
            await self._send(send, {"type": "http.response.body", "body": piece, "more_body": True})
        await self._send(send, {"type": "http.response.body", "body": b"", "more_body": False})

    async def _send(self, send: Send, message: dict) -> None:
        # The server's send waits while the client reads nothing; cancelling that wait sends nothing.
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that lands as the send
        # completes, and the body then went on to its next segment for a client that had left.
        try:
            async with asyncio.timeout(self._send_timeout_s):
                await send(message)
        except TimeoutError:
            raise StreamStalled(f"the client read nothing for {self._send_timeout_s:g} s") from None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender = asyncio.ensure_future(self._stream(scope, receive, send))
        listener = asyncio.ensure_future(_until_disconnect(receive))
        try:
            await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, listener):
                task.cancel()
            await asyncio.gather(sender, listener, return_exceptions=True)
            await self._body.aclose()
            self._on_close()
        if sender.cancelled():
            logger.info("speech request: the client left; generation stopped")
            return
        failure = sender.exception()
        if isinstance(failure, StreamStalled):
            logger.info("speech request: %s; the response is aborted", failure)
            return
        if isinstance(failure, StreamFailed):
            # Returning without ending the body makes the server drop the connection.
            logger.warning("speech request failed mid-stream: %s", failure)
            return
        if isinstance(failure, OSError):
            return  # the client went away while we were sending
        if failure is not None:
            raise failure


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
