"""Extract a solution's final answer and grade it against the gold answer.

Extraction (:func:`extract_answer`) understands the answer markers of the datasets prmkit reads, in
this priority order (the *last* occurrence of the first kind found wins):

1. ``\\boxed{...}`` / ``\\fbox{...}`` with nested braces (MATH, Qwen, ProcessBench generators);
2. ``#### N`` (GSM8K reference solutions, Math-Shepherd GSM8K steps);
3. ``# Answer`` followed by the answer on a later line (PRM800K solutions);
4. ``A: N`` at the start of a line (GSM8K example model solutions);
5. ``The answer is X`` / ``The final answer is: X`` (Math-Shepherd, Minerva-style prompts).

Grading (:func:`grade`) uses Hugging Face's **math-verify** (``parse`` + ``verify``), so equivalent
LaTeX, fractions/decimals, percentages, ``$``, thousands commas and ``\\text{}`` units all compare
equal. Both answers are wrapped in ``\\boxed{}`` before parsing so math-verify treats them as final
answers. Trailing plain-word units after a number ("18 dollars") are dropped first.

**Timeouts.** math-verify bounds each parse/verify with ``signal.alarm``, which only works in the
main thread. In the main thread :func:`grade` passes ``timeout`` (seconds) to both calls; in any
other thread it does *not* call math-verify (which could hang without its alarm) and falls back to
an exact comparison of normalised strings plus exact rational comparison of plain numbers,
fractions ``a/b`` / ``\\frac{a}{b}`` and percentages. ``None`` or unparseable answers grade
``False`` and never raise.

Example:
    >>> extract_answer("so x = \\\\boxed{\\\\frac{1}{2}}.")
    '\\\\frac{1}{2}'
    >>> grade("\\\\frac{1}{2}", "0.5"), grade("1,000", "1000"), grade(None, "3")
    (True, True, False)
"""

from __future__ import annotations

import logging
import re
import threading
from fractions import Fraction

__all__ = ["extract_answer", "grade", "normalize_answer"]

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####[ \t]*([^\n]*)")
_PRM800K = re.compile(r"^#[ \t]*Answer[ \t]*\n\s*([^\n]+)", re.MULTILINE)
_A_LINE = re.compile(r"^[ \t]*A:[ \t]*([^\n]+)", re.MULTILINE)
_ANSWER_IS = re.compile(r"answer is[ \t]*:?[ \t]*([^\n]+)", re.IGNORECASE)
# "18 dollars" -> "18": a number followed only by words of 2+ letters (single letters may be variables).
_TRAILING_WORDS = re.compile(r"^([-+]?\$?\s*\d[\d,]*(?:\.\d+)?)\s*(?:[A-Za-z][A-Za-z.']+\s*)+$")
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d,])")


