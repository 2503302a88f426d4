"""Train an outcome reward model (ORM): one correct/incorrect score for a whole solution.

The baseline every PRM is compared against (Cobbe et al. 2021 verifiers; Lightman et al. 2023 ORM):
``AutoModelForSequenceClassification`` with **one** label, initialised from the base causal LM,
trained with binary cross-entropy against ``solution.correct``; P(correct) = sigmoid(logit).

Input layout: exactly :func:`prmkit.models.formats.token_cls.encode_token_cls` (question, then each
step + separator), the layout the ``orm`` scorer family uses; the sequence head reads the last
non-pad token, i.e. the separator after the final step.

Checkpoint (``output_dir``): a plain HF sequence-classification model with ``num_labels = 1``,
``id2label = {0: "correct"}``, ``config.step_separator`` and ``pad_token_id`` set, its tokenizer,
and ``prmkit.json`` = ``{"family": "orm", "num_labels": 1, "score": "sigmoid(logit)", ...}``;
``load_scorer("orm", path=output_dir)`` reads it (the last step gets the score).

Example::

    from prmkit.train.orm import ORMTrainConfig, train_orm
    train_orm(ORMTrainConfig(train_file="solutions.jsonl", base_model="policy/", output_dir="orm/"))
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
from prmkit.types import LabelledSolution

__all__ = ["ORM_METRICS", "ORMTrainConfig", "predict_outcome_scores", "train_orm"]

#: Validation metrics an ORM run can select its best checkpoint on (higher is better).
ORM_METRICS = ("auroc", "accuracy")


@dataclass
class ORMTrainConfig(TrainConfig):
    """Settings of :func:`train_orm` (the ``prmkit train orm`` flags are these fields).

    Raises (on construction):
        ValueError: unknown ``metric`` / ``padding_side`` or an out-of-range number (names the field).
    """

    # Shared fields (TrainConfig) whose help text or default differs here:
    train_file: str = field(metadata=help_text("JSONL of LabelledSolution records; solution.correct is the label."))
    # Own fields (appended after the shared ones):
    step_separator: str = field(default=DEFAULT_STEP_SEPARATOR, metadata=help_text("Text appended to every step (same layout as token-cls)."))
    metric: str = field(default="auroc", metadata=help_text("Validation metric that picks the best checkpoint: auroc or accuracy."))
    threshold: float = field(default=0.5, metadata=help_text("P(correct) at or above this predicts a correct solution (accuracy)."))

    def __post_init__(self) -> None:
        if self.metric not in ORM_METRICS:
            raise ValueError(f"ORMTrainConfig.metric = {self.metric!r}; use one of {ORM_METRICS}")
        super().__post_init__()
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"ORMTrainConfig.threshold = {self.threshold} must be in (0, 1)")


def _encode_record(tokenizer: Any, record: LabelledSolution, where: str, config: ORMTrainConfig) -> dict[str, Any]:
    """One row: ``input_ids`` plus the scalar ``label`` (1.0 correct, 0.0 incorrect)."""
    if record.solution.correct is None:
        raise FormatError(f"{where}: solution.correct is null; an ORM needs each solution graded (True/False)")
    try:
        encoded = encode_token_cls(tokenizer, record.problem.question, record.solution.steps, config.step_separator)
    except ValueError as err:
        raise FormatError(f"{where}: {err}") from None
    if len(encoded.input_ids) > config.max_length:
        raise FormatError(
            f"{where}: {len(encoded.input_ids)} tokens > max_length {config.max_length}; raise max_length or drop the record"
        )
    return {"input_ids": encoded.input_ids, "label": 1.0 if record.solution.correct else 0.0}


def _logits(model: Any, batch: dict[str, Any]) -> Any:
    """(B,) outcome logits; the head reads each row's last non-pad token."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                position_ids=batch["position_ids"])
    return out.logits[:, 0].float()


def _loss(model: Any, batch: dict[str, Any]) -> Any:
    import torch.nn.functional as F

    return F.binary_cross_entropy_with_logits(_logits(model, batch), batch["label"].float())


def predict_outcome_scores(
    model: Any,
    tokenizer: Any,
    items: Sequence[tuple[str, Sequence[str]]],
    *,
    separator: str = DEFAULT_STEP_SEPARATOR,
    batch_size: int = 16,
    padding_side: str = "right",
) -> list[float]:
    """P(solution correct) = sigmoid(logit) for each ``(question, steps)`` item, in input order."""
    import torch

    from prmkit.train._data import pad_batch

    device = next(model.parameters()).device
    ids = [encode_token_cls(tokenizer, q, steps, separator).input_ids for q, steps in items]
    scores: list[float] = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            batch = pad_batch([{"input_ids": x} for x in ids[start : start + batch_size]], tokenizer.pad_token_id,
                              padding_side)
            batch = {k: v.to(device) for k, v in batch.items()}
            scores.extend(float(p) for p in torch.sigmoid(_logits(model, batch)))
    model.train(was_training)
    return scores


def _metrics(records: Sequence[LabelledSolution], scores: Sequence[float], threshold: float) -> dict[str, float]:
    from prmkit.metrics import auroc

    labels = [1.0 if r.solution.correct else 0.0 for r in records]
    hits = [(s >= threshold) == (y >= 0.5) for y, s in zip(labels, scores)]
    return {"auroc": 100 * auroc(labels, scores), "accuracy": 100 * sum(hits) / len(hits) if hits else math.nan,
            "n": len(records)}  # percent, like every rate in eval_history.json


def _save(model: Any, tokenizer: Any, output_dir: Path, config: ORMTrainConfig) -> None:
    from prmkit.train._model import merge_lora, write_json

    plain = merge_lora(model)
    plain.config.step_separator = config.step_separator
    plain.config.id2label = {0: "correct"}
    plain.config.label2id = {"correct": 0}
    plain.config.pad_token_id = tokenizer.pad_token_id
    plain.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    write_json(output_dir / "prmkit.json", {
        "family": "orm", "num_labels": 1, "step_separator": config.step_separator,
        "score": "sigmoid(logit) of the sequence head at the last token (encode_token_cls layout)",
    })


def train_orm(config: ORMTrainConfig) -> Path:
    """Train an ORM (see the module docstring) and return its checkpoint directory.

    Raises:
        FileNotFoundError: ``train_file`` / ``val_file`` / ``base_model`` missing.
        prmkit.io._jsonl.FormatError: an ungraded solution, an empty step or too many tokens
            (names the file and problem).
        ValueError: the base model's body did not load into the sequence-classification class,
            or the training split holds only one outcome.
    """
    from transformers import AutoModelForSequenceClassification

    from prmkit.train._head import train_head_model

    def check_rows(rows: list[dict[str, Any]]) -> None:
        if len({row["label"] for row in rows}) < 2:
            raise ValueError(f"{config.train_file}: every training solution has the same outcome; an ORM needs both")

    return train_head_model(
        config, auto_class=AutoModelForSequenceClassification, num_labels=1, lora_task="SEQ_CLS",
        encode=lambda tokenizer, record, where: _encode_record(tokenizer, record, where, config),
        check_rows=check_rows, loss_fn=_loss, predict=predict_outcome_scores, metrics=_metrics,
        save=lambda model, tokenizer, output_dir: _save(model, tokenizer, output_dir, config),
        what="ORM",
    )
