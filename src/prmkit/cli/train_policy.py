"""`prmkit train policy`: SFT a tiny character-level policy on the arith task.

Every flag is a field of :class:`prmkit.train.policy.PolicyConfig` (same name with dashes, same
help text and default), and ``--config run.yaml`` loads the same fields from YAML (flags override
it), so Python, YAML and the CLI share one definition. Examples::

    prmkit train policy --output-dir runs/arith_policy
    prmkit train policy --output-dir runs/quick --max-steps 200 --difficulty easy
    prmkit train policy --stop-at-pass1 1.0 --max-steps 5000   # train on (stop only if perfect)
    prmkit train policy --config policy.yaml --seed 1
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Any

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``policy`` command to the ``prmkit train`` app."""
    # Light imports only: prmkit.train.policy imports torch inside train_policy().
    from prmkit.train.policy import PolicyConfig

    hints = typing.get_type_hints(PolicyConfig)
    parameters = [inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=typing.Optional[str],  # noqa: UP045
                                    default=typer.Option(None, help="YAML file of these fields; flags override it."))]
    for f in dataclasses.fields(PolicyConfig):
        annotation = hints[f.name]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        parameters.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, annotation=typing.Optional[annotation],  # noqa: UP045
            default=typer.Option(None, help=f.metadata.get("help", ""), show_default=str(f.default)),
        ))

    def policy(**options: Any) -> None:
        from prmkit.cli._common import console, fail
        from prmkit.cli.train_prm import merge_config
        from prmkit.train.policy import train_policy

        config_file = options.pop("config")
        try:
            config = merge_config(PolicyConfig, config_file, options)
        except (ValueError, OSError) as err:
            fail(str(err))
        output = train_policy(config)
        console.print(f"policy written to [bold]{output}[/bold] (load it with AutoModelForCausalLM or "
                      f"load_generator('transformers', model='{output}'))")

    policy.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    policy.__doc__ = "SFT a tiny character-level GPT-2 policy on arith reference solutions (loss on solutions only)."
    app.command(name="policy")(policy)
