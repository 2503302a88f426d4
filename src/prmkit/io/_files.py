"""The data files behind a path a person gives: a file, a folder of them, or a `prmkit annotate` output.

Every command that reads records (``score --input``, ``eval * --data``, ``train * --train-file``)
goes through :func:`data_files`, so an annotate output folder is read the same way everywhere: its
``shard-*.jsonl`` in shard order, without ``run.json``, the ``*.stats.json`` files or a ``.partial``
shard still being written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from prmkit.io._jsonl import FormatError

__all__ = ["MANIFEST", "SHARD_GLOB", "data_files", "is_annotate_output"]

#: The record files of a `prmkit annotate` output folder (see :mod:`prmkit.annotate._shards`).
SHARD_GLOB = "shard-*.jsonl"


#: The manifest every `prmkit annotate` output folder starts with.
MANIFEST = "run.json"


def is_annotate_output(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` is a `prmkit annotate` output (holds ``shard-*.jsonl`` files or its ``run.json``)."""
    folder = Path(folder)
    return folder.is_dir() and ((folder / MANIFEST).is_file() or any(folder.glob(SHARD_GLOB)))


def data_files(path: str | os.PathLike[str], suffixes: Sequence[str] = (".jsonl", ".json")) -> list[Path]:
    """The record files ``path`` stands for, in reading order.

    Args:
        path: a file (returned as is, whatever its suffix), an annotate output folder (its
            ``shard-*.jsonl``, sorted: shard numbers are zero-padded; one with only its ``run.json``
            is refused), or any other folder (its files ending in one of ``suffixes``, sorted by name).
        suffixes: which files of a plain folder hold records.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        FormatError: a folder without record files, or an annotate output with no finished shard.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise FileNotFoundError(2, "no such file or folder", str(path))
    shards = sorted(path.glob(SHARD_GLOB))
    if shards:
        return shards
    if (path / MANIFEST).is_file():
        raise FormatError(f"{path}: a `prmkit annotate` output without finished shards yet ({SHARD_GLOB}); rerun "
                          "the same annotate command to finish it (it resumes)")
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in suffixes)
    if not found:
        raise FormatError(f"{path}: folder holds no {' or '.join(suffixes)} files (and no annotate shards "
                          f"{SHARD_GLOB})")
    return found
