"""Data plumbing shared by the PRM / implicit / ORM trainers: read labelled JSONL, split it, pad batches.

Kept apart from the trainers so every trainer reads the same record format (one
:meth:`prmkit.types.LabelledSolution.to_dict` per line) with the same errors, and pads batches the
same way. Padding is the classic place where a PRM silently reads the wrong token, so
:func:`pad_batch` also builds ``position_ids`` from the attention mask: with them a left-padded row
gives the same logits as the unpadded sequence (Hugging Face models otherwise number positions
from the first pad token).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prmkit.io._jsonl import FormatError, read_jsonl
from prmkit.models._tokenizer import load_tokenizer  # trainers and scorers read tokenizers alike
from prmkit.types import LabelledSolution

__all__ = ["IGNORE_INDEX", "load_labelled", "load_tokenizer", "pad_batch", "read_at_positions", "read_records", "split_by_problem"]

#: Label value meaning "no loss here" (the PyTorch / Hugging Face convention).
IGNORE_INDEX = -100
T = TypeVar("T")


def load_labelled(path: str | os.PathLike[str]) -> list[LabelledSolution]:
    """Read a JSONL file of ``LabelledSolution.to_dict()`` records, or a ``prmkit annotate`` output folder.

    A folder is read through :func:`prmkit.io._files.data_files`: an annotate output's
    ``shard-*.jsonl`` in shard order (what ``prmkit annotate ... --out DIR`` writes, so ``--train-file
    DIR`` trains on it directly), or the ``*.jsonl`` files of any other folder.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        FormatError: a line is not valid JSON or not a valid record (names file, line and the problem),
            or there is no record at all.
    """
    return read_records(
        path, LabelledSolution.from_dict, "a LabelledSolution",
        "{'problem': {...}, 'solution': {...}, 'labels': {...} or null}",
        "no records; a training file needs at least one LabelledSolution line",
    )


def read_records(path: str | os.PathLike[str], from_dict: Callable[[dict[str, Any]], T], noun: str, expected: str,
                 when_empty: str) -> list[T]:
    """Every record of a JSONL file, or of a folder's files (:func:`prmkit.io._files.data_files`), built
    by ``from_dict``: the one reader of the trainers' inputs, so that each names a bad line the same way.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        FormatError: ``file:line: not {noun} record (...); expected {expected}``, or ``path: {when_empty}``.
    """
    from prmkit.io._files import data_files

    records = []
    for file in data_files(path, (".jsonl",)):
        for line_number, data in read_jsonl(file):
            try:
                records.append(from_dict(data))
            except (KeyError, TypeError, ValueError) as err:
                raise FormatError(
                    f"{file}:{line_number}: not {noun} record ({type(err).__name__}: {err}); expected {expected}"
                ) from None
    if not records:
        raise FormatError(f"{path}: {when_empty}")
    return records


def split_by_problem(
    records: Sequence[LabelledSolution], val_fraction: float, seed: int
) -> tuple[list[LabelledSolution], list[LabelledSolution]]:
    """Hold out ``val_fraction`` of the *problems* (all their solutions together) for validation.

    Splitting by problem keeps solutions of one problem from landing on both sides, so the
    validation metric measures generalisation to new problems, not memorised ones.

    Returns:
        ``(train, val)`` in input order; ``val`` is empty when ``val_fraction == 0``.

    Raises:
        ValueError: ``val_fraction`` outside [0, 1), or a split that leaves no training problem.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction = {val_fraction} must be in [0, 1)")
    problem_ids = sorted({r.problem.id for r in records})
    random.Random(seed).shuffle(problem_ids)
    n_val = round(len(problem_ids) * val_fraction)
    if val_fraction > 0 and n_val == 0 and len(problem_ids) > 1:
        n_val = 1
    if n_val >= len(problem_ids):
        raise ValueError(
            f"val_fraction = {val_fraction} leaves no training problem out of {len(problem_ids)}; lower it"
        )
    held_out = set(problem_ids[:n_val])
    train = [r for r in records if r.problem.id not in held_out]
    val = [r for r in records if r.problem.id in held_out]
    return train, val


