"""A model name that is not a local folder is checked against the HF cache and the hub in one short try.

No test reaches the network: offline mode, a fake cache folder, and a patched ``model_info``.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("huggingface_hub")

from huggingface_hub import constants  # noqa: E402

from prmkit._errors import InputError  # noqa: E402
from prmkit._hub import check_hub_model  # noqa: E402


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache in a scratch folder, online mode."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    return tmp_path


def _cache(root, repo_id: str) -> None:
    """Lay out ``repo_id`` in the cache as huggingface_hub does after a download of config.json."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text("{}")


def _no_network(*args, **kwargs):
    raise AssertionError("the check went to the network")


def test_a_cached_model_passes_offline_without_a_request(empty_cache, monkeypatch):
    import huggingface_hub

    _cache(empty_cache, "gpt2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "model_info", _no_network)
    check_hub_model("gpt2", "--policy")  # no error


def test_offline_and_not_cached_is_refused_with_the_fix(empty_cache, monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "model_info", _no_network)
    with pytest.raises(InputError, match=r"--policy nosuchdir: no such local folder, and not in the Hugging Face "
                                         r"cache while offline .*'demo'"):
        check_hub_model("nosuchdir", "--policy", demo=True)


def test_unreachable_hub_fails_after_one_try(empty_cache, monkeypatch):
    import huggingface_hub

    calls = []

    def unreachable(repo_id, **kwargs):
        calls.append(kwargs)
        raise ConnectionError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "model_info", unreachable)
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"--base-model gtp2: .*hub is unreachable .*HF_HUB_OFFLINE=1"):
        check_hub_model("gtp2", "--base-model")
    assert time.perf_counter() - start < 5 and len(calls) == 1 and calls[0]["timeout"] <= 10


def test_a_name_the_hub_does_not_know_is_refused(empty_cache, monkeypatch):
    from types import SimpleNamespace

    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    def not_found(repo_id, **kwargs):
        response = SimpleNamespace(status_code=404, headers={}, request=None)  # what the error reads of a response
        raise RepositoryNotFoundError("404 Repository Not Found", response=response)

    monkeypatch.setattr(huggingface_hub, "model_info", not_found)
    with pytest.raises(InputError, match=r"no model 'org/typo' on the Hugging Face hub"):
        check_hub_model("org/typo", "--path")


def test_a_model_on_the_hub_passes(empty_cache, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "model_info", lambda repo_id, **kwargs: object())
    check_hub_model("org/model", "--path")


def test_an_invalid_hub_id_is_refused(empty_cache):
    with pytest.raises(InputError, match="not a valid Hugging Face hub id"):
        check_hub_model("two words", "--path")
