"""`prmkit train policy`: SFT a tiny character-level policy on the arith task.

Every flag is a field of :class:`prmkit.train.policy.PolicyConfig` (same name with dashes, same
help text and default), so Python, YAML and the CLI share one definition. Examples::

    prmkit train policy --output-dir runs/arith_policy
    prmkit train policy --output-dir runs/quick --max-steps 200 --difficulty easy
    prmkit train policy --stop-at-pass1 1.0 --max-steps 5000   # train on (stop only if perfect)
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``policy`` command to the ``prmkit train`` app."""
    # Import the config lazily-light: prmkit.train.policy imports torch only inside train_policy().
    from prmkit.train.policy import PolicyConfig

    hints = typing.get_type_hints(PolicyConfig)
    parameters = []
    for f in dataclasses.fields(PolicyConfig):
        annotation = hints[f.name]
        if typing.get_origin(annotation) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = typing.Optional[args[0]]  # noqa: UP045 - typer reads Optional
        parameters.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(f.default, help=f.metadata.get("help", "")),
                annotation=annotation,
            )
        )

    def policy(**options: Any) -> None:
        from prmkit.cli._common import console, fail
        from prmkit.train.policy import train_policy

        try:
            config = PolicyConfig(**options)
        except ValueError as err:
            fail(str(err))
        output = train_policy(config)
        console.print(f"policy written to [bold]{output}[/bold] (load it with AutoModelForCausalLM or "
                      f"load_generator('transformers', model='{output}'))")

    policy.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    policy.__doc__ = "SFT a tiny character-level GPT-2 policy on arith reference solutions (loss on solutions only)."
    app.command(name="policy")(policy)
