"""StreamingDecoder: pushing frames in any chunking gives the official whole-utterance decode.

References are the official decode of the same codes: `Qwen3TTSTokenizer.decode` (what
`generate_*` calls) for a tiny checkpoint's speech tokenizer, and the decoder's own
`chunked_decode` (what that calls) for a codec built here with a 4-frame attention window,
so the window and its cache trimming are exercised on a few frames.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from realtime.engines.qwen3.decoder import (
    DecoderClosed,
    InvalidCodes,
    StreamingDecoder,
    UnsupportedDecoder,
    official_chunking,
    resolve_codec_decoder,
)
from realtime.bench.decoder import benchmark_decoder
from realtime.engines.qwen3.runtime import import_qwen_tts

TOLERANCE = 1e-5
SAMPLES_PER_FRAME = 1920
QUANTIZERS = 16


# -- models -------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Other work shares the cores; one thread is also the deterministic setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def speech_tokenizer(tiny_checkpoints: dict[str, Path]) -> Any:
    """The tiny base checkpoint's speech tokenizer, loaded by the official loader."""
    qwen_tts = import_qwen_tts()
    return qwen_tts.Qwen3TTSTokenizer.from_pretrained(
        str(tiny_checkpoints["base"] / "speech_tokenizer"), device_map="cpu", dtype=torch.float32
    )


def build_codec(*, sliding_window: int, attn_implementation: str = "sdpa", seed: int = 0) -> Any:
    """A tiny random 12 Hz codec decoder whose transformer matters (layer scale 1) and whose output is audible."""
    import_qwen_tts()
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2DecoderConfig
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Decoder

    config = Qwen3TTSTokenizerV2DecoderConfig(
        codebook_size=64, codebook_dim=16, latent_dim=16, hidden_size=16, intermediate_size=32,
        num_attention_heads=2, num_key_value_heads=1, head_dim=8, num_hidden_layers=2,
        decoder_dim=16, sliding_window=sliding_window, layer_scale_initial_scale=1.0,
        num_quantizers=QUANTIZERS, upsample_rates=[8, 5, 4, 3], upsampling_ratios=[2, 2],
    )
    torch.manual_seed(seed)
    codec = Qwen3TTSTokenizerV2Decoder._from_config(config, attn_implementation=attn_implementation).eval()
    with torch.no_grad():
        for name, parameter in codec.quantizer.named_parameters():
            if name.endswith("embedding_sum"):
                parameter.normal_(0.0, 1.0)
        for module in codec.modules():
            if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d, torch.nn.Linear)):
                module.reset_parameters()
                if module.bias is not None:
                    module.bias.zero_()
        probe = random_codes(12, seed=99, codebook_size=64)
        peak = codec(probe.T.unsqueeze(0)).abs().max().clamp_min(1e-12)
        codec.decoder[-1].conv.weight.mul_(0.5 / peak)  # audible and unclipped: clipping would hide errors
    return codec


@pytest.fixture(scope="module")
def window4_codec() -> Any:
    return build_codec(sliding_window=4)


# -- helpers ------------------------------------------------------------------------------


def random_codes(frames: int, *, seed: int, codebook_size: int = 2048) -> Any:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, codebook_size, (frames, QUANTIZERS), generator=generator)


def official_decode(speech_tokenizer: Any, codes: Any) -> np.ndarray:
    wavs, sample_rate = speech_tokenizer.decode([{"audio_codes": codes}])
    assert sample_rate == 24000
    audio: np.ndarray = wavs[0]
    assert_audible(audio)
    return audio


def codec_decode(codec: Any, codes: Any) -> np.ndarray:
    """What the official decode runs for one utterance: `chunked_decode` on [1, 16, frames]."""
    with torch.inference_mode():
        audio = codec.chunked_decode(codes.T.unsqueeze(0)).reshape(-1).numpy()
    assert_audible(audio)
    return audio


def assert_audible(audio: np.ndarray) -> None:
    """A reference worth comparing with: not near-silent, not clipped (clamping would hide errors)."""
    assert audio.std() > 0.01 and (np.abs(audio) >= 1).mean() < 0.01


def chunk_sizes(plan: str, total: int) -> list[int]:
    """'1', '3', 'all', '2,8' (2, then 8s): push sizes covering `total` frames."""
    if plan == "all":
        return [total]
    steps = [int(step) for step in plan.split(",")]
    sizes: list[int] = []
    covered = 0
    while covered < total:
        size = min(steps[min(len(sizes), len(steps) - 1)], total - covered)
        sizes.append(size)
        covered += size
    return sizes


