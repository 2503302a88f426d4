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

Then, unless ``--no-train``, a token-classification PRM is trained on each label set of the shared
solutions (mc, omegaprm, rpe, pav, spare and the @budget rows; the tree rows label other solutions
and get none) and judged on the same held-out solutions. The protocol, fixed before any of its
numbers was seen, is the demo's (``prmkit.demo``, whose helpers this script calls):

    recipe      ``prmkit.train.prm.train_prm`` from the policy checkpoint, the DemoConfig defaults:
                hard labels (label >= 0.5), 6 epochs, learning rate 1e-3, batch 32, best checkpoint by
                validation F1 on the trainer's own 10 % validation split of that label set (the
                demo evaluates every 50 steps, so at this size the last checkpoint is the one kept)
    held-out    ``--held-out`` (100) problems of the test split that are not labelled here, 16
                solutions each (``--bon-n``), sampled once from the policy at T=1 with seed+1
    F1          ProcessBench-style F1 at the threshold that maximises it on the label set's own
                validation split (Math-Shepherd reading: first step labelled 0 = first error); where
                that split cannot pick one (no erroneous or no correct solution in it) the F1 at 0.5,
                marked "@0.5"
    weighted@16 PRM-weighted vote over the 16 candidates on min-aggregated step scores
                (``prmkit.search.vote.select``), next to majority vote and the exact oracle's
                weighted vote on the same candidates; 95 % bootstrap intervals over problems
                (1,000 resamples, the same ones for every row) follow the table

The claim checked at the end: OmegaPRM reaches at least per-step MC's first-error accuracy with at
most 40% of its rollouts. Usage (the default run takes about 4-5 minutes on 2 busy CPU cores):

    python benchmarks/annotation_cost.py                       # the shipped policy
    python benchmarks/annotation_cost.py --policy runs/arith_policy --problems 64 --no-tree
    python benchmarks/annotation_cost.py --no-train            # label columns only (no PRM per label set)

