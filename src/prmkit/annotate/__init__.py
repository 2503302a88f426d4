"""Process-label synthesis: Monte Carlo step labels without human annotators.

``mc`` (Math-Shepherd hard / soft estimation), ``omegaprm`` (binary search for the first error,
with OmegaPRM's rollout selection), ``rpe`` (GenPRM relative progress), ``pav`` (advantage
under a prover) and ``consensus`` (MC kept only where a second judge agrees, Qwen2.5-Math-PRM)
label steps by sampling rollouts from step prefixes; ``spare`` aligns steps to a reference
solution instead (no rollouts); ``rest-mcts`` (ReST-MCTS* value targets) and ``ppm-pairs``
(rStar-Math step preference pairs) label from one MCTS tree per question. Every
annotator counts the rollouts it spends, batches all pending rollouts into few
``Generator.complete`` calls, and :func:`run_sharded` writes resumable JSONL shards.

    >>> from prmkit.annotate import load_annotator, ANNOTATORS
    >>> ANNOTATORS.names()
    ['consensus', 'mc', 'omegaprm', 'pav', 'ppm-pairs', 'rest-mcts', 'rpe', 'spare']
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
    "ConsensusAnnotator",
    "ConsensusConfig",
    "MCAnnotator",
    "MCConfig",
    "OmegaPRMAnnotator",
    "OmegaPRMConfig",
    "PPMPairsAnnotator",
    "PPMPairsConfig",
    "PAVAnnotator",
    "PAVConfig",
    "RPEAnnotator",
    "RPEConfig",
    "RestMCTSAnnotator",
    "RestMCTSConfig",
    "RolloutConfig",
    "SPAREAnnotator",
    "SPAREConfig",
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
ANNOTATORS.register("consensus", "prmkit.annotate.consensus:ConsensusAnnotator")
ANNOTATORS.register("spare", "prmkit.annotate.spare:SPAREAnnotator")
ANNOTATORS.register("rest-mcts", "prmkit.annotate.rest_mcts:RestMCTSAnnotator")
ANNOTATORS.register("ppm-pairs", "prmkit.annotate.ppm:PPMPairsAnnotator")


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
        "ConsensusAnnotator": ("consensus", "ConsensusAnnotator"),
        "ConsensusConfig": ("consensus", "ConsensusConfig"),
        "SPAREAnnotator": ("spare", "SPAREAnnotator"),
        "SPAREConfig": ("spare", "SPAREConfig"),
        "RestMCTSAnnotator": ("rest_mcts", "RestMCTSAnnotator"),
        "RestMCTSConfig": ("rest_mcts", "RestMCTSConfig"),
        "PPMPairsAnnotator": ("ppm", "PPMPairsAnnotator"),
        "PPMPairsConfig": ("ppm", "PPMPairsConfig"),
    }
    if name in targets:
        import importlib

        module, attr = targets[name]
        return getattr(importlib.import_module(f"prmkit.annotate.{module}"), attr)
    raise AttributeError(f"module 'prmkit.annotate' has no attribute {name!r}")
