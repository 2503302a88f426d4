"""The one training loop behind every prmkit reward-model trainer (PRM, implicit PRM, ORM).

Built on :class:`accelerate.Accelerator`, so the same code runs on this CPU and, unchanged, under
``accelerate launch`` on several GPUs (DDP; gradients accumulate with ``accelerator.accumulate``).
A trainer supplies the pieces that differ — the rows, how to pad them, the loss, the validation
metrics and how to save — and gets back the evaluation history. Validation runs every
``eval_every`` optimizer steps; the checkpoint with the best validation metric is kept (written by
the main process only) and training stops early after ``patience`` evaluations without improvement.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LengthGroupedBatches", "LoopSettings", "run_loop"]


@dataclass
class LoopSettings:
    """Optimisation settings every trainer config carries (see the trainers' config docs)."""

    learning_rate: float
    weight_decay: float
    num_epochs: float
    max_steps: int
    batch_size: int
    gradient_accumulation_steps: int
    warmup_ratio: float
    max_grad_norm: float
    eval_every: int
    patience: int | None
    metric: str
    seed: int
    mixed_precision: str = "no"
    group_by_length: bool = False  # batches of similar lengths (less padding), in random order


class LengthGroupedBatches:
    """Random batches of similar-length rows, as ``transformers.Trainer(group_by_length=True)`` makes them.

    Each epoch: shuffle the rows, cut them into mega-batches of ``50 * batch_size``, sort each by
    length (longest first) and cut it into batches, then shuffle the batch order. Padding per batch
    falls to a few tokens while every epoch still sees the rows in a new random grouping.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, generator: Any) -> None:
        self.lengths, self.batch_size, self.generator = list(lengths), batch_size, generator

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Any:
        import torch

        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        mega = 50 * self.batch_size
        batches = []
        for start in range(0, len(order), mega):
            chunk = sorted(order[start : start + mega], key=lambda i: -self.lengths[i])
            batches += [chunk[b : b + self.batch_size] for b in range(0, len(chunk), self.batch_size)]
        for index in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[index]


def _is_better(value: float, best: float | None) -> bool:
    if best is None:
        return True
    if value is None or math.isnan(value):
        return False
    return math.isnan(best) or value > best


def run_loop(
    *,
    model: Any,
    train_rows: Sequence[dict[str, Any]],
    collate: Callable[[list[dict[str, Any]]], dict[str, Any]],
    loss_fn: Callable[[Any, dict[str, Any]], Any],
    evaluate: Callable[[Any], dict[str, float]] | None,
    save: Callable[[Any], None],
    settings: LoopSettings,
    description: str = "training",
    on_eval: Callable[[list[dict[str, Any]]], None] | None = None,
) -> dict[str, Any]:
    """Train ``model`` on ``train_rows``; evaluate, keep the best checkpoint, stop early.

    Args:
        model: a ``torch.nn.Module`` whose trainable parameters are optimised (AdamW, linear
            warmup then linear decay).
        train_rows: tokenized examples (one dict each), shuffled every epoch with ``settings.seed``.
        collate: pads a list of rows into a batch of tensors (see :func:`prmkit.train._data.pad_batch`).
        loss_fn: ``loss_fn(model, batch) -> scalar loss tensor``.
        evaluate: ``evaluate(unwrapped_model) -> {metric: value}`` on the validation set (every
            process computes the same numbers); ``None`` to train without validation.
        save: ``save(unwrapped_model)`` writes the checkpoint (called on the main process only).
        settings: optimisation settings; ``settings.metric`` names the key of ``evaluate``'s
            result to maximise.
        description: label of the progress bar.
        on_eval: called with the history so far after every evaluation on the main process (the
            trainers write it to disk, so a killed run still leaves its curve behind).

    Returns:
        ``{"history": [...], "best": {...} or None, "steps": int, "seconds": float}``; each history
        entry holds ``step``, ``epoch``, ``train_loss`` (mean since the previous entry) and the
        validation metrics.

    Raises:
        KeyError: ``evaluate`` returned no ``settings.metric`` (lists the keys it did return).
    """
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )
    from torch.utils.data import DataLoader
    from transformers import get_scheduler

    accelerator = Accelerator(
        gradient_accumulation_steps=settings.gradient_accumulation_steps, mixed_precision=settings.mixed_precision
    )
    set_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    rows = list(train_rows)
    if settings.group_by_length:
        batches = LengthGroupedBatches([len(r["input_ids"]) for r in rows], settings.batch_size, generator)
        loader = DataLoader(rows, batch_sampler=batches, collate_fn=collate)
    else:
        loader = DataLoader(rows, batch_size=settings.batch_size, shuffle=True, collate_fn=collate, generator=generator)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)

    steps_per_epoch = max(1, math.ceil(len(loader) / settings.gradient_accumulation_steps))
    total = settings.max_steps if settings.max_steps > 0 else max(1, math.ceil(settings.num_epochs * steps_per_epoch))
    # A prepared scheduler steps once per process for every optimizer step (accelerate's convention).
    world = accelerator.num_processes
    scheduler = get_scheduler(
        "linear", optimizer, num_warmup_steps=int(settings.warmup_ratio * total) * world,
        num_training_steps=total * world,
    )
    scheduler = accelerator.prepare(scheduler)

    history: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    evals_without_gain = 0
    step = 0
    losses: list[float] = []
    started = time.perf_counter()

    def run_eval(epoch: float) -> bool:
        """Evaluate, record, save if best; return True when training should stop early."""
        nonlocal best, evals_without_gain
        entry: dict[str, Any] = {"step": step, "epoch": round(epoch, 3)}
        entry["train_loss"] = sum(losses) / len(losses) if losses else None
        losses.clear()
        unwrapped = accelerator.unwrap_model(model)
        if evaluate is None:
            history.append(entry)
            return False
        model.eval()
        with torch.no_grad():
            metrics = evaluate(unwrapped)
        model.train()
        if settings.metric not in metrics:
            raise KeyError(f"validation returned no {settings.metric!r}; it returned {sorted(metrics)}")
        entry.update(metrics)
        history.append(entry)
        if on_eval is not None and accelerator.is_main_process:
            on_eval(history)
        value = metrics[settings.metric]
        if _is_better(value, None if best is None else best[settings.metric]):
            best = dict(entry)
            evals_without_gain = 0
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                save(unwrapped)
            accelerator.wait_for_everyone()
            return False
        evals_without_gain += 1
        return settings.patience is not None and evals_without_gain >= settings.patience

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
               TimeRemainingColumn())
    stopped = False
    model.train()
    with Progress(*columns, disable=not accelerator.is_local_main_process) as progress:
        bar = progress.add_task(description, total=total, info="")
        while step < total and not stopped:
            for batch in loader:
                with accelerator.accumulate(model):
                    loss = loss_fn(model, batch)
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and settings.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(params, settings.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                losses.append(float(loss.detach()))
                if not accelerator.sync_gradients:
                    continue
                step += 1
                progress.update(bar, advance=1, info=f"loss {losses[-1]:.4f}")
                if step % settings.eval_every == 0 and step < total:
                    stopped = run_eval(step / steps_per_epoch)
                    if best is not None and evaluate is not None:
                        progress.update(bar, info=f"best {settings.metric} {best[settings.metric]:.4g}")
                if stopped or step >= total:
                    break
        if not stopped:
            run_eval(step / steps_per_epoch)
    if evaluate is None and accelerator.is_main_process:
        save(accelerator.unwrap_model(model))
    accelerator.wait_for_everyone()
    return {"history": history, "best": best, "steps": step, "seconds": time.perf_counter() - started,
            "stopped_early": stopped}