The last default run (shipped policy, 249 s of which 85 s the PRM columns, 4 min 18 s wall under
``nice -n 19`` on the 2 shared CPU cores) printed:

                                                    arith (demo): labels vs exact first error, 128 sampled solutions
    ┏━━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┳━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━┓
    ┃       annotator ┃ rollouts ┃ per solution ┃ vs mc ┃ policy tokens ┃ step acc ┃ first-error acc ┃ wrong P ┃ wrong R ┃ labelled ┃    s ┃   PRM F1 ┃ PRM wtd@16 ┃
    ┡━━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━┩
    │        mc (n=8) │     3968 │         31.0 │  100% │         72907 │    0.880 │           0.719 │   0.801 │   0.879 │      128 │ 28.5 │ 33.8@0.5 │       51.0 │
    │  omegaprm (k=8) │     1304 │         10.2 │   33% │         27159 │    0.899 │           0.758 │   0.900 │   0.848 │      128 │  8.8 │ 28.9@0.5 │       54.0 │
    │   rpe (n=8, eps │     4224 │         33.0 │  106% │         81883 │    0.811 │           0.539 │   0.660 │   0.984 │      128 │ 33.5 │ 32.7@0.5 │       52.0 │
    │            0.8) │          │              │       │               │          │                 │         │         │          │      │          │            │
    │ pav (n=8, A>=0) │     4224 │         33.0 │  106% │         81883 │    0.607 │           0.547 │   0.644 │   0.918 │      128 │ 33.4 │ 11.0@0.5 │       53.0 │
    │           spare │        0 │          0.0 │    0% │             0 │    1.000 │           1.000 │   1.000 │   1.000 │      128 │  0.1 │ 30.1@0.5 │       55.0 │
    │   (reference, 0 │          │              │       │               │          │                 │         │         │          │      │          │            │
    │       rollouts) │          │              │       │               │          │                 │         │         │          │      │          │            │
    │ mc@budget (n=3) │     1488 │         11.6 │   38% │         27383 │    0.827 │           0.594 │   0.695 │   0.926 │      128 │ 12.3 │ 31.5@0.5 │       53.0 │
    │      rpe@budget │     1584 │         12.4 │   40% │         30740 │    0.780 │           0.492 │   0.581 │   0.977 │      128 │ 14.2 │ 23.6@0.5 │       55.0 │
    │           (n=3) │          │              │       │               │          │                 │         │         │          │      │          │            │
    │      pav@budget │     1584 │         12.4 │   40% │         30740 │    0.615 │           0.609 │   0.701 │   0.762 │      128 │ 14.5 │  0.0@0.5 │       52.0 │
    │           (n=3) │          │              │       │               │          │                 │         │         │          │      │          │            │
    │      omega-tree │     1272 │          7.4 │   32% │         24668 │    0.881 │           0.636 │   0.919 │   0.886 │      173 │ 10.3 │        — │          — │
    │    (k=8, budget │          │              │       │               │          │                 │         │         │          │      │          │            │
    │            64)* │          │              │       │               │          │                 │         │         │          │      │          │            │
    │       rest-mcts │     1006 │         27.2 │   25% │          9233 │    0.574 │           0.730 │   0.690 │   0.476 │       37 │  3.6 │        — │          — │
    │         (N=32)* │          │              │       │               │          │                 │         │         │          │      │          │            │
    └─────────────────┴──────────┴──────────────┴───────┴───────────────┴──────────┴─────────────────┴─────────┴─────────┴──────────┴──────┴──────────┴────────────┘
    PRM columns: a token-cls PRM trained on each label set (demo recipe: hard labels, 6 epochs, lr 1e-3), judged on 100 held-out problems x 16 solutions (T=1.0,
    pass@1 42.9%); F1 at each set's own validation-picked threshold (else at 0.5), weighted vote on min-aggregated scores. Reference: majority 53.0 [43.0, 62.0],
    exact oracle weighted 85.0 [78.0, 91.0]. 95 % bootstrap intervals over problems: mc F1 33.8@0.5 (threshold —), wtd 51.0 [42.0, 60.0]; omegaprm F1 28.9@0.5
    (threshold —), wtd 54.0 [44.0, 63.0]; rpe F1 32.7@0.5 (threshold —), wtd 52.0 [43.0, 61.0]; pav F1 11.0@0.5 (threshold —), wtd 53.0 [43.0, 62.0]; spare F1
    30.1@0.5 (threshold —), wtd 55.0 [46.0, 65.0]; mc@budget F1 31.5@0.5 (threshold —), wtd 53.0 [44.0, 62.0]; rpe@budget F1 23.6@0.5 (threshold —), wtd 55.0 [46.0,
    64.0]; pav@budget F1 0.0@0.5 (threshold —), wtd 52.0 [42.0, 62.0]. Sampling 8s, training + judging 77s.
    * omega-tree and rest-mcts label their own trees' solutions (different ones); 'labelled' counts them, and an omega-tree search the budget cut short (first error
    unknown) counts as a first-error miss.
    ppm-pairs*: 8 pairs from 1006 rollouts (9233 policy tokens, 3.3s); the exact checker agrees (chosen right so far, rejected wrong) with step 3/4 (75%), final 3/4
    (75%)
    wrong P / R: precision and recall of the steps a method calls wrong (prefix broken: at or after its first error) against the exact ones.
    equal rollouts (~1304): best omegaprm first-error accuracy 0.758 vs mc@budget 0.594: +16.4 points; at n=8: rpe 0.539, pav 0.547 vs mc 0.719
    spare (0 rollouts, the reference solution instead) first-error accuracy 1.000: +40.6 points over mc@budget, +28.1 over mc (n=8)
    OmegaPRM first-error accuracy 0.758 vs MC 0.719 with 33% of MC's rollouts: claim (>= MC accuracy with <= 40% rollouts) holds; total 249s

