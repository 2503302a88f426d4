"""The likelihood verifier against a plain per-item re-implementation of its definition.

Definition (prmkit.models.likelihood): step k's feature is the min / mean over its tokens of
``log p(token | prefix)`` (margin: ``log p(token) - max_{v != token} log p(v)``) of the causal LM on
the implicit layout; P = sigmoid(slope * x + intercept) with a stored calibration, else exp(x)
(min / mean) or sigmoid(x) (margin).
"""

from __future__ import annotations

import json
import math

import pytest

from prmkit.models import load_scorer
from prmkit.models.formats.implicit import encode_implicit
from prmkit.models.likelihood import Calibration, fit_calibration, write_likelihood_config
from tests._tiny_models import build_causal_lm, have_tokenizers, tokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.skipif(not have_tokenizers(), reason="shared tokenizer files not present")

ITEMS = [
    ("Compute (3+4)*2.", ["3 + 4 = 7", "7 * 2 = 14", "The answer is 14"]),
    ("What is 5-2?", ["5 - 2 = 3"]),
    ("Sum 1..4.", ["1+2 = 3", "3+3 = 6", "6+4 = 10", "So the sum is 10."]),
]


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    return build_causal_lm(tmp_path_factory.mktemp("likelihood") / "lm", seed=0)


def _reference_features(path, items, reduce):
    tok = tokenizer("qwen")
    model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    out = []
    for question, steps in items:
        item = encode_implicit(tok, question, steps)
        with torch.no_grad():
            log_p = model(input_ids=torch.tensor([item.input_ids])).logits[0].float().log_softmax(-1)
        row = []
        for start, end in item.step_spans():
            values = []
            for t in range(start, end):
                dist = log_p[t - 1]
                chosen = dist[item.input_ids[t]].item()
                other = torch.cat([dist[: item.input_ids[t]], dist[item.input_ids[t] + 1 :]]).max().item()
                values.append(chosen - other if reduce == "margin" else chosen)
            row.append(sum(values) / len(values) if reduce == "mean" else min(values))
        out.append(row)
    return out


@pytest.mark.parametrize("reduce", ["min", "mean", "margin"])
def test_features_match_the_definition(lm_dir, reduce):
    scorer = load_scorer("likelihood", path=lm_dir, tokenizer=tokenizer("qwen"), reduce=reduce, progress=False,
                         max_batch_tokens=64)  # small budget: several batches, padding inside them
    got = scorer.step_features(ITEMS)
    want = _reference_features(lm_dir, ITEMS, reduce)
    for g, w in zip(got, want):
        assert g == pytest.approx(w, abs=1e-4)
    natural = scorer.score(ITEMS)
    mapped = [[1 / (1 + math.exp(-x)) if reduce == "margin" else math.exp(x) for x in row] for row in want]
    for g, w in zip(natural, mapped):
        assert g == pytest.approx(w, abs=1e-4)


def test_stored_calibration_and_reduction_are_read(lm_dir, tmp_path):
    import shutil

    path = shutil.copytree(lm_dir, tmp_path / "verifier")
    write_likelihood_config(path, "mean", Calibration(slope=2.0, intercept=0.5))
    assert json.loads((path / "prmkit.json").read_text())["family"] == "likelihood"
    scorer = load_scorer("likelihood", path=str(path), tokenizer=tokenizer("qwen"), progress=False)
    want = _reference_features(lm_dir, ITEMS, "mean")
    for g, w in zip(scorer.score(ITEMS), want):
        assert g == pytest.approx([1 / (1 + math.exp(-(2.0 * x + 0.5))) for x in w], abs=1e-4)
    raw = load_scorer("likelihood", path=str(path), tokenizer=tokenizer("qwen"), calibrate=False, progress=False)
    assert raw.score(ITEMS)[0] == pytest.approx([math.exp(x) for x in want[0]], abs=1e-4)


def test_another_family_is_refused(lm_dir, tmp_path):
    import shutil

    path = shutil.copytree(lm_dir, tmp_path / "other")
    (path / "prmkit.json").write_text(json.dumps({"family": "implicit"}))
    with pytest.raises(ValueError, match="load_scorer\\('implicit'\\)"):
        load_scorer("likelihood", path=str(path))


def test_truncation_drops_oldest_steps(lm_dir):
    scorer = load_scorer("likelihood", path=lm_dir, tokenizer=tokenizer("qwen"), max_length=20,
                         truncation="keep_last_steps", progress=False)
    row = scorer.score([ITEMS[2]])[0]
    assert row[0] is None and row[-1] is not None
    with pytest.raises(ValueError, match="item 0"):
        load_scorer("likelihood", path=lm_dir, tokenizer=tokenizer("qwen"), max_length=20, progress=False).score([ITEMS[2]])


def test_fit_calibration_recovers_a_logistic_map():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(-1.0, 1.5, 20_000)
    y = rng.random(20_000) < 1 / (1 + np.exp(-(1.7 * x + 0.4)))
    fitted = fit_calibration(x.tolist(), y.tolist())
    assert fitted.slope == pytest.approx(1.7, rel=0.05)
    assert fitted.intercept == pytest.approx(0.4, abs=0.06)
    with pytest.raises(ValueError, match="both correct and wrong"):
        fit_calibration([0.1, 0.2], [True, True])
