"""The data of a view: solutions joined with each PRM's step scores and (optionally) step labels.

Why a separate step from the HTML: everything that is *computed* (predicted first errors at each
PRM's threshold, the true first error, the per-PRM summary with prmkit's own metric functions)
happens here in Python, once, so the page only filters, sorts and draws. The page never
re-implements a metric.

Payload (what the page embeds as JSON)::

    {"title": str,
     "prms": [{"name", "source", "threshold", "summary": {metric: value | null}}],
     "questions": [str],                        # each distinct question once
     "rows": [{"id", "q": index into questions, "steps": [str], "answer": str | null,
               "correct": bool | null,          # final answer right?
               "gold": int | null,              # true first error (-1 none, null unknown)
               "scores": [[float | null] per step] per PRM,
               "pred": [int | null] per PRM}]}  # predicted first error (-1 none, null no score)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prmkit._errors import InputError
from prmkit.types import LabelledSolution, StepLabels, first_error_from_labels

__all__ = ["ViewInputError", "PRMScores", "attach_labels", "build_payload", "gold_first_error", "summarise"]


class ViewInputError(InputError):
    """Solutions, scores and labels that do not fit together; the message names the file and id."""


@dataclass
class PRMScores:
    """One PRM's column of a view.

    Attributes:
        name: the column title (unique within a view).
        scores: solution id -> one score per step (``None`` for an unscored step).
        threshold: a step scored below it is predicted wrong (its first such step = predicted first error).
        source: where the scores came from (a file name), shown in the summary.
    """

    name: str
    scores: Mapping[str, Sequence[float | None]]
    threshold: float = 0.5
    source: str = ""


def gold_first_error(labels: StepLabels | None) -> int | None:
    """The true first error: ``labels.first_error`` when set, else the first step labelled below 0.5
    (-1 none, ``None`` unknown or unlabelled)."""
    if labels is None:
        return None
    if labels.first_error is not None:
        return labels.first_error
    return first_error_from_labels(list(labels.labels))


def _nan_to_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 4)


def summarise(records: Sequence[LabelledSolution], rows: Sequence[Sequence[float | None]], threshold: float) -> dict[str, Any]:
    """One PRM's summary over the view's solutions, with prmkit's own metric functions.

    Returns:
        ``solutions``, ``flagged`` (% with a predicted error); with known true first errors
        ``labelled``, ProcessBench ``error_acc`` / ``correct_acc`` / ``f1`` (%,
        :func:`prmkit.metrics.processbench_f1`) and ``first_error_acc`` (% whose predicted first
        error is the true one); with step labels also step ``auroc`` (%,
        :func:`prmkit.evaluate.step_metrics.evaluate`). Undefined values are ``None``.
    """
    from prmkit.evaluate.step_metrics import evaluate as step_metrics
    from prmkit.metrics import first_error_prediction, processbench_f1

    predicted = [first_error_prediction(row, threshold) for row in rows]
    summary: dict[str, Any] = {"solutions": len(rows),
                               "flagged": _nan_to_none(100.0 * sum(p is not None and p >= 0 for p in predicted) / max(1, len(rows)))}
    gold = [gold_first_error(r.labels) for r in records]
    known = [(g, p) for g, p in zip(gold, predicted) if g is not None]
    summary["labelled"] = len(known)
    if known:
        f1 = processbench_f1([g for g, _ in known], [p for _, p in known])
        summary.update({key: _nan_to_none(value) for key, value in f1.items()})
        summary["first_error_acc"] = _nan_to_none(100.0 * sum(g == p for g, p in known) / len(known))
    stepwise = [(r, row) for r, row in zip(records, rows) if r.labels is not None]
    if stepwise:
        found = step_metrics([r for r, _ in stepwise], [row for _, row in stepwise], threshold=threshold)
        summary["auroc"] = _nan_to_none(found["auroc"])
    return summary


def _aligned(prm: PRMScores, keys: Sequence[str], records: Sequence[LabelledSolution]) -> list[list[float | None]]:
    from prmkit.evaluate._scoring import check_scores

    missing = [key for key in keys if key not in prm.scores]
    if missing:
        raise ViewInputError(f"--scores {prm.source or prm.name} has no line for {len(missing)} of {len(keys)} solutions "
                             f"(first: {missing[0]!r}); write it with `prmkit score --input` on the same --input file")
    try:
        return check_scores(keys, [len(r.solution.steps) for r in records], prm.scores, what="solution")
    except ValueError as err:
        raise ViewInputError(f"--scores {prm.source or prm.name}: {err}") from None


def build_payload(solutions: Sequence[tuple[str, LabelledSolution]], prms: Sequence[PRMScores],
                  title: str = "prmkit view") -> dict[str, Any]:
    """Join solutions and PRM scores into the page's payload (schema in the module docstring).

    Args:
        solutions: ``(id, record)`` pairs, e.g. from :func:`prmkit.io.solutions.read_solutions`;
            a record's ``labels`` (when set) give the true first error.
        prms: one :class:`PRMScores` per column; each must score every solution, one score per step.
        title: the page title.

    Raises:
        ViewInputError: no solutions, no PRM, repeated PRM names, a threshold outside [0, 1], or
            scores missing / of the wrong length for a solution (names the file and the id).

    Example:
        >>> from prmkit.types import Problem, Solution
        >>> record = LabelledSolution(Problem("p", "1+1?"), Solution("p", ["1+1=3", "so 3"]), StepLabels([0.0, 0.0]))
        >>> payload = build_payload([("p", record)], [PRMScores("a", {"p": [0.2, 0.9]})])
        >>> payload["rows"][0]["gold"], payload["rows"][0]["pred"], payload["prms"][0]["summary"]["f1"]
        (0, [0], None)
    """
    from prmkit.metrics import first_error_prediction

    if not solutions:
        raise ViewInputError("--input holds no solutions; nothing to view")
    if not prms:
        raise ViewInputError("give at least one --scores file")
    names = [prm.name for prm in prms]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ViewInputError(f"two --scores columns are both named {repeated[0]!r}; name them as NAME=PATH")
    for prm in prms:
        if not 0.0 <= prm.threshold <= 1.0:
            raise ViewInputError(f"threshold {prm.threshold} of {prm.name!r} is outside [0, 1]; scores are probabilities")
    keys = [key for key, _ in solutions]
    records = [record for _, record in solutions]
    columns = [_aligned(prm, keys, records) for prm in prms]
    questions: dict[str, int] = {}
    rows = []
    for i, (key, record) in enumerate(solutions):
        rows.append({
            "id": key, "q": questions.setdefault(record.problem.question, len(questions)),
            "steps": list(record.solution.steps), "answer": record.solution.answer, "correct": record.solution.correct,
            "gold": gold_first_error(record.labels),
            "scores": [column[i] for column in columns],
            "pred": [first_error_prediction(column[i], prm.threshold) for prm, column in zip(prms, columns)],
        })
    return {
        "title": title,
        "prms": [{"name": prm.name, "source": prm.source, "threshold": prm.threshold,
                  "summary": summarise(records, column, prm.threshold)} for prm, column in zip(prms, columns)],
        "questions": list(questions),
        "rows": rows,
    }


def attach_labels(solutions: Sequence[tuple[str, LabelledSolution]], labelled: Sequence[tuple[str, LabelledSolution]],
                  source: str = "--labels") -> list[tuple[str, LabelledSolution]]:
    """``solutions`` with the step labels of ``labelled`` matched by id (those without a match keep theirs).

    Raises:
        ViewInputError: no id matches, or a matched record has a different number of steps.
    """
    import dataclasses

    by_key = {key: record for key, record in labelled if record.labels is not None}
    if not by_key:
        raise ViewInputError(f"{source} holds no step labels; give a file of labelled solutions (e.g. prmkit annotate's output)")
    out, matched = [], 0
    for key, record in solutions:
        found = by_key.get(key)
        if found is not None:
            if len(found.solution.steps) != len(record.solution.steps):
                raise ViewInputError(f"{source}: solution {key!r} has {len(found.solution.steps)} steps there but "
                                     f"{len(record.solution.steps)} in --input; label the same solutions you view")
            record = dataclasses.replace(record, labels=found.labels)
            matched += 1
        out.append((key, record))
    if not matched:
        raise ViewInputError(f"{source}: none of its {len(by_key)} ids matches an --input solution "
                             f"(e.g. {next(iter(by_key))!r} vs {solutions[0][0]!r}); label the same file you view")
    return out
