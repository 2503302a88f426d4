"""Train an implicit PRM from outcome labels only (Yuan et al. 2024, "Free Process Rewards without
Process Labels"; reference code PRIME-RL/ImplicitPRM, cross-entropy variant).

The policy pi (initialised from the base causal LM) is trained as an outcome reward model whose
reward is the log-likelihood ratio against the frozen base policy pi_ref::

    r(y) = beta * sum_{t in response} [log pi(y_t | y_<t) - log pi_ref(y_t | y_<t)]
    loss = -[ y * log sigmoid(r) + (1 - y) * log(1 - sigmoid(r)) ]        (y = solution.correct)

Step rewards then come for free: the same log-ratio summed over one step's tokens
(:class:`prmkit.models.implicit.ImplicitScorer`). The response layout is exactly
:func:`prmkit.models.formats.implicit.encode_implicit` (question + "\\n", then each step + "\\n"),
which the scorer also uses. pi_ref's log-probabilities never change, so they are computed once
before training (one forward pass of the reference per solution instead of one per step).

Checkpoint (``output_dir``): the trained pi as a plain HF causal LM with its tokenizer,
``prmkit.json`` = ``{"family": "implicit", "beta": beta, "reference": "reference"}`` and the
reference model in ``output_dir/reference/``. Validation: outcome AUROC / accuracy of sigmoid(r),
and, when the validation records carry step labels, step AUROC and ProcessBench F1 of the per-step
scores (``step_*``/``f1``: sigmoid of each step's reward, the scorer's default ``mode="step"``;
``cum_*``: sigmoid of the running sum, ``mode="cumulative"``).

Example::

    from prmkit.train.implicit import ImplicitTrainConfig, train_implicit
    train_implicit(ImplicitTrainConfig(train_file="graded.jsonl", base_model="policy/", output_dir="iprm/"))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prmkit.io._jsonl import FormatError
from prmkit.models.formats.implicit import ImplicitEncodedItem, encode_implicit
from prmkit.train._config import TrainConfig, help_text, load_train_val, loop_settings, resolve_inputs
from prmkit.types import LabelledSolution

__all__ = ["IMPLICIT_METRICS", "ImplicitTrainConfig", "step_rewards", "token_log_probs", "train_implicit"]

#: Validation metrics an implicit-PRM run can select its best checkpoint on (higher is better).
IMPLICIT_METRICS = ("auroc", "accuracy", "step_auroc", "f1", "cum_step_auroc", "cum_f1")


@dataclass
class ImplicitTrainConfig(TrainConfig):
    """Settings of :func:`train_implicit` (the ``prmkit train implicit`` flags are these fields).

    Raises (on construction):
        ValueError: non-positive ``beta``, unknown ``metric`` / ``padding_side`` or an out-of-range
            number (names the field).
    """

    # Shared fields (TrainConfig) whose help text or default differs here:
    train_file: str = field(metadata=help_text("JSONL of LabelledSolution records; only solution.correct is used for training."))
    base_model: str = field(metadata=help_text("Hugging Face causal-LM checkpoint: initial pi and the frozen reference."))
    output_dir: str = field(metadata=help_text("Where pi, reference/, prmkit.json, config and eval history are written."))
    use_lora: bool = field(default=False, metadata=help_text("Train LoRA adapters (peft) on pi instead of all weights; merged on save."))
    learning_rate: float = field(default=1e-5, metadata=help_text("Peak AdamW learning rate (linear warmup, linear decay)."))
    num_epochs: float = field(default=1.0, metadata=help_text("Epochs over the training split (ignored when max_steps > 0)."))
    eval_batch_size: int = field(default=16, metadata=help_text("Solutions per forward pass during validation and reference scoring."))
    seed: int = field(default=0, metadata=help_text("Seed for the split and shuffling."))
    # Own fields (appended after the shared ones):
    beta: float = field(default=0.05, metadata=help_text("Reward scale: r = beta * log(pi / pi_ref) summed over the response."))
    metric: str = field(default="auroc", metadata=help_text("Validation metric picking the best checkpoint: auroc, accuracy, step_auroc, f1, cum_step_auroc, cum_f1."))
    threshold: float = field(default=0.5, metadata=help_text("Score below this = predicted wrong (accuracy, first-error F1)."))

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"ImplicitTrainConfig.beta = {self.beta} must be > 0")
        if self.metric not in IMPLICIT_METRICS:
            raise ValueError(f"ImplicitTrainConfig.metric = {self.metric!r}; use one of {IMPLICIT_METRICS}")
        super().__post_init__()


def token_log_probs(model: Any, batch: dict[str, Any]) -> Any:
    """``log model(x_t | x_<t)`` for every token: (B, T) float32, 0 at t = 0 and on pads.

    Args:
        model: a causal LM.
        batch: ``input_ids``, ``attention_mask``, ``position_ids`` (B, T) from
            :func:`prmkit.train._data.pad_batch` (either padding side).
    """
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   position_ids=batch["position_ids"]).logits  # (B, T, V)
    picked = logits[:, :-1].float().log_softmax(-1).gather(-1, batch["input_ids"][:, 1:, None])[..., 0]  # (B, T-1)
    out = torch.zeros_like(batch["input_ids"], dtype=torch.float32)
    out[:, 1:] = picked * batch["attention_mask"][:, 1:]
    return out


def _encode(tokenizer: Any, record: LabelledSolution, where: str, max_length: int,
            need_outcome: bool) -> ImplicitEncodedItem:
    if need_outcome and record.solution.correct is None:
        raise FormatError(f"{where}: solution.correct is null; the implicit PRM trains on graded outcomes (True/False)")
    try:
        item = encode_implicit(tokenizer, record.problem.question, record.solution.steps)
    except ValueError as err:
        raise FormatError(f"{where}: {err}") from None
    if len(item.input_ids) > max_length:
        raise FormatError(f"{where}: {len(item.input_ids)} tokens > max_length {max_length}; raise max_length or drop it")
    return item


def _row(item: ImplicitEncodedItem, label: float) -> dict[str, Any]:
    mask = [0] * item.response_start + [1] * (len(item.input_ids) - item.response_start)
    return {"input_ids": item.input_ids, "response_mask": mask, "label": label}


def _response_log_probs(model: Any, items: Sequence[ImplicitEncodedItem], pad_id: int, batch_size: int,
                        padding_side: str) -> list[list[float]]:
    """Per response token ``log model(token | prefix)`` for each item (list of len(ids) - response_start)."""
    import torch

    from prmkit.train._data import pad_batch

    device = next(model.parameters()).device
    out: list[list[float]] = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            batch = pad_batch([{"input_ids": i.input_ids} for i in chunk], pad_id, padding_side)
            lp = token_log_probs(model, {k: v.to(device) for k, v in batch.items()}).cpu()
            for row, item in enumerate(chunk):
                offset = int(batch["offsets"][row])
                out.append(lp[row, offset + item.response_start : offset + len(item.input_ids)].tolist())
    model.train(was_training)
    return out


def _loss(model: Any, batch: dict[str, Any], beta: float) -> Any:
    import torch.nn.functional as F

    logp = (token_log_probs(model, batch) * batch["response_mask"]).sum(-1)  # (B,)
    reward = beta * (logp - batch["ref_logp"])  # (B,)
    return F.binary_cross_entropy_with_logits(reward, batch["label"].float())


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def step_rewards(item: ImplicitEncodedItem, policy_lp: Sequence[float], ref_lp: Sequence[float],
                 beta: float) -> list[float]:
    """Per-step implicit rewards ``beta * sum_{t in step k} (log pi - log pi_ref)`` for one item.

    Args:
        item: the encoded item (its ``step_spans`` locate each step's tokens).
        policy_lp / ref_lp: log-probabilities of the response tokens (``input_ids[response_start:]``)
            under pi and pi_ref.
        beta: the reward scale.
    """
    rewards = [beta * (p - q) for p, q in zip(policy_lp, ref_lp)]  # per response token
    return [sum(rewards[s - item.response_start : e - item.response_start]) for s, e in item.step_spans()]


def _metrics(records: Sequence[LabelledSolution], items: Sequence[ImplicitEncodedItem],
             policy_lp: Sequence[Sequence[float]], ref_lp: Sequence[Sequence[float]], beta: float,
             threshold: float) -> dict[str, float]:
    from prmkit.metrics import auroc
    from prmkit.train.prm import evaluate_step_scores

    outcome, step_scores, cum_scores = [], [], []
    for item, pol, ref in zip(items, policy_lp, ref_lp):
        per_step = step_rewards(item, pol, ref, beta)
        outcome.append(_sigmoid(sum(per_step)))
        step_scores.append([_sigmoid(v) for v in per_step])
        cum_scores.append([_sigmoid(sum(per_step[: k + 1])) for k in range(len(per_step))])
    graded = [(1.0 if r.solution.correct else 0.0, s) for r, s in zip(records, outcome) if r.solution.correct is not None]
    hits = [(s >= threshold) == (y >= 0.5) for y, s in graded]
    metrics: dict[str, float] = {
        "auroc": 100 * auroc([y for y, _ in graded], [s for _, s in graded]),  # percent, like every rate here
        "accuracy": 100 * sum(hits) / len(hits) if hits else math.nan,
        "n": len(records),
    }
    step = evaluate_step_scores(records, step_scores, threshold)
    cum = evaluate_step_scores(records, cum_scores, threshold)
    metrics.update({"step_auroc": step["step_auroc"], "f1": step["f1"],
                    "cum_step_auroc": cum["step_auroc"], "cum_f1": cum["f1"]})
    return metrics


def train_implicit(config: ImplicitTrainConfig) -> Path:
    """Train an implicit PRM (see the module docstring) and return its checkpoint directory.

    Raises:
        FileNotFoundError: ``train_file`` / ``val_file`` / ``base_model`` missing.
        prmkit.io._jsonl.FormatError: an ungraded training solution, an empty step or too many
            tokens (names the file and problem).
        ValueError: the training split holds only one outcome.
    """
    from rich.console import Console
    from transformers import AutoModelForCausalLM

    from prmkit.train._data import load_tokenizer, pad_batch
    from prmkit.train._loop import run_loop
    from prmkit.train._model import (
        add_lora,
        finish_run,
        history_writer,
        load_from_base,
        merge_lora,
        write_json,
    )

    console = Console(stderr=True)
    output_dir = Path(config.output_dir)
    resolve_inputs(config)  # paths, "demo", max_length: checked before anything loads
    train_records, val_records = load_train_val(config)
    tokenizer = load_tokenizer(config.base_model)
    train_items = [_encode(tokenizer, r, f"{config.train_file}: problem {r.problem.id!r}", config.max_length, True)
                   for r in train_records]
    val_items = [_encode(tokenizer, r, f"{config.val_file or config.train_file}: problem {r.problem.id!r}",
                         config.max_length, False) for r in val_records]
    labels = [1.0 if r.solution.correct else 0.0 for r in train_records]
    if len(set(labels)) < 2:
        raise ValueError(f"{config.train_file}: every training solution has the same outcome; the loss needs both")

    # The frozen reference: saved once next to pi, its log-probs computed once.
    reference = load_from_base(AutoModelForCausalLM, config.base_model)
    reference.save_pretrained(output_dir / "reference")
    tokenizer.save_pretrained(output_dir / "reference")
    console.print(f"scoring {len(train_items) + len(val_items)} solutions with the reference model")
    ref_train = _response_log_probs(reference, train_items, tokenizer.pad_token_id, config.eval_batch_size,
                                    config.padding_side)
    ref_val = _response_log_probs(reference, val_items, tokenizer.pad_token_id, config.eval_batch_size,
                                  config.padding_side)
    del reference
    rows = []
    for item, label, ref in zip(train_items, labels, ref_train):
        rows.append({**_row(item, label), "ref_logp": float(sum(ref))})

    model = load_from_base(AutoModelForCausalLM, config.base_model, seed=config.seed)  # seeds LoRA's init too
    if config.use_lora:
        model = add_lora(model, "CAUSAL_LM", config.lora_r, config.lora_alpha, config.lora_dropout,
                         config.lora_target_modules)
    n_fit = min(config.eval_train_examples, len(train_items))

    def evaluate(unwrapped: Any) -> dict[str, float]:
        metrics: dict[str, float] = {}
        sets = (("", val_records, val_items, ref_val),
                ("train_", train_records[:n_fit], train_items[:n_fit], ref_train[:n_fit]))
        for prefix, recs, items, ref in sets:
            if recs:
                pol = _response_log_probs(unwrapped, items, tokenizer.pad_token_id, config.eval_batch_size,
                                          config.padding_side)
                found = _metrics(recs, items, pol, ref, config.beta, config.threshold)
                metrics.update({prefix + k: v for k, v in found.items()})
        return metrics

    def save(unwrapped: Any) -> None:
        merge_lora(unwrapped).save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
        write_json(output_dir / "prmkit.json", {"family": "implicit", "beta": config.beta, "reference": "reference"})

    settings = loop_settings(config, has_val=bool(val_records))
    result = run_loop(
        model=model, train_rows=rows,
        collate=lambda batch: pad_batch(batch, tokenizer.pad_token_id, config.padding_side,
                                        pad_values={"response_mask": 0}),
        loss_fn=lambda m, batch: _loss(m, batch, config.beta),
        evaluate=evaluate if (val_records or n_fit) else None, save=save, settings=settings,
        description="train implicit prm",
        on_eval=history_writer(output_dir),
    )
    finish_run(output_dir, config, result, metric=settings.metric, n_train=len(train_records),
               n_val=len(val_records), what="implicit PRM", note=f"reference in {output_dir / 'reference'}; ")
    return output_dir
