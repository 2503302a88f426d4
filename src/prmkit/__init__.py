"""prmkit: process reward models — score, synthesize labels, train, evaluate and use them.

`import prmkit` stays light (no torch): heavy pieces load on first use through the registries.

    >>> import prmkit
    >>> scorer = prmkit.load_scorer("arith-oracle")            # doctest: +SKIP
    >>> scorer.score([("Q 2 +3", ["2+3=5", "Ans 5"])])          # doctest: +SKIP
    [[1.0, 1.0]]
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_scorer", "load_generator", "load_task"]


def __getattr__(name: str) -> Any:
    # Lazy re-exports: keep `import prmkit` free of torch/transformers.
    if name == "load_scorer":
        from prmkit.models import load_scorer

        return load_scorer
    if name == "load_generator":
        from prmkit.generation import load_generator

        return load_generator
    if name == "load_task":
        from prmkit.tasks import load_task

        return load_task
    raise AttributeError(f"module 'prmkit' has no attribute {name!r}")
