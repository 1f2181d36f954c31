"""A WebSocket client that reads from TCP only when the test says so: a client that truly stops reading.

The websockets asyncio client keeps draining TCP into its own buffers even with `max_queue=1`
and `transport.pause_reading()`: measured, a "stalled" client of it took 1.4 GB (85,000 frames
of 16 KB) before a proxy's send timeout could notice. This one is websockets' sans-I/O protocol
on a plain blocking socket with a small receive buffer: after the handshake nothing is read
unless `read_until_closed` is called, so the server's kernel buffers fill at once.
"""

from __future__ import annotations

import socket
import time

from websockets.client import ClientProtocol
from websockets.frames import Frame
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

PROTOCOL = "tts.v1.msgpack"


class SilentWebSocket:
    """`SilentWebSocket(host, port, path)`: handshake done, then nothing is read until `read_until_closed`."""

    def __init__(self, host: str, port: int, path: str = "/v1/realtime", *, receive_buffer: int = 4096,
                 timeout: float = 30.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.protocol = ClientProtocol(parse_uri(f"ws://{host}:{port}{path}"), subprotocols=[Subprotocol(PROTOCOL)],
                                       max_size=None)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self._pending: list[Frame] = []  # frames received while reading (dropped)
        while self.protocol.state is State.CONNECTING:
            self._read_some()
        if self.protocol.handshake_exc is not None:
            raise self.protocol.handshake_exc
        self._collect()

    def read_until_closed(self, timeout: float) -> int | None:
        """Read (and drop) everything until the server closes or drops the connection; its close code, if any."""
        deadline = time.monotonic() + timeout
        while self.protocol.state is not State.CLOSED:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the connection was still open after {timeout:g} s")
            if not self._read_some():
                break
        self._pending.clear()
        return self.protocol.close_rcvd.code if self.protocol.close_rcvd is not None else None

    def close(self) -> None:
        self.sock.close()

    def _read_some(self) -> bool:
        """One recv into the protocol; False once the peer has closed or reset TCP."""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self._collect()
        self._flush()  # pongs and the closing handshake's answer
        return bool(data)

    def _collect(self) -> None:
        self._pending.extend(event for event in self.protocol.events_received() if isinstance(event, Frame))

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                try:
                    self.sock.sendall(data)
                except (ConnectionResetError, BrokenPipeError):
                    return
