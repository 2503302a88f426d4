"""Train a likelihood verifier: a causal LM taught the task by expert iteration, read by its token log-probs.

Why: a verifier built on the policy's own beliefs cannot beat majority vote, whose remaining errors
are the policy's *confident* mistakes (``benchmarks/prm_ceiling.py``). A verifier must know more
than the policy. Expert iteration gives it that knowledge from synthesized supervision alone
(outcome checks, MC / OmegaPRM labels), never from reference solutions or exact step labels:

1. **rounds** (rejection sampling / expert iteration): sample ``samples`` solutions (times
   ``sample_growth`` per later round) to each of ``problems`` training problems (fresh ones each
   round, or with ``fresh_problems=False`` the same ones) from the *newest* model at
   ``temperature``, keep the outcome-correct ones (with ``distinct``, each text once per problem) plus the step-label-correct prefixes of
   ``train_file`` (steps before the first step no rollout recovered from), and fine-tune on them (LM
   loss on the solution tokens), continuing the weights of the previous round. Each round's model
   is better at the task than the last, so the next round solves more (and harder) problems.
   Distinct texts matter: where a problem has one right chain of steps (arith), its correct samples
   are copies, and training on copies only re-teaches what the model already writes; new problems
   (free to generate) carry new facts, so a round's data is bounded by the problems it solves.
2. **selection**: after every round, the outcome AUROC on a *selection split* (problems after the
   training ones, solutions sampled once from the *base* policy, i.e. the solutions the verifier will
   judge, graded by final answer only) of each solution's aggregated step feature; the best round is
   kept. The split is written to ``selection.jsonl`` (``LabelledSolution`` records without step
   labels) so that later choices (e.g. the demo's vote sharpness) are made on it too.
3. **calibration**: on the validation split of ``train_file`` (MC / OmegaPRM step labels, Math-
   Shepherd hard reading: label > 0 = correct), a logistic map of the step feature
   (:func:`prmkit.models.likelihood.fit_calibration`) is fitted and stored in ``prmkit.json``.

Optionally (``unlikelihood_weight > 0``) a contrastive term pushes down the first step the labels
call wrong, at the token the model itself finds least likely there (unlikelihood, Welleck et al.
2019: ``-log(1 - p(token))``), so the confident mistakes the labels catch become unlikely. (On the arith demo it lowered the
selection AUROC at weight 1: the few hundred labelled wrong steps do not outweigh the damage, so it
is off by default.)

The checkpoint loads as ``load_scorer("likelihood", path=output_dir)``; it is also still a policy
(``load_generator("transformers", model=output_dir)``). Training and scoring share the layout of
:func:`prmkit.models.formats.implicit.encode_implicit`.

Example::

    prmkit train verifier --train-file labels/omegaprm.jsonl --base-model demo --output-dir runs/verifier \\
        --rounds 2 --problems 4096 --samples 4
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prmkit.models.formats.implicit import encode_implicit
from prmkit.models.likelihood import REDUCTIONS
from prmkit.train._config import TrainConfig, help_text, load_train_val, loop_settings, resolve_inputs
from prmkit.types import LabelledSolution, Problem, Solution, first_error_from_labels

__all__ = ["VERIFIER_METRICS", "VerifierTrainConfig", "calibrate_verifier", "train_verifier"]

#: Selection metrics (higher is better).
VERIFIER_METRICS = ("outcome_auroc",)


@dataclass
class VerifierTrainConfig(TrainConfig):
    """Settings of :func:`train_verifier` (the ``prmkit train verifier`` flags are these fields).

    Raises (on construction):
        ValueError: an unknown reduction / metric, or an out-of-range number (names the field).
    """

    base_model: str = field(default="demo", metadata=help_text("Causal-LM checkpoint to start from (the policy; 'demo' = the shipped arith policy)."))
    output_dir: str = field(default="runs/verifier", metadata=help_text("Where the verifier, prmkit.json (reduction, calibration), selection.jsonl, config and history are written."))
    train_file: str | None = field(default=None, metadata=help_text("JSONL (or `prmkit annotate` output folder) of step-labelled solutions (MC / OmegaPRM): correct prefixes train, its validation split calibrates; none = outcome labels only, uncalibrated."))
    learning_rate: float = field(default=1e-3, metadata=help_text("Peak AdamW learning rate of each round (1e-3 suits the tiny arith models; ~1e-5 for 1B+ LMs)."))
    num_epochs: float = field(default=1.0, metadata=help_text("Epochs over each round's kept solutions."))
    batch_size: int = field(default=64, metadata=help_text("Sequences per optimizer step."))
    eval_batch_size: int = field(default=64, metadata=help_text("Sequences per forward pass when scoring."))
    max_length: int | None = field(default=None, metadata=help_text("Longest training sequence in tokens (longer kept samples are skipped); default the base model's position limit."))
    task: str = field(default="arith", metadata=help_text("Registered task whose train split gives the problems and whose checker grades outcomes."))
    task_options: str = field(default="difficulty=demo", metadata=help_text("Task options as k=v,k=v (e.g. difficulty=demo,seed=0)."))
    rounds: int = field(default=2, metadata=help_text("Expert-iteration rounds (each samples from the newest model)."))
    problems: int = field(default=4096, metadata=help_text("Fresh training problems per round (round r takes the r-th slice of the task's train split)."))
    samples: int = field(default=4, metadata=help_text("Solutions sampled per problem in the first round."))
    sample_growth: float = field(default=1.0, metadata=help_text("Each later round samples this many times as many solutions per problem (2 = 4, 8, 16 ...): a better model needs more tries to find what it still gets wrong."))
    fresh_problems: bool = field(default=True, metadata=help_text("Each round takes new training problems (True) or re-samples the first round's (False, classic expert iteration)."))
    distinct: bool = field(default=True, metadata=help_text("Keep each problem's distinct correct texts once (True) or every correct sample (False: rejection-sampling fine-tuning, which weights a problem by how often the model solves it)."))
    temperature: float = field(default=1.0, metadata=help_text("Sampling temperature of the rounds."))
    retry_samples: int = field(default=0, metadata=help_text("More samples for each problem a round's first samples all got wrong (0 = none): the facts the model gets wrong live in those."))
    retry_temperature: float = field(default=1.2, metadata=help_text("Sampling temperature of the retries (hotter: a confident mistake needs luck to avoid)."))
    max_new_tokens: int = field(default=160, metadata=help_text("Token limit of one sampled solution."))
    selection_problems: int = field(default=128, metadata=help_text("Problems of the outcome-labelled selection split (after all rounds' training problems)."))
    selection_samples: int = field(default=8, metadata=help_text("Base-policy solutions per selection problem."))
    selection_temperature: float = field(default=1.0, metadata=help_text("Temperature of the selection solutions (that of the solutions to be judged)."))
    reduce: str = field(default="min", metadata=help_text(f"Step feature read by the scorer: {', '.join(REDUCTIONS)}."))
    unlikelihood_weight: float = field(default=0.0, metadata=help_text("Weight of the unlikelihood term on labelled first wrong steps (0 = off)."))
    metric: str = field(default="outcome_auroc", metadata=help_text("Selection metric: outcome_auroc on the selection split."))
    threads: int = field(default=1, metadata=help_text("torch CPU threads (tiny models run fastest single-threaded)."))
    progress: bool = field(default=True, metadata=help_text("Show progress bars."))

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.reduce not in REDUCTIONS:
            raise ValueError(f"{name}.reduce = {self.reduce!r}; use one of {REDUCTIONS}")
        if self.metric not in VERIFIER_METRICS:
            raise ValueError(f"{name}.metric = {self.metric!r}; use one of {VERIFIER_METRICS}")
        for field_name in ("rounds", "problems", "samples", "selection_problems", "selection_samples", "max_new_tokens", "threads"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{name}.{field_name} = {getattr(self, field_name)} must be >= 1")
        if self.sample_growth < 1:
            raise ValueError(f"{name}.sample_growth = {self.sample_growth} must be >= 1")
        if self.retry_samples < 0:
            raise ValueError(f"{name}.retry_samples = {self.retry_samples} must be >= 0")
        if self.temperature <= 0 or self.selection_temperature <= 0 or self.retry_temperature <= 0:
            raise ValueError(f"{name}: temperature and selection_temperature must be > 0 (the rounds sample)")
        if self.unlikelihood_weight < 0:
            raise ValueError(f"{name}.unlikelihood_weight = {self.unlikelihood_weight} must be >= 0")
        super().__post_init__()


def _task_options(text: str) -> dict[str, Any]:
    """``"difficulty=demo,seed=0"`` -> ``{"difficulty": "demo", "seed": 0}`` (ints where they parse)."""
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ValueError(f"task_options: {part!r} is not k=v")
        options[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else value.strip()
    return options


def _row(tokenizer: Any, question: str, steps: Sequence[str], complete: bool,
         unlikely_step: int | None = None) -> dict[str, Any]:
    """One training sequence in the scorer's layout: LM labels on the steps (and EOS when complete);
    with ``unlikely_step``, that step is appended after the kept ones and marked for unlikelihood."""
    kept = list(steps) + ([] if unlikely_step is None else [unlikely_step])
    item = encode_implicit(tokenizer, question, kept)
    ids = list(item.input_ids)
    labels = [-100] * item.response_start + ids[item.response_start :]
    unlikely = [0] * len(ids)
    if unlikely_step is not None:  # the last step is the wrong one: no LM loss there, unlikelihood instead
        start, end = item.step_spans()[-1]
        labels[start:end] = [-100] * (end - start)
        unlikely[start:end] = [1] * (end - start)
    if complete:
        ids.append(tokenizer.eos_token_id)
        labels.append(tokenizer.eos_token_id)
        unlikely.append(0)
    return {"input_ids": ids, "labels": labels, "unlikely": unlikely}


def _label_rows(tokenizer: Any, records: Sequence[LabelledSolution], with_unlikely: bool) -> list[dict[str, Any]]:
    """Rows from step-labelled solutions: each correct prefix (whole solution when all steps are
    correct and the outcome is right), plus its first wrong step for the unlikelihood term."""
    rows = []
    for record in records:
        first = first_error_from_labels(list(record.labels.labels), threshold=1e-9) if record.labels else None
        if first is None:
            continue
        steps = record.solution.steps
        if first == -1:
            if record.solution.correct:
                rows.append(_row(tokenizer, record.problem.question, steps, complete=True))
            continue
        if first > 0 or with_unlikely:
            rows.append(_row(tokenizer, record.problem.question, steps[:first], complete=False,
                             unlikely_step=steps[first] if with_unlikely else None))
    return [r for r in rows if any(label != -100 for label in r["labels"]) or any(r["unlikely"])]


def _loss(model: Any, batch: dict[str, Any], unlikelihood_weight: float) -> Any:
    """Mean token NLL on the labelled tokens, plus ``weight * mean(-log(1 - p))`` at one token per
    wrong step: the one the model finds least likely there. A wrong step is mostly right tokens (in
    "72-11=51" only "5" is wrong), and pushing down all of them would unteach copying; the least
    likely token is where the model itself locates the error.
    """
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    log_p = logits.log_softmax(-1)
    labels = batch["labels"][:, 1:]
    keep = labels != -100
    picked = log_p.gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    loss = -(picked * keep).sum() / keep.sum().clamp(min=1)
    unlikely = batch["unlikely"][:, 1:].bool()
    rows = unlikely.any(-1)
    if unlikelihood_weight > 0 and rows.any():
        target_log_p = log_p.gather(-1, batch["input_ids"][:, 1:, None])[..., 0].masked_fill(~unlikely, float("inf"))
        least = target_log_p[rows].min(-1).values  # (rows,) the wrong step's least likely token
        loss = loss + unlikelihood_weight * -torch.log1p(-least.exp().clamp(max=1 - 1e-6)).mean()
    return loss


def _collate(rows: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(r["input_ids"]) for r in rows)

    def padded(key: str, value: int) -> Any:
        return torch.tensor([r[key] + [value] * (width - len(r[key])) for r in rows], dtype=torch.long)

    return {"input_ids": padded("input_ids", pad_id), "labels": padded("labels", -100), "unlikely": padded("unlikely", 0),
            "attention_mask": torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows])}


def _sample(model: Any, tokenizer: Any, task: Any, problems: Sequence[Problem], config: VerifierTrainConfig,
            samples: int, temperature: float, seed: int) -> list[list[Solution]]:
    from prmkit.annotate import SolutionSampler
    from prmkit.generation.transformers import TransformersGenerator

    model.eval()
    generator = TransformersGenerator(model, tokenizer, batch_size=512, progress=config.progress)
    sampler = SolutionSampler(generator, task, samples=samples, temperature=temperature, seed=seed,
                              max_new_tokens=config.max_new_tokens, batch_size=512)
    return sampler(problems)


def _outcome_auroc(scorer: Any, selection: Sequence[tuple[Problem, Solution]]) -> float:
    """AUROC (percent) of each selection solution's min step feature against its graded outcome."""
    from prmkit.metrics import auroc

    features = scorer.step_features([(p.question, s.steps) for p, s in selection])
    return 100 * auroc([1.0 if s.correct else 0.0 for _, s in selection],
                 [min(x for x in row if x is not None) for row in features])


