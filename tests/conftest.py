"""Fixtures shared across test modules (no torch import at collection time)."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Tiny CPU models allocate and free tensors at every step; keep freed memory (see prmkit._memory)."""
    from prmkit._memory import keep_freed_memory

    keep_freed_memory()


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tiny torch models single-threaded, then restore torch's setting.

    Models this small train and generate far faster on one thread than with a thread pool fighting
    over a busy shared CPU. Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def qwen_base(tmp_path_factory) -> Path:
    """A saved 2-layer random Qwen2 causal LM + char tokenizer (see ``tests/_tiny_train.py``)."""
    from tests._tiny_train import make_base

    return make_base(tmp_path_factory.mktemp("qwen_base"), "qwen2")


@pytest.fixture(scope="module")
def gpt2_base(tmp_path_factory) -> Path:
    """A saved 2-layer random GPT-2 causal LM + char tokenizer (see ``tests/_tiny_train.py``)."""
    from tests._tiny_train import make_base

    return make_base(tmp_path_factory.mktemp("gpt2_base"), "gpt2")
