"""Model set-up and checkpoint writing shared by the reward-model trainers.

* :func:`load_from_base` builds a task model (token / sequence classification, causal LM) from a
  causal-LM checkpoint and *checks that the body weights really loaded*: a silently re-initialised
  body trains a PRM from noise, which is one way a PRM ends up "worse than random".
* :func:`add_lora` / :func:`merge_lora` wrap peft, so every checkpoint prmkit writes is a plain
  Hugging Face model that loads without peft.
* :func:`write_run_files` writes the resolved config (with versions and git hash) and the
  evaluation history next to the checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from prmkit._provenance import git_hash

__all__ = ["add_lora", "finish_run", "history_writer", "load_from_base", "merge_lora", "write_json", "write_run_files"]


def load_from_base(auto_class: Any, base: str | os.PathLike[str], seed: int | None = None, **kwargs: Any) -> Any:
    """``auto_class.from_pretrained(base, **kwargs)``, refusing a body that did not load.

    Only the new task head (the modules outside ``model.base_model_prefix``) may be missing from
    the checkpoint. With ``seed``, the RNGs are seeded first, so the new head's random initial
    weights depend on the seed alone, not on whatever drew random numbers earlier in the process.

    Raises:
        ValueError: weights of the model body are missing from ``base`` (lists a few, names the fix).
    """
    if seed is not None:
        from transformers import set_seed

        set_seed(seed)
    model, info = auto_class.from_pretrained(str(base), output_loading_info=True, **kwargs)
    prefix = getattr(model, "base_model_prefix", "")
    body_missing = sorted(k for k in info.get("missing_keys", ()) if prefix and k.startswith(prefix + "."))
    if body_missing or info.get("mismatched_keys"):
        raise ValueError(
            f"{auto_class.__name__}.from_pretrained({str(base)!r}) did not load the model body: missing "
            f"{body_missing[:5]} mismatched {sorted(info.get('mismatched_keys', ()))[:5]}. The base must be a "
            "causal-LM checkpoint of an architecture with this head (e.g. Qwen2, Llama, GPT-2)."
        )
    return model


def add_lora(model: Any, task_type: str, r: int, alpha: int, dropout: float, target_modules: str | None) -> Any:
    """Wrap ``model`` with LoRA adapters (peft); a new task head stays fully trainable.

    Args:
        task_type: peft task type name (``"TOKEN_CLS"``, ``"SEQ_CLS"``, ``"CAUSAL_LM"``).
        target_modules: comma-separated module names, or ``None`` for every linear layer of the
            body (peft's ``"all-linear"``; the head is excluded and trained in full instead).
    """
    from peft import LoraConfig, TaskType, get_peft_model

    prefix = getattr(model, "base_model_prefix", "")
    heads = [name for name, child in model.named_children()
             if name != prefix and any(p.requires_grad for p in child.parameters())]
    if task_type == "CAUSAL_LM":
        heads = []  # the LM head is the model's own output layer: adapt the body, keep it tied
    targets: Any = "all-linear" if not target_modules else [m.strip() for m in target_modules.split(",")]
    config = LoraConfig(
        task_type=getattr(TaskType, task_type), r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets,
        exclude_modules=heads or None, modules_to_save=heads or None,
    )
    return get_peft_model(model, config)


def merge_lora(model: Any) -> Any:
    """A plain Hugging Face model with LoRA merged in (a copy; ``model`` keeps training), or ``model``."""
    if not hasattr(model, "merge_and_unload"):
        return model
    import copy

    return copy.deepcopy(model).merge_and_unload()


#: What the numbers of ``eval_history.json`` are in (written into the file, so it explains itself).
HISTORY_UNITS = ("rates (f1, error_acc, correct_acc, auroc, step_auroc, step_acc, accuracy, outcome_auroc, and their "
                 "train_ twins) in percent; train_loss = mean training loss since the previous evaluation (nats); "
                 "null = undefined (e.g. AUROC with one class)")


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented standard JSON: undefined numbers (NaN, inf) become ``null``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    from prmkit.io._jsonl import json_safe

    text = json.dumps(json_safe(data), indent=2, default=str, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def write_run_files(output_dir: Path, config: Any, result: dict[str, Any], extra: dict[str, Any]) -> None:
    """Write ``train_config.json`` (config + versions + git hash) and ``eval_history.json``."""
    import torch
    import transformers

    import prmkit

    write_json(
        output_dir / "train_config.json",
        {
            "config": dataclasses.asdict(config),
            "versions": {"prmkit": prmkit.__version__, "torch": torch.__version__,
                         "transformers": transformers.__version__},
            "git": git_hash(),
            **extra,
        },
    )
    write_json(output_dir / "eval_history.json", {"units": HISTORY_UNITS, **result})


def history_writer(output_dir: Path) -> Any:
    """An ``on_eval`` callback for :func:`prmkit.train._loop.run_loop` that keeps
    ``eval_history.json`` current (marked ``partial``) while training runs."""
    return lambda history: write_json(output_dir / "eval_history.json",
                                      {"units": HISTORY_UNITS, "history": history, "partial": True})


def finish_run(output_dir: Path, config: Any, result: dict[str, Any], *, metric: str, n_train: int, n_val: int,
               what: str, note: str = "") -> None:
    """Write the run files (:func:`write_run_files`) and print where the checkpoint went and its best score.

    Args:
        output_dir: the checkpoint directory.
        config: the trainer's config dataclass.
        result: :func:`prmkit.train._loop.run_loop`'s result (``steps``, ``seconds``, ``best``, ...).
        metric: the metric the best checkpoint was selected on (``LoopSettings.metric``).
        n_train / n_val: sizes of the two splits (recorded in ``train_config.json``).
        what: what was trained, e.g. ``"PRM"`` (starts the printed line).
        note: text put before the step count, e.g. ``"reference in out/reference; "``.
    """
    from rich.console import Console

    write_run_files(output_dir, config, result, {"n_train": n_train, "n_val": n_val, "selected_on": metric})
    best = result["best"] or {}
    Console(stderr=True).print(
        f"{what} checkpoint -> [bold]{output_dir}[/bold] ({note}{result['steps']} steps, {result['seconds']:.0f}s; "
        f"best {metric} = {best.get(metric, float('nan')):.4g} at step {best.get('step', '-')})"
    )
