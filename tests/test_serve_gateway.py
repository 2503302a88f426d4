"""The search gateway (``/v1/...`` of ``prmkit serve --policy``): the official openai client, prmkit's own
openai generator against it, bad input and failing policies, and answers equal to in-process search."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient

from prmkit.generation import load_generator
from prmkit.models import load_scorer
from prmkit.search import SearchConfig, run_search
from prmkit.serve.app import create_app
from prmkit.serve.config import GatewayConfig
from prmkit.serve.policy_batching import BatchingGenerator
from prmkit.serve.prompts import request_problem
from prmkit.serve.search_service import build_gateway
from prmkit.tasks.arith import ArithTask, resolve_policy
from prmkit.types import Completion
from tests._fake_world import CountTask, ExactScorer, SlipGenerator
from tests._serve import ERROR_KEYS, LiveServer, free_port, post_concurrently, start_cli_server

pytestmark = pytest.mark.usefixtures("one_thread")

KEY = {"Authorization": "Bearer k"}
MODEL = "arith"


@pytest.fixture(scope="module")
def arith():
    return ArithTask()


@pytest.fixture(scope="module")
def policy():
    return load_generator("transformers", model=resolve_policy("demo"), progress=False)


@pytest.fixture(scope="module")
def live(policy, arith):
    """The gateway on the shipped arith policy with the exact oracle, on 127.0.0.1, behind an API key."""
    service = build_gateway(policy, task=arith, config=GatewayConfig(model_name=MODEL, max_n=16, max_tokens=256))
    with LiveServer(create_app(load_scorer("arith-oracle"), gateway=service, chunk_ms=0, api_key="k")) as server:
        yield server


def _chat(question: str, **extra):
    return {"model": MODEL, "messages": [{"role": "user", "content": question}], **extra}


def _error(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    return body["error"]


def _same_search(answer: dict, result) -> None:
    """A gateway ``search`` report and an in-process SearchResult hold the same candidates and choice."""
    got = [(c["steps"], c["scores"], c["answer"], c["num_tokens"]) for c in answer["candidates"]]
    assert got == [(c.steps, c.scores, c.answer, c.num_tokens) for c in result.candidates]
    assert answer["chosen"] == result.chosen


# -- (a) the official openai client ------------------------------------------------------------------


def test_the_openai_client_gets_a_searched_answer_with_the_search_extension(live, arith):
    from openai import OpenAI

    client = OpenAI(base_url=f"{live.url}/v1", api_key="k", max_retries=0, timeout=60)
    question = arith.problems("test")[0].question
    response = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": question}],
        extra_body={"search": {"method": "best_of_n", "n": 4, "select": "weighted"}},
    )
    search = response.model_extra["search"]
    assert search["method"] == "best_of_n" and search["config"]["selection"] == "weighted" and search["config"]["n"] == 4
    assert len(search["candidates"]) == 4 and search["wall_seconds"] > 0
    chosen = search["candidates"][search["chosen"]]
    assert response.choices[0].message.content == "\n".join(chosen["steps"]) and search["answer"] == chosen["answer"]
    assert response.choices[0].finish_reason == ("stop" if chosen["finished"] else "length")
    # the weighted vote: no other answer's summed (min-aggregated) score beats the chosen one's
    totals: dict = {}
    for candidate in search["candidates"]:
        if candidate["answer"] is not None:
            totals[candidate["answer"]] = totals.get(candidate["answer"], 0.0) + candidate["score"]
    assert totals[chosen["answer"]] == max(totals.values())
    usage = response.usage
    assert usage.completion_tokens == sum(c["num_tokens"] for c in search["candidates"]) == search["budget"]["policy_tokens"]
    assert usage.prompt_tokens == len(question) + 1  # the shipped policy's tokenizer is one token per character
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert [m.id for m in client.models.list().data] == [MODEL]
    metrics = httpx.get(f"{live.url}/metrics", headers=KEY, timeout=10).text  # the gateway's requests are counted
    assert 'prmkit_requests_total{route="/v1/chat/completions",status="200"}' in metrics
    assert 'prmkit_searches_total{method="best_of_n"}' in metrics and "prmkit_policy_batch_sequences_count" in metrics


def test_the_openai_client_sees_one_clear_message_for_a_bad_request(live, arith):
    import openai

    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key="k", max_retries=0, timeout=30)
    with pytest.raises(openai.BadRequestError, match="is not a search method; choose one of beam, best_of_n"):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Q 1 +2"}],
                                       extra_body={"search": {"method": "bon"}})
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{live.url}/v1", api_key="wrong", max_retries=0).models.list()


# -- (b) prmkit's openai generator against the gateway's /v1/completions --------------------------------


def test_the_openai_generator_against_the_gateway_gets_the_policy_s_own_samples(live, policy, arith):
    remote = load_generator("openai", base_url=live.url, model=MODEL, api_key="k", backoff=0.0)
    prompt = arith.prompt(arith.problems("test")[2])
    settings = {"n": 4, "stop": ["\n"], "max_new_tokens": 32, "temperature": 1.0, "seed": 11}
    got, want = remote.complete([prompt], **settings), policy.complete([prompt], **settings)
    assert [(c.text, c.finish_reason) for c in got[0]] == [(c.text, c.finish_reason) for c in want[0]]
    assert all(c.text.endswith("\n") for c in got[0])  # a step, its stop string kept (include_stop_str_in_output)
    assert sum(c.num_tokens for c in got[0]) == sum(c.num_tokens for c in want[0])  # the server's usage
    # whole solutions of two prompts at once (two concurrent HTTP requests): EOS is told from a stop string
    rows = remote.complete([prompt, arith.prompt(arith.problems("test")[3])], n=2, max_new_tokens=96, temperature=0.8, seed=3)
    assert [len(row) for row in rows] == [2, 2]
    assert {c.finish_reason for row in rows for c in row} <= {"eos", "length"}
    assert all(c.num_tokens > 0 for row in rows for c in row)


def test_completions_with_a_search_object_search_the_raw_prompt(live, arith):
    question = arith.problems("test")[4].question
    search = {"method": "dvts", "n": 4}
    chat = httpx.post(f"{live.url}/v1/chat/completions", json=_chat(question, search=search), headers=KEY, timeout=60).json()
    raw = httpx.post(f"{live.url}/v1/completions", headers=KEY, timeout=60,
                     json={"model": MODEL, "prompt": arith.prompt(request_problem(question)), "search": search}).json()
    assert raw["object"] == "text_completion" and raw["choices"][0]["text"] == chat["choices"][0]["message"]["content"]
    assert raw["search"][0]["candidates"] == chat["search"]["candidates"]
    assert raw["usage"]["completion_tokens"] == chat["usage"]["completion_tokens"]


# -- (c) bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status", "code", "words"),
    [
        ({"search": {"method": "bogus"}}, 400, "unknown_method", "choose one of beam, best_of_n, dvts"),
        ({"search": {"n": 17}}, 400, "over_cap", "search.n = 17 is over this server's cap of 16"),
        ({"max_tokens": 5000}, 400, "over_cap", "max_tokens = 5000 is over this server's cap of 256"),
        ({"messages": []}, 400, "invalid_request", "messages is empty"),
        ({"messages": [{"role": "system", "content": "be nice"}]}, 400, "invalid_request", "no user message"),
        ({"messages": [{"role": "user", "content": "  "}]}, 400, "invalid_request", "is blank"),
        ({"search": {"method": "dvts", "n": 6}}, 400, "invalid_search", "multiple of beam_width"),
        ({"search": {"select": "vote"}}, 400, "invalid_search", "selection 'vote' is not one of"),
        ({"search": {"nn": 4}}, 422, "validation_error", "search.nn: Extra inputs are not permitted"),
        ({"n": 3}, 400, "invalid_request", "search.n"),
        ({"stream": True}, 400, "invalid_request", "not supported"),
        ({"model": "gpt-4o"}, 404, "model_not_found", "this server serves 'arith'"),
    ],
)
def test_bad_chat_requests_get_one_clear_4xx(live, change, status, code, words):
    response = httpx.post(f"{live.url}/v1/chat/completions", json={**_chat("Q 1 +2"), **change}, headers=KEY, timeout=30)
    error = _error(response)
    assert (response.status_code, error["code"]) == (status, code) and words in error["message"], error


def test_bad_completions_requests_get_one_clear_4xx(live):
    cases = [
        ({"prompt": ""}, 400, "prompt is empty"),
        ({"prompt": "Q 1 +2\n", "n": 17}, 400, "n = 17 is over this server's cap of 16"),
        ({"prompt": "Q 1 +2\n", "max_tokens": 257}, 400, "cap of 256"),
        ({"prompt": ["Q 1 +2\n"] * 65}, 400, "prompt = 65 is over this server's cap of 64"),
        ({"prompt": "Q 1 +2\n", "search": {"method": "best_of_n"}, "n": 2}, 400, "one answer per prompt"),
    ]
    for change, status, words in cases:
        response = httpx.post(f"{live.url}/v1/completions", json={"model": MODEL, **change}, headers=KEY, timeout=30)
        assert response.status_code == status and words in _error(response)["message"], response.text


class _Failing(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        data = json.dumps({"error": {"message": "CUDA out of memory"}}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _gateway_on(policy_url: str, **config) -> TestClient:
    remote = load_generator("openai", base_url=policy_url, model="m", timeout=1.0, max_retries=1, backoff=0.0)
    service = build_gateway(remote, task=ArithTask(), config=GatewayConfig(model_name=MODEL))
    return TestClient(create_app(load_scorer("arith-oracle"), gateway=service, **config))


def _timed_chat(client: TestClient) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.post("/v1/chat/completions", json=_chat("Q 1 +2", search={"n": 2}))
    return response, time.monotonic() - started


def test_a_policy_server_that_is_down_answers_503_with_the_cause():
    with _gateway_on(f"http://127.0.0.1:{free_port()}") as client:
        response, seconds = _timed_chat(client)
    error = _error(response)
    assert response.status_code == 503 and error["code"] == "policy_unavailable"
    assert "cannot reach the policy server" in error["message"] and "after 2 tries" in error["message"]
    assert seconds < 10 and response.headers["retry-after"]


def test_a_policy_server_answering_500_gives_503_not_500():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with _gateway_on(f"http://127.0.0.1:{httpd.server_address[1]}") as client:
            response, seconds = _timed_chat(client)
    finally:
        httpd.shutdown()
        httpd.server_close()
    error = _error(response)
    assert response.status_code == 503 and "answered 500" in error["message"] and "CUDA out of memory" in error["message"]
    assert seconds < 10


def test_a_policy_server_that_never_answers_is_a_bounded_503():
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        with _gateway_on(f"http://127.0.0.1:{silent.getsockname()[1]}") as client:
            response, seconds = _timed_chat(client)
    assert response.status_code == 503 and "ReadTimeout" in _error(response)["message"]
    assert seconds < 10  # 2 tries x 1 s timeout


_SOLUTION = Completion("1+1=2\n2+1=3\nThe answer is 3.", 12, "eos")  # of CountTask's "Q 1 2"


class _Slow:
    """A policy whose first call takes ``seconds``; counts calls."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.calls = seconds, 0
        self.release = threading.Event()

    def complete(self, prompts, *, n=1, **kwargs):
        self.calls += 1
        self.release.wait(self.seconds)
        return [[_SOLUTION] * n for _ in prompts]