What it means: at equal rollouts (~1.3k, a third of MC's n=8) OmegaPRM's binary search beats MC cut
to the same budget by +16.4 points of first-error accuracy (0.758 vs 0.594) and even MC at three
times its rollouts (0.719); RPE and PAV do not beat MC at either budget (pav@budget +1.5 points, rpe
below; RPE calls too many steps wrong: wrong-step recall 0.98, precision 0.58-0.66). SPARE's 1.000 is a ceiling
effect: arith has one reference path and this policy's errors are arithmetic slips, so aligning a
step with the reference *is* the exact check; it says nothing about tasks with many valid
solutions. By weighted vote the PRMs trained on the label sets cannot be told apart: weighted@16
51-55 % against majority vote's 53 % [43, 62] with every interval about +-9 points wide, far from the oracle's 85 %;
128 labelled solutions (24 optimizer steps) teach this recipe little, and the validation split (3
problems, 12 solutions, all right by the exact check) could pick no threshold, so every F1 is at 0.5
(0-34, lowest for the two PAV sets; no interval at 0.5, so that order is not established).
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
    parser.add_argument(
        "--train", action=argparse.BooleanOptionalAction, default=True,
        help="train a PRM on each label set and judge it on held-out solutions (--no-train skips the PRM columns)",
    )
    parser.add_argument("--held-out", type=int, default=100, help="held-out test problems the trained PRMs are judged on")
    parser.add_argument("--bon-n", type=int, default=16, help="solutions sampled per held-out problem (weighted vote @N)")
    parser.add_argument("--work", default=None, help="folder for label files and PRM checkpoints (default: a temporary one)")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    keep_freed_memory()  # CPU tensors reuse freed memory instead of re-faulting pages (prmkit._memory)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    console = Console(width=160)  # the table must not fold when piped to a file
    policy = resolve_policy(args.policy)
    if not Path(policy).is_dir():
        raise SystemExit(f"no policy checkpoint at {policy}; train one with `prmkit train policy` and pass --policy DIR")
    # the held-out problems come after the labelled ones in the test split (the first ones do not depend on num_test)
    held = args.held_out if args.train else 0
    task = ArithTask(difficulty=args.difficulty, num_test=max(args.problems + held, 1), num_train=max(args.problems, 1))
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
    label_sets: dict[str, list] = {}  # row name -> records on the shared solutions (what a PRM is trained on)

    def measure(name: str, annotator, work, shared: bool = True) -> object:  # type: ignore[no-untyped-def]
        begin = time.perf_counter()
        records = annotator.annotate(work)
        result = agreement(task, records)
        result.rollouts = annotator.roller.rollouts  # every rollout spent, also those behind no record
        rows.append((name, result, time.perf_counter() - begin, annotator.roller.tokens, _wrong_steps(task, records)))
        if shared:
            label_sets[name] = records
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
        measure(f"omega-tree (k={args.n}, budget {args.budget})*", tree, [AnnotationUnit(p) for p in problems], shared=False)
        tree_common = {"temperature": args.temperature, "max_new_tokens": args.max_new_tokens, "seed": args.seed, "n": args.tree_n}
        measure(
            f"rest-mcts (N={args.tree_n})*", RestMCTSAnnotator(generator, task, **tree_common),
            [AnnotationUnit(p) for p in problems], shared=False,
        )
        ppm = PPMPairsAnnotator(generator, task, **tree_common)
        begin = time.perf_counter()
        pairs = ppm.annotate([AnnotationUnit(p) for p in problems])
        pair_line = _pair_agreement(task, pairs, ppm.roller.rollouts, ppm.roller.tokens, time.perf_counter() - begin)

    trained: dict[str, dict] = {}
    if args.train:
        held_out = _held_out_problems(task, problems, args.held_out)
        trained = _train_and_judge(args, policy, task, generator, held_out, label_sets)

    table = Table(title=f"arith ({args.difficulty}): labels vs exact first error, {len(flat)} sampled solutions")
    columns = ("annotator", "rollouts", "per solution", "vs mc", "policy tokens", "step acc", "first-error acc",
               "wrong P", "wrong R", "labelled", "s")  # fmt: skip
    if args.train:
        columns += ("PRM F1", f"PRM wtd@{args.bon_n}")
    for column in columns:
        table.add_column(column, justify="right")
    for name, result, seconds, tokens, (precision, recall) in rows:
        prm = [_f1_cell(trained[name]), _cell(trained[name]["weighted"])] if name in trained else ["—", "—"]
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
            *(prm if args.train else []),
        )
    console.print(table)
    if args.train:
        console.print(_prm_note(trained, args))
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


def _held_out_problems(task: ArithTask, labelled, count: int) -> list:  # type: ignore[no-untyped-def]
    """The first ``count`` test problems whose question is not among ``labelled`` (the PRMs never train on them)."""
    questions = {p.question for p in labelled}
    return [p for p in task.problems("test") if p.question not in questions][:count]


