"""prmkit serve: protocol, structured errors, dynamic batching, and a real uvicorn server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest

from prmkit.models import load_scorer
from prmkit.serve.app import create_app
from prmkit.serve.serving import ScoringService


class _Recorder:
    """A scorer giving step k of item i the score (i*10 + k) / 100, recording each call's items."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[tuple[str, list[str]]]] = []
        self.delay = delay

    def score(self, items):
        self.batches.append([(q, list(s)) for q, s in items])
        time.sleep(self.delay)
        return [[(int(q.split()[-1]) * 10 + k) / 100 for k in range(len(s))] for q, s in items]


async def _post_concurrently(app, bodies):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(*(client.post("/score", json=b) for b in bodies))


def test_two_concurrent_requests_make_one_scorer_call():
    scorer = load_scorer("dummy", value=0.7)
    app = create_app(scorer, name="dummy", max_wait_ms=200)
    bodies = [
        {"items": [{"question": "q1", "steps": ["a", "b"]}]},
        {"items": [{"question": "q2", "steps": ["c"]}, {"question": "q3", "steps": ["d", "e", "f"]}]},
    ]
    r1, r2 = asyncio.run(_post_concurrently(app, bodies))
    assert r1.status_code == r2.status_code == 200
    assert r1.json() == {"scores": [[0.7, 0.7]]}
    assert r2.json() == {"scores": [[0.7], [0.7, 0.7, 0.7]]}
    assert scorer.calls == 1
    assert scorer.steps_scored == 6


def test_batched_results_are_split_back_to_the_right_request():
    scorer = _Recorder()
    app = create_app(scorer, max_wait_ms=200)
    bodies = [{"items": [{"question": f"q {i}", "steps": ["s"] * (i + 1)}]} for i in range(4)]
    responses = asyncio.run(_post_concurrently(app, bodies))
    for i, response in enumerate(responses):
        assert response.json()["scores"] == [[(i * 10 + k) / 100 for k in range(i + 1)]]
    assert len(scorer.batches) == 1
    assert sorted(q for q, _ in scorer.batches[0]) == [f"q {i}" for i in range(4)]


def test_max_batch_items_caps_each_scorer_call():
    scorer = _Recorder()
    app = create_app(scorer, max_wait_ms=200, max_batch_items=3)
    bodies = [{"items": [{"question": f"q {i}", "steps": ["s"]}, {"question": f"q {i}", "steps": ["t"]}]} for i in range(3)]
    responses = asyncio.run(_post_concurrently(app, bodies))
    assert all(r.status_code == 200 for r in responses)
    assert all(len(batch) <= 3 for batch in scorer.batches)
    assert sum(len(batch) for batch in scorer.batches) == 6
    # one request larger than the cap is scored in chunks of the cap
    big = {"items": [{"question": f"q {i}", "steps": ["s"]} for i in range(7)]}
    scorer.batches.clear()
    (response,) = asyncio.run(_post_concurrently(app, [big]))
    assert [len(b) for b in scorer.batches] == [3, 3, 1]
    assert response.json()["scores"] == [[i / 10] for i in range(7)]


def test_health_and_structured_errors():
    from fastapi.testclient import TestClient

    class Broken:
        def score(self, items):
            raise RuntimeError("CUDA out of memory")

    with TestClient(create_app(load_scorer("dummy", value=0.3), name="dummy", max_batch_items=8)) as client:
        assert client.get("/health").json() == {"status": "ok", "scorer": "dummy", "max_batch_items": 8}
        bad = client.post("/score", json={"items": [{"question": "q", "steps": ["ok", "  "]}]})
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "BadRequestError"
        assert "items[0].steps[1]" in bad.json()["error"]["message"]
        malformed = client.post("/score", json={"items": [{"question": "q"}]})
        assert malformed.status_code == 422
        assert "items.0.steps" in malformed.json()["error"]["message"]
    with TestClient(create_app(Broken())) as client:
        failed = client.post("/score", json={"items": [{"question": "q", "steps": ["a"]}]})
        assert failed.status_code == 500
        assert failed.json() == {"error": {"type": "RuntimeError", "message": "CUDA out of memory", "code": 500}}