class _Counting:
    def __init__(self) -> None:
        self.calls = 0

    def score(self, items):
        self.calls += 1
        return [[1.0] * len(s) for _, s in items]


def test_past_the_deadline_504_and_the_search_stops_before_its_next_call():
    slow, scorer = _Slow(2.0), _Counting()
    service = build_gateway(slow, task=CountTask(), config=GatewayConfig(model_name=MODEL))
    with TestClient(create_app(scorer, gateway=service, request_timeout_s=0.3)) as client:
        started = time.monotonic()
        response = client.post("/v1/chat/completions", json=_chat("Q 1 2", search={"n": 2}))
        seconds = time.monotonic() - started
        slow.release.set()
        time.sleep(0.3)  # the search thread wakes up and must not go on to score
    assert response.status_code == 504 and _error(response)["code"] == "deadline_exceeded" and seconds < 1.5
    assert slow.calls == 1 and scorer.calls == 0


def test_too_many_searches_at_once_get_503_queue_full():
    slow = _Slow(5.0)
    service = build_gateway(slow, task=CountTask(), config=GatewayConfig(model_name=MODEL, max_searches=1, max_pending_searches=1))
    app = create_app(ExactScorer(), gateway=service)

    async def both():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            first = asyncio.ensure_future(client.post("/v1/chat/completions", json=_chat("Q 1 2")))
            while service.pending == 0:
                await asyncio.sleep(0.01)
            second = await client.post("/v1/chat/completions", json=_chat("Q 1 2"))
            slow.release.set()
            return await first, second

    first, second = asyncio.run(both())
    assert first.status_code == 200
    assert second.status_code == 503 and _error(second)["code"] == "queue_full" and second.headers["retry-after"] == "1"


