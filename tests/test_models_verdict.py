"""The ``verdict`` family (prmkit's GenRM-style layout): exact text/ids on the shipped arith tokenizer
and the real Qwen2.5 tokenizer, tokenizer checks, and that the scorer reads P("+") at the tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from prmkit.models.formats.verdict import (
    check_verdict_tokenizer,
    encode_verdict,
    verdict_text,
)
from tests._tiny_train import ARITH_POLICY as ARITH

QUESTION, STEPS = "Q 2 +3", ["2+3=5", "The answer is 5."]

pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def arith_tokenizer():
    from prmkit.train._data import load_tokenizer

    return load_tokenizer(ARITH)


def test_text_layout_is_the_policys_plus_tag_and_verdict() -> None:
    assert verdict_text(QUESTION, STEPS) == "Q 2 +3\n2+3=5?+\nThe answer is 5.?+\n"
    assert verdict_text("Q", ["a", "b"], ["+", "-"]) == "Q\na?+\nb?-\n"
    with pytest.raises(ValueError, match="2 verdicts for 1 steps"):
        verdict_text("Q", ["a"], ["+", "+"])
    with pytest.raises(ValueError, match="use '\\+' or '-'"):
        verdict_text("Q", ["a"], ["yes"])


def test_golden_ids_arith_tokenizer(arith_tokenizer) -> None:
    """Shipped arith tokenizer (src/prmkit/assets/arith_policy/tokenizer.json): [BOS]=1, '?'=87,
    '+'=77, '-'=79, '\\n'=4; 'The answer is ' is one token (102) in that vocabulary."""
    item = encode_verdict(arith_tokenizer, QUESTION, STEPS)
    assert item.input_ids == [1, 57, 99, 7, 99, 77, 8, 4, 7, 77, 8, 85, 10, 87, 77, 4, 102, 10, 80, 87, 77, 4]
    assert item.step_positions == [13, 19]
    assert item.step_starts == [8, 16]
    assert [item.input_ids[p] for p in item.step_positions] == [87, 87]
    tokens = arith_tokenizer.convert_ids_to_tokens(item.input_ids)
    assert "".join(tokens[1:]) == verdict_text(QUESTION, STEPS)  # one piece per id, BOS first
    wrong = encode_verdict(arith_tokenizer, QUESTION, STEPS, ["+", "-"])
    assert wrong.input_ids[20] == 79 and wrong.input_ids[:20] == item.input_ids[:20]


def test_golden_ids_qwen_tokenizer() -> None:
    """Real Qwen2.5 vocab/merges (shared/data/tokenizers/qwen2.5, see tests/_tiny_models.py): no BOS;
    '?'=30, '+'=10, '\\n'=198 as single tokens (pieces are tokenized separately, so '5.' + '?' never merge)."""
    from tests._tiny_models import skip_reason, tokenizer

    if skip_reason("qwen"):
        pytest.skip(skip_reason("qwen"))
    tok = tokenizer("qwen")
    item = encode_verdict(tok, QUESTION, STEPS)
    assert item.input_ids == [48, 220, 17, 488, 18, 198, 17, 10, 18, 28, 20, 30, 10, 198,
                              785, 4226, 374, 220, 20, 13, 30, 10, 198]
    assert item.step_positions == [11, 20]
    assert tok.decode(item.input_ids) == verdict_text(QUESTION, STEPS)
    check_verdict_tokenizer(tok)


def test_tokenizer_check_names_the_missing_token(tmp_path: Path) -> None:
    """The trainer tests' character tokenizer has no '?': it maps to <unk>, which must be refused."""
    from tests._tiny_train import make_tokenizer

    tok = make_tokenizer(tmp_path)
    with pytest.raises(ValueError, match="verdict tag '\\?' must be one token.*unknown token"):
        check_verdict_tokenizer(tok)
    with pytest.raises(ValueError, match="unknown token"):
        encode_verdict(tok, "Q", ["a"])


