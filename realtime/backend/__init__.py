"""The backend facade (see backend.py)."""

from realtime.backend.backend import AudioChunk, TTSBackend, draw_seed

__all__ = ["AudioChunk", "TTSBackend", "draw_seed"]