# -- (d) the gateway's answer is the in-process search's ------------------------------------------------


@pytest.mark.parametrize("method", ["best_of_n", "dvts", "particle_filtering"])
def test_the_gateway_answer_equals_in_process_search_for_the_same_seed(live, policy, arith, method):
    question = arith.problems("test")[1].question
    body = _chat(question, seed=7, search={"method": method, "n": 4, "select": "weighted"})
    answer = httpx.post(f"{live.url}/v1/chat/completions", json=body, headers=KEY, timeout=60).json()
    config = SearchConfig(n=4, seed=7, selection="weighted")
    (result,) = run_search(method, arith, policy, load_scorer("arith-oracle"), [request_problem(question)], config)
    _same_search(answer["search"], result)
    assert answer["usage"]["completion_tokens"] == result.budget["policy_tokens"]
    assert answer["choices"][0]["message"]["content"] == "\n".join(result.candidates[result.chosen].steps)


def test_with_a_likelihood_prm_the_answer_and_its_prm_tokens_equal_in_process(tmp_path, policy, arith):
    from tests._tiny_train import make_arith_base

    prm = load_scorer("likelihood", path=str(make_arith_base(tmp_path / "lm")), progress=False)
    service = build_gateway(policy, task=arith, config=GatewayConfig(model_name=MODEL))
    question = arith.problems("test")[5].question
    with TestClient(create_app(prm, gateway=service, chunk_ms=0)) as client:
        answer = client.post("/v1/chat/completions", json=_chat(question, search={"method": "best_of_n", "n": 4})).json()
    (result,) = run_search("best_of_n", arith, policy, prm, [request_problem(question)], SearchConfig(n=4))
    _same_search(answer["search"], result)
    assert answer["usage"]["prm_tokens"] == result.budget["prm_tokens"] > 0
    assert answer["usage"]["total_tokens"] == sum(answer["usage"][k] for k in ("prompt_tokens", "completion_tokens", "prm_tokens"))


