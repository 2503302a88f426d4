"""Summaries of search runs: accuracy against compute per (method, N), as rows, a table and a plot.

The budget axis is policy tokens generated per problem (optionally FLOPs = 2 x params x tokens),
so methods are compared at equal compute, not at equal N.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["summarize", "summary_table", "plot_budget_curves"]


def summarize(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Group ``SearchResult.to_dict()`` records (with ``meta.n``) into one row per (method, n).

    Each row: ``method``, ``n``, ``problems``, ``accuracy`` (percent of problems whose chosen
    candidate is correct), and per problem: ``tokens_per_problem`` (policy tokens),
    ``prm_calls_per_problem``, ``seconds_per_problem`` — a run's budget is split evenly over the
    ``budget["problems"]`` problems searched together in it.
    """
    groups: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["method"], int(record["meta"].get("n", 0))), []).append(record)
    rows = []
    for (method, n), recs in sorted(groups.items()):
        # each record carries its run's total budget and how many problems shared that run
        share = [1.0 / r["budget"]["problems"] for r in recs]
        rows.append(
            {
                "method": method,
                "n": n,
                "problems": len(recs),
                "accuracy": 100.0 * sum(bool(r["correct"]) for r in recs) / len(recs),
                "tokens_per_problem": sum(r["budget"]["policy_tokens"] * w for r, w in zip(recs, share)) / len(recs),
                "prm_calls_per_problem": sum(r["budget"]["prm_calls"] * w for r, w in zip(recs, share)) / len(recs),
                "seconds_per_problem": sum(r["budget"]["wall_seconds"] * w for r, w in zip(recs, share)) / len(recs),
            }
        )
    return rows


#: (header, row key, format) of each :func:`summary_table` column, left to right.
_COLUMNS = (
    ("method", "method", "{}"),
    ("N", "n", "{}"),
    ("accuracy %", "accuracy", "{:.1f}"),
    ("tokens/problem", "tokens_per_problem", "{:.0f}"),
    ("PRM calls/problem", "prm_calls_per_problem", "{:.2f}"),
    ("s/problem", "seconds_per_problem", "{:.3f}"),
)


def summary_table(rows: Iterable[Mapping[str, Any]], title: str) -> Any:
    """A :class:`rich.table.Table` of :func:`summarize` rows (one line per method and N).

    The one rendering of search results, shared by ``prmkit search`` and
    ``benchmarks/search_compute.py`` so both print the same columns with the same precision.

    Args:
        rows: :func:`summarize` rows.
        title: the table's title.

    Returns:
        The table; print it with ``rich.console.Console().print(table)``.
    """
    from rich.table import Table

    table = Table(title=title)
    for header, _, _ in _COLUMNS:
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(*(fmt.format(row[key]) for _, key, fmt in _COLUMNS))
    return table


def plot_budget_curves(
    rows: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    title: str = "Accuracy vs generated tokens",
    ceiling: Mapping[str, float] | None = None,
) -> Path:
    """Draw accuracy vs tokens per problem (log x), one line per method; ``ceiling`` adds dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in sorted({r["method"] for r in rows}):
        points = sorted((r["tokens_per_problem"], r["accuracy"]) for r in rows if r["method"] == method)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=method)
    for label, value in (ceiling or {}).items():
        ax.axhline(value, linestyle="--", color="gray", linewidth=1, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("policy tokens generated per problem")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
