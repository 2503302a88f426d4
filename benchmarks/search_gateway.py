"""Search as a service: held-out arith problems through the OpenAI-compatible gateway, next to in-process search.

The gateway is the real CLI (``prmkit serve --policy demo --prm ...``) in a child process on
127.0.0.1, asked by the official ``openai`` client with ``extra_body={"search": {...}}``. For each
scorer (the exact ``arith-oracle``, and the PRM given by ``--prm`` when there is one), each method

    weighted            best-of-N with the PRM-weighted vote
    dvts                diverse verifier tree search (N / min(4, N) subtrees), weighted vote
    particle_filtering  N particles, softmax(PRM / 0.2) resampling, weighted vote

and each budget N (default 1, 4, 16), it prints the accuracy of the gateway's answers on the same
problems as:

* in-process ``run_search`` per problem, with the same problem, seed and settings as the gateway's
  request: the answers must agree one for one (the ``agree`` column; anything short of all is a bug);
* ``prmkit search`` as the CLI runs it, all problems in one ``run_search``: the transformers policy
  seeds a whole batch, so its samples differ from the per-problem ones, and only its accuracy is
  comparable (within sampling noise);

and the policy's pass@1 (the mean correctness of all N = 16 best-of-N samples). Then throughput:
the same ``--throughput-requests`` requests sent by one sequential client and by 8 concurrent
clients (best of ``--repeats`` interleaved runs), where the gateway merges the concurrent
requests' policy calls into shared batches (target: >= 1.5x requests/s).

Loopback only; every request has a 120 s timeout, the whole run stops by itself after
``--max-seconds``, and the servers are stopped at the end.

    python benchmarks/search_gateway.py --problems 16
    python benchmarks/search_gateway.py --prm likelihood:runs/demo/likelihood --problems 48

Measured (``--prm likelihood:DIR`` of a demo likelihood verifier, 16 problems, T = 1.0, budgets 1 4 16,
``nice -n 19`` on a shared busy 2-core CPU, 25 minutes): every one of the 288 gateway answers agrees
with per-problem in-process search; accuracy % at N = 1 / 4 / 16 with the oracle: weighted 37.5 / 81.2
/ 75.0, DVTS 50.0 / 68.8 / 87.5, particle filtering 50.0 / 68.8 / 93.8; with the PRM: 37.5 / 62.5 / 56.2,
50.0 / 56.2 / 56.2, 50.0 / 56.2 / 62.5; policy pass@1 46.5 %. Throughput at N = 4, 8 clients vs 1:
weighted 1.90x (oracle) and 1.95x (PRM), DVTS 1.55x and 1.63x.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from prmkit._memory import keep_freed_memory
from prmkit.generation import load_generator
from prmkit.models import load_scorer
from prmkit.search import SearchConfig, run_search
from prmkit.serve.prompts import request_problem
from prmkit.tasks.arith import ArithTask, resolve_policy

KEY = "bench-key"
MODEL = "prmkit-arith-demo"
VARIANTS = {"weighted": "best_of_n", "dvts": "dvts", "particle_filtering": "particle_filtering"}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prm", default=None, help="a PRM as `prmkit serve --prm` takes it (FOLDER or FAMILY:PATH); "
                        "default: the arith-oracle alone")
    parser.add_argument("--problems", type=int, default=16, help="held-out arith test problems")
    parser.add_argument("--offset", type=int, default=200, help="first test problem (the policy's training evaluated on 0-199)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[1, 4, 16], help="candidate budgets N")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--temperature", type=float, default=1.0, help="policy sampling temperature")
    parser.add_argument("--throughput-requests", type=int, default=32, help="requests per throughput run")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the throughput run")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved throughput runs (best kept)")
    parser.add_argument("--max-seconds", type=float, default=1800, help="stop the whole run after this long")
    parser.add_argument("--out", default="search_gateway", help="output folder (results JSON)")
    return parser.parse_args()


class Gateway:
    """``prmkit serve --policy demo --prm PRM`` in a child process on 127.0.0.1."""

    def __init__(self, prm: str) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-c", "from prmkit.cli import main; main()", "serve", "--policy", "demo", "--prm", prm,
                "--port", str(self.port), "--threads", "1", "--max-searches", "16", "--request-timeout-s", "120"]
        self.log = tempfile.TemporaryFile(mode="w+")  # the server logs every request: a pipe nobody reads would fill
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "PRMKIT_API_KEY": KEY})
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    self.log.seek(0)
                    raise SystemExit(f"the gateway did not start: {self.log.read()[-3000:]}") from None
                time.sleep(0.2)

    def client(self) -> Any:
        from openai import OpenAI

        return OpenAI(base_url=f"{self.url}/v1", api_key=KEY, max_retries=0, timeout=120)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def search_options(method: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    return {"method": method, "n": n, "select": "weighted", "beam_width": min(4, n), "temperature": args.temperature,
            "max_tokens": 160}


def config_of(options: dict[str, Any]) -> SearchConfig:
    return SearchConfig(n=options["n"], selection="weighted", beam_width=options["beam_width"],
                        temperature=options["temperature"], max_new_tokens=options["max_tokens"])


def ask(client: Any, question: str, options: dict[str, Any]) -> dict[str, Any]:
    response = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}],
                                              extra_body={"search": options})
    search = response.model_extra["search"]
    return {"answer": search["answer"], "answers": [c["answer"] for c in search["candidates"]],
            "tokens": response.usage.completion_tokens, "prm_tokens": response.usage.model_extra.get("prm_tokens"),
            "seconds": search["wall_seconds"]}


def accuracy(task: ArithTask, problems: list, answers: list[str | None]) -> float:
    return 100.0 * sum(task.is_correct(a, p) for a, p in zip(answers, problems)) / len(problems)


def accuracy_rows(gateway: Gateway, scorer: Any, name: str, task: ArithTask, problems: list, policy: Any,
                  args: argparse.Namespace, stop_at: float, console: Console) -> list[dict[str, Any]]:
    client, rows = gateway.client(), []
    for variant in args.variants:
        method = VARIANTS[variant]
        for n in args.budgets:
            if time.monotonic() > stop_at:
                console.print("[yellow]--max-seconds reached: skipping the remaining rows[/]")
                return rows
            options = search_options(method, n, args)
            config = config_of(options)
            served = [ask(client, p.question, options) for p in problems]
            alone = [run_search(method, task, policy, scorer, [request_problem(p.question, answer=p.answer)], config)[0]
                     for p in problems]
            batch = run_search(method, task, policy, scorer, problems, config)
            agree = sum(s["answer"] == r.to_dict()["answer"] and s["answers"] == [c.answer for c in r.candidates]
                        for s, r in zip(served, alone))
            row = {
                "scorer": name, "method": variant, "n": n, "problems": len(problems),
                "gateway": accuracy(task, problems, [s["answer"] for s in served]),
                "in_process": accuracy(task, problems, [r.to_dict()["answer"] for r in alone]),
                "agree": agree,
                "prmkit_search": accuracy(task, problems, [r.to_dict()["answer"] for r in batch]),
                "tokens_per_problem": sum(s["tokens"] for s in served) / len(problems),
                "seconds_per_request": sum(s["seconds"] for s in served) / len(problems),
            }
            if variant == "weighted" and n == max(args.budgets):
                samples = [(a, p) for s, p in zip(served, problems) for a in s["answers"]]
                row["pass_at_1"] = 100.0 * sum(task.is_correct(a, p) for a, p in samples) / len(samples)
            rows.append(row)
            console.print(f"  {name} {variant} N={n}: gateway {row['gateway']:.1f} %, in-process {row['in_process']:.1f} %, "
                          f"agree {agree}/{len(problems)}, prmkit search {row['prmkit_search']:.1f} %")
    return rows


def throughput(gateway: Gateway, name: str, task: ArithTask, args: argparse.Namespace, console: Console) -> list[dict[str, Any]]:
    questions = [p.question for p in task.problems("test")[: args.throughput_requests]]
    client, rows = gateway.client(), []
    for variant in ("weighted", "dvts"):
        options = search_options(VARIANTS[variant], 4, args)
        ask(client, questions[0], options)  # warm-up
        best = {1: 0.0, args.clients: 0.0}
        merged, batches = 0.0, 0.0
        for _ in range(args.repeats):
            for clients in (1, args.clients):
                before = _policy_batches(gateway)
                started = time.perf_counter()
                if clients == 1:
                    for question in questions:
                        ask(client, question, options)
                else:
                    with ThreadPoolExecutor(clients) as pool:
                        list(pool.map(lambda q, o=options: ask(client, q, o), questions))
                best[clients] = max(best[clients], len(questions) / (time.perf_counter() - started))
                if clients > 1:
                    after = _policy_batches(gateway)
                    merged, batches = merged + after[0] - before[0], batches + after[1] - before[1]
        row = {"scorer": name, "method": variant, "n": 4, "requests": len(questions),
               "sequential_rps": best[1], "concurrent_rps": best[args.clients], "clients": args.clients,
               "speedup": best[args.clients] / best[1], "mean_calls_per_policy_batch": merged / batches if batches else 0.0}
        rows.append(row)
        console.print(f"  {name} {variant} N=4: 1 client {best[1]:.2f} req/s, {args.clients} clients "
                      f"{best[args.clients]:.2f} req/s ({row['speedup']:.2f}x)")
    return rows


def _policy_batches(gateway: Gateway) -> tuple[float, float]:
    """(requests' calls served, policy calls made) so far, from /metrics."""
    text = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=10).text
    values = {}
    for line in text.splitlines():
        if line.startswith(("prmkit_policy_batch_calls_sum", "prmkit_policy_batch_calls_count")):
            key, value = line.split()
            values[key] = float(value)
    return values.get("prmkit_policy_batch_calls_sum", 0.0), values.get("prmkit_policy_batch_calls_count", 0.0)


