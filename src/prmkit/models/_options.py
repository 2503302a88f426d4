"""What each registered scorer is, and which keyword options ``load_scorer`` passes on to it.

The family factories (``token-cls``, ``qwen2.5-math-prm`` ...) take ``**options`` and hand them to
the backend's class, so their own signature says nothing; :func:`scorer_options` looks one level
down for them. :data:`SUMMARIES` is the one-line description of every registered name, from which
``load_scorer``'s docstring lists the families (a test checks both stay complete).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

__all__ = ["SUMMARIES", "TRANSFORMERS_OPTIONS", "scorer_options"]

#: One line per registered scorer name (``SCORERS``), for help texts and ``load_scorer``'s docstring.
SUMMARIES: dict[str, str] = {
    "math-shepherd": "peiyi9979/math-shepherd-mistral-7b-prm: P('+') vs '-' at each ' ки' step tag",
    "qwen2.5-math-prm": "Qwen/Qwen2.5-Math-PRM-7B/-72B: chat template, 2-class head at each <extra_0>",
    "rlhflow": "RLHFlow/Llama3.1-8B-PRM-*: one step per user turn, P('+') at each assistant turn",
    "skywork": "Skywork-o1-PRM: scalar value head + sigmoid at each step's last token",
    "token-cls": "prmkit / TRL token-classification PRMs (`prmkit train prm`): label at each step separator",
    "orm": "outcome reward model (`prmkit train orm`): one score, on the last step",
    "verdict": "prmkit's GenRM-style PRM (`prmkit train verdict`): a causal LM writes +/- after each step",
    "implicit": "implicit PRM (EurusPRM / PRIME, `prmkit train implicit`): beta * log pi/pi_ref per step",
    "likelihood": "a causal LM's token log-probs per step, calibrated (self-certainty; `prmkit train verifier`)",
    "judge": "an LLM critic with the ProcessBench prompt names the earliest wrong step (k-sample vote)",
    "thinkprm": "ThinkPRM: a generative verifier writes a rationale and a verdict per step",
    "genprm": "GenPRM: generative verification with its reference prompt and verdict parsing",
    "ensemble": "mean / min / mean - lam * std of several scorers",
    "http": "a remote scorer: `prmkit serve` or `vllm serve --runner pooling` (protocol='vllm')",
    "arith-oracle": "the exact step checker of the arith task (an upper bound, not a PRM)",
    "dummy": "a constant score for every step (tests and dry runs)",
}

#: Backend class of each ``backend=`` value of the family factories.
_BACKEND_CLASSES = {
    "transformers": "prmkit.models.backends.transformers:TransformersScorer",
    "vllm": "prmkit.models.backends.vllm:VLLMScorer",
    "http": "prmkit.models.backends.http:HTTPScorer",
}

#: The options of the default (transformers) backend of every family, as ``load_scorer``'s docstring lists them.
TRANSFORMERS_OPTIONS = (
    "tokenizer", "device", "dtype", "max_batch_tokens", "max_length", "truncation", "progress",
    "prefix_cache", "prefix_cache_tokens", "step_separator",
)

_NOT_OPTIONS = {"self", "spec", "path", "backend", "family"}


def _keywords(target: Any) -> list[str]:
    """The named parameters of ``target`` (a class or function), without ``*args`` / ``**kwargs``."""
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in _NOT_OPTIONS]


def _load(target: str) -> Any:
    module_name, attr = target.split(":", 1)
    return getattr(importlib.import_module(module_name), attr)


def scorer_options(name: str, backend: str | None = None) -> list[str]:
    """The keyword options ``load_scorer(name, ...)`` accepts besides ``path=`` and ``backend=``.

    Args:
        name: a registered scorer name.
        backend: for the families, the backend whose options to list (default ``"transformers"``).

    Returns:
        Option names in signature order (imports the scorer's module, never torch).

    Raises:
        prmkit._registry.UnknownNameError: ``name`` is not registered.

    Example:
        >>> "truncation" in scorer_options("token-cls")
        True
    """
    from prmkit.models import SCORERS
    from prmkit.models.families import FAMILIES

    factory = SCORERS.get(name)
    if name in FAMILIES:
        target = _BACKEND_CLASSES.get(backend or "transformers")
        return _keywords(_load(target)) if target else []
    return _keywords(factory)
