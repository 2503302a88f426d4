"""Name -> lazily imported object registries (the lm-evaluation-harness pattern).

Each pluggable piece (scorer family, backend, task, generator, search method, annotator, credit
rule) is registered as ``"module:attr"`` and imported only when first looked up, so listing names
or importing prmkit never pulls in torch. A miss suggests close names and lists the valid ones.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any


class UnknownNameError(KeyError):
    """Raised when a registry lookup misses; the message lists close matches and all names."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class Registry:
    """A lazy registry of named targets.

    Example:
        >>> tasks = Registry("task")
        >>> tasks.register("arith", "prmkit.tasks.arith:ArithTask")
        >>> tasks.names()
        ['arith']
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._targets: dict[str, str] = {}

    def register(self, name: str, target: str) -> None:
        """Register ``name`` -> ``"package.module:attr"`` (imported on first :meth:`get`)."""
        if ":" not in target:
            raise ValueError(f"target {target!r} for {self.kind} {name!r} must look like 'module:attr'")
        self._targets[name] = target

    def names(self) -> list[str]:
        return sorted(self._targets)

    def get(self, name: str) -> Any:
        """Import and return the object registered under ``name``."""
        try:
            target = self._targets[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._targets, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names())}"
            ) from None
        module_name, attr = target.split(":", 1)
        return getattr(importlib.import_module(module_name), attr)
