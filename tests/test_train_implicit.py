"""Implicit PRM trainer (Yuan et al. 2024): the loss is the paper's formula, it learns outcomes,
and the checkpoint follows the contract the ``implicit`` scorer reads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from prmkit.io._jsonl import FormatError
from tests._tiny_train import rule_records, write_records

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_loss_is_the_papers_cross_entropy(gpt2_base: Path, padding_side: str) -> None:
    """Batched loss == -[y log s(r) + (1-y) log(1-s(r))], r = beta * sum_response log(pi/pi_ref),
    computed here one unpadded sequence at a time straight from the logits (Yuan et al. 2024, eq. CE)."""
    from transformers import AutoModelForCausalLM

    from prmkit.models.formats.implicit import encode_implicit
    from prmkit.train._data import load_tokenizer, pad_batch
    from prmkit.train.implicit import _loss, _row

    tokenizer = load_tokenizer(gpt2_base)
    reference = AutoModelForCausalLM.from_pretrained(gpt2_base).eval()
    torch.manual_seed(1)
    policy = AutoModelForCausalLM.from_pretrained(gpt2_base).eval()
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))  # pi != pi_ref, so the ratio is not trivially 0
    beta = 0.3
    records = rule_records(5, seed=4)

    def sequence_log_prob(model, ids: list[int], start: int) -> float:
        with torch.no_grad():
            logp = model(torch.tensor([ids])).logits[0].log_softmax(-1)
        return float(sum(logp[t - 1, ids[t]] for t in range(start, len(ids))))

    expected, rows = [], []
    for record in records:
        item = encode_implicit(tokenizer, record.problem.question, record.solution.steps)
        y = 1.0 if record.solution.correct else 0.0
        ref = sequence_log_prob(reference, item.input_ids, item.response_start)
        r = beta * (sequence_log_prob(policy, item.input_ids, item.response_start) - ref)
        s = 1 / (1 + math.exp(-r))
        expected.append(-(y * math.log(s) + (1 - y) * math.log(1 - s)))
        rows.append({**_row(item, y), "ref_logp": ref})
    batch = pad_batch(rows, tokenizer.pad_token_id, padding_side, pad_values={"response_mask": 0})
    with torch.no_grad():
        loss = float(_loss(policy, batch, beta))
    assert loss == pytest.approx(sum(expected) / len(expected), rel=1e-4)


def _train(tmp_path: Path, base: Path, **overrides) -> Path:
    from prmkit.train.implicit import ImplicitTrainConfig, train_implicit

    settings = {
        "train_file": str(write_records(tmp_path / "train.jsonl", rule_records(128, seed=1))),
        "val_file": str(write_records(tmp_path / "val.jsonl", rule_records(48, seed=2))),
        "base_model": str(base), "output_dir": str(tmp_path / "implicit"), "beta": 0.5, "learning_rate": 3e-3,
        "max_steps": 40, "batch_size": 16, "eval_every": 20, "eval_train_examples": 64,
    }
    settings.update(overrides)
    return train_implicit(ImplicitTrainConfig(**settings))


@pytest.mark.slow
def test_learns_outcomes(tmp_path: Path, gpt2_base: Path) -> None:
    out = _train(tmp_path, gpt2_base)
    history = json.loads((out / "eval_history.json").read_text())
    best = history["best"]
    assert best["train_auroc"] > 90 and best["auroc"] > 80
    assert history["history"][-1]["train_loss"] < history["history"][0]["train_loss"]


@pytest.mark.parametrize("base_fixture", ["gpt2_base", "qwen_base"])
def test_checkpoint_contract_and_scorer_readback(tmp_path: Path, base_fixture: str, request) -> None:
    """prmkit.json + reference/ = the frozen base; load_scorer("implicit", path=...) gives the same step
    rewards the trainer's validation computes (also for a Qwen2 body, whose char tokenizer
    ``AutoTokenizer`` would misread)."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from prmkit.models.formats.implicit import encode_implicit
    from prmkit.train._data import load_tokenizer
    from prmkit.train.implicit import _response_log_probs, step_rewards

    base = request.getfixturevalue(base_fixture)
    out = _train(tmp_path, base, max_steps=8, eval_every=8, eval_train_examples=0)
    assert json.loads((out / "prmkit.json").read_text()) == {"family": "implicit", "beta": 0.5, "reference": "reference"}
    base_weights = load_file(base / "model.safetensors")
    ref_weights = load_file(out / "reference" / "model.safetensors")
    pi_weights = load_file(out / "model.safetensors")
    assert all(torch.equal(base_weights[k], ref_weights[k]) for k in base_weights)  # reference = frozen base
    assert any(not torch.equal(base_weights[k], pi_weights[k]) for k in base_weights)  # pi moved

    tokenizer = load_tokenizer(out)
    records = rule_records(6, seed=9)
    items = [encode_implicit(tokenizer, r.problem.question, r.solution.steps) for r in records]
    pol = _response_log_probs(AutoModelForCausalLM.from_pretrained(out), items, tokenizer.pad_token_id, 4, "left")
    ref = _response_log_probs(AutoModelForCausalLM.from_pretrained(out / "reference"), items,
                              tokenizer.pad_token_id, 4, "right")
    from prmkit.models import load_scorer

    theirs = load_scorer("implicit", path=str(out), progress=False).score(
        [(r.problem.question, r.solution.steps) for r in records])
    for item, p, q, scores in zip(items, pol, ref, theirs):
        steps = step_rewards(item, p, q, beta=0.5)
        assert len(steps) == len(item.step_positions)
        assert scores == pytest.approx([1 / (1 + math.exp(-v)) for v in steps], abs=1e-4)


def test_ungraded_training_solution_is_refused(tmp_path: Path, gpt2_base: Path) -> None:
    from prmkit.train.implicit import ImplicitTrainConfig, train_implicit

    records = rule_records(4, seed=0)
    records[1].solution.correct = None
    path = write_records(tmp_path / "bad.jsonl", records)
    with pytest.raises(FormatError, match=r"problem 'p1'.*solution.correct is null"):
        train_implicit(ImplicitTrainConfig(train_file=str(path), base_model=str(gpt2_base),
                                           output_dir=str(tmp_path / "o"), val_fraction=0.0))
    with pytest.raises(ValueError, match="beta"):
        ImplicitTrainConfig(train_file="a", base_model="b", output_dir="c", beta=0.0)
