"""The implicit PRM: process rewards from a policy/reference log-likelihood ratio (EurusPRM / PRIME).

Reference: Yuan et al., "Free Process Rewards without Process Labels" (2024) and PRIME-RL/ImplicitPRM.
A model trained as an outcome reward model with reward ``r(y) = beta * log(pi(y) / pi_ref(y))`` gives
token-level rewards for free:

    q_t = sum_{i <= t} beta * log( pi(y_i | y_<i) / pi_ref(y_i | y_<i) )

The reward of step k is the same sum over that step's tokens (``q`` at its last token minus ``q`` at
the previous step's last token). prmkit maps it to [0, 1] with a sigmoid:

    mode="step"        P_k = sigmoid( sum_{t in step k} beta * log-ratio_t )
    mode="cumulative"  P_k = sigmoid( q at the end of step k )   (the implicit Q-value so far)

Checkpoint contract (written by ``prmkit train implicit``): ``DIR`` is a Hugging Face causal LM (the
trained pi) and ``DIR/prmkit.json`` is ``{"family": "implicit", "beta": <float>, "reference": <path>}``
with the reference path relative to ``DIR`` (usually ``"reference"``) or absolute. The input layout is
:func:`prmkit.models.formats.implicit.encode_implicit` (``question + "\\n"``, then each step + "\\n").

    >>> scorer = load_scorer("implicit", path="runs/implicit-prm")     # doctest: +SKIP
    >>> scorer.score([("What is 2+3?", ["2+3=5", "The answer is 5"])])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from prmkit.models.formats.implicit import ImplicitEncodedItem, encode_implicit

__all__ = ["MODES", "ImplicitScorer", "read_implicit_config"]

MODES = ("step", "cumulative")
CONFIG_FILE = "prmkit.json"


def read_implicit_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``DIR/prmkit.json`` (``{}`` when absent).

    Raises:
        ValueError: the file is not JSON, or names another family.
    """
    file = Path(path) / CONFIG_FILE
    if not file.exists():
        return {}
    try:
        config = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{file}: not valid JSON ({error})") from None
    if config.get("family", "implicit") != "implicit":
        raise ValueError(
            f"{file}: family is {config['family']!r}; load it with load_scorer({config['family']!r})"
        )
    return config