def _train_and_judge(args: argparse.Namespace, policy: str, task: ArithTask, generator, held_out, label_sets) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Train one PRM per label set with the demo's recipe and judge each on the same held-out solutions.

    Returns ``{row name: {"f1" | "weighted" | "best" | "majority": {"value", "low", "high"}, "threshold": t}}``
    (percent; ``"oracle"`` added: the exact oracle on the same candidates), as ``prmkit.demo`` computes them.
    """
    import tempfile

    from prmkit.demo import DemoConfig, _compare, _judge, _sample_held_out, _train_prm, _validation_split
    from prmkit.io._jsonl import write_jsonl

    recipe = DemoConfig(policy=args.policy, bon_n=args.bon_n, test_problems=max(len(held_out), 1),
                        temperature=args.temperature, seed=args.seed, threads=max(args.threads, 1))
    begin = time.perf_counter()
    evaluation = _sample_held_out(recipe, task, generator, held_out)
    sampled = time.perf_counter() - begin
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.work or scratch)
        validations = {}
        for index, (name, records) in enumerate(label_sets.items()):
            folder = work / f"set{index}"
            folder.mkdir(parents=True, exist_ok=True)
            write_jsonl(folder / "labels.jsonl", (r.to_dict() for r in records))
            prm = _train_prm(recipe, policy, folder / "labels.jsonl", folder / "prm")
            validations[name] = _validation_split(recipe, folder / "labels.jsonl")
            _judge(evaluation, name, "token-cls", {"path": str(prm)}, validations[name], [], folder)
        first = next(iter(validations.values()), [])
        _judge(evaluation, "oracle", "arith-oracle", {}, first, [], work)
        thresholds = {name: found["threshold"] for name, found in evaluation["f1_val_threshold"].items()}
        at_half = {name: found["f1"] for name, found in evaluation["f1"].items()}
        pass_at_1 = evaluation["pass_at_1"]
        result = _compare(evaluation, args.seed)["comparison"]
    for name, found in result.items():
        found["threshold"], found["f1_at_0.5"] = thresholds[name], at_half[name]
    result["_meta"] = {"problems": len(held_out), "pass_at_1": pass_at_1, "sampled_s": sampled,
                       "seconds": time.perf_counter() - begin}
    return result


def _cell(found: dict[str, float]) -> str:
    """``61.3`` (``—`` where undefined)."""
    return "—" if found["value"] != found["value"] else f"{found['value']:.1f}"


def _f1_cell(found: dict) -> str:
    """F1 at the validation-picked threshold, or at 0.5 (marked) where validation could not pick one."""
    if found["threshold"] is not None:
        return _cell(found["f1"])
    half = found["f1_at_0.5"]
    return "—" if half != half else f"{half:.1f}@0.5"


def _interval(found: dict[str, float]) -> str:
    return "—" if found["value"] != found["value"] else f"{found['value']:.1f} [{found['low']:.1f}, {found['high']:.1f}]"


def _prm_note(trained: dict[str, dict], args: argparse.Namespace) -> str:
    """The PRM columns' protocol, their 95 % intervals and the majority / oracle references."""
    meta = trained["_meta"]
    reference = next(v for k, v in trained.items() if k != "_meta")
    rows = [(k, v) for k, v in trained.items() if k not in ("_meta", "oracle")]
    def threshold(found: dict) -> str:
        return "—" if found["threshold"] is None else f"{found['threshold']:.2f}"

    intervals = "; ".join(
        f"{name.split(' ')[0]} F1 {_interval(v['f1']) if v['threshold'] is not None else _f1_cell(v)} "
        f"(threshold {threshold(v)}), wtd {_interval(v['weighted'])}"
        for name, v in rows
    )
    return (
        f"PRM columns: a token-cls PRM trained on each label set (demo recipe: hard labels, 6 epochs, lr 1e-3), judged on "
        f"{meta['problems']} held-out problems x {args.bon_n} solutions (T={args.temperature}, pass@1 {meta['pass_at_1']:.1f}%); "
        f"F1 at each set's own validation-picked threshold (else at 0.5), weighted vote on min-aggregated scores. Reference: majority "
        f"{_interval(reference['majority'])}, exact oracle weighted {_interval(trained['oracle']['weighted'])}. "
        f"95 % bootstrap intervals over problems: {intervals}. Sampling {meta['sampled_s']:.0f}s, training + judging "
        f"{meta['seconds'] - meta['sampled_s']:.0f}s."
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
