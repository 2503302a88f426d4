"""JudgeScorer: ProcessBench critic prompt (golden), boxed extraction and voting (golden), scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prmkit.models import load_scorer
from prmkit.models.judge import (
    JudgeScorer,
    critic_prompt,
    extract_boxed,
    majority_index,
    scores_from_first_error,
)
from prmkit.types import Completion

GOLDEN = json.loads((Path(__file__).parent / "fixtures" / "serve" / "processbench_critic_golden.json").read_text())


class FakeGenerator:
    """Returns scripted critiques per prompt (cycled to n) and records every call."""

    def __init__(self, answers, tokenizer=None):
        self.answers = answers  # list (per prompt) of critique lists
        self.calls = []
        if tokenizer is not None:
            self.tokenizer = tokenizer

    def complete(self, prompts, *, n=1, stop=None, max_new_tokens=256, temperature=1.0, seed=None):
        self.calls.append({"prompts": list(prompts), "n": n, "stop": stop, "max_new_tokens": max_new_tokens,
                           "temperature": temperature, "seed": seed})
        return [[Completion(text=self.answers[i][j % len(self.answers[i])], num_tokens=5) for j in range(n)]
                for i in range(len(prompts))]


class ChatTokenizer:
    chat_template = "{{ fake }}"

    def __init__(self):
        self.seen = []

    def apply_chat_template(self, messages, add_generation_prompt=False, tokenize=True):
        self.seen.append((messages, add_generation_prompt, tokenize))
        return "<user>" + messages[0]["content"] + "</user><assistant>"


@pytest.mark.parametrize("record", GOLDEN["prompts"], ids=lambda r: r["id"])
def test_prompt_matches_the_processbench_reference(record):
    (message,) = record["messages"]
    assert message["role"] == "user"
    assert critic_prompt(record["problem"], record["steps"]) == message["content"]


@pytest.mark.parametrize("case", GOLDEN["extract"], ids=lambda c: c["critique"][:20])
def test_boxed_extraction_matches_the_reference(case):
    assert extract_boxed(case["critique"]) == case["answer"]


@pytest.mark.parametrize("case", GOLDEN["vote"], ids=lambda c: str(c["prediction"]))
def test_majority_vote_matches_the_reference(case):
    assert majority_index(case["critiques"]) == case["prediction"]


def test_scores_from_first_error():
    assert scores_from_first_error(0, 3) == [0.0, 0.0, 0.0]
    assert scores_from_first_error(2, 4) == [1.0, 1.0, 0.0, 0.0]
    assert scores_from_first_error(-1, 2) == [1.0, 1.0]
    assert scores_from_first_error(3, 3) == [None, None, None]  # index past the last step
    assert scores_from_first_error(-2, 1) == [None]
    assert scores_from_first_error(None, 2) == [None, None]


def test_judge_votes_over_k_samples_and_sends_the_chat_prompt():
    record = GOLDEN["prompts"][0]
    tokenizer = ChatTokenizer()
    generator = FakeGenerator(
        [["\\boxed{1}", "\\boxed{2}", "\\boxed{1}"], ["looks right \\boxed{-1}"], ["I cannot tell"]], tokenizer=tokenizer
    )
    judge = load_scorer("judge", generator=generator, k=3)
    items = [(record["problem"], record["steps"]), ("1+1?", ["1+1=2", "Answer 2"]), ("q", ["a"])]
    scores = judge.score(items)
    assert scores == [[1.0, 0.0, 0.0, 0.0], [1.0, 1.0], [None]]
    (call,) = generator.calls
    assert call["n"] == 3 and call["temperature"] == 1.0 and call["seed"] == 42 and call["max_new_tokens"] == 8192
    assert call["prompts"][0] == "<user>" + record["messages"][0]["content"] + "</user><assistant>"
    messages, add_generation_prompt, tokenize = tokenizer.seen[0]
    assert messages == record["messages"] and add_generation_prompt is True and tokenize is False
    verdicts = judge.judge(items[:1])
    assert verdicts[0].votes == ["1", "2", "1"] and verdicts[0].first_error == 1


def test_single_critique_is_greedy_and_raw_prompt_without_chat():
    generator = FakeGenerator([["\\boxed{0}"]])
    judge = JudgeScorer(generator, chat=False)
    assert judge.score([("q", ["a", "b"])]) == [[0.0, 0.0]]
    assert generator.calls[0]["temperature"] == 0.0 and generator.calls[0]["n"] == 1
    assert generator.calls[0]["prompts"] == [critic_prompt("q", ["a", "b"])]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="chat template"):
        JudgeScorer(FakeGenerator([["x"]]))
    with pytest.raises(ValueError, match="k .* must be >= 1"):
        JudgeScorer(FakeGenerator([["x"]]), k=0, chat=False)
    with pytest.raises(ValueError, match="only with a generator name"):
        JudgeScorer(FakeGenerator([["x"]]), chat=False, model="m")
