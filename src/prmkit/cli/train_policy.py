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

import typer

from prmkit.cli._config import config_command

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``policy`` command to the ``prmkit train`` app."""
    # Light imports only: prmkit.train.policy imports torch inside train_policy().
    from prmkit.train.policy import PolicyConfig

    def run(config: PolicyConfig) -> None:
        from prmkit.cli._common import console
        from prmkit.train.policy import train_policy

        output = train_policy(config)
        console.print(f"policy written to [bold]{output}[/bold] (load it with AutoModelForCausalLM or "
                      f"load_generator('transformers', model='{output}'))")

    help_text = "SFT a tiny character-level GPT-2 policy on arith reference solutions (loss on solutions only)."
    app.command(name="policy")(config_command(PolicyConfig, run, name="policy", help=help_text))
