"""The main job end to end on a tiny budget: every stage runs and every promised output exists."""

import json

import pytest

pytest.importorskip("torch")

REQUIRED_KEYS = [
    "policy_pass_at_1", "labels.mc.first_error_accuracy", "labels.omegaprm.first_error_accuracy",
    "labels.mc.rollouts", "labels.omegaprm.rollouts", "prm.processbench_f1", "oracle.processbench_f1",
    "bon.n", "bon.majority", "bon.prm_best", "bon.prm_weighted", "bon.oracle_weighted",
    "implicit.processbench_f1", "elapsed_seconds",
]


def test_tiny_demo_writes_report_metrics_and_plots(tmp_path):
    from prmkit.demo import DemoConfig, run_demo

    config = DemoConfig(out=str(tmp_path), label_problems=6, samples=2, rollouts=2, test_problems=4, bon_n=4,
                        prm_epochs=1, implicit_epochs=0.5, progress=False)
    metrics = run_demo(config)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written == metrics
    assert all(key in written for key in REQUIRED_KEYS), [k for k in REQUIRED_KEYS if k not in written]
    assert written["oracle.processbench_f1"] == 100.0  # the exact oracle is exact on the policy's own solutions
    for name in ("prm", "oracle", "implicit"):  # also F1 at a threshold picked on the MC-labelled validation split
        assert written[f"{name}.processbench_f1_val_threshold"] is None or 0 <= written[f"{name}.processbench_f1_val_threshold"] <= 100
        assert written[f"{name}.val_threshold"] is None or isinstance(written[f"{name}.val_threshold"], float)
    assert written["bon.implicit_weighted"] is not None and "bon.gap_closed" in written
    assert written["bon.n"] == 4 and written["labels.mc.rollouts"] > written["labels.omegaprm.rollouts"] > 0
    assert all(0 <= written[k] <= 100 for k in ("bon.majority", "bon.prm_weighted", "bon.oracle_weighted"))
    report = (tmp_path / "report.md").read_text()
    assert "Best-of-N" in report and "first-error" in report
    assert (tmp_path / "bon.png").stat().st_size > 1000 and (tmp_path / "labels.png").stat().st_size > 1000
    assert (tmp_path / "prm" / "config.json").exists() and (tmp_path / "implicit" / "prmkit.json").exists()
    # Resuming into the same folder with other labelling settings is refused, not silently mixed.
    with pytest.raises(ValueError):
        run_demo(DemoConfig(out=str(tmp_path), label_problems=6, samples=2, rollouts=3, test_problems=4, bon_n=4,
                            prm_epochs=1, implicit_epochs=0.5, progress=False))


def test_demo_config_lists_every_error():
    from prmkit.demo import DemoConfig

    with pytest.raises(ValueError, match="test_problems must be >= 1.*prm_label_mode"):
        DemoConfig(test_problems=0, prm_label_mode="fuzzy")


def test_validation_threshold_is_picked_on_mc_labels_with_hard_semantics():
    from prmkit.demo import _validation_threshold
    from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

    class Fixed:
        def __init__(self, rows):
            self.rows = rows

        def score(self, items):
            assert len(items) == len(self.rows)
            return self.rows

    def record(labels):
        return LabelledSolution(Problem("p", "Q", "1"), Solution("p", ["a"] * len(labels)), StepLabels(labels))

    # MC fractions: 0.125 > 0 is a *correct* step under Math-Shepherd hard semantics; 0.0 is the first error
    records = [record([0.5, 0.125, 0.0]), record([1.0, 0.75]), record([0.0, 0.0])]
    # errors score 0.2 / 0.1 at their first wrong step, right steps >= 0.3: only thresholds in (0.2, 0.3] get all right
    threshold = _validation_threshold(Fixed([[0.9, 0.3, 0.2], [0.8, 0.35], [0.1, 0.05]]), records)
    assert 0.2 < threshold <= 0.3
    assert _validation_threshold(Fixed([]), []) is None  # nothing to tune on
    assert _validation_threshold(Fixed([[0.9, 0.8]]), [record([1.0, 1.0])]) is None  # F1 undefined: no erroneous one


def test_report_explains_a_negative_gap_and_undefined_numbers():
    from prmkit.demo import DemoConfig, _report

    f1 = {"error_acc": 20.0, "correct_acc": 70.0, "f1": 31.1}
    evaluation = {
        "solutions": 64,
        "f1": {"prm": f1, "oracle": {"error_acc": 100.0, "correct_acc": 100.0, "f1": 100.0}},
        "f1_val_threshold": {"prm": {"error_acc": float("nan"), "correct_acc": float("nan"), "f1": float("nan"), "threshold": None},
                             "oracle": {"error_acc": 100.0, "correct_acc": 100.0, "f1": 100.0, "threshold": 0.5}},
        "bon": {"n": 16, "majority": 60.9, "prm_best": 34.1, "prm_weighted": 59.0, "oracle_best": 86.3,
                "oracle_weighted": 85.9, "pass_at_n": 94.0, "gap_closed": -7.6},
    }
    agreement = {"mc": {"rollouts": 100, "rollouts_per_solution": 10.0, "first_error_accuracy": 70.0, "step_accuracy": 88.0}}
    report = _report({"policy_pass_at_1": 46.9, "elapsed_seconds": 350.0}, evaluation, agreement, [], DemoConfig())
    assert "**1.9 points below** majority vote (gap closed: -7.6%)" in report and "25.0 points of headroom" in report
    assert "| prm | 20.0 | 70.0 | 31.1 | — | — |" in report and "nan" not in report
    assert "| PRM (MC labels)-weighted vote | 59.0 |" in report
