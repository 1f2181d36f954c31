"""Exact stateful streaming decoder for the Qwen3-TTS 12 Hz speech tokenizer.

The official `speech_tokenizer.decode(codes)` turns a whole utterance of codec frames into
24 kHz audio (1920 samples per frame). Its decoder is causal end to end: per-frame codebook
lookup, causal convolutions, a transformer whose attention sees a sliding window of 72
frames, transposed-convolution upsampling and more causal convolutions. So every sample
depends only on the frames up to its own, and a decoder that carries each layer's history
from one call to the next produces the whole-utterance samples while frames are still being
generated, without re-decoding any left context:

- causal conv (stride 1): the last `(kernel - 1) * dilation` input samples;
- transposed conv (kernel K, stride S): the `K - S` output samples that overlap the next
  input's (overlap-add tail);
- transformer layer: the rotated keys and values of the last `window - 1` frames, with the
  absolute positions the full decode would use (rotary offsets stay right);
- codebook lookup, norms, activations and projections act per frame and carry nothing.

The official decode (`Qwen3TTSTokenizerV2Decoder.chunked_decode`) does not decode more than
300 frames in one pass: each further 300-frame chunk is decoded afresh from 25 frames of
left context. To be sample-exact for long utterances too, `StreamingDecoder` reproduces
that: 25 frames before each chunk boundary it starts a second, fresh state on the same
frames, and switches to it at the boundary (25 extra frames of work per 300).

State lives in a `_DecoderState` per decoder instance; the shared model modules are only
called, never mutated, so any number of decoders may run over one model (each instance
is used by one thread at a time). This module imports torch but not qwen_tts: it works on
the model object it is given.
"""

from __future__ import annotations

import copy
import inspect
import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# The official decode's chunking, used when the installed qwen_tts does not tell us
# (read from `chunked_decode`'s defaults otherwise).
OFFICIAL_CHUNK_FRAMES = 300
OFFICIAL_CONTEXT_FRAMES = 25


class DecoderError(RuntimeError):
    """Base class of the streaming decoder's errors."""


class UnsupportedDecoder(DecoderError):
    """The model given is not the 12 Hz speech tokenizer this decoder knows how to stream."""


class DecoderClosed(DecoderError):
    """`push` or `finish` was called after `finish`."""


class InvalidCodes(DecoderError, ValueError):
    """The codes pushed have the wrong shape or values outside the codebooks."""


def resolve_codec_decoder(tokenizer_model: Any) -> Any:
    """The `Qwen3TTSTokenizerV2Decoder` inside what callers hold.

    Accepts the `Qwen3TTSTokenizer` wrapper (`Qwen3TTSModel.model.speech_tokenizer`), its
    `Qwen3TTSTokenizerV2Model` (`.model`), or the decoder module itself.
    """
    candidate = tokenizer_model
    for _ in range(3):
        if _is_codec_decoder(candidate):
            return candidate
        inner = getattr(candidate, "decoder", None)
        if _is_codec_decoder(inner):
            return inner
        candidate = getattr(candidate, "model", None)
        if candidate is None:
            break
    raise UnsupportedDecoder(
        f"{type(tokenizer_model).__name__} is not a Qwen3-TTS 12 Hz speech tokenizer "
        "(expected Qwen3TTSTokenizer, Qwen3TTSTokenizerV2Model or its decoder)"
    )


def _is_codec_decoder(obj: Any) -> bool:
    return isinstance(obj, nn.Module) and all(
        hasattr(obj, name) for name in ("quantizer", "pre_conv", "pre_transformer", "upsample", "decoder", "config")
    )


def _class_name(module: Any) -> str:
    return type(module).__name__


# --------------------------------------------------------------------------------------
# Per-instance state
# --------------------------------------------------------------------------------------


