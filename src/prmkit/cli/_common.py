"""Small helpers shared by the CLI stage modules."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

__all__ = ["console", "fail", "load_cli_scorer", "parse_options", "resolve_cli_policy"]

console = Console(stderr=True)


def fail(message: str) -> None:
    """Print an error a person can act on and exit 1."""
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=1)


def resolve_cli_policy(policy: str) -> str:
    """:func:`prmkit.tasks.arith.resolve_policy` ("demo" = the shipped policy), with a message instead of a traceback."""
    from prmkit.tasks.arith import resolve_policy

    try:
        return resolve_policy(policy)
    except FileNotFoundError as err:
        fail(str(err))
        raise  # unreachable: fail() exits


def parse_options(pairs: list[str] | None) -> dict[str, object]:
    """Turn repeated ``--option key=value`` flags into keyword arguments.

    Values are read as JSON when they parse (``3``, ``0.5``, ``true``, ``"x"``, ``[1, 2]``) and kept
    as plain strings otherwise (``path/to/dir``).

    Raises:
        typer.BadParameter: a pair without ``=``.
    """
    import json

    options: dict[str, object] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--option {pair!r} must look like key=value")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def load_cli_scorer(model: str, path: str | None, backend: str | None, options: list[str] | None) -> Any:
    """Load a registered scorer from the shared ``--model/--path/--backend/--option`` flags.

    An unknown name, options the scorer does not take, or a bad value fail with the message (exit 1)
    instead of a traceback; the model only loads after the flags are checked.
    """
    from prmkit._registry import UnknownNameError
    from prmkit.models import load_scorer

    kwargs = parse_options(options)
    if path is not None:
        kwargs["path"] = path
    if backend is not None:
        kwargs["backend"] = backend
    try:
        return load_scorer(model, **kwargs)
    except UnknownNameError as err:
        fail(str(err))
    except TypeError as err:
        fail(f"scorer {model!r} does not take the options {sorted(kwargs)}: {err}")
    except (ValueError, OSError) as err:
        fail(f"could not load scorer {model!r}: {err}")
