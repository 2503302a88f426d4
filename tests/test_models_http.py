"""HTTPScorer against a real ``prmkit serve`` app and a fake vLLM ``/pooling`` endpoint (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from prmkit.models import load_scorer
from prmkit.models.backends.http import HTTPScorer, HTTPScorerError
from prmkit.models.families import FamilySpec
from prmkit.models.formats.token_cls import encode_token_cls
from prmkit.serve.app import create_app
from tests._serve import LiveServer
from tests._serve import free_port as _free_port
from tests.test_models_vllm import ITEMS, CharTokenizer, _expected, _softmax, assert_nested_close, token_logits


class IndexScorer:
    """Step k of the item whose question is "q <i>" scores (i*10 + k) / 1000; thread-safe call log."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.lock = threading.Lock()

    def score(self, items):
        with self.lock:
            self.sizes.append(len(items))
        return [[(int(q.split()[1]) * 10 + k) / 1000 for k in range(len(s))] for q, s in items]


def test_concurrent_batches_come_back_in_input_order_from_a_real_server():
    scorer = IndexScorer()
    items = [(f"q {i}", ["s"] * (1 + i % 3)) for i in range(11)]
    with LiveServer(create_app(scorer, max_wait_ms=0)) as live:
        client = load_scorer("http", url=live.url, batch_size=2, concurrency=4)
        got = client.score(items)
        client.close()
    assert got == [[(i * 10 + k) / 1000 for k in range(1 + i % 3)] for i in range(11)]
    assert sum(scorer.sizes) == 11 and max(scorer.sizes) <= 8


def test_server_side_validation_error_is_not_retried_and_names_url_status_message():
    with LiveServer(create_app(load_scorer("dummy"))) as live:
        client = HTTPScorer(live.url, max_retries=3, backoff=5.0)  # a retry would take >= 5 s
        with pytest.raises(HTTPScorerError) as err:
            client.score([("q", ["fine", " "])])
    message = str(err.value)
    assert f"{live.url}/score" in message and "status 400" in message and "items[0].steps[1] is blank" in message
    assert err.value.status == 400


def _flaky_app(fail_times: int, status: int = 503, delay: float = 0.0, headers: dict | None = None):
    app = FastAPI()
    app.state.calls = 0

    @app.post("/score")
    async def score(request: Request):
        app.state.calls += 1
        body = await request.json()
        if delay:
            await asyncio.sleep(delay)
        if app.state.calls <= fail_times:
            return JSONResponse(
                status_code=status, content={"error": {"code": "busy", "message": "warming up"}}, headers=headers
            )
        return {"scores": [[0.5] * len(item["steps"]) for item in body["items"]]}

    return app


def test_5xx_is_retried_with_backoff_then_succeeds():
    app = _flaky_app(fail_times=2)
    with LiveServer(app) as live:
        got = HTTPScorer(live.url, max_retries=2, backoff=0.01).score([("q", ["a", "b"])])
    assert got == [[0.5, 0.5]]
    assert app.state.calls == 3


@pytest.mark.parametrize("status", [400, 413, 422, 429])
def test_a_4xx_is_never_retried(status):
    app = _flaky_app(fail_times=100, status=status)
    with LiveServer(app) as live:
        with pytest.raises(HTTPScorerError, match=f"failed with status {status}: warming up"):
            HTTPScorer(live.url, max_retries=3, backoff=0.01).score([("q", ["a"])])
    assert app.state.calls == 1


def test_a_503_retry_waits_for_the_servers_retry_after():
    app = _flaky_app(fail_times=1, status=503, headers={"Retry-After": "0.3"})
    with LiveServer(app) as live:
        started = time.monotonic()
        assert HTTPScorer(live.url, max_retries=1, backoff=0.0).score([("q", ["a"])]) == [[0.5]]
        waited = time.monotonic() - started
    assert app.state.calls == 2 and waited >= 0.3


def test_over_length_items_get_a_400_from_prmkit_serve_and_are_not_retried():
    from tests.test_serve import CharScorer

    with LiveServer(create_app(CharScorer())) as live:
        with pytest.raises(HTTPScorerError, match=r"status 400: items\[1\] is 43 tokens") as err:
            HTTPScorer(live.url, max_retries=3, backoff=5.0, batch_size=4).score([("q", ["a"]), ("q", ["x" * 40])])
    assert err.value.status == 400


