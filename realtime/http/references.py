"""Reference audio named by file (`ref_audio: "file:<name>"`), only from the operator's directory.

A network service must not read arbitrary files for its clients: with no
`--ref-audio-dir` nothing is read, and with one, only plain files inside it are
(no absolute paths, no `..`, no symlinks leading out). Blocking: run off the loop.
"""

from __future__ import annotations

from pathlib import Path

from realtime.http.errors import ApiError

MAX_NAME_BYTES = 255


def read_reference_file(directory: Path | None, name: str, max_bytes: int) -> bytes:
    if directory is None:
        raise ApiError(
            400,
            "reading reference audio from server files is disabled; send the audio as base64 "
            "(the operator can allow a directory with --ref-audio-dir)",
            "reference_files_disabled",
        )
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES or any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise ApiError(
            400, f"a reference file name is at most {MAX_NAME_BYTES} bytes with no control characters", "invalid_value"
        )
    root = directory.resolve()
    candidate = Path(name)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise ApiError(400, f"{name!r} must be a plain name inside the reference audio directory", "invalid_value")
    try:
        path = (root / candidate).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise ApiError(404, f"no reference audio file {name!r}", "reference_file_not_found")
        size = path.stat().st_size
        if size > max_bytes:
            raise ApiError(413, f"{name!r} is {size} bytes; the limit is {max_bytes}", "reference_audio_too_large")
        return path.read_bytes()
    except (OSError, ValueError) as exc:  # a name the file system refuses (too long, unencodable) is not there
        raise ApiError(404, f"no reference audio file {name!r} ({type(exc).__name__})", "reference_file_not_found") from None