def stream(decoder: StreamingDecoder, codes: Any, sizes: Sequence[int]) -> np.ndarray:
    pieces, start = [], 0
    for size in sizes:
        piece = decoder.push(codes[start : start + size])
        assert piece.dtype == np.float32 and piece.shape == (size * SAMPLES_PER_FRAME,)
        pieces.append(piece)
        start += size
    tail = decoder.finish()
    assert tail.dtype == np.float32 and tail.shape == (0,)  # nothing is held back: no layer looks ahead
    return np.concatenate(pieces + [tail])


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    assert float(np.abs(actual - expected).max()) <= TOLERANCE


CHUNKINGS = ["1", "2", "3", "7", "2,8", "all"]


# -- parity with the official decode ------------------------------------------------------


@pytest.mark.parametrize("frames", [1, 2, 5, 40, 80, 160])
def test_any_chunking_equals_the_official_decode(speech_tokenizer: Any, frames: int) -> None:
    codes = random_codes(frames, seed=frames)
    expected = official_decode(speech_tokenizer, codes)
    assert expected.shape == (frames * SAMPLES_PER_FRAME,)
    for plan in CHUNKINGS:
        actual = stream(StreamingDecoder(speech_tokenizer), codes, chunk_sizes(plan, frames))
        assert_close(actual, expected)


def test_long_utterances_follow_the_official_300_frame_chunks(speech_tokenizer: Any) -> None:
    """Past 300 frames the official decode restarts with 25 frames of context; so do we."""
    chunk, context = official_chunking(resolve_codec_decoder(speech_tokenizer))
    assert (chunk, context) == (300, 25)
    frames = 330
    codes = random_codes(frames, seed=7)
    expected = official_decode(speech_tokenizer, codes)
    for plan in ["1", "13", "274,2,100", "all"]:  # 13s and the 274,2 split land pushes across both switch points
        assert_close(stream(StreamingDecoder(speech_tokenizer), codes, chunk_sizes(plan, frames)), expected)

    one_pass = stream(StreamingDecoder(speech_tokenizer, match_official_chunks=False), codes, [frames])
    codec = resolve_codec_decoder(speech_tokenizer)
    with torch.inference_mode():
        assert_close(one_pass, codec(codes.T.unsqueeze(0)).reshape(-1).numpy())
    assert_close(one_pass[: 300 * SAMPLES_PER_FRAME], expected[: 300 * SAMPLES_PER_FRAME])
    assert float(np.abs(one_pass - expected).max()) > TOLERANCE  # the restart is audible in the numbers


@pytest.mark.parametrize("frames", [1, 3, 4, 5, 9, 23])
def test_small_window_chunkings_equal_the_full_decode(window4_codec: Any, frames: int) -> None:
    codes = random_codes(frames, seed=100 + frames, codebook_size=64)
    expected = codec_decode(window4_codec, codes)
    for plan in CHUNKINGS + ["4", "5"]:
        assert_close(stream(StreamingDecoder(window4_codec), codes, chunk_sizes(plan, frames)), expected)


def test_eager_attention_is_streamed_exactly_too() -> None:
    codec = build_codec(sliding_window=4, attn_implementation="eager")
    codes = random_codes(17, seed=5, codebook_size=64)
    expected = codec_decode(codec, codes)
    for plan in ["1", "3", "all"]:
        assert_close(stream(StreamingDecoder(codec), codes, chunk_sizes(plan, 17)), expected)


def test_attention_cache_keeps_only_the_window(window4_codec: Any) -> None:
    decoder = StreamingDecoder(window4_codec)
    codes = random_codes(20, seed=3, codebook_size=64)
    decoder.push(codes[:2])
    assert decoder.attention_cache_frames == 2
    for start in range(2, 20, 3):
        decoder.push(codes[start : start + 3])
        assert decoder.attention_cache_frames == 3  # window 4: the next query sees itself and 3 before


def test_the_window_changes_the_audio(window4_codec: Any) -> None:
    """Guards the small-window tests: a codec whose attention sees all frames decodes differently."""
    wide = build_codec(sliding_window=64)
    codes = random_codes(12, seed=8, codebook_size=64)
    assert float(np.abs(codec_decode(wide, codes) - codec_decode(window4_codec, codes)).max()) > 1e-3


# -- several streams on one model ---------------------------------------------------------


def test_interleaved_decoders_on_one_model_match_each_alone(speech_tokenizer: Any) -> None:
    first_codes, second_codes = random_codes(90, seed=11), random_codes(90, seed=12)
    first_alone = stream(StreamingDecoder(speech_tokenizer), first_codes, [90])
    second_alone = stream(StreamingDecoder(speech_tokenizer), second_codes, [90])

    first, second = StreamingDecoder(speech_tokenizer), StreamingDecoder(speech_tokenizer)
    first_pieces, second_pieces = [], []
    for start in range(0, 90, 6):
        first_pieces.append(first.push(first_codes[start : start + 6]))
        second_pieces.append(second.push(second_codes[start : start + 3]))
        second_pieces.append(second.push(second_codes[start + 3 : start + 6]))
    assert_close(np.concatenate(first_pieces), first_alone)
    assert_close(np.concatenate(second_pieces), second_alone)
    assert_close(first_alone, official_decode(speech_tokenizer, first_codes))


