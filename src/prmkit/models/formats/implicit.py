"""The ``implicit`` PRM input format (prmkit's own layout; shared by the scorer and the trainer).

An implicit PRM (PRIME-RL/ImplicitPRM, "Free Process Rewards without Process Labels", Yuan et al.
2024) is a causal LM pi trained as an outcome reward model whose reward is
``beta * log(pi(y) / pi_ref(y))``; the process reward of a step is the same log-ratio summed over
that step's tokens. Scoring therefore needs, for each step, the span of its tokens in the response.

Layout (documented contract; ``prmkit.train``'s implicit trainer and
:class:`prmkit.models.implicit.ImplicitScorer` both call :func:`encode_implicit`):

    [BOS if the tokenizer has one] + ids(question + "\\n") + ids(step_1 + "\\n") + ... + ids(step_n + "\\n")

Every piece is tokenized on its own (``add_special_tokens=False``), like ``token-cls``, so step
boundaries are token boundaries. ``response_start`` is the index of the first token of step 1;
``step_positions[k]`` is the last token of step k (its trailing newline). Step k's tokens are
``input_ids[step_positions[k-1] + 1 : step_positions[k] + 1]`` (step 1 starts at ``response_start``).
The log-probability of token t is read from the logits at t - 1.

Example (character-level tokenizer, no BOS): question "Q", steps ["ab", "c"] ->
    ids of "Q\\n" + "ab\\n" + "c\\n" = [Q, \\n, a, b, \\n, c, \\n]; response_start 2; step_positions [4, 6].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prmkit.models.formats._base import EncodedItem

__all__ = ["IMPLICIT_STEP_SEPARATOR", "ImplicitEncodedItem", "encode_implicit"]

IMPLICIT_STEP_SEPARATOR = "\n"


@dataclass
class ImplicitEncodedItem(EncodedItem):
    """An :class:`EncodedItem` plus where the response starts.

    Attributes:
        response_start: index in ``input_ids`` of the first token of the first step (every token
            from here on is a response token whose log-ratio counts toward some step).
    """

    response_start: int = 0

    def step_spans(self) -> list[tuple[int, int]]:
        """``[(start, end), ...]``: step k's tokens are ``input_ids[start:end]`` (end exclusive)."""
        starts = [self.response_start] + [p + 1 for p in self.step_positions[:-1]]
        return [(s, p + 1) for s, p in zip(starts, self.step_positions)]


def encode_implicit(
    tokenizer: Any, question: str, steps: Sequence[str]
) -> ImplicitEncodedItem:
    """Tokenize one (question, steps) item in the implicit-PRM layout (see the module docstring).

    Args:
        tokenizer: a Hugging Face tokenizer (called as ``tokenizer(text, add_special_tokens=False)``).
        question: the problem text.
        steps: the reasoning steps, each non-empty.

    Returns:
        :class:`ImplicitEncodedItem` with ``step_positions`` = last token of each step and
        ``response_start`` = first token of step 1.

    Raises:
        ValueError: no steps, an empty step, or a step that tokenizes to no tokens (names the step).
    """
    if not steps:
        raise ValueError(
            "encode_implicit: got no steps; an implicit PRM scores at least one step"
        )
    ids: list[int] = []
    if getattr(tokenizer, "bos_token_id", None) is not None:
        ids.append(tokenizer.bos_token_id)
    ids.extend(
        tokenizer(question + IMPLICIT_STEP_SEPARATOR, add_special_tokens=False)[
            "input_ids"
        ]
    )
    response_start = len(ids)
    positions: list[int] = []
    for index, step in enumerate(steps):
        if not step.strip():
            raise ValueError(f"step {index} is empty; steps must be non-empty text")
        step_ids = tokenizer(step + IMPLICIT_STEP_SEPARATOR, add_special_tokens=False)[
            "input_ids"
        ]
        if not step_ids:
            raise ValueError(f"step {index} ({step[:40]!r}) tokenizes to no tokens")
        ids.extend(step_ids)
        positions.append(len(ids) - 1)
    return ImplicitEncodedItem(
        input_ids=ids, step_positions=positions, response_start=response_start
    )
