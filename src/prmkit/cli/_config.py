"""Config dataclass -> CLI command: one definition serves Python, YAML and the command line.

Every field of a config dataclass becomes a ``--field-name`` flag with the field's help text and
default; ``--config run.yaml`` loads the same fields from YAML and flags given on the command line
override it (STYLE.md habits 3-4). Unknown YAML keys, missing required fields and rejected values
are all reported in one message before anything heavy runs.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

__all__ = ["as_flags", "config_command", "merge_config"]


def as_flags(message: str) -> str:
    """A config error in the command line's words: ``PRMTrainConfig.learning_rate`` -> ``--learning-rate``.

    Config classes name their fields the Python way (they serve Python and YAML too); a person at the
    shell should read the flag to change.
    """
    return re.sub(r"\b[A-Z]\w*Config\.(\w+)", lambda m: "--" + m.group(1).replace("_", "-"), message)


def merge_config(config_class: type, yaml_path: str | None, flags: dict[str, Any]) -> Any:
    """Build ``config_class`` from a YAML file (optional) overridden by the flags that were given.

    Args:
        config_class: a config dataclass.
        yaml_path: a YAML mapping of field names (underscores or dashes) to values, or ``None``.
        flags: field -> value from the command line; ``None`` means "not given".

    Raises:
        ValueError: a missing or malformed YAML file (names file:line), unknown YAML keys, missing
            required fields, a YAML file that is not a mapping, or a value the config rejects — all
            problems in one message.
    """
    import yaml

    names = {f.name for f in dataclasses.fields(config_class)}
    values: dict[str, Any] = {}
    errors: list[str] = []
    if yaml_path:
        if not Path(yaml_path).is_file():
            raise ValueError(f"--config {yaml_path}: {'is a folder' if Path(yaml_path).is_dir() else 'no such file'}; "
                             "give a YAML file of the command's fields")
        try:
            loaded = yaml.safe_load(Path(yaml_path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"{yaml_path}:{mark.line + 1}" if mark is not None else str(yaml_path)
            raise ValueError(f"{where}: invalid YAML ({getattr(err, 'problem', None) or err})") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{yaml_path}: expected a mapping of {config_class.__name__} fields, got {type(loaded).__name__}")
        for key, value in loaded.items():
            name = str(key).replace("-", "_")
            if name in names:
                values[name] = value
            else:
                errors.append(f"{yaml_path}: unknown key {key!r}")
    values.update({k: v for k, v in flags.items() if v is not None})
    missing = [f.name for f in dataclasses.fields(config_class)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in values]
    errors += [f"missing --{name.replace('_', '-')}" for name in missing]
    if errors:
        raise ValueError("; ".join(errors) + f" (valid fields: {', '.join(sorted(names))})")
    return config_class(**values)


def _parameters(config_class: type) -> list[inspect.Parameter]:
    hints = typing.get_type_hints(config_class)
    parameters = [inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=typing.Optional[str],  # noqa: UP045
                                    default=typer.Option(None, help="YAML file of these fields; flags override it."))]
    for f in dataclasses.fields(config_class):
        annotation = hints[f.name]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        shown = "required unless in --config" if required else str(f.default)
        parameters.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, annotation=typing.Optional[annotation],  # noqa: UP045
            default=typer.Option(None, help=f.metadata.get("help", ""), show_default=shown),
        ))
    return parameters


def config_command(
    config_class: type,
    run: Callable[[Any], Any],
    *,
    name: str,
    help: str,  # noqa: A002 - typer's own word
    prepare: Callable[[dict[str, Any]], None] | None = None,
) -> Callable[..., None]:
    """A typer command whose flags are ``config_class``'s fields; it builds the config and calls ``run``.

    Args:
        config_class: the config dataclass (fields with ``metadata={"help": ...}``).
        run: called with the built config (heavy imports belong inside it).
        name, help: the command's name and help text.
        prepare: optional hook that may rewrite the raw flag values before the config is built.
    """

    def command(**options: Any) -> None:
        from prmkit._errors import InputError
        from prmkit.cli._common import fail

        config_file = options.pop("config")
        if prepare is not None:
            prepare(options)
        try:
            config = merge_config(config_class, config_file, options)
        except (ValueError, OSError) as err:
            fail(as_flags(str(err)))
        try:
            run(config)
        except InputError as err:  # e.g. a path the trainer checked: name the flag, not the field
            fail(as_flags(str(err)))

    command.__signature__ = inspect.Signature(_parameters(config_class))  # type: ignore[attr-defined]
    command.__doc__ = help
    command.__name__ = name
    return command
