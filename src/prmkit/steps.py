"""Split a solution's text into reasoning steps and join steps back into text.

A PRM scores *steps*, so every reader, generator and scorer must agree on where one step ends.
The separators in use by the datasets and models prmkit supports:

* ``"\\n\\n"`` — blank lines (ProcessBench, Qwen2.5-Math-PRM, most chat-model output);
* ``"\\n"`` — one step per line (GSM8K reference and model solutions);
* ``"step"`` — ``Step k:`` markers at the start of a line (Math-Shepherd, also ``## Step k:`` and
  ``**Step k:**`` as chat models write them);
* ``"numbered"`` — numbered lines ``1. ...`` / ``2) ...`` (PRMBench's ``modified_process``).

Splitting never produces an empty step: empty pieces (and, for markers, pieces that are only a
marker) are dropped. Markers are *kept* in the step text; :func:`strip_step_prefix` removes them.

Example:
    >>> split_steps("Step 1: 2+3=5\\nStep 2: so 5.")
    ['Step 1: 2+3=5', 'Step 2: so 5.']
    >>> split_steps("a\\n\\n b  c \\n\\n\\n")
    ['a', 'b c']
    >>> join_steps(["a", "b"])
    'a\\n\\nb'
    >>> strip_step_prefix("Step 3: x = 2")
    'x = 2'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

__all__ = ["Separator", "split_steps", "join_steps", "normalize_step", "strip_step_prefix", "has_step_prefix"]

Separator = Literal["auto", "\n\n", "\n", "step", "numbered"]

# "Step 3:", "step 3.", "## Step 3:", "**Step 3:**", "**Step 3**:" at the start of a line.
_STEP_MARKER = r"(?:#{1,6}[ \t]*)?(?:\*\*)?step[ \t]*\d+(?:\*\*)?[ \t]*[:.](?:\*\*)?"
_STEP_LINE = re.compile(rf"^[ \t]*{_STEP_MARKER}", re.IGNORECASE | re.MULTILINE)
# "3." / "3)" followed by whitespace (so "3.5 is ..." is not a number prefix).
_NUMBER_MARKER = r"\d+[.)](?=\s|$)"
_NUMBER_LINE = re.compile(rf"^[ \t]*{_NUMBER_MARKER}", re.MULTILINE)
_PREFIX = re.compile(rf"^\s*(?:{_STEP_MARKER}|{_NUMBER_MARKER})[ \t]*", re.IGNORECASE)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_HSPACE = re.compile(r"[ \t\f\v\u00a0]+")


def normalize_step(text: str) -> str:
    """Canonical whitespace for one step, so equal steps compare equal across sources.

    Line endings become ``\\n``; runs of spaces/tabs (incl. non-breaking spaces) become one space;
    each line is stripped; three or more newlines collapse to a blank line; the ends are stripped.
    Content is never changed otherwise (LaTeX, numbers and markers are left alone).

    Args:
        text: the raw step text.

    Returns:
        The normalised text (``""`` when ``text`` is only whitespace).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def has_step_prefix(step: str) -> bool:
    """Whether ``step`` starts with a ``Step k:`` or ``k.`` marker."""
    return _PREFIX.match(step) is not None


def strip_step_prefix(step: str) -> str:
    """Remove one leading ``Step k:`` / ``## Step k:`` / ``**Step k:**`` / ``k.`` / ``k)`` marker.

    A decimal such as ``"3.5 apples"`` is not a marker and is left alone.

    Args:
        step: one step's text.

    Returns:
        The text without the marker, stripped of surrounding whitespace.
    """
    return _PREFIX.sub("", step, count=1).strip()


def _split_at(text: str, pattern: re.Pattern[str]) -> list[str]:
    starts = [m.start() for m in pattern.finditer(text)]
    bounds = [0, *starts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _resolve(text: str, separator: str) -> str:
    if separator != "auto":
        return separator
    if _STEP_LINE.search(text):
        return "step"
    if _BLANK_LINE.search(text):
        return "\n\n"
    return "\n"


def split_steps(text: str, separator: Separator = "auto", *, strip_prefixes: bool = False) -> list[str]:
    """Split a solution into non-empty, whitespace-normalised steps.

    Args:
        text: the solution text.
        separator: ``"\\n\\n"`` (blank lines; lines holding only spaces count as blank),
            ``"\\n"`` (every line), ``"step"`` (a new step at every line starting with a
            ``Step k:`` marker; text before the first marker is its own step), ``"numbered"``
            (a new step at every line starting with ``k.`` / ``k)``), or ``"auto"``:
            ``"step"`` if any line starts with a ``Step k:`` marker, else ``"\\n\\n"`` if the text
            has a blank line, else ``"\\n"``.
        strip_prefixes: also remove each step's ``Step k:`` / ``k.`` marker.

    Returns:
        The steps, each passed through :func:`normalize_step`; pieces that are empty (or only a
        marker) are dropped, so ``[]`` for blank text.

    Raises:
        ValueError: ``separator`` is not one of the values above.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    mode = _resolve(text, separator)
    if mode == "\n\n":
        pieces = _BLANK_LINE.split(text)
    elif mode == "\n":
        pieces = text.split("\n")
    elif mode == "step":
        pieces = _split_at(text, _STEP_LINE)
    elif mode == "numbered":
        pieces = _split_at(text, _NUMBER_LINE)
    else:
        raise ValueError(
            f"split_steps: unknown separator {separator!r}; use 'auto', '\\n\\n', '\\n', 'step' or 'numbered'"
        )
    steps = []
    for piece in pieces:
        step = normalize_step(piece)
        content = strip_step_prefix(step)
        if content:  # drop empty pieces and pieces that are only a marker
            steps.append(content if strip_prefixes else step)
    return steps


def join_steps(steps: Sequence[str], separator: str = "\n\n") -> str:
    """Join steps into one text with ``separator`` between them (nothing after the last).

    ``split_steps(join_steps(steps, sep), sep) == steps`` holds for normalised steps that do not
    themselves contain ``sep``.

    Args:
        steps: the steps, each with some non-whitespace text.
        separator: the literal text placed between steps.

    Returns:
        The joined text.

    Raises:
        ValueError: a step is empty or only whitespace (the message gives its index).
    """
    for i, step in enumerate(steps):
        if not isinstance(step, str) or not step.strip():
            raise ValueError(f"join_steps: step {i} is empty ({step!r}); every step needs some text")
    return separator.join(steps)
