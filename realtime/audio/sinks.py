"""In-memory byte sinks that codec libraries write into, drained after every call.

A streaming encoder must never rewrite what it already sent: those bytes have left
for the client. So the sinks refuse to move backwards instead of silently patching
a header nobody will see.
"""

from __future__ import annotations


class ByteSink:
    """Write-only and not seekable: FFmpeg muxers see a pipe and write streamable output."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buffer += data
        return len(data)

    def take(self) -> bytes:
        """Everything written since the last take."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


class AppendOnlySink(ByteSink):
    """For libsndfile, which asks where it is (seek by 0, tell) but must never move back."""

    def __init__(self) -> None:
        super().__init__()
        self._position = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        written = super().write(data)
        self._position += written
        return written

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        # The end and the current position are the same place: nothing is ever rewritten.
        target = offset if whence == 0 else self._position + offset
        if target != self._position:
            raise OSError(f"a streamed encoder cannot seek back to byte {target} (at {self._position})")
        return self._position

    def read(self, size: int = -1) -> bytes:
        raise OSError("a streamed encoder's output cannot be read back")