def pad_batch(
    rows: Sequence[dict[str, list[Any]]],
    pad_token_id: int,
    padding_side: str = "right",
    pad_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Pad variable-length rows into tensors, with attention mask and mask-derived position ids.

    Args:
        rows: each a dict holding ``input_ids`` (list[int]) and optionally other per-token lists of
            the same length (e.g. ``labels``); non-list values (scalars) are stacked as they are.
        pad_token_id: id used to pad ``input_ids``.
        padding_side: ``"right"`` or ``"left"``.
        pad_values: pad value per extra per-token key (default :data:`IGNORE_INDEX`).

    Returns:
        ``input_ids`` (B, T) long, ``attention_mask`` (B, T) long, ``position_ids`` (B, T) long
        (0, 1, ... over real tokens, 0 on pads), plus each extra key as a (B, T) tensor
        (float when any value is a float) or (B,) for scalars, and ``offsets`` (B,) long: how many
        pads precede each row (add it to a row's unpadded index to find that token).

    Raises:
        ValueError: unknown ``padding_side`` or a per-token list whose length differs from ``input_ids``.
    """
    import torch

    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side = {padding_side!r}; use 'left' or 'right'")
    pad_values = pad_values or {}
    width = max(len(row["input_ids"]) for row in rows)
    out: dict[str, list[Any]] = {"input_ids": [], "attention_mask": [], "position_ids": [], "offsets": []}

    def place(values: list[Any], fill: Any) -> list[Any]:
        pad = width - len(values)
        return [fill] * pad + list(values) if padding_side == "left" else list(values) + [fill] * pad

    for index, row in enumerate(rows):
        n = len(row["input_ids"])
        offset = width - n if padding_side == "left" else 0
        out["input_ids"].append(place(row["input_ids"], pad_token_id))
        out["attention_mask"].append(place([1] * n, 0))
        out["position_ids"].append(place(list(range(n)), 0))
        out["offsets"].append(offset)
        for key, value in row.items():
            if key == "input_ids":
                continue
            if isinstance(value, list):
                if len(value) != n:
                    raise ValueError(f"row {index}: {key!r} has {len(value)} entries but input_ids has {n}")
                value = place(value, pad_values.get(key, IGNORE_INDEX))
            out.setdefault(key, []).append(value)
    batch: dict[str, Any] = {}
    for key, values in out.items():
        flat = values if not values or not isinstance(values[0], list) else [v for row in values for v in row]
        is_float = any(isinstance(v, float) for v in flat)
        batch[key] = torch.tensor(values, dtype=torch.float32 if is_float else torch.long)
    return batch


def read_at_positions(
    model: Any,
    encoded: Sequence[Any],
    read: Any,
    pad_token_id: int,
    batch_size: int = 16,
    padding_side: str = "right",
) -> list[list[float]]:
    """Batched no-grad forward passes reading one value per step position: the trainers' validation.

    Args:
        model: the model being trained (any mode; restored afterwards).
        encoded: items with ``input_ids`` and ``step_positions`` (an :class:`EncodedItem`).
        read: ``read(model, batch) -> (B, T)`` tensor of per-token values (e.g. P(correct)).
        pad_token_id / batch_size / padding_side: how batches are built (:func:`pad_batch`); the
            values do not depend on the padding side, since positions come from the mask.

    Returns:
        One list per item, ``values[row, step_position]`` for each of its steps, in input order.
    """
    import torch

    device = next(model.parameters()).device
    out: list[list[float]] = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start : start + batch_size]
            batch = pad_batch([{"input_ids": e.input_ids} for e in chunk], pad_token_id, padding_side)
            batch = {k: v.to(device) for k, v in batch.items()}
            values = read(model, batch)  # (B, T)
            for row, item in enumerate(chunk):
                offset = int(batch["offsets"][row])
                out.append([float(values[row, offset + p]) for p in item.step_positions])
    model.train(was_training)
    return out
