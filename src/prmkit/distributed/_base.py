"""The engine protocol and what it yields per finished work item."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Done", "Engine", "WorkerFactory"]

#: Builds a worker (a callable ``item -> result``) once per process that runs items. It must be
#: picklable for the ray engine (a dataclass or ``functools.partial`` of module-level names), and it
#: should load models itself rather than carry them (see :mod:`prmkit.distributed._lazy`).
WorkerFactory = Callable[[], Callable[[Any], Any]]


@dataclass(frozen=True)
class Done:
    """One finished work item.

    Attributes:
        index: position of the item in the ``items`` given to :meth:`Engine.map`.
        value: what the worker returned for it.
        worker: which worker ran it (``"local"``, or ``"<node ip>:<pid>"`` of a Ray actor; an actor
            that Ray restarted after a crash shows up under its new pid).
        seconds: wall time the worker spent on the item.
        setup_seconds: time the worker took to build itself (load its model), on the first item it
            ran; 0.0 on later items.
    """

    index: int
    value: Any
    worker: str
    seconds: float
    setup_seconds: float = 0.0


class Engine(Protocol):
    """Runs work items through workers and yields each result once, in completion order."""

    name: str

    def map(self, make_worker: WorkerFactory, items: Sequence[Any]) -> Iterator[Done]:
        """Yield one :class:`Done` per item (any order); an item whose worker crashed is retried."""
        ...
