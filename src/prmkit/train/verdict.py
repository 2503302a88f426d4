"""Train a generative verdict PRM: a causal LM that writes "+"/"-" after a tag behind every step.

The recipe (GenRM-style verification as next-token prediction, Zhang et al. 2024, on prmkit's own
layout :func:`prmkit.models.formats.verdict.encode_verdict`):

1. Read ``LabelledSolution`` JSONL (steps + per-step labels, ``None`` = unknown); hold out
   ``val_fraction`` of the problems unless ``val_file`` is given.
2. Encode each record with the verdict layout, teacher-forcing the labels' verdicts (``+`` where
   label >= 0.5, else ``-``) and **truncating after the first wrong step's verdict**: once a step is
   wrong, later steps have no well-defined verdict (ProcessBench semantics), and the scorer always
   feeds a ``+`` context, so the model only ever learns verdicts behind a correct prefix.
3. Labels use the *shifted* convention: ``labels[t]`` is the token predicted from the logits at
   position ``t`` (so the verdict sits at the tag's own index, the position the scorer reads). A
   step with an unknown label gets a ``+`` in the context and no verdict loss.
4. Loss = mean cross-entropy over the verdict positions (full vocabulary softmax, so the model keeps
   writing "+"/"-" after a tag as text) ``+ lm_weight *`` mean cross-entropy over the text tokens
   of the steps labelled correct (each predicted from the token before it; the tag, verdict and
   newline are not LM targets; wrong steps never are, so the LM term never teaches errors). With
   ``lm_weight = 0`` (default) only verdicts are trained.
5. Every ``eval_every`` steps: the scorer's own reading (P("+") vs P("-") softmax at each tag, all-"+"
   context) on the validation split, ProcessBench-style first-error F1, step AUROC and step
   accuracy; the best checkpoint by ``metric`` is kept.

The checkpoint in ``output_dir`` is a plain Hugging Face causal LM with its tokenizer and
``prmkit.json`` = ``{"family": "verdict", ...}``; ``load_scorer("verdict", path=output_dir)`` scores
with it.

Example (CPU, seconds on a tiny model)::

    from prmkit.train.verdict import VerdictTrainConfig, train_verdict
    path = train_verdict(VerdictTrainConfig(train_file="labels.jsonl", base_model="policy/", output_dir="vprm/"))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prmkit.io._jsonl import FormatError
from prmkit.models.formats.verdict import NEGATIVE, POSITIVE, encode_verdict, verdict_token_ids
from prmkit.train._config import TrainConfig, help_text, load_train_val, loop_settings, resolve_inputs
from prmkit.types import LabelledSolution

__all__ = [
    "VERDICT_METRICS",
    "VerdictTrainConfig",
    "encode_verdict_example",
    "predict_verdict_scores",
    "train_verdict",
]

#: Validation metrics a verdict run can select its best checkpoint on (higher is better).
VERDICT_METRICS = ("f1", "step_auroc", "step_acc")
_IGNORE = -100


@dataclass
class VerdictTrainConfig(TrainConfig):
    """Settings of :func:`train_verdict` (the ``prmkit train verdict`` flags are these fields).

    Raises (on construction):
        ValueError: negative ``lm_weight``, an unknown ``metric`` / ``padding_side``, a threshold
            outside (0, 1) or an out-of-range number (names the field).
    """

    # Shared fields (TrainConfig) whose help text or default differs here:
    train_file: str = field(metadata=help_text("JSONL of LabelledSolution records with per-step labels, or a `prmkit annotate` output folder."))
    base_model: str = field(metadata=help_text("Hugging Face causal-LM checkpoint to fine-tune into a verdict PRM (e.g. the policy)."))
    output_dir: str = field(metadata=help_text("Where the verdict LM, prmkit.json, config and eval history are written."))
    use_lora: bool = field(default=False, metadata=help_text("Train LoRA adapters (peft) on the LM instead of all weights; merged on save."))
    # Own fields (appended after the shared ones):
    lm_weight: float = field(default=0.0, metadata=help_text("Weight of the LM loss on the text of correct steps (0 = verdict loss only)."))
    metric: str = field(default="f1", metadata=help_text("Validation metric that picks the best checkpoint: f1, step_auroc or step_acc."))
    threshold: float = field(default=0.5, metadata=help_text("P(+) below this = step predicted wrong (first-error F1, step accuracy)."))

    def __post_init__(self) -> None:
        if self.lm_weight < 0:
            raise ValueError(f"VerdictTrainConfig.lm_weight = {self.lm_weight} must be >= 0")
        if self.metric not in VERDICT_METRICS:
            raise ValueError(f"VerdictTrainConfig.metric = {self.metric!r}; use one of {VERDICT_METRICS}")
        super().__post_init__()
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"VerdictTrainConfig.threshold = {self.threshold} must be in (0, 1)")


def encode_verdict_example(tokenizer: Any, record: LabelledSolution, lm_weight: float = 0.0) -> dict[str, list[int]]:
    """One training row: ``input_ids``, shifted ``labels`` and ``lm_mask`` (see the module docstring).

    Args:
        tokenizer: the base model's tokenizer (single-token "?", "+", "-").
        record: a labelled solution; ``record.labels.labels[k]`` >= 0.5 means step k is correct.
        lm_weight: > 0 adds LM targets on the text tokens of correct steps.

    Returns:
        ``{"input_ids", "labels", "lm_mask"}`` of equal length. ``labels[t]`` is -100 except the verdict
        id at each tag position with a known label and, when ``lm_weight > 0``, the next token where
        ``lm_mask[t] == 1``.

    Raises:
        ValueError: no labels, a label count that differs from the step count, or an unencodable step.

    Example (character tokenizer with BOS; question "Q", steps ["ab", "c", "d"], labels [1, 0, 1]):
        input_ids = [BOS, Q, \\n, a, b, ?, +, \\n, c, ?, -]        (step "d" dropped after the first error)
        labels    = [-100] * 5 + [id("+")] + [-100] * 3 + [id("-"), -100]
        with lm_weight > 0 also labels[2] = id("a"), labels[3] = id("b") and lm_mask 1 there.
    """
    if record.labels is None:
        raise ValueError("record has no 'labels'; a verdict PRM needs per-step labels (annotate it first)")
    steps, labels = list(record.solution.steps), list(record.labels.labels)
    if len(labels) != len(steps):
        raise ValueError(f"{len(labels)} labels for {len(steps)} steps; give exactly one label per step")
    first_wrong = next((k for k, y in enumerate(labels) if y is not None and y < 0.5), None)
    kept = len(steps) if first_wrong is None else first_wrong + 1
    verdicts = [NEGATIVE if k == first_wrong else POSITIVE for k in range(kept)]
    item = encode_verdict(tokenizer, record.problem.question, steps[:kept], verdicts)
    ids = list(item.input_ids)
    if first_wrong is not None:
        ids = ids[: item.step_positions[-1] + 2]  # end right after the wrong step's verdict
    good, bad = verdict_token_ids(tokenizer)
    token_labels = [_IGNORE] * len(ids)
    lm_mask = [0] * len(ids)
    for k, position in enumerate(item.step_positions):
        if labels[k] is not None:
            token_labels[position] = good if labels[k] >= 0.5 else bad
        if lm_weight > 0 and labels[k] is not None and labels[k] >= 0.5:
            for t in range(item.step_starts[k], position):  # step k's text, each token predicted from t - 1
                token_labels[t - 1] = ids[t]
                lm_mask[t - 1] = 1
    return {"input_ids": ids, "labels": token_labels, "lm_mask": lm_mask}



def _loss(model: Any, batch: dict[str, Any], lm_weight: float) -> Any:
    """Mean CE over verdict positions + ``lm_weight`` * mean CE over LM positions (shifted labels)."""
    import torch.nn.functional as F

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   position_ids=batch["position_ids"]).logits.float()  # (B, T, V)
    labels, lm_mask = batch["labels"], batch["lm_mask"].bool()  # (B, T)
    verdict = (labels != _IGNORE) & ~lm_mask
    # a batch whose steps all have unknown labels has no verdict target: it contributes 0, not NaN
    loss = F.cross_entropy(logits[verdict], labels[verdict]) if verdict.any() else logits.sum() * 0.0
    if lm_weight > 0 and lm_mask.any():
        loss = loss + lm_weight * F.cross_entropy(logits[lm_mask], labels[lm_mask])
    return loss


def predict_verdict_scores(model: Any, tokenizer: Any, items: Sequence[tuple[str, Sequence[str]]], *,
                           batch_size: int = 16, padding_side: str = "right") -> list[list[float]]:
    """P(step correct) = softmax(logit "+", logit "-")[0] at each tag, all-"+" context, for a causal LM.

    The trainer's own reading of its model (validation uses it); ``load_scorer("verdict", ...)`` must
    give the same numbers from the saved checkpoint.

    Returns:
        One list of floats in [0, 1] per item, one per step, in input order.
    """
    from prmkit.train._data import read_at_positions

    good, bad = verdict_token_ids(tokenizer)

    def read(m: Any, batch: dict[str, Any]) -> Any:
        logits = m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   position_ids=batch["position_ids"]).logits[..., [good, bad]].float()  # (B, T, 2)
        return logits.softmax(-1)[..., 0]  # (B, T)

    encoded = [encode_verdict(tokenizer, question, list(steps)) for question, steps in items]
    return read_at_positions(model, encoded, read, tokenizer.pad_token_id, batch_size, padding_side)


def _rows(tokenizer: Any, records: Sequence[LabelledSolution], where: str, config: VerdictTrainConfig,
          ) -> list[dict[str, list[int]]]:
    rows = []
    for record in records:
        place = f"{where}: problem {record.problem.id!r}"
        try:
            row = encode_verdict_example(tokenizer, record, config.lm_weight)
        except ValueError as err:
            raise FormatError(f"{place}: {err}") from None
        if len(row["input_ids"]) > config.max_length:
            raise FormatError(f"{place}: {len(row['input_ids'])} tokens > max_length {config.max_length}; "
                              "raise max_length or drop the record")
        rows.append(row)
    return rows


def train_verdict(config: VerdictTrainConfig) -> Path:
    """Fine-tune ``config.base_model`` into a verdict PRM (see the module docstring); return its dir.

    Raises:
        FileNotFoundError: ``train_file`` / ``val_file`` / ``base_model`` missing.
        prmkit.io._jsonl.FormatError: a record without labels, a label count that does not match its
            steps, an empty step or too many tokens (names file and problem).
        ValueError: the tokenizer splits "?", "+" or "-" into several tokens, or the body did not load.
    """
    from transformers import AutoModelForCausalLM

    from prmkit.models.formats.verdict import check_verdict_tokenizer
    from prmkit.train._data import load_tokenizer, pad_batch
    from prmkit.train._loop import run_loop
    from prmkit.train._model import add_lora, finish_run, history_writer, load_from_base, merge_lora, write_json
    from prmkit.train.prm import evaluate_step_scores

    resolve_inputs(config)  # paths, "demo", max_length: checked before anything loads
    output_dir = Path(config.output_dir)
    train_records, val_records = load_train_val(config)
    tokenizer = load_tokenizer(config.base_model)
    check_verdict_tokenizer(tokenizer)
    rows = _rows(tokenizer, train_records, config.train_file, config)
    if not any(label != _IGNORE for row in rows for label in row["labels"]):
        raise FormatError(f"{config.train_file}: no step has a known label; nothing to train on")
    _rows(tokenizer, val_records, config.val_file or config.train_file, config)  # fail before training

    model = load_from_base(AutoModelForCausalLM, config.base_model, seed=config.seed)
    if config.use_lora:
        model = add_lora(model, "CAUSAL_LM", config.lora_r, config.lora_alpha, config.lora_dropout,
                         config.lora_target_modules)
    fit_records = train_records[: config.eval_train_examples]

    def evaluate(unwrapped: Any) -> dict[str, float]:
        found: dict[str, float] = {}
        for prefix, subset in (("", val_records), ("train_", fit_records)):
            if subset:
                items = [(r.problem.question, r.solution.steps) for r in subset]
                scores = predict_verdict_scores(unwrapped, tokenizer, items, batch_size=config.eval_batch_size,
                                                padding_side=config.padding_side)
                metrics = evaluate_step_scores(subset, scores, config.threshold)
                found.update({prefix + k: v for k, v in metrics.items()})
        return found

    def save(unwrapped: Any) -> None:
        merge_lora(unwrapped).save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
        write_json(output_dir / "prmkit.json", {
            "family": "verdict", "lm_weight": config.lm_weight,
            "score": "softmax(logit '+', logit '-')[0] at each '?' tag (encode_verdict layout, all-'+' context)",
        })

    settings = loop_settings(config, has_val=bool(val_records))
    result = run_loop(
        model=model, train_rows=rows,
        collate=lambda batch: pad_batch(batch, tokenizer.pad_token_id, config.padding_side, pad_values={"lm_mask": 0}),
        loss_fn=lambda m, batch: _loss(m, batch, config.lm_weight),
        evaluate=evaluate if (val_records or fit_records) else None, save=save, settings=settings,
        description="train verdict prm", on_eval=history_writer(output_dir),
    )
    finish_run(output_dir, config, result, metric=settings.metric, n_train=len(train_records),
               n_val=len(val_records), what="verdict PRM")
    return output_dir