def print_tables(console: Console, rows: list[dict[str, Any]], speed: list[dict[str, Any]], problems: int) -> None:
    table = Table(title=f"Gateway answers vs in-process search ({problems} held-out arith problems, demo policy)")
    for header in ("scorer", "method", "N", "gateway %", "in-process %", "agree", "prmkit search %", "tokens/problem", "s/request"):
        table.add_column(header, justify="right")
    for r in rows:
        table.add_row(r["scorer"], r["method"], str(r["n"]), f"{r['gateway']:.1f}", f"{r['in_process']:.1f}",
                      f"{r['agree']}/{r['problems']}", f"{r['prmkit_search']:.1f}", f"{r['tokens_per_problem']:.0f}",
                      f"{r['seconds_per_request']:.2f}")
    console.print(table)
    for r in rows:
        if "pass_at_1" in r:
            console.print(f"policy pass@1 (mean over the {r['n']} best-of-N samples per problem, scorer {r['scorer']} run): "
                          f"{r['pass_at_1']:.1f} %")
            break
    table = Table(title="Throughput: one sequential client vs concurrent clients (shared policy batches)")
    for header in ("scorer", "method", "N", "requests", "1 client req/s", "clients", "concurrent req/s", "speedup", "calls/policy batch (concurrent)"):
        table.add_column(header, justify="right")
    for r in speed:
        table.add_row(r["scorer"], r["method"], str(r["n"]), str(r["requests"]), f"{r['sequential_rps']:.2f}", str(r["clients"]),
                      f"{r['concurrent_rps']:.2f}", f"{r['speedup']:.2f}x", f"{r['mean_calls_per_policy_batch']:.2f}")
    console.print(table)