class _WindowKV:
    """One transformer layer's key/value history, in the shape the official attention expects.

    The official attention calls `past_key_values.update(k, v, layer_idx, kwargs)` and
    attends over what it returns; keys arrive already rotated at their absolute positions.
    """

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.keys is None else int(self.keys.shape[-2])

    def update(
        self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int, cache_kwargs: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys is not None and self.values is not None:
            keys = torch.cat([self.keys, keys], dim=-2)
            values = torch.cat([self.values, values], dim=-2)
        self.keys, self.values = keys, values
        return keys, values

    def keep_last(self, count: int | None) -> None:
        """Drop keys no future query can see (count=None keeps everything: no window)."""
        if count is None or self.keys is None or self.values is None:
            return
        if count <= 0:
            self.keys = self.values = None
        elif self.keys.shape[-2] > count:
            self.keys = self.keys[..., -count:, :].contiguous()
            self.values = self.values[..., -count:, :].contiguous()


@dataclass
class _DecoderState:
    """Everything one decode pass carries between calls (one per chunk of the official decode)."""

    frames: int = 0  # frames seen: the next frame's transformer position
    history: dict[nn.Module, torch.Tensor] = field(default_factory=dict)
    kv: dict[nn.Module, _WindowKV] = field(default_factory=dict)


def _copy_state(state: _DecoderState) -> _DecoderState:
    """A state to continue from independently: the containers are new, the tensors shared (never changed in place)."""
    kv: dict[nn.Module, _WindowKV] = {}
    for module, cache in state.kv.items():
        twin = _WindowKV()
        twin.keys, twin.values = cache.keys, cache.values
        kv[module] = twin
    return _DecoderState(frames=state.frames, history=dict(state.history), kv=kv)


# --------------------------------------------------------------------------------------
# The streaming forward pass, layer by layer, over the official modules
# --------------------------------------------------------------------------------------


class _StreamingForward:
    """Runs the official decoder's forward on new frames only, using and updating a state.

    Mirrors `Qwen3TTSTokenizerV2Decoder.forward`; each stateful layer gets the history it
    needs prepended, so its output for the new frames equals the full pass's.
    """

    def __init__(self, decoder: Any) -> None:
        self.decoder: Any = decoder
        config = decoder.config
        self.num_quantizers = int(config.num_quantizers)
        self.codebook_size = int(config.codebook_size)
        transformer = decoder.pre_transformer
        self.layers = list(transformer.layers[: transformer.config.num_hidden_layers])
        window = getattr(transformer.config, "sliding_window", None)
        self.window: int | None = int(window) if window else None
        self.attn_implementation = str(getattr(transformer.config, "_attn_implementation", "eager") or "eager")
        self.samples_per_frame = int(np.prod(list(config.upsample_rates) + list(config.upsampling_ratios)))
        self._check_structure()
        self._official_quantizer = not _has_split_quantizer(decoder.quantizer)

    def _check_structure(self) -> None:
        """Fail at construction, not mid-stream, if the model is not shaped as expected."""
        for module in self.decoder.modules():
            name = _class_name(module)
            if name.endswith("CausalConvNet") and (
                module.conv.stride[0] != 1 or module.padding != module.kernel_size - 1
            ):
                raise UnsupportedDecoder(f"causal conv with stride {module.conv.stride[0]} is not supported")
            if name.endswith("CausalTransConvNet"):
                conv = module.conv
                kernel, stride = conv.kernel_size[0], conv.stride[0]
                if (
                    conv.groups != 1
                    or conv.padding[0] != 0
                    or conv.output_padding[0] != 0
                    or conv.dilation[0] != 1
                    or module.left_pad != 0
                    or module.right_pad != kernel - stride
                ):
                    raise UnsupportedDecoder("transposed conv geometry is not the causal one this decoder streams")

    # -- entry point -----------------------------------------------------------------

    def __call__(self, codes: torch.Tensor, state: _DecoderState) -> torch.Tensor:
        """codes: LongTensor (1, num_quantizers, n) -> waveform (1, 1, n * samples_per_frame)."""
        decoder = self.decoder
        hidden = decoder.quantizer.decode(codes) if self._official_quantizer else self._dequantize(codes)
        hidden = self._causal_conv(decoder.pre_conv, hidden, state).transpose(1, 2)
        hidden = self._transformer(hidden, state).permute(0, 2, 1)
        for blocks in decoder.upsample:
            for block in blocks:
                hidden = self._module(block, hidden, state)
        wav = hidden
        for block in decoder.decoder:
            wav = self._module(block, wav, state)
        state.frames += int(codes.shape[-1])
        return wav.clamp(min=-1, max=1)

    # -- dispatch over the official module kinds --------------------------------------

    def _module(self, module: Any, hidden: torch.Tensor, state: _DecoderState) -> torch.Tensor:
        name = _class_name(module)
        if name.endswith("CausalTransConvNet"):
            return self._transposed_conv(module, hidden, state)
        if name.endswith("CausalConvNet"):
            return self._causal_conv(module, hidden, state)
        if name.endswith("ConvNeXtBlock"):
            return self._convnext(module, hidden, state)
        if name.endswith("ResidualUnit"):
            return self._residual_unit(module, hidden, state)
        if name.endswith("DecoderBlock"):
            for inner in module.block:
                hidden = self._module(inner, hidden, state)
            return hidden
        if name == "SnakeBeta":  # elementwise: no state
            return self._activation(module, hidden)
        raise UnsupportedDecoder(f"do not know how to stream {name}")

    # -- stateless layers, with what depends on the weights alone computed once -----------

    def _activation(self, module: Any, hidden: torch.Tensor) -> torch.Tensor:
        """`SnakeBeta.forward` (x + 1/b sin^2(a x)) with its per-channel factors computed once: the
        official forward recomputes exp(alpha), exp(beta) and 1/(beta + eps) on every call. Same ops
        in the same order, so the same bits; other activations are called as they are."""
        if _class_name(module) != "SnakeBeta":
            return module(hidden)
        factors = _SNAKE_FACTORS.get(module)
        if factors is None:
            with torch.inference_mode():
                alpha = torch.exp(module.alpha.unsqueeze(0).unsqueeze(-1))
                beta = torch.exp(module.beta.unsqueeze(0).unsqueeze(-1))
                factors = _SNAKE_FACTORS[module] = (alpha, 1.0 / (beta + module.no_div_by_zero))
        alpha, inverse_beta = factors
        return hidden + inverse_beta * torch.pow(torch.sin(hidden * alpha), 2)

    def _dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """`SplitResidualVectorQuantizer.decode` with each codebook's table (embedding_sum / usage)
        computed once: the official decode divides all 16 tables on every call. The same ops in the
        same order otherwise, so the same bits (a test pins it)."""
        quantizer = self.decoder.quantizer
        tables = _CODEBOOK_TABLES.get(quantizer)
        if tables is None:
            with torch.inference_mode():
                tables = _CODEBOOK_TABLES[quantizer] = [
                    [_codebook_table(layer._codebook) for layer in group.vq.layers]
                    for group in (quantizer.rvq_first, quantizer.rvq_rest)
                ]
        semantic = int(quantizer.n_q_semantic)
        quantized = self._dequantize_group(quantizer.rvq_first, tables[0], codes[:, :semantic])
        if codes.shape[1] > semantic:
            quantized += self._dequantize_group(quantizer.rvq_rest, tables[1], codes[:, semantic:])
        return quantized

    @staticmethod
    def _dequantize_group(group: Any, tables: list[torch.Tensor], codes: torch.Tensor) -> torch.Tensor:
        """`ResidualVectorQuantizer.decode` over precomputed tables."""
        quantized = torch.zeros([1], device=codes.device)[0]
        for layer, table, layer_codes in zip(group.vq.layers, tables, codes.transpose(0, 1), strict=False):
            part = layer.project_out(F.embedding(layer_codes, table))
            quantized = quantized + part.transpose(1, 2)
        return group.output_proj(quantized)

    # -- stateful layers ---------------------------------------------------------------

    @staticmethod
    def _causal_conv(module: Any, hidden: torch.Tensor, state: _DecoderState) -> torch.Tensor:
        """Causal conv (stride 1): prepend the last `padding` inputs instead of zeros."""
        context = int(module.padding)
        if context == 0:
            return module.conv(hidden)
        past = state.history.get(module)
        if past is None:  # before the first frame the official pass pads with zeros
            past = hidden.new_zeros(hidden.shape[0], hidden.shape[1], context)
        extended = torch.cat([past, hidden], dim=-1)
        state.history[module] = extended[..., -context:]
        return _convolve(module.conv, extended)

    @staticmethod
    def _transposed_conv(module: Any, hidden: torch.Tensor, state: _DecoderState) -> torch.Tensor:
        """Transposed conv as one matrix product plus overlap-add, with the overlap carried over.

        Input t adds `W^T x_t` (K samples) at output position t*S. Outputs up to the new
        inputs' end are complete once the previous call's overlapping tail is added; the
        last `K - S` samples wait for the next call (the official layer trims exactly those
        at the end of an utterance). Done with the official weights as a plain matmul
        rather than through `ConvTranspose1d`, whose CPU path costs ~0.2 s per call at the
        real size whatever the length (it would dominate small pushes); equal to it to
        float rounding.
        """
        conv = module.conv
        kernel, stride = conv.kernel_size[0], conv.stride[0]
        blocks = math.ceil(kernel / stride)
        batch, channels_in, count = hidden.shape
        channels_out = conv.out_channels
        weight = conv.weight.reshape(channels_in, channels_out * kernel)
        contributions = torch.matmul(hidden.transpose(1, 2), weight).view(batch, count, channels_out, kernel)
        if blocks * stride != kernel:
            contributions = F.pad(contributions, (0, blocks * stride - kernel))
        summed = hidden.new_zeros(batch, channels_out, (count + blocks - 1) * stride)
        for block in range(blocks):
            piece = contributions[..., block * stride : (block + 1) * stride]
            piece = piece.permute(0, 2, 1, 3).reshape(batch, channels_out, count * stride)
            summed[..., block * stride : (block + count) * stride] += piece
        tail = state.history.get(module)
        if tail is not None:
            summed[..., : tail.shape[-1]] += tail
        state.history[module] = summed[..., count * stride :]
        output = summed[..., : count * stride]
        if conv.bias is not None:
            output = output + conv.bias.view(1, channels_out, 1)
        return output

    def _convnext(self, block: Any, hidden: torch.Tensor, state: _DecoderState) -> torch.Tensor:
        """`Qwen3TTSTokenizerV2ConvNeXtBlock.forward` with its depthwise conv streamed."""
        residual = hidden
        hidden = self._causal_conv(block.dwconv, hidden, state)
        hidden = hidden.permute(0, 2, 1)
        hidden = block.norm(hidden)
        hidden = block.pwconv1(hidden)
        hidden = block.act(hidden)
        hidden = block.pwconv2(hidden)
        hidden = block.gamma * hidden
        hidden = hidden.permute(0, 2, 1)
        return residual + hidden

    def _residual_unit(self, unit: Any, hidden: torch.Tensor, state: _DecoderState) -> torch.Tensor:
        """`Qwen3TTSTokenizerV2DecoderDecoderResidualUnit.forward` with its convs streamed."""
        residual = hidden
        hidden = self._activation(unit.act1, hidden)
        hidden = self._causal_conv(unit.conv1, hidden, state)
        hidden = self._activation(unit.act2, hidden)
        hidden = self._causal_conv(unit.conv2, hidden, state)
        return hidden + residual

    def _transformer(self, hidden: torch.Tensor, state: _DecoderState) -> torch.Tensor:
        """The sliding-window transformer over new frames, attending to the cached window.

        Calls the official layers with a per-state key/value cache and an explicit mask
        (query at position q sees keys at positions q - window < p <= q, as the official
        sliding-window mask does); positions continue from the frames already seen.
        """
        transformer = self.decoder.pre_transformer
        hidden = transformer.input_proj(hidden)
        count = hidden.shape[1]
        start = state.frames
        positions = torch.arange(start, start + count, device=hidden.device)
        position_ids = positions.unsqueeze(0)
        position_embeddings = transformer.rotary_emb(hidden, position_ids)
        for layer in self.layers:
            cache = state.kv.get(layer)
            if cache is None:
                cache = state.kv[layer] = _WindowKV()
            mask = self._attention_mask(len(cache), count, hidden)
            hidden = layer(
                hidden,
                attention_mask=mask,
                position_ids=position_ids,
                past_key_values=cache,
                use_cache=True,
                cache_position=positions,
                position_embeddings=position_embeddings,
            )
            cache.keep_last(None if self.window is None else self.window - 1)
        hidden = transformer.norm(hidden)
        return transformer.output_proj(hidden)

    def _attention_mask(self, past: int, count: int, hidden: torch.Tensor) -> torch.Tensor | None:
        if self.attn_implementation.startswith("flash"):
            # Flash attention takes no dense mask: it aligns the causal mask bottom-right and
            # applies `sliding_window` itself (untested here: no GPU on the dev machine).
            return None
        query = torch.arange(past, past + count, device=hidden.device).unsqueeze(1)
        key = torch.arange(past + count, device=hidden.device).unsqueeze(0)
        allowed = key <= query
        if self.window is not None:
            allowed = allowed & (key > query - self.window)
        allowed = allowed.view(1, 1, count, past + count)
        if self.attn_implementation == "sdpa":
            return allowed
        # eager (and the rest) add the mask to the attention scores
        blocked = torch.zeros(allowed.shape, dtype=hidden.dtype, device=hidden.device)
        return blocked.masked_fill(~allowed, torch.finfo(hidden.dtype).min)


# What depends on a model's weights alone, computed at its first use (with the official ops, so
# the same bits) and shared by all its streams; it goes with the module (weak keys, and the
# values hold tensors only, never the modules).
_SNAKE_FACTORS: weakref.WeakKeyDictionary[nn.Module, tuple[torch.Tensor, torch.Tensor]] = weakref.WeakKeyDictionary()
_CODEBOOK_TABLES: weakref.WeakKeyDictionary[nn.Module, list[list[torch.Tensor]]] = weakref.WeakKeyDictionary()


def _has_split_quantizer(quantizer: Any) -> bool:
    """Is the quantizer shaped as `_dequantize` expects (else the official decode is called)?"""
    try:
        groups = (quantizer.rvq_first, quantizer.rvq_rest)
        int(quantizer.n_q_semantic)
        return all(
            all(hasattr(layer, "project_out") and _is_euclidean_codebook(layer._codebook) for layer in group.vq.layers)
            and hasattr(group, "output_proj")
            for group in groups
        )
    except (AttributeError, TypeError, ValueError):
        return False


def _is_euclidean_codebook(codebook: Any) -> bool:
    return all(hasattr(codebook, name) for name in ("embedding_sum", "cluster_usage", "epsilon"))


def _codebook_table(codebook: Any) -> torch.Tensor:
    """`EuclideanCodebook.decode`'s table, computed as it computes it."""
    return codebook.embedding_sum / codebook.cluster_usage.clamp(min=codebook.epsilon)[:, None]


# Where torch's CPU convolution is slow for a shape, a causal conv is done as one matrix product
# over the signal's shifted copies (im2col). torch 2.13 sends a float32 conv1d either to oneDNN
# (inputs over 20,480 values, or grouped) or to its own kernels, whose dilated path is a slow
# loop: measured on one core, a 2-channel kernel-7 conv over 15,366 samples costs 163 us in
# oneDNN and 62 us as a product; an 8-channel dilated one over 1,334 samples 146 against 36 us;
# a 64-channel depthwise one over 22 frames 77 against 19 us. Wide layers (the full-size
# decoder's 96 to 1,536 channels) stay with oneDNN, which is faster there. The choice depends
# on the shapes only, so a stream's audio never depends on anything else.
_FEW_INPUTS = 64  # input channels x kernel at most, for the product
_SMALL_DILATED = 20_480  # input values at most of a dilated conv that torch would run in its slow loop
_SMALL_DEPTHWISE = 4_096  # channels x outputs at most of a depthwise conv done as a batched product


def _convolve(conv: nn.Conv1d, signal: torch.Tensor) -> torch.Tensor:
    """`conv(signal)` for a conv with no padding or stride (the causal convs pad themselves); on a CPU
    as a matrix product where the shapes say torch's kernel is slow (see above)."""
    out_channels, group_inputs, kernel = conv.weight.shape
    batch, channels, length = signal.shape
    dilation = int(conv.dilation[0])
    outputs = length - dilation * (kernel - 1)
    plain = batch == 1 and kernel > 1 and outputs >= 1 and conv.stride[0] == 1 and conv.padding[0] == 0
    if signal.device.type != "cpu" or not plain:  # (the figures above are a CPU's: elsewhere the device's kernel)
        return conv(signal)
    if conv.groups == 1 and (
        channels * kernel <= _FEW_INPUTS or (dilation > 1 and signal.numel() <= _SMALL_DILATED)
    ):
        columns = signal.contiguous().as_strided((channels, kernel, outputs), (length, dilation, 1))
        weight = conv.weight.reshape(out_channels, channels * kernel)
        columns = columns.reshape(channels * kernel, outputs)
        if conv.bias is None:
            return torch.mm(weight, columns).unsqueeze(0)
        return torch.addmm(conv.bias.unsqueeze(1), weight, columns).unsqueeze(0)
    if conv.groups == channels == out_channels and group_inputs == 1 and channels * outputs <= _SMALL_DEPTHWISE:
        shifted = signal.contiguous().as_strided((channels, kernel, outputs), (length, dilation, 1))
        output = torch.bmm(conv.weight.view(channels, 1, kernel), shifted).view(1, channels, outputs)
        return output if conv.bias is None else output + conv.bias.view(1, channels, 1)
    return conv(signal)


def official_chunking(decoder: Any) -> tuple[int, int]:
    """(chunk frames, left-context frames) that the installed `chunked_decode` defaults to."""
    try:
        parameters = inspect.signature(decoder.chunked_decode).parameters
        chunk = parameters["chunk_size"].default
        context = parameters["left_context_size"].default
        if isinstance(chunk, int) and isinstance(context, int) and chunk > 0 and context >= 0:
            return chunk, context
    except (AttributeError, KeyError, TypeError, ValueError):
        pass
    return OFFICIAL_CHUNK_FRAMES, OFFICIAL_CONTEXT_FRAMES


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


class StreamingDecoder:
    """Incremental 12 Hz codec decoding whose output equals the whole-utterance decode.

    `push(codes)` takes new frames (LongTensor or array of shape [n, 16]) and returns their
    samples (float32, `n * samples_per_frame`); `finish()` returns what is held back (nothing:
    no layer looks ahead) and closes the decoder. For any way of splitting the frames into
    pushes, the concatenated output equals `speech_tokenizer.decode` of all of them (to
    float rounding). `prime(codes)` decodes frames whose audio is not wanted (voice-clone
    reference codes, which the official path decodes in front of the generated ones).

    `match_official_chunks=False` decodes the utterance as one causal pass instead of
    reproducing the official decode's fresh restarts every 300 frames (only utterances
    longer than 300 frames differ).
    """

    def __init__(self, tokenizer_model: Any, *, match_official_chunks: bool = True) -> None:
        self._decoder = resolve_codec_decoder(tokenizer_model)
        self._forward = _StreamingForward(self._decoder)
        self._parameter = next(self._decoder.parameters())
        if match_official_chunks:
            self._chunk_frames, self._context_frames = official_chunking(self._decoder)
            if self._context_frames >= self._chunk_frames:
                raise UnsupportedDecoder(
                    f"official chunking with {self._context_frames} context frames per "
                    f"{self._chunk_frames}-frame chunk cannot be reproduced"
                )
        else:
            self._chunk_frames, self._context_frames = 0, 0
        self._active = _DecoderState()
        self._warming: _DecoderState | None = None  # the next chunk's state, fed its left context
        self._frames = 0
        self._closed = False

    @property
    def samples_per_frame(self) -> int:
        return self._forward.samples_per_frame

    @property
    def num_quantizers(self) -> int:
        return self._forward.num_quantizers

    @property
    def frames_decoded(self) -> int:
        """Frames pushed (and primed) so far."""
        return self._frames

    @property
    def finished(self) -> bool:
        return self._closed

    @property
    def attention_cache_frames(self) -> int:
        """Frames of keys/values the transformer keeps (at most window - 1): memory stays bounded."""
        caches = list(self._active.kv.values()) + (list(self._warming.kv.values()) if self._warming else [])
        return max((len(cache) for cache in caches), default=0)

    def push(self, codes: torch.Tensor | np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
        """Decode new frames; returns their samples as float32, `n * samples_per_frame` long."""
        if self._closed:
            raise DecoderClosed("push after finish(): start a new StreamingDecoder")
        frames = self._validated(codes)
        if frames.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        with torch.inference_mode():
            pieces = [self._decode_span(span) for span in self._spans(frames)]
            wav = torch.cat(pieces, dim=-1) if len(pieces) > 1 else pieces[0]
            return wav.reshape(-1).to(torch.float32).cpu().numpy()

    def prime(self, codes: torch.Tensor | np.ndarray | Sequence[Sequence[int]]) -> None:
        """Decode frames whose audio is not wanted, so what follows sounds as if it came after them."""
        self.push(codes)

    def fork(self) -> StreamingDecoder:
        """A decoder that goes on from exactly where this one stands, sharing its weights.

        Prime once (a voice's reference codes), then fork per segment: each fork decodes as
        if it had been primed itself, and the original stays as it was. Cheap: the decode
        never changes a tensor in place, so the copy shares them.
        """
        if self._closed:
            raise DecoderClosed("fork after finish()")
        twin = copy.copy(self)
        twin._active = _copy_state(self._active)
        twin._warming = _copy_state(self._warming) if self._warming is not None else None
        return twin

    def finish(self) -> np.ndarray:
        """Close the stream; returns the held-back tail (always empty: the decoder is causal)."""
        if self._closed:
            raise DecoderClosed("finish() was already called")
        self._closed = True
        self._active = _DecoderState()
        self._warming = None
        return np.zeros(0, dtype=np.float32)

    # -- internals ---------------------------------------------------------------------

    def _validated(self, codes: torch.Tensor | np.ndarray | Sequence[Sequence[int]]) -> torch.Tensor:
        """The frames as a LongTensor [n, num_quantizers] on the model's device, or InvalidCodes."""
        if isinstance(codes, torch.Tensor):
            if codes.is_floating_point() or codes.is_complex() or codes.dtype == torch.bool:
                raise InvalidCodes(f"codes must be integers, got {codes.dtype}")
            tensor = codes.detach().to(dtype=torch.long)
        else:
            try:
                array = np.asarray(codes)
            except ValueError as error:  # ragged nested sequences
                raise InvalidCodes(f"codes must be a [frames, {self.num_quantizers}] array: {error}") from error
            if array.size == 0:
                array = np.zeros((0, self.num_quantizers), dtype=np.int64)
            if array.dtype.kind not in "iu":
                raise InvalidCodes(f"codes must be integers, got {array.dtype}")
            tensor = torch.from_numpy(array.astype(np.int64, copy=False))
        if tensor.ndim != 2 or tensor.shape[1] != self.num_quantizers:
            raise InvalidCodes(f"codes must have shape [frames, {self.num_quantizers}], got {tuple(tensor.shape)}")
        if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= self._forward.codebook_size):
            raise InvalidCodes(f"codes must lie in [0, {self._forward.codebook_size})")
        return tensor.to(device=self._parameter.device)

    def _spans(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """Split at the frames where the official chunking starts or switches a state."""
        if not self._chunk_frames:
            return [frames]
        spans: list[torch.Tensor] = []
        start, total = 0, frames.shape[0]
        while start < total:
            position = self._frames + start
            boundary = (position // self._chunk_frames + 1) * self._chunk_frames
            warm_from = boundary - self._context_frames
            stop = warm_from if position < warm_from else boundary
            stop = min(total, start + (stop - position))
            spans.append(frames[start:stop])
            start = stop
        return spans

    def _decode_span(self, span: torch.Tensor) -> torch.Tensor:
        """Decode frames that lie within one phase of the chunking (no boundary inside)."""
        if self._chunk_frames:
            self._enter_phase()
        codes = span.transpose(0, 1).unsqueeze(0)  # (1, num_quantizers, n)
        wav = self._forward(codes, self._active)
        if self._warming is not None:
            self._forward(codes, self._warming)  # its audio is the old chunk's: discarded
        self._frames += span.shape[0]
        return wav

    def _enter_phase(self) -> None:
        """At a chunk boundary switch to the warmed state; `context` frames before, start one."""
        position = self._frames
        if position > 0 and position % self._chunk_frames == 0:
            self._active = self._warming if self._warming is not None else _DecoderState()
            self._warming = None
        offset = position % self._chunk_frames
        if self._warming is None and offset == self._chunk_frames - self._context_frames and self._context_frames:
            self._warming = _DecoderState()
