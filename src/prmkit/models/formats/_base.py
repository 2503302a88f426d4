"""What a PRM input format produces: token ids plus the positions where step scores are read."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EncodedItem"]


@dataclass
class EncodedItem:
    """One tokenized (question, steps) item.

    Attributes:
        input_ids: the full token sequence fed to the model.
        step_positions: for each step, the index in ``input_ids`` whose output gives that step's
            score (len == number of steps, strictly increasing).
    """

    input_ids: list[int]
    step_positions: list[int]
