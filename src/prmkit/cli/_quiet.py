"""Keep a command's output to prmkit's own lines: transformers' logs and weight-loading bars stay hidden.

A plain ``prmkit score`` otherwise prints transformers' "Loading weights" / "Writing model shards"
progress bars, its LOAD REPORT tables and warnings that do not apply (the "attention_mask" advice fires although prmkit
passes one: greedy outputs of a padded batch equal the unpadded ones). ``prmkit --verbose ...`` or
``PRMKIT_VERBOSE=1`` shows them again; an explicit ``TRANSFORMERS_VERBOSITY`` is respected.

Importing transformers costs seconds, so nothing here imports it: the log level goes in through
``TRANSFORMERS_VERBOSITY`` (read when transformers loads), and the bar filter is installed right
after ``transformers.utils.logging`` is first imported, by a one-shot import hook. Download bars of
the Hugging Face hub are left alone (a 15 GB download should show progress).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["quiet_transformers", "worker_env"]

_LOGGING = "transformers.utils.logging"
_quiet = False  # whether quiet_transformers silenced this process


def _filter_bars(logging: ModuleType) -> None:
    """Hide the bars transformers draws itself ("Loading weights", "Writing model shards", ...) through
    ``set_tqdm_hook`` (transformers >= 5); the hub's download bars are drawn by huggingface_hub and stay."""
    set_hook = getattr(logging, "set_tqdm_hook", None)
    empty = getattr(logging, "EmptyTqdm", None)
    if set_hook is None or empty is None:
        return

    def hook(factory: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return empty(*args, **kwargs)

    set_hook(hook)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Run ``callback(module)`` once, right after module ``name`` is first imported."""

    def __init__(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        self.name, self.callback = name, callback

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # one shot; also keeps the lookup below from finding us again
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader, callback = spec.loader, self.callback
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            callback(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def quiet_transformers(verbose: bool = False) -> None:
    """Silence transformers' logs (errors still show) and weight-loading bars for this process.

    Args:
        verbose: leave everything as transformers has it (also with ``PRMKIT_VERBOSE=1``).
    """
    global _quiet
    if verbose or os.environ.get("PRMKIT_VERBOSE", "").strip() not in ("", "0"):
        return
    _quiet = True
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    loaded = sys.modules.get(_LOGGING)
    if loaded is not None:  # imported already (e.g. in-process callers): apply now
        if os.environ["TRANSFORMERS_VERBOSITY"] == "error":
            loaded.set_verbosity_error()
        _filter_bars(loaded)
    elif not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(_LOGGING, _filter_bars))


def worker_env() -> dict[str, str]:
    """The environment that keeps the Ray workers of a quiet command as quiet as the command itself.

    The import hook above cannot reach another process, so the workers get the log level by
    environment and their weight-loading bars are switched off through tqdm's own ``TQDM_DISABLE``
    (their bars would interleave with the job's single bar anyway). Empty for ``--verbose``.
    """
    if not _quiet:
        return {}
    return {"TRANSFORMERS_VERBOSITY": os.environ["TRANSFORMERS_VERBOSITY"], "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
            "TQDM_DISABLE": "1"}