def main() -> None:
    args = _arguments()
    keep_freed_memory()
    console = Console(width=150)
    stop_at = time.monotonic() + args.max_seconds
    watchdog = threading.Timer(args.max_seconds + 300, lambda: os._exit(3))  # a hung server cannot hold the run
    watchdog.daemon = True
    watchdog.start()
    task = ArithTask(difficulty="demo", num_test=args.offset + args.problems, seed=0)
    problems = task.problems("test")[args.offset : args.offset + args.problems]
    policy = load_generator("transformers", model=resolve_policy("demo"), num_threads=1, progress=False)
    scorers: dict[str, tuple[str, Any]] = {"oracle": ("arith-oracle", load_scorer("arith-oracle"))}
    if args.prm:
        from prmkit.cli._common import prm_source

        folder, family = prm_source(args.prm, None)
        scorers["prm"] = (args.prm, load_scorer(family, path=folder, progress=False))
    rows, speed = [], []
    for name, (flag, scorer) in scorers.items():
        console.print(f"[bold]{name}[/] ({flag}): starting the gateway ...")
        gateway = Gateway(flag)
        try:
            rows += accuracy_rows(gateway, scorer, name, task, problems, policy, args, stop_at, console)
            if time.monotonic() < stop_at:
                speed += throughput(gateway, name, task, args, console)
        finally:
            gateway.stop()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps({"args": vars(args), "accuracy": rows, "throughput": speed}, indent=2))
    print_tables(console, rows, speed, len(problems))
    disagree = sum(r["problems"] - r["agree"] for r in rows)
    console.print(f"gateway vs in-process: {'all answers agree' if not disagree else f'{disagree} answers DISAGREE'}; "
                  f"results: {out / 'summary.json'}")


if __name__ == "__main__":
    main()
