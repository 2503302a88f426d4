"""The explicit truncation policy shared by the in-process scorers.

``"error"`` rejects an item longer than ``max_length`` with a message naming its index and length;
``"keep_last_steps"`` re-encodes the item without its oldest steps until it fits (the question is
always kept) and reports how many steps were dropped, so the caller returns None for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from prmkit._errors import InputError

__all__ = ["TRUNCATIONS", "Truncation", "check_truncation", "encode_within"]

Truncation = Literal["error", "keep_last_steps"]
TRUNCATIONS = ("error", "keep_last_steps")
#: The fix for a too-long item, as a person at the shell types it (the CLI's ``--option key=value``).
CLI_FIX = "--option truncation=keep_last_steps or --option max_length=N"


def check_truncation(truncation: str) -> None:
    """Raise :class:`~prmkit._errors.InputError` (a ``ValueError``) for an unknown policy (lists the valid ones)."""
    if truncation not in TRUNCATIONS:
        raise InputError(
            f"truncation={truncation!r}; choose one of {', '.join(TRUNCATIONS)}"
        )


def encode_within(
    encode: Callable[[str, Sequence[str]], Any],
    index: int,
    question: str,
    steps: Sequence[str],
    max_length: int | None,
    truncation: str,
) -> tuple[Any, int]:
    """Encode item ``index`` within ``max_length`` tokens.

    Args:
        encode: ``encode(question, steps) -> EncodedItem``.
        index: the item's index in the caller's input (for error messages).
        question / steps: the item.
        max_length: the token limit (None: no limit).
        truncation: ``"error"`` or ``"keep_last_steps"``.

    Returns:
        ``(encoded, first)``: the encoding of ``steps[first:]``; ``first`` > 0 only when steps were dropped.

    Raises:
        ValueError: a malformed item.
        InputError: an item too long under the policy (names index and length, and the option to set
            in both the CLI's and Python's words).
    """
    steps = list(steps)
    first = 0
    while True:
        try:
            item = encode(question, steps[first:])
        except ValueError as error:
            raise ValueError(f"item {index}: {error}") from None
        if max_length is None or len(item.input_ids) <= max_length:
            return item, first
        if truncation == "error":
            raise InputError(
                f"item {index} is {len(item.input_ids)} tokens long, over max_length={max_length}; set the scorer "
                f"option truncation=keep_last_steps to drop its oldest steps, or a larger max_length "
                f"({CLI_FIX} on the command line, truncation='keep_last_steps' in load_scorer)"
            )
        if first == len(steps) - 1:
            raise InputError(
                f"item {index} is {len(item.input_ids)} tokens long with only its last step kept, over "
                f"max_length={max_length}; even its last step alone is too long (raise max_length if the model's "
                "positions allow it)"
            )
        first += 1
