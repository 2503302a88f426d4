"""Token-level step splitting and reward placement."""


import pytest
import torch

from prmkit.rl.rewards import add_at_eos, place_on_tokens, step_rewards_from_scores
from prmkit.rl.steps import separator_token_ids, split_text, split_tokens
from tests._tiny_models import TOKENIZERS

from ._rl_fakes import PieceTokenizer

QWEN = TOKENIZERS / "qwen2.5"


PIECES = ["2+3=5", ".\n\n", "\n\n", "\n", "5*2=10", "The answer is 10", " ", "x"]


def test_separator_ids_include_merged_tokens():
    tok = PieceTokenizer(PIECES)
    assert separator_token_ids(tok) == {1, 2}
    assert separator_token_ids(tok, "\n") == {1, 2, 3}
    with pytest.raises(ValueError, match="no token of this tokenizer"):
        separator_token_ids(tok, "<step>")


def test_split_tokens_ends_counts_and_empty_spans():
    tok = PieceTokenizer(PIECES)
    ids = tok.encode("\n\n2+3=5.\n\n5*2=10\n\nThe answer is 10")  # leading blank line: an empty span
    split = split_tokens(ids, tok, separator_token_ids(tok))
    assert split.steps == ["2+3=5.", "5*2=10", "The answer is 10"]
    assert split.ends == [2, 4, 5]
    assert split.num_tokens == [3, 2, 1] and sum(split.num_tokens) == len(ids)
    # a trailing separator ends the last step; a whitespace-only response has no steps
    assert split_tokens(tok.encode("5*2=10\n\n"), tok, frozenset({1, 2})).ends == [1]
    assert split_tokens(tok.encode(" \n\n "), tok, frozenset({1, 2})).steps == []


@pytest.fixture(scope="module")
def qwen():
    if not QWEN.exists():
        pytest.skip("shared Qwen2.5 tokenizer files not available")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(QWEN)


QWEN_TEXT = "We add: 2+3=5.\n\nThen 5*2=10;\n\nThe answer is 10"


def test_split_tokens_with_the_real_qwen_tokenizer(qwen):
    ids = qwen.encode(QWEN_TEXT, add_special_tokens=False)
    seps = frozenset(i for i in set(ids) if qwen.decode([i]).endswith("\n\n"))  # the rule, on this text's ids
    assert any(qwen.decode([i]) != "\n\n" for i in seps), "expected punctuation merged with the blank line"
    split = split_tokens(ids, qwen, seps)
    assert split.steps == split_text(QWEN_TEXT) == ["We add: 2+3=5.", "Then 5*2=10;", "The answer is 10"]
    assert split.ends[-1] == len(ids) - 1 and sum(split.num_tokens) == len(ids)
    assert all(qwen.decode(ids[: e + 1]).endswith("\n\n") for e in split.ends[:-1])


@pytest.mark.slow
def test_separator_ids_over_the_full_qwen_vocabulary(qwen):
    seps = separator_token_ids(qwen)
    ids = qwen.encode(QWEN_TEXT, add_special_tokens=False)
    assert 271 in seps and {i for i in ids if i in seps} == {i for i in ids if qwen.decode([i]).endswith("\n\n")}
    assert 300 < len(seps) < 2000  # hundreds of merged "...\n\n" tokens, not the whole vocabulary


def test_rewards_from_scores_and_placement():
    rewards, mask = step_rewards_from_scores([[0.9, 0.2], [1.0]], kind="p_minus_n")
    assert rewards.tolist() == [pytest.approx([0.8, -0.6]), [1.0, 0.0]]
    assert mask.tolist() == [[True, True], [True, False]]
    p, _ = step_rewards_from_scores([[0.9, 0.2], [1.0]])
    assert p.tolist() == [pytest.approx([0.9, 0.2]), [1.0, 0.0]]
    dense = place_on_tokens(p, mask, [[1, 3], [2]], response_len=5)
    assert dense.tolist() == [pytest.approx([0, 0.9, 0, 0.2, 0]), [0, 0, 1.0, 0, 0]]
    response_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    out = add_at_eos(dense, response_mask, torch.tensor([1.0, 0.0]), coef=0.5)
    assert out.tolist() == [pytest.approx([0, 0.9, 0, 0.2, 0.5]), [0, 0, 1.0, 0, 0]]


def test_reward_errors_name_response_and_step():
    with pytest.raises(ValueError, match="response 1 step 0: score None"):
        step_rewards_from_scores([[0.5], [None, 0.5]])
    with pytest.raises(ValueError, match="Unknown reward kind 'logit'"):
        step_rewards_from_scores([[0.5]], kind="logit")
    r, m = step_rewards_from_scores([[0.5, 0.5]])
    with pytest.raises(ValueError, match="response 0: 1 step ends but 2 valid"):
        place_on_tokens(r, m, [[3]], response_len=4)
    with pytest.raises(ValueError, match="end token 9 is outside"):
        place_on_tokens(r, m, [[1, 9]], response_len=4)
    with pytest.raises(ValueError, match="response 0 has no valid token"):
        add_at_eos(torch.zeros(1, 3), torch.zeros(1, 3), torch.ones(1))
