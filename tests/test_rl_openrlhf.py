"""The OpenRLHF adapter: reward_func(queries, prompts, labels) -> {"rewards", "scores", "extra_logs"}."""

import importlib.util
import inspect

import pytest
import torch

from prmkit.rl.openrlhf import make_reward_func


class KeywordScorer:
    def __init__(self):
        self.calls = 0

    def score(self, items):
        self.calls += 1
        return [[0.2 if "oops" in step else 0.8 for step in steps] for _, steps in items]


PROMPTS = ["Q: 2+3?\nA:", "Q: 2+3?\nA:", "Q: 1+1?\nA:"]
RESPONSES = [" 2+3=5\n\nThe answer is 5<|im_end|>", " oops 2+3=6\n\nThe answer is 6", ""]
LABELS = ["5", "5", "2"]


def test_contract_and_values():
    scorer = KeywordScorer()
    reward_func = make_reward_func(scorer, verifiable_coef=0.5)
    assert list(inspect.signature(reward_func).parameters) == ["queries", "prompts", "labels"]
    out = reward_func([p + r for p, r in zip(PROMPTS, RESPONSES)], PROMPTS, LABELS)
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert scorer.calls == 1
    assert out["extra_logs"]["prm"].tolist() == pytest.approx([0.8, 0.2, 0.0])
    assert out["scores"].tolist() == [1.0, 0.0, 0.0]  # verifier verdicts, in [0, 1]
    assert out["rewards"].tolist() == pytest.approx([1.3, 0.2, 0.0])
    assert out["extra_logs"]["num_steps"].tolist() == [2.0, 2.0, 0.0]
    assert all(isinstance(v, torch.Tensor) for v in out["extra_logs"].values())


def test_prm_only_and_min_aggregation():
    reward_func = make_reward_func(KeywordScorer(), verifier=None)
    out = reward_func(["Q a\n\noops b"], ["Q"], [None])
    assert out["rewards"].tolist() == pytest.approx([0.2]) and torch.equal(out["rewards"], out["scores"])


def test_loads_from_a_file_like_openrlhf(tmp_path):
    # OpenRLHF imports the module at --remote_rm_url and calls its `reward_func`.
    path = tmp_path / "reward_func.py"
    path.write_text(
        "from prmkit.models import load_scorer\n"
        "from prmkit.rl.openrlhf import make_reward_func\n"
        "reward_func = make_reward_func(load_scorer('dummy', value=0.7), verifiable_coef=1.0)\n"
    )
    spec = importlib.util.spec_from_file_location("reward_func", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.reward_func(["P 1+1=2\n\nThe answer is 2"], ["P"], ["2"])
    assert out["rewards"].tolist() == pytest.approx([1.7])


def test_errors_name_the_fix():
    reward_func = make_reward_func(KeywordScorer())
    with pytest.raises(ValueError, match="pass response_from_query="):
        reward_func(["something else"], ["Q:"], ["1"])
    with pytest.raises(ValueError, match="got 1 queries, 2 prompts, 1 labels"):
        reward_func(["Q: x"], ["Q:", "Q:"], ["1"])
    with pytest.raises(ValueError, match="Unknown aggregation 'max'"):
        make_reward_func(KeywordScorer(), aggregate_how="max")