def test_encode_rejects_empty_steps(arith_tokenizer) -> None:
    with pytest.raises(ValueError, match="step 1 is empty"):
        encode_verdict(arith_tokenizer, "Q", ["a", " "])
    with pytest.raises(ValueError, match="no steps"):
        encode_verdict(arith_tokenizer, "Q", [])


def _tiny_gpt2(out: Path) -> Path:
    from tests._tiny_train import make_arith_base

    return make_arith_base(out)


def _tok(path: Path):
    from prmkit.train._data import load_tokenizer

    return load_tokenizer(path)


def _bias_towards(path: Path, favoured: str, other: str) -> None:
    """Make every final hidden state the same vector b, and the LM rows of the two verdicts +-b:
    the model then prefers ``favoured`` after every token, tag included."""
    import torch
    from transformers import GPT2LMHeadModel

    from prmkit.train._data import load_tokenizer

    tok = load_tokenizer(path)
    model = GPT2LMHeadModel.from_pretrained(path)
    with torch.no_grad():
        b = torch.linspace(-1, 1, model.config.n_embd)
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.copy_(b)
        model.lm_head.weight[tok.convert_tokens_to_ids(favoured)] = b
        model.lm_head.weight[tok.convert_tokens_to_ids(other)] = -b
    model.save_pretrained(path)


def test_scorer_reads_p_plus_at_each_tag(tmp_path: Path, arith_tokenizer) -> None:
    """load_scorer('verdict') == softmax(logits['+'], logits['-'])[0] at each tag of a plain forward."""
    import torch
    from transformers import GPT2LMHeadModel

    from prmkit.models import load_scorer

    path = _tiny_gpt2(tmp_path / "m")
    items = [(QUESTION, STEPS), ("Q 4 *2", ["4*2=8", "8", "The answer is 8."])]
    scores = load_scorer("verdict", path=str(path), tokenizer=_tok(path), device="cpu", progress=False).score(items)
    model = GPT2LMHeadModel.from_pretrained(path).eval()
    plus, minus = arith_tokenizer.convert_tokens_to_ids(["+", "-"])
    for (question, steps), got in zip(items, scores):
        item = encode_verdict(arith_tokenizer, question, steps)
        with torch.no_grad():
            logits = model(torch.tensor([item.input_ids])).logits[0]
        expected = [float(logits[p, [plus, minus]].softmax(-1)[0]) for p in item.step_positions]
        assert got == pytest.approx(expected, abs=1e-5)
        assert len(set(round(v, 4) for v in got)) == len(got)  # random weights: steps really differ


@pytest.mark.parametrize(("favoured", "other", "high"), [("+", "-", True), ("-", "+", False)])
def test_lm_head_favouring_plus_scores_above_half(tmp_path: Path, favoured: str, other: str, high: bool) -> None:
    from prmkit.models import load_scorer

    path = _tiny_gpt2(tmp_path / "m")
    _bias_towards(path, favoured, other)
    scores = load_scorer("verdict", path=str(path), tokenizer=_tok(path), device="cpu", progress=False).score([(QUESTION, STEPS)])[0]
    assert all((s > 0.9) == high and (s < 0.1) != high for s in scores)


def test_qwen_tiny_model_scores_one_value_per_step(tmp_path: Path) -> None:
    from prmkit.models import load_scorer
    from tests._tiny_models import build_causal_lm, skip_reason, tokenizer

    if skip_reason("qwen"):
        pytest.skip(skip_reason("qwen"))
    path = build_causal_lm(tmp_path / "q")
    scorer = load_scorer("verdict", path=path, tokenizer=tokenizer("qwen"), device="cpu", progress=False)
    scores = scorer.score([(QUESTION, STEPS), ("Q 1", ["1"])])
    assert [len(s) for s in scores] == [2, 1]
    assert all(0.0 < v < 1.0 for row in scores for v in row)


def test_family_refuses_a_checkpoint_whose_tokenizer_lacks_the_tag(qwen_base: Path) -> None:
    """Load-time check: a causal LM whose tokenizer has no '?' cannot be a verdict PRM."""
    from prmkit.models import load_scorer

    with pytest.raises(ValueError, match="verdict tag"):
        load_scorer("verdict", path=str(qwen_base), device="cpu")
