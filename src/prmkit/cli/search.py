"""`prmkit search`: test-time search (best-of-N, beam, DVTS, MCTS, early rejection, particle filtering) with a policy and a PRM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prmkit.cli._common import (
    checkpoint_path,
    console,
    fail,
    load_cli_task,
    output_file,
    parse_options,
    prm_source,
)
from prmkit.cli._engine import (
    Address,
    EngineFlags,
    EngineName,
    GpusPerWorker,
    ShardSize,
    ThreadsPerWorker,
    Workers,
    cli_generator,
    cli_scorer,
)

__all__ = ["NAME", "HELP", "run"]

NAME = "search"
HELP = (
    "Test-time search (best-of-N, beam, DVTS, MCTS, early rejection, particle filtering) with a policy and a PRM.\n\n"
    "Prints accuracy vs compute per method and N, and writes one SearchResult JSON line per problem "
    "(the input of `prmkit eval bon`).\n\n"
    "Examples:\n\n"
    "    prmkit search --policy runs/arith_policy --prm arith-oracle --method best_of_n --method beam --n 4 --n 16\n\n"
    "    prmkit search --policy runs/arith_policy --prm runs/prm --prm-family token-cls --method mcts "
    "--option c_puct=1.5 --out mcts.jsonl --plot\n\n"
    "    prmkit search --policy demo --prm runs/prm --method particle_filtering --n 8 --option resample_temperature=0.2"
)


def run(
    task: Annotated[str, typer.Option(help="Registered task name (arith, gsm8k, ...).")] = "arith",
    policy: Annotated[str, typer.Option(help="Policy checkpoint dir for the transformers generator ('demo' = the shipped arith policy).")] = "demo",
    prm: Annotated[str, typer.Option(help="PRM checkpoint dir, FAMILY:PATH, or a registered scorer name; default: the exact arith oracle (an upper bound, not a PRM).")] = "arith-oracle",
    prm_family: Annotated[str | None, typer.Option(help="Scorer family when --prm is a directory; default: the family in its prmkit.json, else token-cls.")] = None,
    method: Annotated[list[str], typer.Option(help="Search method; repeat to compare several.")] = ["beam"],  # noqa: B006
    n: Annotated[list[int], typer.Option(help="Candidate budget N; repeat for an accuracy-vs-budget curve.")] = [16],  # noqa: B006
    problems: Annotated[int, typer.Option(help="How many problems of the split to search.")] = 100,
    split: Annotated[str, typer.Option(help="Task split to take problems from.")] = "test",
    out: Annotated[Path, typer.Option(help="Results JSONL (one SearchResult per line; `prmkit eval bon` reads it).")] = Path("search_results.jsonl"),
    plot: Annotated[bool, typer.Option(help="Also draw accuracy vs generated tokens (PNG next to --out).")] = False,
    option: Annotated[list[str], typer.Option(help="SearchConfig field as key=value (e.g. beam_width=4, temperature=0.7); repeatable.")] = [],  # noqa: B006
    task_option: Annotated[list[str], typer.Option(help="Task constructor option as key=value; repeatable.")] = [],  # noqa: B006
    threads: Annotated[int, typer.Option(help="torch CPU threads (0 = torch's default); 1 is fastest for tiny policies on busy CPUs.", min=0)] = 1,
    shard_size: ShardSize = 32,
    engine: EngineName = "local",
    address: Address = None,
    workers: Workers = 2,
    threads_per_worker: ThreadsPerWorker = 1,
    num_gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """Search every problem with each method at each N; print accuracy vs compute and write JSONL.

    Problems are searched in shards of --shard-size (kept in ``<out>.shards/`` until --out is
    written, so rerunning an interrupted command searches only what is missing); --engine ray runs
    the shards on a Ray actor pool, each actor with its own policy and PRM, and writes the same records.

    Example:
        prmkit search --task arith --policy demo --prm runs/prm --method best_of_n --method beam --n 4 --n 16 --plot
    """
    import dataclasses

    from prmkit.search import SEARCH_METHODS, SearchConfig, search_sharded
    from prmkit.search.report import plot_budget_curves, summarize, summary_table

    unknown = [m for m in method if m not in SEARCH_METHODS.names()]
    if unknown:
        fail(f"unknown method(s) {unknown}; choose from {', '.join(SEARCH_METHODS.names())}")
    if problems < 1:
        fail(f"--problems must be >= 1 (got {problems})")
    if any(size < 1 for size in n):
        fail(f"--n must be >= 1 (got {', '.join(str(size) for size in n if size < 1)})")
    if shard_size < 1:
        fail(f"--shard-size must be >= 1 (got {shard_size})")
    flags = EngineFlags(engine, address, workers, threads_per_worker, num_gpus_per_worker)
    flags.check()
    base = parse_options(option)
    types = {f.name: f.type for f in dataclasses.fields(SearchConfig)}
    for key, value in base.items():
        expected = {"int": int, "float": (int, float), "str": str}.get(str(types.get(key)))
        if key not in types:
            fail(f"--option {key}: not a SearchConfig field; valid: {', '.join(sorted(types))}")
        if expected is not None and (not isinstance(value, expected) or isinstance(value, bool)):
            fail(f"--option {key}={value!r}: expected {types[key]}")
    try:
        configs = {size: SearchConfig(**{**base, "n": size}) for size in n}
        for name in method:
            if name in ("beam", "dvts", "mcts"):
                for config in configs.values():
                    config.check_width(name)
    except ValueError as err:
        fail(f"bad search settings: {err} (SearchConfig fields are set with --option key=value)")
    output_file(out, "--out")
    prm_dir, prm_name = prm_source(prm, prm_family)
    the_task = load_cli_task(task, task_option)
    try:
        chosen = the_task.problems(split)[:problems]
    except (KeyError, ValueError) as err:
        fail(f"task {task!r} (split {split!r}): {err}")
    if threads:
        import torch

        torch.set_num_threads(threads)
    policy_dir = checkpoint_path(policy, "--policy", demo=True)
    try:
        generator = cli_generator("transformers", policy_dir, None, engine)
    except (OSError, ValueError) as err:
        fail(f"could not load the policy {policy!r}: {err}")
    scorer = cli_scorer(prm_name, prm_dir, None, None, engine, "--prm")
    if prm_name == "arith-oracle":
        console.print("[bold yellow]warning:[/bold yellow] scoring with the exact arith oracle (--prm arith-oracle, "
                      "the default): it knows every step's truth, so these numbers are an upper bound no trained PRM "
                      "reaches; pass --prm DIR to search with a real PRM", soft_wrap=True)
    runs = [(name, config, {"n": size, "prm": prm}) for name in method for size, config in configs.items()]
    console.print(f"[bold]{', '.join(method)}[/bold] at N={', '.join(map(str, configs))} on {len(chosen)} problems "
                  f"({engine} engine) ...")
    job = {"task": task, "task_options": parse_options(task_option), "split": split, "policy": policy, "prm": prm,
           "prm_family": prm_family}
    try:
        with flags.running() as running:
            done = search_sharded(runs, the_task, generator, scorer, chosen, out, shard_size=shard_size, job=job,
                                  engine=running)
    except ValueError as err:
        fail(str(err))
    records = [record for rows in done.rows for record in rows]
    if done.shards_skipped:
        console.print(f"resumed: {done.shards_skipped} finished shard(s) skipped")
    if done.report.workers:
        console.print(done.report.table(f"per worker ({engine} engine)"))
    rows = summarize(records)
    console.print(summary_table(rows, f"{task}: accuracy vs compute ({len(chosen)} problems, PRM {prm})"))
    console.print(f"results: {out}")
    if plot:
        console.print(f"plot: {plot_budget_curves(rows, out.with_suffix('.png'))}")

