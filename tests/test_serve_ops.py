"""prmkit serve in operation: auth, Host check, /metrics, disconnects, timeouts, the CLI and SIGTERM."""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from prmkit.cli.serve import HELP
from prmkit.models import load_scorer
from prmkit.models.backends.http import HTTPScorer, HTTPScorerError
from prmkit.serve._uvicorn import header_timeout_protocol
from prmkit.serve.app import create_app
from tests._serve import ERROR_KEYS, LiveServer, Recorder, start_cli_server

ITEM = {"items": [{"question": "q 1", "steps": ["a", "b"]}]}


# -- auth and Host ----------------------------------------------------------------------------------


def test_api_key_is_required_on_every_route_but_the_probes():
    with TestClient(create_app(load_scorer("dummy", value=0.4), api_key="s3cret")) as client:
        missing = client.post("/score", json=ITEM)
        wrong = client.post("/score", json=ITEM, headers={"Authorization": "Bearer s3cre"})
        scheme = client.post("/score", json=ITEM, headers={"Authorization": "Basic s3cret"})
        right = client.post("/score", json=ITEM, headers={"Authorization": "Bearer s3cret"})
        metrics = client.get("/metrics")
        probes = client.get("/health"), client.get("/ready")
    for response in (missing, wrong, scheme, metrics):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized" and set(response.json()["error"]) == ERROR_KEYS
        assert response.headers["www-authenticate"] == "Bearer"
    assert right.json() == {"scores": [[0.4, 0.4]]}
    assert [p.status_code for p in probes] == [200, 200]


def test_http_scorer_sends_the_key_and_a_401_is_not_retried():
    with LiveServer(create_app(load_scorer("dummy", value=0.4), api_key="s3cret")) as live:
        assert HTTPScorer(live.url, headers={"Authorization": "Bearer s3cret"}).score([("q", ["a"])]) == [[0.4]]
        assert HTTPScorer(live.url, api_key="s3cret").score([("q", ["a"])]) == [[0.4]]
        started = time.monotonic()
        with pytest.raises(HTTPScorerError, match="status 401: missing or wrong API key") as err:
            HTTPScorer(live.url, max_retries=3, backoff=2.0).score([("q", ["a"])])
        assert err.value.status == 401 and time.monotonic() - started < 2.0  # a retry would have slept 2 s
        scraped = httpx.get(f"{live.url}/metrics", headers={"Authorization": "Bearer s3cret"}, timeout=5).text
    assert _sample(scraped, "prmkit_requests_total", route="/score", status="401") == 1


def test_the_cli_reads_the_key_from_the_environment(monkeypatch):
    from typer.testing import CliRunner

    import prmkit.serve.app as serve_app
    from prmkit.cli import app

    seen = {}
    monkeypatch.setattr(serve_app, "run_server", lambda scorer, config, **kw: seen.update(config=config, **kw))
    result = CliRunner().invoke(app, ["serve", "--model", "dummy", "--max-items", "7"], env={"PRMKIT_API_KEY": "k3y"})
    assert result.exit_code == 0, result.output
    assert seen["config"].api_key == "k3y" and seen["config"].limits.max_items == 7
    blank = CliRunner().invoke(app, ["serve", "--model", "dummy", "--api-key", " "])
    assert blank.exit_code == 2 and "blank" in blank.output


def test_allowed_hosts_refuse_other_host_headers():
    with TestClient(create_app(load_scorer("dummy"), allowed_hosts=("localhost", "*.example.org"))) as client:
        codes = {
            host: client.post("/score", json=ITEM, headers={"Host": host}).status_code
            for host in ("localhost:8000", "a.example.org", "evil.com", "example.org.evil.com")
        }
        refused = client.get("/health", headers={"Host": "evil.com"})
    assert codes == {"localhost:8000": 200, "a.example.org": 200, "evil.com": 400, "example.org.evil.com": 400}
    assert refused.json()["error"]["code"] == "invalid_host"


# -- metrics -----------------------------------------------------------------------------------------


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"no sample {name}{labels} in /metrics")


def test_metrics_scrape_counts_requests_items_batches_and_errors():
    with TestClient(create_app(load_scorer("dummy"), max_wait_ms=0)) as client:
        for _ in range(3):
            client.post("/score", json=ITEM)
        client.post("/score", json={"items": [{"question": "q", "steps": [" "]}]})
        client.get("/nowhere/123")
        response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _sample(text, "prmkit_requests_total", route="/score", status="200") == 3
    assert _sample(text, "prmkit_requests_total", route="other", status="404") == 1  # raw paths never become labels
    assert _sample(text, "prmkit_errors_total", code="blank_step") == 1
    assert _sample(text, "prmkit_items_total") == 3
    assert _sample(text, "prmkit_batch_items_count") == 3 and _sample(text, "prmkit_batch_items_sum") == 3
    assert _sample(text, "prmkit_request_seconds_count", route="/score") == 4
    assert _sample(text, "prmkit_queue_items") == 0


# -- disconnects and timeouts on a real server --------------------------------------------------------


