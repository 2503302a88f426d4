"""A rich progress bar that appears only for large inputs (and never when disabled)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["PROGRESS_MIN_ITEMS", "progress_bar"]

PROGRESS_MIN_ITEMS = 64


@contextmanager
def progress_bar(
    total: int, enabled: bool, label: str
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; draws a transient rich bar when ``enabled`` and ``total > 64``."""
    if not enabled or total <= PROGRESS_MIN_ITEMS:
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