def _boxed_contents(text: str) -> list[str]:
    """Contents of every ``\\boxed{..}`` / ``\\fbox{..}`` (balanced braces), in order."""
    found = []
    for match in _BOX.finditer(text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            found.append(text[match.end() : i - 1])
    return found


def _clean(value: str) -> str | None:
    """Trim a captured answer to the answer itself.

    Keeps only a leading ``$..$`` math span when there is one, cuts a following sentence
    (``". I hope it is correct."``), drops one final period and ``\\(..\\)`` wrappers, and unwraps
    a ``\\boxed{}`` inside.
    """
    value = value.strip()
    math_span = re.match(r"\$([^$]+)\$", value)
    if math_span:
        value = math_span.group(1)
    else:
        value = re.split(r"\.\s+(?=[A-Z])", value, maxsplit=1)[0]
    value = value.strip().removesuffix(".").strip()
    for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
        if value.startswith(left) and value.endswith(right):
            value = value[len(left) : -len(right)].strip()
    inner = _boxed_contents(value)
    if inner:
        value = inner[-1].strip()
    return value or None


def extract_answer(text: str | None) -> str | None:
    """The final answer stated in ``text``, or ``None`` if it states none.

    Args:
        text: a full solution (or its last step).

    Returns:
        The answer text as written (e.g. ``"\\\\frac{1}{2}"``, ``"1,000"``), stripped of the
        marker, surrounding ``$`` and a sentence-final period; ``None`` when no marker is found or
        the marked answer is empty.
    """
    if not text:
        return None
    boxed = _boxed_contents(text)
    if boxed:
        return _clean(boxed[-1])
    for pattern in (_HASHES, _PRM800K, _A_LINE, _ANSWER_IS):
        matches = pattern.findall(text)
        if matches:
            return _clean(matches[-1])
    return None


def normalize_answer(answer: str) -> str:
    """Canonical string form used by the exact-match fallback and the fast path of :func:`grade`.

    Removes ``$``, ``\\!``/``\\,`` spacing, ``\\text{}``/``\\mathrm{}`` wrappers, thousands commas,
    spaces, a leading ``+``, a trailing period and trailing plain-word units; lowercases.
    """
    value = answer.strip()
    match = _TRAILING_WORDS.match(value)
    if match:
        value = match.group(1)
    value = re.sub(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}", r"\1", value)
    value = value.replace("\\$", "").replace("$", "").replace("\\!", "").replace("\\,", "").replace("\\ ", "")
    value = value.replace("\\left", "").replace("\\right", "").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    value = _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), value)
    value = re.sub(r"\s+", "", value).rstrip(".").lstrip("+").lower()
    return value


def _as_number(value: str) -> Fraction | None:
    """Exact value of a normalised plain number, ``a/b``, ``\\frac{a}{b}`` or percentage."""
    try:
        if value.endswith("\\%") or value.endswith("%"):
            inner = _as_number(value.rstrip("%").removesuffix("\\"))
            return None if inner is None else inner / 100
        match = re.fullmatch(r"(-?)\\frac\{([^{}]+)\}\{([^{}]+)\}", value) or re.fullmatch(r"(-?)\(?([^/]+)\)?/\(?([^/]+)\)?", value)
        if match:
            sign = -1 if match.group(1) else 1
            return sign * Fraction(match.group(2)) / Fraction(match.group(3))
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None


def _fallback_equal(predicted: str, gold: str) -> bool:
    a, b = normalize_answer(predicted), normalize_answer(gold)
    if a == b:
        return True
    x, y = _as_number(a), _as_number(b)
    return x is not None and y is not None and x == y


def _math_verify_equal(predicted: str, gold: str, timeout: int) -> bool:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # it logs every timeout/parse failure

    def prepare(value: str) -> str:
        match = _TRAILING_WORDS.match(value.strip())
        value = match.group(1) if match else value
        return "\\boxed{" + value.replace("\\$", "").replace("$", "").strip() + "}"

    gold_parsed = parse(prepare(gold), parsing_timeout=timeout)
    predicted_parsed = parse(prepare(predicted), parsing_timeout=timeout)
    if not gold_parsed or not predicted_parsed:
        return False
    return bool(verify(gold_parsed, predicted_parsed, timeout_seconds=timeout))


def grade(predicted: str | None, gold: str | None, *, timeout: int = 5) -> bool:
    """Whether ``predicted`` is mathematically equal to ``gold``.

    Args:
        predicted: the model's extracted answer (``None`` when it gave none).
        gold: the reference answer (``None`` when unknown).
        timeout: seconds allowed for each math-verify parse and comparison (main thread only).

    Returns:
        ``True`` if the answers match (normalised strings equal, or math-verify says equivalent);
        ``False`` otherwise, including for ``None``/empty/unparseable answers and timeouts. Off the
        main thread the exact fallback described in the module docstring is used instead of
        math-verify.
    """
    if predicted is None or gold is None or not predicted.strip() or not gold.strip():
        return False
    if _fallback_equal(predicted, gold):
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        return _math_verify_equal(predicted, gold, max(1, int(timeout)))
    except Exception:  # noqa: BLE001 — math-verify timeouts/parse errors mean "not shown equal"
        return False