# -- shared batches -------------------------------------------------------------------------------------


def test_concurrent_requests_share_policy_batches_and_keep_their_own_answers():
    """8 concurrent searches: far fewer policy calls than 8 alone would make; each answer is its own problem's."""
    task, inner = CountTask(), SlipGenerator(0.3)  # samples depend on (seed, prompt, j) only: batching cannot change them
    service = build_gateway(inner, task=task, config=GatewayConfig(model_name=MODEL, policy_max_wait_ms=50))
    problems = task.problems(count=8)
    bodies = [_chat(p.question, search={"method": "dvts", "n": 4, "beam_width": 2}) for p in problems]
    answers = asyncio.run(post_concurrently(create_app(ExactScorer(), gateway=service), bodies, path="/v1/chat/completions"))
    alone = SlipGenerator(0.3)
    for problem, answer in zip(problems, answers):
        assert answer.status_code == 200, answer.text
        config = SearchConfig(n=4, beam_width=2)
        (result,) = run_search("dvts", task, alone, ExactScorer(), [request_problem(problem.question)], config)
        _same_search(answer.json()["search"], result)
    assert service.policy.merged == len(alone.calls)  # every request's call was served ...
    assert len(inner.calls) < len(alone.calls) / 2  # ... in shared batches


def test_the_batcher_merges_same_settings_passes_a_lone_call_through_and_fails_only_its_group():
    class Inner:
        def __init__(self):
            self.calls = []

        def complete(self, prompts, **kwargs):
            self.calls.append((list(prompts), kwargs))
            if "boom" in prompts:
                raise RuntimeError("policy broke")
            return [[f"{p}/{kwargs['n']}"] * kwargs["n"] for p in prompts]

    inner = Inner()
    shared = BatchingGenerator(inner, max_wait_ms=200)
    assert shared.complete(["solo"], n=1) == [["solo/1"]] and inner.calls == [(["solo"], {"n": 1})]
    inner.calls.clear()
    out, errors = {}, {}

    def call(name, prompts, n):
        try:
            out[name] = shared.complete(prompts, n=n)
        except RuntimeError as err:
            errors[name] = str(err)

    threads = [threading.Thread(target=call, args=args) for args in
               [("a", ["a1", "a2"], 2), ("b", ["b1"], 2), ("c", ["c1"], 3), ("d", ["boom"], 3)]]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join(10)
    assert out == {"a": [["a1/2"] * 2, ["a2/2"] * 2], "b": [["b1/2"] * 2]}
    assert errors == {"c": "policy broke", "d": "policy broke"}
    assert sorted(tuple(p) for p, _ in inner.calls) == [("a1", "a2", "b1"), ("c1", "boom")]
    shared.close()


