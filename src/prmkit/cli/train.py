"""`prmkit train`: train PRMs (token classification, implicit), ORMs and tiny policies.

Each trainer's command lives in its own module (``train_<what>.py``) exposing ``register(app)``.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="Train PRMs (token classification, implicit), ORMs and tiny policies.", no_args_is_help=True)

for _module in ("train_policy", "train_prm"):
    try:
        importlib.import_module(f"prmkit.cli.{_module}").register(app)
    except ModuleNotFoundError as err:  # a trainer not built yet: its command is simply absent
        if err.name != f"prmkit.cli.{_module}":
            raise
