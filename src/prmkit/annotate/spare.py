"""SPARE: label each step by aligning it to a reference solution, in one pass, with no rollouts.

Reference: Rizvi, Zhu and Gurevych 2025, "SPARE: Single-Pass Annotation with Reference-Guided
Evaluation for Automatic Process Supervision and Reward Modelling" (arXiv 2506.15498). SPARE
annotates a solution in a single pass by aligning each of its steps to one or more steps of a
reference solution and judging the step against what it is aligned to. In the paper an LLM does
the alignment and the judging in one structured generation; prmkit does both with a deterministic
rule over the *quantities* the steps compute, so it costs no generation at all (``rollouts = 0``)
and every label can be traced to the rule below.

The rule. A step's claims are its equations ``<expression> = <number>`` (numbers, ``+ - * / x × ÷``
and brackets on the left; ``$`` and thousands commas are read) and the final answer it states
(``task.extract_answer(step)``). The reference solution is flattened into its computations
``c_1..c_M``, each with an operand multiset ``I_k`` and a result ``v_k``. The *inputs* of a
reference span ``c_a..c_j`` are ``I_a + ... + I_j`` minus the span's own intermediate results
``v_a..v_{j-1}`` (multisets), i.e. what the span takes from outside to produce ``v_j``. Known
numbers ``K`` are the question's numbers, the reference's constants (its numbers that are not one of
its results) and every result an earlier step of the solution stated. Walking the solution once,
left to right, with ``a`` = the number of reference computations aligned so far, each equation
``E = r`` with operands ``O`` is:

    arithmetic error  E does not evaluate to r (exactly; to r's decimals when r has some)
    unknown operand   an operand of O is not in K (a number from nowhere, or a reference result
                      the solution never derived)
    aligned           r = v_j for some j >= a and the open detour's inputs plus O, minus the
                      detour's own results, equal the inputs of the span c_a..c_j: the step
                      (with the detour before it) is the span c_a..c_j, maybe regrouped or
                      reordered (one-to-many and many-to-many alignment); then a = j + 1
    restated          r is an already aligned result v_k (k < a): neutral
    misaligned        r = v_j for some j >= a, but not from that span's inputs (the right
                      quantity from the wrong numbers): an error
    detour            otherwise: a valid computation off the reference path; it is accepted
                      once the solution rejoins the reference (a later aligned step or a right
                      final answer) and is the error if it never does

and a stated final answer is a right answer (rejoins) or a wrong answer (an error); any step after
a stated final answer is an extra step (an error); a step with neither equation nor answer is
neutral (``claimless="error"``: an error, for tasks whose every step must compute). The first
error is the first step of the open detour when an error follows a detour (the solution left the
reference there and never came back), else the erring step itself; a solution that ends without
the gold final answer and without any error above is wrong at its last step (or at its open
detour). Labels are those of the located first error (:func:`~prmkit.annotate.hard_labels`: 1
before it, 0 at it, ``None`` after it, ProcessBench semantics).

What the rule cannot see: a route to the answer whose intermediate quantities are not the
reference's is accepted only because it ends right (a detour), and one that ends wrong is blamed
where it left the reference; a reordering with the same inputs and result (``10-7=3, 3+14=17`` for
``10+14=24, 24-7=17``) is aligned, though arith's exact checker calls it a skipped operation.

The reference solution comes from ``problem.meta["reference_steps"]`` when present, else from
``task.reference_steps(problem)`` (arith and GSM8K have it; GSM8K's is the dataset's own solution).

Output per solution: ``StepLabels(labels, first_error, source="spare", rollouts=0)``;
``solution.meta["spare"]`` holds every step's verdict (``aligned``, ``detour``, ``restated``,
``neutral``, ``answer``, or the error that ended the pass: ``arithmetic``, ``unknown_operand``,
``misaligned``, ``wrong_answer``, ``extra_step``, ``claimless``, ``no_answer``; ``None`` after it) and
``meta["alignment"]`` the 0-based reference computations each step was aligned to.

Example:
    >>> from prmkit.tasks.arith import ArithTask
    >>> from prmkit.annotate import AnnotationUnit, SPAREAnnotator
    >>> from prmkit.types import Problem, Solution
    >>> p = Problem("p", "Q 10 +14 -7 *3", "51")
    >>> steps = ["10+14=24", "24-7=18", "18*3=54", "The answer is 54."]
    >>> (record,) = SPAREAnnotator(None, ArithTask()).annotate([AnnotationUnit(p, [Solution("p", steps)])])
    >>> record.labels.labels, record.solution.meta["spare"][:2]
    ([1.0, 0.0, None, None], ['aligned', 'arithmetic'])
"""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from prmkit.annotate._base import AnnotationUnit, Annotator, RolloutConfig, hard_labels
from prmkit.annotate._rollouts import UnitCoroutine
from prmkit.generation import Generator
from prmkit.tasks import Task
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

