"""Where the shared real data lives (``../shared/data`` beside the checkout, as in CI).

Tests that need it skip with a reason on a machine without it — except under CI (``CI`` set),
where a missing file must fail loudly instead of silently skipping the must-show checks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("PRMKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared(*parts: str) -> Path:
    return SHARED_DATA.joinpath(*parts)


def needs_shared(*parts: str) -> pytest.MarkDecorator:
    """Skip when ``shared(*parts)`` is absent, unless running under CI."""
    missing = not shared(*parts).exists() and not os.environ.get("CI")
    return pytest.mark.skipif(missing, reason=f"shared data {shared(*parts)} not present")
