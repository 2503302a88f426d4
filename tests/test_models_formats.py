"""Golden tests of the PRM family input formats against their reference code, with REAL tokenizers.

Expected ids/positions come from the model cards' recipes (re-implemented plainly here) and from the
independent checks recorded in ../shared/data/tokenizers/*/PROVENANCE.md (sentencepiece/tiktoken).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from prmkit._registry import UnknownNameError
from prmkit.models.backends._batching import token_budget_batches
from prmkit.models.families import (
    FAMILIES,
    get_family,
    load_family_scorer,
    token_cls_spec,
)
from prmkit.models.formats import (
    encode_implicit,
    encode_math_shepherd,
    encode_qwen_math_prm,
    encode_rlhflow,
    encode_skywork,
)
from tests._tiny_models import (
    TOKENIZERS,
    have_tokenizers,
    llama3_tokenizer_dir,
    mistral_tokenizer_dir,
    qwen_prm_tokenizer_dir,
    skip_reason,
)

needs_tok = pytest.mark.skipif(
    not have_tokenizers(), reason="shared tokenizer files not present"
)


@pytest.fixture(scope="module")
def mistral():
    if skip_reason("mistral"):
        pytest.skip(skip_reason("mistral"))
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(mistral_tokenizer_dir())


@pytest.fixture(scope="module")
def qwen():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(qwen_prm_tokenizer_dir())


@pytest.fixture(scope="module")
def qwen_bos():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(qwen_prm_tokenizer_dir("<|endoftext|>"))


@pytest.fixture(scope="module")
def llama3():
    if skip_reason("llama3"):
        pytest.skip(skip_reason("llama3"))
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(llama3_tokenizer_dir())


# ---------------------------------------------------------------- math-shepherd
@needs_tok
def test_math_shepherd_matches_model_card(mistral):
    question = "Janet has 3 apples."
    steps = ["Step 1: 3+2=5", "Step 2: The answer is 5"]
    item = encode_math_shepherd(mistral, question, steps)
    # model card: input_for_prm = f"{question} {output}", output lines end with " ки"
    reference_ids = mistral.encode(
        f"{question} Step 1: 3+2=5 ки\nStep 2: The answer is 5 ки"
    )
    assert item.input_ids == reference_ids
    assert item.step_positions == [
        i for i, t in enumerate(reference_ids) if t == mistral.encode("ки")[-1]
    ]
    # PROVENANCE.md (sentencepiece, offline): 31 ids, step tags 12902 at [19, 30]
    assert len(item.input_ids) == 31 and item.step_positions == [19, 30]
    assert get_family("math-shepherd").label_token_ids(mistral) == (
        648,
        387,
    )  # encode("+ -")[1:]
    assert mistral.encode("+ -")[1:] == [648, 387]


@needs_tok
def test_math_shepherd_rejects_step_tag_inside_a_step(mistral):
    with pytest.raises(ValueError, match="contains 'ки'"):
        encode_math_shepherd(mistral, "Q", ["a ки b", "c"])
    with pytest.raises(ValueError, match="step 1 is empty"):
        encode_math_shepherd(mistral, "Q", ["a", "  "])


# ---------------------------------------------------------------- qwen2.5-math-prm
@needs_tok
def test_qwen_math_prm_matches_model_card(qwen):
    steps = ["1+1=2.", "The answer is \\boxed{2}."]
    item = encode_qwen_math_prm(qwen, "What is 1+1?", steps)
    messages = [
        {
            "role": "system",
            "content": "Please reason step by step, and put your final answer within \\boxed{}.",
        },
        {"role": "user", "content": "What is 1+1?"},
        {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"},
    ]
    text = qwen.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=False
    )
    reference_ids = qwen.encode(text)
    assert item.input_ids == reference_ids
    step_sep_id = qwen.encode("<extra_0>")[0]
    assert step_sep_id == 151651
    assert item.step_positions == [
        i for i, t in enumerate(reference_ids) if t == step_sep_id
    ]
    # PROVENANCE.md: 53 ids, <extra_0> at [41, 50], ending [151651, 151645, 198]
    assert len(item.input_ids) == 53 and item.step_positions == [41, 50]
    assert item.input_ids[-3:] == [151651, 151645, 198]


@needs_tok
def test_qwen_math_prm_needs_extra_0_as_one_token(tmp_path):
    import shutil

    from transformers import AutoTokenizer

    for name in (
        "vocab.json",
        "merges.txt",
        "tokenizer_config.json",
    ):  # the stock (non-PRM) config
        shutil.copy(TOKENIZERS / "qwen2.5" / name, tmp_path / name)
    stock = AutoTokenizer.from_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="<extra_0>.*one token"):
        encode_qwen_math_prm(stock, "Q", ["a"])
    with pytest.raises(ValueError, match="one token"):
        get_family("qwen2.5-math-prm").check_tokenizer(stock)


@needs_tok
def test_qwen_math_prm_rejects_step_token_in_text(qwen):
    with pytest.raises(ValueError, match="contains '<extra_0>'"):
        encode_qwen_math_prm(qwen, "Q <extra_0>", ["a"])


# ---------------------------------------------------------------- rlhflow
@needs_tok
def test_rlhflow_positions_equal_reference_per_step_prefixes(llama3):
    question = "What is 1+1? And 2+2?"
    steps = [
        "Step 1: 1+1=2.",
        "Step 2: 2+2=4, so + and - both fine.",
        "The answer is 2 and 4.",
    ]
    item = encode_rlhflow(llama3, question, steps)
    plus, minus = get_family("rlhflow").label_token_ids(llama3)
    assert (plus, minus) == (10, 12)  # PROVENANCE.md: encode("+")[-1], encode("-")[-1]
    conversation = []
    for k, step in enumerate(
        steps
    ):  # RLHFlow math-rm: one forward per step, logits[:, -3]
        conversation.append(
            {"role": "user", "content": question + " " + step if k == 0 else step}
        )
        conversation.append({"role": "assistant", "content": "+"})
        prefix = llama3.apply_chat_template(conversation, tokenize=True)
        prefix = (
            prefix["input_ids"]
            if isinstance(prefix, dict) or hasattr(prefix, "keys")
            else prefix
        )
        assert item.input_ids[: len(prefix)] == list(prefix)
        assert item.step_positions[k] == len(prefix) - 3
        assert prefix[-2] == plus
    assert len(item.input_ids) == len(prefix)


@needs_tok
def test_rlhflow_one_step_layout_matches_provenance(llama3):
    item = encode_rlhflow(llama3, "What is 1+1?", ["Step 1: 1+1=2."])
    assert item.input_ids[-4:] == [128007, 271, 10, 128009]
    assert item.step_positions == [len(item.input_ids) - 3]
    assert item.input_ids[0] == 128000


# ---------------------------------------------------------------- skywork
def _skywork_reference(tokenizer, problem, steps):
    """skywork-o1-prm-inference prepare_input on response = "\\n".join(steps) + "\\n"."""
    prompt_ids = tokenizer.encode(tokenizer.bos_token + problem + "\n")
    ids, flags = list(prompt_ids), [0] * len(prompt_ids)
    step_token_id = tokenizer.encode("\n")[-1]
    for step in ("\n".join(steps) + "\n").split("\n"):
        if step == "":
            continue
        step_ids = tokenizer.encode(step) + [step_token_id]
        ids += step_ids
        flags += [0] * (len(step_ids) - 1) + [1]
    return ids, [i for i, f in enumerate(flags) if f]


@needs_tok
def test_skywork_matches_reference(qwen_bos):
    steps = [
        "Janet's ducks lay 16 eggs.",
        "She eats 3, so 16 - 3 = 13.",
        "The answer is 13.",
    ]
    item = encode_skywork(qwen_bos, "How many eggs?", steps)
    ids, positions = _skywork_reference(qwen_bos, "How many eggs?", steps)
    assert item.input_ids == ids and item.step_positions == positions
    assert item.input_ids[0] == 151643 and all(
        item.input_ids[p] == 198 for p in positions
    )


@needs_tok
def test_skywork_needs_bos(qwen):
    with pytest.raises(ValueError, match="no bos_token"):
        encode_skywork(qwen, "Q", ["a"])


# ---------------------------------------------------------------- implicit
@needs_tok
def test_implicit_layout_and_spans(qwen):
    steps = ["3 + 4 = 7", "7 * 2 = 14", "The answer is 14"]
    item = encode_implicit(qwen, "Compute (3+4)*2.", steps)
    question_ids = qwen("Compute (3+4)*2.\n", add_special_tokens=False)["input_ids"]
    assert item.input_ids[: item.response_start] == question_ids  # Qwen has no BOS
    for (start, end), step in zip(item.step_spans(), steps):
        assert qwen.decode(item.input_ids[start:end]) == step + "\n"
    assert item.step_positions == [end - 1 for _, end in item.step_spans()]
    assert item.step_spans()[-1][1] == len(item.input_ids)


class _CharTokenizer:
    bos_token_id = 0

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def test_implicit_docstring_example_with_bos():
    item = encode_implicit(_CharTokenizer(), "Q", ["ab", "c"])
    assert item.input_ids == [0, ord("Q"), 10, ord("a"), ord("b"), 10, ord("c"), 10]
    assert item.response_start == 3 and item.step_positions == [5, 7]
    assert item.step_spans() == [(3, 6), (6, 8)]
    with pytest.raises(ValueError, match="no steps"):
        encode_implicit(_CharTokenizer(), "Q", [])


# ---------------------------------------------------------------- specs, registry, batching
def test_family_specs_cover_registered_names():
    from prmkit.models import SCORERS

    for name in (
        "math-shepherd",
        "qwen2.5-math-prm",
        "rlhflow",
        "skywork",
        "token-cls",
        "orm",
    ):
        assert name in SCORERS.names() and get_family(name).name == name
    assert {spec.head for spec in FAMILIES.values()} == {
        "lm_tokens",
        "two_class",
        "value",
        "token_cls",
        "sequence",
    }
    with pytest.raises(UnknownNameError, match="Available: .*math-shepherd"):
        get_family("math_shepherd")


def test_unknown_backend_lists_valid_ones():
    with pytest.raises(ValueError, match="transformers, vllm, http"):
        load_family_scorer("math-shepherd", path="x", backend="onnx")
    with pytest.raises(ValueError, match="needs path="):
        load_family_scorer("math-shepherd", backend="transformers")


def test_token_cls_spec_binds_separator():
    spec = token_cls_spec("\n\n")
    item = spec.encode(_CharTokenizer(), "Q", ["a", "b"])
    assert item.input_ids == [0, ord("Q"), ord("a"), 10, 10, ord("b"), 10, 10]
    assert item.step_positions == [4, 7] and spec.step_token == "\n\n"


def test_token_budget_batches_cover_all_and_respect_budget():
    lengths = [5, 17, 3, 40, 8, 8, 21, 1]
    batches = token_budget_batches(lengths, max_batch_tokens=40)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 40
        assert [lengths[i] for i in batch] == sorted(
            (lengths[i] for i in batch), reverse=True
        )
    assert token_budget_batches([100, 1], 10) == [[0], [1]]
    with pytest.raises(ValueError):
        token_budget_batches([1], 0)


def test_import_families_does_not_import_torch():
    code = "import sys, prmkit.models.families, prmkit.models.formats; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
