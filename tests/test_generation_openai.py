"""The openai generator over a real HTTP round trip to a small local /v1/completions server (no client mocks)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prmkit.generation import load_generator
from prmkit.generation.openai import PolicyServerError
from tests._serve import free_port


class _Handler(BaseHTTPRequestHandler):
    """Answers like vLLM: choices by index, stop_reason, usage; ``fail`` scripts error answers."""

    fail: list[int] = []
    bodies: list[dict] = []

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append({**body, "auth": self.headers.get("Authorization")})
        if type(self).fail:
            status = type(self).fail.pop(0)
            self._send(status, {"error": {"message": f"scripted {status}"}})
            return
        choices = []
        for j in range(body["n"]):
            if j % 2 == 0:  # hits the stop string (included in the output, as requested)
                choices.append({"index": j, "text": f"{body['prompt']}{j}\n", "finish_reason": "stop", "stop_reason": "\n"})
            else:  # EOS
                choices.append({"index": j, "text": f"end{j}", "finish_reason": "stop", "stop_reason": None})
        self._send(200, {"choices": choices[::-1], "usage": {"completion_tokens": 7 * body["n"]}})

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def server():
    _Handler.fail, _Handler.bodies = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_round_trip_order_stop_eos_and_usage(server):
    gen = load_generator("openai", base_url=server, model="tiny", api_key="k", backoff=0.0)
    rows = gen.complete(["a", "b", "c"], n=3, stop=["\n"], max_new_tokens=5, temperature=0.7, seed=3)
    assert [[c.text for c in row] for row in rows] == [[f"{p}0\n", "end1", f"{p}2\n"] for p in "abc"]
    assert [c.finish_reason for c in rows[0]] == ["stop", "eos", "stop"]
    assert all(sum(c.num_tokens for c in row) == 21 for row in rows)  # the server's usage, split exactly
    sent = _Handler.bodies[0]
    assert sent["n"] == 3 and sent["stop"] == ["\n"] and sent["seed"] == 3 and sent["max_tokens"] == 5
    assert sent["auth"] == "Bearer k" and len(_Handler.bodies) == 3  # one request per prompt


def test_5xx_is_retried_4xx_is_not(server):
    gen = load_generator("openai", base_url=server + "/v1", model="tiny", backoff=0.0, max_retries=2)
    _Handler.fail = [500, 503]
    assert gen.complete(["x"], n=1, stop=["\n"])[0][0].text == "x0\n"
    _Handler.fail = [400]
    with pytest.raises(PolicyServerError, match="answered 400.*not retried"):
        gen.complete(["x"], n=1)
    _Handler.fail = [500, 500, 500]
    with pytest.raises(PolicyServerError, match="after 3 tries"):
        gen.complete(["x"], n=1)


def test_a_server_that_is_down_is_a_clear_error_not_a_hang():
    gen = load_generator("openai", base_url=f"http://127.0.0.1:{free_port()}", model="m", backoff=0.0, max_retries=1, timeout=2)
    with pytest.raises(PolicyServerError, match="cannot reach the policy server"):
        gen.complete(["x"], n=1)
