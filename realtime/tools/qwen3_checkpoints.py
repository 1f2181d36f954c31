"""Random-initialised Qwen3-TTS checkpoints, built offline in the released on-disk layout.

They let the whole Qwen3 path (loading, prompts, step loop, decoding, the server) run in
tests and benchmarks without downloading weights: `tiny` builds in seconds; `0.6b` and
`1.7b` have the released geometry, for timing on real-sized tensors (they say nothing,
as their weights are random).

    realtime-tts make-checkpoints --out models --size tiny

Each checkpoint is what `Qwen3TTSModel.from_pretrained` reads: `config.json`,
`generation_config.json`, `model.safetensors`, Qwen2 tokenizer files, and
`speech_tokenizer/` (config, preprocessor config, weights). Traps this module handles:
sub-configs are given as dicts (Qwen3TTSConfig builds them with `Cls(**dict)`); the
`model_type` key that saving adds to `speaker_encoder_config` is removed (its
`__init__` takes no other keys); `generation_config.json` is written by hand (the model
reads it as a plain dict); the text tokenizer is a small byte-level BPE with Qwen's
special tokens, in which `<|im_start|>assistant\\n` is 3 tokens and
`<|im_end|>\\n<|im_start|>assistant\\n` 5 (the official prompt slicing counts on it);
the speech decoder's codebooks start at zero and HF's init makes it near-silent, so
both are re-initialised and the output calibrated to an audible level. A random talker
rarely emits EOS: callers must bound the frames.
"""

from __future__ import annotations

import inspect
import json
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from realtime.engines.qwen3.checkpoints import MODEL_TYPES
from realtime.engines.qwen3.runtime import import_qwen_tts

SIZES = ("tiny", "0.6b", "1.7b")
SAMPLE_RATE = 24000

# Control-token ids of the released 12 Hz checkpoints (talker codec vocabulary 3072:
# 0..2047 codes of the first codebook, then control, language and speaker ids).
CODEC_IDS = {
    "codec_pad_id": 2148, "codec_bos_id": 2149, "codec_eos_token_id": 2150, "codec_think_id": 2154,
    "codec_nothink_id": 2155, "codec_think_bos_id": 2156, "codec_think_eos_id": 2157,
}
LANGUAGE_IDS = {
    "chinese": 2055, "english": 2050, "german": 2053, "italian": 2070, "portuguese": 2071, "spanish": 2054,
    "japanese": 2058, "korean": 2064, "french": 2061, "russian": 2069, "beijing_dialect": 2074,
    "sichuan_dialect": 2062,
}
SPEAKER_IDS = {
    "serena": 3066, "vivian": 3065, "uncle_fu": 3010, "ryan": 3061, "aiden": 2861, "ono_anna": 2873,
    "sohee": 2864, "eric": 2875, "dylan": 2878,
}
SPEAKER_DIALECTS: dict[str, str | bool] = {speaker: False for speaker in SPEAKER_IDS} | {
    "eric": "sichuan_dialect", "dylan": "beijing_dialect",
}
# The released generation_config.json (read by Qwen3TTSModel as a plain dict).
GENERATION_CONFIG = {
    "do_sample": True, "top_k": 50, "top_p": 1.0, "temperature": 0.9, "repetition_penalty": 1.05,
    "subtalker_dosample": True, "subtalker_top_k": 50, "subtalker_top_p": 1.0, "subtalker_temperature": 0.9,
    "max_new_tokens": 8192,
}
RELEASED_TEXT_VOCAB = 151936
TINY_TEXT_VOCAB = 512

# Qwen2's pre-tokenizer split, and the special tokens the Qwen3-TTS prompt uses.
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
ENDOFTEXT = "<|endoftext|>"
SPECIAL_TOKENS = ("<|im_start|>", "<|im_end|>", "<tts_pad>", "<tts_text_bos>", "<tts_text_eod>")
# The prompt pieces whose token counts the official generate() slicing relies on.
PROMPT_TOKEN_COUNTS = {"<|im_start|>assistant\n": 3, "<|im_end|>\n<|im_start|>assistant\n": 5, "<|im_start|>user\n": 3}
TOKENIZER_CORPUS = (
    "assistant", "user", "assistant user", "Hello world, this is a test of the speech server.",
    "She said she would be here by noon.", "The quick brown fox jumps over the lazy dog.",
    "Speak in a warm, friendly tone.", "A calm male voice, middle aged, slightly husky.", "Very happy.",
    "Streaming text to speech over a websocket in real time.", "Okay. Yeah. I resent you.",
)


