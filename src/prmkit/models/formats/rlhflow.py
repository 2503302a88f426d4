"""The ``rlhflow`` input format (RLHFlow/Llama3.1-8B-PRM-Mistral-Data and -Deepseek-Data).

Reference: RLHFlow/RLHF-Reward-Modeling, ``math-rm`` (README and ``prm_evaluate.py``)::

    conversation = []
    for k, step in enumerate(steps):
        text = problem + " " + step if k == 0 else step
        conversation.append({"role": "user", "content": text})
        conversation.append({"role": "assistant", "content": "+"})
        input_ids = tokenizer.apply_chat_template(conversation, return_tensors="pt")
        logits = model(input_ids).logits[:, -3, [plus_id, minus_id]]   # -3 predicts the "+"
        score_k = logits.softmax(-1)[:, 0]

with ``plus_id = tokenizer.encode("+")[-1]`` and ``minus_id = tokenizer.encode("-")[-1]`` (10 and 12
for Llama 3). The reference runs one forward pass per step on the conversation so far. A causal model
gives the same logits for a prefix inside a longer sequence, so prmkit renders the whole conversation
once and reads, for each assistant turn, the position just before its "+" token: one forward pass
for all steps. Each turn's "+" is located exactly by rendering the conversation up to that user turn
with ``add_generation_prompt=True`` (the text where the assistant content starts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prmkit.models.formats._base import EncodedItem

__all__ = [
    "BAD_TOKEN",
    "GOOD_TOKEN",
    "encode_rlhflow",
    "plus_minus_ids",
    "rlhflow_conversation",
]

GOOD_TOKEN = "+"
BAD_TOKEN = "-"


def rlhflow_conversation(question: str, steps: Sequence[str]) -> list[dict[str, str]]:
    """One user turn per step (the first prefixed by ``question + " "``), each answered by "+"."""
    conversation: list[dict[str, str]] = []
    for index, step in enumerate(steps):
        conversation.append(
            {"role": "user", "content": f"{question} {step}" if index == 0 else step}
        )
        conversation.append({"role": "assistant", "content": GOOD_TOKEN})
    return conversation


def plus_minus_ids(tokenizer: Any) -> tuple[int, int]:
    """``(tokenizer.encode("+")[-1], tokenizer.encode("-")[-1])`` as in the reference (10, 12 on Llama 3)."""
    return tokenizer.encode(GOOD_TOKEN)[-1], tokenizer.encode(BAD_TOKEN)[-1]


def encode_rlhflow(tokenizer: Any, question: str, steps: Sequence[str]) -> EncodedItem:
    """Tokenize the whole conversation once; step k is read at the position before turn k's "+".

    Raises:
        ValueError: an empty step, a tokenizer without chat template or offsets, or a chat template
            whose renders are not prefixes of each other (it then cannot be scored in one pass).
    """
    for index, step in enumerate(steps):
        if not step.strip():
            raise ValueError(f"step {index} is empty; steps must be non-empty text")
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError(
            "rlhflow needs a tokenizer with a chat template (the Llama-3.1-Instruct one)"
        )
    conversation = rlhflow_conversation(question, steps)
    text = tokenizer.apply_chat_template(conversation, tokenize=False)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
    start_of = {start: i for i, (start, end) in enumerate(offsets) if end > start}
    plus_id, _ = plus_minus_ids(tokenizer)
    positions: list[int] = []
    for k in range(len(steps)):
        head = tokenizer.apply_chat_template(
            conversation[: 2 * k + 1], tokenize=False, add_generation_prompt=True
        )
        char = len(head)
        token = start_of.get(char)
        if (
            not text.startswith(head)
            or text[char : char + 1] != GOOD_TOKEN
            or token is None
            or ids[token] != plus_id
        ):
            raise ValueError(
                f"rlhflow: cannot locate the assistant '+' of step {k} in the rendered conversation; "
                "the tokenizer's chat template must render each turn as a prefix of the next "
                "(use the Llama-3.1-Instruct template the RLHFlow PRMs were trained with)"
            )
        positions.append(token - 1)
    return EncodedItem(input_ids=list(ids), step_positions=positions)
