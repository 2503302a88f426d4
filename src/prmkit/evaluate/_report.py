"""Writing evaluation results: JSON that stays valid (NaN -> null) and rich tables for the terminal."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from prmkit.io._jsonl import atomic_writer, json_safe  # json_safe re-exported: evaluators and the demo use it

__all__ = ["json_safe", "write_result", "print_table", "fmt"]


def write_result(path: str | os.PathLike[str], result: Mapping[str, Any]) -> None:
    """Write ``result`` as indented strict JSON, atomically (a failed run leaves no half file)."""
    with atomic_writer(path) as handle:
        json.dump(json_safe(result), handle, indent=2, allow_nan=False)
        handle.write("\n")


def fmt(value: Any, digits: int = 1) -> str:
    """Table cell text: floats with ``digits`` decimals, NaN/None as ``n/a``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 1) -> None:
    """Print a rich table to stdout (first column left-aligned, the rest right-aligned)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(fmt(cell, digits) for cell in row))
    Console().print(table)
