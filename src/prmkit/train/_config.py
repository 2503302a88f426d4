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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prmkit.train._loop import LoopSettings
    from prmkit.types import LabelledSolution

__all__ = ["TrainConfig", "help_text", "load_train_val", "loop_settings"]


def help_text(text: str) -> dict[str, str]:
    """Field metadata carrying a CLI help string: ``field(metadata=help_text("..."))``."""
    return {"help": text}


@dataclass
class TrainConfig:
    """Fields and checks shared by the PRM, ORM and implicit-PRM trainer configs.

    Raises (on construction):
        ValueError: ``padding_side`` not ``"left"``/``"right"``, or a size / count below 1; the
            message names the concrete config class and field.
    """

    train_file: str = field(metadata=help_text("JSONL of LabelledSolution records."))
    base_model: str = field(metadata=help_text("Hugging Face causal-LM checkpoint directory to start from."))
    output_dir: str = field(metadata=help_text("Where the best checkpoint, config and eval history are written."))
    val_file: str | None = field(default=None, metadata=help_text("Validation JSONL; default: hold out val_fraction of the problems."))
    val_fraction: float = field(default=0.1, metadata=help_text("Share of problems held out for validation when no val_file (0 = none)."))
    max_length: int = field(default=1024, metadata=help_text("Longest allowed tokenized solution; longer records are an error."))
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
        if self.padding_side not in ("left", "right"):
            raise ValueError(f"{name}.padding_side = {self.padding_side!r}; use 'left' or 'right'")
        for field_name in ("batch_size", "eval_batch_size", "gradient_accumulation_steps", "eval_every", "max_length", "lora_r"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{name}.{field_name} = {getattr(self, field_name)} must be >= 1")


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
