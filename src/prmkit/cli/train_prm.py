"""`prmkit train prm|implicit|orm|verifier|verdict|pairwise`: train reward models on labelled JSONL.

Every flag is a field of the trainer's config dataclass (``PRMTrainConfig``, ``ImplicitTrainConfig``,
``ORMTrainConfig``, ``VerifierTrainConfig``, ``VerdictTrainConfig``, ``PairwiseTrainConfig``: same name with dashes, same help and default), and ``--config run.yaml`` loads
the same fields from YAML; flags given on the command line override the file. Examples::

    prmkit train prm --train-file labels.jsonl --base-model runs/arith_policy --output-dir runs/prm
    prmkit train prm --config prm.yaml --label-mode soft --use-lora
    prmkit train implicit --train-file graded.jsonl --base-model runs/arith_policy --output-dir runs/iprm --beta 0.05
    prmkit train orm --train-file graded.jsonl --base-model runs/arith_policy --output-dir runs/orm
    prmkit train verifier --train-file labels/mc.jsonl --base-model demo --output-dir runs/verifier --rounds 2
    prmkit train verdict --train-file labels.jsonl --base-model runs/arith_policy --output-dir runs/vprm --lm-weight 0.1
    prmkit train pairwise --train-file labels/pairs --base-model demo --output-dir runs/ppm --step-val-file labels/mc
    prmkit train prm --train-file labels/rest --label-mode value ...   # ReST-MCTS* value targets, MSE

Multi-GPU: ``accelerate launch -m prmkit.cli train prm ...`` runs the same code path on every GPU.
"""

from __future__ import annotations

from typing import Any

import typer

from prmkit.cli._config import config_command

__all__ = ["register"]

_COMMANDS = {
    "prm": ("prmkit.train.prm", "PRMTrainConfig", "train_prm",
            "Train a token-classification PRM (label at each step's separator; hard or soft labels; LoRA)."),
    "implicit": ("prmkit.train.implicit", "ImplicitTrainConfig", "train_implicit",
                 "Train an implicit PRM from outcome labels only (beta * log pi/pi_ref, cross-entropy)."),
    "orm": ("prmkit.train.orm", "ORMTrainConfig", "train_orm",
            "Train an outcome reward model (sequence classifier: question + solution -> P(correct))."),
    "verifier": ("prmkit.train.verifier", "VerifierTrainConfig", "train_verifier",
                 "Train a likelihood verifier: expert-iteration rounds on outcome-correct samples, calibrated on step labels."),
    "verdict": ("prmkit.train.verdict", "VerdictTrainConfig", "train_verdict",
                "Train a generative verdict PRM (causal LM writes '+'/'-' after a '?' tag behind each step)."),
    "pairwise": ("prmkit.train.pairwise", "PairwiseTrainConfig", "train_pairwise",
                 "Train a token-cls PRM on step preference pairs (ppm-pairs) with the Bradley-Terry loss (rStar-Math PPM)."),
}
_FAMILY = {"prm": "token-cls", "verifier": "likelihood", "pairwise": "token-cls"}  # the scorer family each command's checkpoint loads as


def _make_command(name: str) -> Any:
    module_name, class_name, function_name, help_text = _COMMANDS[name]

    def unescape(options: dict[str, Any]) -> None:
        if options.get("step_separator") is not None:  # let a shell pass "\\n" for a newline
            options["step_separator"] = options["step_separator"].encode("utf-8").decode("unicode_escape")

    def run(config: Any) -> None:
        import importlib

        from prmkit.cli._common import console

        output = getattr(importlib.import_module(module_name), function_name)(config)
        console.print(f"{name} checkpoint written to [bold]{output}[/bold] "
                      f"(load it with load_scorer({_FAMILY.get(name, name)!r}, path='{output}'))")

    module = __import__(module_name, fromlist=[class_name])  # light: torch is imported inside the trainers
    return config_command(getattr(module, class_name), run, name=name, help=help_text, prepare=unescape)


def register(app: typer.Typer) -> None:
    """Add the ``prm``, ``implicit``, ``orm``, ``verifier``, ``verdict`` and ``pairwise`` commands to the ``prmkit train`` app."""
    for name in _COMMANDS:
        app.command(name=name)(_make_command(name))
