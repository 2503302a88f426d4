"""Trainers: token-classification PRM, pairwise (Bradley-Terry) PRM, implicit PRM, ORM, generative verdict PRM (and the tiny arith policy).

Each trainer is a config dataclass plus one function returning the checkpoint directory; the
``prmkit train <what>`` commands map their flags onto the same dataclasses. Names load lazily, so
importing :mod:`prmkit.train` does not import torch.

    >>> from prmkit.train import PRMTrainConfig, train_prm                       # doctest: +SKIP
    >>> train_prm(PRMTrainConfig(train_file="labels.jsonl", base_model="policy/", output_dir="prm/"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ImplicitTrainConfig",
    "ORMTrainConfig",
    "PRMTrainConfig",
    "PairwiseTrainConfig",
    "VerdictTrainConfig",
    "train_implicit",
    "train_orm",
    "train_pairwise",
    "train_prm",
    "train_verdict",
]

_WHERE = {
    "PRMTrainConfig": "prmkit.train.prm", "train_prm": "prmkit.train.prm",
    "ImplicitTrainConfig": "prmkit.train.implicit", "train_implicit": "prmkit.train.implicit",
    "ORMTrainConfig": "prmkit.train.orm", "train_orm": "prmkit.train.orm",
    "VerdictTrainConfig": "prmkit.train.verdict", "train_verdict": "prmkit.train.verdict",
    "PairwiseTrainConfig": "prmkit.train.pairwise", "train_pairwise": "prmkit.train.pairwise",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'prmkit.train' has no attribute {name!r}")
