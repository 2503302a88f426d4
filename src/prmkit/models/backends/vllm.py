"""vLLM backend: score steps with vLLM's pooling runner, reading outputs where the family says.

Targets the pooling API of vLLM **0.11.2 – 0.18** (the range whose documented names this adapter
uses; it is not installable on prmkit's CI, so the tests drive a fake ``vllm`` module that checks
every call):

* ``LLM(model=path, runner="pooling", pooler_config=PoolerConfig(...), **llm_options)``
  (vllm/entrypoints/llm.py; ``vllm.config.PoolerConfig``; ``pooler_config`` replaced
  ``override_pooler_config`` in 0.11).
* ``LLM.encode(prompts, pooling_task="token_classify" | "classify", pooling_params=PoolingParams(
  use_activation=False), use_tqdm=...)`` with pre-tokenized prompts ``{"prompt_token_ids": [...]}``
  (vllm/tasks.py ``PoolingTask``; vllm/pooling_params.py ``PoolingParams``).
* STEP pooling for LM-head PRMs (Math-Shepherd style): ``PoolerConfig(pooling_type="STEP",
  returned_token_ids=[good_id, bad_id])``; without ``step_tag_id`` every token's logits over the
  returned ids come back, and prmkit reads them at the family's ``step_positions``.
* ``Qwen2ForProcessRewardModel`` keeps its own default (STEP pooling at ``<extra_0>``, one row per
  step tag); :func:`read_step_scores` accepts both one row per token and one row per step.

The adapter asks for raw logits (``use_activation=False``) and applies the family's own head math
in :func:`read_step_scores`, so a score means exactly what it means with the transformers backend,
whatever activation default a vLLM version picks.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prmkit.models import ScoringItem

__all__ = ["HEADS", "VLLM_VERSION_RANGE", "VLLMScorer", "pooling_task_for", "read_step_scores", "token_id"]

VLLM_VERSION_RANGE = ">=0.11.2,<0.19"
HEADS = ("lm_tokens", "two_class", "value", "token_cls", "sequence")


def pooling_task_for(head: str) -> str:
    """vLLM pooling task for a family head: ``"classify"`` for sequence heads, else ``"token_classify"``.

    Raises:
        ValueError: ``head`` is not one of :data:`HEADS`.
    """
    if head not in HEADS:
        raise ValueError(f"unknown family head {head!r}; expected one of {', '.join(HEADS)}")
    return "classify" if head == "sequence" else "token_classify"


def token_id(tokenizer: Any, token: str | int) -> int:
    """The id of a single token (``"+"``, ``"<extra_0>"``); ints pass through.

    Raises:
        ValueError: the text is not exactly one token for this tokenizer.
    """
    if isinstance(token, int):
        return token
    ids = tokenizer.encode(token, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(
            f"token {token!r} encodes to {len(ids)} ids {ids} with this tokenizer; the family needs it to be "
            "exactly one token — is --path the right model for this family?"
        )
    return int(ids[0])


def _softmax_first(row: Sequence[float], index: int) -> float:
    top = max(row)
    exps = [math.exp(x - top) for x in row]
    return exps[index] / sum(exps)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _row_score(head: str, row: Sequence[float], where: str) -> float:
    """One position's logits -> P(correct), by the family head (see ``prmkit.models.families``)."""
    expected = {"lm_tokens": (2,), "two_class": (2,), "token_cls": (2,), "value": (1,), "sequence": (1, 2)}[head]
    if len(row) not in expected:
        raise ValueError(
            f"{where}: head {head!r} expects {' or '.join(map(str, expected))} logits per position, got {len(row)}"
        )
    if head == "lm_tokens":  # logits over [positive, negative]: P(positive)
        return _softmax_first(row, 0)
    if len(row) == 1:  # value head / single-logit classifier
        return _sigmoid(row[0])
    return _softmax_first(row, 1)  # two-class head: P(label 1 = correct)


def read_step_scores(
    head: str, data: Any, input_ids: Sequence[int], step_positions: Sequence[int], where: str = "item"
) -> list[float | None]:
    """Turn one prompt's pooled logits into P(step correct) per step.

    Args:
        head: the family head (:data:`HEADS`).
        data: the pooled output (tensor or nested list): shape ``(T, C)`` with one row per token,
            ``(S, C)`` with one row per step (STEP pooling at a step tag), or ``(C,)`` for
            ``head="sequence"``. ``C`` is 2 for ``lm_tokens`` (positive, negative logits), 1 or 2 otherwise.
        input_ids: the prompt's ``T`` token ids.
        step_positions: the ``S`` positions whose rows score the steps.
        where: names the item in error messages.

    Returns:
        ``S`` scores in [0, 1]; for ``head="sequence"`` only the last step is scored, the others ``None``.

    Raises:
        ValueError: the output's shape fits neither one row per token nor one row per step.
    """
    rows = data.tolist() if hasattr(data, "tolist") else list(data)
    n_steps = len(step_positions)
    if head == "sequence":
        flat = rows[0] if rows and isinstance(rows[0], list) else rows
        return [None] * (n_steps - 1) + [_row_score(head, flat, where)] if n_steps else []
    if len(rows) == len(input_ids):
        picked = [rows[p] for p in step_positions]
    elif len(rows) == n_steps:
        picked = rows
    else:
        raise ValueError(
            f"{where}: vLLM returned {len(rows)} rows; expected one per token ({len(input_ids)}) or one per "
            f"step ({n_steps}). Check the model's pooler config (step_tag_id) against the family."
        )
    return [_row_score(head, row if isinstance(row, list) else [row], f"{where} step {i}") for i, row in enumerate(picked)]


