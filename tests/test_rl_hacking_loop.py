"""The RL loop of ``benchmarks/rl_hacking.py`` on the shipped tiny policy: seeded, never crashes on long rollouts."""

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "src/prmkit/assets/arith_policy"


def _bench():
    spec = importlib.util.spec_from_file_location("rl_hacking", ROOT / "benchmarks/rl_hacking.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["rl_hacking"] = module  # dataclasses resolve the Config's annotations through it
    spec.loader.exec_module(module)
    return module


class _NoProgress:
    def add_task(self, *args, **kwargs):
        return 0

    def update(self, *args, **kwargs):
        pass


class ShortSightedPRM:
    """Scores every step 0.9 but reads only ``max_length`` characters (question + steps + separators)."""

    def __init__(self, max_length):
        self.max_length = max_length
        self.longest = 0

    def encode(self, question, steps):
        return SimpleNamespace(input_ids=[0] * (1 + len(question) + sum(len(s) + 1 for s in steps)))

    def score(self, items):
        for question, steps in items:
            length = len(self.encode(question, steps).input_ids)
            if length > self.max_length:  # what the token-cls scorer raises on an over-long item
                raise ValueError(f"item is {length} tokens long, over max_length={self.max_length}")
            self.longest = max(self.longest, length)
        return [[0.9] * len(steps) for _, steps in items]


@pytest.fixture(scope="module")
def setup():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prmkit.tasks import load_task

    torch.set_num_threads(1)
    bench = _bench()
    policy = json.loads((POLICY / "train_config.json").read_text())["config"]
    task = load_task("arith", difficulty=policy["difficulty"], seed=policy["task_seed"], num_train=200, num_test=4)
    return bench, task, AutoTokenizer.from_pretrained(POLICY), AutoModelForCausalLM.from_pretrained(POLICY)


def _config(bench, **overrides):
    args = ["--policy", str(POLICY), "--steps", "2", "--prompts-per-step", "2", "--samples-per-prompt", "2",
            "--eval-every", "2", "--eval-problems", "4", "--max-new-tokens", "48", "--ppo-epochs", "2"]
    for key, value in overrides.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    return bench.parse_config(args)


def test_same_seed_same_curve_other_seed_other_rollouts(setup):
    bench, task, tokenizer, base = setup
    scorers = {"prm": ShortSightedPRM(10_000)}
    runs = [bench.train_one("prm_min_verifiable", base, tokenizer, scorers, task, _config(bench, seed=s), _NoProgress())
            for s in (3, 3, 4)]
    assert runs[0] == runs[1]
    trained = [[p["loss"] for p in run if "loss" in p] for run in runs]
    assert trained[0] != trained[2]
    for point in runs[0]:
        if "kl" in point:
            assert point["kl"] >= 0.0  # k3 is never negative
    assert runs[0][-1]["step"] == 2 and "held_out_accuracy" in runs[0][-1]


def test_rollouts_longer_than_the_prm_are_cut_and_penalised_not_a_crash(setup):
    bench, task, tokenizer, base = setup
    prm = ShortSightedPRM(max_length=30)
    config = _config(bench, max_new_tokens=40, steps=1, eval_every=1)
    log = bench.train_one("prm_sum", base, tokenizer, {"prm": prm}, task, config, _NoProgress())
    assert prm.longest <= 30
    assert log[0]["read_truncated"] > 0  # some rollouts did not fit: cut and penalised, the run went on


def test_generation_cap_truncates_and_the_verifiable_reward_counts_it_wrong(setup):
    bench, task, tokenizer, base = setup
    config = _config(bench, max_new_tokens=3)
    samples = bench.rollouts(base, tokenizer, [task.prompt(p) for p in task.problems("train")[:2]], config, seed=0)
    assert all(s["truncated"] and len(s["ids"]) <= 3 for s in samples)
    log = bench.train_one("verifiable", base, tokenizer, {}, task, _config(bench, max_new_tokens=3, steps=1,
                                                                          eval_every=1), _NoProgress())
    assert log[0]["truncation_ratio"] == 1.0 and log[0]["prm_score"] is None
    # every rollout is wrong under the penalty, so the RLOO advantages and the policy-gradient part are 0
    assert log[0]["pg_loss"] == pytest.approx(0.0)


def test_generation_cap_respects_the_policys_positions(setup):
    bench, _, _, base = setup
    positions = base.config.n_positions
    assert bench.generation_cap(base, positions - 10, 160) == 10
    with pytest.raises(ValueError, match="none left"):
        bench.generation_cap(base, positions, 160)
