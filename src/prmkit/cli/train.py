"""`prmkit train`: train PRMs (token classification, implicit), ORMs and tiny policies.

Each trainer's command lives in its own module (``train_<what>.py``) exposing ``register(app)``;
every flag is a field of that trainer's config dataclass (see :mod:`prmkit.cli._config`).
"""

from __future__ import annotations

import typer

from prmkit.cli import train_policy, train_prm

app = typer.Typer(help="Train PRMs (token classification, implicit), ORMs and tiny policies.", no_args_is_help=True)

train_policy.register(app)
train_prm.register(app)
