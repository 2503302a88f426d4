"""What every reward-model trainer config shares: data paths, LoRA, optimisation, evaluation, seed.

:class:`TrainConfig` holds the fields (with help text, since ``prmkit train ...`` flags are built
from them by :func:`prmkit.cli._config.config_command`) and the checks common to
:class:`~prmkit.train.prm.PRMTrainConfig`, :class:`~prmkit.train.orm.ORMTrainConfig` and
:class:`~prmkit.train.implicit.ImplicitTrainConfig`. Each of those extends it with its own fields
(``label_mode``, ``beta``, ``metric`` ...) and redeclares a shared field only where its help text or
default differs. :func:`load_train_val` and :func:`loop_settings` are the two steps every trainer
takes from such a config in the same way. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from prmkit._errors import InputError

if TYPE_CHECKING:
    from prmkit.train._loop import LoopSettings
    from prmkit.types import LabelledSolution

__all__ = ["TrainConfig", "help_text", "load_train_val", "loop_settings", "resolve_inputs"]


def help_text(text: str) -> dict[str, str]:
    """Field metadata carrying a CLI help string: ``field(metadata=help_text("..."))``."""
    return {"help": text}


@dataclass
class TrainConfig:
    """Fields and checks shared by the PRM, ORM and implicit-PRM trainer configs.

    Raises (on construction):
        InputError: every field outside its range at once (``learning_rate <= 0``, ``val_fraction``
            outside [0, 1), an unknown ``mixed_precision``, ``num_epochs <= 0`` ...); each part names
            the concrete config class and field (``PRMTrainConfig.learning_rate = -1.0 must be > 0``).
            Paths are checked by :func:`resolve_inputs`, which needs the filesystem.
    """

    #: What a line of ``train_file`` / ``val_file`` holds (named in the errors about them).
    record_type: ClassVar[str] = "LabelledSolution"

    train_file: str = field(metadata=help_text("JSONL of LabelledSolution records, or a `prmkit annotate` output folder (its shards)."))
    base_model: str = field(metadata=help_text("Hugging Face causal-LM checkpoint directory to start from."))
    output_dir: str = field(metadata=help_text("Where the best checkpoint, config and eval history are written."))
    val_file: str | None = field(default=None, metadata=help_text("Validation JSONL (or annotate output folder); default: hold out val_fraction of the problems."))
    val_fraction: float = field(default=0.1, metadata=help_text("Share of problems held out for validation when no val_file (0 = none)."))
    max_length: int | None = field(default=None, metadata=help_text("Longest allowed tokenized solution (longer records are an error); default the base model's position limit."))
    use_lora: bool = field(default=False, metadata=help_text("Train LoRA adapters (peft) instead of all weights; merged on save."))
    lora_r: int = field(default=16, metadata=help_text("LoRA rank."))
    lora_alpha: int = field(default=32, metadata=help_text("LoRA alpha (scale = alpha / r)."))
    lora_dropout: float = field(default=0.0, metadata=help_text("LoRA dropout."))
    lora_target_modules: str | None = field(default=None, metadata=help_text("Comma-separated module names for LoRA; default all linear layers."))
    learning_rate: float = field(default=1e-4, metadata=help_text("Peak AdamW learning rate (linear warmup, linear decay)."))
    weight_decay: float = field(default=0.0, metadata=help_text("AdamW weight decay."))
    num_epochs: float = field(default=3.0, metadata=help_text("Epochs over the training split (ignored when max_steps > 0)."))
    max_steps: int = field(default=-1, metadata=help_text("Optimizer steps to run; -1 = use num_epochs."))
    batch_size: int = field(default=8, metadata=help_text("Solutions per batch per device."))
    gradient_accumulation_steps: int = field(default=1, metadata=help_text("Batches accumulated per optimizer step."))
    warmup_ratio: float = field(default=0.05, metadata=help_text("Share of steps spent warming up the learning rate."))
    max_grad_norm: float = field(default=1.0, metadata=help_text("Gradient clipping norm (0 = off)."))
    eval_every: int = field(default=100, metadata=help_text("Validate every this many optimizer steps (and at the end)."))
    patience: int | None = field(default=None, metadata=help_text("Stop after this many validations without improvement; default never."))
    eval_batch_size: int = field(default=16, metadata=help_text("Solutions per forward pass during validation."))
    eval_train_examples: int = field(default=64, metadata=help_text("Training solutions also scored at each validation (fit check; 0 = off)."))
    padding_side: str = field(default="right", metadata=help_text("Pad batches on the 'right' or 'left' (results must not depend on it)."))
    mixed_precision: str = field(default="no", metadata=help_text("accelerate mixed precision: no, fp16 or bf16."))
    seed: int = field(default=0, metadata=help_text("Seed for the split, initialisation of the head and shuffling."))

    def __post_init__(self) -> None:
        name = type(self).__name__
        errors = [f"{name}.{field_name} = {value!r} {rule}" for field_name, value, rule in _rule_breaks(self)]
        if errors:
            raise InputError("; ".join(errors))


_MIXED_PRECISION = ("no", "fp16", "bf16")


def _rule_breaks(config: TrainConfig) -> list[tuple[str, Any, str]]:
    """``(field, value, rule)`` for every shared field outside its range (all at once, not the first)."""
    broken = []
    if config.padding_side not in ("left", "right"):
        broken.append(("padding_side", config.padding_side, "is not 'left' or 'right'"))
    if config.mixed_precision not in _MIXED_PRECISION:
        broken.append(("mixed_precision", config.mixed_precision, f"is not one of {', '.join(_MIXED_PRECISION)}"))
    for field_name in ("batch_size", "eval_batch_size", "gradient_accumulation_steps", "eval_every", "lora_r", "lora_alpha"):
        if getattr(config, field_name) < 1:
            broken.append((field_name, getattr(config, field_name), "must be >= 1"))
    if config.max_length is not None and config.max_length < 1:
        broken.append(("max_length", config.max_length, "must be >= 1 (or unset: the model's position limit)"))
    if not config.learning_rate > 0:
        broken.append(("learning_rate", config.learning_rate, "must be > 0"))
    for field_name in ("weight_decay", "max_grad_norm", "eval_train_examples"):
        if getattr(config, field_name) < 0:
            broken.append((field_name, getattr(config, field_name), "must be >= 0"))
    for field_name in ("val_fraction", "lora_dropout"):
        if not 0.0 <= getattr(config, field_name) < 1.0:
            broken.append((field_name, getattr(config, field_name), "must be in [0, 1)"))
    if not 0.0 <= config.warmup_ratio <= 1.0:
        broken.append(("warmup_ratio", config.warmup_ratio, "must be in [0, 1]"))
    if config.max_steps == 0 or config.max_steps < -1:
        broken.append(("max_steps", config.max_steps, "must be >= 1, or -1 to train num_epochs"))
    if config.max_steps == -1 and not config.num_epochs > 0:
        broken.append(("num_epochs", config.num_epochs, f"must be > 0 (or set {type(config).__name__}.max_steps)"))
    if config.patience is not None and config.patience < 1:
        broken.append(("patience", config.patience, "must be >= 1 (or unset: never stop early)"))
    return broken


def resolve_inputs(config: TrainConfig) -> None:
    """Check the paths a config names and fill in what follows from them, before anything loads.

    ``base_model = "demo"`` becomes the shipped arith policy (as ``--policy demo`` elsewhere), and an
    unset ``max_length`` becomes the base model's position limit (``max_position_embeddings`` /
    ``n_positions`` in its ``config.json``), so a record the model cannot take is named at encoding
    time instead of failing inside the forward pass. Every trainer calls it first; safe to call twice.

    Raises:
        InputError: ``train_file`` / ``val_file`` is missing or a folder that is not an annotate
            output (those are read shard by shard), ``base_model`` is a local
            folder that is not a Hugging Face checkpoint (no ``config.json``) or a name that is neither
            cached nor on the hub (:func:`prmkit._hub.check_hub_model`), or ``max_length`` exceeds the
            model's position limit.
    """
    import json
    from pathlib import Path

    from prmkit.io._files import SHARD_GLOB, data_files, is_annotate_output
    from prmkit.tasks.arith import resolve_policy

    name = type(config).__name__
    for field_name in ("train_file", "val_file"):
        value = getattr(config, field_name)
        if value is None or Path(value).is_file():
            continue
        if not Path(value).exists():
            raise InputError(f"{name}.{field_name} = {value!r} does not exist; give a JSONL file of {config.record_type} "
                             "records or a `prmkit annotate` output folder")
        if not is_annotate_output(value):
            raise InputError(f"{name}.{field_name} = {value!r} is a folder without annotate shards ({SHARD_GLOB}); "
                             f"give a JSONL file of {config.record_type} records or a `prmkit annotate` output folder")
        try:
            data_files(value, (".jsonl",))
        except InputError as err:
            raise InputError(f"{name}.{field_name} = {value!r}: {err}") from None
    try:
        config.base_model = resolve_policy(config.base_model)
    except FileNotFoundError as err:
        raise InputError(f"{name}.base_model = {config.base_model!r}: {err}") from None
    base = Path(config.base_model)
    if not base.is_dir():
        from prmkit._hub import check_hub_model

        check_hub_model(config.base_model, f"{name}.base_model", demo=True)
        if config.max_length is None:  # a hub id: its limit is read when it loads
            config.max_length = 1024
        return
    model_config = base / "config.json"
    if not model_config.is_file():
        raise InputError(f"{name}.base_model = {config.base_model!r} is a folder without config.json, not a "
                         "Hugging Face checkpoint; pass a checkpoint folder (e.g. `prmkit train policy` output) or 'demo'")
    fields = json.loads(model_config.read_text(encoding="utf-8"))
    limit = next((fields[k] for k in ("max_position_embeddings", "n_positions", "n_ctx") if isinstance(fields.get(k), int)), None)
    if config.max_length is None:
        config.max_length = limit or 1024
    elif limit is not None and config.max_length > limit:
        raise InputError(f"{name}.max_length = {config.max_length} exceeds the {limit} positions of {config.base_model}; "
                         f"lower it to <= {limit} (or leave it unset)")


def load_train_val(config: TrainConfig) -> tuple[list[LabelledSolution], list[LabelledSolution]]:
    """The training and validation records: ``val_file`` when given, else a per-problem split.

    Returns:
        ``(train_records, val_records)``; with ``val_file`` the whole ``train_file`` trains.

    Raises:
        FileNotFoundError / prmkit.io._jsonl.FormatError: from :func:`prmkit.train._data.load_labelled`.
    """
    from prmkit.train._data import load_labelled, split_by_problem

    records = load_labelled(config.train_file)
    if config.val_file:
        return records, load_labelled(config.val_file)
    return split_by_problem(records, config.val_fraction, config.seed)


def loop_settings(config: Any, has_val: bool) -> LoopSettings:
    """The :class:`~prmkit.train._loop.LoopSettings` of a trainer config.

    Args:
        config: a :class:`TrainConfig` subclass with a ``metric`` field.
        has_val: whether there is a validation split; without one the best checkpoint is picked on
            the same metric measured on the training slice (``"train_" + metric``).
    """
    from prmkit.train._loop import LoopSettings

    return LoopSettings(
        learning_rate=config.learning_rate, weight_decay=config.weight_decay, num_epochs=config.num_epochs,
        max_steps=config.max_steps, batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps, warmup_ratio=config.warmup_ratio,
        max_grad_norm=config.max_grad_norm, eval_every=config.eval_every, patience=config.patience,
        metric=config.metric if has_val else "train_" + config.metric, seed=config.seed,
        mixed_precision=config.mixed_precision,
    )
