"""Accuracy-vs-N curves of a best-of-N result (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["plot_bon"]


def plot_bon(result: Mapping[str, Any], path: str | os.PathLike[str], aggregation: str | None = None) -> str:
    """Draw pass@k, majority@k, best-of-k and weighted vote against k (log2 axis) into a PNG.

    Args:
        result: the dictionary :func:`prmkit.evaluate.bon.evaluate` returns.
        path: the PNG to write (parent folders are created).
        aggregation: which aggregation's best-of-k / weighted-vote curves to draw; default: all.

    Returns:
        The path written.

    Raises:
        ImportError: matplotlib is missing (``pip install 'prmkit[plot]'``).
        KeyError: ``aggregation`` is not in the result.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'prmkit[plot]'") from err

    ks = [int(k) for k in result["ks"]]
    aggregations = [aggregation] if aggregation else list(result["best_of_k"])
    for how in aggregations:
        if how not in result["best_of_k"]:
            raise KeyError(f"aggregation {how!r} is not in the result (have {', '.join(result['best_of_k'])})")

    def ys(curve: Mapping[str, float]) -> list[float]:
        return [curve[str(k)] for k in ks]

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(ks, ys(result["pass@k"]), "k--", label="pass@k (oracle)")
    ax.plot(ks, ys(result["majority@k"]), "k:", marker="o", label="majority vote")
    for how in aggregations:
        line = ax.plot(ks, ys(result["best_of_k"][how]), marker="s", label=f"best-of-k ({how})")[0]
        ax.plot(ks, ys(result["weighted_vote@k"][how]), marker="^", color=line.get_color(), alpha=0.6,
                label=f"weighted vote ({how})")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("N (candidates per problem)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Best-of-N over {result['num_problems']} problems")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)
