"""verl adapter: a ``compute_score`` function, a dense PRM reward manager, and PURE's estimator.

Three pieces, matching verl's documented extension points (checked against verl 0.9.1):

* :func:`make_compute_score` — verl's custom reward function signature
  ``compute_score(data_source, solution_str, ground_truth, extra_info=None) -> float | dict``
  (``custom_reward_function.path``): ``aggregate(PRM step scores) + coef * correct``. One scalar
  per response, placed by verl at EOS; works with every verl reward manager.
* :class:`PRMRewardManager` — the batch reward-manager interface of ``verl.workers.reward_manager``
  (``__init__(tokenizer, num_examine, compute_score, reward_fn_key, **kwargs)`` and
  ``__call__(data: DataProto, return_dict=False)``). It splits each response into steps by token
  (:mod:`prmkit.rl.steps`), scores every step of the batch in one ``scorer.score`` call, shapes the
  step rewards with a credit rule (``min_form`` by default), puts them on step-end tokens, adds the
  verifiable reward (``compute_score``) at EOS, and — with ``baseline="pure"`` — subtracts PURE's
  leave-one-out baselines per prompt group (verl's ``uid``). It returns the dense
  ``(batch, response_len)`` ``reward_tensor`` and per-response ``reward_extra_info`` lists.
* :func:`pure_estimator` — registered by :func:`register_with_verl` as the advantage estimator
  ``"prmkit_pure"`` (``algorithm.adv_estimator=prmkit_pure``): PURE's returns, the reverse
  cumulative sum of the (already baselined) token rewards, with advantages = returns.

verl >= 0.8's experimental "reward loop" scores one sample at a time and puts a scalar at EOS; dense
per-token PRM rewards with group baselines need the batch manager above (verl's legacy
``reward_manager`` registry, still shipped in 0.9).

Usage in a verl launcher (before the trainer is built)::

    import prmkit.rl.verl as pv
    pv.register_with_verl()   # reward manager "prmkit_prm", advantage estimator "prmkit_pure"

``import prmkit.rl.verl`` itself does not import verl; only :func:`register_with_verl` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from prmkit.models import Scorer, load_scorer
from prmkit.models.aggregate import AGGREGATIONS, aggregate
from prmkit.rl._text import answer_is_correct, score_responses
from prmkit.rl.advantages import discounted_returns, pure_token_rewards
from prmkit.rl.credit import shape
from prmkit.rl.rewards import place_on_tokens, step_rewards_from_scores
from prmkit.rl.steps import DEFAULT_SEPARATOR, TokenSteps, separator_token_ids, split_tokens

__all__ = ["PRMRewardManager", "make_compute_score", "pure_estimator", "register_with_verl"]

REWARD_MANAGER_NAME = "prmkit_prm"
ESTIMATOR_NAME = "prmkit_pure"


def _verifiable(solution_str: str, ground_truth: Any, **_: Any) -> float:
    return answer_is_correct(solution_str, ground_truth)


def make_compute_score(
    scorer: Scorer,
    *,
    aggregate_how: str = "min",
    separator: str = DEFAULT_SEPARATOR,
    question_key: str = "question",
    verifier: Callable[[str, Any], float] | None = answer_is_correct,
    verifiable_coef: float = 1.0,
) -> Callable[..., dict[str, float]]:
    """Build a verl ``compute_score`` that adds a PRM's aggregated step score to the verifier's verdict.

    Args:
        scorer: any :class:`prmkit.models.Scorer`.
        aggregate_how: aggregation of the step scores (``"min"`` by default).
        separator: the text between the policy's steps.
        question_key: key of the bare question in ``extra_info`` (verl's GSM8K/MATH preprocessing
            scripts store it as ``"question"``).
        verifier: ``(solution_str, ground_truth) -> 0/1``; None for a PRM-only score.
        verifiable_coef: weight of the verifier's verdict.

    Returns:
        ``compute_score(data_source, solution_str, ground_truth, extra_info=None)`` returning
        ``{"score": prm + coef * acc, "prm": prm, "acc": acc, "num_steps": n}`` (verl logs every key).

    Raises:
        ValueError: unknown aggregation; at call time, ``extra_info`` without ``question_key``.
    """
    if aggregate_how not in AGGREGATIONS:
        raise ValueError(f"Unknown aggregation {aggregate_how!r}; choose one of {', '.join(AGGREGATIONS)}")

    def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None, **_: Any) -> dict[str, float]:
        if not extra_info or question_key not in extra_info:
            raise ValueError(
                f"extra_info has no {question_key!r} (keys: {sorted(extra_info or {})}); store the bare question "
                f"there in your preprocessing, or pass question_key= to make_compute_score"
            )
        steps, scores = score_responses(scorer, [str(extra_info[question_key])], [solution_str], separator)
        prm = aggregate(scores[0], aggregate_how)
        acc = float(verifier(solution_str, ground_truth)) if verifier is not None else 0.0
        return {"score": prm + verifiable_coef * acc, "prm": prm, "acc": acc, "num_steps": float(len(steps[0]))}

    return compute_score


class PRMRewardManager:
    """Dense PRM rewards for verl: step rewards on step-end tokens, verifiable reward at EOS.

    Args:
        tokenizer: the policy's tokenizer (decodes responses, finds separator tokens).
        num_examine: how many decoded responses to print per call (verl's debugging convention).
        compute_score: the verifiable reward, verl's ``compute_score(data_source, solution_str,
            ground_truth, extra_info)`` (a float or a dict with ``"score"``); default: prmkit's
            final-answer check. verl passes its configured function here.
        reward_fn_key: the ``non_tensor_batch`` key holding the data source.
        scorer: a :class:`prmkit.models.Scorer`, or a registered scorer name (from verl's YAML
            ``reward_kwargs``) built with ``scorer_options``.
        scorer_options: keyword arguments of :func:`prmkit.models.load_scorer`.
        credit: credit rule name (:data:`prmkit.rl.CREDIT_RULES`); ``"min_form"`` by default.
        credit_params: its keyword arguments (e.g. ``{"temperature": 0.1}``).
        reward_kind: ``"p_minus_n"`` (PURE's ``p+ - p-``) or ``"p"``.
        separator: the text that ends a policy step.
        separator_ids: precomputed :func:`prmkit.rl.steps.separator_token_ids` (else built here).
        verifiable_coef: weight of the verifiable reward (0 disables it).
        baseline: ``"pure"`` subtracts PURE's leave-one-out baselines per ``uid`` group (use with the
            ``"prmkit_pure"`` estimator); ``None`` returns the raw shaped rewards (for verl's own
            estimators, e.g. ``reinforce_plus_plus``).
        question_key: ``extra_info`` key of the bare question shown to the PRM; when absent the
            decoded prompt is used.

    Raises:
        ValueError: unknown ``baseline`` / credit rule / reward kind.
    """

    def __init__(
        self,
        tokenizer: Any,
        num_examine: int = 0,
        compute_score: Callable[..., Any] | None = None,
        reward_fn_key: str = "data_source",
        *,
        scorer: Scorer | str,
        scorer_options: Mapping[str, Any] | None = None,
        credit: str = "min_form",
        credit_params: Mapping[str, Any] | None = None,
        reward_kind: str = "p_minus_n",
        separator: str = DEFAULT_SEPARATOR,
        separator_ids: frozenset[int] | None = None,
        verifiable_coef: float = 1.0,
        baseline: str | None = "pure",
        question_key: str = "question",
        **_: Any,
    ) -> None:
        if baseline not in (None, "pure"):
            raise ValueError(f"baseline={baseline!r}; choose 'pure' or None")
        from prmkit.rl import CREDIT_RULES

        CREDIT_RULES.get(credit)  # fail now on an unknown rule, listing the valid ones
        step_rewards_from_scores([], reward_kind)  # validates reward_kind
        self.tokenizer = tokenizer
        self.num_examine = num_examine
        self.compute_score = compute_score or _verifiable
        self.reward_fn_key = reward_fn_key
        self.scorer = load_scorer(scorer, **dict(scorer_options or {})) if isinstance(scorer, str) else scorer
        self.credit = credit
        self.credit_params = dict(credit_params or {})
        self.reward_kind = reward_kind
        self.separator = separator
        self.separator_ids = separator_ids if separator_ids is not None else separator_token_ids(tokenizer, separator)
        self.verifiable_coef = verifiable_coef
        self.baseline = baseline
        self.question_key = question_key

    def __call__(self, data: Any, return_dict: bool = False) -> torch.Tensor | dict[str, Any]:
        """Score a verl batch (``DataProto``: ``prompts``, ``responses``, ``attention_mask`` in
        ``batch``; ``reward_model``, ``extra_info``, ``uid`` and the data source in ``non_tensor_batch``).

        Returns:
            The ``(batch, response_len)`` float reward tensor, or with ``return_dict`` a dict with
            ``"reward_tensor"`` and ``"reward_extra_info"`` (lists, one entry per response:
            ``prm_min``, ``num_steps``, ``tokens_per_step``, ``acc``).
        """
        prompts = data.batch["prompts"]
        responses = data.batch["responses"]
        attention = data.batch["attention_mask"]
        non_tensor = data.non_tensor_batch
        batch, response_len = responses.shape
        prompt_len = prompts.shape[-1]
        response_mask = attention[:, prompt_len:].bool()
        lengths = response_mask.sum(dim=1).tolist()
        extra_infos = list(non_tensor.get("extra_info", [None] * batch))

        splits: list[TokenSteps] = []
        questions: list[str] = []
        texts: list[str] = []
        for i in range(batch):
            ids = responses[i, : lengths[i]].tolist()
            splits.append(split_tokens(ids, self.tokenizer, self.separator_ids, self.separator))
            texts.append(self.tokenizer.decode(ids, skip_special_tokens=True))
            info = extra_infos[i] if isinstance(extra_infos[i], Mapping) else {}
            if self.question_key in info:
                questions.append(str(info[self.question_key]))
            else:
                prompt_ids = prompts[i][attention[i, :prompt_len].bool()].tolist()
                questions.append(self.tokenizer.decode(prompt_ids, skip_special_tokens=True))

        todo = [i for i, split in enumerate(splits) if split.steps]
        scored = self.scorer.score([(questions[i], splits[i].steps) for i in todo]) if todo else []
        scores: list[list[float | None]] = [[] for _ in range(batch)]
        for i, row in zip(todo, scored):
            scores[i] = list(row)
        step_rewards, step_mask = step_rewards_from_scores(scores, self.reward_kind)
        shaped = shape(self.credit, step_rewards, step_mask, **self.credit_params)
        dense = place_on_tokens(shaped, step_mask, [s.ends for s in splits], response_len)

        accs = []
        for i in range(batch):
            result = self.compute_score(
                data_source=non_tensor[self.reward_fn_key][i],
                solution_str=texts[i],
                ground_truth=non_tensor["reward_model"][i]["ground_truth"],
                extra_info=extra_infos[i],
            )
            accs.append(float(result["score"] if isinstance(result, Mapping) else result))
        acc = torch.tensor(accs, dtype=dense.dtype)

        if self.baseline == "pure":
            if "uid" not in non_tensor:
                raise ValueError(
                    "baseline='pure' needs prompt groups: data.non_tensor_batch has no 'uid' "
                    "(verl sets it when rollout.n > 1); pass baseline=None for a raw dense reward"
                )
            step_ends = torch.zeros_like(dense, dtype=torch.bool)
            for i, split in enumerate(splits):
                step_ends[i, split.ends] = True
            reward = pure_token_rewards(
                dense, step_ends, response_mask, list(non_tensor["uid"]),
                verifiable=acc if self.verifiable_coef else None, verifiable_coef=self.verifiable_coef,
            )
        else:
            reward = dense.clone()
            rows = [i for i in range(batch) if lengths[i] > 0]
            reward[rows, [lengths[i] - 1 for i in rows]] += self.verifiable_coef * acc[rows]

        for i in range(min(self.num_examine, batch)):
            print(f"[prmkit] response {i}: steps={splits[i].steps!r} prm={scores[i]} acc={accs[i]}")
        if not return_dict:
            return reward
        extra = {
            "prm_min": [aggregate(row, "min") for row in scores],
            "num_steps": [len(s.steps) for s in splits],
            "tokens_per_step": [sum(s.num_tokens) / len(s.steps) if s.steps else 0.0 for s in splits],
            "acc": accs,
        }
        return {"reward_tensor": reward, "reward_extra_info": extra}


def pure_estimator(
    token_level_rewards: torch.Tensor, response_mask: torch.Tensor, config: Any = None, **_: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """verl advantage estimator ``"prmkit_pure"``: returns = advantages = reverse cumsum of the rewards.

    PURE (Cheng et al. 2025, arXiv:2504.15275) computes ``returns = rewards.fliplr().cumsum().fliplr()``
    after its min-form shaping and leave-one-out baselines, and uses the returns as advantages. Feed
    it the output of :class:`PRMRewardManager` with ``baseline="pure"`` (verl adds the KL penalty to
    the rewards first when ``use_kl_in_reward`` is set, as PURE does).

    Args:
        token_level_rewards: ``(batch, response_len)`` rewards.
        response_mask: ``(batch, response_len)`` valid-token mask.
        config: verl's algorithm config (unused).

    Returns:
        ``(advantages, returns)``, both ``(batch, response_len)``.
    """
    returns = discounted_returns(token_level_rewards.float(), response_mask.bool(), gamma=1.0)
    return returns.clone(), returns


def register_with_verl(
    manager_name: str = REWARD_MANAGER_NAME, estimator_name: str = ESTIMATOR_NAME
) -> tuple[type, Callable[..., Any]]:
    """Register :class:`PRMRewardManager` and :func:`pure_estimator` in verl's registries.

    Idempotent. Returns ``(manager_class, estimator)`` as registered (the manager is subclassed from
    verl's ``AbstractRewardManager`` so verl's type checks pass).

    Raises:
        ImportError: verl is not installed (``pip install verl``).
    """
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, register_adv_est
    from verl.workers.reward_manager import register
    from verl.workers.reward_manager.abstract import AbstractRewardManager
    from verl.workers.reward_manager.registry import REWARD_MANAGER_REGISTRY

    manager = REWARD_MANAGER_REGISTRY.get(manager_name)
    if manager is None:
        manager = register(manager_name)(type("PRMRewardManager", (PRMRewardManager, AbstractRewardManager), {}))
    if ADV_ESTIMATOR_REGISTRY.get(estimator_name) is not pure_estimator:
        register_adv_est(estimator_name)(pure_estimator)
    return manager, pure_estimator
