"""The transformers Generator backend on tiny random-weight GPT-2 models (no downloads)."""

import pytest

from prmkit.generation import Generator, load_generator
from prmkit.generation.transformers import TransformersGenerator
from prmkit.train.tokenizer import build_char_tokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

PROMPTS = ["Q 1 +2\n", "Q 12 +5 *3 -9 /6\n", "Q 7 *2\n"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tokenizer():
    return build_char_tokenizer()


def random_model(tokenizer, seed=0):
    torch.manual_seed(seed)
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return transformers.GPT2LMHeadModel(config).eval()


def constant_model(tokenizer, token: str):
    """A GPT-2 that emits ``token`` at every position: ln_f outputs a constant vector and the
    (untied) LM head gives only ``token`` a non-zero logit."""
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[tokenizer.convert_tokens_to_ids(token)] = 10.0
    return model


def test_registered_and_implements_protocol(tokenizer):
    gen = load_generator("transformers", model=random_model(tokenizer), tokenizer=tokenizer, progress=False)
    assert isinstance(gen, Generator) and isinstance(gen, TransformersGenerator)


def test_n_samples_per_prompt_in_input_order_with_left_padding(tokenizer):
    gen = TransformersGenerator(random_model(tokenizer), tokenizer, batch_size=4, progress=False)
    batched = gen.complete(PROMPTS, n=2, max_new_tokens=12, temperature=0.0)
    assert [len(samples) for samples in batched] == [2, 2, 2]
    # greedy: each prompt alone gives what it got inside a left-padded mixed-length batch
    for prompt, samples in zip(PROMPTS, batched):
        alone = gen.complete([prompt], n=1, max_new_tokens=12, temperature=0.0)[0][0]
        assert samples[0] == samples[1] == alone


def test_seed_reproducible_and_global_rng_untouched(tokenizer):
    gen = TransformersGenerator(random_model(tokenizer), tokenizer, batch_size=16, progress=False)
    state = torch.random.get_rng_state()
    first = gen.complete(PROMPTS, n=3, max_new_tokens=10, temperature=1.0, seed=7)
    assert torch.equal(state, torch.random.get_rng_state())
    assert gen.complete(PROMPTS, n=3, max_new_tokens=10, temperature=1.0, seed=7) == first
    other = gen.complete(PROMPTS, n=3, max_new_tokens=10, temperature=1.0, seed=8)
    assert other != first
    texts = {c.text for samples in first for c in samples}
    assert len(texts) > 3  # samples of one prompt differ from each other


@pytest.mark.parametrize(
    ("token", "stop", "text", "num_tokens", "reason"),
    [
        ("[EOS]", ["\n"], "", 1, "eos"),
        ("\n", ["\n"], "\n", 1, "stop"),
        ("7", ["77"], "77", 2, "stop"),  # a stop string spanning two tokens
        ("7", ["\n"], "77777", 5, "length"),
        ("7", None, "77777", 5, "length"),
    ],
)
def test_completion_text_token_count_and_finish_reason(tokenizer, token, stop, text, num_tokens, reason):
    gen = TransformersGenerator(constant_model(tokenizer, token), tokenizer, progress=False)
    out = gen.complete(PROMPTS, n=2, stop=stop, max_new_tokens=5, temperature=1.0, seed=0)
    for samples in out:
        for completion in samples:
            assert (completion.text, completion.num_tokens, completion.finish_reason) == (text, num_tokens, reason)


def test_stop_cuts_text_after_first_stop_and_counts_tokens(tokenizer):
    gen = TransformersGenerator(random_model(tokenizer, seed=1), tokenizer, batch_size=32, progress=False)
    digits = list("0123456789")
    out = gen.complete(PROMPTS, n=8, stop=digits, max_new_tokens=20, temperature=1.0, seed=0)
    reasons = set()
    for samples in out:
        for c in samples:
            reasons.add(c.finish_reason)
            assert 1 <= c.num_tokens <= 20
            if c.finish_reason == "stop":
                assert c.text[-1] in digits and not any(d in c.text[:-1] for d in digits)
            elif c.finish_reason == "length":
                assert c.num_tokens == 20 and not any(d in c.text for d in digits)
    assert "stop" in reasons


def test_bad_arguments_are_named(tokenizer):
    gen = TransformersGenerator(random_model(tokenizer), tokenizer, progress=False)
    with pytest.raises(ValueError, match="n >= 1"):
        gen.complete(PROMPTS, n=0)
    with pytest.raises(ValueError, match="batch_size"):
        TransformersGenerator(random_model(tokenizer), tokenizer, batch_size=0)


def test_loads_a_saved_checkpoint_directory(tokenizer, tmp_path):
    random_model(tokenizer).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    gen = load_generator("transformers", model=str(tmp_path), progress=False)
    [[completion]] = gen.complete(["Q 1 +2\n"], max_new_tokens=4, temperature=0.0)
    assert completion.num_tokens == 4 and completion.finish_reason == "length"