def test_scorer_returning_wrong_shape_is_a_500_naming_the_problem():
    from fastapi.testclient import TestClient

    class Short:
        def score(self, items):
            return [[0.5] for _ in items]

    with TestClient(create_app(Short(), name="short")) as client:
        response = client.post("/score", json={"items": [{"question": "q", "steps": ["a", "b"]}]})
    assert response.status_code == 500
    assert "returned 1 scores for an item with 2 steps" in response.json()["error"]["message"]


def test_one_failing_request_does_not_fail_the_others_batched_with_it():
    class Picky:
        def __init__(self):
            self.calls = 0

        def score(self, items):
            self.calls += 1
            if any("boom" in q for q, _ in items):
                raise ValueError("input too long")
            return [[0.25] * len(s) for _, s in items]

    scorer = Picky()
    app = create_app(scorer, max_wait_ms=200)
    bodies = [{"items": [{"question": q, "steps": ["a", "b"]}]} for q in ("ok 1", "boom 2", "ok 3")]
    responses = asyncio.run(_post_concurrently(app, bodies))
    assert [r.status_code for r in responses] == [200, 500, 200]
    assert responses[0].json() == {"scores": [[0.25, 0.25]]} and responses[2].json() == {"scores": [[0.25, 0.25]]}
    assert responses[1].json()["error"]["message"] == "input too long"
    assert scorer.calls == 4  # one merged call that failed, then each request alone


def test_nan_from_the_scorer_is_a_structured_500():
    from fastapi.testclient import TestClient

    class NaN:
        def score(self, items):
            return [[float("nan")] * len(s) for _, s in items]

    with TestClient(create_app(NaN(), name="nan")) as client:
        response = client.post("/score", json={"items": [{"question": "q", "steps": ["a"]}]})
    assert response.status_code == 500
    assert "non-finite score" in response.json()["error"]["message"]


def test_service_rejects_bad_settings():
    with pytest.raises(ValueError, match="max_batch_items"):
        ScoringService(load_scorer("dummy"), max_batch_items=0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A uvicorn server on 127.0.0.1 in a background thread; stops on exit (bounded waits)."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_real_uvicorn_server_batches_concurrent_clients():
    scorer = load_scorer("dummy", value=0.25)
    with LiveServer(create_app(scorer, name="dummy", max_wait_ms=300)) as live:
        assert httpx.get(f"{live.url}/health", timeout=5).json()["scorer"] == "dummy"
        results = {}

        def call(i):
            body = {"items": [{"question": f"q{i}", "steps": ["x"] * (i + 1)}]}
            results[i] = httpx.post(f"{live.url}/score", json=body, timeout=10).json()

        threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
    assert results == {0: {"scores": [[0.25]]}, 1: {"scores": [[0.25, 0.25]]}}
    assert scorer.calls == 1


def test_cli_serve_starts_a_server_that_answers_and_stops():
    import subprocess
    import sys

    port = _free_port()
    code = "from prmkit.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--model", "dummy", "--option", "value=0.6", "--port", str(port),
         "--max-batch-items", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    output = proc.stdout.read() if proc.poll() is not None else ""
                    pytest.fail(f"prmkit serve did not come up: {output}")
                time.sleep(0.1)
        assert health == {"status": "ok", "scorer": "dummy", "max_batch_items": 4}
        body = {"items": [{"question": "q", "steps": ["a", "b"]}]}
        assert httpx.post(f"http://127.0.0.1:{port}/score", json=body, timeout=5).json() == {"scores": [[0.6, 0.6]]}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_serve_refuses_unknown_scorer_before_binding():
    from typer.testing import CliRunner

    from prmkit.cli import app

    result = CliRunner().invoke(app, ["serve", "--model", "dumm"])
    assert result.exit_code == 2
    assert "Did you mean: dummy" in result.output