class BuildError(RuntimeError):
    """A checkpoint could not be built (bad arguments, or the built tokenizer breaks the prompt)."""


def checkpoint_name(size: str, model_type: str) -> str:
    """`tiny-custom-voice`, `random-0.6b-voice-design`: valid model names that follow the path convention."""
    kind = model_type.replace("_", "-")
    return f"tiny-{kind}" if size == "tiny" else f"random-{size}-{kind}"


def _geometry(size: str) -> dict[str, dict[str, Any]]:
    """Layer sizes: `tiny` for tests, else the released geometry (from the public config.json files)."""
    if size == "tiny":
        return {
            "talker": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, head_dim=16, text_hidden_size=64, mrope_section=[4, 2, 2]),
            "code_predictor": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                   num_key_value_heads=1, head_dim=16),
            "speaker_encoder": dict(enc_channels=[32, 32, 32, 32, 96], enc_attention_channels=16, enc_se_channels=16),
            "encoder": dict(hidden_size=32, num_filters=8, num_hidden_layers=1, num_attention_heads=2,
                            num_key_value_heads=2, head_dim=16, intermediate_size=64, codebook_dim=16,
                            vector_quantization_hidden_dimension=16, num_quantizers=16, upsample_groups=32),
            "decoder": dict(latent_dim=64, codebook_dim=32, hidden_size=32, intermediate_size=64,
                            num_attention_heads=2, num_key_value_heads=2, head_dim=16, num_hidden_layers=1,
                            decoder_dim=32),
        }
    return {
        "talker": dict(hidden_size={"0.6b": 1024, "1.7b": 2048}[size],
                       intermediate_size={"0.6b": 3072, "1.7b": 6144}[size], num_hidden_layers=28,
                       num_attention_heads=16, num_key_value_heads=8, head_dim=128, text_hidden_size=2048,
                       mrope_section=[24, 20, 20]),
        "code_predictor": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=5, num_attention_heads=16,
                               num_key_value_heads=8, head_dim=128),
        "speaker_encoder": dict(enc_channels=[512, 512, 512, 512, 1536], enc_attention_channels=128,
                                enc_se_channels=128),
        "encoder": {},  # MimiConfig's defaults are the released encoder (32 quantizers, 16 used)
        "decoder": dict(latent_dim=1024, codebook_dim=512, hidden_size=512, intermediate_size=1024,
                        num_attention_heads=16, num_key_value_heads=16, head_dim=64, num_hidden_layers=8,
                        decoder_dim=1536),
    }


