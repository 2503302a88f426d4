"""The arith task: chained-arithmetic word problems with an exact checker for every step.

Why it exists: it is the one world where the ground truth of *every step* is known exactly and
for free, so PRM labelling, training, search and evaluation can be measured against the truth
(the :class:`~prmkit.models.oracle.OracleScorer` built on :meth:`ArithTask.first_error` is the
upper bound in every table), and a tiny policy trained on a laptop CPU can solve it imperfectly.

A problem is a start value and 2-6 operations applied left to right (``+``, ``-``, ``*`` and
``/`` only where the division is exact; every intermediate value stays in ``[0, max_value]``).
Two renderings of the question share one exact parser, :meth:`ArithTask.parse_question`:

    compact (default, what the tiny policy reads):   ``Q 10 +14 -7 *3 /2``
    words:  ``Start with 10. Add 14. Subtract 7. Multiply by 3. Divide by 2. What is the result?``

The reference solution has one operation per line and a final answer line (``step_separator``
is ``"\\n"``)::

    10+14=24
    24-7=17
    17*3=51
    51/2=...      (never generated: division is only drawn when it is exact)
    The answer is 51.

Splits are disjoint by construction: a question belongs to ``"test"`` iff a stable hash of its
text falls in the test bucket (1 in 10), so no test question can ever appear in ``"train"``.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from prmkit.types import Problem

__all__ = [
    "DIFFICULTIES",
    "ERROR_KINDS",
    "ArithProblem",
    "ArithTask",
    "Difficulty",
    "StepError",
    "diagnose",
    "make_problem",
    "resolve_policy",
]

# Error kinds reported by :func:`diagnose` (one per way a step can be the first wrong one).
ERROR_KINDS = (
    "unparseable",  # the step is neither "a op b = c" nor a final-answer line
    "wrong_operand",  # an operand is not the running value / the problem's next operand (made up or copied wrong)
    "wrong_operation",  # the right operands with an operation the problem does not ask for here
    "skipped_operation",  # the step applies a later operation (or answers) before the current one is done
    "arithmetic",  # "a op b = c" with c != a op b
    "wrong_answer",  # the final-answer line names a number other than the final value
    "extra_step",  # any step after a correct final-answer line
)

_OPS = ("+", "-", "*", "/")
_OP_ALIASES = {"+": "+", "-": "-", "*": "*", "x": "*", "×": "*", "/": "/", "÷": "/"}
_COMMUTATIVE = {"+", "*"}
_STEP_RE = re.compile(r"^\s*(-?\d+)\s*([-+*x×/÷])\s*(-?\d+)\s*=\s*(-?\d+)\s*\.?\s*$")
_ANSWER_LINE_RE = re.compile(r"^\s*(?:the answer is|ans)\s*:?\s*(-?\d+)\s*\.?\s*$", re.IGNORECASE)
_ANSWER_ANYWHERE_RE = re.compile(r"(?:the answer is|ans)\s*:?\s*(-?\d+)", re.IGNORECASE)
_COMPACT_Q_RE = re.compile(r"^\s*Q\s+(\d+)((?:\s+[-+*/]\d+)+)\s*$")
_COMPACT_OP_RE = re.compile(r"([-+*/])(\d+)")
_WORDS_START_RE = re.compile(r"^\s*Start with (\d+)\.\s*(.*?)\s*What is the result\?\s*$")
_WORDS_OP_RE = re.compile(r"(Add|Subtract|Multiply by|Divide by) (\d+)\.")
_WORDS = {"+": "Add", "-": "Subtract", "*": "Multiply by", "/": "Divide by"}
_WORDS_INV = {v: k for k, v in _WORDS.items()}
_TEST_BUCKETS = 10  # 1 in 10 questions is reserved for the test split


@dataclass(frozen=True)
class Difficulty:
    """How hard arith problems are.

    Attributes:
        min_ops: fewest operations in a problem (>= 1).
        max_ops: most operations in a problem.
        max_operand: largest start value and largest operand of ``+`` / ``-``.
        max_factor: largest multiplier / divisor (``*`` and ``/`` draw from ``2..max_factor``).
        max_value: every intermediate value stays in ``[0, max_value]``.
        ops: which operations may appear.
    """

    min_ops: int = 2
    max_ops: int = 6
    max_operand: int = 20
    max_factor: int = 5
    max_value: int = 200
    ops: tuple[str, ...] = _OPS

    def __post_init__(self) -> None:
        if not 1 <= self.min_ops <= self.max_ops:
            raise ValueError(f"Difficulty: need 1 <= min_ops <= max_ops, got {self.min_ops}, {self.max_ops}")
        if self.max_operand < 2 or self.max_value < self.max_operand:
            raise ValueError(
                f"Difficulty: need 2 <= max_operand <= max_value, got {self.max_operand}, {self.max_value}"
            )
        if self.max_factor < 2:
            raise ValueError(f"Difficulty: max_factor must be >= 2, got {self.max_factor}")
        bad = [op for op in self.ops if op not in _OPS]
        if bad or not self.ops:
            raise ValueError(f"Difficulty: ops must be a non-empty subset of {_OPS}, got {self.ops!r}")


#: Named difficulty levels. ``"demo"`` is what the shipped policy is trained on.
DIFFICULTIES: dict[str, Difficulty] = {
    "tiny": Difficulty(min_ops=1, max_ops=2, max_operand=9, max_factor=3, max_value=50),
    "easy": Difficulty(min_ops=2, max_ops=3, max_operand=20, max_factor=3, max_value=100),
    "demo": Difficulty(min_ops=2, max_ops=6, max_operand=20, max_factor=5, max_value=200),
    "hard": Difficulty(min_ops=4, max_ops=6, max_operand=50, max_factor=9, max_value=1000),
}


@dataclass(frozen=True)
class ArithProblem:
    """The exact content of an arith question: ``start`` then ``ops`` applied left to right."""

    start: int
    ops: tuple[tuple[str, int], ...]

    def values(self) -> list[int]:
        """Running values: ``[start, after op 1, ..., after op k]`` (length ``len(ops) + 1``)."""
        values = [self.start]
        for op, operand in self.ops:
            values.append(_apply(values[-1], op, operand))
        return values

    @property
    def answer(self) -> int:
        return self.values()[-1]


@dataclass(frozen=True)
class StepError:
    """The first wrong step of a solution: its 0-based ``index``, ``kind`` (one of
    :data:`ERROR_KINDS`) and a human-readable ``reason``."""

    index: int
    kind: str
    reason: str


def _apply(a: int, op: str, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0 or a % b:
        raise ValueError(f"{a}/{b} is not an exact integer division")
    return a // b


def make_problem(rng: random.Random, difficulty: Difficulty) -> ArithProblem:
    """Draw one problem: a start value, then each operation uniformly among those that keep the
    running value in ``[0, max_value]`` (``/`` only when exact; ``-`` never below 0)."""
    d = difficulty
    while True:
        start = value = rng.randint(1, d.max_operand)
        ops: list[tuple[str, int]] = []
        for _ in range(rng.randint(d.min_ops, d.max_ops)):
            choices: list[tuple[str, list[int]]] = []
            if "+" in d.ops and value < d.max_value:
                choices.append(("+", list(range(1, min(d.max_operand, d.max_value - value) + 1))))
            if "-" in d.ops and value >= 1:
                choices.append(("-", list(range(1, min(d.max_operand, value) + 1))))
            if "*" in d.ops and value >= 1:
                factors = [f for f in range(2, d.max_factor + 1) if value * f <= d.max_value]
                if factors:
                    choices.append(("*", factors))
            if "/" in d.ops and value >= 2:
                divisors = [f for f in range(2, d.max_factor + 1) if value % f == 0]
                if divisors:
                    choices.append(("/", divisors))
            if not choices:
                break
            op, operands = rng.choice(choices)
            operand = rng.choice(operands)
            ops.append((op, operand))
            value = _apply(value, op, operand)
        if len(ops) >= d.min_ops:
            return ArithProblem(start=start, ops=tuple(ops))


def _bucket(question: str) -> int:
    return int.from_bytes(hashlib.sha256(question.encode()).digest()[:4], "big") % _TEST_BUCKETS


def diagnose(problem: ArithProblem, steps: list[str]) -> StepError | None:
    """Find the exact earliest wrong step (ProcessBench semantics: later steps are not judged).

    A step is right when it performs the *next* operation of the problem on the running value
    (``a op b = c`` with the right ``a``, ``op``, ``b`` and ``c``; ``+`` and ``*`` may swap their
    operands; ``x``/``×`` and ``÷`` are accepted for ``*`` and ``/``), or, once every operation is
    done, when it states the final value (``The answer is N.`` or ``Ans N``).

    Args:
        problem: the exact problem (e.g. from :meth:`ArithTask.parse_question`).
        steps: the solution's steps, one operation per step.

    Returns:
        ``None`` when every given step is right (also for a correct but unfinished prefix: use the
        final answer to judge completeness), else the :class:`StepError` of the first wrong step.
    """
    values = problem.values()
    done = 0  # operations performed so far; the running value is values[done]
    answered = False
    for i, step in enumerate(steps):
        if answered:
            return StepError(i, "extra_step", f"step after the final answer: {step!r}")
        answer_match = _ANSWER_LINE_RE.match(step)
        if answer_match:
            if done < len(problem.ops):
                op, operand = problem.ops[done]
                return StepError(i, "skipped_operation", f"answers before doing operation {done + 1} ({op}{operand})")
            if int(answer_match.group(1)) != values[done]:
                return StepError(i, "wrong_answer", f"states {answer_match.group(1)}, the result is {values[done]}")
            answered = True
            continue
        match = _STEP_RE.match(step)
        if not match:
            return StepError(i, "unparseable", f"{step!r} is neither 'a op b = c' nor 'The answer is N.'")
        a, op, b, c = int(match.group(1)), _OP_ALIASES[match.group(2)], int(match.group(3)), int(match.group(4))
        if done >= len(problem.ops):
            return StepError(i, "extra_step", f"all {len(problem.ops)} operations are done; {step!r} is extra")
        current = values[done]
        want_op, want_b = problem.ops[done]
        operands_ok = (a, b) == (current, want_b) or (op in _COMMUTATIVE and (b, a) == (current, want_b))
        if op == want_op and operands_ok:
            pass
        elif op != want_op and ((a, b) == (current, want_b) or (b, a) == (current, want_b)):
            return StepError(i, "wrong_operation", f"uses {op} where operation {done + 1} is {want_op}{want_b}")
        elif any(
            (op, b) == later and a == current or (op in _COMMUTATIVE and (op, a) == later and b == current)
            for later in problem.ops[done + 1 :]
        ):
            return StepError(i, "skipped_operation", f"skips operation {done + 1} ({want_op}{want_b})")
        else:
            return StepError(
                i,
                "wrong_operand",
                f"{a}{op}{b}: operation {done + 1} is {current}{want_op}{want_b}",
            )
        try:
            correct = _apply(a, op, b)
        except ValueError:
            return StepError(i, "arithmetic", f"{a}{op}{b} is not an exact division (so not {c})")
        if correct != c:
            return StepError(i, "arithmetic", f"{a}{op}{b} is {correct}, not {c}")
        done += 1
    return None


class ArithTask:
    """The arith task (see the module docstring); implements :class:`prmkit.tasks.Task`.

    Args:
        difficulty: a name in :data:`DIFFICULTIES` or a :class:`Difficulty`.
        num_train: how many problems ``problems("train")`` returns.
        num_test: how many problems ``problems("test")`` returns.
        seed: seeds problem generation; the same arguments always give the same problems.
        render: ``"compact"`` (``Q 10 +14 -7``, steps ``10+14=24``) or ``"words"``
            (``Start with 10. Add 14. ...``, steps ``10 + 14 = 24``).

    Example:
        >>> task = ArithTask(difficulty="tiny", num_test=2, seed=0)
        >>> p = task.problems("test")[0]
        >>> steps = task.reference_steps(p)
        >>> task.first_error(p, steps), task.is_correct(task.extract_answer("\\n".join(steps)), p)
        (-1, True)
    """

    name = "arith"
    step_separator = "\n"

    def __init__(
        self,
        difficulty: str | Difficulty = "demo",
        num_train: int = 10_000,
        num_test: int = 500,
        seed: int = 0,
        render: str = "compact",
    ) -> None:
        if isinstance(difficulty, str):
            if difficulty not in DIFFICULTIES:
                raise ValueError(f"ArithTask: unknown difficulty {difficulty!r}; choose one of {sorted(DIFFICULTIES)}")
            self.level = difficulty
            self.difficulty = DIFFICULTIES[difficulty]
        else:
            self.level = "custom"
            self.difficulty = difficulty
        if render not in ("compact", "words"):
            raise ValueError(f"ArithTask: render must be 'compact' or 'words', got {render!r}")
        self.num_train, self.num_test, self.seed, self.render = num_train, num_test, seed, render
        self._cache: dict[str, list[Problem]] = {}

    # -- problems ------------------------------------------------------------------------------

    def problems(self, split: str) -> list[Problem]:
        """The first ``num_train`` / ``num_test`` problems of ``split`` (``"train"`` or ``"test"``).

        Raises:
            ValueError: ``split`` is not ``"train"`` or ``"test"``.
        """
        if split not in ("train", "test"):
            raise ValueError(f"ArithTask.problems: split must be 'train' or 'test', got {split!r}")
        if split not in self._cache:
            count = self.num_train if split == "train" else self.num_test
            self._cache[split] = self._generate(split, count)
        return list(self._cache[split])

    def _generate(self, split: str, count: int) -> list[Problem]:
        rng = random.Random(f"prmkit-arith/{self.seed}/{split}")
        problems: list[Problem] = []
        seen: set[str] = set()
        attempts = 0
        difficulty = {**asdict(self.difficulty), "ops": list(self.difficulty.ops)}  # JSON-native
        while len(problems) < count:
            attempts += 1
            if attempts > 50 * count + 1000:
                raise ValueError(
                    f"ArithTask: could only draw {len(problems)} distinct {split} problems of {count} at "
                    f"difficulty {self.difficulty}; ask for fewer or use a harder difficulty"
                )
            arith = make_problem(rng, self.difficulty)
            question = self.render_question(arith)
            if question in seen or (_bucket(question) == 0) != (split == "test"):
                continue
            seen.add(question)
            problems.append(
                Problem(
                    id=f"arith-{self.level}-s{self.seed}-{split}-{len(problems)}",
                    question=question,
                    answer=str(arith.answer),
                    meta={"start": arith.start, "ops": [list(o) for o in arith.ops], "level": self.level,
                          "difficulty": difficulty},
                )
            )
        return problems

    # -- rendering and parsing -----------------------------------------------------------------

    def render_question(self, problem: ArithProblem) -> str:
        """The question text of ``problem`` in this task's rendering."""
        if self.render == "compact":
            return "Q " + str(problem.start) + "".join(f" {op}{operand}" for op, operand in problem.ops)
        ops = " ".join(f"{_WORDS[op]} {operand}." for op, operand in problem.ops)
        return f"Start with {problem.start}. {ops} What is the result?"

    @staticmethod
    def parse_question(question: str) -> ArithProblem:
        """Recover the exact problem from its question text (either rendering).

        Raises:
            ValueError: the text is not an arith question, or an operation in it is not exact.
        """
        compact = _COMPACT_Q_RE.match(question)
        if compact:
            start, ops_text = int(compact.group(1)), compact.group(2)
            ops = tuple((op, int(n)) for op, n in _COMPACT_OP_RE.findall(ops_text))
        else:
            words = _WORDS_START_RE.match(question)
            if not words:
                raise ValueError(
                    f"not an arith question: {question[:80]!r}; expected 'Q 10 +14 -7' or "
                    "'Start with 10. Add 14. ... What is the result?'"
                )
            start, ops_text = int(words.group(1)), words.group(2)
            found = _WORDS_OP_RE.findall(ops_text)
            if _WORDS_OP_RE.sub("", ops_text).strip():
                raise ValueError(f"arith question {question[:80]!r}: cannot read {ops_text!r} as operations")
            ops = tuple((_WORDS_INV[word], int(n)) for word, n in found)
        problem = ArithProblem(start=start, ops=ops)
        problem.values()  # raises on an inexact division
        return problem

    def render_step(self, a: int, op: str, b: int, c: int) -> str:
        return f"{a}{op}{b}={c}" if self.render == "compact" else f"{a} {op} {b} = {c}"

    def reference_steps(self, problem: Problem) -> list[str]:
        """The gold solution: one operation per step, then ``The answer is N.``."""
        arith = self.parse_question(problem.question)
        values = arith.values()
        steps = [self.render_step(values[i], op, b, values[i + 1]) for i, (op, b) in enumerate(arith.ops)]
        return steps + [f"The answer is {values[-1]}."]

    def reference_solution(self, problem: Problem) -> str:
        """The gold solution text, as the policy should write it after :meth:`prompt`."""
        return "".join(step + self.step_separator for step in self.reference_steps(problem))

    # -- the Task protocol ---------------------------------------------------------------------

    def prompt(self, problem: Problem) -> str:
        """The policy's prompt: the question, then the separator (the solution starts on a new line)."""
        return problem.question + self.step_separator

    def split_steps(self, text: str) -> list[str]:
        """One step per non-blank line, stripped."""
        return [line.strip() for line in text.split(self.step_separator) if line.strip()]

    def extract_answer(self, text: str) -> str | None:
        """The number in the last ``The answer is N`` (or ``Ans N``) of ``text``; ``None`` if absent."""
        found = _ANSWER_ANYWHERE_RE.findall(text)
        return str(int(found[-1])) if found else None

    def is_correct(self, answer: str | None, problem: Problem) -> bool:
        """Whether ``answer`` equals the problem's gold answer as an integer."""
        if answer is None or problem.answer is None:
            return False
        try:
            return int(answer.strip()) == int(problem.answer)
        except ValueError:
            return False

    def first_error(self, problem: Problem, steps: list[str]) -> int | None:
        """Exact 0-based earliest wrong step, -1 when every step is right (see :func:`diagnose`)."""
        error = diagnose(self.parse_question(problem.question), list(steps))
        return -1 if error is None else error.index

    def diagnose(self, problem: Problem, steps: list[str]) -> StepError | None:
        """Like :meth:`first_error` but says which kind of error it is and why."""
        return diagnose(self.parse_question(problem.question), list(steps))


