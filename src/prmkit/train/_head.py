"""The recipe shared by the trainers that put a new head on a causal LM (``prm``, ``orm``).

Both read labelled JSONL, encode every record up front (so a bad validation record fails before
training, not at the first validation), load the body with a fresh seeded head, optionally wrap it
with LoRA, validate on the held-out split and on a slice of the training split (to catch a model
that cannot even fit its data), keep the best checkpoint and write the run files. Only what differs
is passed in: the head class, how a record is encoded, the loss, how a model scores items and how
scores become metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prmkit.train._config import TrainConfig, load_train_val, loop_settings, resolve_inputs
from prmkit.types import LabelledSolution

__all__ = ["train_head_model"]


def train_head_model(
    config: TrainConfig,
    *,
    auto_class: Any,
    num_labels: int,
    lora_task: str,
    encode: Callable[[Any, LabelledSolution, str], dict[str, Any]],
    check_rows: Callable[[list[dict[str, Any]]], None],
    loss_fn: Callable[[Any, dict[str, Any]], Any],
    predict: Callable[..., Any],
    metrics: Callable[[Sequence[LabelledSolution], Any, float], dict[str, float]],
    save: Callable[[Any, Any, Path], None],
    what: str,
) -> Path:
    """Train a ``auto_class`` head model from ``config.base_model``; return ``config.output_dir``.

    Args:
        config: a trainer config with ``step_separator`` and ``threshold`` besides the shared fields.
        auto_class: e.g. ``AutoModelForTokenClassification``.
        num_labels / lora_task: the head's size and peft task type (``"TOKEN_CLS"``, ``"SEQ_CLS"``).
        encode: ``(tokenizer, record, where) -> row``; raises naming ``where`` on a bad record.
        check_rows: raises when the encoded training rows cannot train anything.
        loss_fn: ``(model, batch) -> loss``.
        predict: ``(model, tokenizer, items, separator=, batch_size=, padding_side=) -> scores``.
        metrics: ``(records, scores, threshold) -> {name: value}``.
        save: ``(unwrapped_model, tokenizer, output_dir)`` writes the checkpoint.
        what: ``"PRM"`` / ``"ORM"``, for the progress bar and the final message.
    """
    from prmkit.train._data import load_tokenizer, pad_batch
    from prmkit.train._loop import run_loop
    from prmkit.train._model import add_lora, finish_run, history_writer, load_from_base

    output_dir = Path(config.output_dir)
    resolve_inputs(config)  # paths, "demo", max_length: checked before anything loads
    train_records, val_records = load_train_val(config)
    tokenizer = load_tokenizer(config.base_model)
    rows = [encode(tokenizer, r, f"{config.train_file}: problem {r.problem.id!r}") for r in train_records]
    check_rows(rows)
    for r in val_records:  # fail before training, not at the first validation
        encode(tokenizer, r, f"{config.val_file or config.train_file}: problem {r.problem.id!r}")

    model = load_from_base(auto_class, config.base_model, seed=config.seed, num_labels=num_labels)
    model.config.pad_token_id = tokenizer.pad_token_id
    if config.use_lora:
        model = add_lora(model, lora_task, config.lora_r, config.lora_alpha, config.lora_dropout,
                         config.lora_target_modules)
    fit_records = train_records[: config.eval_train_examples]

    def evaluate(unwrapped: Any) -> dict[str, float]:
        found: dict[str, float] = {}
        for prefix, subset in (("", val_records), ("train_", fit_records)):
            if subset:
                items = [(r.problem.question, r.solution.steps) for r in subset]
                scores = predict(unwrapped, tokenizer, items, separator=config.step_separator,  # type: ignore[attr-defined]
                                 batch_size=config.eval_batch_size, padding_side=config.padding_side)
                found.update({prefix + k: v for k, v in metrics(subset, scores, config.threshold).items()})  # type: ignore[attr-defined]
        return found

    settings = loop_settings(config, has_val=bool(val_records))
    result = run_loop(
        model=model,
        train_rows=rows,
        collate=lambda batch: pad_batch(batch, tokenizer.pad_token_id, config.padding_side),
        loss_fn=loss_fn,
        evaluate=evaluate if (val_records or fit_records) else None,
        save=lambda unwrapped: save(unwrapped, tokenizer, output_dir),
        settings=settings,
        description=f"train {what.lower()}",
        on_eval=history_writer(output_dir),
    )
    finish_run(output_dir, config, result, metric=settings.metric, n_train=len(train_records),
               n_val=len(val_records), what=what)
    return output_dir
