"""Request limits of ``prmkit serve``, checked before any tokenizer or model work.

The cheap checks (:func:`check_items`: counts, characters, blank steps, text that is not valid
Unicode) run on the parsed body. The token check (:class:`TokenGuard`) needs the scorer's tokenizer,
so it runs next, in a worker thread, and only tokenizes an item when a cheap upper bound says it
could be too long: a byte-level or byte-fallback tokenizer makes at most one token per UTF-8 byte of
text, plus the format's own tokens (chat template, step tags), which the guard measures once on a
tiny item. Ordinary items are never tokenized twice; only suspiciously long ones are.

Every error names the item by its index in the request (``items[79]``), the field and the limit.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prmkit.models import ScoringItem
from prmkit.serve.errors import ApiError

__all__ = ["ServeLimits", "TokenGuard", "check_items", "check_text"]

logger = logging.getLogger("prmkit.serve")


@dataclass(frozen=True)
class ServeLimits:
    """What one request may hold (the defaults keep a 7B PRM on one GPU safe from one client).

    Attributes:
        max_request_bytes: body size; larger bodies get 413 from Content-Length alone, or as soon as
            the streamed body passes the limit (never buffered whole).
        max_items: solutions per request.
        max_steps: steps per solution.
        max_question_chars: characters of a question.
        max_step_chars: characters of one step.
        max_item_tokens: tokens of one formatted item; None = the scorer's own ``max_length`` (when
            it has a tokenizer and rejects long items). The smaller of the two applies.
    """

    max_request_bytes: int = 8 * 2**20
    max_items: int = 1024
    max_steps: int = 256
    max_question_chars: int = 32_000
    max_step_chars: int = 8_000
    max_item_tokens: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_request_bytes", "max_items", "max_steps", "max_question_chars", "max_step_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"ServeLimits.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_item_tokens is not None and self.max_item_tokens < 1:
            raise ValueError(f"ServeLimits.max_item_tokens must be >= 1 or None, got {self.max_item_tokens}")


def check_text(text: str, param: str) -> None:
    """Reject text a tokenizer cannot take: lone UTF-16 surrogates (JSON ``"\\ud800"``).

    Raises:
        ApiError: 400 ``undecodable_text`` naming ``param``.
    """
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ApiError(
            400,
            "undecodable_text",
            f"{param} is not valid Unicode: {err.reason} at character {err.start} "
            f"({text[err.start:err.end]!r}); send UTF-8 text without lone surrogates",
            param=param,
        ) from None


def check_items(items: Sequence[ScoringItem], limits: ServeLimits, *, field: str = "items") -> None:
    """Apply the count, character and text checks to one request's items, in order.

    Args:
        items: ``(question, steps)`` pairs, as sent.
        limits: the server's limits.
        field: the request field holding the items (named in messages).

    Raises:
        ApiError: 400 with the code of the first broken rule, naming ``items[i]`` (its index in the
            request) and the field.
    """
    if len(items) > limits.max_items:
        raise ApiError(
            400,
            "too_many_items",
            f"{field} has {len(items)} entries, over the limit of {limits.max_items} per request "
            "(--max-items); split the request",
            param=field,
        )
    for i, (question, steps) in enumerate(items):
        where = f"{field}[{i}]"
        if len(question) > limits.max_question_chars:
            raise ApiError(
                400,
                "question_too_long",
                f"{where}.question is {len(question)} characters, over the limit of {limits.max_question_chars} "
                "(--max-question-chars)",
                param=f"{where}.question",
            )
        check_text(question, f"{where}.question")
        if not steps:
            raise ApiError(400, "invalid_request", f"{where}.steps is empty; send at least one step", param=f"{where}.steps")
        if len(steps) > limits.max_steps:
            raise ApiError(
                400,
                "too_many_steps",
                f"{where}.steps has {len(steps)} steps, over the limit of {limits.max_steps} (--max-steps)",
                param=f"{where}.steps",
            )
        for k, step in enumerate(steps):
            param = f"{where}.steps[{k}]"
            if len(step) > limits.max_step_chars:
                raise ApiError(
                    400,
                    "step_too_long",
                    f"{param} is {len(step)} characters, over the limit of {limits.max_step_chars} (--max-step-chars)",
                    param=param,
                )
            if not step.strip():
                raise ApiError(400, "blank_step", f"{param} is blank; every step must be non-empty text", param=param)
            check_text(step, param)


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class TokenGuard:
    """Rejects items over the token limit before they reach the scorer.

    Args:
        scorer: a scorer; the guard is active when it has ``encode(question, steps)`` (an item with
            ``input_ids``) and a limit is known (``max_item_tokens`` or the scorer's ``max_length``
            when its ``truncation`` is ``"error"``).
        max_item_tokens: the configured limit (None: the scorer's only).
        lock: held while tokenizing with the scorer's own tokenizer (the server passes the scorer's
            lock: a tokenizer shared with a scorer running in another thread is not thread-safe).
            Not needed when the scorer exposes ``spec.encode`` and ``tokenizer`` (the transformers
            backend): the guard then encodes with its own copy of the tokenizer, after checking on
            two toy items that it gives the scorer's ids, and never waits for a scorer call.

    Example:
        >>> guard = TokenGuard(load_scorer("token-cls", path="runs/prm"), 4096)   # doctest: +SKIP
        >>> guard.check([("q", ["x" * 50_000])])                                 # doctest: +SKIP
        ApiError: items[0] is 50004 tokens long ... over the limit of 4096
    """

    def __init__(self, scorer: Any, max_item_tokens: int | None, lock: threading.Lock | None = None) -> None:
        own = getattr(scorer, "max_length", None) if getattr(scorer, "truncation", "error") == "error" else None
        limits = [n for n in (max_item_tokens, own) if isinstance(n, int)]
        self.limit: int | None = min(limits) if limits else None
        self._encode = getattr(scorer, "encode", None) if self.limit is not None else None
        self._overhead: tuple[int, int] | None = None
        self._lock: Any = lock if lock is not None else contextlib.nullcontext()
        self._scorer = scorer

    def _own_copy(self) -> None:
        """Switch to a private tokenizer copy when it provably encodes like the scorer (no lock then)."""
        spec, tokenizer = getattr(self._scorer, "spec", None), getattr(self._scorer, "tokenizer", None)
        if self._encode is None or not callable(getattr(spec, "encode", None)) or tokenizer is None:
            return
        try:
            own = copy.deepcopy(tokenizer)

            def encode(question: str, steps: list[str]) -> Any:
                return spec.encode(own, question, steps)

            toys = [("q", ["s"]), ("What is 1+1?", ["1+1=2", "The answer is 2"])]
            with self._lock:
                same = all(list(encode(q, s).input_ids) == list(self._encode(q, s).input_ids) for q, s in toys)
        except Exception:  # no copy, or a format that differs: keep the scorer's encode under the lock
            return
        if same:
            self._encode, self._lock = encode, contextlib.nullcontext()

    @property
    def active(self) -> bool:
        """Whether items are checked at all (a tokenizer and a limit are known)."""
        return self._encode is not None

    def _count(self, question: str, steps: Sequence[str]) -> int:
        assert self._encode is not None
        with self._lock:
            return len(self._encode(question, list(steps)).input_ids)

    def _calibrate(self) -> tuple[int, int]:
        """Tokens the format adds: per item and per step (an over-estimate: it includes "q" and "s")."""
        if self._overhead is None:
            self._own_copy()
            one, two = self._count("q", ["s"]), self._count("q", ["s", "s"])
            self._overhead = (one, max(two - one, 1))
        return self._overhead

    def check(self, items: Sequence[ScoringItem], *, field: str = "items") -> None:
        """Tokenize the items that could be over the limit; raise for the first that is.

        Raises:
            ApiError: 400 ``item_too_long`` naming ``items[i]``, its length and the limit; 400
                ``invalid_request`` when the format itself rejects the item.
        """
        if self._encode is None or self.limit is None:
            return
        try:
            fixed, per_step = self._calibrate()
        except Exception:  # a format that cannot encode a toy item: leave length checks to the scorer
            logger.warning("token limit check disabled: the scorer's encode() failed on a toy item", exc_info=True)
            self._encode = None
            return
        for i, (question, steps) in enumerate(items):
            bound = _utf8_len(question) + sum(_utf8_len(s) for s in steps) + fixed + per_step * len(steps)
            if bound <= self.limit:
                continue
            try:
                n = self._count(question, steps)
            except ValueError as err:
                raise ApiError(400, "invalid_request", f"{field}[{i}] cannot be formatted: {err}", param=f"{field}[{i}]") from None
            if n > self.limit:
                raise ApiError(
                    400,
                    "item_too_long",
                    f"{field}[{i}] is {n} tokens long once formatted, over the limit of {self.limit} tokens "
                    "(--max-item-tokens or the model's max_length); shorten it or send fewer steps",
                    param=f"{field}[{i}]",
                )
