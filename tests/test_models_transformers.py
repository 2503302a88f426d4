"""The transformers backend against plain, unbatched re-implementations of each model card's recipe.

Every reference below runs the full model on one item at a time, exactly as the model card / official
script does (full LM head, full classifier, per-step conversations for RLHFlow), and prmkit must match
it to 1e-5 while batching several items of different lengths.
"""

from __future__ import annotations

import pytest

from prmkit.models import load_scorer
from tests._data import needs_shared, shared
from tests._tiny_models import (
    FAMILY_TOKENIZER,
    QWEN_VOCAB,
    TOKENIZERS,
    build_causal_lm,
    build_math_shepherd,
    build_orm,
    build_qwen_math_prm,
    build_rlhflow,
    build_skywork,
    build_token_cls,
    have_tokenizers,
    skip_reason,
    tokenizer,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.skipif(
    not have_tokenizers(), reason="shared tokenizer files not present"
)

ITEMS = [
    (
        "Janet has 3 apples and buys 2 more. How many?",
        ["Step 1: 3+2=5", "Step 2: The answer is 5"],
    ),
    (
        "What is 12*3?",
        [
            "12*3 = 36.",
            "Check: 36/3 = 12, so it holds.",
            "So 12*3 is 36.",
            "The answer is 36.",
        ],
    ),
    ("1+1?", ["2"]),
    (
        "A train goes 60 km/h for 2.5 hours; how far does it go in total, in kilometres?",
        ["60*2.5 = 150", "150 km"],
    ),
]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    built: dict[str, str] = {}

    def get(kind: str) -> str:
        reason = skip_reason(kind)
        if reason:
            pytest.skip(reason)
        if kind not in built:
            builder = {
                "math-shepherd": build_math_shepherd,
                "qwen2.5-math-prm": build_qwen_math_prm,
                "rlhflow": build_rlhflow,
                "skywork": build_skywork,
                "token-cls": build_token_cls,
                "orm": build_orm,
                "orm2": lambda out: build_orm(out, num_labels=2),
                "causal": build_causal_lm,
            }[kind]
            built[kind] = builder(tmp_path_factory.mktemp(kind))
        return built[kind]

    return get


def _load(family: str, path: str, **options):
    """load_scorer with the process-wide cached tokenizer (loading the Qwen BPE takes seconds)."""
    return load_scorer(
        family, path=path, tokenizer=tokenizer(FAMILY_TOKENIZER[family]), **options
    )


def _assert_close(got, want, tol=1e-5):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert len(g) == len(w)
        for a, b in zip(g, w):
            if b is None:
                assert a is None
            else:
                assert a == pytest.approx(b, abs=tol)


def _spread(scores):
    flat = [s for row in scores for s in row if s is not None]
    return max(flat) - min(flat)


# ---------------------------------------------------------------- references (model-card recipes)
def _ref_math_shepherd(path, items):
    tok = tokenizer(FAMILY_TOKENIZER["math-shepherd"])
    model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    candidate_tokens = tok.encode("+ -")[1:]
    step_tag_id = tok.encode("ки")[-1]
    out = []
    for question, steps in items:
        output = "\n".join(f"{s} ки" for s in steps)
        input_id = torch.tensor([tok.encode(f"{question} {output}")])
        with torch.no_grad():
            logits = model(input_id).logits[:, :, candidate_tokens]
            scores = logits.softmax(dim=-1)[:, :, 0]
            out.append(scores[input_id == step_tag_id].tolist())
    return out


def _ref_qwen(path, items):
    from prmkit.models.heads import Qwen2ForProcessRewardModel

    tok = tokenizer(FAMILY_TOKENIZER["qwen2.5-math-prm"])
    model = Qwen2ForProcessRewardModel.from_pretrained(path).eval()
    out = []
    for question, steps in items:
        messages = [
            {
                "role": "system",
                "content": "Please reason step by step, and put your final answer within \\boxed{}.",
            },
            {"role": "user", "content": question},
            {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"},
        ]
        text = tok.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=False
        )
        input_ids = torch.tensor([tok.encode(text)])
        with torch.no_grad():
            logits = model(input_ids=input_ids).logits
        token_masks = input_ids == tok.encode("<extra_0>")[0]
        probabilities = logits.softmax(dim=-1) * token_masks.unsqueeze(
            -1
        )  # make_step_rewards
        sample = probabilities[0]
        out.append(sample[sample != 0].view(-1, 2)[:, 1].tolist())
    return out


def _ref_rlhflow(path, items):
    tok = tokenizer(FAMILY_TOKENIZER["rlhflow"])
    model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    candidate_tokens = [tok.encode("+")[-1], tok.encode("-")[-1]]
    out = []
    for question, steps in items:
        conversation, scores = [], []
        for k, step in enumerate(
            steps
        ):  # one forward pass per step, as in RLHFlow math-rm
            conversation.append(
                {"role": "user", "content": question + " " + step if k == 0 else step}
            )
            conversation.append({"role": "assistant", "content": "+"})
            rendered = tok.apply_chat_template(conversation, tokenize=True)
            ids = rendered["input_ids"] if hasattr(rendered, "keys") else rendered
            with torch.no_grad():
                logits = model(torch.tensor([ids])).logits[:, -3, candidate_tokens]
            scores.append(logits.softmax(dim=-1)[:, 0].item())
        out.append(scores)
    return out


def _ref_skywork(path, items):
    from safetensors.torch import load_file

    tok = tokenizer(FAMILY_TOKENIZER["skywork"])
    model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    tensors = load_file(f"{path}/model.safetensors")
    w, b = tensors["v_head.summary.weight"], tensors["v_head.summary.bias"]
    out = []
    for problem, steps in items:
        ids = tok.encode(tok.bos_token + problem + "\n")
        flags = [0] * len(ids)
        for step in (
            steps
        ):  # prepare_input: each step + the "\n" step token, flag on the last id
            step_ids = tok.encode(step) + [tok.encode("\n")[-1]]
            ids += step_ids
            flags += [0] * (len(step_ids) - 1) + [1]
        with torch.no_grad():
            hidden = model(
                torch.tensor([ids]), output_hidden_states=True
            ).hidden_states[-1][0]
        rewards = torch.sigmoid(hidden @ w.T + b)[:, 0]
        out.append([rewards[i].item() for i, f in enumerate(flags) if f])
    return out


def _ref_token_cls(path, items, separator="\n"):
    from prmkit.models.formats.token_cls import encode_token_cls

    tok = tokenizer(FAMILY_TOKENIZER["token-cls"])
    model = transformers.AutoModelForTokenClassification.from_pretrained(path).eval()
    out = []
    for question, steps in items:
        item = encode_token_cls(tok, question, steps, separator)
        with torch.no_grad():
            logits = model(torch.tensor([item.input_ids])).logits[0]
        out.append(logits.softmax(-1)[item.step_positions, 1].tolist())
    return out


def _ref_orm(path, items):
    from prmkit.models.formats.token_cls import encode_token_cls

    tok = tokenizer(FAMILY_TOKENIZER["orm"])
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path).eval()
    out = []
    for question, steps in items:
        ids = encode_token_cls(tok, question, steps).input_ids
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        value = (
            logits[0].sigmoid().item()
            if logits.numel() == 1
            else logits.softmax(-1)[1].item()
        )
        out.append([None] * (len(steps) - 1) + [value])
    return out


