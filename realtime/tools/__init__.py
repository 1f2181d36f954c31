"""Tools that are not part of serving: the random Qwen3-TTS checkpoint builders (`realtime-tts make-checkpoints`),
used by the tests and the benchmarks on machines without the real weights."""
