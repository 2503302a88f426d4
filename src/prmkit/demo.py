"""``prmkit demo``: the whole PRM life cycle on the arith task, on a CPU, in minutes.

Why it exists: before anyone spends GPU hours, they can watch every stage of prmkit work end to end
through the same code paths real models use (a transformers policy behind the ``Generator``
protocol, HF-format PRM checkpoints behind ``load_scorer``), and check each claim against the
exact truth that only the arith world provides:

1. **policy** — the shipped tiny arith policy (or, with ``from_scratch``, one trained now).
2. **labels** — sample solutions to training problems; label their steps with Math-Shepherd Monte
   Carlo (per step) and with OmegaPRM binary search; score both against the exact labels.
3. **prm** — train a token-classification PRM on the *MC* labels (never on exact labels).
4. **implicit** — train an implicit PRM from outcome labels only (optional).
5. **evaluate** — on held-out problems: ProcessBench-style F1 of each PRM (and of the exact oracle)
   on the policy's own solutions, and best-of-N at N = ``bon_n``: majority vote, PRM best-of-N,
   PRM-weighted vote, oracle-weighted vote.
6. **report** — ``report.md``, ``metrics.json`` (flat dotted keys, numbers in percent) and PNG plots
   in ``out``; labelling shards resume if the run is interrupted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from prmkit.train._config import help_text
from prmkit.types import LabelledSolution, Problem, Solution

__all__ = ["DemoConfig", "run_demo"]


@dataclass
class DemoConfig:
    """Settings of :func:`run_demo`; the defaults finish in about 6 minutes on a 2-core CPU (limit: 10)."""

    out: str = field(default="prmkit-demo", metadata=help_text("Output folder (report.md, metrics.json, plots, checkpoints)."))
    policy: str = field(default="demo", metadata=help_text("Policy checkpoint dir; 'demo' = the one shipped with prmkit."))
    from_scratch: bool = field(default=False, metadata=help_text("Train the policy now instead of using the shipped one (~15-30 min)."))
    label_problems: int = field(default=256, metadata=help_text("Training problems whose sampled solutions are labelled."))
    samples: int = field(default=4, metadata=help_text("Solutions sampled per labelled problem."))
    rollouts: int = field(default=8, metadata=help_text("Monte Carlo rollouts per estimate (MC per step; OmegaPRM per probe)."))
    test_problems: int = field(default=200, metadata=help_text("Held-out problems for evaluation."))
    bon_n: int = field(default=16, metadata=help_text("Candidates per held-out problem for best-of-N."))
    temperature: float = field(default=1.0, metadata=help_text("Sampling temperature of the solutions that are labelled and evaluated."))
    rollout_temperature: float = field(default=0.7, metadata=help_text("Sampling temperature of labelling rollouts (fewer unlucky all-fail prefixes)."))
    prm_label_mode: str = field(default="hard", metadata=help_text("PRM loss on MC labels: 'hard' (Math-Shepherd: any rollout right) or 'soft' (BCE on the MC fraction)."))
    prm_epochs: float = field(default=6.0, metadata=help_text("PRM training epochs over the MC-labelled solutions."))
    prm_learning_rate: float = field(default=1e-3, metadata=help_text("PRM peak learning rate."))
    implicit: bool = field(default=True, metadata=help_text("Also train and evaluate an implicit PRM from outcome labels."))
    implicit_epochs: float = field(default=2.0, metadata=help_text("Implicit PRM training epochs."))
    threads: int = field(default=1, metadata=help_text("torch CPU threads; tiny models run fastest single-threaded."))
    seed: int = field(default=0, metadata=help_text("Seed of problems, sampling and training."))
    progress: bool = field(default=True, metadata=help_text("Show progress bars."))

    def __post_init__(self) -> None:
        errors = [f"{name} must be >= 1 (got {getattr(self, name)})"
                  for name in ("label_problems", "samples", "rollouts", "test_problems", "bon_n", "threads")
                  if getattr(self, name) < 1]
        errors += [f"{name} must be > 0 (got {getattr(self, name)})"
                   for name in ("prm_epochs", "implicit_epochs", "prm_learning_rate") if getattr(self, name) <= 0]
        if self.prm_label_mode not in ("hard", "soft"):
            errors.append(f"prm_label_mode must be 'hard' or 'soft' (got {self.prm_label_mode!r})")
        if self.temperature <= 0 or self.rollout_temperature <= 0:
            errors.append("temperature and rollout_temperature must be > 0 (the demo samples)")
        if errors:
            raise ValueError("invalid DemoConfig: " + "; ".join(errors))


def run_demo(config: DemoConfig) -> dict[str, Any]:
    """Run the demo; return the metrics written to ``metrics.json``."""
    import torch

    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    stage_started_at: dict[str, float] = {}  # seconds since the start at which each stage began

    def stage(name: str, message: str) -> None:
        stage_started_at[name] = time.perf_counter() - started
        console.rule(f"[bold]{message}[/bold]  (at {stage_started_at[name]:.0f} s)")

    from prmkit._provenance import provenance
    from prmkit.evaluate._report import json_safe, write_result
    from prmkit.generation import load_generator
    from prmkit.tasks.arith import ArithTask

    stage("policy", "1/6 policy")
    policy = _policy(config, out)
    task = ArithTask(difficulty="demo", num_train=max(config.label_problems, 1), num_test=max(config.test_problems, 1), seed=config.seed)
    generator = load_generator("transformers", model=policy, num_threads=config.threads, progress=config.progress)
    train_problems = task.problems("train")[: config.label_problems]
    test_problems = task.problems("test")[: config.test_problems]

    stage("labels", "2/6 automatic process labels (MC, OmegaPRM)")
    labels = _label(config, task, generator, train_problems, out / "labels", policy)

    stage("prm", "3/6 train a PRM on the MC labels")
    prm_path = _train_prm(config, policy, labels["mc_file"], out / "prm")

    if config.implicit:
        stage("implicit", "4/6 train an implicit PRM from outcome labels only")
        implicit_path = _train_implicit(config, policy, labels["mc_file"], out / "implicit")

    stage("evaluate", "5/6 evaluate on held-out problems")
    scorers = {"prm": ("token-cls", {"path": str(prm_path)}), "oracle": ("arith-oracle", {})}
    if config.implicit:
        scorers["implicit"] = ("implicit", {"path": str(implicit_path)})
    evaluation = _evaluate(config, task, generator, test_problems, scorers, _validation_split(config, labels["mc_file"]), out)

    stage("report", "6/6 report")
    metrics = {
        "policy_pass_at_1": evaluation["pass_at_1"],
        **{f"labels.{name}.{key}": value for name, stats in labels["agreement"].items() for key, value in stats.items()},
        **{f"{name}.processbench_f1": evaluation["f1"][name]["f1"] for name in scorers},
        **{f"{name}.processbench_f1_val_threshold": evaluation["f1_val_threshold"][name]["f1"] for name in scorers},
        **{f"{name}.val_threshold": evaluation["f1_val_threshold"][name]["threshold"] for name in scorers},
        "bon.n": evaluation["bon"]["n"],
        "bon.majority": evaluation["bon"]["majority"],
        **{f"bon.{key}": value for key, value in evaluation["bon"].items() if key.endswith(("_best", "_weighted"))},
        "bon.pass_at_n": evaluation["bon"]["pass_at_n"],
        "bon.gap_closed": evaluation["bon"]["gap_closed"],
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    details = {"config": asdict(config), "stage_started_at_s": stage_started_at, "evaluation": evaluation, "labels": labels["agreement"],
               "versions": {**provenance(), "torch": torch.__version__}}
    metrics = json_safe(metrics)  # NaN (e.g. an F1 with no erroneous solutions to judge) -> null
    write_result(out / "metrics.json", metrics)
    write_result(out / "details.json", details)
    plots = _plots(evaluation, labels["agreement"], out)
    report = _report(metrics, evaluation, labels["agreement"], plots, config)
    (out / "report.md").write_text(report)
    console.print(report, markup=False, highlight=False)
    console.print(f"[green]done in {metrics['elapsed_seconds']:.0f} s[/green]: {out / 'report.md'}, {out / 'metrics.json'}, "
                  + ", ".join(str(p) for p in plots))
    return metrics


def _policy(config: DemoConfig, out: Path) -> str:
    if config.from_scratch:
        from prmkit.train.policy import PolicyConfig, train_policy

        return str(train_policy(PolicyConfig(output_dir=str(out / "policy"), seed=config.seed, num_threads=config.threads,
                                             progress=config.progress)))
    from prmkit.tasks.arith import resolve_policy

    return resolve_policy(config.policy)


def _weights_digest(policy: str) -> str:
    """Short sha256 of the policy's weight files (identifies the policy across paths)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(policy).glob("*.safetensors")) + sorted(Path(policy).glob("*.bin")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _label(
    config: DemoConfig, task: Any, generator: Any, problems: Sequence[Problem], out: Path, policy: str
) -> dict[str, Any]:
    """Sample solutions once, label the same solutions with MC and with OmegaPRM (resumable shards)."""
    from prmkit.annotate import AnnotationUnit, MCAnnotator, OmegaPRMAnnotator, SolutionSampler, agreement, run_sharded
    from prmkit.io._jsonl import read_jsonl, write_jsonl

    sampler = SolutionSampler(generator, task, samples=config.samples, temperature=config.temperature, seed=config.seed)
    # what determines the labels besides the annotator settings: resuming with another policy is refused
    job = {"policy": str(Path(policy).resolve()), "policy_weights": _weights_digest(policy), "task": "arith",
           "difficulty": "demo", "seed": config.seed, "split": "train", "problems": len(problems)}
    job.update(sampler.config_dict())
    # sample once: MC and OmegaPRM label the very same solutions (deterministic per seed, so a resumed
    # run labels what an uninterrupted one would)
    units = [AnnotationUnit(p, sols) for p, sols in zip(problems, sampler(problems))]
    common = {"n": config.rollouts, "temperature": config.rollout_temperature, "seed": config.seed, "max_new_tokens": 160}
    annotators = {
        "mc": MCAnnotator(generator, task, labels=config.prm_label_mode, **common),
        "omegaprm": OmegaPRMAnnotator(generator, task, mode="solution", **common),
    }
    stats: dict[str, dict[str, float]] = {}
    result: dict[str, Any] = {}
    for name, annotator in annotators.items():
        run = run_sharded(annotator, units, out / name, progress=config.progress, job=job)
        records = [LabelledSolution.from_dict(r) for shard in run.shards for _, r in read_jsonl(shard)]
        # Math-Shepherd hard semantics for both: a step is labelled correct when any rollout from it
        # reached the answer (label > 0), so soft MC fractions and hard labels are compared alike.
        found = agreement(task, records, threshold=1e-9)
        stats[name] = {
            "first_error_accuracy": round(100.0 * found.first_error_accuracy, 2),
            "step_accuracy": round(100.0 * found.step_accuracy, 2),
            "rollouts": run.rollouts,
            "solutions": found.solutions,
            "rollouts_per_solution": round(found.rollouts_per_solution, 2),
        }
        merged = out / f"{name}.jsonl"
        write_jsonl(merged, (r.to_dict() for r in records))
        result[f"{name}_file"] = merged
    result["agreement"] = stats
    return result


