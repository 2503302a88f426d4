"""Published generative PRMs: ThinkPRM and GenPRM write a verification, then a verdict per step.

Both are causal LMs (R1-Distill-Qwen / Qwen2.5 bodies) that *generate* a critique with a
:class:`~prmkit.generation.Generator`; prmkit builds their prompts exactly as the reference code does
and reads their verdicts the way it does. Where the reference turns a verdict into a probability
(P("yes") / P("Yes") of the decision token), that needs the verifier's next-token logits, which the
:class:`~prmkit.generation.Generator` protocol does not return: pass ``decision_model`` (a causal LM
and tokenizer, or a generator exposing ``.model`` / ``.tokenizer`` such as ``TransformersGenerator``,
whose model is then used) and prmkit runs one forward pass over the prompt + generated critique +
the reference's decision prefix and takes the two-way softmax there. Without it only the parsed
text verdicts are available (1.0 / 0.0).

**ThinkPRM** (Khalifa et al. 2025, "Process Reward Models That Think"; github mukhal/ThinkPRM @ 214cce9,
``utils/helper.py`` ``format_verification_cot_for_thinkprm``, ``prm/thinkprm_api.py``
``APIThinkPRMVerifier``; models launch/ThinkPRM-1.5B / -7B / -14B):

* solution = ``"\\n".join(f"Step {i}: {step}")`` (``process_example`` with ``process_verifier``; an
  existing "Step k:" prefix is removed first), put into the instruction template ``You are given a
  math problem and a proposed step-by-step solution:\\n\\n[Math Problem]\\n\\n{problem}\\n\\n[Solution]
  \\n\\n{solution}\\n\\nReview and critique each step ...`` sent as one user message through the
  tokenizer's chat template with ``add_generation_prompt=True``, then ``"\\nLet's verify step by step:"``
  appended to the prompt text.
* generation stops at ``"Is the solution correct?"``, ``"</think>"``, EOS and ``f"Step {n+1}:"`` (the
  verifier must not verify steps that do not exist); reference sampling temperature 0.7, 8192 tokens.
* ``mode="steps"`` (one verification per solution): the step labels are the ``\\boxed{correct}`` /
  ``\\boxed{incorrect}`` verdicts in order (``extract_step_labels`` in ``utils/answer_utils.py``); steps
  after the last verdict count as incorrect, because the verifier stops after an incorrect step
  (``ThinkPRM._process_batch_outputs`` in ``prm/thinkprm.py``, which pads with 0). With k samples the
  step score is the mean label.
* ``mode="prefix"`` (what ``APIThinkPRMVerifier.score`` does in search): each prefix ``steps[:k+1]`` is
  verified on its own and step k's score is the prefix score: the critique (stop string cut) +
  ``"\\nIs the solution correct? "`` and P = softmax(logp("yes"), logp("no")) / decision_temperature,
  index 0 (``label_categories="yes,no"``, ``score_label_idx=0``), averaged over the k samples.

**GenPRM** (Zhao et al. 2025, "GenPRM: Scaling Test-Time Compute of Process Reward Models via
Generative Reasoning"; github RyanLiu112/GenPRM @ cc80f47, ``src/prm_evaluation/prm_evaluate.py`` and
``genprm_inference.py``; models GenPRM/GenPRM-1.5B / -7B):

* one multi-turn conversation per solution: system ``"You are a math teacher. Your task is to review
  and critique the paragraphs in solution step by step."``, then one user turn per step (the first is
  ``question + "\\n" + step_1``), each followed by the assistant's verification of that step.
* the prompt for step k (1-based) is ``apply_chat_template(messages up to user k,
  add_generation_prompt=False)`` with a trailing ``eos_token`` (+ "\\n") removed (``build_prompt`` in
  ``src/utils/util.py``), then ``"<analyze>\\nLet's analyze the Paragraph {k} step by step: "``;
  generation stops at ``"</analyze>\\n"``; then ``"<output>\\n**Judgement**: $\\\\boxed"`` is appended and
  the verdict is ``\\boxed{Yes}`` / ``\\boxed{No}``. The whole text becomes the assistant turn that later
  steps see (the first sample's, as ``conversation[step_index] = outputs[0]``).
* reward = P(Yes) / (P(Yes) + P(No)) of the decision token (``GenPRM.get_reward_score``; token ids
  ``tokenizer.encode("Yes")[-1]`` / ``"No"``); prmkit reads it after the forced ``"{"`` that follows
  ``\\boxed``. With k samples (``majority_num``) the rewards are averaged. Reference sampling:
  temperature 0.6, top_p 0.95, top_k 20, 2048 tokens.
* Not implemented: the ``<verify>`` stage, in which the model writes Python that the reference
  *executes* (``CodeExecutor``, ``exec`` in-process) and reads its output back. prmkit never runs
  model-written code; this is the reference's ``--analyze`` (no ``--verify``) configuration.

Unparseable verifications give ``None`` for the affected steps (unknown, never a guess), where the
references return 0.5 (GenPRM) or pad with 0 (ThinkPRM); sampling options the Generator protocol
does not carry (top_p, top_k) must be set on the generator itself to match the references.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from prmkit.models import ScoringItem

__all__ = [
    "GENPRM_ANALYZE",
    "GENPRM_OUTPUT",
    "GENPRM_SYSTEM",
    "THINKPRM_DECISION",
    "THINKPRM_INSTRUCTION",
    "DecisionModel",
    "GenPRMScorer",
    "ThinkPRMScorer",
    "genprm_label",
    "thinkprm_step_labels",
    "thinkprm_user_message",
]

#: ThinkPRM's instruction template (``format_verification_cot_for_thinkprm``, default instruction).
THINKPRM_INSTRUCTION = (
    "You are given a math problem and a proposed step-by-step solution:\n\n"
    "[Math Problem]\n\n{problem}\n\n[Solution]\n\n{solution}\n\n"
    "Review and critique each step in the proposed solution to determine whether each step is correct. "
    "If the solution is incomplete, only verify the provided steps."
)
THINKPRM_START = "\nLet's verify step by step:"
THINKPRM_DECISION = "\nIs the solution correct? "
_THINKPRM_STOP = "Is the solution correct?"
_STEP_PREFIX = re.compile(r"Step \d+:")
_BOXED_STEP = re.compile(r"\\boxed\{(correct|incorrect)\}")

#: GenPRM's system prompt for analysis (``prm_evaluate.py`` with ``--analyze``).
GENPRM_SYSTEM = "You are a math teacher. Your task is to review and critique the paragraphs in solution step by step."
GENPRM_ANALYZE = "<analyze>\nLet's analyze the Paragraph {cur_step} step by step: "
GENPRM_OUTPUT = "<output>\n**Judgement**: $\\boxed"
_GENPRM_STOP = "</analyze>\n"
_GENPRM_VERDICT = re.compile(r"(Yes|No)\}", re.IGNORECASE)


def thinkprm_user_message(question: str, steps: Sequence[str]) -> str:
    """The ThinkPRM user message: numbered steps ("Step i: ...", one per line) in the instruction template."""
    numbered = "\n".join(f"Step {i + 1}: {_STEP_PREFIX.sub('', step).strip()}" for i, step in enumerate(steps))
    return THINKPRM_INSTRUCTION.replace("{problem}", question).replace("{solution}", numbered)


def thinkprm_step_labels(text: str, n_steps: int) -> list[float] | None:
    """Step labels from a ThinkPRM verification: ``\\boxed{correct}`` -> 1.0, ``\\boxed{incorrect}`` -> 0.0.

    Steps after the last verdict are 0.0 (the verifier stops after an incorrect step); extra verdicts
    beyond ``n_steps`` are ignored; ``None`` when the text has no verdict at all.

    Example:
        >>> thinkprm_step_labels("Step 1: ... \\\\boxed{correct}\\nStep 2: ... \\\\boxed{incorrect}", 3)
        [1.0, 0.0, 0.0]
    """
    found = [1.0 if m == "correct" else 0.0 for m in _BOXED_STEP.findall(text)]
    if not found:
        return None
    return (found + [0.0] * n_steps)[:n_steps]


def genprm_label(text: str) -> float | None:
    """GenPRM's text verdict: the first ``Yes}`` / ``No}`` (case-insensitive) -> 1.0 / 0.0, else None."""
    match = _GENPRM_VERDICT.search(text)
    return None if match is None else float(match.group(1).lower() == "yes")