# ---------------------------------------------------------------- golden comparisons
@pytest.mark.parametrize(
    "family, reference",
    [
        ("math-shepherd", _ref_math_shepherd),
        ("qwen2.5-math-prm", _ref_qwen),
        ("rlhflow", _ref_rlhflow),
        ("skywork", _ref_skywork),
        ("token-cls", _ref_token_cls),
        ("orm", _ref_orm),
    ],
)
def test_scores_equal_model_card_reference(ckpt, family, reference):
    path = ckpt(family)
    scorer = _load(family, path, max_batch_tokens=160)  # small budget: several batches
    got = scorer.score(ITEMS)
    want = reference(path, ITEMS)
    _assert_close(got, want)
    assert (
        _spread(want) > 0.05 or family == "orm"
    )  # random weights spread the scores: not a vacuous match


@needs_shared("processbench", "gsm8k.json")
def test_math_shepherd_scores_the_processbench_steps_that_end_in_whitespace(ckpt):
    """The 9 ProcessBench GSM8K items with a step like "step!  " (whose " ки" would tokenize as '▁▁', 'ки'
    pieces without the tag token) get one score per step, equal to the model-card recipe on the
    stripped steps, as OpenR and RLHFlow's evaluation scripts feed them; scored in one call with the
    clean items, so none of them costs the batch."""
    from prmkit.io.processbench import read_processbench

    records = read_processbench(shared("processbench", "gsm8k.json"))
    ragged = [r for r in records if any(step != step.rstrip() for step in r.solution.steps)]
    assert len(ragged) == 9
    items = [(r.problem.question, r.solution.steps) for r in ragged + records[:3]]
    path = ckpt("math-shepherd")
    got = _load("math-shepherd", path).score(items)
    assert [len(row) for row in got] == [len(steps) for _, steps in items]
    _assert_close(got, _ref_math_shepherd(path, [(q, [step.strip() for step in steps]) for q, steps in items]))


