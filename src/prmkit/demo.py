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
5. **verifier** — a likelihood verifier (:mod:`prmkit.train.verifier`): the policy taught more
   arithmetic by expert-iteration rounds on its own outcome-correct samples, read by its token
   log-probs. It trains in a second process from the start (stages 2-4 use one core, it the other),
   then is calibrated on the MC-labelled validation split.
6. **evaluate** — on held-out problems, every verifier on the same ``bon_n`` solutions per problem:
   ProcessBench-style F1, PRM-weighted vote and best-of-N with 95 % bootstrap intervals, next to
   majority vote, the self-certainty baseline (the untrained policy's own likelihood) and the exact
   oracle; the best trained verifier is named (picked on an outcome-labelled selection split).
7. **report** — ``report.md``, ``report.html`` (the report with its plots inlined and a
   :mod:`prmkit.view` of sampled held-out solutions scored by every verifier), ``metrics.json``
   (flat dotted keys, numbers in percent) and PNG plots (95 % bootstrap intervals) in ``out``;
   labelling shards resume if the run is interrupted.

The protocol is fixed before any held-out number is seen: thresholds (F1) are picked on the
MC-labelled validation split, calibrations are fitted there, the verifier's round and the best
trained verifier are chosen on the selection split (problems disjoint from the training and held-out
ones, outcome labels only), and weighted vote / best-of-N use min-aggregated step scores.
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

__all__ = ["DemoConfig", "run_demo", "replot"]


@dataclass
class DemoConfig:
    """Settings of :func:`run_demo`; the defaults are sized for a 2-core CPU (the last default run took 362 s
    on one: labelling 187 s and the other stages 175 s on one core, the verifier 336 s on the other)."""

    out: str = field(default="prmkit-demo", metadata=help_text("Output folder (report.md, report.html, metrics.json, plots, checkpoints)."))
    policy: str = field(default="demo", metadata=help_text("Policy checkpoint dir; 'demo' = the one shipped with prmkit."))
    from_scratch: bool = field(default=False, metadata=help_text("Train the policy now instead of using the shipped one (~15-30 min)."))
    label_problems: int = field(default=128, metadata=help_text("Training problems whose sampled solutions are labelled."))
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
    verdict_epochs: float = field(default=4.0, metadata=help_text("Generative verdict PRM training epochs over the MC-labelled solutions."))
    omegaprm_rollouts: int = field(default=10, metadata=help_text("Rollouts per OmegaPRM probe (MC uses `rollouts` per step)."))
    verifier_problems: int = field(default=4096, metadata=help_text("Fresh training problems per expert-iteration round of the likelihood verifier."))
    verifier_rounds: int = field(default=1, metadata=help_text("Expert-iteration rounds (each samples from the newest verifier)."))
    verifier_samples: int = field(default=4, metadata=help_text("Solutions sampled per problem in the first round (T = verifier_temperature)."))
    verifier_sample_growth: float = field(default=1.0, metadata=help_text("Each later round samples this many times as many solutions per problem."))
    verifier_retry_samples: int = field(default=8, metadata=help_text("More samples for each problem whose first samples were all wrong (the facts the policy gets wrong confidently live there; 0 = none)."))
    verifier_retry_temperature: float = field(default=1.5, metadata=help_text("Sampling temperature of those retries (hotter: avoiding a confident mistake takes luck)."))
    verifier_epochs: float = field(default=2.0, metadata=help_text("Epochs over each round's kept solutions."))
    verifier_learning_rate: float = field(default=1e-3, metadata=help_text("Verifier peak learning rate."))
    verifier_temperature: float = field(default=0.7, metadata=help_text("Sampling temperature of the verifier's rounds."))
    verifier_fresh_problems: bool = field(default=True, metadata=help_text("Each verifier round takes new problems (else re-samples the first round's)."))
    verifier_distinct: bool = field(default=False, metadata=help_text("Keep each problem's distinct correct texts once (else every correct sample)."))
    selection_problems: int = field(default=128, metadata=help_text("Problems of the outcome-labelled selection split (8 solutions each) that pick the verifier's round and the best verifier."))
    parallel: bool = field(default=True, metadata=help_text("Train the verifier in a second process while labelling (uses a second core)."))
    threads: int = field(default=1, metadata=help_text("torch CPU threads; tiny models run fastest single-threaded."))
    seed: int = field(default=0, metadata=help_text("Seed of problems, sampling and training."))
    progress: bool = field(default=True, metadata=help_text("Show progress bars."))

    def __post_init__(self) -> None:
        errors = [f"{name} must be >= 1 (got {getattr(self, name)})"
                  for name in ("label_problems", "samples", "rollouts", "test_problems", "bon_n", "threads",
                               "verifier_problems", "verifier_rounds", "verifier_samples", "selection_problems",
                               "omegaprm_rollouts")
                  if getattr(self, name) < 1]
        errors += [f"{name} must be > 0 (got {getattr(self, name)})"
                   for name in ("prm_epochs", "implicit_epochs", "verdict_epochs", "prm_learning_rate", "verifier_epochs", "verifier_learning_rate")
                   if getattr(self, name) <= 0]
        if self.verifier_retry_samples < 0:
            errors.append(f"verifier_retry_samples must be >= 0 (got {self.verifier_retry_samples})")
        if self.verifier_sample_growth < 1:
            errors.append(f"verifier_sample_growth must be >= 1 (got {self.verifier_sample_growth})")
        if self.prm_label_mode not in ("hard", "soft"):
            errors.append(f"prm_label_mode must be 'hard' or 'soft' (got {self.prm_label_mode!r})")
        if min(self.temperature, self.rollout_temperature, self.verifier_temperature, self.verifier_retry_temperature) <= 0:
            errors.append("temperature, rollout_temperature, verifier_temperature and verifier_retry_temperature must be > 0 (the demo samples)")
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

    stage("policy", "1/8 policy")
    policy = _policy(config, out)
    task = ArithTask(difficulty="demo", num_train=max(config.label_problems, 1), num_test=max(config.test_problems, 1), seed=config.seed)
    generator = load_generator("transformers", model=policy, num_threads=config.threads, progress=config.progress)
    train_problems = task.problems("train")[: config.label_problems]
    test_problems = task.problems("test")[: config.test_problems]
    verifier = _BackgroundVerifier(config, policy, out / "likelihood")

    stage("labels", "2/8 automatic process labels (MC, OmegaPRM)")
    labels = _label(config, task, generator, train_problems, out / "labels", policy)

    stage("prm", "3/8 train a PRM on the MC labels")
    prm_path = _train_prm(config, policy, labels["mc_file"], out / "prm")

    if config.implicit:
        stage("implicit", "4/8 train an implicit PRM from outcome labels only")
        implicit_path = _train_implicit(config, policy, labels["mc_file"], out / "implicit")

    stage("verdict", "5/8 train a generative verdict PRM on the MC labels")
    verdict_path = _train_verdict(config, policy, labels["mc_file"], out / "verdict")

    stage("evaluate", "6/8 evaluate every verifier on the same held-out solutions")
    validation = _validation_split(config, labels["mc_file"])
    selection = verifier.selection()
    evaluation = _sample_held_out(config, task, generator, test_problems)
    scorers = {"self_certainty": ("likelihood", {"path": policy, "calibration": _self_certainty_calibration(policy, validation)}),
               "prm": ("token-cls", {"path": str(prm_path)}), "oracle": ("arith-oracle", {})}
    if config.implicit:
        scorers["implicit"] = ("implicit", {"path": str(implicit_path)})
    scorers["verdict"] = ("verdict", {"path": str(verdict_path)})
    for name, (family, options) in scorers.items():
        _judge(evaluation, name, family, options, validation, selection, out)

    stage("verifier", "7/8 likelihood verifier (expert iteration on outcome-correct samples): wait, calibrate, judge")
    verifier_path = _finish_verifier(verifier, validation, console)
    _judge(evaluation, "likelihood", "likelihood", {"path": str(verifier_path)}, validation, selection, out)
    view = _view_columns(evaluation)
    evaluation = _compare(evaluation, config.seed)

    stage("report", "8/8 report")
    metrics = _metrics(config, evaluation, labels["agreement"])
    metrics["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    details = {"config": asdict(config), "stage_started_at_s": stage_started_at, "evaluation": evaluation, "labels": labels["agreement"],
               "versions": {**provenance(), "torch": torch.__version__}}
    metrics = json_safe(metrics)  # NaN (e.g. an F1 with no erroneous solutions to judge) -> null
    write_result(out / "metrics.json", metrics)
    write_result(out / "details.json", json_safe(details))
    plots = _plots(evaluation, labels["agreement"], out)
    report = _report(metrics, evaluation, labels["agreement"], plots, config)
    (out / "report.md").write_text(report)
    from prmkit.view.report import write_report

    write_report(out / "report.html", report, out, *view, title="prmkit demo report")
    console.print(report, markup=False, highlight=False)
    console.print(f"[green]done in {metrics['elapsed_seconds']:.0f} s[/green]: {out / 'report.md'}, {out / 'report.html'}, {out / 'metrics.json'}, "
                  + ", ".join(str(p) for p in plots))
    return metrics


#: The verifiers prmkit trains in the demo (candidates for the headline "best trained verifier").
TRAINED = ("prm", "implicit", "verdict", "likelihood")
#: How the report names each scorer.
DISPLAY = {
    "majority": "majority vote (no verifier)",
    "self_certainty": "self-certainty (policy's own likelihood, no training)",
    "prm": "token-cls PRM (MC labels)",
    "implicit": "implicit PRM (outcome labels)",
    "verdict": "generative verdict PRM (MC labels)",
    "likelihood": "likelihood verifier (expert iteration, outcome labels)",
    "oracle": "exact oracle",
}


#: Held-out solutions (drawn once, seeded) shown with every verifier's step scores in ``report.html``.
VIEW_SOLUTIONS = 200


def _view_columns(result: dict[str, Any]) -> tuple[list[tuple[str, LabelledSolution]], list[Any]]:
    """The sampled held-out solutions with their exact step labels, and one view column per verifier
    (at its validation-picked threshold; 0.5 where none could be picked). Removes the bulky
    per-verifier scores from ``result``."""
    from prmkit.types import StepLabels
    from prmkit.view import PRMScores

    flat = [(p, j, s) for p, sols in zip(result["problems"], result["candidates"]) for j, s in enumerate(sols)]
    solutions = []
    for i in result.pop("view_sample"):
        problem, j, solution = flat[i]
        gold = result["gold"][i]
        labels = None if gold is None else StepLabels(
            [1.0 if gold == -1 or k < gold else 0.0 if k == gold else None for k in range(len(solution.steps))],
            first_error=gold, source="exact")
        solutions.append((f"{problem.id}/{j}", LabelledSolution(problem, solution, labels)))
    keys = [key for key, _ in solutions]
    columns = [PRMScores(name, dict(zip(keys, rows)), 0.5 if threshold is None else threshold,
                         "threshold picked on validation" if threshold is not None else "no validation threshold: 0.5")
               for name, (rows, threshold) in result.pop("view_scores").items()]
    return solutions, columns


def _policy(config: DemoConfig, out: Path) -> str:
    if config.from_scratch:
        from prmkit.train.policy import PolicyConfig, train_policy

        return str(train_policy(PolicyConfig(output_dir=str(out / "policy"), seed=config.seed, num_threads=config.threads,
                                             progress=config.progress)))
    from prmkit.tasks.arith import resolve_policy

    policy = resolve_policy(config.policy)
    if not Path(policy).is_dir():
        from prmkit._hub import check_hub_model

        check_hub_model(policy, "DemoConfig.policy", demo=True)  # a typo fails now, not after 50 s of hub retries
    return policy


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
        "omegaprm": OmegaPRMAnnotator(generator, task, mode="solution", **{**common, "n": config.omegaprm_rollouts}),
    }
    stats: dict[str, dict[str, float]] = {}
    result: dict[str, Any] = {}
    for name, annotator in annotators.items():
        run = run_sharded(annotator, units, out / name, progress=config.progress, job=job)
        records = [LabelledSolution.from_dict(r) for shard in run.shards for _, r in read_jsonl(shard)]
        # Math-Shepherd hard semantics for both: a step is labelled correct when any rollout from it
        # reached the answer (label > 0), so soft MC fractions and hard labels are compared alike.
        found = agreement(task, records, threshold=1e-9)
        low, high = _first_error_interval(task, records, config.seed)
        stats[name] = {
            "first_error_accuracy": round(100.0 * found.first_error_accuracy, 2),
            "first_error_accuracy_low": round(low, 2), "first_error_accuracy_high": round(high, 2),
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


def _first_error_interval(task: Any, records: Sequence[LabelledSolution], seed: int) -> tuple[float, float]:
    """95 % bootstrap interval (over problems, %) of the labels' first-error accuracy against the exact ones."""
    from prmkit.evaluate.bootstrap import ratio_interval

    hits: dict[str, list[int]] = {}
    for record in records:
        exact = task.first_error(record.problem, record.solution.steps)
        if exact is not None and record.labels is not None:
            hits.setdefault(record.problem.id, []).append(int(record.labels.first_error == exact))
    if not hits:
        return float("nan"), float("nan")
    low, high = ratio_interval([sum(h) for h in hits.values()], [len(h) for h in hits.values()], seed=seed)
    return 100.0 * low, 100.0 * high


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


def _train_verdict(config: DemoConfig, policy: str, train_file: Path, out: Path) -> Path:
    """The policy fine-tuned to write a verdict token after each step (GenRM-style), keeping its LM
    loss on the correct steps so it stays the policy it was (``lm_weight=1``)."""
    from prmkit.train.verdict import VerdictTrainConfig, train_verdict

    return Path(train_verdict(VerdictTrainConfig(
        train_file=str(train_file), base_model=policy, output_dir=str(out), num_epochs=config.verdict_epochs,
        learning_rate=config.prm_learning_rate, batch_size=32, eval_every=50, lm_weight=1.0, seed=config.seed,
    )))


def _verifier_job(settings: Any, log: str) -> str:
    """The verifier's expert iteration, run in its own process; its output goes to ``log``."""
    import contextlib

    from prmkit._memory import keep_freed_memory
    from prmkit.train.verifier import train_verifier

    keep_freed_memory()  # a spawned interpreter: the setting of the ``prmkit`` process is not inherited

    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle, contextlib.redirect_stderr(handle), contextlib.redirect_stdout(handle):
        return str(train_verifier(settings))


class _BackgroundVerifier:
    """The likelihood verifier's training, started at once and waited for when needed.

    With ``parallel`` it runs in a second process (spawned: a fresh interpreter, one torch thread)
    while this one labels, trains and judges the other verifiers; otherwise it runs here, first.
    The trainer writes its selection split before its first round, so the other verifiers can be
    judged on it while it trains.
    """

    def __init__(self, config: DemoConfig, policy: str, out: Path) -> None:
        from prmkit.train.verifier import VerifierTrainConfig

        self.out = out
        (out / "selection.jsonl").unlink(missing_ok=True)  # a previous run's split must not be read as this one's
        settings = VerifierTrainConfig(
            base_model=policy, output_dir=str(out), rounds=config.verifier_rounds, problems=config.verifier_problems,
            samples=config.verifier_samples, sample_growth=config.verifier_sample_growth,
            retry_samples=config.verifier_retry_samples, retry_temperature=config.verifier_retry_temperature, num_epochs=config.verifier_epochs, learning_rate=config.verifier_learning_rate,
            temperature=config.verifier_temperature, fresh_problems=config.verifier_fresh_problems,
            distinct=config.verifier_distinct,
            batch_size=64, eval_every=10**9, selection_problems=config.selection_problems, selection_samples=8,
            selection_temperature=config.temperature, threads=1, seed=config.seed,
            task_options=f"difficulty=demo,seed={config.seed}", progress=config.progress and not config.parallel,
        )
        if not config.parallel:
            path = _verifier_job(settings, str(out / "train.log"))
            self.result = lambda: path
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self._future = executor.submit(_verifier_job, settings, str(out / "train.log"))
        executor.shutdown(wait=False)
        self.result = self._future.result

    def selection(self) -> list[LabelledSolution]:
        """The trainer's selection split, once written (re-raises the trainer's error if it failed first)."""
        file = self.out / "selection.jsonl"
        while not file.is_file():
            if getattr(self, "_future", None) is not None and self._future.done():
                self._future.result()  # raises the trainer's error; a clean finish always wrote the file
                break
            time.sleep(1.0)
        return _read_selection(file)


def _finish_verifier(verifier: _BackgroundVerifier, validation: Sequence[LabelledSolution], console: Console) -> Path:
    """Wait for the verifier, calibrate it on the MC-labelled validation split, say what it learned."""
    import json

    from prmkit.train.verifier import calibrate_verifier

    path = Path(verifier.result())
    note = calibrate_verifier(path, validation)
    history = json.loads((path / "eval_history.json").read_text())
    for entry in history["rounds"]:
        console.print(f"  round {entry['round']}: kept {entry['kept']} distinct correct of {entry['drawn']} samples, "
                      f"selection outcome AUROC {entry['outcome_auroc']:.2f} % ({entry['seconds']:.0f} s training)")
    console.print(f"  selected round {history['selected_round']} (base AUROC {history['base_outcome_auroc']:.2f} %); "
                  f"calibrated on {note}; log: {path / 'train.log'}")
    return path


def _self_certainty_calibration(policy: str, validation: Sequence[LabelledSolution]) -> Any:
    """The untrained policy's likelihood gets the same calibration step as the trained verifier
    (fitted on the same validation split), so the two differ only by the training."""
    from prmkit.models.likelihood import LikelihoodScorer, calibrate_on_labels

    return calibrate_on_labels(LikelihoodScorer(policy, calibrate=False, progress=False), validation)[0]


def _read_selection(path: Path) -> list[LabelledSolution]:
    from prmkit.io._jsonl import read_jsonl

    return [LabelledSolution.from_dict(record) for _, record in read_jsonl(path)]


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


def _sample_held_out(config: DemoConfig, task: Any, generator: Any, problems: Sequence[Problem]) -> dict[str, Any]:
    """``bon_n`` solutions per held-out problem (sampled once, judged by every verifier) and the
    result dict that :func:`_judge` fills in."""
    import random

    from prmkit.annotate import SolutionSampler

    sampler = SolutionSampler(generator, task, samples=config.bon_n, temperature=config.temperature, seed=config.seed + 1)
    solutions: list[list[Solution]] = sampler(problems)
    flat = [(p, s) for p, sols in zip(problems, solutions) for s in sols]
    return {"problems": list(problems), "candidates": solutions, "gold": [task.first_error(p, s.steps) for p, s in flat],
            "solutions": len(flat), "n": config.bon_n, "f1": {}, "f1_val_threshold": {}, "bon_curves": {},
            "selection_weighted": {}, "outcomes": {}, "view_scores": {},
            "view_sample": sorted(random.Random(config.seed).sample(range(len(flat)), min(len(flat), VIEW_SOLUTIONS))),
            "pass_at_1": round(100.0 * sum(bool(s.correct) for _, s in flat) / max(1, config.bon_n * len(problems)), 2)}


def _judge(result: dict[str, Any], name: str, family: str, options: dict[str, Any], validation: Sequence[LabelledSolution],
           selection: Sequence[LabelledSolution], out: Path) -> None:
    """Score the held-out candidates with one verifier and record its metrics in ``result``.

    F1 is reported at the fixed threshold 0.5 and at the threshold picked on ``validation`` (MC
    labels, never the held-out solutions); a trained verifier also scores ``selection``
    (outcome-labelled, disjoint problems): its weighted-vote accuracy there names the best one.
    """
    import math

    from prmkit.evaluate.bon import bon_record, evaluate, write_bon
    from prmkit.evaluate.verifiers import problem_outcome
    from prmkit.metrics import first_error_prediction, processbench_f1
    from prmkit.models import load_scorer

    problems, solutions, gold = result["problems"], result["candidates"], result["gold"]
    scorer = load_scorer(family, **options)
    scores = scorer.score([(p.question, s.steps) for p, sols in zip(problems, solutions) for s in sols])
    predicted = [first_error_prediction(row) for row in scores]
    result["f1"][name] = {k: round(v, 2) for k, v in processbench_f1(gold, predicted).items()}
    threshold = _validation_threshold(scorer, validation)
    if threshold is None:  # nothing to tune on: no number rather than 0.5 dressed up as a tuned one
        result["f1_val_threshold"][name] = {"error_acc": math.nan, "correct_acc": math.nan, "f1": math.nan, "threshold": None}
    else:
        predicted = [first_error_prediction(row, threshold) for row in scores]
        tuned = {k: round(v, 2) for k, v in processbench_f1(gold, predicted).items()}
        result["f1_val_threshold"][name] = {**tuned, "threshold": round(threshold, 4)}
    cursor, gold_cursor = iter(scores), iter(gold)
    rows = [[next(cursor) for _ in sols] for sols in solutions]
    records = [bon_record(p, sols, row) for p, sols, row in zip(problems, solutions, rows)]
    write_bon(out / f"bon_{name}.jsonl", records)
    result["bon_curves"][name] = evaluate(records, aggregations=("min",), progress=False, intervals=True)
    result["view_scores"][name] = ([scores[i] for i in result["view_sample"]], threshold)
    by_problem = [(p, sols) for p, sols in _group(selection) if sols]
    if by_problem and name in TRAINED:
        result["selection_weighted"][name] = _weighted_accuracy(by_problem, _selection_rows(scorer, by_problem))
    result["outcomes"][name] = [problem_outcome(sols, row, [next(gold_cursor) for _ in sols], threshold)
                                for sols, row in zip(solutions, rows)]


def _compare(result: dict[str, Any], seed: int) -> dict[str, Any]:
    """The finished evaluation: bootstrap comparison in :data:`DISPLAY` order, bulky inputs dropped."""
    from prmkit.evaluate.verifiers import compare

    outcomes = result.pop("outcomes")
    order = [name for name in DISPLAY if name in outcomes] + [name for name in outcomes if name not in DISPLAY]
    result["comparison"] = compare({name: outcomes[name] for name in order}, seed=seed)
    for key in ("problems", "candidates", "gold"):
        result.pop(key)
    return result


def _group(records: Sequence[LabelledSolution]) -> list[tuple[Problem, list[Solution]]]:
    """Records in file order grouped by problem."""
    groups: dict[str, tuple[Problem, list[Solution]]] = {}
    for record in records:
        groups.setdefault(record.problem.id, (record.problem, []))[1].append(record.solution)
    return list(groups.values())


def _selection_rows(scorer: Any, by_problem: Sequence[tuple[Problem, list[Solution]]]) -> list[list[list[float | None]]]:
    """``scorer``'s step scores of the selection candidates, grouped by problem."""
    cursor = iter(scorer.score([(p.question, s.steps) for p, sols in by_problem for s in sols]))
    return [[next(cursor) for _ in sols] for _, sols in by_problem]


def _weighted_accuracy(by_problem: Sequence[tuple[Problem, list[Solution]]], rows: Sequence[Any]) -> float:
    """PRM-weighted-vote accuracy (%) over the candidates of each problem (min-aggregated step scores)."""
    from prmkit.search.vote import select

    hits = sum(bool(sols[select([s.answer for s in sols], scores, how="weighted", aggregation="min")].correct)
               for (_, sols), scores in zip(by_problem, rows))
    return 100.0 * hits / len(by_problem)


def _metrics(config: DemoConfig, evaluation: dict[str, Any], agreement: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The flat ``metrics.json``: one block per scorer, the headline ``verifier.*`` = the best trained one."""
    comparison = evaluation["comparison"]
    metrics: dict[str, Any] = {
        "policy_pass_at_1": evaluation["pass_at_1"],
        **{f"labels.{name}.{key}": value for name, stats in agreement.items() for key, value in stats.items()},
    }
    for name, found in comparison.items():
        metrics[f"{name}.processbench_f1"] = _round(found["f1"]["value"])  # at the validation-picked threshold
        metrics[f"{name}.processbench_f1_at_0.5"] = evaluation["f1"][name]["f1"]
        metrics[f"{name}.val_threshold"] = evaluation["f1_val_threshold"][name]["threshold"]
        metrics[f"{name}.weighted"] = _round(found["weighted"]["value"])
        metrics[f"{name}.best_of_n"] = _round(found["best"]["value"])
    any_scorer = next(iter(comparison.values()))
    majority = any_scorer["majority"]["value"]
    top = str(evaluation["n"])
    metrics.update({"bon.n": evaluation["n"], "bon.majority": _round(majority),
                    "bon.oracle_weighted": metrics.get("oracle.weighted"),
                    "bon.pass_at_n": _round(next(iter(evaluation["bon_curves"].values()))["pass@k"][top])})
    selection = {name: value for name, value in evaluation["selection_weighted"].items() if name in TRAINED}
    if selection:
        best = max(selection, key=lambda name: selection[name])  # picked on the selection split, never held-out
        gap = comparison["oracle"]["weighted"]["value"] - majority if "oracle" in comparison else float("nan")
        gain = comparison[best]["weighted"]["value"] - majority
        metrics.update({
            "verifier.name": best,
            "verifier.processbench_f1": metrics[f"{best}.processbench_f1"],
            "verifier.weighted": metrics[f"{best}.weighted"],
            "verifier.best_of_n": metrics[f"{best}.best_of_n"],
            "verifier.gap_closed": _round(100.0 * gain / gap) if gap > 0 else None,
            **{f"verifier.selection_weighted.{name}": _round(value) for name, value in selection.items()},
        })
        if "self_certainty" in comparison:
            metrics["verifier.weighted_minus_self_certainty"] = _round(
                comparison[best]["weighted"]["value"] - comparison["self_certainty"]["weighted"]["value"])
    metrics["bon.gap_closed"] = metrics.get("verifier.gap_closed")
    return metrics


def _round(value: float, digits: int = 2) -> float:
    return round(value, digits)


def _plots(evaluation: dict[str, Any], agreement: dict[str, dict[str, float]], out: Path) -> list[Path]:
    from prmkit.evaluate.plots import plot_label_quality, plot_verifier_bars, plot_verifier_curves

    n = evaluation["n"]
    return [Path(plot_verifier_bars(evaluation["comparison"], n, out / "verifiers.png")),
            Path(plot_verifier_curves(evaluation["bon_curves"], out / "bon.png",
                                      "arith, held-out problems: verifier-weighted vote vs N")),
            Path(plot_label_quality(agreement, out / "labels.png"))]


def replot(out: str | Path) -> list[Path]:
    """Redraw an earlier run's plots in ``out`` from the files it wrote, with this prmkit's plots.

    Why: plots improve (intervals, ranges) after a run's numbers are in; no model is loaded and no
    number changes. Reads ``details.json``, ``bon_<verifier>.jsonl`` (best-of-N curves and their
    intervals are recomputed) and ``labels/<annotator>.jsonl`` (first-error accuracy intervals
    against the exact labels).

    Returns:
        The PNGs written (verifiers.png, bon.png, labels.png).
    """
    import json
    import math

    from prmkit.evaluate.bon import evaluate, read_bon
    from prmkit.io._jsonl import read_jsonl
    from prmkit.tasks.arith import ArithTask

    out = Path(out)
    details = json.loads((out / "details.json").read_text())
    evaluation, agreement, config = details["evaluation"], details["labels"], details["config"]
    for rows in evaluation["comparison"].values():  # details.json stores undefined numbers (NaN) as null
        for cell in rows.values():
            cell.update({k: math.nan if v is None else v for k, v in cell.items()})
    for name in evaluation["bon_curves"]:
        evaluation["bon_curves"][name] = evaluate(read_bon(out / f"bon_{name}.jsonl"), aggregations=("min",),
                                                  progress=False, intervals=True)
    task = ArithTask(difficulty="demo", seed=config["seed"])
    for name, stats in agreement.items():
        records = [LabelledSolution.from_dict(r) for _, r in read_jsonl(out / "labels" / f"{name}.jsonl")]
        low, high = _first_error_interval(task, records, config["seed"])
        stats.update(first_error_accuracy_low=round(low, 2), first_error_accuracy_high=round(high, 2))
    return _plots(evaluation, agreement, out)


def _interval(found: dict[str, float]) -> str:
    """``62.5 [58.0, 67.0]`` (— where undefined)."""
    if found["value"] != found["value"]:
        return "—"
    return f"{found['value']:.1f} [{_cell(found['low'])}, {_cell(found['high'])}]"


def _report(
    metrics: dict[str, Any], evaluation: dict[str, Any], agreement: dict[str, dict[str, float]],
    plots: Sequence[Path], config: DemoConfig,
) -> str:
    n = evaluation["n"]
    lines = [
        "# prmkit demo — the PRM life cycle on arith",
        "",
        f"Policy pass@1 on held-out problems: **{metrics['policy_pass_at_1']:.1f}%** "
        f"(T={config.temperature}, {evaluation['solutions']} solutions). Elapsed: {metrics['elapsed_seconds']:.0f} s.",
        "",
    ]
    if "verifier.name" in metrics:
        gap = metrics["verifier.gap_closed"]
        lines += [f"**Best trained verifier: {metrics['verifier.name']}** ({DISPLAY.get(metrics['verifier.name'], '')}; picked on the "
                  f"selection split): F1 {_cell(metrics['verifier.processbench_f1'])}, weighted vote @{n} "
                  f"{_cell(metrics['verifier.weighted'])} vs majority {_cell(metrics['bon.majority'])} and oracle-weighted "
                  f"{_cell(metrics['bon.oracle_weighted'])}: " + (f"it closes **{gap:.1f}%** of the gap" if gap is not None
                                                                   else "no headroom above majority vote") + ".", ""]
    lines += ["## Every verifier on the same held-out solutions", "",
              f"{config.test_problems} held-out problems x {n} solutions sampled once (T={config.temperature}); 95 % percentile "
              "bootstrap intervals over problems (1,000 resamples, the same for every row). Protocol, fixed before testing: "
              "F1 at the threshold that maximises it on the MC-labelled validation split (the trainers' held-out 10 % of the "
              "labelled problems; Math-Shepherd hard reading); likelihood scores calibrated on that split; weighted vote and "
              "best-of-N on min-aggregated step scores (weights = the calibrated P, no sharpening); the verifier's training "
              "round (outcome AUROC) and the best trained verifier (weighted-vote accuracy) picked on a selection split (other "
              "training-split problems, base-policy solutions, outcome labels only).",
              "", f"| verifier | F1 @ val. threshold | weighted vote @{n} | best-of-{n} |", "|---|---:|---:|---:|"]
    comparison = evaluation["comparison"]
    majority = next(iter(comparison.values()))["majority"]
    lines.append(f"| {DISPLAY['majority']} | — | {_interval(majority)} | — |")
    for name, found in comparison.items():
        lines.append(f"| {DISPLAY.get(name, name)} | {_interval(found['f1'])} | {_interval(found['weighted'])} | {_interval(found['best'])} |")
    if evaluation["selection_weighted"]:
        picks = ", ".join(f"{name} {value:.1f}" for name, value in evaluation["selection_weighted"].items())
        lines += ["", f"Selection split, weighted-vote accuracy of the trained verifiers: {picks}."]
    lines += ["", "## Automatic process labels vs the exact labels", "",
              "First-error accuracy with its 95 % bootstrap interval over the labelled problems.", "",
              "| annotator | rollouts | rollouts / solution | first-error acc. % | step acc. % |",
              "|---|---:|---:|---:|---:|"]
    for name, s in agreement.items():
        interval = (f" [{_cell(s['first_error_accuracy_low'])}, {_cell(s['first_error_accuracy_high'])}]"
                    if "first_error_accuracy_low" in s else "")
        lines.append(f"| {name} | {s['rollouts']} | {_cell(s['rollouts_per_solution'])} | {_cell(s['first_error_accuracy'])}{interval} "
                     f"| {_cell(s['step_accuracy'])} |")
    lines += ["", "## ProcessBench-style F1 at the fixed threshold 0.5 and at the validation-picked one", "",
              "| scorer | error acc. % @ 0.5 | correct acc. % @ 0.5 | F1 @ 0.5 | val. threshold | F1 @ val. threshold |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, f1 in evaluation["f1"].items():
        tuned = evaluation["f1_val_threshold"][name]
        lines.append(f"| {name} | {_cell(f1['error_acc'])} | {_cell(f1['correct_acc'])} | {_cell(f1['f1'])} "
                     f"| {_cell(tuned['threshold'], 3)} | {_cell(tuned['f1'])} |")
    lines += ["", *[f"![{p.stem}]({p.name})" for p in plots], ""]
    return "\n".join(lines)


def _cell(value: float | None, digits: int = 1) -> str:
    """A report table cell: ``—`` for a missing or undefined (NaN) number, else rounded."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"
