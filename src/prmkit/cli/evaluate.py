"""`prmkit eval`: Evaluate PRMs: ProcessBench, PRMBench, best-of-N, step metrics.

Each sub-command reads data plus step scores (a scores JSONL file, or a scorer loaded by name),
prints a table and writes a JSON result (every rate in percent, ``null`` where undefined).

Examples:

    prmkit eval processbench --data gsm8k.json --data math.json --scores scores.jsonl \\
        --threshold auto --output results/pb.json
    prmkit eval processbench --data gsm8k.json --model dummy --option value=0.7 --output pb.json
    prmkit eval prmbench --data prmbench/ --scores prm_scores.jsonl --output prmbench.json
    prmkit eval bon --data bon.jsonl --output bon.json --plot
    prmkit eval steps --data labelled.jsonl --scores scores.jsonl --output steps.json
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from prmkit.cli._common import console, fail, load_cli_scorer, output_file, parse_options, sniff_format

__all__ = ["app"]

app = typer.Typer(help="Evaluate PRMs: ProcessBench, PRMBench, best-of-N, step metrics.", no_args_is_help=True)

DataOpt = Annotated[
    list[Path],
    typer.Option("--data", help="Input file, or a folder of them; repeat for several.", exists=True, dir_okay=True),
]
OutputOpt = Annotated[Path, typer.Option("--output", help="Where to write the JSON result.")]
ScoresOpt = Annotated[
    Path | None, typer.Option("--scores", help="Scores JSONL: one line per record with its per-step 'scores'.")
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Score with this registered scorer instead of --scores.")]
PathOpt = Annotated[str | None, typer.Option("--path", help="Model folder/name passed to the scorer as path=.")]
BackendOpt = Annotated[str | None, typer.Option("--backend", help="Scorer backend (transformers, vllm, http, ...).")]
OptionOpt = Annotated[
    list[str] | None, typer.Option("--option", help="Extra scorer option key=value (JSON values parsed); repeatable.")
]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Solutions per scorer call.", min=1)]
SaveScoresOpt = Annotated[
    Path | None, typer.Option("--save-scores", help="With --model: also write the step scores as JSONL here.")
]


@app.callback()
def _group() -> None:
    """Evaluate PRMs: ProcessBench, PRMBench, best-of-N, step metrics."""


def _expand(data: list[Path], *suffixes: str) -> list[Path]:
    """Files given directly, plus the record files of each folder given (:func:`prmkit.io._files.data_files`:
    the files with one of ``suffixes``, sorted, or an annotate output's shards)."""
    from prmkit.io._files import data_files
    from prmkit.io._jsonl import FormatError

    out: list[Path] = []
    for item in data:
        try:
            out.extend(data_files(item, suffixes))
        except FormatError as err:
            fail(f"--data {err}")
    return out


def _check_run(scores: Path | None, model: str | None, output: Path, save_scores: Path | None = None,
               threshold: float | None = None) -> None:
    """Refuse, before any work, what would fail or mislead later: both or neither score source, a
    missing --scores file, an --output folder, a threshold that is not a probability."""
    if (scores is None) == (model is None):
        fail("give exactly one of --scores FILE or --model NAME")
    if scores is not None and not scores.is_file():
        fail(f"--scores {scores}: {'is a folder' if scores.is_dir() else 'no such file'}; give a scores JSONL file")
    output_file(output, "--output")
    output_file(save_scores, "--save-scores")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        fail(f"--threshold {threshold} is outside [0, 1]; scores are probabilities, so pick a value in [0, 1]")


def _config(**values: Any) -> dict[str, Any]:
    """The resolved settings, stored next to the numbers so a result file says how it was made."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        prmkit_version = version("prmkit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        prmkit_version = None
    resolved = {k: [str(p) for p in v] if isinstance(v, list) else (str(v) if isinstance(v, Path) else v)
                for k, v in values.items()}
    return {**resolved, "prmkit_version": prmkit_version, "argv": sys.argv[1:]}


def _finish(result: dict[str, Any], output: Path) -> None:
    from prmkit.evaluate._report import write_result

    write_result(output, result)
    console.print(f"wrote {output}")


def _save_scores(path: Path | None, scores: dict[str, list[float | None]], fields: Any) -> None:
    if path is None:
        return
    from prmkit.io._jsonl import write_jsonl

    write_jsonl(path, ({**fields(key), "scores": row} for key, row in scores.items()))
    console.print(f"wrote {path}")


@app.command("processbench")
def processbench(
    data: DataOpt,
    output: OutputOpt,
    scores: ScoresOpt = None,
    model: ModelOpt = None,
    path: PathOpt = None,
    backend: BackendOpt = None,
    option: OptionOpt = None,
    threshold: Annotated[str, typer.Option(help="A number, or 'auto' (max F1 on GSM8K, reused).")] = "0.5",
    tune_on: Annotated[str, typer.Option(help="Subset that --threshold auto tunes on.")] = "gsm8k",
    batch_size: BatchOpt = 32,
    save_scores: SaveScoresOpt = None,
) -> None:
    """ProcessBench: earliest-error accuracy on erroneous/correct samples and their F1, per subset.

    Scores lines: {"id": "<record id>", "scores": \\[float per step]}.

    Examples:

        prmkit eval processbench --data gsm8k.json --data math.json --scores scores.jsonl --threshold auto --output pb.json

        prmkit eval processbench --data processbench/ --model qwen2.5-math-prm --path Qwen/Qwen2.5-Math-PRM-7B --output pb.json --save-scores pb_scores.jsonl
    """
    from prmkit.evaluate import processbench as pb
    from prmkit.evaluate._report import fmt, print_table
    from prmkit.evaluate._scoring import read_scores
    from prmkit.io._jsonl import FormatError
    from prmkit.io.processbench import read_processbench

    data = _expand(data, ".json", ".jsonl")
    chosen: float | str
    if threshold == "auto":
        chosen = "auto"
    else:
        try:
            chosen = float(threshold)
        except ValueError:
            fail(f"--threshold {threshold!r} must be a number or 'auto'")
    _check_run(scores, model, output, save_scores, None if chosen == "auto" else chosen)  # type: ignore[arg-type]
    try:
        records = [item for file in data for item in read_processbench(file)]
        if scores is not None:
            result = pb.evaluate(records, read_scores(scores, ["id"]), threshold=chosen, tune_on=tune_on)
        else:
            scored = pb.score_records(records, load_cli_scorer(model, path, backend, option), batch_size=batch_size)  # type: ignore[arg-type]
            _save_scores(save_scores, scored, lambda key: {"id": key})
            result = pb.evaluate(records, scored, threshold=chosen, tune_on=tune_on)
    except (FormatError, ValueError, KeyError) as err:
        fail(str(err))
    result["config"] = _config(data=data, scores=scores, model=model, path=path, backend=backend,
                               options=parse_options(option), threshold=threshold, tune_on=tune_on)
    rows = [
        [name, s["error_acc"], s["correct_acc"], s["f1"], fmt(s["threshold"], 3), s["best_f1"],
         fmt(s["best_threshold"], 3)]
        for name, s in result["subsets"].items()
    ]
    rows.append(["average", None, None, result["average_f1"], fmt(result["threshold"], 3), None, None])
    print_table(
        f"ProcessBench (threshold {result['threshold_mode']})",
        ["subset", "error acc", "correct acc", "F1", "threshold", "best F1", "best thr."],
        rows,
    )
    _finish(result, output)


@app.command("prmbench")
def prmbench(
    data: DataOpt,
    output: OutputOpt,
    scores: ScoresOpt = None,
    model: ModelOpt = None,
    path: PathOpt = None,
    backend: BackendOpt = None,
    option: OptionOpt = None,
    threshold: Annotated[float, typer.Option(help="A step is valid when its score is > threshold.")] = 0.5,
    include_correct: Annotated[
        bool, typer.Option(help="Also score the unmodified solutions (category 'correct'), like the official loader.")
    ] = False,
    batch_size: BatchOpt = 32,
    save_scores: SaveScoresOpt = None,
) -> None:
    """PRMBench: PRMScore = (F1 + negative F1) / 2 over steps, per error category and overall.

    Scores lines: {"idx": "<idx>", "classification": "<classification>", "scores": \\[float per step]}.

    Examples:

        prmkit eval prmbench --data prmbench/ --scores prm_scores.jsonl --output prmbench.json

        prmkit eval prmbench --data prmbench/ --model dummy --option value=0.7 --include-correct --output prmbench.json
    """
    from prmkit.evaluate import prmbench as pm
    from prmkit.evaluate._report import print_table
    from prmkit.evaluate._scoring import read_scores
    from prmkit.io._jsonl import FormatError
    from prmkit.io.prmbench import read_prmbench

    _check_run(scores, model, output, save_scores, threshold)
    data = _expand(data, ".jsonl")
    try:
        records = read_prmbench(*data, include_correct=include_correct)
        if scores is not None:
            result = pm.evaluate(records, read_scores(scores, ["classification", "idx"]), threshold=threshold)
        else:
            result = pm.evaluate_scorer(
                records, load_cli_scorer(model, path, backend, option), threshold=threshold, batch_size=batch_size  # type: ignore[arg-type]
            )
            scored = result.pop("scores")
            meta = {r.problem.id: r.solution.meta for r in records}
            _save_scores(save_scores, scored,
                         lambda key: {"idx": meta[key]["idx"], "classification": meta[key]["classification"]})
    except (FormatError, ValueError, KeyError) as err:
        fail(str(err))
    result["config"] = _config(data=data, scores=scores, model=model, path=path, backend=backend,
                               options=parse_options(option), threshold=threshold, include_correct=include_correct)
    rows = [[name, c["prmscore"], c["f1"], c["negative_f1"], c["num_samples"]] for name, c in result["categories"].items()]
    rows.append(["overall", result["prmscore"], result["f1"], result["negative_f1"], result["num_samples"]])
    print_table("PRMBench", ["category", "PRMScore", "F1", "negative F1", "samples"], rows)
    _finish(result, output)


@app.command("bon")
def bon(
    data: DataOpt,
    output: OutputOpt,
    ks: Annotated[str | None, typer.Option(help="Comma-separated k values (default 1,2,4,...,N).")] = None,
    aggregation: Annotated[
        list[str] | None, typer.Option(help="Step-score aggregation(s) (default: min, last, product, mean, softmin).")
    ] = None,
    samples: Annotated[int, typer.Option(help="Random k-subsets per problem and k.", min=1)] = 100,
    seed: Annotated[int, typer.Option(help="Subset sampling seed.")] = 0,
    plot: Annotated[bool, typer.Option("--plot", help="Also draw accuracy-vs-N curves to OUTPUT with .png.")] = False,
) -> None:
    """Best-of-N: pass@k, majority@k, best-of-k and weighted vote@k from scored candidates.

    Input lines: {"problem_id": str, "candidates": \\[{"answer": str|null, "correct": bool,
    "scores": \\[float in 0..1 per step], "num_tokens": int (optional)}]}. A `prmkit search` output with
    several methods or N is evaluated per run (one table each). The JSON also holds a 95 % bootstrap
    interval over problems for every value ("intervals"); --plot draws them.

    Examples:

        prmkit eval bon --data search_results.jsonl --output bon.json --plot

        prmkit eval bon --data bon.jsonl --ks 1,4,16 --aggregation min --aggregation last --output bon.json
    """
    from prmkit.evaluate import bon as bn
    from prmkit.models.aggregate import AGGREGATIONS

    try:
        k_values = [int(k) for k in ks.split(",")] if ks else None
    except ValueError:
        fail(f"--ks {ks!r} must be comma-separated integers, e.g. 1,2,4,8")
    aggregations = aggregation or list(AGGREGATIONS)
    data = _expand(data, ".jsonl")
    output_file(output, "--output")
    runs = bn.group_runs([r for file in data for r in bn.read_bon(file)], where=", ".join(map(str, data)))
    results = {}
    for label, records in runs.items():
        fewest, most, problem = bn.candidate_counts(records)
        if fewest < most and k_values is None:
            console.print(f"[bold yellow]warning:[/bold yellow] {label}: problems have {fewest} to {most} candidates "
                          f"(e.g. {problem!r} has {fewest}), so k stops at {fewest}", soft_wrap=True)
        try:
            result = bn.evaluate(records, ks=k_values, aggregations=aggregations, samples=samples, seed=seed, intervals=True)
        except ValueError as err:
            fail(f"{label}: {err}; pass --ks up to {fewest}")
        _print_bon(result, aggregations, label if len(runs) > 1 else None)
        results[label] = result
    config = _config(data=data, ks=ks, aggregations=aggregations, samples=samples, seed=seed)
    combined = next(iter(results.values())) if len(results) == 1 else {"runs": results}
    combined["config"] = config
    _finish(combined, output)
    if plot:
        from prmkit.evaluate.plots import plot_bon

        for label, result in results.items():
            suffix = "" if len(results) == 1 else "_" + "".join(c if c.isalnum() else "_" for c in label)
            console.print(f"wrote {plot_bon(result, output.with_name(output.stem + suffix + '.png'))}")


def _print_bon(result: dict[str, Any], aggregations: list[str], label: str | None) -> None:
    """One best-of-N table (``label`` names the search run when a file holds several).

    Rules are rows and k values columns, so the default table (5 aggregations, k up to 64) fits 100
    terminal columns; the JSON holds the 95 % bootstrap interval of every cell.
    """
    from prmkit.evaluate._report import print_table

    ks = [str(k) for k in result["ks"]]
    rows: list[list[Any]] = [["pass@k", *(result["pass@k"][k] for k in ks)],
                             ["majority", *(result["majority@k"][k] for k in ks)]]
    for how in aggregations:
        rows.append([f"best ({how})", *(result["best_of_k"][how][k] for k in ks)])
    for how in aggregations:
        rows.append([f"weighted ({how})", *(result["weighted_vote@k"][how][k] for k in ks)])
    run = f" [{label}]" if label else ""
    print_table(f"Best-of-N{run} over {result['num_problems']} problems (accuracy %, by k)", ["rule", *(f"k={k}" for k in ks)], rows)


@app.command("steps")
def steps(
    data: DataOpt,
    output: OutputOpt,
    scores: ScoresOpt = None,
    model: ModelOpt = None,
    path: PathOpt = None,
    backend: BackendOpt = None,
    option: OptionOpt = None,
    data_format: Annotated[
        str, typer.Option("--format", help="auto (told from the first record), labelled (LabelledSolution JSONL), "
                          "processbench, prmbench or another prmkit convert format.")
    ] = "auto",
    threshold: Annotated[float, typer.Option(help="Scores >= threshold count as predicted correct.")] = 0.5,
    bins: Annotated[int, typer.Option(help="Calibration bins.", min=1)] = 10,
    batch_size: BatchOpt = 32,
) -> None:
    """Step metrics (AUROC, F1, negative F1, ECE, first-error accuracy) on any step-labelled set.

    Scores lines: {"id": "<solution.meta['id'] or problem.id>", "scores": \\[float in 0..1 per step]}; when
    several records share an id they are numbered in file order ("p/0", "p/1"), as `prmkit score` writes them.

    Examples:

        prmkit eval steps --data labelled.jsonl --scores scores.jsonl --output steps.json

        prmkit eval steps --data gsm8k.json --model dummy --output steps.json   (ProcessBench: told from its records)
    """
    from prmkit.evaluate import step_metrics as sm
    from prmkit.evaluate._report import print_table
    from prmkit.evaluate._scoring import read_scores, score_items
    from prmkit.io._jsonl import FormatError
    from prmkit.io.convert import FORMATS, read_many

    _check_run(scores, model, output, None, threshold)
    data = _expand(data, ".jsonl", ".json")
    fmt = "prmkit" if data_format == "labelled" else data_format
    if fmt == "auto":
        fmt = sniff_format(data[0], "--data")
    if fmt not in FORMATS:
        fail(f"--format {data_format!r}: choose auto, labelled, or one of {', '.join(sorted(FORMATS))}")
    try:
        records = list(read_many(fmt, data))
        unlabelled = next((r for r in records if r.labels is None), None)
        if unlabelled is not None:
            fail(f"--data: record {unlabelled.problem.id!r} ({fmt}) has no step labels; step metrics need them")
        keys = sm.record_keys(records)  # the ids `prmkit score` writes for these records
        if scores is not None:
            by_key = read_scores(scores, ["id"])
            missing = [key for key in keys if key not in by_key]
            if missing:
                fail(f"--scores {scores} has no line for {len(missing)} of {len(keys)} records (first: {missing[0]!r}); "
                     "write it with `prmkit score --input` on the same --data file")
            step_scores: Any = [by_key[key] for key in keys]
        else:
            step_scores = score_items(
                load_cli_scorer(model, path, backend, option),  # type: ignore[arg-type]
                [(r.problem.question, r.solution.steps) for r in records],
                batch_size=batch_size,
                description="steps",
                ids=keys,
            )
        result = sm.evaluate(records, step_scores, threshold=threshold, bins=bins)
    except (FormatError, ValueError, KeyError) as err:
        fail(str(err))
    result["config"] = _config(data=data, scores=scores, model=model, path=path, backend=backend,
                               options=parse_options(option), format=data_format, threshold=threshold, bins=bins)
    names = ["auroc", "f1", "negative_f1", "ece", "first_error_acc", "num_steps", "num_solutions"]
    print_table("Step metrics (%; ECE in percentage points)", ["metric", "value"], [[n, result[n]] for n in names], digits=2)
    _finish(result, output)
