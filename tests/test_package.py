import subprocess
import sys

import pytest

from prmkit._registry import Registry, UnknownNameError


def test_import_prmkit_does_not_import_torch():
    code = "import sys, prmkit, prmkit.types, prmkit.models, prmkit.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_registry_suggests_close_names_and_lists_all():
    reg = Registry("scorer")
    reg.register("math-shepherd", "prmkit.models.dummy:DummyScorer")
    reg.register("qwen2.5-math-prm", "prmkit.models.dummy:DummyScorer")
    with pytest.raises(UnknownNameError) as err:
        reg.get("math-shepard")
    assert "Did you mean: math-shepherd" in str(err.value)
    assert "qwen2.5-math-prm" in str(err.value)


def test_every_stage_has_a_command_with_help():
    from typer.testing import CliRunner

    from prmkit.cli import app

    runner = CliRunner()
    for stage in ["score", "convert", "search", "serve", "demo", "eval", "train", "annotate"]:
        result = runner.invoke(app, [stage, "--help"])
        assert result.exit_code == 0, (stage, result.output)
        assert "Usage" in result.output


def test_dir_lists_the_public_api_lazily_without_torch():
    code = ("import sys, prmkit; names = dir(prmkit); [getattr(prmkit, n) for n in prmkit.__all__]; "
            "print(' '.join(names)); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names, torch_loaded = out.stdout.splitlines()
    for name in ["load_scorer", "load_generator", "load_task", "scorer_options", "Scorer", "LabelledSolution",
                 "models", "evaluate", "train", "search", "rl", "io"]:
        assert name in names.split(), name
    assert torch_loaded == "False"


def test_load_scorer_docstring_lists_every_registered_scorer_and_the_family_options():
    import prmkit
    from prmkit.models import SCORERS, scorer_options
    from prmkit.models._options import SUMMARIES, TRANSFORMERS_OPTIONS

    doc = prmkit.load_scorer.__doc__
    assert set(SUMMARIES) == set(SCORERS.names())  # a new scorer needs its line
    for name in SCORERS.names():
        assert f" {name} " in doc and SUMMARIES[name] in doc, name
    # the documented options are the transformers backend's real keyword arguments
    assert list(TRANSFORMERS_OPTIONS) == scorer_options("token-cls") == scorer_options("math-shepherd")
    for option in TRANSFORMERS_OPTIONS:
        assert f"``{option}``" in doc, option


def test_keep_freed_memory_applies_on_glibc_and_is_a_no_op_elsewhere():
    import platform
    import sys

    from prmkit._memory import keep_freed_memory

    applied = keep_freed_memory()
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert applied is on_glibc
    assert keep_freed_memory() is applied  # idempotent
