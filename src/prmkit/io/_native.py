"""prmkit's own JSONL: one ``LabelledSolution.to_dict()`` per line (lossless).

Schema per line: ``{"problem": Problem, "solution": Solution, "labels": StepLabels | null}`` with
the fields documented in :mod:`prmkit.types`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from prmkit.io._jsonl import FormatError, read_jsonl, require, write_jsonl
from prmkit.types import LabelledSolution

__all__ = ["read", "write"]


def read(path: str | os.PathLike[str]) -> Iterator[LabelledSolution]:
    """Yield the labelled solutions of a prmkit JSONL file.

    Raises:
        FormatError: a line is not a valid ``LabelledSolution.to_dict()`` (names file, line, field).
    """
    for line, record in read_jsonl(path):
        where = f"{path}:{line}"
        require(record, "problem", dict, where)
        require(record, "solution", dict, where)
        try:
            item = LabelledSolution.from_dict(record)
        except (TypeError, ValueError, KeyError) as err:
            raise FormatError(f"{where}: not a prmkit LabelledSolution record: {err}") from None
        yield item


def write(path: str | os.PathLike[str], records: Iterable[LabelledSolution]) -> int:
    """Write labelled solutions losslessly (atomically); return the count."""
    return write_jsonl(path, (record.to_dict() for record in records))
