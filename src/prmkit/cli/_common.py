"""Small helpers shared by the CLI stage modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from prmkit.cli._errors import UserError

__all__ = [
    "checkpoint_path", "console", "fail", "load_cli_scorer", "load_cli_task", "output_file", "parse_options",
    "prm_source", "resolve_cli_policy", "sniff_format",
]

console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Stop the command with an error a person can act on (one line, exit code 2).

    Raises:
        UserError: always; :class:`prmkit.cli._errors.RootGroup` prints it.
    """
    raise UserError(message)


def resolve_cli_policy(policy: str) -> str:
    """:func:`prmkit.tasks.arith.resolve_policy` ("demo" = the shipped policy), with a message instead of a traceback."""
    from prmkit.tasks.arith import resolve_policy

    try:
        return resolve_policy(policy)
    except FileNotFoundError as err:
        fail(str(err))


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


def checkpoint_path(value: str, flag: str, *, demo: bool = False, hub: bool = True) -> str:
    """A model folder or hub id given on the command line, checked before anything loads.

    A local folder must hold ``config.json`` (or a PEFT ``adapter_config.json``); a path that can
    only be local (``/``, ``./``, ``../``, ``~`` or two ``/``: hub ids have at most one) must exist.
    Anything else is a hub id, checked by :func:`prmkit._hub.check_hub_model` (cached, or found on
    the hub in one short request). Without this, transformers answers a missing folder with "Repo id
    must be in the form ...", a folder of other files with "install sentencepiece", and a typo with
    50 s of retries.

    Args:
        value: the flag's value.
        flag: the flag's name for the message (``"--path"``).
        demo: ``"demo"`` names the arith policy shipped with prmkit (``--policy``, ``--base-model``).
        hub: check a hub id against the cache / hub (off where the name goes to a server instead).
    """
    if demo and value == "demo":
        return resolve_cli_policy(value)
    local = Path(value).expanduser()
    if local.is_dir():
        if not any((local / name).is_file() for name in ("config.json", "adapter_config.json")):
            fail(f"{flag} {value}: folder without config.json, not a model checkpoint; pass the folder a "
                 "`prmkit train ...` run wrote or a Hugging Face hub id")
        return str(local)
    if local.exists():
        fail(f"{flag} {value}: is a file; pass a checkpoint folder or a Hugging Face hub id")
    if value.startswith(("/", "./", "../", "~")) or value.count("/") >= 2:
        fail(f"{flag} {value}: no such folder")
    if hub:
        from prmkit._hub import check_hub_model

        check_hub_model(value, flag, demo=demo)
    return value


def sniff_format(path: Path, flag: str, *, plain: bool = False) -> str:
    """The format of ``path`` told from its first record (:func:`prmkit.io.solutions.sniff`); fails with the fix otherwise.

    Args:
        path: a JSONL file or a JSON list (ProcessBench).
        flag: the flag that named it, for the message.
        plain: accept ``prmkit score``'s plain ``{"id", "question", "steps"}`` lines (``"plain"``).
    """
    from prmkit.io._jsonl import FormatError
    from prmkit.io.solutions import sniff

    try:
        found = sniff(path)
    except FormatError as err:
        fail(f"{flag} {err}")
    if found == "plain" and not plain:
        fail(f"{flag} {path}: plain {{id, question, steps}} records carry no step labels; pass labelled data "
             "(e.g. a `prmkit annotate` output) or --format")
    return found


def output_file(path: Path | None, flag: str) -> None:
    """Refuse an output path that is a folder before any work (the write would fail after it all)."""
    if path is not None and path.is_dir():
        fail(f"{flag} {path}: is a folder; give a file name (e.g. {path / 'result.json'})")


def load_cli_task(name: str, options: list[str] | None) -> Any:
    """A registered task from ``--task`` and ``--task-option key=value`` flags, with the fix on a missing option."""
    import inspect

    from prmkit.tasks import TASKS, load_task

    kwargs = parse_options(options)
    try:
        return load_task(name, **kwargs)
    except TypeError as err:
        try:
            takes = [p for p in inspect.signature(TASKS.get(name)).parameters if p != "self"]
        except (TypeError, ValueError):
            takes = []
        fail(f"--task {name}: {err}; give its options as --task-option key=value (it takes: {', '.join(takes) or 'none'})")


def load_cli_scorer(model: str, path: str | None, backend: str | None, options: list[str] | None,
                    path_flag: str = "--path") -> Any:
    """Load a registered scorer from the shared ``--model/--path/--backend/--option`` flags.

    The name, the ``--path`` folder (``path_flag`` in messages) and the options are checked before
    the model loads; a rejected ``--option`` is named with the options the scorer takes
    (``--path``/``--backend`` are flags, so they are not listed as options).
    """
    from prmkit.models import SCORERS, load_scorer, scorer_options

    SCORERS.get(model)  # UnknownNameError lists the valid names
    kwargs = parse_options(options)
    if path is not None:
        kwargs["path"] = checkpoint_path(path, path_flag, hub=backend != "http")  # http: the server holds the model
    if backend is not None:
        kwargs["backend"] = backend
    try:
        return load_scorer(model, **kwargs)
    except TypeError as err:
        given = [f"--option {key}" for key in parse_options(options)] or [f"--{key}" for key in kwargs]
        valid = scorer_options(model, backend)
        fail(f"scorer {model!r} does not take {', '.join(given)} ({err}); its options: {', '.join(valid) or 'none'}")
    except (ValueError, OSError) as err:
        fail(f"could not load scorer {model!r}: {err}")


def prm_source(prm: str, family: str | None, flag: str = "--prm") -> tuple[str | None, str]:
    """``(checkpoint dir or hub id, or None; scorer name)`` for ``--prm`` / ``--prm-family``.

    ``--prm`` is a checkpoint folder (read with ``--prm-family``, else the family its
    ``prmkit.json`` records, what ``prmkit train ...`` writes, else ``token-cls``), ``FAMILY:PATH``
    (a folder or hub id read by that family: ``qwen2.5-math-prm:Qwen/Qwen2.5-Math-PRM-7B``), or a
    registered scorer name (``arith-oracle``).
    """
    from prmkit.models import SCORERS
    from prmkit.models.checkpoints import DEFAULT_FAMILY, recorded_family

    if Path(prm).is_dir():
        return checkpoint_path(prm, flag), family or recorded_family(prm) or DEFAULT_FAMILY
    named, sep, path = prm.partition(":")
    if sep and named in SCORERS.names() and path:
        if family is not None and family != named:
            fail(f"{flag} {prm} names the family {named} but --prm-family says {family}; give one")
        return checkpoint_path(path, flag), named
    if family is not None:
        fail(f"--prm-family {family} needs {flag} to be a checkpoint folder; {prm!r} is not one")
    if prm not in SCORERS.names():
        fail(f"{flag} {prm!r} is neither a PRM checkpoint folder, FAMILY:PATH nor a registered scorer; "
             f"train one (e.g. `prmkit demo`) or choose one of: {', '.join(SCORERS.names())}")
    return None, prm
