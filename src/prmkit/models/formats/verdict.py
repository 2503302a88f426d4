"""The ``verdict`` PRM input format: prmkit's own generative verdict layout (GenRM-style).

A verdict PRM is a plain causal LM that verifies by next-token prediction (Zhang et al. 2024,
"Generative Verifiers: Reward Modeling as Next-Token Prediction"): after every step it writes a tag
and then a verdict token, and P(step correct) is the softmax of the verdict logits read at the tag,
``P = softmax(logit["+"], logit["-"])[0]``. The layout is the policy's own ("question\\nstep\\nstep\\n...")
with the tag and verdict inserted before each step's newline, so a policy can be fine-tuned into its
own verifier without learning a new prompt format:

    [BOS if the tokenizer has one] + ids(question + "\\n")
        + for each step: ids(step) + [TAG] + [VERDICT] + ids("\\n")

Every piece is tokenized on its own (``add_special_tokens=False``), so each tag and each verdict is
exactly one token whatever the tokenizer would merge across the boundary. ``step_positions[k]`` is
the index of the k-th tag token: the logits there predict step k's verdict. At scoring time every
context verdict is :data:`POSITIVE` (teacher forcing); the trainer (:mod:`prmkit.train.verdict`)
truncates each solution after its first wrong step, so the model never sees a ``-`` in its context
either.

Why the tag is ``"?"``: it must be a single token in the shipped character-level arith tokenizer
(one printable-ASCII character per token, so no multi-character tag can be one token) and in real
BPE tokenizers (Qwen2.5: "?" = 30, "+" = 10, "-" = 12; GPT-2 and Llama-3 also keep "?" whole), and it
never occurs in arith solutions ("10+14=24", "The answer is 24."), so the model cannot confuse a
tag with step text. ``"+"`` and ``"-"`` are the verdicts Math-Shepherd and RLHFlow PRMs use.

Example (character-level tokenizer with BOS): question "Q", steps ["ab", "c"] ->
    text "[BOS]Q\\nab?+\\nc?+\\n"; step_positions [5, 9] (the two "?").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prmkit.models.formats._base import EncodedItem

__all__ = [
    "NEGATIVE",
    "POSITIVE",
    "VERDICT_SEPARATOR",
    "VERDICT_TAG",
    "VerdictEncodedItem",
    "check_verdict_tokenizer",
    "encode_verdict",
    "verdict_text",
    "verdict_token_ids",
]

VERDICT_TAG = "?"
POSITIVE = "+"
NEGATIVE = "-"
VERDICT_SEPARATOR = "\n"


@dataclass
class VerdictEncodedItem(EncodedItem):
    """An :class:`EncodedItem` plus where each step's text starts.

    Attributes:
        step_starts: index of the first token of step k; step k's text is
            ``input_ids[step_starts[k]:step_positions[k]]`` (the tag follows it).
    """

    step_starts: list[int] = field(default_factory=list)


def _single_token(tokenizer: Any, text: str, role: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    unknown = getattr(tokenizer, "unk_token_id", None)
    if len(ids) != 1 or (unknown is not None and ids[0] == unknown):
        found = "maps to the unknown token" if len(ids) == 1 else f"is split into {ids}"
        raise ValueError(
            f"verdict: the {role} {text!r} must be one token of the vocabulary, but it {found}; "
            "the verdict family needs a tokenizer that keeps '?', '+' and '-' as single tokens"
        )
    return ids[0]


def verdict_token_ids(tokenizer: Any) -> tuple[int, int]:
    """``(id of "+", id of "-")``: the logits compared at every tag.

    Raises:
        ValueError: either verdict is not a single token.
    """
    return _single_token(tokenizer, POSITIVE, "positive verdict"), _single_token(
        tokenizer, NEGATIVE, "negative verdict"
    )


def check_verdict_tokenizer(tokenizer: Any) -> None:
    """Raise ``ValueError`` unless the tag and both verdicts are single in-vocabulary tokens."""
    _single_token(tokenizer, VERDICT_TAG, "verdict tag")
    verdict_token_ids(tokenizer)


def _resolve_verdicts(verdicts: Sequence[str] | None, n_steps: int) -> list[str]:
    if verdicts is None:
        return [POSITIVE] * n_steps
    verdicts = list(verdicts)
    if len(verdicts) != n_steps:
        raise ValueError(f"verdict: got {len(verdicts)} verdicts for {n_steps} steps; give one per step")
    for index, verdict in enumerate(verdicts):
        if verdict not in (POSITIVE, NEGATIVE):
            raise ValueError(f"verdict {index} is {verdict!r}; use {POSITIVE!r} or {NEGATIVE!r}")
    return verdicts


def verdict_text(question: str, steps: Sequence[str], verdicts: Sequence[str] | None = None) -> str:
    """The layout as text (without BOS): ``question\\n`` then ``step?V\\n`` per step."""
    chosen = _resolve_verdicts(verdicts, len(steps))
    return question + VERDICT_SEPARATOR + "".join(
        f"{step}{VERDICT_TAG}{verdict}{VERDICT_SEPARATOR}" for step, verdict in zip(steps, chosen)
    )


def encode_verdict(
    tokenizer: Any, question: str, steps: Sequence[str], verdicts: Sequence[str] | None = None
) -> VerdictEncodedItem:
    """Tokenize one item in the verdict layout (see the module docstring).

    Args:
        tokenizer: a Hugging Face tokenizer with single-token "?", "+" and "-".
        question: the problem text.
        steps: the reasoning steps, each non-empty.
        verdicts: the verdict written after each step (``"+"``/``"-"``); default all ``"+"``, the
            teacher-forced context the scorer uses.

    Returns:
        :class:`VerdictEncodedItem` whose ``step_positions[k]`` is the k-th tag token and
        ``step_starts[k]`` the first token of step k.

    Raises:
        ValueError: no steps, an empty step, a wrong verdict count/value, or a tokenizer that splits
            the tag or a verdict (names the step or token).
    """
    if not steps:
        raise ValueError("encode_verdict: got no steps; a verdict PRM scores at least one step")
    chosen = _resolve_verdicts(verdicts, len(steps))
    tag = _single_token(tokenizer, VERDICT_TAG, "verdict tag")
    good, bad = verdict_token_ids(tokenizer)
    newline = tokenizer(VERDICT_SEPARATOR, add_special_tokens=False)["input_ids"]
    ids: list[int] = []
    if getattr(tokenizer, "bos_token_id", None) is not None:
        ids.append(tokenizer.bos_token_id)
    ids.extend(tokenizer(question + VERDICT_SEPARATOR, add_special_tokens=False)["input_ids"])
    positions: list[int] = []
    starts: list[int] = []
    for index, (step, verdict) in enumerate(zip(steps, chosen)):
        if not step.strip():
            raise ValueError(f"step {index} is empty; steps must be non-empty text")
        step_ids = tokenizer(step, add_special_tokens=False)["input_ids"]
        if not step_ids:
            raise ValueError(f"step {index} ({step[:40]!r}) tokenizes to no tokens")
        starts.append(len(ids))
        ids.extend(step_ids)
        positions.append(len(ids))
        ids.append(tag)
        ids.append(good if verdict == POSITIVE else bad)
        ids.extend(newline)
    return VerdictEncodedItem(input_ids=ids, step_positions=positions, step_starts=starts)
