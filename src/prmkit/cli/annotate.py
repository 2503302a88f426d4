"""`prmkit annotate`: Synthesize process labels (Monte Carlo, OmegaPRM, RPE, PAV, consensus, SPARE, ReST-MCTS*, rStar-Math pairs).

    prmkit annotate mc --task arith --policy demo --problems 64 --samples 4 --n 8 --out labels/mc
    prmkit annotate omegaprm --task arith --policy demo --problems 64 --n 8 --budget 100 --out labels/omega
    prmkit annotate omegaprm --mode solution --samples 4 --out labels/omega-sol   # binary search on sampled solutions
    prmkit annotate rpe --epsilon 0.8 --out labels/rpe             # GenPRM relative progress
    prmkit annotate pav --prover runs/other_policy --out labels/pav  # advantage under a prover
    prmkit annotate consensus --judge token-cls --judge-path runs/prm --out labels/consensus  # MC AND a judge agree
    prmkit annotate spare --out labels/spare                       # align steps to the reference solution (no rollouts)
    prmkit annotate rest-mcts --n 32 --out labels/rest-mcts        # ReST-MCTS* value targets from one MCTS tree per question
    prmkit annotate ppm-pairs --n 32 --out labels/ppm-pairs        # rStar-Math step preference pairs (StepPair records)
    prmkit annotate spare --task gsm8k --task-option data_dir=data/gsm8k --solutions sols.jsonl --out labels/spare-gsm8k

All write resumable shards (rerun the same command to finish an interrupted job) and print where
the shards went and how many rollouts they cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from prmkit.cli._common import checkpoint_path, console, fail, load_cli_task, parse_options
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

__all__ = ["app"]

app = typer.Typer(help="Synthesize process labels (Monte Carlo, OmegaPRM, RPE, PAV, consensus, SPARE, ReST-MCTS*, rStar-Math pairs).", no_args_is_help=True)

# Options shared by both commands (typer reads the defaults and help from these annotations).
Task = Annotated[str, typer.Option(help="Registered task name (arith, gsm8k, ...).")]
Policy = Annotated[str, typer.Option(help="Policy checkpoint dir ('demo' = the shipped arith policy); passed as model=.")]
GeneratorName = Annotated[str, typer.Option(help="Registered generator backend that loads --policy.")]
Problems = Annotated[int, typer.Option(help="How many problems of the split to label.")]
Split = Annotated[str, typer.Option(help="Task split to take problems from.")]
N = Annotated[int, typer.Option("--n", help="Rollouts per Monte Carlo estimate (Math-Shepherd N, OmegaPRM k).")]
Samples = Annotated[int, typer.Option(help="Solutions sampled per problem to label.")]
Out = Annotated[Path, typer.Option(help="Output folder of the shards (rerun to resume).")]
MaxNewTokens = Annotated[int, typer.Option(help="Token limit of a rollout / a sampled solution.")]
Temperature = Annotated[float, typer.Option(help="Sampling temperature of rollouts and solutions.")]
Seed = Annotated[int, typer.Option(help="Base seed (rollouts and solution sampling derive theirs from it).")]
BatchSize = Annotated[int, typer.Option(help="Prompts per Generator.complete call.")]
TaskOption = Annotated[list[str], typer.Option(help="Task constructor option as key=value; repeatable.")]
GeneratorOption = Annotated[list[str], typer.Option(help="Generator option as key=value (e.g. device=cuda); repeatable.")]
Threads = Annotated[int, typer.Option(help="torch CPU threads (0 = torch's default); 1 is fastest for tiny policies on busy CPUs.")]
Solutions = Annotated[
    Path | None,
    typer.Option(help="JSONL of LabelledSolution records to label instead of sampling (--problems caps the problems)."),
]


@app.callback()
def _group() -> None:
    """Synthesize process labels (Monte Carlo, OmegaPRM, RPE, PAV, consensus, SPARE, ReST-MCTS*, rStar-Math pairs)."""


@app.command("mc")
def mc(
    task: Task = "arith",
    policy: Policy = "demo",
    generator: GeneratorName = "transformers",
    problems: Problems = 64,
    split: Split = "train",
    n: N = 8,
    labels: Annotated[str, typer.Option(help="'hard' (1 if any rollout is right) or 'soft' (fraction right).")] = "hard",
    samples: Samples = 4,
    out: Out = Path("labels/mc"),
    shard_size: ShardSize = 16,
    max_new_tokens: MaxNewTokens = 256,
    temperature: Temperature = 1.0,
    seed: Seed = 0,
    batch_size: BatchSize = 64,
    task_option: TaskOption = [],  # noqa: B006
    generator_option: GeneratorOption = [],  # noqa: B006
    solutions: Solutions = None,
    threads: Threads = 1,
    engine: EngineName = "local",
    address: Address = None,
    workers: Workers = 2,
    threads_per_worker: ThreadsPerWorker = 1,
    num_gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """Math-Shepherd Monte Carlo labels: n rollouts from every step prefix of sampled solutions."""
    from prmkit.annotate.mc import MCConfig

    config = _config(MCConfig, n=n, labels=labels, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, batch_size=batch_size)
    _run("mc", config, _Job(task, task_option, policy, generator, generator_option, problems, split, samples, out, shard_size, solutions, threads, EngineFlags(engine, address, workers, threads_per_worker, num_gpus_per_worker)))  # fmt: skip


@app.command("omegaprm")
def omegaprm(
    task: Task = "arith",
    policy: Policy = "demo",
    generator: GeneratorName = "transformers",
    problems: Problems = 64,
    split: Split = "train",
    n: N = 8,
    mode: Annotated[str, typer.Option(help="'tree' (the paper's search over rollouts) or 'solution' (binary search on sampled solutions).")] = "tree",
    budget: Annotated[int, typer.Option(help="Rollouts per question in tree mode (root estimate included).")] = 100,
    alpha: Annotated[float, typer.Option(help="Q = alpha^(1-MC(s)) * beta^(len(r)/L).")] = 0.5,
    beta: Annotated[float, typer.Option(help="Length penalty base in Q.")] = 0.9,
    length_scale: Annotated[float, typer.Option(help="L in Q, in tokens.")] = 500.0,
    c_puct: Annotated[float, typer.Option(help="Exploration weight of U(s) = c_puct*sqrt(sum N)/(1+N(s)).")] = 0.125,
    samples: Samples = 4,
    out: Out = Path("labels/omegaprm"),
    shard_size: ShardSize = 16,
    max_new_tokens: MaxNewTokens = 256,
    temperature: Temperature = 1.0,
    seed: Seed = 0,
    batch_size: BatchSize = 64,
    task_option: TaskOption = [],  # noqa: B006
    generator_option: GeneratorOption = [],  # noqa: B006
    solutions: Solutions = None,
    threads: Threads = 1,
    engine: EngineName = "local",
    address: Address = None,
    workers: Workers = 2,
    threads_per_worker: ThreadsPerWorker = 1,
    num_gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """OmegaPRM: binary search for each first error, choosing rollouts by Q + U (Luo et al. 2024)."""
    from prmkit.annotate.omegaprm import OmegaPRMConfig

    config = _config(
        OmegaPRMConfig, n=n, mode=mode, budget=budget, alpha=alpha, beta=beta, length_scale=length_scale, c_puct=c_puct,
        max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, batch_size=batch_size,
    )  # fmt: skip
    _run("omegaprm", config, _Job(task, task_option, policy, generator, generator_option, problems, split, samples, out, shard_size, solutions, threads, EngineFlags(engine, address, workers, threads_per_worker, num_gpus_per_worker)))  # fmt: skip


@app.command("rpe")
def rpe(
    task: Task = "arith",
    policy: Policy = "demo",
    generator: GeneratorName = "transformers",
    problems: Problems = 64,
    split: Split = "train",
    n: N = 8,
    epsilon: Annotated[float, typer.Option(help="Step is good when MC(after) / MC(before) >= epsilon (GenPRM: 0.8).")] = 0.8,
    samples: Samples = 4,
    out: Out = Path("labels/rpe"),
    shard_size: ShardSize = 16,
    max_new_tokens: MaxNewTokens = 256,
    temperature: Temperature = 1.0,
    seed: Seed = 0,
    batch_size: BatchSize = 64,
    task_option: TaskOption = [],  # noqa: B006
    generator_option: GeneratorOption = [],  # noqa: B006
    solutions: Solutions = None,
    threads: Threads = 1,
    engine: EngineName = "local",
    address: Address = None,
    workers: Workers = 2,
    threads_per_worker: ThreadsPerWorker = 1,
    num_gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """GenPRM relative progress: step good iff MC(prefix+step) / MC(prefix) >= epsilon (Zhao et al. 2025)."""
    from prmkit.annotate.rpe import RPEConfig

    config = _config(RPEConfig, n=n, epsilon=epsilon, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, batch_size=batch_size)
    _run("rpe", config, _Job(task, task_option, policy, generator, generator_option, problems, split, samples, out, shard_size, solutions, threads, EngineFlags(engine, address, workers, threads_per_worker, num_gpus_per_worker)))  # fmt: skip


@app.command("pav")
def pav(
    task: Task = "arith",
    policy: Policy = "demo",
    generator: GeneratorName = "transformers",
    problems: Problems = 64,
    split: Split = "train",
    n: N = 8,
    labels: Annotated[str, typer.Option(help="'hard' (1 iff A >= threshold) or 'advantage' ((1 + A) / 2).")] = "hard",
    threshold: Annotated[float, typer.Option(help="A step is good when A = Q(prefix+step) - V(prefix) >= threshold.")] = 0.0,
    prover: Annotated[str | None, typer.Option(help="Prover checkpoint whose rollouts estimate Q and V (default: --policy).")] = None,
    samples: Samples = 4,
    out: Out = Path("labels/pav"),
    shard_size: ShardSize = 16,
    max_new_tokens: MaxNewTokens = 256,
    temperature: Temperature = 1.0,
    seed: Seed = 0,
    batch_size: BatchSize = 64,
    task_option: TaskOption = [],  # noqa: B006
    generator_option: GeneratorOption = [],  # noqa: B006
    solutions: Solutions = None,
    threads: Threads = 1,
    engine: EngineName = "local",
    address: Address = None,
    workers: Workers = 2,
    threads_per_worker: ThreadsPerWorker = 1,
    num_gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """Process advantage under a prover, A = Q(prefix+step) - V(prefix), MC-estimated (Setlur et al. 2024)."""
    from prmkit.annotate.pav import PAVConfig

    config = _config(PAVConfig, n=n, labels=labels, threshold=threshold, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, batch_size=batch_size)  # fmt: skip
    _run("pav", config, _Job(task, task_option, policy, generator, generator_option, problems, split, samples, out, shard_size, solutions, threads, EngineFlags(engine, address, workers, threads_per_worker, num_gpus_per_worker)), prover=prover)  # fmt: skip


@app.command("consensus")
def consensus(
    judge: Annotated[str, typer.Option(help="Registered scorer name of the second judge (token-cls, judge, likelihood, arith-oracle, ...).")],
    judge_path: Annotated[str | None, typer.Option(help="Checkpoint dir or hub id of the judge.")] = None,
    judge_backend: Annotated[str | None, typer.Option(help="Judge backend: transformers, vllm or http (families only).")] = None,
    judge_option: Annotated[list[str], typer.Option(help="Judge option as key=value (JSON values); repeatable.")] = [],  # noqa: B006
    judge_threshold: Annotated[float, typer.Option(help="The judge calls a step wrong when its score is below this.")] = 0.5,
    task: Task = "arith",
    policy: Policy = "demo",
    generator: GeneratorName = "transformers",
    problems: Problems = 64,
    split: Split = "train",
    n: N = 8,
    samples: Samples = 4,
    out: Out = Path("labels/consensus"),
    shard_size: ShardSize = 16,
    max_new_tokens: MaxNewTokens = 256,
    temperature: Temperature = 1.0,
    seed: Seed = 0,
    batch_size: BatchSize = 64,
    task_option: TaskOption = [],  # noqa: B006
    generator_option: GeneratorOption = [],  # noqa: B006
    solutions: Solutions = None,
    threads: Threads = 1,
    engine: EngineName = "local",
    address: Address = None,
    workers: Workers = 2,
    threads_per_worker: ThreadsPerWorker = 1,
    num_gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """Consensus filtering: keep a solution only when hard MC and --judge agree on its first error (Zhang et al. 2025).

    Prints how many solutions were kept; the rest are dropped (their rollouts are still counted).
    """
    from prmkit.annotate.consensus import ConsensusConfig

    config = _config(ConsensusConfig, n=n, judge_threshold=judge_threshold, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, batch_size=batch_size)  # fmt: skip
    job = _Job(task, task_option, policy, generator, generator_option, problems, split, samples, out, shard_size, solutions, threads, EngineFlags(engine, address, workers, threads_per_worker, num_gpus_per_worker))  # fmt: skip
    _run("consensus", config, job, judge=_Judge(judge, judge_path, judge_backend, judge_option))


@app.command("spare")
def spare(
    task: Task = "arith",
    policy: Policy = "demo",
    generator: GeneratorName = "transformers",
    problems: Problems = 64,
    split: Split = "train",
    claimless: Annotated[str, typer.Option(help="A step with no equation and no final answer: 'neutral' or 'error'.")] = "neutral",
    samples: Samples = 4,
    out: Out = Path("labels/spare"),
    shard_size: ShardSize = 16,
    max_new_tokens: MaxNewTokens = 256,
    temperature: Temperature = 1.0,
    seed: Seed = 0,
    batch_size: BatchSize = 64,
    task_option: TaskOption = [],  # noqa: B006
    generator_option: GeneratorOption = [],  # noqa: B006
    solutions: Solutions = None,
    threads: Threads = 1,
    engine: EngineName = "local",
    address: Address = None,
    workers: Workers = 2,
    threads_per_worker: ThreadsPerWorker = 1,
    num_gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """SPARE: align every step to the task's reference solution, no rollouts (Rizvi et al. 2025).

    The policy only samples the solutions to label; with --solutions no policy is loaded.
    """
    from prmkit.annotate.spare import SPAREConfig

    config = _config(SPAREConfig, claimless=claimless, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, batch_size=batch_size)  # fmt: skip
    _run("spare", config, _Job(task, task_option, policy, generator, generator_option, problems, split, samples, out, shard_size, solutions, threads, EngineFlags(engine, address, workers, threads_per_worker, num_gpus_per_worker)))  # fmt: skip


TreeN = Annotated[int, typer.Option("--n", help="Policy step samples per question: the MCTS budget N (a multiple of --width).")]
Width = Annotated[int, typer.Option(help="Step samples per expansion (distinct ones become children).")]
CPuct = Annotated[float, typer.Option(help="PUCT exploration weight.")]
WidenBelow = Annotated[float, typer.Option(help="A step below this share of its parent's guide score is broken: sample more where it broke (0 = off).")]
RolloutWeight = Annotated[float, typer.Option(help="Weight of one full rollout's guide score in a new node's value (0 = guide score only).")]
MaxSteps = Annotated[int, typer.Option(help="Deepest solution the tree grows.")]
MaxStepTokens = Annotated[int, typer.Option(help="Token limit of one sampled step.")]
GuideName = Annotated[str | None, typer.Option(help="Registered scorer valuing the tree's nodes (default: the gold final answer only).")]
GuidePath = Annotated[str | None, typer.Option(help="Checkpoint dir or hub id of the guide.")]
GuideBackend = Annotated[str | None, typer.Option(help="Guide backend: transformers, vllm or http (families only).")]
GuideOption = Annotated[list[str], typer.Option(help="Guide option as key=value (JSON values); repeatable.")]


def _tree_command(name: str, doc: str) -> None:
    """Register ``prmkit annotate NAME`` for a registered annotator that labels from one MCTS tree per
    question (its ``config_class`` is a :class:`~prmkit.annotate._tree.TreeConfig`)."""

    def command(
        task: Task = "arith",
        policy: Policy = "demo",
        generator: GeneratorName = "transformers",
        problems: Problems = 64,
        split: Split = "train",
        n: TreeN = 32,
        width: Width = 4,
        c_puct: CPuct = 1.0,
        widen_below: WidenBelow = 0.5,
        rollout_weight: RolloutWeight = 1.0,
        max_steps: MaxSteps = 10,
        max_step_tokens: MaxStepTokens = 32,
        guide: GuideName = None,
        guide_path: GuidePath = None,
        guide_backend: GuideBackend = None,
        guide_option: GuideOption = [],  # noqa: B006
        out: Out = Path(f"labels/{name}"),
        shard_size: ShardSize = 16,
        max_new_tokens: MaxNewTokens = 256,
        temperature: Temperature = 1.0,
        seed: Seed = 0,
        task_option: TaskOption = [],  # noqa: B006
        generator_option: GeneratorOption = [],  # noqa: B006
        threads: Threads = 1,
        engine: EngineName = "local",
        address: Address = None,
        workers: Workers = 2,
        threads_per_worker: ThreadsPerWorker = 1,
        num_gpus_per_worker: GpusPerWorker = 0.0,
    ) -> None:
        from prmkit.annotate import ANNOTATORS

        config = _config(ANNOTATORS.get(name).config_class, n=n, width=width, c_puct=c_puct, widen_below=widen_below,
                         rollout_weight=rollout_weight, max_steps=max_steps, max_step_tokens=max_step_tokens,
                         max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)  # fmt: skip
        job = _Job(task, task_option, policy, generator, generator_option, problems, split, 1, out, shard_size, None, threads, EngineFlags(engine, address, workers, threads_per_worker, num_gpus_per_worker))  # fmt: skip
        _run(name, config, job, guide=_Judge(guide, guide_path, guide_backend, guide_option) if guide else None)

    command.__doc__ = doc
    command.__name__ = name.replace("-", "_")
    app.command(name)(command)


_tree_command("rest-mcts", "ReST-MCTS* value targets: v_k of every solution one MCTS tree per question finished (Zhang et al. 2024).")
_tree_command("ppm-pairs", "rStar-Math step preference pairs: steps of one MCTS tree per question ranked by Q (Guan et al. 2025).\n\n"
              "Writes StepPair records (prefix, chosen, rejected) for `prmkit train pairwise`.")


@dataclass
class _Judge:
    """The --judge flags: a scorer loaded here (local engine) or on each Ray worker."""

    name: str
    path: str | None
    backend: str | None
    option: list[str]

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "backend": self.backend, "options": parse_options(self.option)}

    def build(self, engine: str) -> Any:
        return cli_scorer(self.name, self.path, self.backend, self.option, engine, "--judge-path")


def _config(kind: type, **fields: Any) -> Any:
    from prmkit.cli._config import as_flags

    try:
        return kind(**fields)
    except ValueError as err:
        fail(as_flags(str(err)))


def _read_units(path: Path) -> list[Any]:
    """Units from a JSONL of ``LabelledSolution.to_dict()`` records (errors name the line)."""
    from prmkit.annotate import units_from_records
    from prmkit.io._jsonl import FormatError, read_jsonl
    from prmkit.types import LabelledSolution

    records = []
    for line, data in read_jsonl(path):
        try:
            records.append(LabelledSolution.from_dict(data))
        except (KeyError, TypeError, ValueError) as err:
            raise FormatError(f"{path}:{line}: not a LabelledSolution record (problem, solution, labels): {err}") from None
    if not records:
        raise FormatError(f"{path}: no records; expected one LabelledSolution per line")
    return units_from_records(records)


@dataclass
class _Job:
    """The flags both commands share (everything but the annotator's own settings)."""

    task: str
    task_option: list[str]
    policy: str
    generator: str
    generator_option: list[str]
    problems: int
    split: str
    samples: int
    out: Path
    shard_size: int
    solutions: Path | None
    threads: int
    engine: EngineFlags


def _run(name: str, config: Any, job: _Job, prover: str | None = None, judge: _Judge | None = None,
         guide: _Judge | None = None) -> None:
    """Config -> setup (task, problems, policy) -> sharded run -> where the outputs went."""
    from prmkit._registry import UnknownNameError
    from prmkit.annotate import ANNOTATORS, AnnotationUnit, SolutionSampler, run_sharded

    if job.problems < 1 or job.samples < 1 or job.shard_size < 1 or job.threads < 0:
        fail(f"--problems, --samples, --shard-size must be >= 1 and --threads >= 0, got {job.problems}, {job.samples}, {job.shard_size}, {job.threads}")
    if job.threads:
        import torch

        torch.set_num_threads(job.threads)
    task = load_cli_task(job.task, job.task_option)
    no_policy = job.solutions is not None and not ANNOTATORS.get(name).uses_generator  # e.g. spare on given solutions
    policy = None if no_policy else checkpoint_path(job.policy, "--policy", demo=True, hub=job.generator == "transformers")
    try:
        if job.solutions:
            units = _read_units(job.solutions)[: job.problems]
        else:
            units = [AnnotationUnit(p) for p in task.problems(job.split)[: job.problems]]
        job.engine.check()
        generator = None if no_policy else cli_generator(job.generator, policy, job.generator_option, job.engine.name)  # ray: each actor loads it
        roller = generator
        if prover is not None and job.engine.name != "local":
            fail("--prover runs on --engine local only (each Ray worker would need its own prover copy)")
        if prover is not None:  # pav: rollouts from another checkpoint, solutions from --policy
            path = checkpoint_path(prover, "--prover", demo=True, hub=job.generator == "transformers")
            roller = cli_generator(job.generator, path, job.generator_option, "local")
        extra = {"judge": judge.build(job.engine.name)} if judge is not None else {}
        if guide is not None:
            extra["guide"] = guide.build(job.engine.name)
        annotator = ANNOTATORS.get(name)(roller, task, config, **extra)
        sampler = None
        if annotator.needs_solutions and not job.solutions:
            sampler = SolutionSampler(
                generator, task, samples=job.samples, max_new_tokens=config.max_new_tokens,
                temperature=config.temperature, seed=config.seed, batch_size=config.batch_size,
            )  # fmt: skip
        source = f"solutions of {job.solutions}" if job.solutions else f"{job.split} problems"
        console.print(f"[bold]{name}[/bold]: labelling {len(units)} {job.task} {source} into {job.out}", soft_wrap=True)
        identity = {
            "task": job.task, "task_options": parse_options(job.task_option), "split": job.split, "policy": None if no_policy else job.policy,
            "generator": job.generator, "solutions": str(job.solutions) if job.solutions else None,
        }  # fmt: skip
        if prover is not None:
            identity["prover"] = prover
        if judge is not None:
            identity["judge"] = judge.identity()
        if guide is not None:
            identity["guide"] = guide.identity()
        with job.engine.running() as engine:
            run = run_sharded(annotator, units, job.out, shard_size=job.shard_size, sampler=sampler, job=identity,
                              engine=engine)
    except (UnknownNameError, ValueError, FileNotFoundError, OSError) as err:
        fail(str(err))
    if run.shards_skipped:
        console.print(f"resumed: {run.shards_skipped} finished shard(s) skipped")
    console.print(f"shards: {run.out_dir} ({len(run.shards)} files shard-*.jsonl, {run.records} {annotator.record_noun})", soft_wrap=True)
    if run.records < run.solutions:
        console.print(f"kept {run.records} of {run.solutions} solutions ({run.records / run.solutions:.1%}); the rest were dropped")
    sampled = f", {run.samples} solutions sampled" if run.samples else ""
    console.print(f"rollouts: {run.rollouts} total{sampled}; this run made {run.calls} generator calls")
    if run.report is not None and run.report.workers:
        console.print(run.report.table(f"per worker ({job.engine.name} engine)"))