def _train_prm(config: DemoConfig, policy: str, train_file: Path, out: Path) -> Path:
    from prmkit.train.prm import PRMTrainConfig, train_prm

    return Path(train_prm(PRMTrainConfig(
        train_file=str(train_file), base_model=policy, output_dir=str(out), label_mode=config.prm_label_mode,
        num_epochs=config.prm_epochs, learning_rate=config.prm_learning_rate, batch_size=32, eval_every=50,
        metric="f1", seed=config.seed,
    )))


def _train_implicit(config: DemoConfig, policy: str, train_file: Path, out: Path) -> Path:
    from prmkit.train.implicit import ImplicitTrainConfig, train_implicit

    return Path(train_implicit(ImplicitTrainConfig(
        train_file=str(train_file), base_model=policy, output_dir=str(out), num_epochs=config.implicit_epochs,
        learning_rate=1e-4, batch_size=16, eval_every=50, seed=config.seed,
    )))


def _validation_split(config: DemoConfig, mc_file: Path) -> list[LabelledSolution]:
    """The MC-labelled solutions the PRM trainers held out (same split: their ``val_fraction``, the demo's seed)."""
    from prmkit.train._config import load_train_val
    from prmkit.train.prm import PRMTrainConfig

    return load_train_val(PRMTrainConfig(train_file=str(mc_file), base_model="", output_dir="", seed=config.seed))[1]


