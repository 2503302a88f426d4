"""ThinkPRM and GenPRM scorers: exact prompts (string and ids) through an R1-Distill-Qwen tokenizer,
verdict parsing of completions written by hand in the references' formats, and end-to-end scoring
on a tiny random Qwen2 with a scripted generator.

Tokenizer: the real Qwen2.5 ``vocab.json`` / ``merges.txt`` (shared/data/tokenizers/qwen2.5) with the
DeepSeek-R1-Distill-Qwen added tokens at their ids (151643 <｜end▁of▁sentence｜> = EOS, 151644 <｜User｜>,
151645 <｜Assistant｜>, 151646 <｜begin▁of▁sentence｜> = BOS, 151648 <think>, 151649 </think>; ThinkPRM's
generation_config.json names bos 151646 / eos 151643) and the system/user/assistant branches of the
R1-Distill-Qwen chat template (tool branches omitted; generation prompt ``<｜Assistant｜><think>\\n``).
Difference from the Qwen2.5-Instruct template the other families use: no ``<|im_start|>`` turns, the
system prompt is written bare after BOS, and user turns are not closed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prmkit.models.generative import (
    GENPRM_SYSTEM,
    DecisionModel,
    GenPRMScorer,
    ThinkPRMScorer,
    genprm_label,
    thinkprm_step_labels,
    thinkprm_user_message,
)
from prmkit.types import Completion

pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

R1_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}"
    "{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{{'<｜User｜>' + message['content']}}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}"
    "{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}"
    "{%- endfor -%}"
    "{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
)
R1_ADDED = {151643: "<｜end▁of▁sentence｜>", 151644: "<｜User｜>", 151645: "<｜Assistant｜>",
            151646: "<｜begin▁of▁sentence｜>", 151647: "<|EOT|>", 151648: "<think>", 151649: "</think>"}
QUESTION, STEPS = "What is 2+3?", ["2+3=5", "The answer is 5."]


@pytest.fixture(scope="module")
def r1_dir(tmp_path_factory) -> Path:
    from tests._tiny_models import TOKENIZERS, skip_reason

    if skip_reason("qwen"):
        pytest.skip(skip_reason("qwen"))
    out = tmp_path_factory.mktemp("r1tok")
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(TOKENIZERS / "qwen2.5" / name, out / name)
    decoder = {str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                        "special": i < 151648} for i, c in R1_ADDED.items()}
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer", "added_tokens_decoder": decoder, "bos_token": "<｜begin▁of▁sentence｜>",
        "eos_token": "<｜end▁of▁sentence｜>", "pad_token": "<｜end▁of▁sentence｜>", "unk_token": None,
        "add_bos_token": True, "chat_template": R1_TEMPLATE, "clean_up_tokenization_spaces": False,
    }))
    return out


@pytest.fixture(scope="module")
def r1(r1_dir: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(r1_dir))
    assert tok.convert_tokens_to_ids(["<｜begin▁of▁sentence｜>", "<｜User｜>", "<think>"]) == [151646, 151644, 151648]
    return tok


class ScriptedGenerator:
    """``reply(prompt, sample_index) -> text``; records every call."""

    def __init__(self, reply, tokenizer=None):
        self.reply, self.calls = reply, []
        if tokenizer is not None:
            self.tokenizer = tokenizer

    def complete(self, prompts, *, n=1, stop=None, max_new_tokens=256, temperature=1.0, seed=None):
        self.calls.append({"prompts": list(prompts), "n": n, "stop": stop, "max_new_tokens": max_new_tokens,
                           "temperature": temperature})
        return [[Completion(text=self.reply(p, j), num_tokens=3) for j in range(n)] for p in prompts]


# ------------------------------------------------------------------ ThinkPRM


def test_thinkprm_prompt_golden(r1) -> None:
    """mukhal/ThinkPRM utils/helper.py format_verification_cot_for_thinkprm (inference branch) with the
    numbered steps of prm/thinkprm_api.py process_example (process_verifier)."""
    scorer = ThinkPRMScorer(ScriptedGenerator(lambda p, j: ""), tokenizer=r1)
    prompt = scorer.prompt(QUESTION, ["Step 1: 2+3=5", STEPS[1]])  # an existing "Step k:" is replaced
    assert prompt == (
        "<｜begin▁of▁sentence｜><｜User｜>You are given a math problem and a proposed step-by-step solution:\n\n"
        "[Math Problem]\n\nWhat is 2+3?\n\n[Solution]\n\nStep 1: 2+3=5\nStep 2: The answer is 5.\n\n"
        "Review and critique each step in the proposed solution to determine whether each step is correct. "
        "If the solution is incomplete, only verify the provided steps.<｜Assistant｜><think>\n\nLet's verify step by step:"
    )
    ids = r1(prompt, add_special_tokens=False)["input_ids"]
    assert ids[:3] == [151646, 151644, 2610]  # BOS, <｜User｜>, "You"
    assert ids[-10:] == [151645, 151648, 271, 10061, 594, 10146, 3019, 553, 3019, 25]
    assert thinkprm_user_message(QUESTION, STEPS) in prompt


def test_thinkprm_parsing_of_reference_style_verifications() -> None:
    full = ("Step 1: The step computes 2+3=5, which is right.\n\nThe step is \\boxed{correct}\n\n"
            "Step 2: It states 6, but 2+3=5.\n\nThe step is \\boxed{incorrect}\n</think>\n\nIs the solution correct? No")
    assert thinkprm_step_labels(full, 2) == [1.0, 0.0]
    stopped = "Step 1: ... \\boxed{incorrect}\nOnce a step is wrong the rest need not be checked."
    assert thinkprm_step_labels(stopped, 3) == [0.0, 0.0, 0.0]  # the verifier stops after an error
    assert thinkprm_step_labels("Step 1: \\boxed{correct} Step 2: \\boxed{correct} Step 3: \\boxed{correct}", 2) == [1.0, 1.0]
    assert thinkprm_step_labels("I think it is fine.", 2) is None
    assert thinkprm_step_labels("\\boxed{Correct}", 1) is None  # the reference matches the lower-case tokens only


def test_thinkprm_steps_mode_end_to_end(r1) -> None:
    texts = ["Step 1: fine \\boxed{correct}\nStep 2: wrong \\boxed{incorrect}\n",
             "Step 1: fine \\boxed{correct}\nStep 2: fine \\boxed{correct}\n"]
    gen = ScriptedGenerator(lambda p, j: texts[j] if "Step 2:" in p else "no verdict here", tokenizer=r1)
    scorer = ThinkPRMScorer(gen, k=2)
    scores = scorer.score([(QUESTION, STEPS), ("What is 1?", ["1"]), ("Q", [])])
    assert scores == [[1.0, 0.5], [None], []]
    assert [sorted(c["stop"]) for c in gen.calls] == [
        sorted(["Is the solution correct?", "</think>", "<｜end▁of▁sentence｜>", f"Step {n + 1}:"]) for n in (1, 2)]
    assert gen.calls[0]["temperature"] == 0.7 and gen.calls[0]["max_new_tokens"] == 8192


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory, r1_dir: Path):
    from transformers import AutoModelForCausalLM

    from tests._tiny_models import build_causal_lm

    path = build_causal_lm(tmp_path_factory.mktemp("tinyq"))
    return AutoModelForCausalLM.from_pretrained(path).eval()


def _next_token_p(model, tok, text: str, good: str, bad: str) -> float:
    import torch

    ids = tok(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]
    a, b = tok.convert_tokens_to_ids([good, bad])
    return float(torch.stack([logits[a], logits[b]]).softmax(-1)[0])


def test_thinkprm_prefix_mode_reads_p_yes(r1, tiny_qwen) -> None:
    """Each prefix verified on its own; P = softmax(logp 'yes', logp 'no') after the cut critique +
    "\\nIs the solution correct? " (prm/thinkprm_api.py predecision_string, label_categories yes,no)."""
    cot = "Step 1: ok \\boxed{correct}\nIs the solution correct?"
    gen = ScriptedGenerator(lambda p, j: cot, tokenizer=r1)
    scorer = ThinkPRMScorer(gen, mode="prefix", decision_model=DecisionModel(tiny_qwen, r1))
    scores = scorer.score([(QUESTION, STEPS)])[0]
    expected = [_next_token_p(tiny_qwen, r1, scorer.prompt(QUESTION, STEPS[: k + 1]) + "Step 1: ok \\boxed{correct}\n"
                              + "\nIs the solution correct? ", "yes", "no") for k in range(2)]
    assert scores == pytest.approx(expected, abs=1e-5)
    assert scores[0] != pytest.approx(scores[1], abs=1e-6)  # the prefixes really differ
    with pytest.raises(ValueError, match="decision_model"):
        ThinkPRMScorer(gen, mode="prefix")


# ------------------------------------------------------------------ GenPRM


def test_genprm_prompts_golden(r1) -> None:
    """RyanLiu112/GenPRM src/prm_evaluation/prm_evaluate.py (messages) + src/utils/util.py build_prompt +
    genprm_inference.py analyze_template; step 1 matches the prompt printed in src/example/demo.ipynb."""
    scorer = GenPRMScorer(ScriptedGenerator(lambda p, j: ""), tokenizer=r1)
    first = scorer.prompt(QUESTION, STEPS)
    assert first == ("<｜begin▁of▁sentence｜>" + GENPRM_SYSTEM + "<｜User｜>What is 2+3?\n2+3=5"
                     "<analyze>\nLet's analyze the Paragraph 1 step by step: ")
    turn = "<analyze>\nLet's analyze the Paragraph 1 step by step: fine\n</analyze>\n<output>\n**Judgement**: $\\boxed{Yes}$\n</output>\n"
    second = scorer.prompt(QUESTION, STEPS, [turn])
    assert second == (first[: -len("<analyze>\nLet's analyze the Paragraph 1 step by step: ")] + "<｜Assistant｜>" + turn
                      + "<｜end▁of▁sentence｜><｜User｜>The answer is 5.<analyze>\nLet's analyze the Paragraph 2 step by step: ")
    ids = r1(first, add_special_tokens=False)["input_ids"]
    assert ids[0] == 151646 and ids.count(151644) == 1 and 151645 not in ids


def test_genprm_verdict_parsing() -> None:
    assert genprm_label("{Yes}$\n</output>\n") == 1.0
    assert genprm_label("{no}$\n</output>\n") == 0.0  # the reference matches case-insensitively
    assert genprm_label("I am not sure.") is None


def test_genprm_text_path_end_to_end(r1) -> None:
    def reply(prompt: str, j: int) -> str:
        if prompt.endswith("$\\boxed"):
            return "{No}$\n</output>\n" if "Paragraph 2" in prompt else "{Yes}$\n</output>\n"
        return "the step is checked.\n</analyze>\n"

    gen = ScriptedGenerator(reply, tokenizer=r1)
    verdicts = GenPRMScorer(gen).verify([(QUESTION, STEPS), ("What is 1?", ["1"])])
    assert [v.scores for v in verdicts] == [[1.0, 0.0], [1.0]]
    assert gen.calls[0]["stop"] == ["</analyze>\n"] and gen.calls[0]["temperature"] == 0.6
    assert verdicts[0].texts[0] == ("<analyze>\nLet's analyze the Paragraph 1 step by step: the step is checked.\n"
                                    "</analyze>\n<output>\n**Judgement**: $\\boxed{Yes}$\n</output>\n")
    step2 = [c for c in gen.calls if any("Paragraph 2 step by step: " in p for p in c["prompts"])][0]
    assert verdicts[0].texts[0] in step2["prompts"][0]  # later steps see the earlier verification
    assert len(step2["prompts"]) == 1  # the 1-step item is done after step 1


def test_genprm_decision_model_reads_p_yes(r1, tiny_qwen) -> None:
    """reward = P(Yes) / (P(Yes) + P(No)) of the token after '$\\boxed{' (get_reward_score), k samples averaged."""
    gen = ScriptedGenerator(lambda p, j: f"sample {j}.\n</analyze>\n", tokenizer=r1)
    scorer = GenPRMScorer(gen, k=2, decision_model=DecisionModel(tiny_qwen, r1))
    verdict = scorer.verify([(QUESTION, STEPS[:1])])[0]
    prompt = scorer.prompt(QUESTION, STEPS[:1])
    expected = [_next_token_p(tiny_qwen, r1, prompt + f"sample {j}.\n</analyze>\n<output>\n**Judgement**: $\\boxed{{",
                              "Yes", "No") for j in range(2)]
    assert verdict.scores == pytest.approx([sum(expected) / 2], abs=1e-5)
    assert expected[0] != pytest.approx(expected[1], abs=1e-6)


def test_registry_names_and_errors(r1) -> None:
    from prmkit.models import load_scorer

    gen = ScriptedGenerator(lambda p, j: "\\boxed{correct}", tokenizer=r1)
    assert load_scorer("thinkprm", generator=gen).score([(QUESTION, STEPS[:1])]) == [[1.0]]
    assert isinstance(load_scorer("genprm", generator=gen), GenPRMScorer)
    with pytest.raises(ValueError, match="chat template"):
        GenPRMScorer(ScriptedGenerator(lambda p, j: ""))
    with pytest.raises(ValueError, match="mode"):
        ThinkPRMScorer(gen, mode="both")
