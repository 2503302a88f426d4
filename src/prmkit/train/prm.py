"""Train a token-classification PRM: a 2-class head read at the last token of every step.

The recipe (what TRL's removed ``PRMTrainer`` did, plus soft labels, validation and best-checkpoint
selection):

1. Read ``LabelledSolution`` JSONL (steps + per-step labels in [0, 1], ``None`` = ignored); hold out
   ``val_fraction`` of the problems unless ``val_file`` is given.
2. Tokenize with :func:`prmkit.models.formats.token_cls.encode_token_cls` — the exact format the
   ``token-cls`` scorer reads — and put each step's label on its last token (the separator),
   ``-100`` everywhere else (reference: TRL ``PRMTrainer.tokenize_row``).
3. Initialise ``AutoModelForTokenClassification(num_labels=2)`` from the base causal LM (body
   weights checked), optionally wrapped with LoRA.
4. Loss: ``"hard"`` labels = cross-entropy against ``label >= 0.5``; ``"soft"`` labels = binary
   cross-entropy of ``sigmoid(logit_1 - logit_0)`` (= softmax class 1) against the label itself,
   e.g. a Math-Shepherd MC fraction or PAV's ``(1 + A) / 2`` advantage target; ``"value"`` = mean
   squared error of that probability against the label (value regression, the loss ReST-MCTS*
   trains its value model with on ``rest-mcts`` targets).
5. Every ``eval_every`` steps: step AUROC, step accuracy and ProcessBench-style first-error F1 on
   the validation split (and on a slice of the training split, to catch a model that cannot even
   fit its training data); the best checkpoint by ``metric`` is kept.

The checkpoint in ``output_dir`` is a plain Hugging Face token-classification model with its
tokenizer; ``config.step_separator`` holds the separator, ``prmkit.json`` says how to read it, and
``load_scorer("token-cls", path=output_dir)`` scores with it: P(step k correct) = softmax(logits)[1]
at step k's last token.

Example (CPU, seconds on a tiny model)::

    from prmkit.train.prm import PRMTrainConfig, train_prm
    path = train_prm(PRMTrainConfig(train_file="labels.jsonl", base_model="policy/", output_dir="prm/"))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prmkit.io._jsonl import FormatError
from prmkit.models.formats.token_cls import DEFAULT_STEP_SEPARATOR, encode_token_cls
from prmkit.train._config import TrainConfig, help_text
from prmkit.types import LabelledSolution, first_error_from_labels

__all__ = [
    "LABEL_MODES", "PRM_METRICS", "PRMTrainConfig", "evaluate_step_scores", "predict_step_scores", "save_token_cls", "train_prm",
]

LABEL_MODES = ("hard", "soft", "value")
#: Validation metrics a PRM run can select its best checkpoint on (all: higher is better).
PRM_METRICS = ("f1", "step_auroc", "step_acc")


@dataclass
class PRMTrainConfig(TrainConfig):
    """Settings of :func:`train_prm` (the ``prmkit train prm`` flags are these fields).

    Raises (on construction):
        ValueError: an unknown ``label_mode`` / ``metric`` / ``padding_side`` or an out-of-range
            number; the message names the field and the accepted values.
    """

    # Shared fields (TrainConfig) whose help text or default differs here:
    train_file: str = field(metadata=help_text("JSONL of LabelledSolution records with per-step labels, or a `prmkit annotate` output folder."))
    # Own fields (appended after the shared ones):
    label_mode: str = field(default="hard", metadata=help_text("'hard': cross-entropy on label >= 0.5; 'soft': BCE against the label (MC fraction); 'value': MSE of P(correct) against the label (value targets)."))
    step_separator: str = field(default=DEFAULT_STEP_SEPARATOR, metadata=help_text("Text appended to every step; the label sits on its last token."))
    metric: str = field(default="f1", metadata=help_text("Validation metric that picks the best checkpoint: f1, step_auroc or step_acc."))
    threshold: float = field(default=0.5, metadata=help_text("A step scoring below this is predicted wrong (first-error F1, step accuracy)."))

    def __post_init__(self) -> None:
        if self.label_mode not in LABEL_MODES:
            raise ValueError(f"PRMTrainConfig.label_mode = {self.label_mode!r}; use one of {LABEL_MODES}")
        if self.metric not in PRM_METRICS:
            raise ValueError(f"PRMTrainConfig.metric = {self.metric!r}; use one of {PRM_METRICS}")
        super().__post_init__()
        if not self.step_separator:
            raise ValueError("PRMTrainConfig.step_separator is empty; the label needs a token to sit on (e.g. '\\n')")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"PRMTrainConfig.threshold = {self.threshold} must be in (0, 1)")


def _encode_record(
    tokenizer: Any, record: LabelledSolution, where: str, config: PRMTrainConfig
) -> dict[str, list[Any]]:
    """One training row: ``input_ids`` and per-token ``labels`` (label at step ends, -100 elsewhere)."""
    if record.labels is None:
        raise FormatError(f"{where}: record has no 'labels'; a PRM needs per-step labels (annotate it first)")
    steps, labels = record.solution.steps, record.labels.labels
    if len(labels) != len(steps):
        raise FormatError(f"{where}: {len(labels)} labels for {len(steps)} steps; give exactly one label per step")
    try:
        encoded = encode_token_cls(tokenizer, record.problem.question, steps, config.step_separator)
    except ValueError as err:
        raise FormatError(f"{where}: {err}") from None
    if len(encoded.input_ids) > config.max_length:
        raise FormatError(
            f"{where}: {len(encoded.input_ids)} tokens > max_length {config.max_length}; raise max_length or drop the record"
        )
    token_labels: list[Any] = [-100] * len(encoded.input_ids)
    for position, label in zip(encoded.step_positions, labels):
        if label is None:
            continue
        token_labels[position] = int(label >= 0.5) if config.label_mode == "hard" else float(label)
    return {"input_ids": encoded.input_ids, "labels": token_labels}


def _forward_logits(model: Any, batch: dict[str, Any]) -> Any:
    """Token logits (B, T, 2); positions come from the mask so padding side does not matter."""
    return model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], position_ids=batch["position_ids"]
    ).logits


def _loss(model: Any, batch: dict[str, Any], label_mode: str) -> Any:
    import torch.nn.functional as F

    logits = _forward_logits(model, batch).float()  # (B, T, 2)
    labels = batch["labels"]  # (B, T)
    mask = labels != -100
    if label_mode == "hard":
        return F.cross_entropy(logits[mask], labels[mask].long())
    margin = logits[..., 1] - logits[..., 0]  # (B, T): log-odds of "correct"
    if label_mode == "value":
        return F.mse_loss(margin[mask].sigmoid(), labels[mask].float())
    return F.binary_cross_entropy_with_logits(margin[mask], labels[mask].float())


def predict_step_scores(
    model: Any,
    tokenizer: Any,
    items: Sequence[tuple[str, Sequence[str]]],
    *,
    separator: str = DEFAULT_STEP_SEPARATOR,
    batch_size: int = 16,
    padding_side: str = "right",
) -> list[list[float]]:
    """P(step correct) = softmax(logits)[1] at each step's last token, for a token-cls model.

    The trainer's own reading of its model (validation uses it); the ``token-cls`` scorer must give
    the same numbers from the saved checkpoint.

    Args:
        model: a token-classification model with 2 labels (already on its device, any mode).
        tokenizer: its tokenizer (``pad_token_id`` set).
        items: ``(question, steps)`` pairs.
        separator: the step separator the model was trained with.
        batch_size: items per forward pass.
        padding_side: ``"right"`` or ``"left"``; the scores do not depend on it.

    Returns:
        One list of floats in [0, 1] per item, one per step, in input order.
    """
    from prmkit.train._data import read_at_positions

    encoded = [encode_token_cls(tokenizer, question, steps, separator) for question, steps in items]
    return read_at_positions(model, encoded, lambda m, batch: _forward_logits(m, batch).float().softmax(-1)[..., 1],
                             tokenizer.pad_token_id, batch_size, padding_side)


def evaluate_step_scores(
    records: Sequence[LabelledSolution], scores: Sequence[Sequence[float]], threshold: float = 0.5
) -> dict[str, float]:
    """Step AUROC, step accuracy and ProcessBench first-error F1 of ``scores`` against the records' labels.

    The gold first error is ``labels.first_error`` when given, else the first label below 0.5
    (records whose first error is unknown are left out of F1).

    Returns:
        ``{"step_auroc", "step_acc", "f1", "error_acc", "correct_acc", "n"}``, every rate in percent
        (as ProcessBench's F1 is), ``nan`` where undefined.
    """
    from prmkit.metrics import auroc, first_error_prediction, processbench_f1

    flat_labels: list[float] = []
    flat_scores: list[float] = []
    gold, predicted = [], []
    for record, item_scores in zip(records, scores):
        labels = record.labels.labels if record.labels is not None else [None] * len(item_scores)
        for label, score in zip(labels, item_scores):
            if label is not None:
                flat_labels.append(label)
                flat_scores.append(score)
        first = record.labels.first_error if record.labels is not None else None
        if first is None and record.labels is not None:
            first = first_error_from_labels(list(labels))
        if first is not None:
            gold.append(first)
            predicted.append(first_error_prediction(item_scores, threshold))
    hits = [(s >= threshold) == (y >= 0.5) for y, s in zip(flat_labels, flat_scores)]
    result = {
        "step_auroc": 100 * auroc(flat_labels, flat_scores),
        "step_acc": 100 * sum(hits) / len(hits) if hits else math.nan,
        **processbench_f1(gold, predicted),
        "n": len(records),
    }
    return result


def save_token_cls(model: Any, tokenizer: Any, output_dir: Path, step_separator: str, label_mode: str) -> None:
    """Write a plain token-cls checkpoint the ``token-cls`` scorer reads (LoRA merged, ``prmkit.json`` beside it)."""
    from prmkit.train._model import merge_lora, write_json

    plain = merge_lora(model)
    plain.config.step_separator = step_separator
    plain.config.id2label = {0: "incorrect", 1: "correct"}
    plain.config.label2id = {"incorrect": 0, "correct": 1}
    plain.config.pad_token_id = tokenizer.pad_token_id
    plain.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    write_json(
        output_dir / "prmkit.json",
        {
            "family": "token-cls",
            "step_separator": step_separator,
            "label_mode": label_mode,
            "score": "softmax(logits)[1] at the last token of each step (encode_token_cls layout)",
        },
    )


def train_prm(config: PRMTrainConfig) -> Path:
    """Train a token-classification PRM (see the module docstring) and return its checkpoint dir.

    Raises:
        FileNotFoundError: ``train_file`` / ``val_file`` / ``base_model`` missing.
        prmkit.io._jsonl.FormatError: a record without labels, with a label count that does not
            match its steps, an empty step or too many tokens (names file, line and fix).
        ValueError: the base model's body did not load into the token-classification class.
    """
    from transformers import AutoModelForTokenClassification

    from prmkit.train._head import train_head_model

    def check_rows(rows: list[dict[str, Any]]) -> None:
        if not any(label != -100 for row in rows for label in row["labels"]):
            raise FormatError(f"{config.train_file}: no step has a known label; nothing to train on")

    return train_head_model(
        config, auto_class=AutoModelForTokenClassification, num_labels=2, lora_task="TOKEN_CLS",
        encode=lambda tokenizer, record, where: _encode_record(tokenizer, record, where, config),
        check_rows=check_rows,
        loss_fn=lambda model, batch: _loss(model, batch, config.label_mode),
        predict=predict_step_scores, metrics=evaluate_step_scores,
        save=lambda model, tokenizer, output_dir: save_token_cls(model, tokenizer, output_dir, config.step_separator,
                                                                 config.label_mode),
        what="PRM",
    )
