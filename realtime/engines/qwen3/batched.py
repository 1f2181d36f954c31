"""The Qwen3 talker and code predictor stepped for many streams at once, each row exact as if alone.

`frames.py` runs one stream through the official modules. Here one call advances every
row of a batch, with the same modules and the same official helper functions, so that:

- **rows never mix**: each row keeps its own talker key/value cache (`RowCache`, sized to
  its own history) and attends over it alone; nothing is padded to the longest row, so no
  softmax sums over another row's padding and the work per row grows with its own length
  only;
- **rows never depend on the batch**: every linear layer runs in fixed row tiles
  (`tiles.RowTiles`), and everything else a step does (norms, rotary embeddings,
  activations, per-row attention, per-row sampling) is row-wise, so a row's numbers are
  the same alone, beside 7 others, or after a neighbour joined or left;
- **draws come from each row's generator**, in the order the official path draws them
  (codebook 0 from the talker, then the 15 residual codes), so seeds do not depend on the
  batch either.

The prefill of a newcomer runs alone through the official talker forward (one row), as
`frames.FrameStream` does, in pieces of at most `prefill_chunk` positions when the
scheduler asks (so a long prompt never stalls the other rows for long); its keys and
values then move into the row's cache. The code predictor's 15 sub-steps are batched plainly: at every sub-step
all rows have the same length (2 positions, then one more per code).

`RowState` also holds what `FrameStream` keeps per generation (history, EOS rules, frame
bound, the next talker input), so the scheduler only orchestrates.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch

from realtime.engines.qwen3.frames import GenerationOutcome, StopReason
from realtime.engines.qwen3.prompts import TalkerPrompt
from realtime.engines.qwen3.sampling import (
    SamplingParams,
    TokenSampling,
    draw_rows,
    penalize_repetition,
    sample_next,
    sample_rows,
    warp_scores,
)
from realtime.engines.qwen3.tiles import RowTiles, probe_buckets


class RowCache:
    """One row's talker keys and values per layer, grown by doubling (no copy per step)."""

    __slots__ = ("keys", "values", "length")

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor]) -> None:
        self.length = int(keys[0].shape[-2])
        capacity = max(16, self.length * 2)
        self.keys = [self._grown(k, capacity) for k in keys]
        self.values = [self._grown(v, capacity) for v in values]

    @staticmethod
    def _grown(tensor: torch.Tensor, capacity: int) -> torch.Tensor:
        buffer = tensor.new_zeros((*tensor.shape[:-2], capacity, tensor.shape[-1]))
        buffer[..., : tensor.shape[-2], :] = tensor
        return buffer

    def append(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store one position's key and value for `layer` (layer 0 first); the row's keys and values so far."""
        position = self.length
        if position >= self.keys[layer].shape[-2]:
            capacity = self.keys[layer].shape[-2] * 2
            self.keys[layer] = self._grown(self.keys[layer], capacity)
            self.values[layer] = self._grown(self.values[layer], capacity)
        self.keys[layer][..., position : position + 1, :] = key
        self.values[layer][..., position : position + 1, :] = value
        return self.keys[layer][..., : position + 1, :], self.values[layer][..., : position + 1, :]

    def advance(self) -> None:
        """All layers stored this step's position."""
        self.length += 1

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))