class DecisionModel:
    """Two-way next-token softmax of a causal LM after given texts: the references' P(yes) scores.

    Args:
        model: a causal LM (path or loaded ``PreTrainedModel``), or an object with ``.model`` and
            ``.tokenizer`` (e.g. :class:`~prmkit.generation.transformers.TransformersGenerator`).
        tokenizer: its tokenizer (default: ``model.tokenizer`` or the model's path).
        device: torch device for a model loaded from a path.

    Texts are tokenized with ``add_special_tokens=False``: the chat-templated prompts already hold
    their BOS text.
    """

    def __init__(self, model: Any, tokenizer: Any = None, device: str | None = None) -> None:
        if hasattr(model, "model") and hasattr(model, "tokenizer") and not hasattr(model, "forward"):
            model, tokenizer = model.model, tokenizer or model.tokenizer
        if isinstance(model, str):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForCausalLM.from_pretrained(model).to(device or "cpu")
        if tokenizer is None:
            raise ValueError("DecisionModel needs the model's tokenizer (pass tokenizer=)")
        self.model, self.tokenizer = model.eval(), tokenizer

    def token_id(self, text: str) -> int:
        """The single token id of ``text``; raises ``ValueError`` when it is several tokens."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(f"decision choice {text!r} is {len(ids)} tokens {ids}; the decision reads one token")
        return ids[0]

    def probabilities(self, texts: Sequence[str], positive: int, negative: int,
                      temperature: float = 1.0) -> list[float]:
        """``softmax([logit[positive], logit[negative]] / temperature)[0]`` after each text, input order."""
        import torch

        device = next(self.model.parameters()).device
        out = []
        with torch.inference_mode():
            for text in texts:  # one sequence at a time: the verifications differ widely in length
                ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
                logits = self.model(input_ids=torch.tensor([ids], device=device)).logits[0, -1].float()
                pair = torch.stack([logits[positive], logits[negative]]) / temperature
                out.append(float(pair.log_softmax(-1)[0].exp()))
        return out


def _load_generator(generator: Any, options: dict[str, Any], who: str) -> Any:
    if isinstance(generator, str):
        from prmkit.generation import load_generator

        return load_generator(generator, **options)
    if options:
        raise ValueError(f"{who} got generator options {sorted(options)} but a ready generator object; "
                         "pass options only with a generator name")
    return generator


def _chat_tokenizer(tokenizer: Any, generator: Any, who: str) -> Any:
    if isinstance(tokenizer, str):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    tokenizer = tokenizer if tokenizer is not None else getattr(generator, "tokenizer", None)
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError(f"{who} needs the verifier's tokenizer with its chat template (pass tokenizer=<path>)")
    return tokenizer


def _decision(decision_model: Any, generator: Any) -> DecisionModel | None:
    if decision_model is None or decision_model is False:
        return None
    if decision_model is True:
        return DecisionModel(generator)
    return decision_model if isinstance(decision_model, DecisionModel) else DecisionModel(decision_model)


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


@dataclass
class GenerativeVerdict:
    """What a generative PRM said about one solution.

    Attributes:
        scores: one score per step (None = no usable verdict).
        texts: the generated verifications (per sample; for per-step modes, per step then sample).
    """

    scores: list[float | None]
    texts: list[Any] = field(default_factory=list)


class ThinkPRMScorer:
    """ThinkPRM (launch/ThinkPRM-*) as a :class:`~prmkit.models.Scorer`; formats in the module docstring.

    Args:
        generator: a :class:`~prmkit.generation.Generator` or a registered name built with
            ``generator_options`` (e.g. ``"transformers", model="launch/ThinkPRM-1.5B"``).
        mode: ``"steps"`` (one verification per solution, boxed labels) or ``"prefix"`` (one per
            prefix, P("yes") after "Is the solution correct?"; needs ``decision_model``).
        k: verifications per solution (or prefix); scores are averaged (parallel scaling).
        temperature / max_new_tokens / seed: sampling (reference: 0.7, 8192, 0).
        decision_model: ``True`` = the generator's own ``.model``/``.tokenizer``; a path, model or
            :class:`DecisionModel`; ``None`` = no probabilities.
        decision_temperature: divides the yes/no log-probs before the softmax (reference default 1.0).
        tokenizer: the verifier's tokenizer with its chat template (default: the generator's).

    Raises:
        ValueError: an unknown mode, ``k < 1``, ``mode="prefix"`` without a decision model, or no
            chat template.
    """

    def __init__(self, generator: Any, *, mode: Literal["steps", "prefix"] = "steps", k: int = 1,
                 temperature: float = 0.7, max_new_tokens: int = 8192, seed: int | None = 0,
                 decision_model: Any = None, decision_temperature: float = 1.0, tokenizer: Any = None,
                 **generator_options: Any) -> None:
        if mode not in ("steps", "prefix"):
            raise ValueError(f"ThinkPRMScorer mode={mode!r}; use 'steps' or 'prefix'")
        if k < 1:
            raise ValueError(f"ThinkPRMScorer k must be >= 1, got {k}")
        self.generator = _load_generator(generator, generator_options, "ThinkPRMScorer")
        self.tokenizer = _chat_tokenizer(tokenizer, self.generator, "ThinkPRMScorer")
        self.decider = _decision(decision_model, self.generator)
        if mode == "prefix" and self.decider is None:
            raise ValueError("ThinkPRMScorer(mode='prefix') reads P('yes'): pass decision_model=True (the "
                             "generator's model) or a causal LM path")
        self.mode, self.k, self.temperature, self.max_new_tokens, self.seed = mode, k, temperature, max_new_tokens, seed
        self.decision_temperature = decision_temperature

    def prompt(self, question: str, steps: Sequence[str]) -> str:
        """The exact text sent to the generator for one solution (or prefix)."""
        messages = [{"role": "user", "content": thinkprm_user_message(question, steps)}]
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + THINKPRM_START

    def _generate(self, jobs: list[tuple[str, Sequence[str]]]) -> tuple[list[str], list[list[str]]]:
        prompts = [self.prompt(q, s) for q, s in jobs]
        stops = {_THINKPRM_STOP, "</think>"} | ({self.tokenizer.eos_token} if self.tokenizer.eos_token else set())
        texts: list[tuple[int, list[str]]] = []
        # one call per distinct step count: the "Step {n+1}:" stop differs between prefixes
        for n in sorted({len(s) for _, s in jobs}):
            chosen = [i for i, (_, s) in enumerate(jobs) if len(s) == n]
            samples = self.generator.complete([prompts[i] for i in chosen], n=self.k, stop=sorted(stops | {f"Step {n + 1}:"}),
                                              max_new_tokens=self.max_new_tokens, temperature=self.temperature, seed=self.seed)
            texts.extend((i, [c.text for c in row]) for i, row in zip(chosen, samples))
        return prompts, [t for _, t in sorted(texts)]

    def verify(self, items: Sequence[ScoringItem]) -> list[GenerativeVerdict]:
        """Verify every item (one generator call per distinct step count); verdicts in input order."""
        if self.mode == "steps":
            todo = [(q, list(s)) for q, s in items if s]
            _, texts = self._generate(todo)
            it = iter(texts)
            out = []
            for _, steps in items:
                if not steps:
                    out.append(GenerativeVerdict([]))
                    continue
                samples = next(it)
                labels = [thinkprm_step_labels(t, len(steps)) for t in samples]
                out.append(GenerativeVerdict([_mean([lab[j] if lab else None for lab in labels])
                                              for j in range(len(steps))], samples))
            return out
        jobs = [(q, list(s[: j + 1])) for q, s in items for j in range(len(s))]
        prompts, texts = self._generate(jobs)
        assert self.decider is not None
        yes, no = self.decider.token_id("yes"), self.decider.token_id("no")
        decisions = [prompt + _cut(text, _THINKPRM_STOP) + THINKPRM_DECISION for prompt, row in zip(prompts, texts)
                     for text in row]
        probs = iter(self.decider.probabilities(decisions, yes, no, self.decision_temperature))
        out, rows = [], iter(texts)
        for _, steps in items:
            scores, kept = [], []
            for _ in steps:
                kept.append(next(rows))
                scores.append(_mean([next(probs) for _ in range(self.k)]))
            out.append(GenerativeVerdict(scores, kept))
        return out

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        """Per-step scores in [0, 1] (see ``mode``); None where the verifier gave no verdict."""
        return [v.scores for v in self.verify(items)]


def _cut(text: str, stop: str) -> str:
    """``text`` without a trailing stop string (generators keep it; the reference appends its own)."""
    return text[: -len(stop)] if text.endswith(stop) else text


class GenPRMScorer:
    """GenPRM (GenPRM/GenPRM-*) as a :class:`~prmkit.models.Scorer`; format in the module docstring.

    Args:
        generator: a :class:`~prmkit.generation.Generator` or a registered name built with
            ``generator_options``.
        k: verifications per step (``majority_num``); rewards are averaged.
        temperature / max_new_tokens / seed: sampling (reference: 0.6, 2048).
        decision_model: ``True`` = the generator's own model; a path / model / :class:`DecisionModel`
            for P(Yes); ``None`` = the text verdict after the judgement prefix (1.0 / 0.0).
        tokenizer: the verifier's tokenizer with its chat template (default: the generator's).

    Raises:
        ValueError: ``k < 1`` or no chat template.
    """

    def __init__(self, generator: Any, *, k: int = 1, temperature: float = 0.6, max_new_tokens: int = 2048,
                 seed: int | None = 0, decision_model: Any = None, tokenizer: Any = None,
                 **generator_options: Any) -> None:
        if k < 1:
            raise ValueError(f"GenPRMScorer k must be >= 1, got {k}")
        self.generator = _load_generator(generator, generator_options, "GenPRMScorer")
        self.tokenizer = _chat_tokenizer(tokenizer, self.generator, "GenPRMScorer")
        self.decider = _decision(decision_model, self.generator)
        self.k, self.temperature, self.max_new_tokens, self.seed = k, temperature, max_new_tokens, seed

    def messages(self, question: str, steps: Sequence[str], verifications: Sequence[str]) -> list[dict[str, str]]:
        """The conversation up to the user turn of step ``len(verifications) + 1``."""
        k = len(verifications)
        messages = [{"role": "system", "content": GENPRM_SYSTEM}]
        for j, step in enumerate(steps[: k + 1]):
            messages.append({"role": "user", "content": question + "\n" + step if j == 0 else step})
            if j < k:
                messages.append({"role": "assistant", "content": verifications[j]})
        return messages

    def prompt(self, question: str, steps: Sequence[str], verifications: Sequence[str] = ()) -> str:
        """The text the generator continues for step ``len(verifications) + 1`` (1-based), analysis opened."""
        text = self.tokenizer.apply_chat_template(self.messages(question, steps, verifications),
                                                  tokenize=False, add_generation_prompt=False)
        eos = self.tokenizer.eos_token or ""
        for ending in (eos + "\n", eos):
            if eos and text.endswith(ending):
                text = text[: -len(ending)]
                break
        return text + GENPRM_ANALYZE.format(cur_step=len(verifications) + 1)

    def verify(self, items: Sequence[ScoringItem]) -> list[GenerativeVerdict]:
        """Step by step for all items at once: one generator call per step index; input order.

        The assistant turn later steps see is the first sample's analysis + the judgement prefix +
        its verdict: the generated one on the text path, and with a decision model the more likely of
        ``{Yes}`` / ``{No}`` (the greedy continuation; the reference samples it).
        """
        verdicts = [GenerativeVerdict([], []) for _ in items]
        for j in range(max((len(s) for _, s in items), default=0)):
            active = [i for i, (_, s) in enumerate(items) if len(s) > j]
            prompts = [self.prompt(items[i][0], list(items[i][1]), verdicts[i].texts) for i in active]
            samples = self.generator.complete(prompts, n=self.k, stop=[_GENPRM_STOP], max_new_tokens=self.max_new_tokens,
                                              temperature=self.temperature, seed=self.seed)
            analyses = [[c.text + GENPRM_OUTPUT for c in row] for row in samples]
            scores, endings = self._judge([[p + a for a in row] for p, row in zip(prompts, analyses)])
            for i, row, score, ending in zip(active, analyses, scores, endings):
                verdicts[i].scores.append(score)
                verdicts[i].texts.append(GENPRM_ANALYZE.format(cur_step=j + 1) + row[0] + ending)
        return verdicts

    def _judge(self, heads: list[list[str]]) -> tuple[list[float | None], list[str]]:
        """Each step's reward (mean over its samples of P(Yes), or of the text verdict) and the
        verdict text that closes the first sample's assistant turn."""
        if self.decider is not None:
            yes = self.decider.tokenizer.encode("Yes", add_special_tokens=False)[-1]
            no = self.decider.tokenizer.encode("No", add_special_tokens=False)[-1]
            flat = self.decider.probabilities([h + "{" for row in heads for h in row], yes, no)
            endings = ["{" + ("Yes" if flat[r * self.k] >= 0.5 else "No") + "}$\n</output>\n" for r in range(len(heads))]
            return [_mean(flat[r * self.k:(r + 1) * self.k]) for r in range(len(heads))], endings
        outputs = self.generator.complete([h for row in heads for h in row], n=1, stop=["</output>\n"],
                                          max_new_tokens=20, temperature=self.temperature, seed=self.seed)
        texts = [row[0].text for row in outputs]
        labels = [genprm_label(t) for t in texts]
        return [_mean(labels[r * self.k:(r + 1) * self.k]) for r in range(len(heads))], texts[:: self.k]

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        """P(step k correct) per the GenPRM reward; None where no verdict was found."""
        return [v.scores for v in self.verify(items)]
