"""The ``qwen2.5-math-prm`` input format (Qwen/Qwen2.5-Math-PRM-7B and -72B).

Reference: the model card of ``Qwen/Qwen2.5-Math-PRM-7B``::

    messages = [
        {"role": "system", "content": "Please reason step by step, and put your final answer within \\\\boxed{}."},
        {"role": "user", "content": query},
        {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"},
    ]
    conversation_str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    input_ids = tokenizer.encode(conversation_str)
    token_masks = input_ids == tokenizer.encode("<extra_0>")[0]     # 151651
    # make_step_rewards: softmax(logits, -1)[..., 1] at the masked positions

Step k's score is read at the k-th "<extra_0>" token (positions from the mask, in order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prmkit.models.formats._base import EncodedItem

__all__ = [
    "STEP_TOKEN",
    "SYSTEM_PROMPT",
    "encode_qwen_math_prm",
    "qwen_math_prm_messages",
    "step_token_id",
]

SYSTEM_PROMPT = (
    "Please reason step by step, and put your final answer within \\boxed{}."
)
STEP_TOKEN = "<extra_0>"


def qwen_math_prm_messages(question: str, steps: Sequence[str]) -> list[dict[str, str]]:
    """The model card's three chat messages for one item."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": question},
        {"role": "assistant", "content": STEP_TOKEN.join(steps) + STEP_TOKEN},
    ]


def step_token_id(tokenizer: Any) -> int:
    """The id of ``<extra_0>`` (151651 in the PRM's tokenizer).

    Raises:
        ValueError: ``<extra_0>`` is not a single token in this tokenizer (it is not the PRM's own
            tokenizer; the stock Qwen2.5 tokenizer splits it into 5 tokens).
    """
    ids = tokenizer.encode(STEP_TOKEN, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(
            f"qwen2.5-math-prm needs {STEP_TOKEN!r} to be one token, but this tokenizer gives {ids}; "
            "load the tokenizer shipped with the Qwen2.5-Math-PRM checkpoint"
        )
    return ids[0]


def encode_qwen_math_prm(
    tokenizer: Any, question: str, steps: Sequence[str]
) -> EncodedItem:
    """Tokenize one item as on the model card; step k's score is read at the k-th ``<extra_0>``.

    Raises:
        ValueError: an empty step, no chat template, or a step/question containing ``<extra_0>``.
    """
    for index, step in enumerate(steps):
        if not step.strip():
            raise ValueError(f"step {index} is empty; steps must be non-empty text")
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError(
            "qwen2.5-math-prm needs a tokenizer with a chat template (the PRM's own tokenizer)"
        )
    text = tokenizer.apply_chat_template(
        qwen_math_prm_messages(question, steps),
        tokenize=False,
        add_generation_prompt=False,
    )
    ids = tokenizer.encode(text)
    sep = step_token_id(tokenizer)
    positions = [i for i, token in enumerate(ids) if token == sep]
    if len(positions) != len(steps):
        raise ValueError(
            f"qwen2.5-math-prm: found {len(positions)} {STEP_TOKEN!r} tokens for {len(steps)} steps; "
            f"the question or a step contains {STEP_TOKEN!r} itself - remove it before scoring"
        )
    return EncodedItem(input_ids=list(ids), step_positions=positions)