def test_a_client_that_disconnects_stops_its_work_within_a_batch():
    scorer = Recorder(delay=0.1)
    with LiveServer(create_app(scorer, max_wait_ms=0, max_batch_items=4)) as live:
        body = {"items": [{"question": f"q {i}", "steps": ["s"]} for i in range(200)]}  # 50 batches, ~5 s
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{live.url}/score", json=body, timeout=0.35)
        time.sleep(0.6)
        scored = sum(len(b) for b in scorer.batches)
        time.sleep(0.3)
        assert sum(len(b) for b in scorer.batches) == scored  # nothing more is being scored
    assert scored <= 4 * 9  # ~0.35 s of batches plus the one in flight when the disconnect was seen


def test_a_half_sent_request_head_is_closed_after_the_header_timeout():
    app = create_app(load_scorer("dummy"))
    with LiveServer(app, http=header_timeout_protocol(0.3)) as live:
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
            sock.sendall(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server
            waited = time.monotonic() - started
        assert httpx.post(f"{live.url}/score", json=ITEM, timeout=5).status_code == 200  # normal requests unaffected
    assert 0.2 < waited < 3


def test_an_idle_keep_alive_connection_outlives_the_header_timeout():
    """The head clock runs only while a head arrives; idle pooled connections are keep-alive's to close."""
    request = (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 46\r\n\r\n"
        b'{"items": [{"question": "q", "steps": ["a"]}]}'
    )
    with LiveServer(create_app(load_scorer("dummy")), http=header_timeout_protocol(0.3), timeout_keep_alive=5) as live:
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
            sock.sendall(request)
            first = _read_response(sock)
            time.sleep(0.8)  # idle for longer than the head timeout
            sock.sendall(request)
            second = _read_response(sock)
    assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200"), (first[:40], second[:40])


def _read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response (head + Content-Length body); b"" when the server closed the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(rest) < length:
        rest += sock.recv(4096)
    return head + b"\r\n\r\n" + rest


def _raw_post(port: int, length: int, body: bytes, *, content_type: str = "application/json") -> tuple[bytes, float]:
    """Send a request head declaring ``length`` bytes and ``body``; return the first reply bytes and the wait."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = f"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
        sock.sendall(head.encode() + body)
        reply = sock.recv(4096)
        seconds = time.monotonic() - started
        while chunk := sock.recv(4096):  # the server closes the connection after a 413
            reply += chunk
    return reply, seconds


def test_a_20_mb_body_is_refused_from_its_length_in_well_under_a_second():
    with LiveServer(create_app(load_scorer("dummy"))) as live:
        reply, seconds = _raw_post(live.port, 20 * 2**20, b"{" * 65536)
    assert reply.startswith(b"HTTP/1.1 413") and b"payload_too_large" in reply
    assert seconds < 1.0


# -- the CLI -----------------------------------------------------------------------------------------


def _start_cli(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    return start_cli_server("--model", "dummy", *args, env=env)


def test_the_help_curl_example_works_against_the_cli_server():
    """The curl line in `prmkit serve --help`, sent as written (JSON content type), gets scores."""
    line = next(part for part in HELP.split("\n\n") if part.strip().startswith("curl")).replace("\\[", "[")
    argv = shlex.split(line)
    headers = dict(argv[i + 1].split(": ", 1) for i, a in enumerate(argv) if a == "-H")
    data = argv[argv.index("-d") + 1]
    proc, port = _start_cli("--option", "value=0.6", "--max-batch-items", "4")
    try:
        url = argv[-1].replace("8000", str(port))
        response = httpx.post(url, content=data.encode(), headers=headers, timeout=5)
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert response.status_code == 200 and response.json() == {"scores": [[0.6]]}
    assert health["max_batch_items"] == 4


def test_cli_serve_refuses_unknown_scorer_before_binding():
    from typer.testing import CliRunner

    from prmkit.cli import app

    result = CliRunner().invoke(app, ["serve", "--model", "dumm"])
    assert result.exit_code == 2
    assert "Did you mean: dummy" in result.output


@pytest.mark.slow
def test_sigterm_with_a_stalled_upload_exits_within_the_drain_limit():
    """A client declares 1 MB and sends 10 bytes; SIGTERM must not wait for it beyond --drain-s."""
    proc, port = _start_cli("--drain-s", "1", "--body-timeout-s", "60")
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"items\":")
        ok = httpx.post(f"http://127.0.0.1:{port}/score", json=ITEM, timeout=5)  # others are still served
        time.sleep(0.2)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        waited = time.monotonic() - started
    finally:
        sock.close()
        if proc.poll() is None:
            proc.kill()
    assert ok.status_code == 200
    assert waited < 1 + 2.5, f"exit took {waited:.1f} s with a 1 s drain limit"


def test_verl_uses_a_served_prm_through_compute_score_and_the_http_scorer():
    """verl has no HTTP reward contract; its compute_score hook reaches the server through HTTPScorer."""
    from prmkit.rl.verl import make_compute_score

    with LiveServer(create_app(load_scorer("dummy", value=0.7), api_key="k")) as live:
        compute_score = make_compute_score(HTTPScorer(live.url, api_key="k"), verifiable_coef=1.0)
        got = compute_score("gsm8k", "1+1=2\n\nThe answer is 2", "2", {"question": "1+1?"})
    assert got["prm"] == pytest.approx(0.7) and got["acc"] == 1.0 and got["score"] == pytest.approx(1.7)
