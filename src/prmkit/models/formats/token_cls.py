"""The ``token-cls`` input format: prmkit's own PRMs and TRL-style stepwise-supervision PRMs.

Reference: TRL ``PRMTrainer.tokenize_row`` (trl/experimental/prm/prm_trainer.py): the prompt is
tokenized on its own (BOS prepended when the tokenizer has one), each step is tokenized on its own
with the step separator appended, and the label of a step sits on the *last token* of that step
(the separator). Training (``prmkit.train``) and scoring (``load_scorer("token-cls")``) both call
:func:`encode_token_cls`, so a trained model is read at exactly the positions it was trained on.

Example (character-level tokenizer, separator "\\n"):
    question "Q 2+3", steps ["2+3=5", "Ans 5"] ->
    ids of "Q 2+3" + ids of "2+3=5\\n" + ids of "Ans 5\\n"; step_positions = index of each "\\n".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prmkit.models.formats._base import EncodedItem

__all__ = ["DEFAULT_STEP_SEPARATOR", "encode_token_cls"]

DEFAULT_STEP_SEPARATOR = "\n"


def encode_token_cls(
    tokenizer: Any, question: str, steps: Sequence[str], separator: str = DEFAULT_STEP_SEPARATOR
) -> EncodedItem:
    """Tokenize one item in the TRL stepwise layout; the score of step k is read at its last token.

    Raises:
        ValueError: an empty step, or a step that tokenizes to no tokens.
    """
    ids: list[int] = []
    if getattr(tokenizer, "bos_token_id", None) is not None:
        ids.append(tokenizer.bos_token_id)
    ids.extend(tokenizer(question, add_special_tokens=False)["input_ids"])
    positions: list[int] = []
    for index, step in enumerate(steps):
        if not step.strip():
            raise ValueError(f"step {index} is empty; steps must be non-empty text")
        step_ids = tokenizer(step + separator, add_special_tokens=False)["input_ids"]
        ids.extend(step_ids)
        positions.append(len(ids) - 1)
    return EncodedItem(input_ids=ids, step_positions=positions)