def build_text_tokenizer(work_dir: Path) -> Any:
    """A Qwen2-style byte-level BPE with Qwen's special tokens, trained on a few sentences."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast
    from transformers.tokenization_utils import AddedToken

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_TEXT_VOCAB - len(SPECIAL_TOKENS) - 1, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(list(TOKENIZER_CORPUS) * 20, trainer)
    raw = Path(tempfile.mkdtemp(prefix="bpe-", dir=work_dir))
    try:
        bpe.model.save(str(raw))  # vocab.json + merges.txt
        tokenizer = Qwen2TokenizerFast(
            vocab_file=str(raw / "vocab.json"), merges_file=str(raw / "merges.txt"),
            unk_token=None, bos_token=None, eos_token=ENDOFTEXT, pad_token=ENDOFTEXT,
        )
    finally:
        shutil.rmtree(raw, ignore_errors=True)
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS]}
    )
    tokenizer.add_tokens([AddedToken(ENDOFTEXT, special=True, normalized=False)], special_tokens=True)
    for text, count in PROMPT_TOKEN_COUNTS.items():
        ids = tokenizer(text)["input_ids"]
        if len(ids) != count:
            raise BuildError(f"the built tokenizer makes {len(ids)} tokens of {text!r}; the prompt needs {count}")
    return tokenizer


def _model_config(model_type: str, size: str, tokenizer: Any) -> Any:
    from qwen_tts.core.models import Qwen3TTSConfig

    geometry = _geometry(size)
    talker = dict(geometry["talker"])
    mrope_section = talker.pop("mrope_section")
    custom_voice = model_type == "custom_voice"
    code_predictor = dict(
        vocab_size=2048, num_code_groups=16, rope_theta=1000000, max_position_embeddings=65536, rms_norm_eps=1e-6,
        hidden_act="silu", attention_bias=False, use_cache=True, **geometry["code_predictor"],
    )
    talker_config = dict(
        code_predictor_config=code_predictor, vocab_size=3072, num_code_groups=16,
        text_vocab_size=len(tokenizer) if size == "tiny" else RELEASED_TEXT_VOCAB,
        rope_theta=1000000, max_position_embeddings=32768, rms_norm_eps=1e-6, hidden_act="silu",
        rope_scaling={"interleaved": True, "mrope_section": mrope_section, "rope_type": "default", "type": "default"},
        position_id_per_seconds=13, codec_language_id=dict(LANGUAGE_IDS),
        spk_id=dict(SPEAKER_IDS) if custom_voice else {},
        spk_is_dialect=dict(SPEAKER_DIALECTS) if custom_voice else {},
        **CODEC_IDS, **talker,
    )
    speaker_encoder_config = dict(
        mel_dim=128, enc_dim=talker["hidden_size"], enc_kernel_sizes=[5, 3, 3, 3, 1], enc_dilations=[1, 2, 3, 4, 1],
        enc_res2net_scale=8, sample_rate=SAMPLE_RATE, **geometry["speaker_encoder"],
    )
    token_id = tokenizer.convert_tokens_to_ids
    return Qwen3TTSConfig(
        talker_config=talker_config,  # sub-configs as dicts: Qwen3TTSConfig builds them with Cls(**dict)
        speaker_encoder_config=speaker_encoder_config,
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        # "0b6" makes the official generate_custom_voice drop `instruct`: tiny ones follow it.
        tts_model_size="0b6" if size == "0.6b" else "1b7",
        tts_model_type=model_type,
        im_start_token_id=token_id("<|im_start|>"), im_end_token_id=token_id("<|im_end|>"),
        tts_pad_token_id=token_id("<tts_pad>"), tts_bos_token_id=token_id("<tts_text_bos>"),
        tts_eos_token_id=token_id("<tts_text_eod>"),
        architectures=["Qwen3TTSForConditionalGeneration"],
    )


def _speech_tokenizer(size: str, generator: Any) -> Any:
    """The 12 Hz codec, with an audible, code-dependent random decoder."""
    import torch
    from qwen_tts.core import Qwen3TTSTokenizerV2Config, Qwen3TTSTokenizerV2Model

    geometry = _geometry(size)
    encoder = dict(sampling_rate=SAMPLE_RATE, frame_rate=12.5, upsampling_ratios=[8, 6, 5, 4], **geometry["encoder"])
    decoder = dict(
        codebook_size=2048, num_quantizers=16, sliding_window=72, max_position_embeddings=8000, rope_theta=10000,
        rms_norm_eps=1e-5, layer_scale_initial_scale=0.01, hidden_act="silu", upsample_rates=[8, 5, 4, 3],
        upsampling_ratios=[2, 2], attention_bias=False, **geometry["decoder"],
    )
    config = Qwen3TTSTokenizerV2Config(
        encoder_config=encoder, decoder_config=decoder, encoder_valid_num_quantizers=16,
        input_sample_rate=SAMPLE_RATE, output_sample_rate=SAMPLE_RATE, decode_upsample_rate=1920,
        encode_downsample_rate=1920, architectures=["Qwen3TTSTokenizerV2Model"],
    )
    model = Qwen3TTSTokenizerV2Model(config).eval()
    with torch.no_grad():
        # The codebooks (EMA sums) start at zero: every code would decode alike.
        for name, parameter in model.decoder.quantizer.named_parameters():
            if name.endswith("embedding_sum"):
                parameter.normal_(0.0, 1.0, generator=generator)
        # HF's init (normal, std 0.02) through four upsampling blocks gives ~1e-5 amplitude;
        # PyTorch's default init gives audible output. No bias: no DC offset.
        for module in model.decoder.modules():
            if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d, torch.nn.Linear)):
                module.reset_parameters()
                if module.bias is not None:
                    module.bias.zero_()
        # Output is linear in the last convolution: scale it so random codes decode to ~0.1 RMS.
        probe = torch.randint(0, decoder["codebook_size"], (1, decoder["num_quantizers"], 12), generator=generator)
        rms = model.decoder(probe).float().std().clamp_min(1e-12)
        model.decoder.decoder[-1].conv.weight.mul_(0.1 / rms)
    return model


def _clean_speaker_encoder_config(config_file: Path) -> None:
    """Keep only the keys Qwen3TTSSpeakerEncoderConfig.__init__ accepts (saving adds `model_type`)."""
    from qwen_tts.core.models.configuration_qwen3_tts import Qwen3TTSSpeakerEncoderConfig

    accepted = set(inspect.signature(Qwen3TTSSpeakerEncoderConfig.__init__).parameters) - {"self"}
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["speaker_encoder_config"] = {
        key: value for key, value in config.get("speaker_encoder_config", {}).items() if key in accepted
    }
    config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")


def build_checkpoint(out_dir: Path, model_type: str, size: str = "tiny", seed: int = 0, tokenizer: Any = None) -> Path:
    """Write one random checkpoint of this kind and size into `out_dir` (created; replaced if present)."""
    import_qwen_tts()
    import torch
    from qwen_tts.core.models import Qwen3TTSForConditionalGeneration
    from transformers import EncodecFeatureExtractor

    if model_type not in MODEL_TYPES:
        raise BuildError(f"unknown model type {model_type!r}; expected one of {', '.join(MODEL_TYPES)}")
    if size not in SIZES:
        raise BuildError(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    tokenizer = tokenizer if tokenizer is not None else build_text_tokenizer(out_dir.parent)
    # HF initialises weights from the global RNG: seed it inside fork_rng so the caller's
    # random state is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3TTSForConditionalGeneration(_model_config(model_type, size, tokenizer)).eval()
        if size != "tiny":
            model = model.to(torch.bfloat16)  # as released; halves the files
        model.save_pretrained(out_dir, safe_serialization=True)
        del model
        speech_dir = out_dir / "speech_tokenizer"
        torch.manual_seed(seed + 1)
        speech_tokenizer = _speech_tokenizer(size, torch.Generator().manual_seed(seed + 1))
        speech_tokenizer.save_pretrained(speech_dir, safe_serialization=True)
    EncodecFeatureExtractor(
        feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, return_attention_mask=True
    ).save_pretrained(speech_dir)
    _clean_speaker_encoder_config(out_dir / "config.json")
    (out_dir / "generation_config.json").write_text(json.dumps(GENERATION_CONFIG, indent=2), encoding="utf-8")
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_checkpoints(
    out_dir: Path, size: str = "tiny", model_types: Iterable[str] = MODEL_TYPES, seed: int = 0
) -> dict[str, Path]:
    """Build one checkpoint per kind under `out_dir`, named by `checkpoint_name`; returns kind -> path."""
    import_qwen_tts()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_text_tokenizer(out_dir)
    return {
        model_type: build_checkpoint(out_dir / checkpoint_name(size, model_type), model_type, size, seed, tokenizer)
        for model_type in model_types
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`realtime-tts make-checkpoints`: build random checkpoints for tests and benchmarks."""
    import argparse
    import time

    from realtime.tools.qwen3_aligner_checkpoint import FORCED_ALIGNER, aligner_checkpoint_name, build_aligner_checkpoint

    parser = argparse.ArgumentParser(
        prog="realtime-tts make-checkpoints",
        description="Build random-initialised Qwen3-TTS checkpoints (the released layout) for tests and benchmarks. "
        "They load and run like the real ones but say nothing.",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write the checkpoints into")
    parser.add_argument("--size", choices=SIZES, default="tiny", help="tiny (seconds, a few MB) or the released geometry")
    kinds = (*MODEL_TYPES, FORCED_ALIGNER)
    parser.add_argument("--types", nargs="+", choices=kinds, default=list(MODEL_TYPES), metavar="TYPE",
                        help=f"which kinds ({', '.join(kinds)}; default the three TTS kinds). "
                        f"{FORCED_ALIGNER} is the word-timestamp aligner (sizes tiny and 0.6b)")
    parser.add_argument("--seed", type=int, default=0, help="weights seed (default 0)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    built = build_checkpoints(args.out, args.size, [t for t in args.types if t != FORCED_ALIGNER], args.seed)
    if FORCED_ALIGNER in args.types:
        built[FORCED_ALIGNER] = build_aligner_checkpoint(
            Path(args.out) / aligner_checkpoint_name(args.size), args.size, args.seed
        )
    for model_type, path in built.items():
        megabytes = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        print(f"{path}: {model_type}, {megabytes:.1f} MB")
    print(f"built {len(built)} checkpoint(s) in {time.perf_counter() - started:.1f} s")
    return 0
