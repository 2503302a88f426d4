"""Scoring throughput of prmkit's transformers backend, measured side by side in one run.

Three comparisons, each on tiny random-weight PRMs with the families' real tokenizers
(``tests/_tiny_models.py``; 4 layers, hidden 256) and real ProcessBench (question, steps) items:

1. Batching: the backend (length-sorted, token-budget batches) in tokens/s vs (a) a padding-free
   forward of each item's exact tokens one at a time (no padding at all: the ideal per-token cost)
   and (b) a Python loop calling ``scorer.score([item])`` per item through the public API.
   Target: backend >= 0.9x the padding-free per-item forward.
2. RLHFlow: all steps of an item read from ONE forward of the whole conversation (prmkit) vs one
   forward per step on the conversation so far (the reference code / reward-hub). Target >= 3x items/s.
3. Beam-search workload (64 beams, 6 rounds; keep the best half by the PRM's score, expand each with 2
   candidate next steps): ``prefix_cache=True`` vs full re-scoring. Reports tokens actually run vs the
   distinct tokens of the search tree (target <= 1.2x) and wall-clock (target >= 2x).

Every timing is the minimum over ``--repeats`` interleaved runs (A, B, C, A, B, C, ...), which keeps
the ratios meaningful on a shared, busy machine. Peak memory: process peak RSS after each section
(CPU; it only grows) and, on CUDA, the peak allocated memory of each measurement.

Usage (the defaults are scaled down to finish in about 3 minutes on a busy 2-core CPU; ``--full``
runs the sizes above: 1,024 items, 64 beams x 6 rounds):

    python benchmarks/score_throughput.py
    python benchmarks/score_throughput.py --full --device cuda
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROCESSBENCH = Path("/work/shared/data/processbench")
DEFAULTS = {
    "items": 96,
    "rlhflow_items": 32,
    "api_loop_items": 24,
    "beam_width": 16,
    "rounds": 6,
}
FULL = {
    "items": 1024,
    "rlhflow_items": 256,
    "api_loop_items": 128,
    "beam_width": 64,
    "rounds": 6,
}


def load_items(
    count: int, seed: int, min_steps: int = 1, max_steps: int = 100
) -> list[tuple[str, list[str]]]:
    """``count`` ProcessBench (problem, steps) items (GSM8K and MATH mixed), sampled with ``seed``."""
    pool = []
    for name in ("gsm8k", "math"):
        for record in json.loads((PROCESSBENCH / f"{name}.json").read_text()):
            steps = [s for s in record["steps"] if s.strip()]
            if min_steps <= len(steps) <= max_steps:
                pool.append((record["problem"], steps))
    rng = random.Random(seed)
    rng.shuffle(pool)
    return pool[:count]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timing:
    """Best-of-repeats wall-clock and CPU seconds of one measured workload (+ CUDA peak when on CUDA)."""

    def __init__(self) -> None:
        self.seconds = float("inf")
        self.cpu_seconds = float("inf")
        self.cuda_peak_mb: float | None = None

    def run(self, fn, device):
        import torch

        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
            self.cuda_peak_mb = max(
                self.cuda_peak_mb or 0.0, torch.cuda.max_memory_allocated() / 2**20
            )
        self.seconds = min(self.seconds, time.perf_counter() - wall)
        self.cpu_seconds = min(self.cpu_seconds, time.process_time() - cpu)
        return result


def section_batching(path: str, tok, items, args, rows: list) -> None:
    import torch

    from prmkit.models import load_scorer

    scorer = load_scorer(
        "qwen2.5-math-prm", path=path, tokenizer=tok, device=args.device, progress=False
    )
    encoded = [scorer.encode(q, s) for q, s in items]
    tokens = sum(len(e.input_ids) for e in encoded)
    subset = items[: args.api_loop_items]
    subset_tokens = sum(len(e.input_ids) for e in encoded[: len(subset)])
    prm = scorer._prm

    def padding_free():  # each item's exact tokens, one forward each: no padding at all
        out = []
        with torch.inference_mode():
            for e in encoded:
                ids = torch.tensor([e.input_ids], device=scorer.device)
                hidden = prm.body(input_ids=ids, use_cache=False).last_hidden_state[0]
                out.append(prm.head(hidden[e.step_positions]).tolist())
        return out

    scorer.score(items[:8])  # warm-up
    backend, single, loop = Timing(), Timing(), Timing()
    for _ in range(args.repeats):
        batched = backend.run(lambda: scorer.score(items), scorer.device)
        per_item = single.run(padding_free, scorer.device)
        loop.run(lambda: [scorer.score([item]) for item in subset], scorer.device)
    diff = max(abs(a - b) for x, y in zip(batched, per_item) for a, b in zip(x, y))
    rows.append(
        (
            "1. batching",
            f"{len(items)} items, {tokens:,} tokens ({tokens / len(items):.0f}/item)",
            "",
        )
    )
    rows.append(
        ("   prmkit backend", f"{tokens / backend.seconds:,.0f} tok/s", _t(backend))
    )
    rows.append(
        (
            "   padding-free per-item forward",
            f"{tokens / single.seconds:,.0f} tok/s",
            _t(single),
        )
    )
    rows.append(
        (
            f"   per-item public API loop ({len(subset)} items)",
            f"{subset_tokens / loop.seconds:,.0f} tok/s",
            _t(loop),
        )
    )
    rows.append(
        (
            "   backend / padding-free (target >= 0.9)",
            f"{single.seconds / backend.seconds:.2f}x",
            _cpu_ratio(single, backend),
        )
    )
    loop_ratio = (tokens / backend.seconds) / (subset_tokens / loop.seconds)
    loop_cpu = (tokens / backend.cpu_seconds) / (subset_tokens / loop.cpu_seconds)
    rows.append(
        (
            "   backend / API loop",
            f"{loop_ratio:.2f}x",
            f"CPU-time ratio {loop_cpu:.2f}x",
        )
    )
    rows.append(
        ("   max |score difference|", f"{diff:.1e}", _mem(backend, single, loop))
    )


def section_rlhflow(path: str, tok, items, args, rows: list) -> None:
    from prmkit.models import load_scorer

    scorer = load_scorer(
        "rlhflow", path=path, tokenizer=tok, device=args.device, progress=False
    )
    scorer.score(items[:4])
    steps = sum(len(s) for _, s in items)
    prefixes = [(q, s[: k + 1]) for q, s in items for k in range(len(s))]
    one, per_step = Timing(), Timing()
    for _ in range(args.repeats):
        start = scorer.tokens_run
        together = one.run(lambda: scorer.score(items), scorer.device)
        tokens_one, start = scorer.tokens_run - start, scorer.tokens_run
        flat = per_step.run(
            lambda: scorer.score(prefixes), scorer.device
        )  # the reference: a forward per step
        tokens_per_step = scorer.tokens_run - start
    last = [row[-1] for row in flat]
    diff = max(abs(a - b) for a, b in zip([v for row in together for v in row], last))
    rows.append(
        ("2. rlhflow", f"{len(items)} items, {steps / len(items):.1f} steps/item", "")
    )
    rows.append(
        (
            "   all steps in one forward",
            f"{len(items) / one.seconds:.2f} items/s ({tokens_one:,} tokens)",
            _t(one),
        )
    )
    rows.append(
        (
            "   one forward per step",
            f"{len(items) / per_step.seconds:.2f} items/s ({tokens_per_step:,} tokens)",
            _t(per_step),
        )
    )
    rows.append(
        (
            "   speed-up (target >= 3)",
            f"{per_step.seconds / one.seconds:.2f}x",
            _cpu_ratio(per_step, one),
        )
    )
    rows.append(("   max |score difference|", f"{diff:.1e}", _mem(one, per_step)))


def _distinct_tokens(sequences) -> int:
    root: dict = {}
    count = 0
    for ids in sequences:
        node = root
        for token in ids:
            if token not in node:
                node[token] = {}
                count += 1
            node = node[token]
    return count


def section_beam(path: str, tok, args, rows: list) -> None:
    from prmkit.models import load_scorer

    def scorer(**options):
        return load_scorer(
            "qwen2.5-math-prm",
            path=path,
            tokenizer=tok,
            device=args.device,
            progress=False,
            **options,
        )

    problems = load_items(args.beam_width, seed=args.seed + 1, min_steps=args.rounds)
    pool = [step for _, steps in load_items(400, seed=args.seed + 2) for step in steps]
    real = {q: s for q, s in problems}
    full = scorer()
    warm = [
        ("Warm-up: what is 1+1?", ["1+1=2."])
    ]  # shares no useful prefix with the workload
    full.score(warm)
    # the search trajectory is fixed by the full scorer's scores; every repeat replays it
    rounds, beams, rng = [], [(q, s[:1]) for q, s in problems], random.Random(args.seed)
    for _ in range(args.rounds):
        rounds.append(beams)
        scores = full.score(beams)
        keep = sorted(range(len(beams)), key=lambda i: -scores[i][-1])[
            : max(1, len(beams) // 2)
        ]
        nxt = []
        for i in (
            keep
        ):  # best half, each expanded with its real next step and a random other step
            q, s = beams[i]
            true_next = real[q][len(s)] if len(s) < len(real[q]) else rng.choice(pool)
            nxt += [(q, s + [true_next]), (q, s + [rng.choice(pool)])]
        beams = nxt
    t_full, t_cached = Timing(), Timing()
    diff = 0.0
    for _ in range(args.repeats):
        start = full.tokens_run
        full_scores = t_full.run(lambda: [full.score(r) for r in rounds], full.device)
        run_full = full.tokens_run - start
        cached = scorer(prefix_cache=True)  # a fresh, empty prefix cache each repeat
        cached.score(warm)
        start = cached.tokens_run
        cached_scores = t_cached.run(
            lambda scorer=cached: [scorer.score(r) for r in rounds], cached.device
        )
        run_cached = cached.tokens_run - start
        for a, b in zip(full_scores, cached_scores):
            diff = max(
                diff, max(abs(x - y) for r1, r2 in zip(a, b) for x, y in zip(r1, r2))
            )
    distinct = _distinct_tokens(
        full.encode(q, s).input_ids for r in rounds for q, s in r
    )
    rows.append(
        (
            "3. beam search",
            f"{args.beam_width} beams x {args.rounds} rounds (keep half, expand x2)",
            "",
        )
    )
    rows.append(("   distinct tokens in the search tree", f"{distinct:,}", ""))
    rows.append(
        (
            "   tokens run, full re-scoring",
            f"{run_full:,} ({run_full / distinct:.2f}x distinct)",
            _t(t_full),
        )
    )
    rows.append(
        (
            "   tokens run, prefix cache (target <= 1.2x)",
            f"{run_cached:,} ({run_cached / distinct:.2f}x distinct)",
            _t(t_cached),
        )
    )
    rows.append(
        (
            "   wall-clock speed-up (target >= 2)",
            f"{t_full.seconds / t_cached.seconds:.2f}x",
            _cpu_ratio(t_full, t_cached),
        )
    )
    rows.append(
        (
            "   max |score difference|",
            f"{diff:.1e}",
            f"cache holds {cached._cache._stored_tokens:,} tokens; {_mem(t_full, t_cached)}",
        )
    )


def _cpu_ratio(slow: Timing, fast: Timing) -> str:
    """The same ratio from process CPU time, which a busy shared machine disturbs far less than wall time."""
    return f"CPU-time ratio {slow.cpu_seconds / fast.cpu_seconds:.2f}x"


def _t(timing: Timing) -> str:
    return f"{timing.seconds:.2f} s wall, {timing.cpu_seconds:.2f} s CPU"


def _mem(*sections: Timing) -> str:
    cuda = [s.cuda_peak_mb for s in sections if s.cuda_peak_mb is not None]
    text = f"peak RSS {peak_rss_mb():,.0f} MB"
    if cuda:
        text += " | CUDA peak " + " / ".join(f"{mb:,.0f} MB" for mb in cuda)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help=f"full-size run: {FULL}")
    parser.add_argument(
        "--items",
        type=int,
        default=None,
        help=f"items for section 1 (default {DEFAULTS['items']})",
    )
    parser.add_argument(
        "--rlhflow-items",
        type=int,
        default=None,
        help="items (5-7 steps) for section 2",
    )
    parser.add_argument(
        "--api-loop-items",
        type=int,
        default=None,
        help="items for the per-item public API loop",
    )
    parser.add_argument("--beam-width", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="interleaved repeats; the best time counts",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared, busy CPU every multi-threaded op waits for "
        "descheduled threads, which made small ops ~10x slower in our runs; 0 = torch's choice)",
    )
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument(
        "--device", default=None, help="cpu / cuda (default: cuda when available)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sections", default="1,2,3", help="which sections to run, e.g. 1,3"
    )
    args = parser.parse_args()
    for key, value in (FULL if args.full else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from tests._tiny_models import build_qwen_math_prm, build_rlhflow, tokenizer

    torch.manual_seed(args.seed)
    rows: list[tuple[str, str, str]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="prmkit-bench-") as tmp:
        size = {
            "layers": args.layers,
            "hidden": args.hidden,
            "max_position_embeddings": 32768,
        }
        sections = {int(s) for s in args.sections.split(",")}
        if sections & {1, 3}:
            qwen_path = build_qwen_math_prm(Path(tmp) / "qwen", **size)
        if 1 in sections:
            section_batching(
                qwen_path,
                tokenizer("qwen"),
                load_items(args.items, args.seed),
                args,
                rows,
            )
        if 2 in sections:
            llama_path = build_rlhflow(Path(tmp) / "rlhflow", **size)
            items = load_items(args.rlhflow_items, args.seed, min_steps=5, max_steps=7)
            section_rlhflow(llama_path, tokenizer("llama3"), items, args, rows)
        if 3 in sections:
            section_beam(qwen_path, tokenizer("qwen"), args, rows)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"prmkit scoring throughput ({args.layers} layers, hidden {args.hidden}, "
                  f"device {args.device or ('cuda' if torch.cuda.is_available() else 'cpu')}, "
                  f"{torch.get_num_threads()} threads)")  # fmt: skip
    for column in ("measurement", "value", "time / notes"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    print(f"total wall-clock {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
