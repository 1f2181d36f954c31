"""Random-initialised Qwen3-ForcedAligner checkpoints, built offline in the released on-disk layout.

Like the TTS ones (build.py), they let the aligner path (detection, loading through the
model manager and `Qwen3ForcedAligner.from_pretrained`, one forward pass per segment)
run in tests and benchmarks without downloading weights: `tiny` builds in a second;
`0.6b` has the released geometry, for timing on real-sized tensors. Their times mean
nothing, as their weights are random.

    realtime-tts make-checkpoints --out models --types forced_aligner

The directory holds what `Qwen3ForcedAligner.from_pretrained` reads: `config.json`
(a `qwen3_asr` model whose thinker is `qwen3_forced_aligner`, with `classify_num`,
`timestamp_token_id`, `timestamp_segment_time`), `model.safetensors`, the Whisper
feature extractor's `preprocessor_config.json`, and a Qwen2 tokenizer with the audio
and `<timestamp>` special tokens. Traps this module handles: saving writes the thinker's
class `model_type` (`qwen3_asr_thinker`), and qwen-asr picks the timestamp head only when
it names the forced aligner, so config.json is corrected after saving; the processor
finds the audio tokens through the tokenizer's `extra_special_tokens`. The tiny one
has 5 time classes (0-320 ms), so its random answers fall inside the short audio of the
tiny TTS checkpoints.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from realtime.tools.qwen3_checkpoints import BuildError, build_text_tokenizer
from realtime.engines.qwen3.runtime import import_qwen_asr

FORCED_ALIGNER = "forced_aligner"  # the `--types` name of the aligner
ALIGNER_SIZES = ("tiny", "0.6b")
ALIGNER_SAMPLE_RATE = 16000
TIMESTAMP_SEGMENT_MS = 80  # as released: one time class is 80 ms
AUDIO_TOKENS = {"audio_bos_token": "<|audio_start|>", "audio_token": "<|audio_pad|>", "audio_eos_token": "<|audio_end|>"}
TIMESTAMP_TOKEN = "<timestamp>"
SUPPORT_LANGUAGES = (
    "Chinese", "English", "Cantonese", "French", "German", "Italian", "Japanese", "Korean", "Portuguese",
    "Russian", "Spanish",
)
RELEASED_TEXT_VOCAB = 152064


def aligner_checkpoint_name(size: str) -> str:
    return "tiny-forced-aligner" if size == "tiny" else f"random-{size}-forced-aligner"


def _geometry(size: str) -> dict[str, Any]:
    """`tiny` for tests, else the released Qwen3-ForcedAligner-0.6B geometry (from its config.json)."""
    if size == "tiny":
        return {
            "audio": dict(encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64, d_model=32, output_dim=64,
                          downsample_hidden_size=8),
            "text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=16, mrope_section=[4, 2, 2]),
            "classify_num": 5,
        }
    return {
        "audio": dict(encoder_layers=24, encoder_attention_heads=16, encoder_ffn_dim=4096, d_model=1024, output_dim=1024,
                      downsample_hidden_size=480),
        "text": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                     num_key_value_heads=8, head_dim=128, mrope_section=[24, 20, 20]),
        "classify_num": 5000,
    }


def _aligner_tokenizer(work_dir: Path) -> Any:
    """The TTS builder's small Qwen2 BPE, plus the aligner's audio and timestamp special tokens."""
    from transformers.tokenization_utils import AddedToken

    tokenizer = build_text_tokenizer(work_dir)
    extra = [*AUDIO_TOKENS.values(), TIMESTAMP_TOKEN]
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True, normalized=False) for t in extra]},
        replace_additional_special_tokens=False,
    )
    return tokenizer


def build_aligner_checkpoint(out_dir: Path, size: str = "tiny", seed: int = 0) -> Path:
    """Write one random forced-aligner checkpoint into `out_dir` (created; replaced if present)."""
    if size not in ALIGNER_SIZES:
        raise BuildError(f"unknown aligner size {size!r}; expected one of {', '.join(ALIGNER_SIZES)}")
    import_qwen_asr()
    import torch
    from qwen_asr.core.transformers_backend import Qwen3ASRConfig, Qwen3ASRForConditionalGeneration
    from transformers import WhisperFeatureExtractor

    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    tokenizer = _aligner_tokenizer(out_dir.parent)
    token_id = tokenizer.convert_tokens_to_ids
    geometry = _geometry(size)
    text = dict(geometry["text"])
    mrope_section = text.pop("mrope_section")
    config = Qwen3ASRConfig(
        thinker_config=dict(  # a dict: Qwen3ASRConfig builds it with Qwen3ASRThinkerConfig(**dict)
            model_type="qwen3_forced_aligner",
            classify_num=geometry["classify_num"],
            audio_config=dict(num_mel_bins=128, n_window=50, n_window_infer=800, max_source_positions=1500,
                              **geometry["audio"]),
            text_config=dict(
                vocab_size=len(tokenizer) if size == "tiny" else RELEASED_TEXT_VOCAB, rope_theta=1000000,
                rms_norm_eps=1e-6, tie_word_embeddings=False,
                rope_scaling={"interleaved": True, "mrope_interleaved": True, "mrope_section": mrope_section,
                              "rope_type": "default", "type": "default"},
                **text,
            ),
            audio_token_id=token_id(AUDIO_TOKENS["audio_token"]),
            audio_start_token_id=token_id(AUDIO_TOKENS["audio_bos_token"]),
            audio_end_token_id=token_id(AUDIO_TOKENS["audio_eos_token"]),
        ),
        timestamp_token_id=token_id(TIMESTAMP_TOKEN),
        timestamp_segment_time=TIMESTAMP_SEGMENT_MS,
        support_languages=list(SUPPORT_LANGUAGES),
        architectures=["Qwen3ASRForConditionalGeneration"],
    )
    with torch.random.fork_rng(devices=[]):  # HF initialises from the global RNG: leave the caller's alone
        torch.manual_seed(seed)
        model = Qwen3ASRForConditionalGeneration(config).eval()
        if size != "tiny":
            model = model.to(torch.bfloat16)  # as released; halves the file
        model.save_pretrained(out_dir, safe_serialization=True)
        del model
    config_file = out_dir / "config.json"
    saved = json.loads(config_file.read_text(encoding="utf-8"))
    saved["thinker_config"]["model_type"] = "qwen3_forced_aligner"  # saving wrote the class's own type
    config_file.write_text(json.dumps(saved, indent=2, ensure_ascii=False), encoding="utf-8")
    WhisperFeatureExtractor(
        feature_size=128, sampling_rate=ALIGNER_SAMPLE_RATE, hop_length=160, chunk_length=30, n_fft=400,
        padding_value=0.0, return_attention_mask=True,
    ).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    tokenizer_config = out_dir / "tokenizer_config.json"
    settings = json.loads(tokenizer_config.read_text(encoding="utf-8"))
    settings["extra_special_tokens"] = dict(AUDIO_TOKENS)  # what the processor reads as tokenizer.audio_token
    tokenizer_config.write_text(json.dumps(settings, indent=2, ensure_ascii=False), encoding="utf-8")
    return out_dir
