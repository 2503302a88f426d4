"""Where a result came from: the prmkit version and git commit written next to every run's outputs."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["git_hash", "provenance"]


def git_hash() -> str | None:
    """The commit of the prmkit checkout in use, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], check=False, cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def provenance() -> dict[str, Any]:
    """``{"prmkit", "git", "python"}`` for a run's manifest."""
    from prmkit import __version__

    return {"prmkit": __version__, "git": git_hash(), "python": platform.python_version()}
