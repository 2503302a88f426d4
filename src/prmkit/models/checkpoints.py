"""Read a checkpoint prmkit trained as the scorer it was trained to be.

Every ``prmkit train ...`` command writes ``DIR/prmkit.json`` with the scorer ``family`` that reads
the checkpoint (``token-cls``, ``likelihood``, ``verdict``, ``implicit``, ``orm`` ...). Tools that
take "a PRM folder" (``prmkit search --prm``, the benchmarks) use it, so a verifier is never read
with another family's head by accident.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_FAMILY", "checkpoint_scorer", "recorded_family"]

#: The family of a folder without ``prmkit.json`` (a TRL / prmkit token-classification PRM).
DEFAULT_FAMILY = "token-cls"


def recorded_family(path: str | os.PathLike[str]) -> str | None:
    """The ``family`` in ``DIR/prmkit.json``, or None when the folder has no (readable) record of one."""
    record = Path(path) / "prmkit.json"
    if not record.is_file():
        return None
    try:
        family = json.loads(record.read_text(encoding="utf-8")).get("family")
    except (json.JSONDecodeError, AttributeError):
        return None
    return family if isinstance(family, str) else None


def checkpoint_scorer(path: str | os.PathLike[str], family: str | None = None, **options: Any) -> Any:
    """``load_scorer(family, path=DIR, **options)`` with the family recorded in DIR (default token-cls).

    Options a family does not take (``prefix_cache`` for ``likelihood``) are the caller's to leave out;
    see :func:`prmkit.models.load_scorer`.
    """
    from prmkit.models import load_scorer

    return load_scorer(family or recorded_family(path) or DEFAULT_FAMILY, path=str(path), **options)
