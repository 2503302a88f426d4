"""`prmkit train prm|implicit|orm`: train reward models on labelled JSONL.

Every flag is a field of the trainer's config dataclass (``PRMTrainConfig``, ``ImplicitTrainConfig``,
``ORMTrainConfig``: same name with dashes, same help and default), and ``--config run.yaml`` loads
the same fields from YAML; flags given on the command line override the file. Examples::

    prmkit train prm --train-file labels.jsonl --base-model runs/arith_policy --output-dir runs/prm
    prmkit train prm --config prm.yaml --label-mode soft --use-lora
    prmkit train implicit --train-file graded.jsonl --base-model runs/arith_policy --output-dir runs/iprm --beta 0.05
    prmkit train orm --train-file graded.jsonl --base-model runs/arith_policy --output-dir runs/orm

Multi-GPU: ``accelerate launch -m prmkit.cli train prm ...`` runs the same code path on every GPU.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from pathlib import Path
from typing import Any

import typer

__all__ = ["merge_config", "register"]

_COMMANDS = {
    "prm": ("prmkit.train.prm", "PRMTrainConfig", "train_prm",
            "Train a token-classification PRM (label at each step's separator; hard or soft labels; LoRA)."),
    "implicit": ("prmkit.train.implicit", "ImplicitTrainConfig", "train_implicit",
                 "Train an implicit PRM from outcome labels only (beta * log pi/pi_ref, cross-entropy)."),
    "orm": ("prmkit.train.orm", "ORMTrainConfig", "train_orm",
            "Train an outcome reward model (sequence classifier: question + solution -> P(correct))."),
}


def merge_config(config_class: type, yaml_path: str | None, flags: dict[str, Any]) -> Any:
    """Build ``config_class`` from a YAML file (optional) overridden by the flags that were given.

    Args:
        config_class: the trainer's config dataclass.
        yaml_path: a YAML mapping of field names (underscores or dashes) to values, or ``None``.
        flags: field -> value from the command line; ``None`` means "not given".

    Raises:
        ValueError: unknown YAML keys, missing required fields, a YAML file that is not a mapping,
            or a value the config rejects — all problems in one message.
    """
    import yaml

    names = {f.name for f in dataclasses.fields(config_class)}
    values: dict[str, Any] = {}
    errors: list[str] = []
    if yaml_path:
        loaded = yaml.safe_load(Path(yaml_path).read_text(encoding="utf-8")) or {}
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
        required = f.default is dataclasses.MISSING
        shown = "required unless in --config" if required else repr(f.default)
        parameters.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, annotation=typing.Optional[annotation],  # noqa: UP045
            default=typer.Option(None, help=f.metadata.get("help", ""), show_default=shown),
        ))
    return parameters


def _make_command(name: str) -> Any:
    module_name, class_name, function_name, help_text = _COMMANDS[name]

    def command(**options: Any) -> None:
        import importlib

        from prmkit.cli._common import console, fail

        module = importlib.import_module(module_name)
        config_file = options.pop("config")
        if options.get("step_separator") is not None:  # let a shell pass "\\n" for a newline
            options["step_separator"] = options["step_separator"].encode("utf-8").decode("unicode_escape")
        try:
            config = merge_config(getattr(module, class_name), config_file, options)
        except (ValueError, OSError) as err:
            fail(str(err))
        output = getattr(module, function_name)(config)
        console.print(f"{name} checkpoint written to [bold]{output}[/bold] "
                      f"(load it with load_scorer({'token-cls' if name == 'prm' else name!r}, path='{output}'))")

    module = __import__(module_name, fromlist=[class_name])  # light: torch is imported inside the trainers
    command.__signature__ = inspect.Signature(_parameters(getattr(module, class_name)))  # type: ignore[attr-defined]
    command.__doc__ = help_text
    command.__name__ = name
    return command


def register(app: typer.Typer) -> None:
    """Add the ``prm``, ``implicit`` and ``orm`` commands to the ``prmkit train`` app."""
    for name in _COMMANDS:
        app.command(name=name)(_make_command(name))
