"""The vLLM adapter against a fake ``vllm`` module that checks every call's names and arguments.

The fake mirrors the signatures of vLLM 0.11.2-0.18 (``LLM(model, *, runner, pooler_config, ...)``,
``LLM.encode(prompts, /, *, pooling_params, use_tqdm, lora_request, pooling_task,
tokenization_kwargs)``, keyword-only ``PoolingParams`` / ``PoolerConfig`` fields), so a misspelled
keyword fails here with ``TypeError``.
"""

from __future__ import annotations

import math
import sys
import types
from dataclasses import dataclass

import pytest

from prmkit.models.backends.vllm import VLLMScorer, pooling_task_for, read_step_scores
from prmkit.models.families import FamilySpec, get_family
from prmkit.models.formats.token_cls import encode_token_cls


class CharTokenizer:
    """One token per character, id = ord(c); no BOS."""

    bos_token_id = None

    def encode(self, text, add_special_tokens=False):
        return [ord(c) for c in text]

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": self.encode(text)}


def token_logits(token: int, position: int) -> list[float]:
    """The fake model's two logits at a position (any deterministic, varied function will do)."""
    return [((token * 7 + position) % 11) / 3.0, ((token * 3 + position) % 5) / 2.0]


@dataclass
class _Output:
    data: list


@dataclass
class _RequestOutput:
    outputs: _Output
    prompt_token_ids: list[int]


def make_fake_vllm(calls: list, *, step_rows_at: int | None = None, seq_logits: int = 1) -> types.ModuleType:
    vllm = types.ModuleType("vllm")
    config = types.ModuleType("vllm.config")

    class PoolingParams:
        def __init__(self, *, truncate_prompt_tokens=None, dimensions=None, normalize=None, use_activation=None,
                     step_tag_id=None, returned_token_ids=None):
            self.use_activation = use_activation
            self.step_tag_id = step_tag_id
            self.returned_token_ids = returned_token_ids

    class PoolerConfig:
        def __init__(self, *, pooling_type=None, seq_pooling_type=None, tok_pooling_type=None, normalize=None,
                     dimensions=None, use_activation=None, step_tag_id=None, returned_token_ids=None):
            self.pooling_type = pooling_type
            self.step_tag_id = step_tag_id
            self.returned_token_ids = returned_token_ids

    class LLM:
        def __init__(self, model, *, runner="auto", convert="auto", tokenizer=None, pooler_config=None, dtype="auto",
                     tensor_parallel_size=1, gpu_memory_utilization=0.9, max_model_len=None, seed=0):
            calls.append(("LLM", {"model": model, "runner": runner, "pooler_config": pooler_config, "dtype": dtype}))
            self.pooler_config = pooler_config

        def get_tokenizer(self):
            calls.append(("get_tokenizer", {}))
            return CharTokenizer()

        def encode(self, prompts, /, *, pooling_params=None, use_tqdm=True, lora_request=None, pooling_task=None,
                   tokenization_kwargs=None):
            calls.append(("encode", {"prompts": prompts, "pooling_params": pooling_params, "pooling_task": pooling_task}))
            assert pooling_task in ("embed", "classify", "token_embed", "token_classify"), pooling_task
            outs = []
            for prompt in prompts:
                assert set(prompt) == {"prompt_token_ids"}, prompt
                ids = prompt["prompt_token_ids"]
                if pooling_task == "classify":
                    data = [sum(ids) % 7 / 2.0, 1.0][:seq_logits]
                else:
                    rows = [token_logits(t, p) for p, t in enumerate(ids)]
                    if step_rows_at is not None:  # STEP pooling at a step tag: one row per tag
                        rows = [r for r, t in zip(rows, ids) if t == step_rows_at]
                    data = rows
                outs.append(_RequestOutput(_Output(data), ids))
            return outs

    vllm.LLM = LLM
    vllm.PoolingParams = PoolingParams
    config.PoolerConfig = PoolerConfig
    vllm.config = config
    return vllm


@pytest.fixture
def fake_vllm(monkeypatch):
    calls: list = []

    def install(**kwargs):
        module = make_fake_vllm(calls, **kwargs)
        monkeypatch.setitem(sys.modules, "vllm", module)
        monkeypatch.setitem(sys.modules, "vllm.config", module.config)
        return calls

    return install


ITEMS = [("Q 2+3", ["2+3=5", "Ans 5"]), ("Q 7", ["7", "so 7", "Ans 7"])]


def assert_nested_close(got, expected):
    assert [len(g) for g in got] == [len(e) for e in expected]
    for g, e in zip(got, expected):
        assert g == pytest.approx(e)


def _softmax(row, index):
    return math.exp(row[index]) / sum(math.exp(x) for x in row)


def _expected(items, pick):
    tok = CharTokenizer()
    out = []
    for question, steps in items:
        enc = encode_token_cls(tok, question, steps)
        out.append([pick(token_logits(enc.input_ids[p], p)) for p in enc.step_positions])
    return out


