"""prmkit: process reward models — score, synthesize labels, train, evaluate and use them.

`import prmkit` stays light (no torch): the names below load on first use, through the registries.

    >>> import prmkit
    >>> scorer = prmkit.load_scorer("arith-oracle")            # doctest: +SKIP
    >>> scorer.score([("Q 2 +3", ["2+3=5", "Ans 5"])])          # doctest: +SKIP
    [[1.0, 1.0]]

Public API (``dir(prmkit)`` lists it): the loaders ``load_scorer`` / ``load_generator`` /
``load_task`` and ``scorer_options``; the protocols ``Scorer``, ``Generator``, ``Task``; the record
types of :mod:`prmkit.types`; and one sub-package per stage (``io``, ``tasks``, ``models``,
``generation``, ``annotate``, ``train``, ``evaluate``, ``search``, ``rl``, ``serve``) plus the small
``steps``, ``answers`` and ``metrics`` modules.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: name -> the module it lives in (imported on first access).
_LAZY = {
    "load_scorer": "prmkit.models", "scorer_options": "prmkit.models", "Scorer": "prmkit.models",
    "load_generator": "prmkit.generation", "Generator": "prmkit.generation",
    "load_task": "prmkit.tasks", "Task": "prmkit.tasks",
    **{name: "prmkit.types" for name in ("Problem", "Solution", "StepLabels", "Completion", "LabelledSolution")},
}
_SUBMODULES = (
    "annotate", "answers", "evaluate", "generation", "io", "metrics", "models", "rl", "search", "serve", "steps",
    "tasks", "train", "types",
)

__all__ = ["__version__", *_LAZY, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    # Lazy re-exports: keep `import prmkit` free of torch/transformers.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"prmkit.{name}")
    raise AttributeError(f"module 'prmkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