def _validation_threshold(scorer: Any, records: Sequence[LabelledSolution]) -> float | None:
    """The F1-maximising threshold on MC-labelled validation solutions; ``None`` when F1 is undefined
    there (no solution, or only correct or only erroneous ones), so that no made-up value is reported.

    ProcessBench tunes a scalar PRM's threshold on held-out labelled data (its GSM8K subset); here
    the only labels available before testing are the MC labels of the trainers' validation split,
    read with Math-Shepherd hard semantics (first step no rollout recovered from = first error).
    """
    import math

    from prmkit.evaluate.processbench import best_threshold
    from prmkit.types import first_error_from_labels

    known = [r for r in records if r.labels is not None]
    gold = [first_error_from_labels(list(r.labels.labels), threshold=1e-9) for r in known]
    kept = [(g, r) for g, r in zip(gold, known) if g is not None]
    if not kept:
        return None
    scores = scorer.score([(r.problem.question, r.solution.steps) for _, r in kept])
    threshold, _ = best_threshold([g for g, _ in kept], scores)
    return None if math.isnan(threshold) else threshold


def _evaluate(
    config: DemoConfig, task: Any, generator: Any, problems: Sequence[Problem],
    scorers: dict[str, tuple[str, dict[str, Any]]], validation: Sequence[LabelledSolution], out: Path,
) -> dict[str, Any]:
    """Sample ``bon_n`` solutions per held-out problem; score them with every PRM; compute the metrics.

    F1 is reported at the fixed threshold 0.5 and at each scorer's threshold picked on ``validation``
    (MC labels, never the held-out solutions).
    """
    import math

    from prmkit.annotate import SolutionSampler
    from prmkit.evaluate.bon import bon_record, evaluate, write_bon
    from prmkit.metrics import first_error_prediction, processbench_f1
    from prmkit.models import load_scorer

    sampler = SolutionSampler(generator, task, samples=config.bon_n, temperature=config.temperature, seed=config.seed + 1)
    solutions: list[list[Solution]] = sampler(problems)
    flat = [(p, s) for p, sols in zip(problems, solutions) for s in sols]
    gold = [task.first_error(p, s.steps) for p, s in flat]
    result: dict[str, Any] = {"solutions": len(flat), "f1": {}, "f1_val_threshold": {}, "bon_curves": {}}
    result["pass_at_1"] = round(100.0 * sum(bool(s.correct) for _, s in flat) / max(1, config.bon_n * len(problems)), 2)
    bon: dict[str, Any] = {}
    gain_over_majority: dict[str, float] = {}  # each scorer's weighted vote minus majority vote at N, unrounded
    for name, (family, options) in scorers.items():
        scorer = load_scorer(family, **options)
        scores = scorer.score([(p.question, s.steps) for p, s in flat])
        predicted = [first_error_prediction(row) for row in scores]
        result["f1"][name] = {k: round(v, 2) for k, v in processbench_f1(gold, predicted).items()}
        threshold = _validation_threshold(scorer, validation)
        if threshold is None:  # nothing to tune on: no number rather than 0.5 dressed up as a tuned one
            result["f1_val_threshold"][name] = {"error_acc": math.nan, "correct_acc": math.nan, "f1": math.nan, "threshold": None}
        else:
            predicted = [first_error_prediction(row, threshold) for row in scores]
            tuned = {k: round(v, 2) for k, v in processbench_f1(gold, predicted).items()}
            result["f1_val_threshold"][name] = {**tuned, "threshold": round(threshold, 4)}
        cursor = iter(scores)
        records = [bon_record(p, sols, [next(cursor) for _ in sols]) for p, sols in zip(problems, solutions)]
        write_bon(out / f"bon_{name}.jsonl", records)
        curves = evaluate(records, aggregations=("min",), progress=False)
        result["bon_curves"][name] = curves
        top = str(curves["n"])
        bon[f"{name}_best"] = round(curves["best_of_k"]["min"][top], 2)
        bon[f"{name}_weighted"] = round(curves["weighted_vote@k"]["min"][top], 2)
        bon["majority"] = round(curves["majority@k"][top], 2)
        bon["pass_at_n"] = round(curves["pass@k"][top], 2)
        bon["n"] = curves["n"]
        gain_over_majority[name] = curves["weighted_vote@k"]["min"][top] - curves["majority@k"][top]
    gap = gain_over_majority.get("oracle", math.nan)
    bon["gap_closed"] = round(100.0 * gain_over_majority.get("prm", math.nan) / gap, 1) if gap > 0 else None
    result["bon"] = bon
    return result