def resolve_policy(policy: str) -> str:
    """The checkpoint dir for ``policy``: ``"demo"`` names the tiny arith policy shipped with prmkit.

    Anything else is returned unchanged (a local directory or a hub id), except a path that can only
    be local (absolute, ``./``, ``../``, ``~``, or with two or more ``/``: hub ids have at most one)
    and does not exist: that is named here, instead of surfacing as transformers' "Repo id" error.

    Raises:
        FileNotFoundError: ``"demo"`` was asked for but the shipped checkpoint is missing, or a
            local-only path is not a directory.
    """
    if policy != "demo":
        if not policy.startswith(("/", "./", "../", "~")) and policy.count("/") < 2:
            return policy
        try:
            local = Path(policy).expanduser()
        except RuntimeError:  # "~someone/..." for an unknown user
            local = Path(policy)
        if not local.is_dir():
            raise FileNotFoundError(f"policy checkpoint directory {policy} does not exist")
        return str(local)
    from importlib.resources import files

    shipped = files("prmkit") / "assets" / "arith_policy"
    if not shipped.is_dir():
        raise FileNotFoundError(
            f"no demo policy is shipped at {shipped}; train one with "
            "`prmkit train policy --output-dir runs/arith_policy` and pass --policy runs/arith_policy"
        )
    return str(shipped)
