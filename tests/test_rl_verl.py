"""The verl adapter, against a fake of verl's batch interface and (when verl imports) the real classes."""

import numpy as np
import pytest
import torch

from prmkit.models import load_scorer
from prmkit.rl.verl import PRMRewardManager, make_compute_score, pure_estimator

from ._rl_fakes import FakeDataProto, KeywordScorer, PieceTokenizer

PIECES = ["<pad>", "2+3=5", ".\n\n", "\n\n", "oops", "The answer is 5", "Q", " 2+3?", "The answer is 6"]
SEPS = frozenset({2, 3})


def _batch():
    prompts = torch.tensor([[0, 6, 7], [0, 6, 7]])
    responses = torch.tensor([[1, 2, 5, 0, 0], [4, 3, 1, 3, 8]])  # 3 valid tokens; 5 valid tokens
    attention = torch.cat([torch.tensor([[0, 1, 1], [0, 1, 1]]), (responses != 0).long()], dim=1)
    return {
        "tensors": {"prompts": prompts, "responses": responses, "attention_mask": attention},
        "non_tensors": {
            "data_source": ["openai/gsm8k"] * 2,
            "reward_model": [{"ground_truth": "5"}, {"ground_truth": "5"}],
            "extra_info": [{"question": "What is 2+3?"}, {}],
            "uid": ["a", "a"],
        },
    }


def _manager(**kwargs):
    scorer = KeywordScorer()
    options = {"scorer": scorer, "separator_ids": SEPS, **kwargs}
    return PRMRewardManager(PieceTokenizer(PIECES), 0, **options), scorer


def test_dense_rewards_on_step_ends_and_eos_without_baseline():
    manager, scorer = _manager(credit="sum", reward_kind="p", baseline=None)
    out = manager(FakeDataProto(**_batch()), return_dict=True)
    # r0 steps end at tokens 1, 2 (0.9 each), correct -> +1 at EOS (token 2)
    # r1 steps "oops" (0.1, ends 1), "2+3=5" (0.9, ends 3), "The answer is 6" (0.9, ends 4), wrong
    assert out["reward_tensor"].tolist() == [
        pytest.approx([0, 0.9, 1.9, 0, 0]),
        pytest.approx([0, 0.1, 0, 0.9, 0.9]),
    ]
    assert scorer.batches == [[("What is 2+3?", ["2+3=5.", "The answer is 5"]), ("Q 2+3?", ["oops", "2+3=5", "The answer is 6"])]]
    info = out["reward_extra_info"]
    assert info["num_steps"] == [2, 3] and info["acc"] == [1.0, 0.0]
    assert info["prm_min"] == pytest.approx([0.9, 0.1]) and info["tokens_per_step"] == pytest.approx([1.5, 5 / 3])


def test_pure_baselines_and_estimator_by_hand():
    manager, _ = _manager(credit="sum", reward_kind="p")
    reward = manager(FakeDataProto(**_batch()))
    # R0 = 1.8 (L0 = 3), R1 = 1.9 (L1 = 5): b0 = 1.9/5 = 0.38, b1 = 1.8/3 = 0.6
    # r0: 0.9 - 2*0.38 = 0.14 (t1); 0.9 - 0.38 + (1 - 0) = 1.52 (t2)
    # r1: 0.1 - 2*0.6 = -1.1 (t1); 0.9 - 2*0.6 = -0.3 (t3); 0.9 - 0.6 + (0 - 1) = -0.7 (t4)
    assert reward.tolist() == [pytest.approx([0, 0.14, 1.52, 0, 0]), pytest.approx([0, -1.1, 0, -0.3, -0.7])]
    mask = _batch()["tensors"]["attention_mask"][:, 3:]
    adv, ret = pure_estimator(token_level_rewards=reward, response_mask=mask, config=None, index=np.array(["a", "a"]))
    assert ret.tolist() == [pytest.approx([1.66, 1.66, 1.52, 0, 0]), pytest.approx([-2.1, -2.1, -1.0, -1.0, -0.7])]
    assert torch.equal(adv, ret)


def test_min_form_default_with_p_minus_n():
    manager, _ = _manager(credit_params={"temperature": 1e-4}, baseline=None, verifiable_coef=0.0)
    reward = manager(FakeDataProto(**_batch()))
    # r1: p+ - p- = (-0.8, 0.8, 0.8) -> min-form puts ~all weight on the worst step
    assert reward[1].tolist() == pytest.approx([0, -0.8, 0, 0, 0], abs=1e-6)
    assert reward[0].sum().item() == pytest.approx(0.8, abs=1e-6)


def test_manager_errors():
    data = _batch()
    del data["non_tensors"]["uid"]
    manager, _ = _manager()
    with pytest.raises(ValueError, match="has no 'uid'"):
        manager(FakeDataProto(**data))
    with pytest.raises(ValueError, match="baseline='grpo'"):
        _manager(baseline="grpo")
    with pytest.raises(KeyError, match="Unknown credit rule 'minform'"):
        _manager(credit="minform")


def test_compute_score_signature_and_values():
    compute_score = make_compute_score(load_scorer("dummy", value=0.6), verifiable_coef=0.5)
    out = compute_score("openai/gsm8k", "2+3=5\n\nThe answer is 5", "5", {"question": "What is 2+3?"})
    assert out == {"score": pytest.approx(1.1), "prm": 0.6, "acc": 1.0, "num_steps": 2.0}
    with pytest.raises(ValueError, match="extra_info has no 'question'"):
        compute_score("openai/gsm8k", "x", "5", {"index": 3})


@pytest.fixture(scope="module")
def verl_api():
    try:
        from verl import DataProto
        from verl.trainer.ppo.core_algos import get_adv_estimator_fn
        from verl.workers.reward_manager import get_reward_manager_cls
        from verl.workers.reward_manager.abstract import AbstractRewardManager
    except Exception as err:  # noqa: BLE001 — verl or any of its many dependencies may be missing
        pytest.skip(f"verl not importable here: {err}")
    from prmkit.rl.verl import register_with_verl

    register_with_verl()
    register_with_verl()  # idempotent
    return DataProto, get_reward_manager_cls, get_adv_estimator_fn, AbstractRewardManager


@pytest.mark.slow  # importing verl takes ~4 s; the fake-interface tests above cover the same path
def test_against_real_verl_classes(verl_api):
    DataProto, get_reward_manager_cls, get_adv_estimator_fn, AbstractRewardManager = verl_api
    cls = get_reward_manager_cls("prmkit_prm")
    assert issubclass(cls, AbstractRewardManager)
    spec = _batch()
    data = DataProto.from_dict(
        tensors=spec["tensors"], non_tensors={k: np.array(v, dtype=object) for k, v in spec["non_tensors"].items()}
    )
    manager = cls(tokenizer=PieceTokenizer(PIECES), num_examine=0, compute_score=None, reward_fn_key="data_source",
                  scorer=KeywordScorer(), separator_ids=SEPS, credit="sum", reward_kind="p")
    out = manager(data, return_dict=True)
    assert out["reward_tensor"].tolist() == [pytest.approx([0, 0.14, 1.52, 0, 0]), pytest.approx([0, -1.1, 0, -0.3, -0.7])]
    # called the way verl's compute_advantage calls a registered estimator
    estimator = get_adv_estimator_fn("prmkit_pure")
    _, ret = estimator(token_level_rewards=out["reward_tensor"], response_mask=data.batch["attention_mask"][:, 3:],
                       config=None, index=data.non_tensor_batch["uid"])
    assert ret[1].tolist() == pytest.approx([-2.1, -2.1, -1.0, -1.0, -0.7])
