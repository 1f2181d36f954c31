"""A streamed response body raced against the client leaving.

Starlette notices a departed client only when a send fails, which may be long after it
left while the engine keeps generating. Here the body and the wait for
`http.disconnect` run side by side; whichever ends first stops the other, and the
body's generator is closed at once, which stops the engine within one step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

logger = logging.getLogger(__name__)


class StreamFailed(Exception):
    """The body failed after the status line went out: the connection is dropped, not ended cleanly."""


class RacingStreamingResponse(Response):
    def __init__(
        self,
        body: AsyncGenerator[bytes, None],
        *,
        media_type: str,
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], None],
    ) -> None:
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)
        self._body = body
        self._on_close = on_close

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for piece in self._body:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender = asyncio.ensure_future(self._stream(send))
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
        if isinstance(failure, StreamFailed):
            # Returning without ending the body makes the server drop the connection, so the
            # client sees a cut stream rather than a complete but truncated file.
            logger.warning("speech request failed mid-stream: %s", failure)
            return
        if isinstance(failure, OSError):
            return  # the client went away while we were sending
        if failure is not None:
            raise failure


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