class ImplicitScorer:
    """Scores steps with ``beta * log(pi / pi_ref)`` summed over each step's tokens (see module docstring).

    Args:
        path: the policy checkpoint directory (or hub id) holding ``prmkit.json``.
        reference: the reference model path; default ``prmkit.json``'s ``reference`` (relative to ``path``).
        beta: the KL coefficient used in training; default ``prmkit.json``'s ``beta``.
        mode: ``"step"`` (sigmoid of each step's sum) or ``"cumulative"`` (sigmoid of the running sum).
        backend: only ``"transformers"``.
        tokenizer: tokenizer object or path (default: the policy's).
        device / dtype / max_batch_tokens / max_length / truncation / progress: as in
            :class:`prmkit.models.backends.transformers.TransformersScorer`.

    Raises:
        ValueError: missing beta/reference, unknown mode or backend, or policy/reference vocabularies
            that differ.
    """

    def __init__(
        self,
        path: str,
        reference: str | None = None,
        beta: float | None = None,
        mode: Literal["step", "cumulative"] = "step",
        *,
        backend: str = "transformers",
        tokenizer: Any = None,
        device: str | None = None,
        dtype: str | None = None,
        max_batch_tokens: int | None = None,
        max_length: int | None = None,
        truncation: str = "error",
        progress: bool = True,
    ) -> None:
        import transformers

        from prmkit.models.backends._loading import (
            dtype_kwargs,
            is_causal,
            resolve_batch_tokens,
            resolve_device,
            resolve_dtype,
        )
        from prmkit.models.backends._truncation import check_truncation

        if backend != "transformers":
            raise ValueError(
                f"implicit: backend={backend!r} is not supported; use backend='transformers'"
            )
        if mode not in MODES:
            raise ValueError(
                f"implicit: mode={mode!r}; choose one of {', '.join(MODES)}"
            )
        check_truncation(truncation)
        config = read_implicit_config(path) if os.path.isdir(path) else {}
        beta = beta if beta is not None else config.get("beta")
        reference = reference if reference is not None else config.get("reference")
        if beta is None or reference is None:
            missing = [
                name
                for name, value in (("beta", beta), ("reference", reference))
                if value is None
            ]
            raise ValueError(
                f"implicit: {path} gives no {' and no '.join(missing)}; pass {'/'.join(f'{m}=' for m in missing)} "
                f"or write them into {Path(path) / CONFIG_FILE}"
            )
        if not os.path.isabs(reference) and os.path.isdir(
            os.path.join(path, reference)
        ):
            reference = os.path.join(path, reference)
        self.beta, self.mode, self.reference_path = float(beta), mode, reference
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        from prmkit.models._tokenizer import checkpoint_tokenizer

        self.tokenizer = tokenizer = checkpoint_tokenizer(tokenizer, path)
        load = transformers.AutoModelForCausalLM.from_pretrained
        self.policy = load(path, **dtype_kwargs(self.dtype)).to(self.device).eval()
        self.reference = (
            load(reference, **dtype_kwargs(self.dtype)).to(self.device).eval()
        )
        sizes = {
            m.get_output_embeddings().weight.shape[0]
            for m in (self.policy, self.reference)
        }
        if len(sizes) != 1:
            raise ValueError(
                f"implicit: policy {path} and reference {reference} have different vocabularies {sorted(sizes)}; "
                "the reference must be the model the policy was trained from"
            )
        self.vocab_size = sizes.pop()
        # causal LMs under right padding need no attention mask (fused causal SDPA kernel)
        self._causal = all(
            is_causal(getattr(m, m.base_model_prefix), self.vocab_size)
            for m in (self.policy, self.reference)
        )
        self.max_batch_tokens = resolve_batch_tokens(max_batch_tokens, self.device)
        self.max_length = max_length or getattr(
            self.policy.config, "max_position_embeddings", None
        )
        self.truncation = truncation
        self.progress = progress
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = pad if pad is not None and pad < self.vocab_size else 0

    def encode(self, question: str, steps: Sequence[str]) -> ImplicitEncodedItem:
        """:func:`~prmkit.models.formats.implicit.encode_implicit` with this scorer's tokenizer."""
        return encode_implicit(self.tokenizer, question, list(steps))

    def score(
        self, items: Sequence[tuple[str, Sequence[str]]]
    ) -> list[list[float | None]]:
        """P(step correct) for every step, in input order (None for steps dropped by truncation).

        Raises:
            ValueError: a malformed or too-long item (names its index).
        """
        import torch

        from prmkit.models._logprobs import response_positions, token_log_probs
        from prmkit.models.backends._batching import pad_right, token_budget_batches
        from prmkit.models.backends._progress import progress_bar
        from prmkit.models.backends._truncation import encode_within

        results: list[list[float | None]] = [[None] * len(steps) for _, steps in items]
        todo = [i for i, (_, steps) in enumerate(items) if steps]
        prepared = {
            i: encode_within(
                self.encode,
                i,
                items[i][0],
                items[i][1],
                self.max_length,
                self.truncation,
            )
            for i in todo
        }
        lengths = [len(prepared[i][0].input_ids) for i in todo]
        with (
            torch.inference_mode(),
            progress_bar(len(todo), self.progress, "scoring (implicit)") as advance,
        ):
            for batch in token_budget_batches(lengths, self.max_batch_tokens):
                members = [prepared[todo[b]][0] for b in batch]
                ids, mask = pad_right(
                    [m.input_ids for m in members], self.pad_id, self.device
                )
                mask = None if self._causal else mask
                rows_t, cols_t, targets_t = response_positions(members, self.device)
                ratio = token_log_probs(self.policy, ids, mask, rows_t, cols_t, targets_t)[0]
                ratio -= token_log_probs(self.reference, ids, mask, rows_t, cols_t, targets_t)[0]
                token_rewards = (self.beta * ratio).tolist()
                offset = 0
                for b, member in zip(batch, members):
                    index, first = todo[b], prepared[todo[b]][1]
                    running = 0.0
                    for k, (start, end) in enumerate(member.step_spans()):
                        lo = offset + start - member.response_start
                        step_reward = sum(token_rewards[lo : lo + end - start])
                        running += step_reward
                        value = running if self.mode == "cumulative" else step_reward
                        results[index][first + k] = float(
                            torch.sigmoid(torch.tensor(value))
                        )
                    offset += len(member.input_ids) - member.response_start
                advance(len(batch))
        return results
