"""The plots keep their promises: full 0-100 % accuracy axes, error bars where intervals exist,
distinct styles for every series, legends outside the data."""

import pytest

pytest.importorskip("matplotlib")

from prmkit.evaluate import plots  # noqa: E402


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """The figures the plot functions would save (kept open for inspection)."""
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or str(path))
    return figures


def legend_outside(ax, legend):
    legend_box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    return legend_box.x0 >= axes_box.x1 or legend_box.y1 <= axes_box.y0


def test_label_quality_plot_does_not_stretch_a_small_difference(drawn, tmp_path):
    agreement = {"mc": {"rollouts_per_solution": 32.5, "first_error_accuracy": 71.1, "first_error_accuracy_low": 67.3,
                        "first_error_accuracy_high": 75.0},
                 "omegaprm": {"rollouts_per_solution": 12.8, "first_error_accuracy": 70.3, "first_error_accuracy_low": 66.5,
                              "first_error_accuracy_high": 74.4}}
    plots.plot_label_quality(agreement, tmp_path / "labels.png")
    ax = drawn[0].axes[0]
    assert ax.get_ylim() == (0, 100) and ax.get_xlim()[0] == 0 and ax.get_xlim()[1] > 32.5
    assert len([c for c in ax.containers if c.has_yerr]) == 2  # both points carry their interval
    drawn[0].canvas.draw()
    assert legend_outside(ax, ax.get_legend())


def test_curves_with_identical_values_stay_distinguishable(drawn, tmp_path):
    same = {"1": 50.0, "2": 70.0}
    band = {"1": [45.0, 55.0], "2": [65.0, 75.0]}
    result = {"ks": [1, 2], "num_problems": 10, "pass@k": same, "majority@k": same, "best_of_k": {"min": same},
              "weighted_vote@k": {"min": same},
              "intervals": {"pass@k": band, "majority@k": band, "best_of_k": {"min": band}, "weighted_vote@k": {"min": band}}}
    plots.plot_bon(result, tmp_path / "bon.png")
    ax = drawn[0].axes[0]
    lines = [c.lines[0] for c in ax.containers]
    assert len(lines) == 4 and all(c.has_yerr for c in ax.containers)
    assert len({(line.get_marker(), line.get_linestyle()) for line in lines}) == 4
    assert len({tuple(line.get_xdata()) for line in lines}) == 4  # dodged: no two series on the same x
    assert ax.get_ylim() == (0, 100) and "95 %" in ax.get_title()
    drawn[0].canvas.draw()
    assert legend_outside(ax, ax.get_legend())
