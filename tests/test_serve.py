"""prmkit serve: batching, fairness, the queue, failure isolation, the limits and the error shape (in process)."""

from __future__ import annotations

import asyncio
import logging
import threading

import httpx
import pytest
from fastapi.testclient import TestClient

from prmkit.models import load_scorer
from prmkit.serve.app import create_app
from prmkit.serve.limits import ServeLimits, TokenGuard
from prmkit.serve.serving import ScoringService
from tests._serve import ERROR_KEYS, Gate, Recorder, post_concurrently


def _items(n: int, steps: int = 1, tag: str = "q") -> list[dict]:
    return [{"question": f"{tag} {i}", "steps": ["s"] * steps} for i in range(n)]


def _error(response: httpx.Response) -> dict:
    """The error object, after checking the one shape every failure has."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    return body["error"]


# -- batching ------------------------------------------------------------------------------------


def test_two_concurrent_requests_make_one_scorer_call():
    scorer = load_scorer("dummy", value=0.7)
    app = create_app(scorer, name="dummy", max_wait_ms=200)
    bodies = [
        {"items": [{"question": "q1", "steps": ["a", "b"]}]},
        {"items": [{"question": "q2", "steps": ["c"]}, {"question": "q3", "steps": ["d", "e", "f"]}]},
    ]
    r1, r2 = asyncio.run(post_concurrently(app, bodies))
    assert r1.status_code == r2.status_code == 200
    assert r1.json() == {"scores": [[0.7, 0.7]]}
    assert r2.json() == {"scores": [[0.7], [0.7, 0.7, 0.7]]}
    assert scorer.calls == 1


def test_batched_results_are_split_back_to_the_right_request():
    scorer = Recorder()
    app = create_app(scorer, max_wait_ms=200)
    bodies = [{"items": [{"question": f"q {i}", "steps": ["s"] * (i + 1)}]} for i in range(4)]
    responses = asyncio.run(post_concurrently(app, bodies))
    for i, response in enumerate(responses):
        assert response.json()["scores"] == [[(i * 10 + k) / 100 for k in range(i + 1)]]
    assert len(scorer.batches) == 1


def test_a_large_request_is_scored_in_chunks_of_max_batch_items():
    scorer = Recorder()
    app = create_app(scorer, max_wait_ms=0, max_batch_items=3, chunk_ms=0)
    (response,) = asyncio.run(post_concurrently(app, [{"items": _items(7)}]))
    assert [len(b) for b in scorer.batches] == [3, 3, 1]
    assert response.json()["scores"] == [[i / 10] for i in range(7)]


def test_chunk_items_caps_one_requests_share_of_a_call_but_not_the_merged_call():
    scorer = Recorder(delay=0.02)
    app = create_app(scorer, max_wait_ms=100, max_batch_items=8, chunk_items=3, chunk_ms=0)
    bodies = [{"items": _items(7, tag="a")}, {"items": _items(7, tag="b")}]
    responses = asyncio.run(post_concurrently(app, bodies))
    assert [r.status_code for r in responses] == [200, 200]
    assert [len(b) for b in scorer.batches] == [6, 6, 2]  # 3 of each request per call
    assert all(sum(q.startswith(t) for q, _ in b) <= 3 for b in scorer.batches for t in "ab")


def test_chunk_ms_sizes_a_lone_request_s_chunks_by_the_measured_speed():
    class PerItem(Recorder):
        def score(self, items):
            self.delay = 0.01 * len(items)  # 10 ms per item: about 100 items/s at best
            return super().score(items)

    scorer = PerItem()
    app = create_app(scorer, max_wait_ms=0, max_batch_items=16, chunk_ms=30)
    (response,) = asyncio.run(post_concurrently(app, [{"items": _items(30)}]))
    assert response.status_code == 200 and response.json()["scores"] == [[i / 10] for i in range(30)]
    sizes = [len(b) for b in scorer.batches]
    assert sizes[0] == 16 and max(sizes[1:]) <= 3, sizes  # speed unknown at first, then ~30 ms of items


def test_a_small_request_rides_in_the_next_batch_while_a_large_one_runs():
    """Fairness: the 1-item request is not queued behind the 40-item one; it shares the next batch."""
    scorer = Recorder(delay=0.05)
    app = create_app(scorer, max_wait_ms=0, max_batch_items=8, chunk_ms=0)
    big, small = {"items": _items(40, tag="big")}, {"items": _items(1, tag="small")}
    r_big, r_small = asyncio.run(post_concurrently(app, [big, small], stagger=0.02))
    assert r_big.status_code == r_small.status_code == 200
    where = next(k for k, batch in enumerate(scorer.batches) if any(q.startswith("small") for q, _ in batch))
    assert where <= 1, [len(b) for b in scorer.batches]
    assert len(scorer.batches[where]) == 8  # it shared the batch with the big request
    assert sum(len(b) for b in scorer.batches) == 41 and len(scorer.batches) == 6


# -- failures -------------------------------------------------------------------------------------


def test_an_item_the_scorer_names_fails_alone_and_is_numbered_in_its_request():
    """The 80th item of a 100-item request is items[79] (not its index in the 64-item chunk)."""

    class Picky:
        def __init__(self):
            self.calls = []

        def score(self, items):
            self.calls.append(len(items))
            for k, (q, _) in enumerate(items):
                if q.startswith("bad"):
                    raise ValueError(f"item {k} is 9999 tokens long, over max_length=4096")
            return [[0.25] * len(s) for _, s in items]

    scorer = Picky()
    app = create_app(scorer, max_wait_ms=200, max_batch_items=64)
    poisoned = _items(100)
    poisoned[79]["question"] = "bad 79"
    responses = asyncio.run(post_concurrently(app, [{"items": _items(2)}, {"items": poisoned}, {"items": _items(3)}]))
    assert [r.status_code for r in responses] == [200, 422, 200]
    error = _error(responses[1])
    assert error["code"] == "unprocessable_item" and error["param"] == "items[79]"
    assert error["message"].startswith("items[79] is 9999 tokens long")
    assert responses[0].json() == {"scores": [[0.25], [0.25]]} and responses[2].json()["scores"] == [[0.25]] * 3


def test_an_unnamed_failure_is_bisected_not_rescored_request_by_request():
    class Boom:
        def __init__(self):
            self.calls = 0

        def score(self, items):
            self.calls += 1
            if any("boom" in q for q, _ in items):
                raise RuntimeError("device-side assert")
            return [[0.5] * len(s) for _, s in items]

    scorer = Boom()
    app = create_app(scorer, max_wait_ms=300, max_batch_items=64)
    bodies = [{"items": [{"question": "boom 0" if i == 5 else f"ok {i}", "steps": ["a"]}]} for i in range(16)]
    responses = asyncio.run(post_concurrently(app, bodies))
    assert [r.status_code for r in responses] == [500 if i == 5 else 200 for i in range(16)]
    assert scorer.calls <= 1 + 2 * 4  # log2(16) levels, two calls each, not 1 + 16


def test_scorer_exceptions_are_logged_with_traceback_not_sent(caplog):
    class Broken:
        def score(self, items):
            raise RuntimeError("CUDA out of memory at 0xdeadbeef")

    with caplog.at_level(logging.ERROR, logger="prmkit.serve"), TestClient(create_app(Broken())) as client:
        response = client.post("/score", json={"items": _items(1)}, headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "internal_error" and error["request_id"] == "trace-me-1"
    assert "CUDA" not in response.text and "trace-me-1" in error["message"]
    record = next(r for r in caplog.records if "trace-me-1" in r.getMessage())
    assert record.exc_info is not None and "CUDA out of memory" in str(record.exc_info[1])


@pytest.mark.parametrize(
    "rows, where",
    [(lambda s: [0.5] * (len(s) - 1), "returned 1 scores"), (lambda s: [float("nan")] * len(s), "non-finite")],
    ids=["short", "nan"],
)
def test_a_scorer_returning_bad_scores_is_a_500_logged_with_the_cause(caplog, rows, where):
    class Bad:
        def score(self, items):
            return [rows(s) for _, s in items]

    with caplog.at_level(logging.ERROR, logger="prmkit.serve"), TestClient(create_app(Bad(), name="bad")) as client:
        response = client.post("/score", json={"items": [{"question": "q", "steps": ["a", "b"]}]})
    assert response.status_code == 500 and _error(response)["code"] == "internal_error"
    assert any(where in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


# -- queue, deadline, readiness ------------------------------------------------------------------


def test_a_full_queue_answers_503_with_retry_after_and_recovers():
    scorer = Gate()
    app = create_app(scorer, max_wait_ms=0, max_batch_items=2, max_queue_items=3, limits=ServeLimits(max_items=3))

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            first = asyncio.ensure_future(client.post("/score", json={"items": _items(2)}))
            await asyncio.to_thread(scorer.entered.wait, 5)  # its 2 items are in flight, the queue is empty
            second = asyncio.ensure_future(client.post("/score", json={"items": _items(3)}))
            await asyncio.sleep(0.05)
            refused = await client.post("/score", json={"items": _items(1)})
            ready = await client.get("/health")
            full = await client.get("/ready")
            scorer.release.set()
            return refused, ready, full, await first, await second

    refused, health, full, first, second = asyncio.run(scenario())
    assert full.status_code == 503 and "queue is full" in _error(full)["message"]  # a balancer should look elsewhere
    assert refused.status_code == 503 and _error(refused)["code"] == "queue_full"
    assert int(refused.headers["retry-after"]) >= 1
    assert health.json()["queue_items"] == 3
    assert first.status_code == second.status_code == 200


def test_a_request_past_its_deadline_gets_504_and_its_items_are_dropped():
    scorer = Recorder(delay=0.3)
    app = create_app(scorer, max_wait_ms=0, max_batch_items=2, request_timeout_s=0.2)
    (response,) = asyncio.run(post_concurrently(app, [{"items": _items(20)}]))
    assert response.status_code == 504 and _error(response)["code"] == "deadline_exceeded"
    assert app.state.service.queued_items == 0
    assert sum(len(b) for b in scorer.batches) <= 4  # the batch in flight (and at most one more) of 10


def test_ready_reports_a_stalled_scorer_call():
    scorer = Gate()
    app = create_app(scorer, max_wait_ms=0, stall_after_s=0.1)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            before = await client.get("/ready")
            pending = asyncio.ensure_future(client.post("/score", json={"items": _items(1)}))
            await asyncio.to_thread(scorer.entered.wait, 5)
            await asyncio.sleep(0.2)
            stalled, alive = await client.get("/ready"), await client.get("/health")
            scorer.release.set()
            await pending
            return before, stalled, alive, await client.get("/ready")

    before, stalled, alive, after = asyncio.run(scenario())
    assert before.json() == {"ready": True, "reason": "ok"} and after.status_code == 200
    assert stalled.status_code == 503 and _error(stalled)["code"] == "not_ready"
    assert "running for" in _error(stalled)["message"]
    assert alive.status_code == 200


def test_service_rejects_bad_settings():
    with pytest.raises(ValueError, match="max_batch_items"):
        ScoringService(load_scorer("dummy"), max_batch_items=0)
    with pytest.raises(TypeError, match="unknown server setting"):
        create_app(load_scorer("dummy"), max_batch=3)
    with pytest.raises(ValueError, match="a full-size request could never be queued"):
        create_app(load_scorer("dummy"), max_queue_items=10)


# -- limits ----------------------------------------------------------------------------------------

LIMITS = ServeLimits(max_request_bytes=4096, max_items=5, max_steps=3, max_question_chars=50, max_step_chars=20)


@pytest.mark.parametrize(
    "items, code, param",
    [
        (_items(6), "too_many_items", "items"),
        ([*_items(3), {"question": "q 3", "steps": ["s"] * 4}], "too_many_steps", "items[3].steps"),
        ([*_items(1), {"question": "x" * 51, "steps": ["s"]}], "question_too_long", "items[1].question"),
        ([*_items(2), {"question": "q", "steps": ["ok", "y" * 21]}], "step_too_long", "items[2].steps[1]"),
        ([*_items(4), {"question": "q", "steps": ["ok", "  "]}], "blank_step", "items[4].steps[1]"),
    ],
    ids=["items", "steps", "question-chars", "step-chars", "blank"],
)
def test_each_limit_is_a_400_naming_the_item_and_field_before_the_scorer_runs(items, code, param):
    scorer = Recorder()
    with TestClient(create_app(scorer, limits=LIMITS)) as client:
        response = client.post("/score", json={"items": items})
    assert response.status_code == 400
    error = _error(response)
    assert (error["code"], error["param"]) == (code, param)
    assert param.split(".")[0] in error["message"]
    assert scorer.batches == []


def test_a_lone_surrogate_is_a_400_not_a_tokenizer_crash():
    scorer = Recorder()
    raw = b'{"items": [{"question": "q 0", "steps": ["ok"]}, {"question": "q 1", "steps": ["a", "\\ud800 b"]}]}'
    with TestClient(create_app(scorer)) as client:
        response = client.post("/score", content=raw, headers={"Content-Type": "application/json"})
        bad_bytes = client.post("/score", content=b'{"items": "\xff"}', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "undecodable_text" and error["param"] == "items[1].steps[1]"
    assert bad_bytes.status_code in (400, 422) and _error(bad_bytes)["code"] in ("invalid_request", "validation_error")
    assert scorer.batches == []


def test_body_over_the_byte_limit_is_413_by_content_length_and_while_streamed():
    scorer = Recorder()
    app = create_app(scorer, limits=LIMITS)
    sent = []

    async def stream():
        for _ in range(1000):  # 1000 x 1 KiB, no Content-Length (chunked)
            sent.append(1)
            yield b" " * 1024

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            declared = await client.post("/score", content=b" " * 5000, headers={"Content-Type": "application/json"})
            streamed = await client.post("/score", content=stream(), headers={"Content-Type": "application/json"})
            return declared, streamed

    declared, streamed = asyncio.run(scenario())
    for response in (declared, streamed):
        assert response.status_code == 413 and _error(response)["code"] == "payload_too_large"
    assert "4096 bytes" in _error(declared)["message"]
    assert len(sent) <= 6  # reading stopped once 4 KiB had passed, not after 1 MiB
    assert scorer.batches == []


def test_a_body_that_does_not_arrive_in_time_is_408():
    app = create_app(Recorder(), body_timeout_s=0.2)

    async def slow():
        yield b'{"items": '
        await asyncio.sleep(2)
        yield b"[]}"

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/score", content=slow(), headers={"Content-Type": "application/json"})

    response = asyncio.run(scenario())
    assert response.status_code == 408 and _error(response)["code"] == "body_timeout"


class CharScorer:
    """One token per character plus 2 per step (a stand-in format); records what it scored."""

    max_length = 40
    truncation = "error"

    def __init__(self):
        self.scored = []
        self.encoded = 0

    def encode(self, question, steps):
        self.encoded += 1

        class Encoded:
            input_ids = [0] * (len(question) + sum(len(s) + 2 for s in steps))

        return Encoded()

    def score(self, items):
        self.scored.extend(items)
        return [[0.5] * len(s) for _, s in items]


def test_an_item_over_the_token_limit_is_a_400_naming_it_and_never_reaches_the_scorer():
    scorer = CharScorer()
    items = [*_items(3), {"question": "q", "steps": ["a" * 18, "b" * 18]}, *_items(2)]
    with TestClient(create_app(scorer)) as client:
        response = client.post("/score", json={"items": items})
        fine = client.post("/score", json={"items": _items(3)})
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "item_too_long" and error["param"] == "items[3]"
    assert "41 tokens" in error["message"] and "limit of 40" in error["message"]
    assert fine.status_code == 200 and len(scorer.scored) == 3
    assert scorer.encoded == 2 + 1  # two calibration items, then only the one long item is tokenized


def test_the_token_guard_takes_the_smaller_of_the_flag_and_the_model_limit():
    assert TokenGuard(CharScorer(), None).limit == 40
    assert TokenGuard(CharScorer(), 10).limit == 10
    assert not TokenGuard(Recorder(), None).active  # no tokenizer, no limit: characters bound it


def test_token_limit_with_a_real_tiny_prm(tmp_path):
    """The guard tokenizes with the family's real format (Qwen BPE, token-cls) and the scorer's max_length."""
    from tests._tiny_models import build_token_cls, skip_reason, tokenizer

    if (reason := skip_reason("token-cls")) is not None:
        pytest.skip(reason)
    path = build_token_cls(tmp_path / "prm", max_position_embeddings=64)
    scorer = load_scorer("token-cls", path=path, tokenizer=tokenizer("qwen"), device="cpu", progress=False)
    long_item = {"question": "What is 1+1?", "steps": ["one plus one " * 30, "is two"]}
    with TestClient(create_app(scorer, max_batch_items=4)) as client:
        response = client.post("/score", json={"items": [*_items(5), long_item]})
        ok = client.post("/score", json={"items": [{"question": "1+1?", "steps": ["1+1=2", "The answer is 2"]}]})
    assert response.status_code == 400
    assert _error(response)["param"] == "items[5]" and "limit of 64 tokens" in _error(response)["message"]
    assert ok.status_code == 200 and all(0 <= s <= 1 for s in ok.json()["scores"][0])
    # its tokenizer is its own copy: checking never waits for a scorer call in flight
    lock = threading.Lock()
    guard = TokenGuard(scorer, None, lock)
    guard.check([("q", ["s"])])  # calibrates (and picks its own tokenizer) while the lock is free
    errors = []
    with lock:  # as if a scorer call were running
        worker = threading.Thread(target=lambda: errors.append(_raises(guard.check, [(long_item["question"], long_item["steps"])])))
        worker.start()
        worker.join(timeout=30)
    assert not worker.is_alive() and "limit of 64 tokens" in errors[0]


def _raises(fn, *args) -> str:
    try:
        fn(*args)
    except Exception as err:
        return str(err)
    return "no error"


# -- the error shape --------------------------------------------------------------------------------


def test_every_failure_has_the_one_error_shape():
    with TestClient(create_app(load_scorer("dummy"), limits=LIMITS)) as client:
        cases = {
            404: client.get("/nowhere"),
            405: client.get("/score"),
            415: client.post("/score", content=b'{"items": []}'),
            422: client.post("/score", json={"items": [{"question": "q"}]}),
            400: client.post("/score", json={"items": _items(9)}),
            413: client.post("/score", content=b"[" * 5000, headers={"Content-Type": "application/json"}),
        }
    for status, response in cases.items():
        assert response.status_code == status, (status, response.text)
        error = _error(response)
        assert error["code"] and error["message"]
    assert "items.0.steps" in _error(cases[422])["message"]
    assert "Content-Type: application/json" in _error(cases[415])["message"]


def test_request_ids_are_echoed_or_made():
    with TestClient(create_app(load_scorer("dummy"))) as client:
        given = client.post("/score", json={"items": _items(1)}, headers={"X-Request-ID": "abc-123"})
        made = client.post("/score", json={"items": _items(1)})
        junk = client.post("/score", json={"items": _items(1)}, headers={"X-Request-ID": "x" * 200})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 16 and len(junk.headers["x-request-id"]) == 16


def test_health_reports_the_scorer():
    with TestClient(create_app(load_scorer("dummy", value=0.3), name="dummy", max_batch_items=8)) as client:
        assert client.get("/health").json() == {"status": "ok", "scorer": "dummy", "max_batch_items": 8, "queue_items": 0}


def test_the_scorer_thread_is_not_the_event_loop():
    """While a slow batch runs, /health answers (the scorer runs in a worker thread)."""
    scorer = Gate()
    app = create_app(scorer, max_wait_ms=0)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            pending = asyncio.ensure_future(client.post("/score", json={"items": _items(1)}))
            await asyncio.to_thread(scorer.entered.wait, 5)
            health = await client.get("/health")
            scorer.release.set()
            return health, await pending

    health, done = asyncio.run(scenario())
    assert health.status_code == done.status_code == 200