def test_decoders_in_threads_match_each_alone(window4_codec: Any) -> None:
    all_codes = [random_codes(30, seed=20 + index, codebook_size=64) for index in range(3)]
    expected = [codec_decode(window4_codec, codes) for codes in all_codes]
    results: dict[int, np.ndarray] = {}
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            results[index] = stream(StreamingDecoder(window4_codec), all_codes[index], chunk_sizes("1", 30))
        except BaseException as error:  # noqa: BLE001  (reported below)
            failures.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    for index in range(3):
        assert_close(results[index], expected[index])


# -- priming, lifecycle, bad input ----------------------------------------------------------


def test_primed_reference_codes_are_decoded_in_front_of_the_new_ones(speech_tokenizer: Any) -> None:
    """Voice clone (ICL) decodes reference codes + generated codes and drops the reference audio."""
    reference, generated = random_codes(30, seed=31), random_codes(20, seed=32)
    whole = official_decode(speech_tokenizer, torch.cat([reference, generated]))
    decoder = StreamingDecoder(speech_tokenizer)
    decoder.prime(reference)
    audio = stream(decoder, generated, chunk_sizes("3", 20))
    assert_close(audio, whole[30 * SAMPLES_PER_FRAME :])
    alone = stream(StreamingDecoder(speech_tokenizer), generated, [20])
    assert float(np.abs(alone - audio).max()) > TOLERANCE  # the priming mattered


def test_forks_of_a_primed_decoder_each_decode_as_if_primed_themselves(speech_tokenizer: Any) -> None:
    """A voice primes once and forks per segment: every fork equals reference + its own codes, decoded whole."""
    reference = random_codes(30, seed=31)
    primed = StreamingDecoder(speech_tokenizer)
    primed.prime(reference)
    for seed, pushes in ((41, "3"), (42, "1"), (41, "8")):  # the same codes again: the original did not move
        generated = random_codes(20, seed=seed)
        whole = official_decode(speech_tokenizer, torch.cat([reference, generated]))
        fork = primed.fork()
        assert_close(stream(fork, generated, chunk_sizes(pushes, 20)), whole[30 * SAMPLES_PER_FRAME :])
        assert fork.frames_decoded == 50 and primed.frames_decoded == 30


def test_finish_without_frames_returns_no_samples(window4_codec: Any) -> None:
    decoder = StreamingDecoder(window4_codec)
    tail = decoder.finish()
    assert tail.dtype == np.float32 and tail.shape == (0,)
    assert decoder.finished and decoder.frames_decoded == 0


def test_push_after_finish_raises(window4_codec: Any) -> None:
    decoder = StreamingDecoder(window4_codec)
    decoder.push(random_codes(2, seed=1, codebook_size=64))
    decoder.finish()
    with pytest.raises(DecoderClosed):
        decoder.push(random_codes(1, seed=2, codebook_size=64))
    with pytest.raises(DecoderClosed):
        decoder.finish()


def test_empty_push_returns_no_samples_and_keeps_state(window4_codec: Any) -> None:
    codes = random_codes(6, seed=4, codebook_size=64)
    decoder = StreamingDecoder(window4_codec)
    pieces = [decoder.push(codes[:3]), decoder.push(codes[3:3]), decoder.push(np.zeros((0, QUANTIZERS), dtype=np.int64))]
    pieces.append(decoder.push(codes[3:5].numpy().astype(np.uint16)))  # integer arrays are accepted too
    pieces.append(decoder.push(codes[5:].tolist()))
    assert pieces[1].shape == (0,) and pieces[2].shape == (0,)
    assert decoder.frames_decoded == 6
    assert_close(np.concatenate(pieces), codec_decode(window4_codec, codes))


@pytest.mark.parametrize(
    "bad",
    [
        lambda: torch.zeros(3, 8, dtype=torch.long),  # wrong number of codebooks
        lambda: torch.zeros(16, dtype=torch.long),  # not [frames, 16]
        lambda: torch.full((2, 16), -1, dtype=torch.long),  # padding value
        lambda: torch.full((2, 16), 64, dtype=torch.long),  # past the codebook
        lambda: torch.zeros(2, 16),  # floats
        lambda: np.zeros((2, 16)),  # floats
        lambda: [[0] * 16, [0] * 15],  # ragged
    ],
)
def test_bad_codes_are_rejected_before_any_state_changes(window4_codec: Any, bad: Callable[[], Any]) -> None:
    decoder = StreamingDecoder(window4_codec)
    with pytest.raises(InvalidCodes):
        decoder.push(bad())
    assert decoder.frames_decoded == 0


