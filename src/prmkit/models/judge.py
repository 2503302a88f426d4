"""A generative judge as a PRM: an LLM critiques the steps and names the earliest wrong one.

Reference: ProcessBench's critic evaluation (github QwenLM/ProcessBench, commit e802463,
``code/templates/critique_template.txt`` and ``prepare_input_boxed`` / ``extract_answer`` in
``code/run_eval.py``; paper arXiv:2412.06559). The prompt wraps step ``i`` as
``<paragraph_i>\\n{step}\\n</paragraph_i>``, separates paragraphs by a blank line, and asks for the
index of the earliest wrong paragraph in ``\\boxed{}`` (-1 when none). The reference sends it as a
single user message through the model's chat template, decodes greedily for one critique, and for
voting takes the most common ``\\boxed{}`` string among the critiques that have one (ties: first
seen), then parses it as an int.

Scores: steps before the named step get 1.0, it and every later step 0.0 (-1: all 1.0). When the
judge gives no usable verdict (no ``\\boxed{}``, not an int, or an index outside -1..n-1) every step
of that item is ``None`` — unknown, never a guess.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prmkit.models import ScoringItem

__all__ = [
    "CRITIQUE_TEMPLATE",
    "JudgeScorer",
    "JudgeVerdict",
    "critic_prompt",
    "extract_boxed",
    "majority_index",
    "scores_from_first_error",
    "tag_steps",
]

#: ProcessBench's critique template (code/templates/critique_template.txt, as read with ``.strip()``).
CRITIQUE_TEMPLATE = (
    "The following is a math problem and a solution (split into paragraphs, enclosed with tags and indexed from 0):\n"
    "\n"
    "[Math Problem]\n"
    "\n"
    "{problem}\n"
    "\n"
    "[Solution]\n"
    "\n"
    "{tagged_response}\n"
    "\n"
    "Your task is to review and critique the solution paragraph by paragraph. Once you identify an error in a "
    "paragraph, return the index of the paragraph where the earliest error occurs. Otherwise, return the index "
    'of -1 (which typically denotes "not found").\n'
    "\n"
    "Please put your final answer (i.e., the index) in \\boxed{{}}."
)

_BOXED = re.compile(r"\\boxed\{([^}]*)\}")


def tag_steps(steps: Sequence[str]) -> str:
    """``<paragraph_i>\\n{step}\\n</paragraph_i>`` blocks joined by blank lines (the reference's tagging)."""
    return "\n\n".join(f"<paragraph_{i}>\n{step}\n</paragraph_{i}>" for i, step in enumerate(steps))


def critic_prompt(question: str, steps: Sequence[str]) -> str:
    """The user message asking the judge for the earliest wrong paragraph of ``steps``."""
    return CRITIQUE_TEMPLATE.format(problem=question, tagged_response=tag_steps(steps))


def extract_boxed(text: str) -> str | None:
    """The stripped content of the last ``\\boxed{...}`` (no nested braces), or ``None``."""
    matches = _BOXED.findall(text)
    return matches[-1].strip() if matches else None


def majority_index(critiques: Sequence[str]) -> int | None:
    """The voted earliest-error index: most common boxed string (ties: first seen) parsed as int.

    Returns ``None`` when no critique has a ``\\boxed{}`` or the winner is not an integer.
    """
    answers = [a for a in (extract_boxed(c) for c in critiques) if a is not None]
    if not answers:
        return None
    winner = Counter(answers).most_common(1)[0][0]
    try:
        return int(winner)
    except ValueError:
        return None


def scores_from_first_error(first_error: int | None, n_steps: int) -> list[float | None]:
    """Step scores for a verdict: 1.0 before ``first_error``, 0.0 from it on; ``None`` if no valid verdict.

    Example:
        >>> scores_from_first_error(1, 3), scores_from_first_error(-1, 2), scores_from_first_error(5, 2)
        ([1.0, 0.0, 0.0], [1.0, 1.0], [None, None])
    """
    if first_error is None or not -1 <= first_error < n_steps:
        return [None] * n_steps
    if first_error == -1:
        return [1.0] * n_steps
    return [1.0] * first_error + [0.0] * (n_steps - first_error)


@dataclass
class JudgeVerdict:
    """What the judge said about one solution.

    Attributes:
        first_error: the voted earliest wrong step (-1 none), ``None`` when no usable verdict.
        critiques: the k generated critiques.
        votes: the boxed answer of each critique (``None`` where it had none).
    """

    first_error: int | None
    critiques: list[str] = field(default_factory=list)
    votes: list[str | None] = field(default_factory=list)


class JudgeScorer:
    """Scores steps by asking a generative model for the earliest wrong one (ProcessBench critic).

    Args:
        generator: a :class:`~prmkit.generation.Generator`, or a registered generator name
            (``"transformers"``, ``"openai"``) built with ``generator_options``.
        k: critiques per solution; the verdict is their majority vote.
        temperature: sampling temperature; default 0.0 (greedy) for ``k=1`` and 1.0 for ``k>1``,
            the reference script's temperatures. Its voting run also sets ``top_p=0.9`` (0.8 and
            ``top_k=20`` for Qwen2.5-Math), which the :class:`~prmkit.generation.Generator`
            protocol does not carry: configure those on the generator itself to match it.
        max_new_tokens: critique length limit (reference: 8192).
        seed: sampling seed (reference: 42).
        chat: send the prompt as one user message through a chat template (the reference does);
            ``False`` sends the raw prompt text (for generators that apply templates themselves).
        tokenizer: the tokenizer (or its path) whose chat template is used; defaults to the
            generator's ``tokenizer`` attribute.
        **generator_options: passed to ``load_generator`` when ``generator`` is a name
            (e.g. ``model="Qwen/Qwen2.5-7B-Instruct"``).

    Raises:
        ValueError: ``k < 1``, or ``chat=True`` with no tokenizer that has a chat template.

    Example:
        >>> judge = load_scorer("judge", generator="transformers", model="Qwen/QwQ-32B", k=8)  # doctest: +SKIP
        >>> judge.score([("1+1?", ["1+1=3", "The answer is 3"])])                              # doctest: +SKIP
        [[0.0, 0.0]]
    """

    def __init__(
        self,
        generator: Any,
        *,
        k: int = 1,
        temperature: float | None = None,
        max_new_tokens: int = 8192,
        seed: int | None = 42,
        chat: bool = True,
        tokenizer: Any = None,
        **generator_options: Any,
    ) -> None:
        if k < 1:
            raise ValueError(f"JudgeScorer k (critiques per solution) must be >= 1, got {k}")
        if isinstance(generator, str):
            from prmkit.generation import load_generator

            generator = load_generator(generator, **generator_options)
        elif generator_options:
            raise ValueError(
                f"JudgeScorer got generator options {sorted(generator_options)} but a ready generator object; "
                "pass options only with a generator name"
            )
        self.generator = generator
        self.k = k
        self.temperature = (0.0 if k == 1 else 1.0) if temperature is None else temperature
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.chat = chat
        if isinstance(tokenizer, str):
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        self.tokenizer = tokenizer if tokenizer is not None else getattr(generator, "tokenizer", None)
        if chat and getattr(self.tokenizer, "chat_template", None) is None:
            raise ValueError(
                "JudgeScorer(chat=True) needs a tokenizer with a chat template (pass tokenizer=<path>), "
                "or chat=False to send the raw ProcessBench prompt"
            )

    def prompt(self, question: str, steps: Sequence[str]) -> str:
        """The exact text sent to the generator for one solution."""
        content = critic_prompt(question, steps)
        if not self.chat:
            return content
        messages = [{"role": "user", "content": content}]
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def judge(self, items: Sequence[ScoringItem]) -> list[JudgeVerdict]:
        """One generator call for all items (k samples each); the voted verdict per item, input order."""
        if not items:
            return []
        prompts = [self.prompt(question, list(steps)) for question, steps in items]
        samples = self.generator.complete(
            prompts, n=self.k, stop=None, max_new_tokens=self.max_new_tokens, temperature=self.temperature, seed=self.seed
        )
        if len(samples) != len(prompts):
            raise RuntimeError(f"the judge's generator returned {len(samples)} results for {len(prompts)} prompts")
        verdicts = []
        for completions in samples:
            critiques = [c.text for c in completions]
            verdicts.append(JudgeVerdict(majority_index(critiques), critiques, [extract_boxed(c) for c in critiques]))
        return verdicts

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        """1.0 before the judge's earliest wrong step, 0.0 from it on; ``None`` for items without a verdict."""
        return [
            scores_from_first_error(verdict.first_error, len(steps))
            for verdict, (_, steps) in zip(self.judge(items), items)
        ]
