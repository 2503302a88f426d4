"""The ray engine writes byte for byte what the local engine writes (shipped arith policy, tiny settings)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prmkit.cli import app

ray = pytest.importorskip("ray")


@pytest.fixture(scope="session")
def local_ray():
    """One local 2-CPU Ray for the whole session (start-up costs seconds; CI has 2 cores)."""
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


def _annotate(kind: str, out, *extra: str) -> str:
    args = ["annotate", kind, "--task", "arith", "--policy", "demo", "--problems", "4", "--samples", "2", "--n", "2",
            "--shard-size", "1", "--max-new-tokens", "48", "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _shards(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.jsonl"))}


@pytest.mark.parametrize("kind,extra", [("mc", ()), ("omegaprm", ("--budget", "6"))])
def test_ray_annotate_equals_local_byte_for_byte(local_ray, tmp_path, kind, extra):
    _annotate(kind, tmp_path / "local", *extra)
    output = _annotate(kind, tmp_path / "ray", *extra, "--engine", "ray", "--workers", "2")
    local, remote = _shards(tmp_path / "local"), _shards(tmp_path / "ray")
    assert len(local) == 4 and local == remote
    assert "per worker (ray engine)" in output
    again = _annotate(kind, tmp_path / "ray", *extra, "--engine", "ray")
    assert "4 finished shard(s) skipped" in again