class RowState:
    """One utterance being generated in a batch: prompt, sampling, caches, history, outcome."""

    def __init__(
        self,
        prompt: TalkerPrompt,
        params: SamplingParams,
        generator: torch.Generator,
        max_frames: int,
        min_frames: int = 2,
        vocab_size: int = 0,
    ) -> None:
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.prompt = prompt
        self.params = params
        self.generator = generator
        self.max_frames = max_frames
        self.min_frames = max(min_frames, 0)
        device = prompt.inputs_embeds.device
        if generator.device.type != device.type:
            raise ValueError(f"the generator is on {generator.device}, the model on {device}: use make_generator(seed, device)")
        self.suppressed = torch.zeros(vocab_size, dtype=torch.bool, device=device)
        if prompt.suppress_tokens:
            self.suppressed[list(prompt.suppress_tokens)] = True
        self.history = torch.empty((1, 0), dtype=torch.long, device=device)
        self.frames = 0
        self.cache: RowCache | None = None
        self.prefilled = 0  # prompt positions already through the talker
        self.prefill_cache: Any = None  # the official cache while the prompt goes in piece by piece
        self.prefill_positions: torch.Tensor | None = None
        self.rope_delta: torch.Tensor | None = None
        self.positions = 0  # talker positions seen (prompt + steps)
        self.past_hidden: torch.Tensor | None = None  # (1, 1, hidden): the talker's last hidden state
        self.token: torch.Tensor | None = None  # (1, 1): the codebook-0 token of the next frame
        self.next_input: torch.Tensor | None = None  # (1, 1, hidden): the talker input for the next step
        self.step = 0
        self.outcome: GenerationOutcome | None = None

    @property
    def speaking(self) -> bool:
        """The prompt is in: the row takes part in the batched steps."""
        return self.cache is not None

    def finish(self, reason: StopReason) -> None:
        if self.outcome is None:
            self.outcome = GenerationOutcome(frames=self.frames, reason=reason, max_frames=self.max_frames)
        self.cache = self.prefill_cache = self.prefill_positions = None
        self.next_input = self.past_hidden = self.token = None

    def choose_token(self, logits: torch.Tensor, eos: int) -> bool:
        """Codebook 0 from this row's last logits (1, vocab), with the official masks; False at EOS."""
        scores = logits.to(dtype=torch.float32, copy=True)
        scores = scores.masked_fill(self.suppressed, float("-inf"))
        if self.history.shape[1] < self.min_frames:
            scores[:, eos] = float("-inf")
        token = sample_next(scores, self.params.talker, self.generator, self.history)
        self.history = torch.cat([self.history, token], dim=1)
        if int(token.item()) == eos:
            self.finish("eos")
            return False
        self.token = token
        return True


