"""JSON/JSONL reading with errors that name file, line and field; writing that never leaves a
half-written file looking complete (write to ``<name>.partial``, rename when done)."""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from prmkit._errors import InputError

__all__ = ["FormatError", "read_jsonl", "write_jsonl", "atomic_writer", "json_safe", "require"]


class FormatError(InputError):
    """Malformed input; the message names the file, the line (or record) and the field."""


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for each non-blank line (1-based line numbers).

    Raises:
        FormatError: a line is not valid JSON or not a JSON object.
    """
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                hint = ""
                if line_number == 1 and line.lstrip().startswith("["):  # e.g. ProcessBench's *.json
                    hint = "; the file is one JSON list (like ProcessBench's), not JSONL with one object per line"
                raise FormatError(f"{path}:{line_number}: invalid JSON ({err.msg} at column {err.colno}){hint}") from None
            if not isinstance(record, dict):
                raise FormatError(f"{path}:{line_number}: expected a JSON object, got {type(record).__name__}")
            yield line_number, record


def json_safe(value: Any) -> Any:
    """``value`` with every NaN/inf float replaced by ``None`` (strict JSON has no NaN) and tuples as lists.

    Every JSON file a person reads (evaluation results, ``eval_history.json``, the demo's metrics)
    goes through it, so an undefined number is ``null`` everywhere, never a bare ``NaN``.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def require(record: Mapping[str, Any], field: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Return ``record[field]``, checking presence and type; ``where`` is e.g. ``"data.jsonl:12"``."""
    if field not in record:
        raise FormatError(f"{where}: missing field {field!r} (fields present: {sorted(record)})")
    value = record[field]
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise FormatError(f"{where}: field {field!r} should be {expected}, got {type(value).__name__}: {value!r:.80}")
    return value


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """Open ``path`` for writing via ``<path>.partial``; rename into place only if the block succeeds.

    Nothing is left behind on a failure: not the target (an older copy stays as it was) and not the
    ``.partial`` file, also when the final rename fails.

    Raises:
        IsADirectoryError: ``path`` is an existing folder (checked before anything is written).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if target.is_dir():
        raise IsADirectoryError(21, "is a directory, not a file to write", str(target))
    try:
        with open(partial, "w", encoding="utf-8") as handle:
            yield handle
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Write records atomically, one JSON object per line; return how many were written."""
    count = 0
    with atomic_writer(path) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
