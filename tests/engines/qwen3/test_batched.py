"""The batched talker's token choice on a tiny checkpoint: codebook 0 chosen for all rows at once
is, row by row, what each row would choose alone (same token, same history, same generator
state after), and a row whose scores are broken fails alone."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from realtime.engines.qwen3.batched import RowState, choose_tokens
from realtime.engines.qwen3.prompts import custom_voice_prompt
from realtime.engines.qwen3.sampling import SamplingParams, make_generator
from tests.support.qwen_models import qwen_models  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def tts(qwen_models: dict[str, Any]) -> Any:  # noqa: F811
    return qwen_models["custom_voice"]


def make_rows(tts: Any, settings: list[SamplingParams], histories: list[int]) -> list[RowState]:
    """One row per setting, seeded by its index, with `histories[i]` tokens already chosen."""
    prompt = custom_voice_prompt(tts, "Hello there.", speaker="ryan", language="english")
    vocab = int(tts.model.talker.config.vocab_size)
    rows = []
    for index, (params, length) in enumerate(zip(settings, histories, strict=True)):
        row = RowState(prompt, params, make_generator(100 + index), 50, vocab_size=vocab)
        row.history = torch.randint(0, 2048, (1, length), generator=torch.Generator().manual_seed(index))
        rows.append(row)
    return rows


def test_tokens_chosen_together_equal_each_rows_own_choice(tts: Any) -> None:
    sampled = SamplingParams.from_config(tts.generate_defaults)
    greedy = SamplingParams.from_config(tts.generate_defaults, {"temperature": 0})
    nucleus = SamplingParams.from_config(tts.generate_defaults, {"top_p": 0.7, "repetition_penalty": 1.3})
    settings = [sampled, greedy, sampled, nucleus, sampled, greedy]
    histories = [0, 1, 5, 9, 30, 3]  # the first two still may not end (min_frames 2)
    logits = torch.randn((len(settings), int(tts.model.talker.config.vocab_size)), generator=torch.Generator().manual_seed(7))
    together, alone = make_rows(tts, settings, histories), make_rows(tts, settings, histories)
    eos = together[0].prompt.eos_token_id
    logits[1, eos] = 50.0  # greedy would end here, but the row is too young to
    logits[5, eos] = 50.0  # this one is old enough: EOS
    outcomes = choose_tokens(together, logits)
    expected = [row.choose_token(logits[index : index + 1], row.prompt.eos_token_id) for index, row in enumerate(alone)]
    assert outcomes == expected
    assert outcomes[1] is True and outcomes[5] is False
    for mine, theirs in zip(together, alone, strict=True):
        assert torch.equal(mine.history, theirs.history)
        assert (mine.token is None) == (theirs.token is None)
        assert mine.token is None or torch.equal(mine.token, theirs.token)
        assert torch.equal(mine.generator.get_state(), theirs.generator.get_state())
        assert mine.outcome == theirs.outcome


def test_a_row_with_broken_scores_fails_alone(tts: Any) -> None:
    sampled = SamplingParams.from_config(tts.generate_defaults)
    together, alone = make_rows(tts, [sampled] * 3, [4, 4, 4]), make_rows(tts, [sampled] * 3, [4, 4, 4])
    logits = torch.randn((3, int(tts.model.talker.config.vocab_size)), generator=torch.Generator().manual_seed(1))
    logits[1] = float("nan")
    outcomes = choose_tokens(together, logits)
    assert isinstance(outcomes[1], RuntimeError)
    for index in (0, 2):
        assert outcomes[index] == alone[index].choose_token(logits[index : index + 1], alone[index].prompt.eos_token_id)
        assert torch.equal(together[index].token, alone[index].token)
        assert torch.equal(together[index].generator.get_state(), alone[index].generator.get_state())