def train_verifier(config: VerifierTrainConfig, task: Any = None) -> Path:
    """Train a likelihood verifier (see the module docstring); return its checkpoint directory.

    Args:
        config: the settings.
        task: a task object to use instead of ``load_task(config.task, **task_options)``.

    Raises:
        FileNotFoundError / prmkit.io._jsonl.FormatError: from reading ``train_file``.
        ValueError: a round kept no solution, or the validation split cannot calibrate (one class only).
    """
    import shutil

    import torch
    from rich.console import Console
    from transformers import AutoModelForCausalLM

    from prmkit.io._jsonl import write_jsonl
    from prmkit.models.likelihood import LikelihoodScorer, write_likelihood_config
    from prmkit.tasks import load_task
    from prmkit.train._data import load_tokenizer
    from prmkit.train._loop import run_loop
    from prmkit.train._model import history_writer, load_from_base, write_run_files

    torch.set_num_threads(config.threads)
    console = Console(stderr=True)
    started = time.perf_counter()
    resolve_inputs(config)  # paths, "demo", max_length: checked before anything loads
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    base = config.base_model
    labelled_train, labelled_val = load_train_val(config) if config.train_file else ([], [])
    needed = (config.rounds if config.fresh_problems else 1) * config.problems + config.selection_problems
    if task is None:
        options = _task_options(config.task_options)
        if config.task == "arith":
            options.setdefault("num_train", needed)
            options.setdefault("num_test", 1)
        task = load_task(config.task, **options)
    pool = task.problems("train")
    if len(pool) < needed:
        raise ValueError(f"task {config.task!r} has {len(pool)} train problems; rounds x problems + selection_problems = {needed}")
    selection_problems = pool[needed - config.selection_problems : needed]
    tokenizer = load_tokenizer(base)
    model = load_from_base(AutoModelForCausalLM, base, seed=config.seed)

    selection = [(p, s) for p, sols in zip(selection_problems, _sample(
        model, tokenizer, task, selection_problems, config, config.selection_samples, config.selection_temperature,
        config.seed + 10_000)) for s in sols]
    write_jsonl(output_dir / "selection.jsonl", (LabelledSolution(p, s).to_dict() for p, s in selection))
    label_rows = _label_rows(tokenizer, labelled_train, config.unlikelihood_weight > 0)
    label_rows = [r for r in label_rows if len(r["input_ids"]) <= config.max_length]

    def evaluate(unwrapped: Any) -> dict[str, float]:
        scorer = LikelihoodScorer.from_model(unwrapped, tokenizer, config.reduce)
        return {"outcome_auroc": _outcome_auroc(scorer, selection)}

    base_metric = evaluate(model)["outcome_auroc"]
    console.print(f"verifier: base {config.metric} {base_metric:.2f} on {len(selection)} selection solutions; "
                  f"{len(label_rows)} rows from {config.train_file}")
    rounds: list[dict[str, Any]] = []
    for round_index in range(config.rounds):
        first = round_index * config.problems if config.fresh_problems else 0
        problems = pool[first : first + config.problems]
        samples = round(config.samples * config.sample_growth**round_index)
        solutions = _sample(model, tokenizer, task, problems, config, samples, config.temperature,
                            config.seed + round_index)
        unsolved = [i for i, sols in enumerate(solutions) if not any(s.correct for s in sols)]
        if config.retry_samples and unsolved:
            retries = _sample(model, tokenizer, task, [problems[i] for i in unsolved], config, config.retry_samples,
                              config.retry_temperature, config.seed + 1000 + round_index)
            for i, extra in zip(unsolved, retries):
                solutions[i] = solutions[i] + extra
        seen, rows = set(), list(label_rows)
        for problem, sols in zip(problems, solutions):
            for index, solution in enumerate(sols):
                key = (problem.id, tuple(solution.steps) if config.distinct else index)
                if solution.correct and key not in seen:
                    seen.add(key)
                    rows.append(_row(tokenizer, problem.question, solution.steps, complete=True))
        rows = [r for r in rows if len(r["input_ids"]) <= config.max_length]
        if not rows:
            raise ValueError(f"round {round_index + 1}: no outcome-correct solution to learn from")
        drawn = sum(len(s) for s in solutions)
        round_dir = output_dir / f"round-{round_index + 1}"
        result = run_loop(
            model=model, train_rows=rows, collate=lambda batch: _collate(batch, tokenizer.pad_token_id),
            loss_fn=lambda m, batch: _loss(m, batch, config.unlikelihood_weight),
            evaluate=evaluate, save=lambda m, d=round_dir: (m.save_pretrained(d), tokenizer.save_pretrained(d)),
            settings=dataclasses.replace(loop_settings(config, has_val=True), group_by_length=True),
            description=f"verifier round {round_index + 1}",
            on_eval=history_writer(round_dir),
        )
        value = result["best"][config.metric]
        rescued = sum(any(s.correct for s in solutions[i]) for i in unsolved) if config.retry_samples else 0
        rounds.append({"round": round_index + 1, "drawn": drawn, "kept": len(seen), "rescued_by_retry": rescued, "rows": len(rows),
                       "steps": result["steps"], "seconds": round(result["seconds"], 1), config.metric: value,
                       "history": result["history"]})
        console.print(f"verifier round {round_index + 1}: kept {len(seen)} of {drawn} sampled solutions "
                      f"({100 * len(seen) / max(1, drawn):.1f} %), {config.metric} {value:.2f}")
        model = AutoModelForCausalLM.from_pretrained(round_dir)  # continue from this round's best weights
    best_round = max(range(len(rounds)), key=lambda r: (rounds[r][config.metric], -r))
    best_value = rounds[best_round][config.metric]
    if not best_value > base_metric:
        console.print(f"[yellow]verifier: no round beat the base model on the selection split ({best_value:.2f} vs "
                      f"{base_metric:.2f}); keeping the best round, {best_round + 1}[/yellow]")
    chosen = output_dir / f"round-{best_round + 1}"
    for item in chosen.iterdir():
        if item.is_file():
            shutil.copy2(item, output_dir / item.name)

    write_likelihood_config(output_dir, config.reduce, None, trained_by="prmkit train verifier",
                            selected_round=best_round + 1)
    if labelled_val:
        calibrate_verifier(output_dir, labelled_val)
    result = {"rounds": rounds, "selected_round": best_round + 1, "base_" + config.metric: base_metric,
              "best": {config.metric: best_value}, "seconds": round(time.perf_counter() - started, 1)}
    write_run_files(output_dir, config, result, {"n_selection": len(selection), "selected_on": config.metric})
    console.print(f"verifier checkpoint -> [bold]{output_dir}[/bold] (round {best_round + 1} of {config.rounds}, "
                  f"{config.metric} {best_value:.2f} vs base {base_metric:.2f}; {result['seconds']:.0f} s)")
    return output_dir


def calibrate_verifier(path: str | Path, records: Sequence[LabelledSolution]) -> str:
    """Fit a likelihood checkpoint's calibration on step-labelled validation solutions and store it
    in its ``prmkit.json``; return what it was fitted on (or why it was not).

    See :func:`prmkit.models.likelihood.calibrate_on_labels` for which steps count.
    """
    from prmkit.models.likelihood import (
        LikelihoodScorer,
        calibrate_on_labels,
        read_likelihood_config,
        write_likelihood_config,
    )

    stored = read_likelihood_config(path)
    scorer = LikelihoodScorer(str(path), calibrate=False, progress=False)
    calibration, note = calibrate_on_labels(scorer, records)
    write_likelihood_config(path, scorer.reduce, calibration, **{k: v for k, v in stored.items()
                                                                 if k not in ("family", "reduce", "calibration", "calibrated_on")},
                            calibrated_on=note)
    return note
