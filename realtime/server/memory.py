"""Process memory settings for the server: fewer glibc malloc arenas.

glibc gives each thread that allocates concurrently its own arena (up to 8 per core), and
freed memory in a thread's arena is rarely returned to the system. The server runs engine
threads, encoder threads and the event loop, so arenas multiply the resident size for no
gain here (measured with `realtime-tts soak`, 6 clients, 2 min: the plateau after warm-up
531 MiB with 2 arenas against 575 MiB with glibc's default; see README). The environment
variable MALLOC_ARENA_MAX, when set, wins: glibc reads it itself at start-up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

logger = logging.getLogger(__name__)

DEFAULT_MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


def limit_malloc_arenas(arenas: int = DEFAULT_MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (before the server starts its threads); False where that does not apply."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return False
    ok = bool(mallopt(_M_ARENA_MAX, arenas))
    if ok:
        logger.debug("malloc arenas capped at %d", arenas)
    return ok
