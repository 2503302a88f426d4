"""Label quality per rollout spent: Math-Shepherd MC vs OmegaPRM on the same sampled arith solutions.

The arith task knows every step's truth, so each annotator's labels are scored against the exact
first error (``prmkit.annotate.agreement``: step accuracy as prefix correctness, first-error
accuracy) next to the rollouts it spent, all in one run on the same solutions:

    mc          per-step Monte Carlo, n rollouts from every step prefix (Wang et al. 2024)
    omegaprm    binary search for the first error with n rollouts per probe (Luo et al. 2024), on
                the same solutions (``mode="solution"``)
    rpe         GenPRM relative progress: good iff MC(prefix+step) / MC(prefix) >= 0.8 (Zhao et al. 2025)
    pav         advantage under the policy as prover: good iff Q(prefix+step) - V(prefix) >= 0 (Setlur et al. 2024)
    spare       SPARE: every step aligned to the task's reference solution, no rollouts (Rizvi et al. 2025)
    X@budget    mc, rpe and pav with n shrunk so each spends about what omegaprm spent (equal cost)
    omega-tree  the paper's tree search (``mode="tree"``) over its own rollouts; its records are
                different solutions, so only its own agreement is comparable (``--no-tree`` skips it)
    rest-mcts   ReST-MCTS* values of every solution one MCTS tree per problem finished (Zhang et al.
                2024; first error = first step with no right answer below it); own solutions, like
                omega-tree (``--no-tree`` skips it and ppm-pairs)
    ppm-pairs   rStar-Math step preference pairs from the same kind of tree (Guan et al. 2025): not
                step labels, so a line of its own says how many pairs the exact checker agrees with

The claim checked at the end: OmegaPRM reaches at least per-step MC's first-error accuracy with at
most 40% of its rollouts. Usage (the default run takes about 5 minutes on 2 busy CPU cores):

    python benchmarks/annotation_cost.py                       # the shipped policy
    python benchmarks/annotation_cost.py --policy runs/arith_policy --problems 64 --no-tree
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from prmkit._memory import keep_freed_memory
from prmkit.annotate import (
    AnnotationUnit,
    MCAnnotator,
    OmegaPRMAnnotator,
    PAVAnnotator,
    PPMPairsAnnotator,
    RestMCTSAnnotator,
    RPEAnnotator,
    SolutionSampler,
    SPAREAnnotator,
    agreement,
)
from prmkit.generation import load_generator
from prmkit.tasks.arith import ArithTask, resolve_policy


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", default="demo", help="policy checkpoint dir ('demo' = src/prmkit/assets/arith_policy)")
    parser.add_argument("--problems", type=int, default=32, help="arith problems")
    parser.add_argument("--samples", type=int, default=4, help="solutions sampled per problem (the material labelled)")
    parser.add_argument("--n", type=int, default=8, help="rollouts per MC estimate, for both annotators")
    parser.add_argument("--difficulty", default="demo", help="arith difficulty the policy was trained on")
    parser.add_argument("--split", default="test", help="task split of the problems")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of solutions and rollouts")
    parser.add_argument("--max-new-tokens", type=int, default=160, help="token limit of a solution / rollout")
    parser.add_argument("--seed", type=int, default=0, help="base seed")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default); 1 suits the tiny policy")
    parser.add_argument(
        "--tree", action=argparse.BooleanOptionalAction, default=True, help="also run tree-mode OmegaPRM on the same problems"
    )
    parser.add_argument("--budget", type=int, default=64, help="tree mode: rollouts per question")
    parser.add_argument("--tree-n", type=int, default=32, help="rest-mcts / ppm-pairs: step samples per question (MCTS N)")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    keep_freed_memory()  # CPU tensors reuse freed memory instead of re-faulting pages (prmkit._memory)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    console = Console(width=132)  # the table must not fold when piped to a file
    policy = resolve_policy(args.policy)
    if not Path(policy).is_dir():
        raise SystemExit(f"no policy checkpoint at {policy}; train one with `prmkit train policy` and pass --policy DIR")
    task = ArithTask(difficulty=args.difficulty, num_test=max(args.problems, 1), num_train=max(args.problems, 1))
    problems = task.problems(args.split)[: args.problems]
    generator = load_generator("transformers", model=policy, device=args.device)  # shows a bar per long call
    common = {"n": args.n, "temperature": args.temperature, "max_new_tokens": args.max_new_tokens, "seed": args.seed}

    started = time.perf_counter()
    sampler = SolutionSampler(
        generator, task, samples=args.samples, temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed
    )
    solutions = sampler(problems)
    units = [AnnotationUnit(p, s) for p, s in zip(problems, solutions)]
    flat = [(p, s) for p, sols in zip(problems, solutions) for s in sols]
    exact = [task.first_error(p, s.steps) for p, s in flat]
    right_answer = sum(bool(s.correct) for _, s in flat)
    lucky = sum(bool(s.correct) and e != -1 for (_, s), e in zip(flat, exact))
    console.print(
        f"policy {policy}: {len(flat)} solutions to {len(problems)} problems "
        f"({sampler.dropped} empty dropped), right answer {right_answer / max(len(flat), 1):.0%}, "
        f"every step right {sum(e == -1 for e in exact) / max(len(flat), 1):.0%}, "
        f"right answer from a wrong step {lucky}; sampling took {time.perf_counter() - started:.1f}s"
    )

    rows: list[tuple[str, object, float, int, tuple[float, float]]] = []

    def measure(name: str, annotator, work) -> object:  # type: ignore[no-untyped-def]
        begin = time.perf_counter()
        records = annotator.annotate(work)
        result = agreement(task, records)
        result.rollouts = annotator.roller.rollouts  # every rollout spent, also those behind no record
        rows.append((name, result, time.perf_counter() - begin, annotator.roller.tokens, _wrong_steps(task, records)))
        return result

    mc = measure(f"mc (n={args.n})", MCAnnotator(generator, task, **common), units)
    omega = measure(f"omegaprm (k={args.n})", OmegaPRMAnnotator(generator, task, mode="solution", **common), units)
    small_n = max(1, round(args.n * omega.rollouts / max(mc.rollouts, 1)))
    rpe = measure(f"rpe (n={args.n}, eps 0.8)", RPEAnnotator(generator, task, **common), units)
    pav = measure(f"pav (n={args.n}, A>=0)", PAVAnnotator(generator, task, **common), units)
    spare = measure("spare (reference, 0 rollouts)", SPAREAnnotator(generator, task, **common), units)
    # Equal compute: every per-step method cut to about omegaprm's rollouts (rpe/pav also pay n per question).
    small = {**common, "n": small_n}
    mc_small = measure(f"mc@budget (n={small_n})", MCAnnotator(generator, task, **small), units)
    rpe_small = measure(f"rpe@budget (n={small_n})", RPEAnnotator(generator, task, **small), units)
    pav_small = measure(f"pav@budget (n={small_n})", PAVAnnotator(generator, task, **small), units)
    if args.tree:
        tree = OmegaPRMAnnotator(generator, task, mode="tree", budget=args.budget, **common)
        measure(f"omega-tree (k={args.n}, budget {args.budget})*", tree, [AnnotationUnit(p) for p in problems])
        tree_common = {"temperature": args.temperature, "max_new_tokens": args.max_new_tokens, "seed": args.seed, "n": args.tree_n}
        measure(f"rest-mcts (N={args.tree_n})*", RestMCTSAnnotator(generator, task, **tree_common), [AnnotationUnit(p) for p in problems])
        ppm = PPMPairsAnnotator(generator, task, **tree_common)
        begin = time.perf_counter()
        pairs = ppm.annotate([AnnotationUnit(p) for p in problems])
        pair_line = _pair_agreement(task, pairs, ppm.roller.rollouts, ppm.roller.tokens, time.perf_counter() - begin)

    table = Table(title=f"arith ({args.difficulty}): labels vs exact first error, {len(flat)} sampled solutions")
    columns = ("annotator", "rollouts", "per solution", "vs mc", "policy tokens", "step acc", "first-error acc",
               "wrong P", "wrong R", "labelled", "s")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for name, result, seconds, tokens, (precision, recall) in rows:
        table.add_row(
            name,
            str(result.rollouts),
            f"{result.rollouts / max(result.solutions, 1):.1f}",
            f"{result.rollouts / max(mc.rollouts, 1):.0%}",
            str(tokens),
            f"{result.step_accuracy:.3f}",
            f"{result.first_error_accuracy:.3f}",
            f"{precision:.3f}",
            f"{recall:.3f}",
            str(result.solutions),
            f"{seconds:.1f}",
        )
    console.print(table)
    if args.tree:
        console.print(
            "* omega-tree and rest-mcts label their own trees' solutions (different ones); 'labelled' counts them, and"
            " an omega-tree search the budget cut short (first error unknown) counts as a first-error miss."
        )
    if args.tree:
        console.print(pair_line)
    console.print(
        "wrong P / R: precision and recall of the steps a method calls wrong (prefix broken: at or after its first"
        " error) against the exact ones."
    )
    best = max(
        [("omegaprm", omega), ("rpe@budget", rpe_small), ("pav@budget", pav_small)], key=lambda item: item[1].first_error_accuracy
    )
    gain = 100 * (best[1].first_error_accuracy - mc_small.first_error_accuracy)
    console.print(
        f"equal rollouts (~{omega.rollouts}): best {best[0]} first-error accuracy {best[1].first_error_accuracy:.3f} vs "
        f"mc@budget {mc_small.first_error_accuracy:.3f}: {gain:+.1f} points; at n={args.n}: rpe "
        f"{rpe.first_error_accuracy:.3f}, pav {pav.first_error_accuracy:.3f} vs mc {mc.first_error_accuracy:.3f}"
    )
    console.print(
        f"spare (0 rollouts, the reference solution instead) first-error accuracy {spare.first_error_accuracy:.3f}: "
        f"{100 * (spare.first_error_accuracy - mc_small.first_error_accuracy):+.1f} points over mc@budget, "
        f"{100 * (spare.first_error_accuracy - mc.first_error_accuracy):+.1f} over mc (n={args.n})"
    )
    ratio = omega.rollouts / max(mc.rollouts, 1)
    holds = omega.first_error_accuracy >= mc.first_error_accuracy and ratio <= 0.40
    console.print(
        f"OmegaPRM first-error accuracy {omega.first_error_accuracy:.3f} vs MC {mc.first_error_accuracy:.3f} "
        f"with {ratio:.0%} of MC's rollouts: claim (>= MC accuracy with <= 40% rollouts) "
        + ("[green]holds[/green]" if holds else "[red]does not hold[/red]")
        + f"; total {time.perf_counter() - started:.0f}s"
    )


def _pair_agreement(task: ArithTask, pairs, rollouts: int, tokens: int, seconds: float) -> str:  # type: ignore[no-untyped-def]
    """How many pairs the exact checker agrees with: the chosen side has no error, the rejected side has one."""
    agree = {"step": [0, 0], "final": [0, 0]}
    for pair in pairs:
        kind = pair.meta.get("kind", "step")
        chosen = task.first_error(pair.problem, [*pair.prefix, *pair.chosen])
        rejected = task.first_error(pair.problem, [*pair.prefix, *pair.rejected])
        agree[kind][0] += chosen == -1 and rejected != -1
        agree[kind][1] += 1
    parts = [f"{kind} {hit}/{total} ({hit / max(total, 1):.0%})" for kind, (hit, total) in agree.items()]
    return (f"ppm-pairs*: {len(pairs)} pairs from {rollouts} rollouts ({tokens} policy tokens, {seconds:.1f}s); the exact "
            f"checker agrees (chosen right so far, rejected wrong) with " + ", ".join(parts))


def _wrong_steps(task: ArithTask, records) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Precision and recall of "step is wrong" (prefix semantics: at or after a first error) vs the exact labels."""
    true_pos = predicted = actual = 0
    for record in records:
        exact = task.first_error(record.problem, record.solution.steps)
        own = record.labels.first_error
        if exact is None or own is None:
            continue
        for i in range(len(record.solution.steps)):
            truth = exact != -1 and i >= exact
            guess = own != -1 and i >= own
            true_pos += truth and guess
            predicted += guess
            actual += truth
    return true_pos / max(predicted, 1), true_pos / max(actual, 1)


if __name__ == "__main__":
    main()
