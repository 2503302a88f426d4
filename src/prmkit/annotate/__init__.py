"""Process-label synthesis: Monte Carlo step labels without human annotators.

``mc`` (Math-Shepherd hard / soft estimation), ``omegaprm`` (binary search for the first error,
with OmegaPRM's rollout selection), ``rpe`` (GenPRM relative progress) and ``pav`` (advantage
under a prover) label steps by sampling rollouts from step prefixes. Every
annotator counts the rollouts it spends, batches all pending rollouts into few
``Generator.complete`` calls, and :func:`run_sharded` writes resumable JSONL shards.

    >>> from prmkit.annotate import load_annotator, ANNOTATORS
    >>> ANNOTATORS.names()
    ['mc', 'omegaprm', 'pav', 'rpe']
    >>> mc = load_annotator("mc", generator=gen, task=task, n=8)   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from prmkit._registry import Registry
from prmkit.annotate._base import (
    AnnotationUnit,
    Annotator,
    RolloutConfig,
    hard_labels,
    units_from_records,
)
from prmkit.annotate.metrics import Agreement, agreement
from prmkit.annotate.run import AnnotationRun, run_sharded
from prmkit.annotate.sample import SamplerConfig, SolutionSampler

__all__ = [
    "ANNOTATORS",
    "Agreement",
    "AnnotationRun",
    "AnnotationUnit",
    "Annotator",
    "MCAnnotator",
    "MCConfig",
    "OmegaPRMAnnotator",
    "OmegaPRMConfig",
    "PAVAnnotator",
    "PAVConfig",
    "RPEAnnotator",
    "RPEConfig",
    "RolloutConfig",
    "SamplerConfig",
    "SolutionSampler",
    "agreement",
    "hard_labels",
    "load_annotator",
    "run_sharded",
    "units_from_records",
]

ANNOTATORS = Registry("annotator")
ANNOTATORS.register("mc", "prmkit.annotate.mc:MCAnnotator")
ANNOTATORS.register("omegaprm", "prmkit.annotate.omegaprm:OmegaPRMAnnotator")
ANNOTATORS.register("rpe", "prmkit.annotate.rpe:RPEAnnotator")
ANNOTATORS.register("pav", "prmkit.annotate.pav:PAVAnnotator")


def load_annotator(name: str, **options: Any) -> Annotator:
    """Build the annotator registered as ``name`` with ``generator=``, ``task=`` and config fields."""
    return ANNOTATORS.get(name)(**options)


def __getattr__(name: str) -> Any:
    # The annotator classes load through the registry, like every other pluggable piece.
    targets = {
        "MCAnnotator": ("mc", "MCAnnotator"),
        "MCConfig": ("mc", "MCConfig"),
        "OmegaPRMAnnotator": ("omegaprm", "OmegaPRMAnnotator"),
        "OmegaPRMConfig": ("omegaprm", "OmegaPRMConfig"),
        "RPEAnnotator": ("rpe", "RPEAnnotator"),
        "RPEConfig": ("rpe", "RPEConfig"),
        "PAVAnnotator": ("pav", "PAVAnnotator"),
        "PAVConfig": ("pav", "PAVConfig"),
    }
    if name in targets:
        import importlib

        module, attr = targets[name]
        return getattr(importlib.import_module(f"prmkit.annotate.{module}"), attr)
    raise AttributeError(f"module 'prmkit.annotate' has no attribute {name!r}")