def choose_tokens(rows: Sequence[RowState], logits: torch.Tensor) -> list[bool | Exception]:
    """`choose_token` for every row, row i from `logits[i]` (rows, vocab): per row, True (a token),
    False (EOS) or the error that fails that row alone.

    Rows with the same talker settings go through the masks, the warpers and the draws together
    (all row-wise, each draw from its row's generator: the tokens `choose_token` gives each row
    alone); only the repetition penalty, over each row's own history, runs row by row. If the
    group's processing fails (a row's scores are not a distribution), each row of the group
    retries alone, so only the bad row fails; no generator has drawn yet at that point.
    """
    outcomes: list[bool | Exception] = [False] * len(rows)
    groups: dict[TokenSampling, list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(row.params.talker, []).append(index)
    for params, members in groups.items():
        group = [rows[index] for index in members]
        if len(members) == 1:  # alone in its group: the row's own call is as cheap
            index = members[0]
            try:
                outcomes[index] = rows[index].choose_token(logits[index : index + 1], rows[index].prompt.eos_token_id)
            except Exception as exc:  # noqa: BLE001
                outcomes[index] = exc
            continue
        try:
            tokens = _group_tokens(group, logits[members] if len(members) < len(rows) else logits, params)
        except Exception:  # noqa: BLE001  (one row's scores): row by row, so that row fails alone
            for index in members:
                try:
                    outcomes[index] = rows[index].choose_token(logits[index : index + 1], rows[index].prompt.eos_token_id)
                except Exception as exc:  # noqa: BLE001
                    outcomes[index] = exc
            continue
        for index, row, token, value in zip(members, group, tokens.split(1), tokens.flatten().tolist(), strict=True):
            row.history = torch.cat([row.history, token], dim=1)
            if value == row.prompt.eos_token_id:
                row.finish("eos")
                outcomes[index] = False
            else:
                row.token = token
                outcomes[index] = True
    return outcomes


def _group_tokens(rows: Sequence[RowState], logits: torch.Tensor, params: TokenSampling) -> torch.Tensor:
    """The next codebook-0 token (rows, 1) of rows sharing `params`, as `RowState.choose_token` picks it."""
    scores = logits.to(dtype=torch.float32, copy=True)
    scores = scores.masked_fill(torch.stack([row.suppressed for row in rows]), float("-inf"))
    for index, row in enumerate(rows):
        if row.history.shape[1] < row.min_frames:
            scores[index, row.prompt.eos_token_id] = float("-inf")
        penalize_repetition(scores[index : index + 1], params, row.history)
    scores = warp_scores(scores, params)
    if params.greedy:
        return scores.argmax(dim=-1, keepdim=True)
    return draw_rows(scores.softmax(dim=-1), [row.generator for row in rows])


class BatchedTalker:
    """Batched steps over one loaded model's talker and code predictor (never mutates the model)."""

    def __init__(self, tts: Any, tile_rows: int = 8, exact: bool = True) -> None:
        model = getattr(tts, "model", tts)
        self.talker = model.talker
        self.predictor = self.talker.code_predictor
        self.codebooks = int(self.talker.config.num_code_groups)
        self.vocab_size = int(self.talker.config.vocab_size)
        modeling = sys.modules[type(self.talker).__module__]
        self._apply_mrope: Callable[..., Any] = modeling.apply_multimodal_rotary_pos_emb
        self._apply_rope: Callable[..., Any] = modeling.apply_rotary_pos_emb
        self._eager_attention: Callable[..., Any] = modeling.eager_attention_forward
        linears = [m for m in (*self.talker.modules(),) if isinstance(m, torch.nn.Linear)]
        self.tiles: RowTiles = probe_buckets(linears, tile_rows=tile_rows, exact=exact)
        self.device = next(self.talker.parameters()).device
        self._predictor_positions: tuple[torch.Tensor, torch.Tensor] | None = None
        # rows per call of the code predictor's attention (1: a call per row)
        self.predictor_attention_rows = self._predictor_attention_rows(tile_rows) if exact else 1

    def _attention_function(self, config: Any) -> Callable[..., Any]:
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        implementation = config._attn_implementation
        return self._eager_attention if implementation == "eager" else ALL_ATTENTION_FUNCTIONS[implementation]

    def _predictor_attention_rows(self, tile_rows: int) -> int:
        """Rows one call of the code predictor's attention may take: 2 x tile where its kernel gives
        each row the bits it gives that row alone, checked (once per process and shape) on the
        predictor's own shapes, dtype and device, for every length a frame uses and every row count
        up to 2 x tile (torch 2.13's CPU sdpa passes); 1 otherwise (and for the eager path, whose
        matrix products are not checked)."""
        attention = self.predictor.model.layers[0].self_attn
        config = attention.config
        attend = self._attention_function(config)
        if attend is self._eager_attention or tile_rows < 2:
            return 1
        dtype = next(self.predictor.parameters()).dtype
        key = (config._attn_implementation, int(config.num_attention_heads), int(config.num_key_value_heads),
               int(attention.head_dim), self.codebooks, dtype, str(self.device), tile_rows)
        if key not in _ATTENTION_PROBES:
            exact = self._attention_is_row_exact(attention, attend, dtype, 2 * tile_rows)
            _ATTENTION_PROBES[key] = 2 * tile_rows if exact else 1
        return _ATTENTION_PROBES[key]

    def _attention_is_row_exact(
        self, attention: Any, attend: Callable[..., Any], dtype: torch.dtype, biggest: int
    ) -> bool:
        config = attention.config
        heads, kv_heads = int(config.num_attention_heads), int(config.num_key_value_heads)
        generator = torch.Generator().manual_seed(0)
        with torch.inference_mode():
            for length in range(2, self.codebooks + 1):
                count = 2 if length == 2 else 1
                shapes = ((biggest, heads, count), (biggest, kv_heads, length), (biggest, kv_heads, length))
                query, key, value = (
                    torch.randn((*shape, attention.head_dim), generator=generator).to(self.device, dtype) for shape in shapes
                )
                alone = [
                    attend(attention, query[i : i + 1], key[i : i + 1], value[i : i + 1], None, dropout=0.0,
                           scaling=attention.scaling, sliding_window=attention.sliding_window)[0]
                    for i in range(biggest)
                ]
                for rows in range(2, biggest + 1):
                    together, _ = attend(attention, query[:rows], key[:rows], value[:rows], None, dropout=0.0,
                                         scaling=attention.scaling, sliding_window=attention.sliding_window)
                    if not all(torch.equal(together[i : i + 1], alone[i]) for i in range(rows)):
                        return False
        return True

    # -- a newcomer's prefill (one row, official forward) ---------------------------------------

    def prefill(self, row: RowState, max_positions: int | None = None) -> torch.Tensor | None:
        """Run the next `max_positions` of the row's prompt (all of it when None) through the talker.

        Returns the logits (1, vocab) of the first frame once the whole prompt is in, None
        while some of it is still to come. The pieces depend on the prompt alone, never on
        the batch, so a row's numbers stay the same whoever runs beside it.
        """
        from transformers.cache_utils import DynamicCache

        prompt = row.prompt
        mask = prompt.attention_mask
        if row.prefill_cache is None:
            position_ids, rope_deltas = self.talker.get_rope_index(mask)
            row.rope_delta = rope_deltas - (1 - mask).sum(dim=-1).unsqueeze(1)
            row.prefill_positions = position_ids
            row.prefill_cache = DynamicCache()
        start = row.prefilled
        stop = prompt.length if max_positions is None else min(prompt.length, start + max_positions)
        out = self.talker.model(
            inputs_embeds=prompt.inputs_embeds[:, start:stop],
            attention_mask=mask[:, :stop],
            position_ids=row.prefill_positions[..., start:stop],
            past_key_values=row.prefill_cache,
            use_cache=True,
            cache_position=torch.arange(start, stop, device=self.device),
        )
        row.prefilled = stop
        if stop < prompt.length:
            return None
        layers = row.prefill_cache.layers
        row.cache = RowCache([layer.keys for layer in layers], [layer.values for layer in layers])
        row.prefill_cache = row.prefill_positions = None
        row.positions = int(mask.shape[1])
        hidden = out.last_hidden_state
        row.past_hidden = hidden[:, -1:, :]
        row.step = 0
        return self.talker.codec_head(hidden[:, -1, :])

    # -- one talker step for every row ------------------------------------------------------------

    def talker_step(self, rows: Sequence[RowState]) -> torch.Tensor:
        """Feed each row its `next_input`; returns the logits (rows, vocab) of each row's next token."""
        tiles = self.talker.model
        hidden = torch.cat([row.next_input for row in rows], dim=0)  # (B, 1, H)
        positions = []
        for row in rows:
            assert row.rope_delta is not None
            positions.append(row.positions + row.rope_delta.view(1))
        position_ids = torch.stack(positions).view(1, len(rows), 1).expand(3, -1, -1).to(self.device)
        position_embeddings = tiles.rotary_emb(hidden, position_ids)
        for index, layer in enumerate(tiles.layers):
            hidden = self._talker_layer(layer, index, hidden, position_embeddings, rows)
        for row in rows:
            assert row.cache is not None
            row.cache.advance()
            row.positions += 1
        hidden = tiles.norm(hidden)
        for i, row in enumerate(rows):
            row.past_hidden = hidden[i : i + 1]
        return self.tiles.linear(self.talker.codec_head, hidden[:, -1, :])

    def _project_qkv(self, attention: Any, normed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of one attention layer (heads first), every row through the fixed tiles."""
        linear = self.tiles.linear
        shape = (*normed.shape[:-1], -1, attention.head_dim)
        query = attention.q_norm(linear(attention.q_proj, normed).view(shape)).transpose(1, 2)
        key = attention.k_norm(linear(attention.k_proj, normed).view(shape)).transpose(1, 2)
        value = linear(attention.v_proj, normed).view(shape).transpose(1, 2)
        return query, key, value

    def _talker_layer(
        self, layer: Any, index: int, hidden: torch.Tensor, position_embeddings: Any, rows: Sequence[RowState]
    ) -> torch.Tensor:
        linear = self.tiles.linear
        attention = layer.self_attn
        residual = hidden
        normed = layer.input_layernorm(hidden)
        query, key, value = self._project_qkv(attention, normed)
        cos, sin = position_embeddings
        scaling = attention.rope_scaling
        query, key = self._apply_mrope(query, key, cos, sin, scaling["mrope_section"], scaling["interleaved"])
        attend = self._attention_function(attention.config)
        outputs = []
        for i, row in enumerate(rows):  # each row attends over its own history only
            assert row.cache is not None
            keys, values = row.cache.append(index, key[i : i + 1], value[i : i + 1])
            out, _ = attend(attention, query[i : i + 1], keys, values, None, dropout=0.0, scaling=attention.scaling,
                            sliding_window=attention.sliding_window)
            outputs.append(out)
        attended = torch.cat(outputs, dim=0).reshape(*normed.shape[:-1], -1)
        hidden = residual + linear(attention.o_proj, attended)
        residual = hidden
        hidden = layer.post_attention_layernorm(hidden)
        return residual + self._mlp(layer.mlp, hidden)

    def _mlp(self, mlp: Any, hidden: torch.Tensor) -> torch.Tensor:
        linear = self.tiles.linear
        return linear(mlp.down_proj, mlp.act_fn(linear(mlp.gate_proj, hidden)) * linear(mlp.up_proj, hidden))

    # -- the code predictor's 15 sub-steps for every row -------------------------------------------

    def residual_codes(self, rows: Sequence[RowState]) -> torch.Tensor:
        """Codebooks 1..15 for each row's chosen token; sets each row's next talker input.

        Returns the frames (rows, 16). Each row samples from its own generator with its own
        `subtalker` settings, in the official order.
        """
        talker, predictor = self.talker, self.predictor
        model = predictor.model
        linear = self.tiles.linear
        tokens = torch.cat([row.token for row in rows], dim=0)  # (B, 1)
        token_embed = talker.get_input_embeddings()(tokens)  # (B, 1, H)
        past_hidden = torch.cat([row.past_hidden for row in rows], dim=0)
        hidden = linear(predictor.small_to_mtp_projection, torch.cat((past_hidden, token_embed), dim=1))
        caches: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(model.layers)
        embeds = [token_embed]
        codes: list[torch.Tensor] = []
        residual_embeddings = model.get_input_embeddings()
        length = 0
        cos, sin = self._predictor_rotary(hidden)
        for group in range(self.codebooks - 1):
            count = hidden.shape[1]
            position_embeddings = (cos[:, length : length + count], sin[:, length : length + count])
            for index, layer in enumerate(model.layers[: model.config.num_hidden_layers]):
                hidden = self._predictor_layer(layer, index, hidden, position_embeddings, caches)
            length += count
            logits = linear(predictor.lm_head[group], model.norm(hidden[:, -1, :]))
            code = sample_rows(logits, [row.params.subtalker for row in rows], [row.generator for row in rows])
            codes.append(code)
            embed = residual_embeddings[group](code)  # (B, 1, H)
            embeds.append(embed)
            if group < self.codebooks - 2:
                hidden = linear(predictor.small_to_mtp_projection, embed)
        frames = torch.cat([tokens, *codes], dim=1)
        summed = torch.cat(embeds, dim=1).sum(1, keepdim=True)
        for i, row in enumerate(rows):
            next_input = summed[i : i + 1]
            trailing = row.prompt.trailing_text_hidden
            if row.step < trailing.shape[1]:
                next_input = next_input + trailing[:, row.step].unsqueeze(1)
            else:
                next_input = next_input + row.prompt.tts_pad_embed
            row.next_input = next_input
            row.step += 1
            row.frames += 1
            row.token = None
        return frames

    def _predictor_rotary(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The predictor's rotary cos/sin for its positions 0..codebooks, computed once (every frame uses the same)."""
        if self._predictor_positions is None:
            positions = torch.arange(self.codebooks + 1, device=self.device).unsqueeze(0)
            self._predictor_positions = self.predictor.model.rotary_emb(hidden, positions)
        return self._predictor_positions

    def _predictor_layer(
        self,
        layer: Any,
        index: int,
        hidden: torch.Tensor,
        position_embeddings: Any,
        caches: list[tuple[torch.Tensor, torch.Tensor] | None],
    ) -> torch.Tensor:
        linear = self.tiles.linear
        attention = layer.self_attn
        residual = hidden
        normed = layer.input_layernorm(hidden)
        query, key, value = self._project_qkv(attention, normed)
        cos, sin = position_embeddings
        query, key = self._apply_rope(query, key, cos, sin)
        cached = caches[index]
        if cached is not None:
            key = torch.cat([cached[0], key], dim=-2)
            value = torch.cat([cached[1], value], dim=-2)
        caches[index] = (key, value)
        attend = self._attention_function(attention.config)
        count = query.shape[2]
        # Every row has the same length here: where the kernel was proven row-exact, rows go in
        # groups of up to the probed size; elsewhere one call per row (the same call whatever the batch).
        group = self.predictor_attention_rows
        outputs = []
        for i in range(0, query.shape[0], group):
            mask = None
            if count > 1 and attend is self._eager_attention:
                mask = _causal_additive_mask(count, key.shape[2], query.dtype, query.device)
            out, _ = attend(attention, query[i : i + group], key[i : i + group], value[i : i + group], mask,
                            dropout=0.0, scaling=attention.scaling, sliding_window=attention.sliding_window)
            outputs.append(out)
        attended = (outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=0)).reshape(*normed.shape[:-1], -1)
        hidden = residual + linear(attention.o_proj, attended)
        residual = hidden
        hidden = layer.post_attention_layernorm(hidden)
        return residual + self._mlp(layer.mlp, hidden)


_ATTENTION_PROBES: dict[tuple[Any, ...], int] = {}  # a probe's answer per attention shape (see BatchedTalker)


def _causal_additive_mask(queries: int, keys: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The eager attention's additive causal mask for `queries` new positions after `keys - queries` old ones."""
    query = torch.arange(keys - queries, keys, device=device).unsqueeze(1)
    key = torch.arange(keys, device=device).unsqueeze(0)
    blocked = torch.zeros((queries, keys), dtype=dtype, device=device)
    return blocked.masked_fill(key > query, torch.finfo(dtype).min).view(1, 1, queries, keys)


def rows_memory_bytes(rows: Sequence[RowState]) -> int:
    """The talker caches the rows hold now (for the memory-per-row figure)."""
    return sum(row.cache.nbytes for row in rows if row.cache is not None)
