"""Plots that tell the truth (matplotlib, imported only when a plot is drawn).

Rules every plot here keeps, because a plot is read before any table:

* **Axes a reader expects.** Accuracies are drawn on their whole 0-100 % range, so a 0.8-point
  difference looks like one; where an axis has to zoom, its label says the range.
* **Uncertainty is drawn.** Wherever the result carries 95 % bootstrap intervals over problems
  (:mod:`prmkit.evaluate.bootstrap`), every point gets its error bar, and the title says so.
* **Nothing hides.** Series get distinct markers and line styles and are dodged a little along x,
  so two identical curves (pass@k and an exact oracle's vote) both stay visible.
* **Legends sit outside the data** (to the right, or below).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["plot_bon", "plot_verifier_curves", "plot_verifier_bars", "plot_label_quality"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_STYLES = ("-", "--", "-.", ":")


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'prmkit[plot]'") from err
    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")  # "tight" keeps the outside legend in the picture
    _pyplot().close(fig)
    return str(path)


def _series(label: str, curve: Mapping[str, float], band: Mapping[str, Sequence[float]] | None = None,
            color: str | None = None) -> dict[str, Any]:
    return {"label": label, "curve": curve, "band": band, "color": color}


def _draw_curves(ax: Any, ks: Sequence[int], series: Sequence[Mapping[str, Any]]) -> None:
    """Each series with its own marker and line style, dodged along the log2 x axis, with its
    interval as an error bar when it has one."""
    count = len(series)
    for i, item in enumerate(series):
        dodge = 2 ** (0.05 * (i - (count - 1) / 2))  # a few % of an octave apart
        xs = [k * dodge for k in ks]
        ys = [item["curve"][str(k)] for k in ks]
        kwargs = {"marker": _MARKERS[i % len(_MARKERS)], "linestyle": _STYLES[i % len(_STYLES)], "label": item["label"],
                  "markersize": 5, "linewidth": 1.4, "capsize": 2, "elinewidth": 0.9}
        if item.get("color"):
            kwargs["color"] = item["color"]
        band = item.get("band")
        if band:
            errors = [[max(0.0, y - band[str(k)][0]) for k, y in zip(ks, ys)], [max(0.0, band[str(k)][1] - y) for k, y in zip(ks, ys)]]
            ax.errorbar(xs, ys, yerr=errors, **kwargs)
        else:
            ax.errorbar(xs, ys, **kwargs)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(ks), [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("N (candidates per problem)")
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)


def _ci_note(result: Mapping[str, Any]) -> str:
    return "; bars: 95 % bootstrap intervals over problems" if "intervals" in result else ""


def plot_bon(result: Mapping[str, Any], path: str | os.PathLike[str], aggregation: str | None = None) -> str:
    """Draw pass@k, majority@k, best-of-k and weighted vote against k (log2 axis) into a PNG.

    Args:
        result: the dictionary :func:`prmkit.evaluate.bon.evaluate` returns (its ``"intervals"``,
            when present, become error bars).
        path: the PNG to write (parent folders are created).
        aggregation: which aggregation's best-of-k / weighted-vote curves to draw; default: all.

    Returns:
        The path written.

    Raises:
        ImportError: matplotlib is missing (``pip install 'prmkit[plot]'``).
        KeyError: ``aggregation`` is not in the result.
    """
    plt = _pyplot()
    aggregations = [aggregation] if aggregation else list(result["best_of_k"])
    for how in aggregations:
        if how not in result["best_of_k"]:
            raise KeyError(f"aggregation {how!r} is not in the result (have {', '.join(result['best_of_k'])})")
    bands = result.get("intervals", {})
    series = [_series("pass@k (any of k correct)", result["pass@k"], bands.get("pass@k"), "k"),
              _series("majority vote", result["majority@k"], bands.get("majority@k"), "0.45")]
    for how in aggregations:
        series.append(_series(f"best-of-k ({how})", result["best_of_k"][how], bands.get("best_of_k", {}).get(how)))
        series.append(_series(f"weighted vote ({how})", result["weighted_vote@k"][how], bands.get("weighted_vote@k", {}).get(how)))
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    _draw_curves(ax, [int(k) for k in result["ks"]], series)
    ax.set_title(f"Best-of-N over {result['num_problems']} problems{_ci_note(result)}", fontsize=10)
    return _save(fig, path)


def plot_verifier_curves(curves: Mapping[str, Mapping[str, Any]], path: str | os.PathLike[str], title: str,
                         aggregation: str = "min") -> str:
    """Several verifiers' weighted vote@k on the same candidates, next to pass@k and majority vote.

    Args:
        curves: verifier name -> its :func:`prmkit.evaluate.bon.evaluate` result (same records; the
            first one's pass@k and majority@k are drawn once).
        path: the PNG to write.
        title: the plot's title (the interval note is appended).
        aggregation: the step-score aggregation whose weighted vote is drawn.
    """
    plt = _pyplot()
    first = next(iter(curves.values()))
    bands = first.get("intervals", {})
    series = [_series("pass@k (any of k correct)", first["pass@k"], bands.get("pass@k"), "k"),
              _series("majority vote (no verifier)", first["majority@k"], bands.get("majority@k"), "0.45")]
    for name, curve in curves.items():
        series.append(_series(f"{name}-weighted vote", curve["weighted_vote@k"][aggregation],
                              curve.get("intervals", {}).get("weighted_vote@k", {}).get(aggregation)))
    fig, ax = plt.subplots(figsize=(8.2, 4.8))
    _draw_curves(ax, [int(k) for k in first["ks"]], series)
    ax.set_title(title + _ci_note(first), fontsize=10)
    return _save(fig, path)


def plot_verifier_bars(comparison: Mapping[str, Mapping[str, Mapping[str, float]]], n: int,
                       path: str | os.PathLike[str]) -> str:
    """Every verifier's F1, weighted vote@n and best-of-n as bars on 0-100 with their intervals.

    Args:
        comparison: :func:`prmkit.evaluate.verifiers.compare`'s output.
        n: candidates per problem (for the titles).
        path: the PNG to write.
    """
    plt = _pyplot()
    names = list(comparison)
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.5 * len(names) + 2.2), sharey=True)
    majority = next(iter(comparison.values()))["majority"]
    for ax, (key, title) in zip(axes, (("f1", "ProcessBench F1 (val. threshold)"), ("weighted", f"weighted vote @{n} (%)"),
                                        ("best", f"best-of-{n} (%)"))):
        values = [comparison[name][key]["value"] for name in names]
        errors = [[max(0.0, v - comparison[name][key]["low"]) if v == v else 0.0 for name, v in zip(names, values)],
                  [max(0.0, comparison[name][key]["high"] - v) if v == v else 0.0 for name, v in zip(names, values)]]
        ax.barh(range(len(names)), [v if v == v else 0.0 for v in values], xerr=errors, capsize=3, color="tab:blue", alpha=0.8)
        for i, v in enumerate(values):
            ax.text(1, i, "undefined" if v != v else "", va="center", fontsize=8, color="0.4")
        if key != "f1":
            ax.axvline(majority["value"], color="k", ls="--", lw=1, label=f"majority vote ({majority['value']:.1f})")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, 100)
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), names)
    axes[0].invert_yaxis()
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, -0.02), ncol=1, fontsize=8, frameon=False)
    fig.suptitle("every verifier on the same held-out solutions (bars: 95 % bootstrap intervals over problems)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return _save(fig, path)


def plot_label_quality(agreement: Mapping[str, Mapping[str, float]], path: str | os.PathLike[str]) -> str:
    """Automatic labels: first-error accuracy against the exact labels vs rollouts spent, on 0-100 %.

    Args:
        agreement: annotator -> ``{"rollouts_per_solution", "first_error_accuracy"}`` (percent), with
            optional ``first_error_accuracy_low`` / ``_high`` (its 95 % bootstrap interval) and
            ``step_accuracy`` (drawn as a second, hollow marker).
        path: the PNG to write.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    has_interval = False
    for i, (name, stats) in enumerate(agreement.items()):
        x, y = stats["rollouts_per_solution"], stats["first_error_accuracy"]
        low, high = stats.get("first_error_accuracy_low"), stats.get("first_error_accuracy_high")
        yerr = None
        if low is not None and high is not None:
            yerr, has_interval = [[max(0.0, y - low)], [max(0.0, high - y)]], True
        color = f"C{i}"
        ax.errorbar([x], [y], yerr=yerr, marker=_MARKERS[i % len(_MARKERS)], markersize=8, capsize=4, color=color,
                    linestyle="none", label=f"{name}: first-error acc. {y:.1f}" + (f" [{low:.1f}, {high:.1f}]" if yerr else ""))
        if "step_accuracy" in stats:
            ax.plot([x], [stats["step_accuracy"]], marker=_MARKERS[i % len(_MARKERS)], markersize=8, markerfacecolor="none",
                    color=color, linestyle="none", label=f"{name}: step acc. {stats['step_accuracy']:.1f}")
    xs = [stats["rollouts_per_solution"] for stats in agreement.values()]
    ax.set_xlim(0, max(xs + [1.0]) * 1.15)
    ax.set_ylim(0, 100)
    ax.set_xlabel("rollouts per labelled solution (cost)")
    ax.set_ylabel("agreement with the exact labels (%)")
    ax.set_title("automatic labels: quality vs cost" + ("; bars: 95 % bootstrap intervals over problems" if has_interval else ""),
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return _save(fig, path)
