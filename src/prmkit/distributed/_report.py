"""One progress bar for a whole job, and what each worker did (rollouts, tokens, wall time).

Why one bar: with several workers, per-worker bars (or the generator's own bars) interleave into
noise; the job's question is "how many units are done, how fast", so the bar counts units over the
whole job and shows rollouts/s since the job started. The per-worker table at the end shows
whether the work was spread evenly and what start-up (model loading) cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from prmkit.distributed._base import Done

__all__ = ["JobReport", "WorkerTotals"]


@dataclass
class WorkerTotals:
    """What one worker did in this job."""

    items: int = 0
    units: int = 0
    rollouts: int = 0
    tokens: int = 0
    seconds: float = 0.0
    setup_seconds: float = 0.0


class JobReport:
    """Counts finished items into a single progress bar and per-worker totals.

    Args:
        total: units in the whole job (finished ones from earlier runs included).
        description: the bar's label.
        done: units already finished before this run (resumed shards).
        progress: draw the bar (on stderr); the totals are kept either way.

    Example:
        >>> report = JobReport(4, "mc labels", progress=False)
        >>> with report:
        ...     report.add(Done(0, None, "local", 2.0), units=4, rollouts=64, tokens=900)
        >>> report.workers["local"].rollouts
        64
    """

    def __init__(self, total: int, description: str, *, done: int = 0, progress: bool = True) -> None:
        self.total, self.description, self.done, self.progress = total, description, done, progress
        self.workers: dict[str, WorkerTotals] = {}
        self.rollouts = 0
        self._bar: Any = None
        self._task: Any = None
        self._start = time.perf_counter()
        self._end: float | None = None

    def __enter__(self) -> JobReport:
        self._start, self._end = time.perf_counter(), None
        if self.progress:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True),
            )  # fmt: skip
            self._bar.__enter__()
            self._task = self._bar.add_task(self.description, total=self.total, completed=self.done, rate="")
        return self

    def __exit__(self, *exc: object) -> None:
        self._end = time.perf_counter()  # the job's wall time stops here, not when the table is drawn
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    @property
    def elapsed(self) -> float:
        """Seconds since the job started, up to its end once the ``with`` block is left."""
        return (self._end if self._end is not None else time.perf_counter()) - self._start

    def add(self, done: Done, *, units: int, rollouts: int = 0, tokens: int = 0) -> None:
        """Count one finished item: ``units`` units that cost ``rollouts`` rollouts and ``tokens`` tokens."""
        totals = self.workers.setdefault(done.worker, WorkerTotals())
        totals.items += 1
        totals.units += units
        totals.rollouts += rollouts
        totals.tokens += tokens
        totals.seconds += done.seconds
        totals.setup_seconds += done.setup_seconds
        self.done += units
        self.rollouts += rollouts
        if self._bar is not None:
            rate = f"{self.rollouts / max(self.elapsed, 1e-9):.0f} rollouts/s" if self.rollouts else ""
            self._bar.update(self._task, advance=units, rate=rate)

    def table(self, title: str = "per worker") -> Any:
        """A :class:`rich.table.Table`: one row per worker, then the job's total."""
        from rich.table import Table

        table = Table(title=title)
        for header in ("worker", "items", "units", "rollouts", "tokens", "busy s", "setup s"):
            table.add_column(header, justify="left" if header == "worker" else "right")
        rows = sorted(self.workers.items())
        total = WorkerTotals()
        for name, w in rows:
            table.add_row(name, str(w.items), str(w.units), str(w.rollouts), str(w.tokens), f"{w.seconds:.1f}",
                          f"{w.setup_seconds:.1f}")
            for key in ("items", "units", "rollouts", "tokens", "seconds", "setup_seconds"):
                setattr(total, key, getattr(total, key) + getattr(w, key))
        table.add_row(f"all ({self.elapsed:.1f} s wall)", str(total.items), str(total.units), str(total.rollouts),
                      str(total.tokens), f"{total.seconds:.1f}", f"{total.setup_seconds:.1f}")
        return table
