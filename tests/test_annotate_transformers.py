"""Annotators driving the real transformers Generator (tiny random-weight char GPT-2, arith task).

Random weights write nonsense, so this pins the plumbing, not label quality: prompts built from
step prefixes reach the model, ``n`` rollouts per prefix come back, costs add up, and the same seed
gives the same labels. The shipped policy is exercised by the ``slow`` test and the benchmark.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prmkit.annotate import AnnotationUnit, MCAnnotator, OmegaPRMAnnotator, agreement
from prmkit.tasks.arith import ArithTask
from prmkit.types import Solution

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def generator(one_thread):
    from prmkit.generation.transformers import TransformersGenerator
    from prmkit.train.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tok), n_layer=1, n_embd=16, n_head=2, n_positions=128,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    return TransformersGenerator(transformers.GPT2LMHeadModel(config), tok, device="cpu", progress=False)


def test_mc_and_omegaprm_run_on_the_transformers_generator(generator):
    task = ArithTask(difficulty="easy", num_test=2, seed=0)
    problems = task.problems("test")
    units = [AnnotationUnit(p, [Solution(p.id, task.reference_steps(p))]) for p in problems]
    mc = MCAnnotator(generator, task, n=2, max_new_tokens=8, seed=1)
    records = mc.annotate(units)
    assert mc.roller.calls == 1
    assert mc.roller.rollouts == sum(2 * (len(u.solutions[0].steps) - 1) for u in units)
    # The reference solutions are right: the last label is 1.0 whatever the random rollouts say.
    assert all(r.labels.labels[-1] == 1.0 and r.solution.correct for r in records)
    again = MCAnnotator(generator, task, n=2, max_new_tokens=8, seed=1).annotate(units)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in records]
    assert agreement(task, records).solutions == 2

    tree = OmegaPRMAnnotator(generator, task, n=2, budget=4, max_new_tokens=8, mode="tree")
    tree.annotate([AnnotationUnit(p) for p in problems])
    assert 4 <= tree.roller.rollouts <= 8  # root estimates, plus at most one probe each (budget 4)


POLICY = Path(os.environ.get("PRMKIT_ARITH_POLICY", Path(__file__).resolve().parents[1] / "src/prmkit/assets/arith_policy"))


@pytest.mark.slow
@pytest.mark.skipif(not POLICY.is_dir(), reason="the shipped arith policy is not built yet")
def test_shipped_policy_labels_agree_with_exact_labels(one_thread):
    from prmkit.annotate import SolutionSampler
    from prmkit.generation import load_generator

    task = ArithTask(num_test=16)
    policy = load_generator("transformers", model=str(POLICY), device="cpu", progress=False)
    problems = task.problems("test")
    units = [AnnotationUnit(p, s) for p, s in zip(problems, SolutionSampler(policy, task, samples=2)(problems))]
    mc = agreement(task, MCAnnotator(policy, task, n=8).annotate(units))
    omega = agreement(task, OmegaPRMAnnotator(policy, task, n=8, mode="solution").annotate(units))
    assert mc.first_error_accuracy > 0.5 and omega.first_error_accuracy > 0.5
    assert omega.rollouts < mc.rollouts
