"""Dataset formats by name, and conversion between them (what ``prmkit convert`` runs).

Every format reads into / writes from :class:`~prmkit.types.LabelledSolution`, so converting is
``writer(output, reader(input))``. Readers and writers are named as lazy ``"module:attr"``
targets, so a format whose module is not built yet (or needs an optional dependency) costs
nothing until it is used.

==================  ====================================================  ======  ======  ========
name                what                                                  read    write   labels
==================  ====================================================  ======  ======  ========
prmkit              ``LabelledSolution.to_dict()`` per line (lossless)    yes     yes     optional
trl                 TRL stepwise supervision (prompt/completions/labels)  yes     yes     always
math-shepherd       Math-Shepherd (input/label with ``ки`` step tags)     yes     yes     optional
prm800k             PRM800K (label.steps[].completions[].rating)          yes     yes     always
gsm8k               GSM8K question/answer with ``#### N``                 yes     yes     never
gsm8k-solutions     GSM8K example_model_solutions.jsonl                   yes     no      never
processbench        ProcessBench JSON (earliest-error label)              yes     no      always
prmbench            PRMBench JSONL (error_steps)                          yes     no      always
==================  ====================================================  ======  ======  ========

Example:
    >>> from prmkit.io.convert import convert
    >>> convert("math-shepherd", "trl", "ms.jsonl", "trl.jsonl")          # doctest: +SKIP
    1000
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple

from prmkit._registry import UnknownNameError
from prmkit.types import LabelledSolution

__all__ = [
    "Format", "FORMATS", "ConversionError", "detect_format", "first_record", "get_format", "read_many", "read_records", "write_records",
    "convert",
]


class ConversionError(ValueError):
    """A conversion that cannot be done (the message says why and what to do instead)."""


class Format(NamedTuple):
    """One dataset format: its lazy reader/writer targets and what it holds.

    Attributes:
        reader: ``"module:attr"`` of ``read(path, **options) -> Iterable[LabelledSolution]``.
        writer: ``"module:attr"`` of ``write(path, records, **options) -> int``, or ``None``.
        labels: whether records read from it carry step labels: ``"always"``, ``"optional"``
            (some records or files do), or ``"never"``.
        writer_needs_labels: whether its writer needs a label for every step.
        description: one line for help texts.
    """

    reader: str | None
    writer: str | None
    labels: Literal["always", "optional", "never"]
    writer_needs_labels: bool
    description: str


FORMATS: dict[str, Format] = {
    "prmkit": Format("prmkit.io._native:read", "prmkit.io._native:write", "optional", False,
                     "prmkit JSONL: LabelledSolution.to_dict() per line (lossless)"),
    "trl": Format("prmkit.io.trl:read", "prmkit.io.trl:write", "always", True,
                  "TRL stepwise supervision: prompt, completions, labels"),
    "math-shepherd": Format("prmkit.io.math_shepherd:read", "prmkit.io.math_shepherd:write", "optional", True,
                            "Math-Shepherd: input/label with ' ки' step tags and +/-"),
    "prm800k": Format("prmkit.io.prm800k:read", "prmkit.io.prm800k:write", "always", True,
                      "PRM800K: label.steps[].completions[].rating, chosen path"),
    "gsm8k": Format("prmkit.io.gsm8k:read", "prmkit.io.gsm8k:write", "never", False,
                    "GSM8K: question, answer with <<calculator notes>> and '#### N'"),
    "gsm8k-solutions": Format("prmkit.io.gsm8k:read_model_solutions", None, "never", False,
                              "GSM8K example_model_solutions.jsonl: model solutions with is_correct"),
    "processbench": Format("prmkit.io.processbench:read_processbench", None, "always", False,
                           "ProcessBench JSON: steps and the earliest wrong step"),
    "prmbench": Format("prmkit.io.prmbench:read_prmbench", None, "always", False,
                       "PRMBench JSONL: modified_process and error_steps"),
}


def get_format(name: str) -> Format:
    """The :class:`Format` registered as ``name``.

    Raises:
        UnknownNameError: no such format (the message suggests close names and lists all).
    """
    try:
        return FORMATS[name]
    except KeyError:
        close = difflib.get_close_matches(name, FORMATS, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownNameError(f"Unknown format {name!r}.{hint} Available: {', '.join(sorted(FORMATS))}") from None


def _load(target: str, name: str, role: str) -> Callable[..., Any]:
    module_name, attr = target.split(":", 1)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        raise ConversionError(f"format {name!r}: its {role} ({target}) is not available in this install") from None
    return getattr(module, attr)


def _call(func: Callable[..., Any], name: str, role: str, *args: Any, **options: Any) -> Any:
    accepted = inspect.signature(func).parameters
    unknown = [key for key in options if key not in accepted]
    if unknown:
        valid = [key for key, p in accepted.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        raise ConversionError(
            f"option(s) {unknown} do not apply to the {name!r} {role}; its options: {valid or 'none'}"
        )
    return func(*args, **options)


def read_records(name: str, path: str | os.PathLike[str], **options: Any) -> Iterable[LabelledSolution]:
    """Read ``path`` as format ``name``; ``options`` go to its reader (e.g. ``neutral=0.0`` for prm800k)."""
    fmt = get_format(name)
    if fmt.reader is None:
        raise ConversionError(f"format {name!r} cannot be read")
    return _call(_load(fmt.reader, name, "reader"), name, "reader", path, **options)


#: Fields whose presence in a format's first record tells the formats apart (checked in this order).
_SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("prmkit", frozenset({"problem", "solution"})),
    ("prmbench", frozenset({"idx", "classification", "modified_process"})),
    ("processbench", frozenset({"id", "problem", "steps", "label"})),
    ("trl", frozenset({"prompt", "completions", "labels"})),
    ("math-shepherd", frozenset({"input"})),
    ("prm800k", frozenset({"question", "label"})),
    ("gsm8k-solutions", frozenset({"question", "ground_truth"})),
    ("gsm8k", frozenset({"question", "answer"})),
)


def first_record(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]] | None:
    """``(where, record)`` of the first record of a JSONL file or JSON list (ProcessBench's ``*.json``).

    ``where`` is ``"<path>:<line>"`` (JSONL) or ``"<path>:record 0"`` (JSON list); None for no records.

    Raises:
        FormatError: the file is neither JSONL nor a JSON list of objects (names file and line).
    """
    import json

    from prmkit.io._jsonl import FormatError, read_jsonl

    with open(path, encoding="utf-8") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith("["):
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise FormatError(f"{path}: invalid JSON ({err.msg} at line {err.lineno})") from None
        if data and not isinstance(data[0], dict):
            raise FormatError(f"{path}:record 0: should be an object, got {type(data[0]).__name__}")
        return (f"{path}:record 0", data[0]) if data else None
    return next(((f"{path}:{line}", record) for line, record in read_jsonl(path)), None)


def detect_format(record: dict[str, Any]) -> str | None:
    """The :data:`FORMATS` name a record's fields identify (see ``_SIGNATURES``), or None.

    Example:
        >>> detect_format({"id": "gsm8k-0", "problem": "...", "steps": ["..."], "label": -1})
        'processbench'
    """
    return next((name for name, fields in _SIGNATURES if fields <= record.keys()), None)


def read_many(name: str, paths: Iterable[str | os.PathLike[str]], **options: Any) -> Iterator[LabelledSolution]:
    """Read several files of format ``name`` in order, as one set.

    A reader that takes the files together (``read_prmbench(*paths)``, which drops a record repeated
    in a later file as the official loader does) gets them in one call; others read one by one.
    """
    fmt = get_format(name)
    if fmt.reader is None:
        raise ConversionError(f"format {name!r} cannot be read")
    reader = _load(fmt.reader, name, "reader")
    paths = list(paths)
    first = next(iter(inspect.signature(reader).parameters.values()), None)
    if first is not None and first.kind is inspect.Parameter.VAR_POSITIONAL:
        yield from _call(reader, name, "reader", *paths, **options)
        return
    for path in paths:
        yield from _call(reader, name, "reader", path, **options)


def write_records(name: str, path: str | os.PathLike[str], records: Iterable[LabelledSolution], **options: Any) -> int:
    """Write ``records`` to ``path`` as format ``name`` (atomically); return how many were written.

    Raises:
        ConversionError: the format has no writer or does not take one of ``options``.
        FormatError: a record cannot be written in this format (named in the message).
    """
    writer = _writer_target(name)
    return _call(_load(writer, name, "writer"), name, "writer", path, records, **options)


def _writer_target(name: str) -> str:
    """The writer of format ``name``; a read-only format is refused, listing the writable ones."""
    writer = get_format(name).writer
    if writer is None:
        writable = sorted(key for key, value in FORMATS.items() if value.writer)
        raise ConversionError(f"format {name!r} can be read but not written; writable formats: {', '.join(writable)}")
    return writer


def _check_pair(source: str, target: str) -> None:
    _writer_target(target)
    src, dst = get_format(source), get_format(target)
    if src.labels == "never" and dst.writer_needs_labels:
        raise ConversionError(
            f"cannot convert {source!r} to {target!r}: {source} records have final-answer correctness but no step "
            f"labels, and {target} needs a label for every step. Convert to 'prmkit' (or 'gsm8k') instead, or "
            "label the steps first (prmkit annotate)."
        )


def _with_progress(records: Iterable[LabelledSolution], description: str) -> Iterator[LabelledSolution]:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}: {task.completed} records"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=None)
        for record in records:
            yield record
            progress.advance(task)


def convert(
    source: str,
    target: str,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    reader_options: dict[str, Any] | None = None,
    writer_options: dict[str, Any] | None = None,
    show_progress: bool = False,
) -> int:
    """Convert ``input_path`` from format ``source`` to ``output_path`` in format ``target``.

    The pair is checked before anything is read; the output appears only when every record was
    written (a failure leaves no output file).

    Args:
        source: a name in :data:`FORMATS` that can be read.
        target: a name in :data:`FORMATS` that can be written.
        input_path: the file to read.
        output_path: the file to write (parent folders are created).
        reader_options: keyword options for the reader (e.g. ``{"neutral": 0.0}`` for prm800k).
        writer_options: keyword options for the writer (e.g. ``{"threshold": 0.5}`` for trl).
        show_progress: show a record counter on stderr.

    Returns:
        The number of records written.

    Raises:
        UnknownNameError: an unknown format name.
        ConversionError: the target cannot be written, or needs step labels the source never has.
        FormatError: malformed input or a record the target cannot hold (names file/line or record).
    """
    _check_pair(source, target)
    records = read_records(source, input_path, **(reader_options or {}))
    if show_progress:
        records = _with_progress(records, f"{source} -> {target}")
    return write_records(target, output_path, records, **(writer_options or {}))
