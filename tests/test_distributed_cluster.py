"""A job on a 2-node Ray cluster (``ray.cluster_utils.Cluster``: two raylets on this machine) writes what the local engine writes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from prmkit.cli import app

pytest.importorskip("ray")

#: Runs in its own process: a Cluster sets RAY_ADDRESS and other process-wide state that would
#: clash with the single-node Ray of tests/test_distributed_ray.py.
TWO_NODES = textwrap.dedent("""
    import sys
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        print(f"nodes: {len(cluster.list_all_nodes())}", file=sys.stderr)
        from prmkit.cli import app

        app([*sys.argv[1:], "--engine", "ray", "--address", cluster.address, "--workers", "2"], standalone_mode=False)
    finally:
        cluster.shutdown()
""")

ANNOTATE = ["annotate", "mc", "--task", "arith", "--policy", "demo", "--problems", "4", "--samples", "2", "--n", "2",
            "--shard-size", "1", "--max-new-tokens", "48"]


@pytest.mark.slow  # ~40-60 s on the shared 2-core machine: two raylets start, each 1 CPU
def test_two_node_cluster_annotates_what_the_local_engine_does(tmp_path):
    local = CliRunner().invoke(app, [*ANNOTATE, "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    run = subprocess.run([sys.executable, "-c", TWO_NODES, *ANNOTATE, "--out", str(tmp_path / "ray")],
                         capture_output=True, text=True, env=os.environ, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "nodes: 2" in run.stderr
    # Each node has 1 CPU and each actor reserves 1: two workers in the table are one per node.
    workers = set(re.findall(r"│ (\S+:\d+)\s+│", run.stderr))
    assert len(workers) == 2, run.stderr[-3000:]
    shards = sorted(p.name for p in (tmp_path / "local").glob("shard-*.jsonl"))
    assert len(shards) == 4
    assert all((tmp_path / "local" / n).read_bytes() == (tmp_path / "ray" / n).read_bytes() for n in shards)
