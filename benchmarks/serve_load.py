"""`prmkit serve` under load and abuse, on 127.0.0.1 only, measured side by side in one run.

The server is the real CLI (``prmkit serve --model token-cls``) in a child process, serving a tiny
random-weight token-classification PRM with the real Qwen2.5 tokenizer (``tests/_tiny_models.py``:
2 layers, hidden 32) on CPU, with the default limits; requests are real ProcessBench
(question, steps) items. Every phase is bounded in requests and in time, and the server is stopped
at the end (by SIGTERM while an upload is stalled, which is itself measured).

Phases and the issue's targets (#11):

1. Throughput: 1, 8 and 32 concurrent clients (1 item per request) vs the sequential client
   (1 client); items/s, p50/p99 latency and mean items per scorer call (from ``/metrics``); the
   best of ``--repeats`` interleaved runs per level.
2. Fairness: median 1-item latency while a maximum-size request (``--max-items`` items) is being
   scored, as a ratio to its unloaded median.                              target <= 10x
3. Disconnect: a client sends a 1,024-item request and leaves after 0.3 s; items scored afterwards.
4. Bad-input barrage: >= 1,000 requests of the kinds in the issue (oversized item counts, steps,
   characters, tokens, lone surrogates, bad JSON, wrong schema, no JSON content type, missing or
   wrong key, 20 MB declared bodies); status-code tally, 5xx count, ``/health`` after, server RSS
   before/after.                                      targets: 0 x 5xx, healthy, RSS growth < 50 MB
5. A 20 MB body -> 413: seconds to the answer while the client is still uploading.  target < 1 s
6. Poisoned items: 8 clients, every 10th request holds one over-length item; throughput of the
   clean requests vs the same run without poison (medians of ``--repeats`` interleaved runs).
                                                                          target: cost < 10 %
7. Half-sent headers: 200 connections that never finish their request head; how many the server
   has closed after ``--header-timeout-s`` + 1 s.
8. SIGTERM with a stalled upload (Content-Length larger than sent): seconds to exit vs ``--drain-s``.

Usage (about 6-10 minutes on a busy 2-core CPU; ``--quick`` for a 1.5-minute smoke run):

    python benchmarks/serve_load.py
    python benchmarks/serve_load.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROCESSBENCH = Path("/work/shared/data/processbench")
KEY = "bench-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MAX_POSITIONS = 1024  # the tiny PRM's max_length: over-length items are easy to make
TRANSPORT_ERRORS: list[str] = []  # requests that got no HTTP answer at all (printed at the end)


def load_items(count: int, seed: int) -> list[tuple[str, list[str]]]:
    """ProcessBench items short enough for the tiny PRM (<= 2,000 characters in all)."""
    pool = []
    for name in ("gsm8k", "math"):
        for record in json.loads((PROCESSBENCH / f"{name}.json").read_text()):
            steps = [s for s in record["steps"] if s.strip()]
            if steps and len(record["problem"]) + sum(map(len, steps)) <= 2000:
                pool.append((record["problem"], steps))
    random.Random(seed).shuffle(pool)
    return [pool[i % len(pool)] for i in range(count)]


def body(items: list[tuple[str, list[str]]]) -> dict[str, Any]:
    return {"items": [{"question": q, "steps": s} for q, s in items]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Server:
    """``prmkit serve`` in a child process on 127.0.0.1 with the bench key."""

    def __init__(self, checkpoint: str, args: argparse.Namespace) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        command = [
            sys.executable, "-m", "prmkit.cli", "serve", "--model", "token-cls", "--path", checkpoint,
            "--port", str(self.port), "--api-key", KEY, "--option", "device=\"cpu\"", "--option", "progress=false",
            "--max-items", str(args.max_items), "--header-timeout-s", str(args.header_timeout_s),
            "--drain-s", str(args.drain_s), *(["--chunk-items", str(args.chunk_items)] if args.chunk_items else []),
            *(["--chunk-ms", str(args.chunk_ms)] if args.chunk_ms is not None else []),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.setdefault("OMP_NUM_THREADS", "1")  # on a shared 2-core CPU more torch threads only fight
        self.log = tempfile.NamedTemporaryFile(prefix="prmkit-serve-load-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def wait_up(self, timeout: float = 120) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"server exited: {self.log.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not come up")

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def metric(self, name: str) -> float:
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"{self.url}/metrics", headers=AUTH, timeout=10).text
        return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


# -- 1. throughput --------------------------------------------------------------------------------


async def run_clients(url: str, clients: int, requests: list[dict], time_limit: float) -> tuple[float, list[float], Counter]:
    """``clients`` workers send ``requests`` (each one after the other); wall seconds, latencies, statuses."""
    import httpx

    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors = TRANSPORT_ERRORS
    deadline = time.monotonic() + time_limit
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while queue and time.monotonic() < deadline:
                payload = queue.pop()
                started = time.perf_counter()
                try:
                    response = await client.post("/score", json=payload)
                except httpx.TransportError as err:  # counted as "no answer" (status 0), never hidden
                    statuses[0] += 1
                    errors.append(f"{type(err).__name__}: {err}")
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - started, latencies, statuses


def phase_throughput(server: Server, items: list, args: argparse.Namespace, out: list) -> None:
    """Each level run ``--repeats`` times, interleaved (1, 8, 32, 1, 8, 32, ...); the best run of each is kept."""
    best: dict[int, tuple] = {}
    for _ in range(args.repeats):
        for clients in (1, 8, 32):
            count = args.requests if clients > 1 else args.requests // 2
            sum0, calls0 = server.metric("prmkit_batch_items_sum"), server.metric("prmkit_batch_items_count")
            seconds, lat, statuses = asyncio.run(run_clients(server.url, clients, [body([it]) for it in items[:count]], 120))
            calls = server.metric("prmkit_batch_items_count") - calls0
            per_call = (server.metric("prmkit_batch_items_sum") - sum0) / max(calls, 1)
            row = (len(lat) / seconds, percentile(lat, 0.5), percentile(lat, 0.99), per_call, statuses)
            if clients not in best or row[0] > best[clients][0]:
                best[clients] = row
    base = best[1][0]
    for clients, (rate, p50, p99, per_call, statuses) in best.items():
        out.append(
            f"  {clients:>2} client{'s' if clients > 1 else ' '}: {rate:7.1f} items/s ({rate / base:4.2f}x the sequential client)  "
            f"p50 {1000 * p50:6.1f} ms  p99 {1000 * p99:7.1f} ms  {per_call:5.1f} items/scorer call  status {dict(statuses)}"
        )


# -- 2. fairness, 3. disconnect --------------------------------------------------------------------


def one_item_latencies(url: str, item: tuple, count: int, stop: threading.Event | None = None) -> list[float]:
    import httpx

    out = []
    with httpx.Client(base_url=url, headers=AUTH, timeout=120) as client:
        for _ in range(count):
            if stop is not None and stop.is_set():
                break
            started = time.perf_counter()
            assert client.post("/score", json=body([item])).status_code == 200
            out.append(time.perf_counter() - started)
    return out


def phase_fairness(server: Server, items: list, args: argparse.Namespace, out: list) -> None:
    import httpx

    small = items[0]
    one_item_latencies(server.url, small, 5)  # warm
    unloaded = statistics.median(one_item_latencies(server.url, small, 30))
    big = body(items[: args.max_items])
    done = threading.Event()
    result: dict[str, Any] = {}

    def send_big() -> None:
        started = time.perf_counter()
        result["status"] = httpx.post(f"{server.url}/score", json=big, headers=AUTH, timeout=300).status_code
        result["seconds"] = time.perf_counter() - started
        done.set()

    calls = server.metric("prmkit_batch_items_count")
    thread = threading.Thread(target=send_big)
    thread.start()
    deadline = time.monotonic() + 120
    while server.metric("prmkit_batch_items_count") == calls and time.monotonic() < deadline and not done.is_set():
        time.sleep(0.02)  # measure only once the big request's chunks are being scored (not while it is checked)
    loaded = one_item_latencies(server.url, small, 1000, stop=done)
    thread.join(timeout=300)
    if not loaded:
        out.append("  the big request finished before any 1-item request could be timed")
        return
    median, p90, worst = statistics.median(loaded), percentile(loaded, 0.9), max(loaded)
    out.append(
        f"  1-item latency unloaded {1000 * unloaded:.1f} ms (median of 30); during a {len(big['items'])}-item request "
        f"({result.get('seconds', float('nan')):.1f} s, status {result.get('status')}), {len(loaded)} requests: "
        f"median {1000 * median:.1f} ms ({median / unloaded:.1f}x), p90 {1000 * p90:.1f} ms ({p90 / unloaded:.1f}x), "
        f"max {1000 * worst:.1f} ms ({worst / unloaded:.1f}x); target <= 10x: {'PASS' if worst / unloaded <= 10 else 'FAIL'} "
        "(on the max)"
    )


def phase_disconnect(server: Server, items: list, args: argparse.Namespace, out: list) -> None:
    import httpx

    big = body(items[: min(1024, args.max_items)])
    before = server.metric("prmkit_batch_items_sum")
    try:
        httpx.post(f"{server.url}/score", json=big, headers=AUTH, timeout=0.3)
        left = False
    except httpx.TimeoutException:
        left = True
    time.sleep(0.5)
    at_leave = server.metric("prmkit_batch_items_sum") - before
    time.sleep(2.0)
    after = server.metric("prmkit_batch_items_sum") - before
    out.append(
        f"  client {'left' if left else 'did not leave'} after 0.3 s of a {len(big['items'])}-item request: {at_leave:.0f} items scored by +0.5 s, "
        f"{after:.0f} by +2.5 s (was: 4,000 of 5,000 scored for a departed client)"
    )


# -- 4. bad-input barrage, 5. 20 MB body --------------------------------------------------------------


def raw_request(port: int, head: str, payload: bytes, read_timeout: float = 30) -> tuple[int, float]:
    """Send a raw request (the body in a thread, so a server that answers early is seen early)."""
    started = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)

    def upload() -> None:
        try:
            sock.sendall(head.encode() + payload)
        except OSError:  # the server answered and closed: expected for 413
            pass

    sender = threading.Thread(target=upload, daemon=True)
    sender.start()
    try:
        reply = sock.recv(64)
    finally:
        seconds = time.perf_counter() - started
        sock.close()
    status = int(reply.split()[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    return status, seconds


def barrage_kinds(items: list, max_items: int) -> list[tuple[str, dict[str, Any]]]:
    """(kind, httpx request kwargs) for every kind of bad request in the issue."""
    q, steps = items[0]
    long_tokens = [{"question": q, "steps": ["one plus one is two. " * 50] * 4}]  # ~1,000 chars/step, > 1,024 tokens
    json_hdr = {**AUTH, "Content-Type": "application/json"}
    return [
        ("too many items", {"json": body(items[: max_items + 1])}),
        ("100,000 steps", {"json": {"items": [{"question": q, "steps": ["a"] * 100_000}]}}),
        ("step over chars", {"json": {"items": [{"question": q, "steps": ["x" * 10_000]}]}}),
        ("5 MB question", {"json": {"items": [{"question": "y" * 5_000_000, "steps": steps}]}}),
        ("over max_length", {"json": {"items": long_tokens}}),
        ("lone surrogate", {"content": b'{"items": [{"question": "q", "steps": ["\\ud800"]}]}', "headers": json_hdr}),
        ("invalid UTF-8", {"content": b'{"items": [{"question": "\xff\xfe", "steps": ["a"]}]}', "headers": json_hdr}),
        ("malformed JSON", {"content": b'{"items": [', "headers": json_hdr}),
        ("wrong schema", {"json": {"items": [{"question": q}]}}),
        ("blank step", {"json": {"items": [{"question": q, "steps": [" "]}]}}),
        ("no JSON type", {"content": b"items=1", "headers": {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}}),
        ("missing key", {"json": body(items[:1]), "headers": {}}),
        ("wrong key", {"json": body(items[:1]), "headers": {"Authorization": "Bearer nope"}}),
    ]


def phase_barrage(server: Server, items: list, args: argparse.Namespace, out: list) -> None:
    import httpx

    kinds = barrage_kinds(items, args.max_items)
    # cheap kinds repeat often, the 5 MB question and the 1,025-item body less (they are big to send)
    weights = {"5 MB question": 1, "too many items": 2, "100,000 steps": 2}
    plan = [k for k in kinds for _ in range(weights.get(k[0], 10))]
    rounds = max(1, -(-args.barrage // len(plan)))
    requests = [k for _ in range(rounds) for k in plan][: max(args.barrage, len(plan))]
    random.Random(0).shuffle(requests)
    rss_before = server.rss_mb()
    tally: Counter = Counter()
    by_kind: dict[str, Counter] = {}
    started = time.perf_counter()

    async def fire() -> None:
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=60) as client:
            pending = list(requests)

            async def worker() -> None:
                while pending and time.perf_counter() - started < args.time_limit / 4:
                    kind, kwargs = pending.pop()
                    kwargs = dict(kwargs)
                    headers = kwargs.pop("headers", None)
                    if headers is not None and "Authorization" not in headers:  # "missing key": override the client's
                        headers = {**headers, "Authorization": ""}
                    response = await client.post("/score", headers=headers, **kwargs)
                    tally[response.status_code] += 1
                    by_kind.setdefault(kind, Counter())[response.status_code] += 1

            await asyncio.gather(*(worker() for _ in range(8)))

    asyncio.run(fire())
    head = f"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {20 * 2**20}\r\n\r\n"
    big_seconds = []
    for _ in range(args.big_bodies):  # 20 MB bodies, actually uploaded
        status, seconds = raw_request(server.port, head, b"[" * (20 * 2**20))
        tally[status] += 1
        by_kind.setdefault("20 MB body", Counter())[status] += 1
        big_seconds.append(seconds)
    seconds = time.perf_counter() - started
    health = httpx.get(f"{server.url}/health", timeout=10)
    ready = httpx.get(f"{server.url}/ready", timeout=10)
    ok = httpx.post(f"{server.url}/score", json=body(items[:1]), headers=AUTH, timeout=30)
    time.sleep(1.0)
    rss_after = server.rss_mb()
    fives = sum(n for status, n in tally.items() if status >= 500 or status == 0)
    total = sum(tally.values())
    out.append(f"  {total} bad requests in {seconds:.1f} s; status tally {dict(sorted(tally.items()))}")
    for kind, counts in by_kind.items():
        out.append(f"    {kind:<16} {dict(counts)}")
    out.append(
        f"  5xx (or no answer): {fives} (target 0) {'PASS' if fives == 0 else 'FAIL'}; after: /health {health.status_code}, "
        f"/ready {ready.status_code}, a good request {ok.status_code}"
    )
    growth = rss_after - rss_before
    out.append(
        f"  server RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after: {growth:+.0f} MB (target < 50 MB) "
        f"{'PASS' if growth < 50 else 'FAIL'}"
    )
    worst = max(big_seconds) if big_seconds else float("nan")
    out.append(
        f"5. 20 MB body -> 413 in {1000 * statistics.median(big_seconds):.1f} ms median, {1000 * worst:.1f} ms worst over "
        f"{len(big_seconds)} uploads (target < 1 s) {'PASS' if worst < 1 else 'FAIL'}"
    )


# -- 6. poisoned items ---------------------------------------------------------------------------------


def phase_poison(server: Server, items: list, args: argparse.Namespace, out: list) -> None:
    """Clean and poisoned runs interleaved ``--repeats`` times; items/s of the clean requests, median of each."""
    n = args.poison_requests
    clean = [body(items[4 * i : 4 * i + 4]) for i in range(n)]
    poison_item = {"question": items[0][0], "steps": ["one plus one is two. " * 50] * 4}
    poisoned = [{"items": [*r["items"][:3], poison_item]} if i % 10 == 9 else r for i, r in enumerate(clean)]
    rates: dict[str, list[float]] = {"clean": [], "poisoned": []}
    tallies: dict[str, Counter] = {"clean": Counter(), "poisoned": Counter()}
    for _ in range(args.repeats):
        for label, requests in (("clean", clean), ("poisoned", poisoned)):
            seconds, _, statuses = asyncio.run(run_clients(server.url, 8, requests, 120))
            rates[label].append(statuses.get(200, 0) * 4 / seconds)
            tallies[label].update(statuses)
    cost = 1 - statistics.median(rates["poisoned"]) / statistics.median(rates["clean"])
    out.append(
        f"  clean requests' items/s without poison {[round(r, 1) for r in rates['clean']]}, with every 10th request "
        f"poisoned {[round(r, 1) for r in rates['poisoned']]} (statuses {dict(tallies['poisoned'])}) -> cost "
        f"{100 * cost:.1f} % on the medians (target < 10 %) {'PASS' if cost < 0.10 else 'FAIL'}"
    )


# -- 7. half-sent headers, 8. SIGTERM ------------------------------------------------------------------


def phase_half_headers(server: Server, args: argparse.Namespace, out: list) -> None:
    socks = []
    for _ in range(args.half_headers):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        socks.append(sock)
    time.sleep(args.header_timeout_s + 1)
    closed = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            closed += sock.recv(16) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        sock.close()
    out.append(f"  {closed} of {len(socks)} half-sent request heads closed by the server after {args.header_timeout_s + 1:g} s")


def phase_sigterm(server: Server, args: argparse.Namespace, out: list) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(
        f"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: 1000000\r\n\r\n{{\"items\": ".encode()
    )
    time.sleep(0.3)
    started = time.perf_counter()
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=args.drain_s + 30)
        seconds = time.perf_counter() - started
    except subprocess.TimeoutExpired:
        seconds = float("inf")
    sock.close()
    out.append(
        f"8. SIGTERM with a stalled upload: exited in {seconds:.2f} s (drain limit {args.drain_s:g} s) "
        f"{'PASS' if seconds <= args.drain_s + 1.5 else 'FAIL'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per throughput run (1 client: half)")
    parser.add_argument("--max-items", type=int, default=1024, help="the server's --max-items (fairness request size)")
    parser.add_argument("--chunk-items", type=int, default=None, help="the server's --chunk-items (default: its own)")
    parser.add_argument("--chunk-ms", type=float, default=None, help="the server's --chunk-ms (default: its own)")
    parser.add_argument("--barrage", type=int, default=1200, help="bad requests (>= 1,000 for the issue)")
    parser.add_argument("--big-bodies", type=int, default=5, help="20 MB uploads in the barrage")
    parser.add_argument("--poison-requests", type=int, default=200, help="4-item requests per poison run")
    parser.add_argument("--half-headers", type=int, default=200, help="connections that never finish their head")
    parser.add_argument("--header-timeout-s", type=float, default=2.0)
    parser.add_argument("--drain-s", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per throughput level and poison case")
    parser.add_argument("--time-limit", type=float, default=900.0, help="stop starting phases after this many seconds")
    parser.add_argument("--quick", action="store_true", help="a smoke run with small counts")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.barrage, args.big_bodies, args.poison_requests, args.half_headers = 64, 200, 2, 40, 20
        args.repeats = 1
        args.max_items = 256
    started = time.perf_counter()
    from tests._tiny_models import build_token_cls, skip_reason

    if (reason := skip_reason("token-cls")) is not None:
        sys.exit(f"cannot build the tiny PRM: {reason}")
    items = load_items(max(args.requests, 4 * args.poison_requests, args.max_items + 1, 1024), seed=0)
    with tempfile.TemporaryDirectory(prefix="prmkit-serve-load-") as tmp:
        checkpoint = build_token_cls(Path(tmp) / "prm", max_position_embeddings=MAX_POSITIONS)
        server = Server(checkpoint, args)
        out: list[str] = []
        try:
            server.wait_up()
            print(f"server up (pid {server.proc.pid}, port {server.port}, RSS {server.rss_mb():.0f} MB); tiny token-cls PRM, CPU")
            phases = [
                ("1. throughput (1 item per request)", lambda: phase_throughput(server, items, args, out)),
                ("2. fairness", lambda: phase_fairness(server, items, args, out)),
                ("3. disconnect", lambda: phase_disconnect(server, items, args, out)),
                ("4. bad-input barrage", lambda: phase_barrage(server, items, args, out)),
                ("6. poisoned items (8 clients, 4 items per request)", lambda: phase_poison(server, items, args, out)),
                ("7. half-sent request heads", lambda: phase_half_headers(server, args, out)),
            ]
            for title, run in phases:
                if time.perf_counter() - started > args.time_limit:
                    out.append(f"{title}: skipped (time limit)")
                    continue
                out.append(title)
                run()
                print("\n".join(out), flush=True)
                out.clear()
            phase_sigterm(server, args, out)
            print("\n".join(out))
        finally:
            server.stop()
    if TRANSPORT_ERRORS:
        print(f"{len(TRANSPORT_ERRORS)} requests got no answer: {TRANSPORT_ERRORS[:5]}")
    print(f"server log: {server.log.name}")
    print(f"total wall-clock {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