class VLLMScorer:
    """A family's scorer run on vLLM's pooling runner.

    Args:
        spec: the family (``prmkit.models.families.FamilySpec``): ``encode``, ``head``, and for
            ``lm_tokens`` ``label_token_ids`` (or ``positive_token``/``negative_token``);
            ``check_tokenizer`` runs at load time when set.
        path: model directory or hub id handed to ``vllm.LLM(model=...)``.
        tokenizer: a tokenizer object, or a directory/hub id (then also passed to ``vllm.LLM``);
            default: vLLM's own tokenizer of ``path``, except for ``lm_tokens`` families and
            checkpoints prmkit trained (``prmkit.json``), which are read before the engine starts with
            :func:`prmkit.models._tokenizer.checkpoint_tokenizer` (prompts go in as token ids).
        use_tqdm: show vLLM's progress bar during ``encode``.
        **llm_options: passed to ``vllm.LLM`` (``dtype``, ``tensor_parallel_size``,
            ``gpu_memory_utilization``, ``max_model_len``, ...).

    Raises:
        ImportError: vLLM is not installed (``pip install 'prmkit[vllm]'``).
        ValueError: the family's head is unknown or its tokens are not single tokens.

    Example:
        >>> scorer = load_scorer("math-shepherd", path="peiyi9979/math-shepherd-mistral-7b-prm",
        ...                      backend="vllm")                                # doctest: +SKIP
        >>> scorer.score([("1+1?", ["1+1=2", "The answer is 2"])])              # doctest: +SKIP
    """

    def __init__(
        self, spec: Any, path: str, *, tokenizer: Any = None, use_tqdm: bool = True, **llm_options: Any
    ) -> None:
        try:
            import vllm
        except ImportError as err:
            raise ImportError(
                f"backend='vllm' needs vLLM ({VLLM_VERSION_RANGE}): pip install 'prmkit[vllm]', "
                "or use backend='transformers'"
            ) from err
        self.spec = spec
        self.head = spec.head
        self.pooling_task = pooling_task_for(self.head)
        self.use_tqdm = use_tqdm
        self._vllm = vllm
        tok = tokenizer
        named = isinstance(tokenizer, (str, os.PathLike))
        prmkit_trained = (Path(path) / "prmkit.json").is_file()
        if named or (tokenizer is None and (self.head == "lm_tokens" or prmkit_trained)):
            # STEP pooling needs the returned ids before the engine exists, hence the tokenizer first;
            # a checkpoint prmkit trained is tokenized (prompts go in as ids) as its trainer did.
            from prmkit.models._tokenizer import checkpoint_tokenizer

            if named:
                llm_options.setdefault("tokenizer", str(tokenizer))
            tok = checkpoint_tokenizer(tokenizer, path)
        if self.head == "lm_tokens":
            if getattr(spec, "label_token_ids", None) is not None:
                returned = [int(i) for i in spec.label_token_ids(tok)]
            else:
                returned = [token_id(tok, spec.positive_token), token_id(tok, spec.negative_token)]
            from vllm.config import PoolerConfig

            llm_options.setdefault("pooler_config", PoolerConfig(pooling_type="STEP", returned_token_ids=returned))
        self.llm = vllm.LLM(model=path, runner="pooling", **llm_options)
        self.tokenizer = tok if tok is not None else self.llm.get_tokenizer()
        self._check_tokenizer()

    def _check_tokenizer(self) -> None:
        check = getattr(self.spec, "check_tokenizer", None)
        if check is not None:
            check(self.tokenizer)

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        """Score all items in one ``LLM.encode`` call (vLLM schedules the batches); input order kept."""
        if not items:
            return []
        encoded = [self.spec.encode(self.tokenizer, question, list(steps)) for question, steps in items]
        prompts = [{"prompt_token_ids": list(e.input_ids)} for e in encoded]
        outputs = self.llm.encode(
            prompts,
            pooling_task=self.pooling_task,
            pooling_params=self._vllm.PoolingParams(use_activation=False),
            use_tqdm=self.use_tqdm,
        )
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
        return [
            read_step_scores(self.head, out.outputs.data, enc.input_ids, enc.step_positions, where=f"item {i}")
            for i, (out, enc) in enumerate(zip(outputs, encoded))
        ]
