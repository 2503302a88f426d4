"""The main job end to end on a tiny budget: every stage runs and every promised output exists."""

import json

import pytest

pytest.importorskip("torch")

REQUIRED_KEYS = [
    "policy_pass_at_1", "labels.mc.first_error_accuracy", "labels.omegaprm.first_error_accuracy",
    "labels.mc.rollouts", "labels.omegaprm.rollouts", "prm.processbench_f1", "oracle.processbench_f1",
    "bon.n", "bon.majority", "bon.oracle_weighted", "prm.weighted", "prm.best_of_n",
    "implicit.processbench_f1", "self_certainty.processbench_f1", "self_certainty.weighted", "likelihood.weighted",
    "verifier.name", "verifier.processbench_f1", "verifier.weighted", "verifier.best_of_n", "verifier.gap_closed",
    "elapsed_seconds",
]
TINY = {"label_problems": 6, "samples": 2, "rollouts": 2, "test_problems": 4, "bon_n": 4, "prm_epochs": 1,
        "implicit_epochs": 0.5, "verdict_epochs": 0.5, "verifier_problems": 8, "verifier_rounds": 1, "verifier_samples": 2,
        "selection_problems": 4, "omegaprm_rollouts": 2, "progress": False}


def test_tiny_demo_writes_report_metrics_and_plots(tmp_path):
    from prmkit.demo import DemoConfig, run_demo

    config = DemoConfig(out=str(tmp_path), **TINY)  # the verifier trains in a second process, as by default
    metrics = run_demo(config)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written == metrics
    assert all(key in written for key in REQUIRED_KEYS), [k for k in REQUIRED_KEYS if k not in written]
    assert written["oracle.processbench_f1_at_0.5"] == 100.0  # the exact oracle is exact on the policy's own solutions
    for name in ("prm", "oracle", "implicit", "verdict", "likelihood", "self_certainty"):  # F1 at the validation-picked threshold
        assert written[f"{name}.processbench_f1"] is None or 0 <= written[f"{name}.processbench_f1"] <= 100
        assert written[f"{name}.val_threshold"] is None or isinstance(written[f"{name}.val_threshold"], float)
        assert 0 <= written[f"{name}.weighted"] <= 100 and 0 <= written[f"{name}.best_of_n"] <= 100
    assert written["verifier.name"] in ("prm", "implicit", "verdict", "likelihood")
    assert written["verifier.weighted"] == written[f"{written['verifier.name']}.weighted"]
    assert written["bon.n"] == 4 and written["labels.mc.rollouts"] > written["labels.omegaprm.rollouts"] > 0
    report = (tmp_path / "report.md").read_text()
    assert "Every verifier on the same held-out solutions" in report and "first-error" in report
    assert "self-certainty" in report and "Best trained verifier" in report
    for plot in ("verifiers.png", "bon.png", "labels.png"):
        assert (tmp_path / plot).stat().st_size > 1000
    assert (tmp_path / "prm" / "config.json").exists() and (tmp_path / "implicit" / "prmkit.json").exists()
    stored = json.loads((tmp_path / "likelihood" / "prmkit.json").read_text())
    assert stored["family"] == "likelihood" and "calibrated_on" in stored
    # Resuming into the same folder with other labelling settings is refused, not silently mixed.
    with pytest.raises(ValueError):
        run_demo(DemoConfig(out=str(tmp_path), **{**TINY, "rollouts": 3, "omegaprm_rollouts": 3}))


def test_demo_config_lists_every_error():
    from prmkit.demo import DemoConfig

    with pytest.raises(ValueError, match="test_problems must be >= 1.*prm_label_mode"):
        DemoConfig(test_problems=0, prm_label_mode="fuzzy")
    with pytest.raises(ValueError, match="verifier_retry_samples must be >= 0.*verifier_sample_growth must be >= 1.*retry_temperature"):
        DemoConfig(verifier_retry_samples=-1, verifier_sample_growth=0.5, verifier_retry_temperature=0)


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


def test_report_shows_intervals_and_dashes_for_undefined_numbers():
    from prmkit.demo import DemoConfig, _report

    nan = float("nan")

    def cell(value, low, high):
        return {"value": value, "low": low, "high": high}

    row = {"f1": cell(nan, nan, nan), "weighted": cell(59.0, 52.5, 65.0), "best": cell(34.1, 28.0, 40.5),
           "majority": cell(60.9, 54.0, 67.5)}
    f1 = {"error_acc": 20.0, "correct_acc": 70.0, "f1": 31.1}
    evaluation = {
        "solutions": 64, "n": 16, "comparison": {"prm": row}, "selection_weighted": {"prm": 58.0},
        "f1": {"prm": f1}, "f1_val_threshold": {"prm": {"error_acc": nan, "correct_acc": nan, "f1": nan, "threshold": None}},
    }
    agreement = {"mc": {"rollouts": 100, "rollouts_per_solution": 10.0, "first_error_accuracy": 70.0, "step_accuracy": 88.0}}
    metrics = {"policy_pass_at_1": 46.9, "elapsed_seconds": 350.0, "verifier.name": "prm", "verifier.processbench_f1": nan,
               "verifier.weighted": 59.0, "bon.majority": 60.9, "bon.oracle_weighted": 85.9, "verifier.gap_closed": -7.6}
    report = _report(metrics, evaluation, agreement, [], DemoConfig())
    assert "| token-cls PRM (MC labels) | — | 59.0 [52.5, 65.0] | 34.1 [28.0, 40.5] |" in report
    assert "| majority vote (no verifier) | — | 60.9 [54.0, 67.5] | — |" in report
    assert "closes **-7.6%** of the gap" in report and "nan" not in report
    assert "| prm | 20.0 | 70.0 | 31.1 | — | — |" in report

