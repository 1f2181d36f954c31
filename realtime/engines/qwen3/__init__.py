"""Qwen3-TTS engine: checkpoints, model loading and sharing, streaming generation.

Nothing here imports torch at module import: the torch stack is optional (`scripts/setup
qwen`) and is imported only when a Qwen3 model is actually used (see `runtime`).
"""