# -- prompts ------------------------------------------------------------------------------------------


def test_a_chat_policy_reads_its_chat_template_and_the_prm_the_last_user_message(tmp_path):
    from tests._tiny_train import make_tokenizer

    tokenizer = make_tokenizer(tmp_path)
    tokenizer.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}<assistant>"

    class Recording:
        def __init__(self):
            self.prompts = []

        def complete(self, prompts, *, n=1, **kwargs):
            self.prompts += list(prompts)
            return [[Completion("1+1=2\nThe answer is 2.", 9, "eos")] * n for _ in prompts]

    class Questions:
        def __init__(self):
            self.questions = []

        def score(self, items):
            self.questions += [q for q, _ in items]
            return [[0.5] * len(s) for _, s in items]

    gen, prm = Recording(), Questions()
    service = build_gateway(gen, tokenizer=tokenizer, config=GatewayConfig(model_name=MODEL), step_separator="\n")
    messages = [{"role": "system", "content": "be exact"}, {"role": "user", "content": "Q 1 1"}]
    with TestClient(create_app(prm, gateway=service)) as client:
        response = client.post("/v1/chat/completions", json={"model": MODEL, "messages": messages, "search": {"n": 2}})
    assert response.status_code == 200, response.text
    assert gen.prompts == ["<system>be exact\n<user>Q 1 1\n<assistant>"] and set(prm.questions) == {"Q 1 1"}
    assert response.json()["choices"][0]["message"]["content"].startswith("1+1=2")
    with pytest.raises(ValueError, match="has no chat template"):
        build_gateway(gen, tokenizer=make_tokenizer(tmp_path / "plain"))


# -- the CLI ------------------------------------------------------------------------------------------


def test_the_cli_builds_the_gateway_from_its_flags(monkeypatch):
    from typer.testing import CliRunner

    import prmkit.serve.app as serve_app
    from prmkit.cli import app

    seen = {}
    monkeypatch.setattr(serve_app, "run_server", lambda scorer, config, **kw: seen.update(scorer=scorer, config=config, **kw))
    result = CliRunner().invoke(app, ["serve", "--policy", "demo", "--prm", "arith-oracle", "--search-method", "dvts",
                                      "--search-n", "8", "--search-option", "beam_width=2", "--max-search-n", "32"])
    assert result.exit_code == 0, result.output
    gateway = seen["gateway"]
    assert gateway.config.model_name == "prmkit-arith-demo" and gateway.config.method == "dvts" and gateway.config.max_n == 32
    assert gateway.config.search.n == 8 and gateway.config.search.beam_width == 2 and gateway.task.name == "arith"
    assert seen["config"].name == "arith-oracle"
    for argv, words in [
        (["--policy", "demo"], "which scorer?"),
        (["--policy-url", "http://127.0.0.1:9", "--prm", "arith-oracle"], "--task NAME"),
        (["--policy-url", "http://127.0.0.1:9", "--task", "arith", "--prm", "arith-oracle"], "--policy-model"),
        (["--policy", "demo", "--prm", "arith-oracle", "--search-method", "bfs"], "choose one of"),
        (["--policy", "demo", "--prm", "arith-oracle", "--model", "dummy"], "not both"),
        (["--policy", "demo", "--prm", "arith-oracle", "--search-method", "dvts", "--search-n", "6"], "multiple of beam_width"),
    ]:
        refused = CliRunner().invoke(app, ["serve", *argv])
        assert refused.exit_code == 2 and words in refused.output, (argv, refused.output)


def test_the_help_gateway_curl_example_works_against_the_cli_server():
    """`prmkit serve --policy demo --prm arith-oracle` as a process, asked with the curl line of its --help."""
    import shlex

    from prmkit.cli.serve import HELP

    line = [part for part in HELP.split("\n\n") if part.strip().startswith("curl")][-1].replace("\\[", "[")
    argv = shlex.split(line)
    proc, port = start_cli_server("--policy", "demo", "--prm", "arith-oracle", timeout=60)
    try:
        headers = dict(argv[i + 1].split(": ", 1) for i, a in enumerate(argv) if a == "-H")
        url = argv[-1].replace("8000", str(port))
        response = httpx.post(url, content=argv[argv.index("-d") + 1].encode(), headers=headers, timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["search"]["method"] == "dvts" and len(body["search"]["candidates"]) >= 1
    assert "The answer is" in body["choices"][0]["message"]["content"]