def test_orm_two_labels_uses_softmax(ckpt):
    path = ckpt("orm2")
    _assert_close(
        load_scorer("orm", path=path).score(ITEMS), _ref_orm(path, ITEMS)
    )  # tokenizer from path


def test_token_cls_reads_checkpoint_separator(ckpt, tmp_path):
    path = build_token_cls(tmp_path / "sep", step_separator="\n\n")
    got = _load("token-cls", path).score(ITEMS[:2])
    _assert_close(got, _ref_token_cls(path, ITEMS[:2], separator="\n\n"))
    default = _ref_token_cls(path, ITEMS[:2], separator="\n")
    assert any(abs(a - b) > 1e-4 for g, d in zip(got, default) for a, b in zip(g, d))


def test_results_in_input_order_and_empty_items(ckpt):
    scorer = _load("qwen2.5-math-prm", ckpt("qwen2.5-math-prm"), max_batch_tokens=64)
    forward = scorer.score(ITEMS)
    backward = scorer.score([("Q", [])] + ITEMS[::-1])
    assert backward[0] == []
    _assert_close(backward[1:], forward[::-1])
    assert scorer.score([]) == []


# ---------------------------------------------------------------- load-time errors
def test_token_cls_on_causal_lm_checkpoint_is_rejected(ckpt):
    with pytest.raises(ValueError, match="no trained token_cls head"):
        _load("token-cls", ckpt("causal"))


def test_qwen_prm_on_causal_lm_checkpoint_is_rejected(ckpt):
    with pytest.raises(ValueError, match="no 2-class PRM head"):
        _load("qwen2.5-math-prm", ckpt("causal"))


def test_skywork_without_value_head_is_rejected(ckpt):
    with pytest.raises(ValueError, match="no value head"):
        _load("skywork", ckpt("causal"))


def test_qwen_prm_with_stock_tokenizer_is_rejected(ckpt, tmp_path):
    import shutil

    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        shutil.copy(TOKENIZERS / "qwen2.5" / name, tmp_path / name)
    with pytest.raises(ValueError, match="<extra_0>"):
        load_scorer(
            "qwen2.5-math-prm", path=ckpt("qwen2.5-math-prm"), tokenizer=str(tmp_path)
        )


def test_rlhflow_tokenizer_without_chat_template_is_rejected(ckpt):
    import copy

    path = ckpt("rlhflow")  # skips first when the llama3 tokenizer cannot be built here
    tok = copy.deepcopy(tokenizer("llama3"))
    tok.chat_template = None
    with pytest.raises(ValueError, match="chat template"):
        load_scorer("rlhflow", path=path, tokenizer=tok)


def test_bad_options_are_rejected(ckpt):
    with pytest.raises(ValueError, match="truncation"):
        _load("token-cls", ckpt("token-cls"), truncation="cut")
    with pytest.raises(ValueError, match="dtype"):
        _load("token-cls", ckpt("token-cls"), dtype="float8")