def test_retries_are_bounded_and_the_error_says_how_many_tries():
    app = _flaky_app(fail_times=100, status=502)
    with LiveServer(app) as live:
        with pytest.raises(HTTPScorerError, match=r"failed after 3 tries; last: status 502: warming up"):
            HTTPScorer(live.url, max_retries=2, backoff=0.01).score([("q", ["a"])])
    assert app.state.calls == 3


def test_timeouts_are_retried():
    app = _flaky_app(fail_times=1, delay=0.3)  # first call fails anyway; it must also not block the retry
    with LiveServer(app) as live:
        with pytest.raises(HTTPScorerError, match="timed out"):
            HTTPScorer(live.url, timeout=0.05, max_retries=1, backoff=0.01).score([("q", ["a"])])
    assert app.state.calls == 2


def test_unreachable_server_error_names_the_url():
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(HTTPScorerError, match=f"POST {url}/score failed after 2 tries.*Is the server up"):
        HTTPScorer(url, max_retries=1, backoff=0.01).score([("q", ["a"])])


def _fake_vllm_pooling(seen: list):
    """A stand-in for ``vllm serve --runner pooling``: checks the /pooling body, answers logits per token."""
    app = FastAPI()

    @app.post("/pooling")
    async def pooling(request: Request):
        body = await request.json()
        seen.append(body)
        assert set(body) == {"model", "input", "task", "use_activation", "encoding_format"}, body
        assert body["task"] == "token_classify" and body["use_activation"] is False
        assert all(isinstance(ids, list) and all(isinstance(t, int) for t in ids) for ids in body["input"])
        data = [{"index": i, "object": "pooling", "data": [token_logits(t, p) for p, t in enumerate(ids)]}
                for i, ids in enumerate(body["input"])]
        return {"id": "pool-1", "object": "list", "model": body["model"], "data": data[::-1]}  # any order

    return app


@pytest.mark.parametrize(
    "spec",
    [FamilySpec(name="stand-in-2class", encode=encode_token_cls, head="two_class", step_token="\n"), "token-cls"],
    ids=["spec-object", "family-name"],
)
def test_vllm_pooling_protocol_reads_family_positions(spec):
    seen: list = []
    with LiveServer(_fake_vllm_pooling(seen)) as live:
        client = HTTPScorer(live.url, protocol="vllm", family=spec, tokenizer=CharTokenizer(), model="prm",
                            batch_size=1, concurrency=2)
        got = client.score(ITEMS)
    assert_nested_close(got, _expected(ITEMS, lambda row: _softmax(row, 1)))
    assert sorted(len(b["input"]) for b in seen) == [1, 1]
    assert {b["model"] for b in seen} == {"prm"}


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="protocol 'grpc' is unknown"):
        HTTPScorer("http://x", protocol="grpc")
    with pytest.raises(ValueError, match="family=<family name> and tokenizer"):
        HTTPScorer("http://x", protocol="vllm")
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        HTTPScorer("http://x", batch_size=0)


def test_load_scorer_passes_the_family_to_the_http_backend():
    from prmkit.models import load_scorer

    seen: list = []
    with LiveServer(_fake_vllm_pooling(seen)) as live:
        client = load_scorer("token-cls", backend="http", url=live.url, protocol="vllm", tokenizer=CharTokenizer(),
                             model="prm")
        got = client.score(ITEMS)
    assert client.spec.name == "token-cls"
    assert_nested_close(got, _expected(ITEMS, lambda row: _softmax(row, 1)))


def test_vllm_protocol_tokenizes_a_prmkit_checkpoint_as_its_trainer_did(tmp_path):
    """Token ids are sent, so a tokenizer dir prmkit wrote (prmkit.json) is read with the trainer's loader."""
    from prmkit.models.backends.http import HTTPScorer
    from prmkit.train._data import load_tokenizer
    from tests._tiny_train import make_base

    checkpoint = make_base(tmp_path / "prm", "qwen2")
    (checkpoint / "prmkit.json").write_text('{"family": "token-cls"}')
    text = "Q 12 +3\n12+3=15\n"
    for given in (str(checkpoint), checkpoint):  # a str or a Path
        client = HTTPScorer("http://127.0.0.1:9", protocol="vllm", family="token-cls", tokenizer=given, model="prm")
        assert client.tokenizer(text)["input_ids"] == load_tokenizer(checkpoint)(text)["input_ids"]
        client.close()
