"""Everything that scores reasoning steps.

A :class:`Scorer` maps ``(question, steps)`` pairs to P(step is correct) for every step. Scorers are
loaded by family name from :data:`SCORERS`; each family knows its model's exact input format.

    >>> from prmkit.models import load_scorer
    >>> scorer = load_scorer("dummy", value=0.7)
    >>> scorer.score([("What is 1+1?", ["1+1=2", "The answer is 2."])])
    [[0.7, 0.7]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from prmkit._registry import Registry
from prmkit.models.aggregate import AGGREGATIONS, aggregate

__all__ = ["Scorer", "SCORERS", "load_scorer", "scorer_options", "aggregate", "AGGREGATIONS", "ScoringItem"]

ScoringItem = tuple[str, Sequence[str]]


@runtime_checkable
class Scorer(Protocol):
    """Scores every step of many solutions at once.

    ``score(items)`` takes ``(question, steps)`` pairs and returns, in input order, one list per
    item with one probability in [0, 1] per step (``None`` where the model gives no score for a
    step, e.g. an outcome model's non-final steps). Implementations batch internally.
    """

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]: ...


SCORERS = Registry("scorer")
for _name, _target in {
    "dummy": "prmkit.models.dummy:DummyScorer",
    "math-shepherd": "prmkit.models.families:math_shepherd",
    "qwen2.5-math-prm": "prmkit.models.families:qwen_math_prm",
    "rlhflow": "prmkit.models.families:rlhflow",
    "skywork": "prmkit.models.families:skywork",
    "token-cls": "prmkit.models.families:token_cls",
    "orm": "prmkit.models.families:orm",
    "verdict": "prmkit.models.families:verdict",
    "implicit": "prmkit.models.implicit:ImplicitScorer",
    "likelihood": "prmkit.models.likelihood:LikelihoodScorer",
    "judge": "prmkit.models.judge:JudgeScorer",
    "thinkprm": "prmkit.models.generative:ThinkPRMScorer",
    "genprm": "prmkit.models.generative:GenPRMScorer",
    "ensemble": "prmkit.models.ensemble:EnsembleScorer",
    "http": "prmkit.models.backends.http:HTTPScorer",
    "arith-oracle": "prmkit.models.oracle:OracleScorer",
}.items():
    SCORERS.register(_name, _target)


def load_scorer(name: str, **options: Any) -> Scorer:
    """Build the scorer registered as ``name`` with ``options`` (``path=``, ``backend=``, ...).

    (The list of names and options below is filled in from the registry when ``prmkit.models`` loads.)

    Raises:
        prmkit._registry.UnknownNameError: ``name`` is not registered (lists the valid names).
    """
    return SCORERS.get(name)(**options)


def scorer_options(name: str, backend: str | None = None) -> list[str]:
    """The keyword options ``load_scorer(name, ...)`` takes besides ``path=`` / ``backend=`` (see :mod:`prmkit.models._options`)."""
    from prmkit.models._options import scorer_options as options_of

    return options_of(name, backend)


def _load_scorer_doc() -> str:
    """``load_scorer``'s docstring: every registered name with what it is, and the options families take."""
    import textwrap

    from prmkit.models._options import SUMMARIES, TRANSFORMERS_OPTIONS

    width = max(len(name) for name in SCORERS.names())
    names = "\n".join(f"            {name:<{width}}  {SUMMARIES.get(name, '')}" for name in SCORERS.names())
    family_options = textwrap.fill(", ".join(f"``{o}``" for o in TRANSFORMERS_OPTIONS), width=88,
                                   initial_indent=" " * 12, subsequent_indent=" " * 12)
    return f"""Build the scorer registered as ``name`` with ``options``; it scores every step in [0, 1].

    Args:
        name: one of (``SCORERS.names()``)::

{names}

        **options: ``path=`` the checkpoint folder or hub id (families, implicit, likelihood);
            ``backend=`` ``"transformers"`` (default), ``"vllm"`` or ``"http"`` (families). With the
            transformers backend a family takes:

{family_options}

            (``truncation="keep_last_steps"`` drops a too-long item's oldest steps instead of refusing
            it). Every other scorer takes its own: ``scorer_options(name)`` lists them, ``help()`` of
            its class explains them. On the command line each is ``--option key=value``.

    Returns:
        A :class:`Scorer`.

    Raises:
        prmkit._registry.UnknownNameError: ``name`` is not registered (lists the valid names).
        TypeError: an option the scorer does not take.

    Example:
        >>> load_scorer("dummy", value=0.7).score([("1+1?", ["1+1=2"])])
        [[0.7]]
    """


load_scorer.__doc__ = _load_scorer_doc()
