"""Reading "solutions to score" from any supported file: the input side of ``prmkit score`` and ``prmkit view``.

Why one place: a scores file is matched back to its solutions by id, so every command that reads
solutions must read the same records in the same order and number them the same way. Formats:

* ``auto`` (default): sniffed from the first record — ``prmkit`` (``LabelledSolution.to_dict()``
  per line) or ``plain``;
* ``plain``: JSONL of ``{"id", "question", "steps"}`` (no labels);
* any reader of :mod:`prmkit.io.convert` (``processbench``, ``math-shepherd``, ``trl`` ...).

Ids are ``solution.meta["id"]`` or else the problem id; when several records share one, they are
numbered in file order (``p/0``, ``p/1``): :func:`unique_keys`.

Example:
    >>> import json, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "s.jsonl")
    >>> _ = open(path, "w").write(json.dumps({"id": "p", "question": "1+1?", "steps": ["1+1=2"]}) + "\\n")
    >>> [(key, r.solution.steps) for key, r in read_solutions(path)]
    [('p', ['1+1=2'])]
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from prmkit.io._jsonl import FormatError, read_jsonl, require
from prmkit.types import LabelledSolution, Problem, Solution

__all__ = ["read_solutions", "sniff", "format_names", "record_key", "unique_keys"]


def record_key(item: LabelledSolution) -> str:
    """The key scores are matched by: ``solution.meta["id"]`` when set, else ``problem.id``."""
    return str(item.solution.meta.get("id") or item.problem.id)


def unique_keys(keys: Sequence[str]) -> list[str]:
    """``keys`` with every repeated key numbered in order: ``["p", "p", "q"]`` -> ``["p/0", "p/1", "q"]``.

    The ids ``prmkit score`` writes for several solutions of one problem, so that ``prmkit eval
    steps`` and ``prmkit view`` find them again on the same file.
    """
    counts = Counter(keys)
    seen: Counter[str] = Counter()
    out = []
    for key in keys:
        if counts[key] > 1:
            out.append(f"{key}/{seen[key]}")
            seen[key] += 1
        else:
            out.append(key)
    return out


def format_names() -> list[str]:
    """Every value ``format`` takes besides ``auto``."""
    from prmkit.io.convert import FORMATS

    return sorted({"plain", *(name for name, spec in FORMATS.items() if spec.reader)})


def sniff(path: str | os.PathLike[str]) -> str:
    """``"prmkit"`` or ``"plain"`` from the first record's fields.

    Raises:
        FormatError: the first record fits neither, the file is not JSONL, or it is empty (the
            message says to pass a format and lists them).
    """
    try:
        for line, record in read_jsonl(path):
            if "problem" in record and "solution" in record:
                return "prmkit"
            if "question" in record and "steps" in record:
                return "plain"
            raise FormatError(f"{path}:{line}: cannot tell the format from fields {sorted(record)}; pass --format "
                              f"(one of: {', '.join(format_names())})")
    except FormatError as err:
        if "cannot tell the format" in str(err):
            raise
        raise FormatError(f"{err}. If this is not JSONL (e.g. ProcessBench's JSON), pass --format "
                          f"(one of: {', '.join(format_names())})") from None
    raise FormatError(f"{path} holds no records")


def _read_plain(path: str | os.PathLike[str]) -> list[LabelledSolution]:
    records = []
    for line, record in read_jsonl(path):
        where = f"{path}:{line}"
        steps = require(record, "steps", list, where)
        for k, step in enumerate(steps):
            if not isinstance(step, str) or not step.strip():
                raise FormatError(f"{where}: steps[{k}] = {step!r:.60} is not non-empty text")
        key = str(require(record, "id", (str, int), where))
        question = require(record, "question", str, where)
        records.append(LabelledSolution(Problem(key, question), Solution(key, list(steps), meta={"id": key})))
    return records


def read_solutions(path: str | os.PathLike[str], fmt: str = "auto") -> list[tuple[str, LabelledSolution]]:
    """``(id, record)`` for every solution of ``path``, in file order, ids unique (see the module docstring).

    Raises:
        FormatError: malformed records (the message names file, line and field).
        UnknownNameError: an unknown format (close names suggested).
        FileNotFoundError: ``path`` does not exist.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    if fmt == "auto":
        fmt = sniff(path)
    if fmt == "plain":
        records = _read_plain(path)
    elif fmt == "prmkit":
        from prmkit.io._native import read

        records = list(read(path))
    else:
        from prmkit.io.convert import read_records

        records = list(read_records(fmt, path))  # an unknown name: UnknownNameError with close matches
    return list(zip(unique_keys([record_key(r) for r in records]), records))
