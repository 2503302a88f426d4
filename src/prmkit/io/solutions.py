"""Reading "solutions to score" from any supported file: the input side of ``prmkit score`` and ``prmkit view``.

Why one place: a scores file is matched back to its solutions by id, so every command that reads
solutions must read the same records in the same order and number them the same way. Formats:

* ``auto`` (default): told from the first record's fields — ``plain`` or any format below
  (ProcessBench JSON list or JSONL, PRMBench, ``prmkit``, TRL, Math-Shepherd, PRM800K, GSM8K);
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
    """The format of ``path`` from its first record: ``plain`` or any :mod:`prmkit.io.convert` format.

    Raises:
        FormatError: the file holds no records, is neither JSONL nor a JSON list, or its first
            record's fields fit no format (the message says to pass a format and lists them).
    """
    from prmkit.io.convert import detect_format, first_record

    first = first_record(path)
    if first is None:
        raise FormatError(f"{path} holds no records")
    where, record = first
    if {"question", "steps"} <= record.keys() and "problem" not in record:
        return "plain"
    found = detect_format(record)
    if found is None:
        raise FormatError(f"{where}: cannot tell the format from fields {sorted(record)}; pass --format "
                          f"(one of: {', '.join(format_names())})")
    return found


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

    ``path`` may be a file or a folder (:func:`prmkit.io._files.data_files`: its ``*.jsonl`` /
    ``*.json`` files, or a ``prmkit annotate`` output's shards), read as one set.

    Raises:
        FormatError: malformed records (the message names file, line and field), or none at all.
        UnknownNameError: an unknown format (close names suggested).
        FileNotFoundError: ``path`` does not exist.
    """
    from prmkit.io._files import data_files

    files = data_files(path)
    if fmt == "auto":
        fmt = sniff(files[0])
    if fmt == "plain":
        records = [record for file in files for record in _read_plain(file)]
    else:
        from prmkit.io.convert import read_many

        records = list(read_many(fmt, files))  # an unknown name: UnknownNameError with close matches
    if not records:
        raise FormatError(f"{path} holds no records")
    return list(zip(unique_keys([record_key(r) for r in records]), records))
