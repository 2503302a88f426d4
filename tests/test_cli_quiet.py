"""A plain command prints prmkit's lines only; ``--verbose`` brings transformers' own output back.

Run in a subprocess: the quiet switch is per process (environment + transformers' log level), and
this test process has imported transformers already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")

ROOT = Path(__file__).parents[1]
ARITH_POLICY = ROOT / "src" / "prmkit" / "assets" / "arith_policy"


def _score(tmp_path: Path, *flags: str) -> str:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "question": "Q 2 +3", "steps": ["2+3=5", "Ans 5"]}) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PRMKIT_VERBOSE", "TRANSFORMERS_VERBOSITY")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    argv = [sys.executable, "-m", "prmkit.cli", *flags, "score", "--model", "likelihood", "--path", str(ARITH_POLICY),
            "--input", str(source), "--output", str(tmp_path / "scores.jsonl")]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_a_plain_run_shows_prmkit_lines_without_transformers_noise(tmp_path):
    output = _score(tmp_path)
    assert "scoring 1 solutions" in output and "wrote 1 score lines" in output
    assert "Loading weights" not in output and "LOAD REPORT" not in output, output


def test_verbose_shows_transformers_output_again(tmp_path):
    from transformers.utils import logging

    if not hasattr(logging, "set_tqdm_hook"):
        pytest.skip("transformers < 5 draws no weight-loading bar for a one-file checkpoint")
    assert "Loading weights" in _score(tmp_path, "--verbose")
