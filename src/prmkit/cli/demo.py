"""`prmkit demo`: run the whole PRM life cycle on the arith task on this CPU (about 10 minutes).

Every flag is a field of :class:`prmkit.demo.DemoConfig`. Examples::

    prmkit demo                                  # shipped policy; writes ./prmkit-demo/
    prmkit demo --out runs/demo --test-problems 100
    prmkit demo --from-scratch                   # also retrain the policy (~15-30 min more)
"""

from __future__ import annotations

from prmkit.cli._config import config_command
from prmkit.demo import DemoConfig

__all__ = ["NAME", "HELP", "run"]

NAME = "demo"
HELP = ("Run the whole PRM life cycle on the arith task on this CPU: sample, label (MC, OmegaPRM), train a PRM "
        "on MC labels, evaluate (ProcessBench-style F1, best-of-N) and write report.md, metrics.json and plots.")


def _run(config: DemoConfig) -> None:
    from prmkit._errors import InputError
    from prmkit.cli._common import fail
    from prmkit.demo import run_demo

    try:
        run_demo(config)
    except InputError:  # names its flag already
        raise
    except ValueError as err:  # e.g. resuming an --out folder that holds another run's labels
        fail(f"{err}\n(use another --out, or delete that folder to start over)")


run = config_command(DemoConfig, _run, name=NAME, help=HELP)