def _plots(evaluation: dict[str, Any], agreement: dict[str, dict[str, float]], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = evaluation["bon_curves"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    any_curve = next(iter(curves.values()))
    ks = [int(k) for k in any_curve["majority@k"]]
    ax.plot(ks, [any_curve["pass@k"][str(k)] for k in ks], "k:", label="pass@k (any correct)")
    ax.plot(ks, [any_curve["majority@k"][str(k)] for k in ks], "o-", label="majority vote")
    for name, curve in curves.items():
        ax.plot(ks, [curve["weighted_vote@k"]["min"][str(k)] for k in ks], "s-", label=f"{name}-weighted vote")
        ax.plot(ks, [curve["best_of_k"]["min"][str(k)] for k in ks], "^--", label=f"{name} best-of-N", alpha=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("N (candidates per problem)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("arith, held-out problems: best-of-N with PRMs")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    bon_png = out / "bon.png"
    fig.savefig(bon_png, dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, stats in agreement.items():
        ax.scatter(stats["rollouts_per_solution"], stats["first_error_accuracy"], s=60)
        ax.annotate(name, (stats["rollouts_per_solution"], stats["first_error_accuracy"]), textcoords="offset points", xytext=(6, 4))
    ax.set_xlabel("rollouts per labelled solution")
    ax.set_ylabel("first-error accuracy vs exact labels (%)")
    ax.set_title("automatic labels: quality vs cost")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    labels_png = out / "labels.png"
    fig.savefig(labels_png, dpi=120)
    plt.close(fig)
    return [bon_png, labels_png]


def _report(
    metrics: dict[str, Any], evaluation: dict[str, Any], agreement: dict[str, dict[str, float]],
    plots: Sequence[Path], config: DemoConfig,
) -> str:
    lines = [
        "# prmkit demo — the PRM life cycle on arith",
        "",
        f"Policy pass@1 on held-out problems: **{metrics['policy_pass_at_1']:.1f}%** "
        f"(T={config.temperature}, {evaluation['solutions']} solutions). Elapsed: {metrics['elapsed_seconds']:.0f} s.",
        "",
        "## Automatic process labels vs the exact labels",
        "",
        "| annotator | rollouts | rollouts / solution | first-error acc. % | step acc. % |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s in agreement.items():
        lines.append(f"| {name} | {s['rollouts']} | {_cell(s['rollouts_per_solution'])} | {_cell(s['first_error_accuracy'])} "
                     f"| {_cell(s['step_accuracy'])} |")
    lines += ["", "## ProcessBench-style F1 on the policy's own held-out solutions", "",
              "`prm` is the token-classification PRM trained on the MC labels; `implicit` learned from outcomes only. "
              "F1 at the fixed threshold 0.5, and at the threshold that maximises F1 on the MC-labelled validation "
              "split (picked before testing; the held-out solutions are never used to pick it; — where F1 is "
              "undefined on that split).", "",
              "| scorer | error acc. % @ 0.5 | correct acc. % @ 0.5 | F1 @ 0.5 | val. threshold | F1 @ val. threshold |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, f1 in evaluation["f1"].items():
        tuned = evaluation["f1_val_threshold"][name]
        lines.append(f"| {name} | {_cell(f1['error_acc'])} | {_cell(f1['correct_acc'])} | {_cell(f1['f1'])} "
                     f"| {_cell(tuned['threshold'], 3)} | {_cell(tuned['f1'])} |")
    bon = evaluation["bon"]
    lines += ["", f"## Best-of-N at N = {bon['n']} (min-aggregated step scores)", "",
              "| selection | accuracy % |", "|---|---:|", f"| majority vote | {_cell(bon['majority'])} |"]
    for name in evaluation["f1"]:
        label = {"prm": "PRM (MC labels)", "implicit": "implicit PRM"}.get(name, name)
        lines += [f"| {label} best-of-N | {_cell(bon[f'{name}_best'])} |",
                  f"| {label}-weighted vote | {_cell(bon[f'{name}_weighted'])} |"]
    lines += [f"| pass@N (any correct) | {_cell(bon['pass_at_n'])} |", ""]
    headroom = bon["oracle_weighted"] - bon["majority"]
    if bon["gap_closed"] is None:
        lines.append(f"No headroom: the oracle-weighted vote is not above majority vote ({headroom:+.1f} points).")
    elif bon["gap_closed"] >= 0:
        lines.append(f"The PRM-weighted vote closes **{bon['gap_closed']}%** of the {headroom:.1f}-point gap between "
                     "majority vote and the oracle-weighted vote.")
    else:
        lines.append(f"The PRM-weighted vote is **{bon['majority'] - bon['prm_weighted']:.1f} points below** majority "
                     f"vote (gap closed: {bon['gap_closed']}%), while the oracle-weighted vote shows "
                     f"{headroom:.1f} points of headroom.")
    lines += ["", *[f"![{p.stem}]({p.name})" for p in plots], ""]
    return "\n".join(lines)


def _cell(value: float | None, digits: int = 1) -> str:
    """A report table cell: ``—`` for a missing or undefined (NaN) number, else rounded."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"
