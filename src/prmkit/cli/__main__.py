"""``python -m prmkit.cli ...`` (and ``accelerate launch -m prmkit.cli train prm ...``) runs the ``prmkit`` command."""

from prmkit.cli import main

main()
