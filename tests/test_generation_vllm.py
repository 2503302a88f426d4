"""The vllm generator against a fake ``vllm`` module with vLLM's offline-API signatures (keyword names checked)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

from prmkit.generation import load_generator
from prmkit.generation.vllm import VLLMGenerator


@dataclass
class CompletionOutput:  # vllm/outputs.py
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str
    outputs: list[CompletionOutput]


def make_fake_vllm(calls: list) -> types.ModuleType:
    vllm = types.ModuleType("vllm")

    class SamplingParams:  # the keyword names of vllm/sampling_params.py (a typo raises TypeError)
        def __init__(self, *, n=1, temperature=1.0, top_p=1.0, top_k=0, max_tokens=16, stop=None, stop_token_ids=None,
                     seed=None, include_stop_str_in_output=False, ignore_eos=False, logprobs=None):
            self.__dict__.update(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed,
                                 include_stop_str_in_output=include_stop_str_in_output)

    class LLM:
        def __init__(self, model, *, tokenizer=None, dtype="auto", gpu_memory_utilization=0.9, max_model_len=None, seed=0):
            calls.append(("LLM", model, gpu_memory_utilization))

        def get_tokenizer(self):
            return "the-tokenizer"

        def generate(self, prompts, sampling_params=None, *, use_tqdm=True, lora_request=None, priority=None):
            calls.append(("generate", list(prompts), sampling_params, use_tqdm))
            p = sampling_params
            out = []
            for i, prompt in enumerate(prompts):
                samples = []
                for j in range(p.n):  # per-request seed: samples depend on (seed, prompt, j)
                    kind = (hash((p.seed, prompt, j)) if p.seed is None else p.seed + j) % 3
                    if kind == 0 and p.stop:  # hit the first stop string (kept: include_stop_str_in_output)
                        samples.append(CompletionOutput(j, f"{prompt}-{j}" + p.stop[0], [7] * 3, None, None, "stop", p.stop[0]))
                    elif kind == 1:  # EOS
                        samples.append(CompletionOutput(j, f"end{j}", [7, 2], None, None, "stop", None))
                    else:
                        samples.append(CompletionOutput(j, "x" * p.max_tokens, [5] * p.max_tokens, None, None, "length", None))
                out.append(RequestOutput(str(i), prompt, samples[::-1]))  # outputs not in index order
            return out

    vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
    return vllm


@pytest.fixture()
def fake(monkeypatch):
    calls: list = []
    monkeypatch.setitem(sys.modules, "vllm", make_fake_vllm(calls))
    return calls


def test_builds_the_engine_and_maps_outputs_stop_eos_length_and_tokens(fake):
    gen = load_generator("vllm", model="some/model", gpu_memory_utilization=0.5)
    assert fake[0] == ("LLM", "some/model", 0.5) and gen.tokenizer == "the-tokenizer"
    rows = gen.complete(["a", "b"], n=3, stop=["\n"], max_new_tokens=4, temperature=0.7, seed=0)
    assert [[c.finish_reason for c in row] for row in rows] == [["stop", "eos", "length"]] * 2
    assert rows[0][0].text == "a-0\n" and rows[1][1].text == "end1" and rows[0][2].text == "xxxx"
    assert [c.num_tokens for c in rows[0]] == [3, 2, 4]  # the engine's token ids, EOS included
    _, prompts, params, tqdm = fake[1]
    assert prompts == ["a", "b"] and tqdm is False
    assert (params.n, params.temperature, params.max_tokens, params.stop, params.seed) == (3, 0.7, 4, ["\n"], 0)
    assert params.include_stop_str_in_output is True and params.top_p == 1.0


def test_an_engine_object_is_used_as_is_and_a_stop_string_is_added_when_left_out(fake):
    import vllm

    engine = vllm.LLM("m")

    class Trimming:  # an engine that leaves the stop string out of the text (include_stop_str_in_output ignored)
        def generate(self, prompts, sampling_params=None, *, use_tqdm=True):
            return [RequestOutput("0", p, [CompletionOutput(0, "1+1=2", [1, 2], None, None, "stop", "\n")]) for p in prompts]

    assert VLLMGenerator(Trimming()).complete(["q"], stop=["\n"])[0][0].text == "1+1=2\n"
    assert VLLMGenerator(engine).complete([], n=2) == []
    with pytest.raises(TypeError, match="only apply when model is a path"):
        VLLMGenerator(engine, dtype="half")
    with pytest.raises(ValueError, match="n >= 1"):
        VLLMGenerator(engine).complete(["q"], n=0)


def test_a_search_runs_on_the_vllm_generator(fake):
    from prmkit.search import SearchConfig, run_search
    from tests._fake_world import CountTask, ExactScorer

    task = CountTask()
    results = run_search("best_of_n", task, load_generator("vllm", model="m"), ExactScorer(), task.problems(count=2),
                         SearchConfig(n=3))
    assert [len(r.candidates) for r in results] == [3, 3] and results[0].budget["policy_tokens"] > 0


def test_without_vllm_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError, match=r"pip install 'prmkit\[vllm\]'"):
        load_generator("vllm", model="m")