__all__ = ["Alignment", "Equation", "SPAREAnnotator", "SPAREConfig", "align", "equations", "reference_steps"]

_CLAIMLESS = ("neutral", "error")
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_NUMBER_RE = re.compile(rf"(?<![\d.,])(?:{_NUMBER})")
_LHS_RE = re.compile(r"[\d\s.,$()+\-*/x×÷]*$")
_RHS_RE = re.compile(rf"\s*\$?\s*(-?(?:{_NUMBER}))")
_TOKEN_RE = re.compile(rf"{_NUMBER}|[()+\-*/x×÷]|\$|\s+")
_OPERATORS = {"x": "*", "×": "*", "÷": "/"}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


@dataclass
class SPAREConfig(RolloutConfig):
    """Settings of :class:`SPAREAnnotator`. SPARE spends no rollouts: the inherited ``n`` is unused and
    ``max_new_tokens`` / ``temperature`` / ``seed`` / ``batch_size`` only matter to the solution sampler."""

    claimless: str = field(
        default="neutral",
        metadata={"help": "a step with no equation and no answer: 'neutral' or 'error' (every step must compute)"},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.claimless not in _CLAIMLESS:
            raise ValueError(f"SPAREConfig.claimless must be one of {_CLAIMLESS}, got {self.claimless!r}")


@dataclass(frozen=True)
class Equation:
    """One ``<expression> = <number>`` claim: its operands (in order), stated result and true value."""

    operands: tuple[Fraction, ...]
    result: Fraction
    value: Fraction | None  # None: the expression divides by zero
    decimals: int  # decimals written in the result (a rounded result is right to that many)

    @property
    def correct(self) -> bool:
        if self.value is None:
            return False
        if not self.decimals:
            return self.value == self.result
        return abs(self.value - self.result) <= Fraction(1, 2 * 10**self.decimals)


@dataclass
class Alignment:
    """What :func:`align` found for one solution.

    Attributes:
        first_error: 0-based first wrong step, -1 when none.
        verdicts: per step, its verdict (see the module docstring); ``None`` after the step whose
            error ended the pass (the first error itself when no detour was open).
        aligned: per step, the 0-based reference computations it (with its detour) was aligned to.
    """

    first_error: int
    verdicts: list[str | None]
    aligned: list[list[int]]


def _number(text: str) -> Fraction:
    return Fraction(text.replace(",", ""))


def numbers(text: str) -> list[Fraction]:
    """Every unsigned number written in ``text`` (``80,000`` is 80000; ``$`` and ``%`` are ignored)."""
    return [_number(m.group(0)) for m in _NUMBER_RE.finditer(text)]


def _evaluate(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "F" and len(node.args) == 1:
        return Fraction(node.args[0].value)  # type: ignore[attr-defined]
    raise ValueError("not an arithmetic expression")


def _expression(text: str) -> tuple[tuple[Fraction, ...], Fraction | None] | None:
    """Operands and exact value of the arithmetic expression that ends ``text`` (None: there is none)."""
    tail = re.split(r",\s", _LHS_RE.search(text).group(0))[-1]  # type: ignore[union-attr]  # ", " ends a clause
    start = next((i for i, ch in enumerate(tail) if ch.isdigit() or ch == "("), None)
    if start is None:
        return None
    tokens = [t for t in _TOKEN_RE.findall(tail[start:]) if t.strip() and t != "$"]
    if "".join(tokens) != re.sub(r"[\s$]", "", tail[start:]):
        return None  # something the tokenizer does not read (e.g. "1,2")
    if not any(t in "+-*/x×÷" for t in tokens):
        return None  # a bare number: "x = 5" is not a computation
    operands = tuple(_number(t) for t in tokens if t[0].isdigit())
    source = "".join(f"F('{_number(t)}')" if t[0].isdigit() else _OPERATORS.get(t, t) for t in tokens)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return None
    try:
        return operands, _evaluate(tree)
    except ZeroDivisionError:
        return operands, None
    except ValueError:
        return None


def equations(step: str) -> list[Equation]:
    """The ``<expression> = <number>`` claims of one step, left to right.

    Example:
        >>> [(e.operands, e.result, e.correct) for e in equations("She makes 9 * 2 = $18 a day.")]
        [((Fraction(9, 1), Fraction(2, 1)), Fraction(18, 1), True)]
    """
    found = []
    for match in re.finditer("=", step):
        left, right = step[: match.start()], _RHS_RE.match(step, match.end())
        expression = _expression(left)
        if expression is None or right is None:
            continue
        written = right.group(1)
        decimals = len(written.split(".", 1)[1]) if "." in written else 0
        found.append(Equation(expression[0], _number(written), expression[1], decimals))
    return found


def _minus(a: Counter, b: Counter) -> Counter:
    out = Counter(a)
    out.subtract(b)
    return +out  # drops what b had more of (an intermediate nobody used)


def align(
    question: str,
    reference: Sequence[str],
    steps: Sequence[str],
    answer_of: Callable[[str], bool | None],
    *,
    final_correct: bool,
    claimless: str = "neutral",
) -> Alignment:
    """Align ``steps`` to the ``reference`` steps by the rule of the module docstring.

    Args:
        question: the problem text (its numbers are known).
        reference: the reference solution's steps.
        steps: the solution's steps.
        answer_of: ``None`` when a step states no final answer, else whether it is the gold one.
        final_correct: whether the whole solution ends with the gold final answer.
        claimless: verdict on a step without equation or answer: ``"neutral"`` or ``"error"``.
    """
    computations = [e for step in reference for e in equations(step)]
    results = Counter(c.result for c in computations)
    known = set(numbers(question)) | {x for step in reference for x in numbers(step) if x not in results}
    done = 0  # reference computations aligned so far
    detour_start: int | None = None
    detour_in: Counter = Counter()
    detour_out: Counter = Counter()
    answered = False
    verdicts: list[str | None] = []
    aligned: list[list[int]] = []

    def stop(index: int, verdict: str, matched: list[int] | None = None) -> Alignment:
        verdicts.append(verdict)
        aligned.append(matched or [])
        verdicts.extend([None] * (len(steps) - len(verdicts)))
        aligned.extend([] for _ in range(len(steps) - len(aligned)))
        return Alignment(detour_start if detour_start is not None else index, verdicts, aligned)

    for index, step in enumerate(steps):
        if answered:
            return stop(index, "extra_step")
        verdict, matched = "neutral", []
        claims = equations(step)
        for eq in claims:
            if not eq.correct:
                return stop(index, "arithmetic", matched)
            if any(x not in known for x in eq.operands):
                return stop(index, "unknown_operand", matched)
            inputs = _minus(detour_in + Counter(eq.operands), detour_out)
            spans = [j for j in range(done, len(computations)) if computations[j].result == eq.result]
            hit = next((j for j in spans if inputs == _span_inputs(computations, done, j)), None)
            known.add(eq.result)
            if hit is not None:
                matched.extend(range(done, hit + 1))
                done, detour_start, detour_in, detour_out = hit + 1, None, Counter(), Counter()
                verdict = "aligned"
            elif any(c.result == eq.result for c in computations[:done]):
                verdict = "restated" if verdict == "neutral" else verdict
            elif spans:
                return stop(index, "misaligned", matched)
            else:
                detour_start = index if detour_start is None else detour_start
                detour_in.update(eq.operands)
                detour_out[eq.result] += 1
                verdict = "detour"
        answer = answer_of(step)
        if answer is False:
            return stop(index, "wrong_answer", matched)
        if answer:
            answered, verdict, detour_start = True, "answer", None
        elif not claims and claimless == "error":
            return stop(index, "claimless")
        verdicts.append(verdict)
        aligned.append(matched)
    if not final_correct and steps:
        verdicts.pop()
        return stop(len(steps) - 1, "no_answer", aligned.pop())
    return Alignment(-1, verdicts, aligned)


def _span_inputs(computations: Sequence[Equation], start: int, end: int) -> Counter:
    """What the reference span ``computations[start..end]`` takes from outside to produce its last result."""
    used: Counter = Counter()
    for c in computations[start : end + 1]:
        used.update(c.operands)
    return _minus(used, Counter(c.result for c in computations[start:end]))


def reference_steps(task: Task, problem: Problem) -> list[str]:
    """The reference solution of ``problem``: ``problem.meta["reference_steps"]``, else ``task.reference_steps``.

    Raises:
        ValueError: neither is there (names the task and the problem).
    """
    given = problem.meta.get("reference_steps")
    if given:
        return [str(step) for step in given]
    method = getattr(task, "reference_steps", None)
    if method is None:
        raise ValueError(
            f"spare: task {getattr(task, 'name', type(task).__name__)!r} has no reference solutions and problem "
            f"{problem.id!r} has no meta['reference_steps']; SPARE needs one (arith and gsm8k have them)"
        )
    return list(method(problem))


class SPAREAnnotator(Annotator):
    """Reference-aligned step labels, no rollouts (see the module docstring).

    Args:
        generator: unused (SPARE samples nothing); may be ``None``. The shard runner's sampler
            has its own generator.
        task: step separator, answer grading and the reference solutions.
        config: a :class:`SPAREConfig`; keyword ``overrides`` replace its fields.
    """

    name = "spare"
    config_class = SPAREConfig
    config: SPAREConfig
    uses_generator = False

    def __init__(
        self, generator: Generator | None, task: Task, config: SPAREConfig | None = None, **overrides: Any
    ) -> None:
        super().__init__(generator, task, config, **overrides)  # type: ignore[arg-type]

    def unit(self, unit: AnnotationUnit) -> UnitCoroutine:
        problem = unit.problem
        reference = reference_steps(self.task, problem)
        records: list[LabelledSolution] = []
        for solution in unit.solutions or []:
            found = align(
                problem.question, reference, solution.steps, lambda step: self._answer_of(problem, step),
                final_correct=self._final_correct(problem, solution.steps)[1], claimless=self.config.claimless,
            )  # fmt: skip
            labels = StepLabels(hard_labels(found.first_error, len(solution.steps)), found.first_error, "spare", 0)
            answer, correct = self._final_correct(problem, solution.steps)
            meta = {**solution.meta, "spare": found.verdicts, "alignment": found.aligned}
            labelled = Solution(problem.id, list(solution.steps), answer, correct, meta)
            records.append(LabelledSolution(problem=problem, solution=labelled, labels=labels))
        return records
        yield  # a coroutine that never needs a rollout

    def _answer_of(self, problem: Problem, step: str) -> bool | None:
        answer = self.task.extract_answer(step)
        return None if answer is None else bool(self.task.is_correct(answer, problem))
