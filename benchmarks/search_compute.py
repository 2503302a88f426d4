"""Test-time search at equal compute on held-out arith problems: which method buys the most accuracy per token?

Runs, in one process on the same problems, with the shipped demo policy and a PRM (the one
``prmkit demo`` trained, by default ``./prmkit-demo/prm``) and the exact ``arith-oracle`` PRM as the
ceiling:

    majority      best-of-N, majority vote (no PRM)
    best_of_n     best-of-N, highest min-aggregated PRM score
    weighted      best-of-N, PRM-weighted vote
    beam          step-level beam search (beam width 4)
    dvts          diverse verifier tree search (N/4 subtrees)
    mcts          MCTS with PRM values (PUCT, 4 children per expansion)
    particle_filtering  N particles, one step each per round, resampled by softmax(PRM / 0.2), weighted vote

at several budgets N, and prints accuracy against policy tokens generated per problem (the compute
axis), plus two speed figures measured side by side: searching 32 prompts at once vs one at a time
(prompts/s), and PRM scoring with vs without the prefix KV cache during beam search.

    python benchmarks/search_compute.py                         # after `prmkit demo`
    python benchmarks/search_compute.py --prm runs/prm --problems 100 --budgets 4 8 16 32

Measured with a likelihood verifier trained by ``prmkit train verifier`` (one expert-iteration
round: 4,096 problems x 4 samples at T = 0.7, every outcome-correct sample kept, 2 epochs; the
recipe of issue #10's probe; held-out ProcessBench-style F1 81.7 at the validation threshold), 48
problems, budgets 4-32, one thread on the shared 2-core CPU (``--prm runs/ver-ceo/round-1 --problems
48``). Accuracy % at ~141-146 / ~284-291 / ~566-582 / ~1130-1164 policy tokens per problem:

    majority   45.8  47.9  62.5  54.2
    weighted   52.1  56.2  62.5  58.3
    best_of_n  56.2  60.4  58.3  54.2
    beam       60.4  54.2  54.2  56.2
    dvts       60.4  56.2  58.3  58.3
    mcts       52.1  52.1  50.0  50.0   (58-252 tokens; the MCTS before issue 15's fix, see below)

Verifier-guided beam search and DVTS beat majority vote at equal policy tokens at N = 4, 8 and 32
(not at 16); with 48 problems one accuracy has a standard error of ~7 points, so only the N = 4 gain
(14.6 points) is clearly outside noise. The exact oracle as PRM: beam 79.2-85.4 %, DVTS 79.2-100 %,
best-of-N 72.9-97.9 %: at large N beam search spends its budget on few distinct paths (arith's
correct steps are identical strings). Speed: 32 prompts at once vs one at a time 1.6x prompts/s (the
tiny policy is compute-bound on one CPU thread; the >= 4x batching figure needs a GPU). The
likelihood family has no prefix cache, so that row is printed for families that have one (with the
demo's token-cls PRM earlier: 3.2x fewer PRM tokens, 1.36x less beam wall time).

MCTS with the exact oracle (``--variants dvts mcts``, 64 problems, N = 4 / 8 / 16 / 32), before and
after issue 15's fix (distinct children with sampled priors, widening where a path broke, the
answer voted among finished solutions; see :mod:`prmkit.search.mcts`), accuracy % at tokens/problem:

    mcts (oracle), before   46.9 @ 59   57.8 @ 82   54.7 @ 142   65.6 @ 251
    mcts (oracle), after    46.9 @ 59   57.8 @ 82   70.3 @ 124   96.9 @ 156
    dvts (oracle)           82.8 @ 145  92.2 @ 288  95.3 @ 579   98.4 @ 1159

With the demo's token-cls PRM (a weak one: DVTS 39-48 %) MCTS stays at 45-52 % either way.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from prmkit._memory import keep_freed_memory
from prmkit.generation import load_generator
from prmkit.models import load_scorer
from prmkit.models.checkpoints import DEFAULT_FAMILY, checkpoint_scorer, recorded_family
from prmkit.models.families import FAMILIES  # the families on the transformers backend (prefix cache)
from prmkit.search import SearchConfig, run_search
from prmkit.search.report import plot_budget_curves, summarize, summary_table
from prmkit.tasks.arith import ArithTask, resolve_policy

VARIANTS = {  # name -> (method, selection)
    "majority": ("best_of_n", "majority"),
    "best_of_n": ("best_of_n", "best"),
    "weighted": ("best_of_n", "weighted"),
    "beam": ("beam", "weighted"),
    "dvts": ("dvts", "weighted"),
    "mcts": ("mcts", "weighted"),
    "particle_filtering": ("particle_filtering", "weighted"),
}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", default="demo", help="policy dir ('demo' = the shipped arith policy)")
    parser.add_argument("--prm", default="prmkit-demo/prm", help="PRM checkpoint dir (from `prmkit demo` or `prmkit train ...`)")
    parser.add_argument("--prm-family", default=None, help="scorer family of --prm (default: the one its prmkit.json records)")
    parser.add_argument("--problems", type=int, default=64, help="held-out arith problems")
    parser.add_argument("--budgets", type=int, nargs="+", default=[4, 8, 16, 32], help="candidate budgets N")
    parser.add_argument("--temperature", type=float, default=1.0, help="policy sampling temperature")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        help="which rows to run (default all)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 suits tiny models)")
    parser.add_argument("--out", default="search_compute", help="output folder (results JSONL, summary JSON, plot)")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    keep_freed_memory()  # CPU tensors reuse freed memory instead of re-faulting pages (prmkit._memory)
    console = Console(width=140)
    policy = resolve_policy(args.policy)
    if not Path(args.prm).is_dir():
        raise SystemExit(f"no PRM at {args.prm!r}: run `prmkit demo` first or pass --prm DIR")
    task = ArithTask(difficulty="demo", num_test=args.problems, seed=0)
    problems = task.problems("test")[: args.problems]
    generator = load_generator("transformers", model=policy, num_threads=args.threads, progress=False)
    family = args.prm_family or recorded_family(args.prm) or DEFAULT_FAMILY
    cache = {"prefix_cache": True} if family in FAMILIES else {}
    scorers = {
        "prm": checkpoint_scorer(args.prm, family, progress=False, **cache),
        "oracle": load_scorer("arith-oracle"),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for prm_name, scorer in scorers.items():
        for variant, (method, selection) in VARIANTS.items():
            if variant not in args.variants:
                continue
            if prm_name == "oracle" and variant == "majority":
                continue  # majority vote ignores the PRM
            for n in args.budgets:
                config = SearchConfig(n=n, beam_width=4, temperature=args.temperature, selection=selection, max_new_tokens=160)
                for result in run_search(method, task, generator, scorer, problems, config):
                    record = result.to_dict()
                    record["method"] = variant if prm_name == "prm" else f"{variant} (oracle)"
                    record["meta"]["n"] = n
                    records.append(record)
                console.print(f"{prm_name:6s} {variant:9s} N={n:<3d} done")
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    rows = summarize(records)
    console.print(summary_table(rows, f"arith held-out ({len(problems)} problems): accuracy vs policy tokens per problem"))
    plot = plot_budget_curves([r for r in rows if "oracle" not in r["method"]], out / "accuracy_vs_tokens.png",
                              ceiling={"ceiling: oracle PRM, best beam run": _best(rows, "beam (oracle)")} if "beam" in args.variants else None)
    speed = _speed(task, generator, scorers["prm"], args.prm, family, problems[:32], console)
    (out / "summary.json").write_text(json.dumps({"rows": rows, "speed": speed}, indent=2))
    console.print(f"results: {out / 'results.jsonl'}  summary: {out / 'summary.json'}  plot: {plot}")


def _best(rows: list[dict], method: str) -> float:
    return max((r["accuracy"] for r in rows if r["method"] == method), default=0.0)


def _speed(task, generator, scorer, prm_path: str, family: str, problems: list, console: Console) -> dict:
    """Batching across prompts and (for families that have one) prefix-cache reuse, side by side on the same work."""
    config = SearchConfig(n=8, beam_width=4, max_new_tokens=160)
    started = time.perf_counter()
    run_search("beam", task, generator, scorer, problems, config)
    together = time.perf_counter() - started
    started = time.perf_counter()
    for problem in problems:
        run_search("beam", task, generator, scorer, [problem], config)
    one_by_one = time.perf_counter() - started
    speed = {
        "prompts": len(problems),
        "batched_prompts_per_s": len(problems) / together,
        "one_at_a_time_prompts_per_s": len(problems) / one_by_one,
        "batching_speedup": one_by_one / together,
    }
    table = Table(title="speed (beam search, N=8, width 4)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"{len(problems)} prompts at once vs one at a time (prompts/s)",
                  f"{speed['batched_prompts_per_s']:.2f} vs {speed['one_at_a_time_prompts_per_s']:.2f} = {speed['batching_speedup']:.1f}x")
    if family in FAMILIES:
        speed.update(_prefix_cache_speed(task, generator, prm_path, family, problems, config, table))
    console.print(table)
    return speed


def _prefix_cache_speed(task, generator, prm_path: str, family: str, problems: list, config: SearchConfig, table: Table) -> dict:
    """The same beam search with and without the PRM's prefix KV cache: PRM tokens run and wall time."""
    timings = {}
    for cached in (True, False):
        prm = checkpoint_scorer(prm_path, family, prefix_cache=cached, progress=False)
        started = time.perf_counter()
        results = run_search("beam", task, generator, prm, problems, config)
        timings[cached] = (time.perf_counter() - started, results[0].budget["prm_tokens"])
    tokens_with, tokens_without = timings[True][1], timings[False][1]
    if tokens_with and tokens_without:
        table.add_row("PRM tokens run, prefix cache vs full re-scoring",
                      f"{tokens_with} vs {tokens_without} = {tokens_without / tokens_with:.1f}x fewer")
    table.add_row("beam wall time, prefix cache vs full re-scoring (s)",
                  f"{timings[True][0]:.1f} vs {timings[False][0]:.1f} = {timings[False][0] / timings[True][0]:.2f}x")
    return {
        "beam_seconds_with_prefix_cache": timings[True][0],
        "beam_seconds_without_prefix_cache": timings[False][0],
        "prm_tokens_with_prefix_cache": tokens_with,
        "prm_tokens_without_prefix_cache": tokens_without,
    }


if __name__ == "__main__":
    main()
