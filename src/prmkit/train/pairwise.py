"""Train a PRM on step preference pairs with the Bradley-Terry loss (rStar-Math's process preference model).

Reference: Guan et al. 2025, "rStar-Math" (arXiv 2501.04519), §3.3: instead of regressing noisy
Q-values, the PPM learns from pairs ``(x, y_pos, y_neg)`` that share their preceding steps, with

    L = -log sigmoid(r(x, y_pos) - r(x, y_neg))

(Bradley-Terry; Ouyang et al. 2022's reward-model loss applied to steps). The recipe:

1. Read :class:`~prmkit.types.StepPair` JSONL (``prmkit annotate ppm-pairs`` output folder or
   file); hold out ``val_fraction`` of the problems (all their pairs) unless ``val_file`` is given.
2. Encode both sides with :func:`prmkit.models.formats.token_cls.encode_token_cls` (question,
   ``prefix + chosen`` / ``prefix + rejected``): the exact layout the ``token-cls`` scorer reads.
3. The model is a 2-class token-classification head on the base causal LM (as ``prmkit train prm``);
   the reward of a sequence is the head's margin ``r = logit_1 - logit_0`` at the last token of its
   last step, so the scorer's ``softmax(logits)[1] = sigmoid(r)`` is a monotone function of it.
4. Every ``eval_every`` steps: pair accuracy (share of held-out pairs with ``r(chosen) >
   r(rejected)``, in percent) and, with ``step_val_file`` (step-labelled ``LabelledSolution``
   records), the ProcessBench-style F1 / step AUROC of the token-cls scores; the best checkpoint
   by ``metric`` is kept.

The checkpoint is a plain token-cls PRM: ``load_scorer("token-cls", path=output_dir)`` scores with
it. Bradley-Terry fixes differences of rewards only, so ``sigmoid(r)`` ranks steps and solutions
(search, best-of-N) but is not a calibrated P(correct); pick a threshold on ``step_val_file``.

Example (CPU, seconds on a tiny model)::

    from prmkit.train.pairwise import PairwiseTrainConfig, train_pairwise
    path = train_pairwise(PairwiseTrainConfig(train_file="labels/pairs", base_model="demo", output_dir="ppm/"))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from prmkit._errors import InputError
from prmkit.io._jsonl import FormatError
from prmkit.models.formats.token_cls import DEFAULT_STEP_SEPARATOR, encode_token_cls
from prmkit.train._config import TrainConfig, help_text
from prmkit.train._data import read_records
from prmkit.types import StepPair

__all__ = ["PAIRWISE_METRICS", "PairwiseTrainConfig", "load_pairs", "pair_accuracy", "train_pairwise"]

#: Validation metrics a pairwise run can select its best checkpoint on (higher is better).
PAIRWISE_METRICS = ("pair_acc", "f1", "step_auroc")


@dataclass
class PairwiseTrainConfig(TrainConfig):
    """Settings of :func:`train_pairwise` (the ``prmkit train pairwise`` flags are these fields).

    Raises (on construction):
        ValueError: an unknown ``metric``, ``f1`` / ``step_auroc`` without ``step_val_file``, an
            empty ``step_separator`` or a ``threshold`` outside (0, 1).
    """

    record_type: ClassVar[str] = "StepPair"
    train_file: str = field(
        metadata=help_text("JSONL of StepPair records, or a `prmkit annotate ppm-pairs` output folder.")
    )
    val_file: str | None = field(
        default=None,
        metadata=help_text("Validation StepPair JSONL (or folder); default: hold out val_fraction of the problems."),
    )
    step_val_file: str | None = field(
        default=None,
        metadata=help_text("Step-labelled LabelledSolution JSONL (or folder) for F1 / step AUROC at each validation."),
    )
    step_separator: str = field(
        default=DEFAULT_STEP_SEPARATOR,
        metadata=help_text("Text appended to every step; the reward is read at the last step's last token."),
    )
    metric: str = field(
        default="pair_acc",
        metadata=help_text(
            "Validation metric that picks the best checkpoint: pair_acc, f1 or step_auroc (those two need step_val_file)."
        ),
    )
    threshold: float = field(
        default=0.5, metadata=help_text("A step scoring below this is predicted wrong (F1 on step_val_file).")
    )

    def __post_init__(self) -> None:
        if self.metric not in PAIRWISE_METRICS:
            raise ValueError(f"PairwiseTrainConfig.metric = {self.metric!r}; use one of {PAIRWISE_METRICS}")
        if self.metric != "pair_acc" and not self.step_val_file:
            raise ValueError(
                f"PairwiseTrainConfig.metric = {self.metric!r} needs step_val_file (step-labelled records)"
            )
        super().__post_init__()
        if not self.step_separator:
            raise ValueError(
                "PairwiseTrainConfig.step_separator is empty; the reward needs a token to sit on (e.g. '\\n')"
            )
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"PairwiseTrainConfig.threshold = {self.threshold} must be in (0, 1)")


def load_pairs(path: str | os.PathLike[str]) -> list[StepPair]:
    """Read :class:`StepPair` records from a JSONL file or a folder (an annotate output's shards in order).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        FormatError: a line that is not a StepPair (names file and line), or no pair at all.
    """
    return read_records(
        path, StepPair.from_dict, "a StepPair",
        "{'problem': {...}, 'prefix': [...], 'chosen': [...], 'rejected': [...], 'q_chosen', 'q_rejected'}",
        "no StepPair records (a `prmkit annotate ppm-pairs` tree with a right and a wrong solution gives some); "
        "nothing to train on",
    )


def _split(pairs: Sequence[StepPair], fraction: float, seed: int) -> tuple[list[StepPair], list[StepPair]]:
    import random

    ids = sorted({p.problem.id for p in pairs})
    random.Random(seed).shuffle(ids)
    n_val = max(1, round(len(ids) * fraction)) if fraction > 0 and len(ids) > 1 else 0
    if n_val >= len(ids) and fraction > 0:
        raise ValueError(f"val_fraction = {fraction} leaves no training problem out of {len(ids)}; lower it")
    held = set(ids[:n_val])
    return [p for p in pairs if p.problem.id not in held], [p for p in pairs if p.problem.id in held]


def _encode_side(
    tokenizer: Any, pair: StepPair, side: list[str], where: str, config: PairwiseTrainConfig
) -> tuple[list[int], int]:
    try:
        encoded = encode_token_cls(tokenizer, pair.problem.question, [*pair.prefix, *side], config.step_separator)
    except ValueError as err:
        raise FormatError(f"{where}: {err}") from None
    if len(encoded.input_ids) > config.max_length:  # type: ignore[operator]
        raise FormatError(
            f"{where}: {len(encoded.input_ids)} tokens > max_length {config.max_length}; raise max_length or drop the pair"
        )
    return encoded.input_ids, encoded.step_positions[-1]


def _encode(tokenizer: Any, pair: StepPair, where: str, config: PairwiseTrainConfig) -> dict[str, Any]:
    chosen, chosen_at = _encode_side(tokenizer, pair, pair.chosen, where, config)
    rejected, rejected_at = _encode_side(tokenizer, pair, pair.rejected, where, config)
    return {"chosen": chosen, "chosen_at": chosen_at, "rejected": rejected, "rejected_at": rejected_at}


def _collate(rows: list[dict[str, Any]], pad_token_id: int, padding_side: str) -> dict[str, Any]:
    """Chosen sides then rejected sides in one padded batch (2B rows), with each row's read position."""
    from prmkit.train._data import pad_batch

    sides = [{"input_ids": r["chosen"], "at": r["chosen_at"]} for r in rows]
    sides += [{"input_ids": r["rejected"], "at": r["rejected_at"]} for r in rows]
    return pad_batch(sides, pad_token_id, padding_side)


def _loss(model: Any, batch: dict[str, Any]) -> Any:
    import torch
    import torch.nn.functional as F

    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], position_ids=batch["position_ids"]
    ).logits.float()  # (2B, T, 2)
    rows = torch.arange(logits.shape[0], device=logits.device)
    margin = logits[rows, batch["offsets"] + batch["at"]]  # (2B, 2)
    reward = margin[:, 1] - margin[:, 0]  # (2B,)
    half = reward.shape[0] // 2
    return -F.logsigmoid(reward[:half] - reward[half:]).mean()