# ---------------------------------------------------------------- truncation
def test_truncation_error_names_item_and_length(ckpt):
    scorer = _load("token-cls", ckpt("token-cls"), max_length=20)
    with pytest.raises(
        ValueError, match=r"item 1 is \d+ tokens long, over max_length=20"
    ):
        scorer.score([ITEMS[2], ITEMS[1]])


def test_keep_last_steps_drops_oldest_and_matches_rescoring(ckpt):
    path = ckpt("token-cls")
    question, steps = ITEMS[1]
    full = _load("token-cls", path).encode(question, steps)
    scorer = _load(
        "token-cls",
        path,
        max_length=len(full.input_ids) - 1,
        truncation="keep_last_steps",
    )
    got = scorer.score([(question, steps)])[0]
    assert got[0] is None and all(v is not None for v in got[1:])
    _assert_close([got[1:]], _ref_token_cls(path, [(question, steps[1:])]))
    with pytest.raises(ValueError, match="even its last step alone"):
        _load("token-cls", path, max_length=5, truncation="keep_last_steps").score(
            [ITEMS[0]]
        )


def test_progress_bar_path_runs_on_many_items(ckpt):
    scorer = _load("token-cls", ckpt("token-cls"), max_batch_tokens=4096)
    items = [ITEMS[i % len(ITEMS)] for i in range(70)]  # > 64 items: the bar is shown
    got = scorer.score(items)
    _assert_close(got[64:68], got[:4])  # same items, different batches
    assert [len(r) for r in got] == [len(s) for _, s in items]


# ---------------------------------------------------------------- incremental prefix scoring
def _beam_rounds(rounds: int, width: int, seed: int = 0):
    """Beam-search-like workload: each round, every beam is extended by a new step (some beams fork)."""
    import random

    rng = random.Random(seed)
    words = [
        "so",
        "the",
        "total",
        "is",
        "seven",
        "plus",
        "three",
        "times",
        "two",
        "equals",
        "we",
        "get",
        "hence",
        "answer",
    ]
    beams = [(f"Problem {b}: compute 3*7+2 and explain.", []) for b in range(width)]
    for _ in range(rounds):
        parents = [
            beams[rng.randrange(len(beams))] if rng.random() < 0.3 else beam
            for beam in beams
        ]
        beams = [
            (q, s + [" ".join(rng.choice(words) for _ in range(rng.randint(3, 14)))])
            for q, s in parents
        ]
        yield beams


@pytest.mark.parametrize("family", ["qwen2.5-math-prm", "math-shepherd", "skywork"])
def test_prefix_cache_equals_full_rescoring(ckpt, family):
    path = ckpt(family)
    full = _load(family, path)
    cached = _load(family, path, prefix_cache=True, max_batch_tokens=256)
    for beams in _beam_rounds(rounds=4, width=5):
        _assert_close(cached.score(beams), full.score(beams), tol=1e-4)
    assert cached.tokens_run < 0.6 * full.tokens_run  # only new tokens were run
    assert cached._cache.hits > 0


def test_prefix_cache_survives_eviction_and_repeats(ckpt):
    path = ckpt("token-cls")
    full = _load("token-cls", path)
    cached = _load(
        "token-cls", path, prefix_cache=True, prefix_cache_tokens=150
    )  # evicts constantly
    for beams in _beam_rounds(rounds=3, width=4, seed=1):
        _assert_close(cached.score(beams), full.score(beams), tol=1e-4)
        _assert_close(
            cached.score(beams[:2]), full.score(beams[:2]), tol=1e-4
        )  # identical items again
    assert cached._cache._stored_tokens <= 150 or len(cached._cache) == 1


def test_prefix_cache_rejects_bidirectional_body(tmp_path):
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=QWEN_VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=512, num_labels=2)  # fmt: skip
    path = str(tmp_path / "bert")
    BertForTokenClassification(config).save_pretrained(path)
    scorer = load_scorer(
        "token-cls", path=path, tokenizer=tokenizer("qwen")
    )  # fine without the cache
    assert len(scorer.score(ITEMS[:1])[0]) == 2
    with pytest.raises(ValueError, match="needs a causal"):
        load_scorer(
            "token-cls", path=path, tokenizer=tokenizer("qwen"), prefix_cache=True
        )
