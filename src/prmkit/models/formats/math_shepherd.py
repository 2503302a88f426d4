"""The ``math-shepherd`` input format (peiyi9979/math-shepherd-mistral-7b-prm).

Reference: the model card of ``peiyi9979/math-shepherd-mistral-7b-prm``::

    good_token, bad_token, step_tag = "+", "-", "ки"
    candidate_tokens = tokenizer.encode(f"{good_token} {bad_token}")[1:]   # [648, 387]
    step_tag_id = tokenizer.encode(f"{step_tag}")[-1]                        # 12902
    input_for_prm = f"{question} {output}"     # output = "Step 1: ... ки\\nStep 2: ... ки"
    scores = logits[..., candidate_tokens].softmax(-1)[:, :, 0][input_id == step_tag_id]

So the text is ``question + " " + " ки\\n".join(step.strip() for step in steps) + " ки"``,
tokenized as one string with the tokenizer's special tokens (BOS), and step k's score is read at the k-th "ки" token. prmkit does not
add "Step k:" prefixes: pass steps as the model saw them in training (Math-Shepherd data has them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prmkit.models.formats._base import EncodedItem

__all__ = [
    "BAD_TOKEN",
    "GOOD_TOKEN",
    "STEP_TAG",
    "candidate_token_ids",
    "encode_math_shepherd",
    "math_shepherd_text",
    "step_tag_id",
]

GOOD_TOKEN = "+"
BAD_TOKEN = "-"
STEP_TAG = "ки"


def math_shepherd_text(question: str, steps: Sequence[str]) -> str:
    """The model-card input string: ``f"{question} {output}"`` with every step stripped and ended by " ки".

    Steps are stripped as OpenR and RLHFlow's evaluation scripts do: a step that ends in whitespace
    (``"step!  "``) would otherwise tokenize its " ки" as ``'▁▁', 'ки'`` pieces that lose the tag
    token, leaving one score short (9 of ProcessBench's 400 GSM8K items).
    """
    return f"{question} " + "\n".join(f"{step.strip()} {STEP_TAG}" for step in steps)


def step_tag_id(tokenizer: Any) -> int:
    """``tokenizer.encode("ки")[-1]`` (12902 for the Mistral-7B tokenizer), as on the model card."""
    return tokenizer.encode(STEP_TAG)[-1]


def candidate_token_ids(tokenizer: Any) -> list[int]:
    """``tokenizer.encode("+ -")[1:]``: the ids of "+" and "-" as they follow a space ([648, 387])."""
    ids = tokenizer(f"{GOOD_TOKEN} {BAD_TOKEN}", add_special_tokens=False)["input_ids"]
    if len(ids) != 2:
        raise ValueError(
            f"math-shepherd needs '+ -' to tokenize to exactly two tokens, got {ids}; "
            "this tokenizer does not match the math-shepherd PRM"
        )
    return ids


def encode_math_shepherd(
    tokenizer: Any, question: str, steps: Sequence[str]
) -> EncodedItem:
    """Tokenize one item as on the model card; the score of step k is read at the k-th "ки".

    Raises:
        ValueError: an empty step, or the text holds a different number of "ки" tokens than steps
            (a step or the question contains "ки" itself).
    """
    for index, step in enumerate(steps):
        if not step.strip():
            raise ValueError(f"step {index} is empty; steps must be non-empty text")
    ids = tokenizer(math_shepherd_text(question, steps))["input_ids"]
    tag = step_tag_id(tokenizer)
    positions = [i for i, token in enumerate(ids) if token == tag]
    if len(positions) != len(steps):
        inside = [f"step {k}" for k, step in enumerate(steps) if STEP_TAG in step] + (["the question"] if STEP_TAG in question else [])
        cause = f"{', '.join(inside)} contains 'ки' itself - remove it before scoring" if inside else (
            "the tokenizer merged a tag with its neighbours; this tokenizer may not be the math-shepherd one")
        raise ValueError(f"math-shepherd: found {len(positions)} step tags 'ки' (id {tag}) for {len(steps)} steps: {cause}")
    return EncodedItem(input_ids=list(ids), step_positions=positions)