def pair_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """Percent of pairs whose chosen side scores strictly higher (ties count as misses)."""
    return 100.0 * sum(c > r for c, r in zip(chosen, rejected)) / len(chosen) if chosen else float("nan")


def train_pairwise(config: PairwiseTrainConfig) -> Path:
    """Train a token-cls PRM on step preference pairs (see the module docstring); return its checkpoint dir.

    Raises:
        InputError / FileNotFoundError: a missing ``train_file`` / ``val_file`` / ``step_val_file`` / ``base_model``.
        prmkit.io._jsonl.FormatError: a record that is not a StepPair, or a pair longer than ``max_length``.
    """
    from transformers import AutoModelForTokenClassification

    from prmkit.train._config import loop_settings, resolve_inputs
    from prmkit.train._data import load_labelled, load_tokenizer
    from prmkit.train._loop import run_loop
    from prmkit.train._model import add_lora, finish_run, history_writer, load_from_base
    from prmkit.train.prm import evaluate_step_scores, predict_step_scores, save_token_cls

    output_dir = Path(config.output_dir)
    if config.step_val_file and not Path(config.step_val_file).exists():
        raise InputError(f"PairwiseTrainConfig.step_val_file = {config.step_val_file!r} does not exist")
    resolve_inputs(config)
    pairs = load_pairs(config.train_file)
    train_pairs, val_pairs = (
        (pairs, load_pairs(config.val_file)) if config.val_file else _split(pairs, config.val_fraction, config.seed)
    )
    step_records = load_labelled(config.step_val_file) if config.step_val_file else []
    tokenizer = load_tokenizer(config.base_model)
    rows = [_encode(tokenizer, p, f"{config.train_file}: problem {p.problem.id!r}", config) for p in train_pairs]
    for p in val_pairs:
        _encode(tokenizer, p, f"{config.val_file or config.train_file}: problem {p.problem.id!r}", config)

    model = load_from_base(AutoModelForTokenClassification, config.base_model, seed=config.seed, num_labels=2)
    model.config.pad_token_id = tokenizer.pad_token_id
    if config.use_lora:
        model = add_lora(
            model, "TOKEN_CLS", config.lora_r, config.lora_alpha, config.lora_dropout, config.lora_target_modules
        )
    fit_pairs = train_pairs[: config.eval_train_examples]

    def predict(unwrapped: Any, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        return predict_step_scores(unwrapped, tokenizer, items, separator=config.step_separator,
                                   batch_size=config.eval_batch_size, padding_side=config.padding_side)

    def last_scores(unwrapped: Any, subset: Sequence[StepPair], side: str) -> list[float]:
        return [row[-1] for row in predict(unwrapped, [(p.problem.question, [*p.prefix, *getattr(p, side)]) for p in subset])]

    def evaluate(unwrapped: Any) -> dict[str, float]:
        found: dict[str, float] = {}
        for prefix, subset in (("", val_pairs), ("train_", fit_pairs)):
            if subset:
                found[prefix + "pair_acc"] = pair_accuracy(
                    last_scores(unwrapped, subset, "chosen"), last_scores(unwrapped, subset, "rejected")
                )
        if step_records:
            scores = predict(unwrapped, [(r.problem.question, r.solution.steps) for r in step_records])
            found.update(evaluate_step_scores(step_records, scores, config.threshold))
        return found

    settings = loop_settings(config, has_val=bool(val_pairs) or config.metric != "pair_acc")
    result = run_loop(
        model=model, train_rows=rows,
        collate=lambda batch: _collate(batch, tokenizer.pad_token_id, config.padding_side),
        loss_fn=_loss, evaluate=evaluate if (val_pairs or fit_pairs or step_records) else None,
        save=lambda unwrapped: save_token_cls(unwrapped, tokenizer, output_dir, config.step_separator, "pairwise"),
        settings=settings, description="train pairwise prm", on_eval=history_writer(output_dir),
    )  # fmt: skip
    finish_run(
        output_dir,
        config,
        result,
        metric=settings.metric,
        n_train=len(train_pairs),
        n_val=len(val_pairs),
        what="Pairwise PRM",
    )
    return output_dir
