"""The ``skywork`` input format (Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B and -7B).

Reference: SkyworkAI/skywork-o1-prm-inference, ``model_utils/io_utils.py: prepare_input``::

    prompt_ids = tokenizer.encode(tokenizer.bos_token + problem + "\\n")
    step_token_id = tokenizer.encode(step_token)[-1]          # step_token = "\\n" (id 198 in Qwen2.5)
    for step in response.split(step_token):                  # every step gets the step token appended
        step_ids = tokenizer.encode(step) + [step_token_id]
        reward_flags: 1 on the last id of the step (the step token)
    # reward = sigmoid(v_head(hidden_states)) at the flagged positions

So the layout is ``BOS + problem + "\\n"`` (one string), then for each step its own tokens plus one
"\\n" token; step k's score is read at its "\\n". Pieces are tokenized without extra special tokens
(the Qwen tokenizer adds none anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prmkit.models.formats._base import EncodedItem

__all__ = ["STEP_TOKEN", "encode_skywork"]

STEP_TOKEN = "\n"


def encode_skywork(tokenizer: Any, question: str, steps: Sequence[str]) -> EncodedItem:
    """Tokenize one item in the Skywork-o1 PRM layout; step k's score is read at its step token.

    Raises:
        ValueError: the tokenizer has no BOS token (the reference prepends ``tokenizer.bos_token``),
            or a step is empty.
    """
    if getattr(tokenizer, "bos_token", None) is None:
        raise ValueError(
            "skywork: the tokenizer has no bos_token, but the Skywork PRM input starts with it; "
            "load the tokenizer shipped with the Skywork-o1-Open-PRM checkpoint"
        )
    ids = list(
        tokenizer.encode(
            tokenizer.bos_token + question + STEP_TOKEN, add_special_tokens=False
        )
    )
    step_token = tokenizer.encode(STEP_TOKEN, add_special_tokens=False)[-1]
    positions: list[int] = []
    for index, step in enumerate(steps):
        if not step.strip():
            raise ValueError(f"step {index} is empty; steps must be non-empty text")
        ids.extend(tokenizer.encode(step, add_special_tokens=False))
        ids.append(step_token)
        positions.append(len(ids) - 1)
    return EncodedItem(input_ids=ids, step_positions=positions)
