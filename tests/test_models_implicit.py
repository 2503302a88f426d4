"""The implicit PRM against a plain per-item re-implementation of the paper's formula.

"Free Process Rewards without Process Labels" (Yuan et al., 2024): q_t = sum_{i<=t} beta *
log(pi(y_i|y_<i) / pi_ref(y_i|y_<i)); a step's reward is the sum over its tokens.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest

from prmkit.models import load_scorer
from prmkit.models.formats.implicit import encode_implicit
from tests._tiny_models import build_causal_lm, have_tokenizers, tokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.skipif(
    not have_tokenizers(), reason="shared tokenizer files not present"
)

ITEMS = [
    ("Compute (3+4)*2.", ["3 + 4 = 7", "7 * 2 = 14", "The answer is 14"]),
    ("What is 5-2?", ["5 - 2 = 3"]),
    ("Sum 1..4.", ["1+2 = 3", "3+3 = 6", "6+4 = 10", "So the sum is 10."]),
]


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("implicit")
    path = build_causal_lm(root / "policy", seed=0)
    build_causal_lm(root / "policy" / "reference", seed=1)
    (root / "policy" / "prmkit.json").write_text(
        json.dumps({"family": "implicit", "beta": 0.05, "reference": "reference"})
    )
    return path


def _reference(path, ref_path, beta, items, mode):
    tok = tokenizer("qwen")
    pi = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    ref = transformers.AutoModelForCausalLM.from_pretrained(ref_path).eval()
    out = []
    for question, steps in items:
        item = encode_implicit(tok, question, steps)
        ids = torch.tensor([item.input_ids])
        with torch.no_grad():
            lp = pi(ids).logits[0].log_softmax(-1)
            lr = ref(ids).logits[0].log_softmax(-1)
        q, scores = 0.0, []
        for start, end in item.step_spans():
            r = sum(
                beta
                * (lp[t - 1, item.input_ids[t]] - lr[t - 1, item.input_ids[t]]).item()
                for t in range(start, end)
            )
            q += r
            value = q if mode == "cumulative" else r
            scores.append(1 / (1 + math.exp(-value)))
        out.append(scores)
    return out


def _close(got, want, tol=1e-5):
    assert [len(r) for r in got] == [len(r) for r in want]
    for g, w in zip(got, want):
        assert g == pytest.approx(w, abs=tol)


@pytest.mark.parametrize("mode", ["step", "cumulative"])
def test_implicit_matches_formula(policy_dir, mode):
    scorer = load_scorer(
        "implicit",
        path=policy_dir,
        mode=mode,
        tokenizer=tokenizer("qwen"),
        max_batch_tokens=64,
    )
    got = scorer.score(ITEMS)
    want = _reference(policy_dir, f"{policy_dir}/reference", 0.05, ITEMS, mode)
    _close(got, want)
    assert (
        max(abs(v - 0.5) for row in want for v in row) > 0.01
    )  # the two models differ: not a trivial 0.5


def test_explicit_args_override_prmkit_json(policy_dir, tmp_path):
    other = shutil.copytree(f"{policy_dir}/reference", tmp_path / "ref")
    scorer = load_scorer(
        "implicit",
        path=policy_dir,
        beta=0.5,
        reference=str(other),
        tokenizer=tokenizer("qwen"),
    )
    _close(
        scorer.score(ITEMS[:1]),
        _reference(policy_dir, str(other), 0.5, ITEMS[:1], "step"),
    )


def test_same_policy_and_reference_gives_one_half(policy_dir):
    scorer = load_scorer(
        "implicit", path=policy_dir, reference=policy_dir, tokenizer=tokenizer("qwen")
    )
    assert all(
        v == pytest.approx(0.5, abs=1e-6) for row in scorer.score(ITEMS) for v in row
    )


def test_missing_config_names_what_to_pass(tmp_path, policy_dir):
    bare = shutil.copytree(f"{policy_dir}/reference", tmp_path / "bare")
    with pytest.raises(
        ValueError, match="no beta and no reference; pass beta=/reference="
    ):
        load_scorer("implicit", path=str(bare), tokenizer=tokenizer("qwen"))
    with pytest.raises(ValueError, match="mode="):
        load_scorer(
            "implicit", path=policy_dir, mode="sum", tokenizer=tokenizer("qwen")
        )
    (bare / "prmkit.json").write_text(json.dumps({"family": "token-cls"}))
    with pytest.raises(ValueError, match="family is 'token-cls'"):
        load_scorer("implicit", path=str(bare), tokenizer=tokenizer("qwen"))


def test_keep_last_steps_returns_none_for_dropped(policy_dir):
    tok = tokenizer("qwen")
    question, steps = ITEMS[2]
    length = len(encode_implicit(tok, question, steps).input_ids)
    scorer = load_scorer(
        "implicit",
        path=policy_dir,
        tokenizer=tok,
        max_length=length - 2,
        truncation="keep_last_steps",
    )
    got = scorer.score([(question, steps)])[0]
    assert got[0] is None
    _close(
        [got[1:]],
        _reference(
            policy_dir, f"{policy_dir}/reference", 0.05, [(question, steps[1:])], "step"
        ),
    )
