"""`prmkit search`: test-time search (best-of-N, beam, DVTS, MCTS, early rejection, particle filtering) with a policy and a PRM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from prmkit.cli._common import (
    checkpoint_path,
    console,
    fail,
    load_cli_scorer,
    load_cli_task,
    output_file,
    parse_options,
    prm_source,
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
) -> None:
    """Search every problem with each method at each N; print accuracy vs compute and write JSONL.

    Example:
        prmkit search --task arith --policy demo --prm runs/prm --method best_of_n --method beam --n 4 --n 16 --plot
    """
    import dataclasses

    from prmkit.generation import load_generator
    from prmkit.io._jsonl import atomic_writer
    from prmkit.search import SEARCH_METHODS, SearchConfig, run_search
    from prmkit.search.report import plot_budget_curves, summarize, summary_table

    unknown = [m for m in method if m not in SEARCH_METHODS.names()]
    if unknown:
        fail(f"unknown method(s) {unknown}; choose from {', '.join(SEARCH_METHODS.names())}")
    if problems < 1:
        fail(f"--problems must be >= 1 (got {problems})")
    if any(size < 1 for size in n):
        fail(f"--n must be >= 1 (got {', '.join(str(size) for size in n if size < 1)})")
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
        generator = load_generator("transformers", model=policy_dir)
    except (OSError, ValueError) as err:
        fail(f"could not load the policy {policy!r}: {err}")
    scorer = load_cli_scorer(prm_name, prm_dir, None, None)
    if prm_name == "arith-oracle":
        console.print("[bold yellow]warning:[/bold yellow] scoring with the exact arith oracle (--prm arith-oracle, "
                      "the default): it knows every step's truth, so these numbers are an upper bound no trained PRM "
                      "reaches; pass --prm DIR to search with a real PRM", soft_wrap=True)
    records = []
    for name in method:
        for size, config in configs.items():
            console.print(f"[bold]{name}[/bold] N={size} on {len(chosen)} problems ...")
            for result in run_search(name, the_task, generator, scorer, chosen, config):
                record = result.to_dict()
                record["meta"]["n"] = size
                record["meta"]["prm"] = prm
                records.append(record)
    with atomic_writer(out) as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    rows = summarize(records)
    console.print(summary_table(rows, f"{task}: accuracy vs compute ({len(chosen)} problems, PRM {prm})"))
    console.print(f"results: {out}")
    if plot:
        console.print(f"plot: {plot_budget_curves(rows, out.with_suffix('.png'))}")

