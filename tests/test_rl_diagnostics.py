import pytest

from prmkit.rl.diagnostics import hacking_diagnostics


def test_diagnostics_by_hand():
    steps = [["Step 1: 2+3=5", "step 1:  2+3=5", "Answer 5"], ["4*2=8", "Answer 8"], ["Answer 9"]]
    d = hacking_diagnostics(
        steps,
        num_tokens=[[6, 6, 3], [4, 3], [3]],
        truncated=[False, False, True],
        prm_scores=[[0.9, 0.9, 0.8], [0.9, 0.3], [0.7]],
        correct=[True, True, False],
    )
    assert d.steps_per_response == pytest.approx(2.0)
    assert d.tokens_per_step == pytest.approx(25 / 6)
    assert d.repeated_step_ratio == pytest.approx(1 / 6)  # one repeat after case/space folding
    assert d.truncation_ratio == pytest.approx(1 / 3)
    # min scores 0.8, 0.3, 0.7 -> PRM says (T, F, T); verifier (T, T, F): disagree on 2 of 3
    assert d.prm_verifier_disagreement == pytest.approx(2 / 3)
    assert d.prm_score == pytest.approx(0.6)
    assert set(d.to_dict()) >= {"steps_per_response", "repeated_step_ratio", "prm_verifier_disagreement"}


def test_optional_inputs_and_errors():
    d = hacking_diagnostics([["a"], []])
    assert d.tokens_per_step is None and d.truncation_ratio is None and d.prm_verifier_disagreement is None
    assert d.steps_per_response == 0.5
    with pytest.raises(ValueError, match="truncated has 1 entries for 2 responses"):
        hacking_diagnostics([["a"], ["b"]], truncated=[True])
    with pytest.raises(ValueError, match="at least one response"):
        hacking_diagnostics([])