def test_accepts_the_wrapper_the_model_or_the_decoder_and_nothing_else(speech_tokenizer: Any) -> None:
    codes = random_codes(3, seed=9)
    expected = official_decode(speech_tokenizer, codes)
    for holder in (speech_tokenizer, speech_tokenizer.model, speech_tokenizer.model.decoder):
        assert_close(stream(StreamingDecoder(holder), codes, [1, 2]), expected)
    with pytest.raises(UnsupportedDecoder):
        StreamingDecoder(torch.nn.Linear(2, 2))


# -- benchmark (prints figures; speed is not asserted) -------------------------------------


def test_benchmark_prints_streaming_full_and_redecode_figures(speech_tokenizer: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result = benchmark_decoder(speech_tokenizer, frames=24, chunks=(1, 4))
    with capsys.disabled():
        print("\n" + "\n".join(result.lines()))
    names = [timing.name for timing in result.timings]
    assert names[0].startswith("full") and any(n.startswith("streaming") for n in names)
    assert any(n.startswith("re-decode") for n in names)
    for timing in result.timings:
        assert timing.ms_per_frame > 0
        if timing.name.startswith("streaming"):
            assert timing.max_abs_diff <= TOLERANCE


# -- what is computed once per model, and the convolutions done as products ----------------


def test_codebook_tables_computed_once_give_the_official_bits(window4_codec: Any) -> None:
    from realtime.engines.qwen3.decoder import _StreamingForward

    forward = _StreamingForward(window4_codec)
    assert not forward._official_quantizer  # the streaming decode takes the cached tables, not the official call
    codes = random_codes(9, seed=5, codebook_size=64).T.unsqueeze(0)
    with torch.inference_mode():
        assert torch.equal(forward._dequantize(codes), window4_codec.quantizer.decode(codes))
        assert torch.equal(forward._dequantize(codes), window4_codec.quantizer.decode(codes))  # from the cache


def test_snake_activations_with_their_factors_computed_once_give_the_official_bits() -> None:
    from realtime.engines.qwen3.decoder import _StreamingForward

    codec = build_codec(sliding_window=4, seed=3)
    snakes = [module for module in codec.modules() if type(module).__name__ == "SnakeBeta"]
    assert snakes
    with torch.no_grad():
        for module in snakes:  # the random checkpoints leave alpha and beta at 0: make them matter
            module.alpha.normal_(0.0, 0.5)
            module.beta.normal_(0.0, 0.5)
    forward = _StreamingForward(codec)
    with torch.inference_mode():
        for module in snakes:
            signal = torch.randn(1, module.in_features, 50, generator=torch.Generator().manual_seed(1))
            assert torch.equal(forward._activation(module, signal), module(signal))


@pytest.mark.parametrize(
    ("channels", "out_channels", "kernel", "dilation", "groups", "length", "path"),
    [
        (2, 2, 7, 1, 1, 15366, "product"),  # few inputs, long: oneDNN would take it
        (4, 4, 7, 9, 1, 5174, "product"),
        (8, 8, 7, 9, 1, 1334, "product"),  # dilated and short: torch's slow loop would take it
        (16, 16, 7, 3, 1, 310, "product"),
        (16, 16, 7, 1, 1, 262, "conv1d"),  # torch's own kernel is fast here
        (64, 64, 7, 1, 64, 22, "depthwise"),
        (256, 256, 7, 1, 256, 70, "conv1d"),
        (2, 2, 1, 1, 1, 300, "conv1d"),
    ],
)
def test_convolutions_done_as_products_equal_conv1d_to_float_rounding(
    channels: int, out_channels: int, kernel: int, dilation: int, groups: int, length: int, path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from realtime.engines.qwen3 import decoder as decoder_module

    conv = torch.nn.Conv1d(channels, out_channels, kernel, dilation=dilation, groups=groups)
    signal = torch.randn(1, channels, length, generator=torch.Generator().manual_seed(channels + length))
    products: list[str] = []
    addmm, bmm = torch.addmm, torch.bmm
    monkeypatch.setattr(torch, "addmm", lambda *a: products.append("product") or addmm(*a))
    monkeypatch.setattr(torch, "bmm", lambda *a: products.append("depthwise") or bmm(*a))
    with torch.inference_mode():
        ours = decoder_module._convolve(conv, signal)
        expected = torch.nn.functional.conv1d(signal.double(), conv.weight.double(), conv.bias.double(),
                                              dilation=dilation, groups=groups)
        theirs = conv(signal)
    assert products == ([] if path == "conv1d" else [path])
    assert ours.shape == theirs.shape == expected.shape
    scale = float(expected.abs().max())
    assert float((ours.double() - expected).abs().max()) <= 1e-6 * scale  # as close as torch's own conv
    assert float((theirs.double() - expected).abs().max()) <= 1e-6 * scale