def test_lm_tokens_family_uses_step_pooling_with_the_label_token_ids(fake_vllm):
    calls = fake_vllm()
    spec = FamilySpec(name="stand-in-lm", encode=encode_token_cls, head="lm_tokens", positive_token="+",
                      negative_token="-", step_token="\n")
    scorer = VLLMScorer(spec, "/models/prm", tokenizer=CharTokenizer(), dtype="bfloat16")
    name, init = calls[0]
    assert name == "LLM" and init["model"] == "/models/prm" and init["runner"] == "pooling" and init["dtype"] == "bfloat16"
    assert init["pooler_config"].pooling_type == "STEP"
    assert init["pooler_config"].returned_token_ids == [ord("+"), ord("-")]
    assert init["pooler_config"].step_tag_id is None  # every token comes back; prmkit reads step_positions

    scores = scorer.score(ITEMS)
    name, enc = calls[-1]
    assert name == "encode" and enc["pooling_task"] == "token_classify"
    assert enc["pooling_params"].use_activation is False
    assert enc["prompts"] == [{"prompt_token_ids": encode_token_cls(CharTokenizer(), q, s).input_ids} for q, s in ITEMS]
    expected = _expected(ITEMS, lambda row: _softmax(row, 0))
    assert_nested_close(scores, expected)


def test_lm_tokens_prefers_the_family_label_token_ids(fake_vllm):
    calls = fake_vllm()
    spec = FamilySpec(name="stand-in-lm", encode=encode_token_cls, head="lm_tokens", positive_token="+",
                      negative_token="-", label_token_ids=lambda tok: (648, 387))
    VLLMScorer(spec, "/models/prm", tokenizer=CharTokenizer())
    assert calls[0][1]["pooler_config"].returned_token_ids == [648, 387]


def test_token_cls_family_reads_softmax_label_1_at_step_positions(fake_vllm):
    calls = fake_vllm()
    scorer = VLLMScorer(get_family("token-cls"), "/models/prm")
    assert calls[0][1]["pooler_config"] is None  # model default pooler (ALL) for token classification
    assert calls[1][0] == "get_tokenizer"
    assert_nested_close(scorer.score(ITEMS), _expected(ITEMS, lambda row: _softmax(row, 1)))


def test_step_tag_pooling_rows_one_per_step_are_taken_in_order(fake_vllm):
    # Qwen2ForProcessRewardModel's default: STEP pooling at the step tag returns one row per step.
    fake_vllm(step_rows_at=ord("\n"))
    spec = FamilySpec(name="stand-in-2class", encode=encode_token_cls, head="two_class", step_token="\n")
    scores = VLLMScorer(spec, "/models/prm").score(ITEMS)
    assert_nested_close(scores, _expected(ITEMS, lambda row: _softmax(row, 1)))


def test_sequence_head_scores_only_the_last_step(fake_vllm):
    calls = fake_vllm(seq_logits=1)
    scores = VLLMScorer(get_family("orm"), "/models/orm").score(ITEMS)
    assert calls[-1][1]["pooling_task"] == "classify"
    tok = CharTokenizer()
    for (question, steps), got in zip(ITEMS, scores):
        ids = encode_token_cls(tok, question, steps).input_ids
        logit = sum(ids) % 7 / 2.0
        assert got[:-1] == [None] * (len(steps) - 1)
        assert got[-1] == pytest.approx(1 / (1 + math.exp(-logit)))


def test_check_tokenizer_runs_at_load(fake_vllm):
    fake_vllm()

    def refuse(tokenizer):
        raise ValueError("needs the step tag 'ки' as one token")

    spec = FamilySpec(name="picky", encode=encode_token_cls, head="token_cls", check_tokenizer=refuse)
    with pytest.raises(ValueError, match="ки"):
        VLLMScorer(spec, "/models/prm")


def test_read_step_scores_rejects_rows_that_fit_neither_layout():
    with pytest.raises(ValueError, match="returned 3 rows; expected one per token \\(5\\) or one per step \\(2\\)"):
        read_step_scores("two_class", [[0, 1]] * 3, [1, 2, 3, 4, 5], [1, 4])
    with pytest.raises(ValueError, match="head 'value' expects 1 logits"):
        read_step_scores("value", [[0.0, 1.0]] * 2, [1, 2], [0, 1])
    assert read_step_scores("value", [[0.0], [2.0]], [1, 2], [0, 1]) == pytest.approx([0.5, 1 / (1 + math.exp(-2))])


def test_pooling_task_per_head_and_missing_vllm_message(monkeypatch):
    assert pooling_task_for("sequence") == "classify"
    assert pooling_task_for("value") == "token_classify"
    with pytest.raises(ValueError, match="unknown family head"):
        pooling_task_for("regression")
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError, match="prmkit\\[vllm\\]"):
        VLLMScorer(get_family("token-cls"), "/models/prm")


def test_prmkit_trained_checkpoint_is_tokenized_as_its_trainer_did(fake_vllm, tmp_path):
    """Prompts go to vLLM as token ids, so a checkpoint prmkit wrote (prmkit.json) must be tokenized with
    the trainer's loader — not vLLM's AutoTokenizer, which misreads a Qwen2-config char tokenizer."""
    from prmkit.train._data import load_tokenizer
    from tests._tiny_train import make_base

    checkpoint = make_base(tmp_path / "prm", "qwen2")
    (checkpoint / "prmkit.json").write_text('{"family": "token-cls"}')
    calls = fake_vllm()
    scorer = VLLMScorer(get_family("token-cls"), str(checkpoint))
    assert [name for name, _ in calls] == ["LLM"]  # vLLM's own tokenizer is not used
    text = "Q 12 +3\n12+3=15\n"
    assert scorer.tokenizer(text)["input_ids"] == load_tokenizer(checkpoint)(text)["input_ids"]
    assert len(scorer.tokenizer(text, add_special_tokens=False)["input_ids"]) == len(text)  # spaces and newlines kept
    by_path = VLLMScorer(get_family("token-cls"), "/models/prm", tokenizer=checkpoint)  # a Path works like a str
    assert by_path.tokenizer(text)["input_ids"] == scorer.tokenizer(text)["input_ids"]
