"""Tiny random-weight causal LMs and rule-labelled records shared by the trainer tests.

Used by ``tests/test_train_{prm,orm,implicit}.py`` (through the ``qwen_base`` / ``gpt2_base``
fixtures in ``tests/conftest.py``): 2-layer Qwen2 / GPT-2 bodies built from a config with random
weights, a character-level tokenizer written to disk, and solutions whose step labels follow a
visible rule a tiny model can learn. Nothing is downloaded; torch/transformers are imported inside
the functions, so importing this module is cheap.
"""

from __future__ import annotations

import random
from pathlib import Path

from prmkit.io._jsonl import write_jsonl
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

__all__ = ["ARITH_POLICY", "CHARS", "make_arith_base", "make_base", "make_tokenizer", "rule_records", "write_records"]

CHARS = list("0123456789+-*=abcdxyzQAns \n")


def make_tokenizer(directory: Path):
    """A character-level fast tokenizer (BPE without merges) with <pad>, <s>, </s>, <unk>."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
    for char in CHARS:
        vocab[char] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    tokenizer.save_pretrained(directory)
    return tokenizer


def make_base(directory: Path, arch: str = "qwen2", seed: int = 0) -> Path:
    """Save a 2-layer random causal LM (``qwen2`` or ``gpt2``) plus the char tokenizer in ``directory``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    tokenizer = make_tokenizer(directory)
    vocab = len(tokenizer)
    if arch == "qwen2":
        config = Qwen2Config(
            vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        )
        model = Qwen2ForCausalLM(config)
    else:
        config = GPT2Config(vocab_size=vocab, n_embd=64, n_layer=2, n_head=4, n_positions=256,
                            pad_token_id=0, bos_token_id=1, eos_token_id=2)
        model = GPT2LMHeadModel(config)
    model.save_pretrained(directory)
    return directory


def rule_records(n: int, seed: int, n_problems: int | None = None) -> list[LabelledSolution]:
    """Solutions whose step k is wrong iff an 'x' appeared in steps 0..k (a visible, learnable rule).

    Labels after the first error are 0 (ProcessBench semantics); about half the solutions are correct.
    """
    rng = random.Random(seed)
    n_problems = n_problems or n
    records = []
    for i in range(n):
        n_steps = rng.randint(2, 5)
        error_at = rng.randrange(n_steps) if rng.random() < 0.5 else -1
        steps = []
        for k in range(n_steps):
            chars = [rng.choice("abcdyz0123") for _ in range(rng.randint(3, 6))]
            if k == error_at:
                chars[rng.randrange(len(chars))] = "x"
            steps.append("".join(chars))
        labels = [0.0 if error_at != -1 and k >= error_at else 1.0 for k in range(n_steps)]
        pid = f"p{i % n_problems}"
        records.append(
            LabelledSolution(
                problem=Problem(id=pid, question=f"Q {i % n_problems}"),
                solution=Solution(problem_id=pid, steps=steps, correct=error_at == -1),
                labels=StepLabels(labels=labels, first_error=error_at, source="exact"),
            )
        )
    return records


def write_records(path: Path, records: list[LabelledSolution]) -> Path:
    write_jsonl(path, (r.to_dict() for r in records))
    return path


ARITH_POLICY = Path(__file__).resolve().parents[1] / "src" / "prmkit" / "assets" / "arith_policy"


def make_arith_base(directory: Path, seed: int = 0) -> Path:
    """Save a 2-layer random GPT-2 (untied LM head) with the shipped arith tokenizer in ``directory``.

    The arith tokenizer holds every printable ASCII character (so "?" exists, unlike :data:`CHARS`):
    the base of the verdict-PRM tests.
    """
    import shutil

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from prmkit.train._data import load_tokenizer

    directory.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(ARITH_POLICY / name, directory / name)
    tokenizer = load_tokenizer(directory)
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=128,
                        tie_word_embeddings=False, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    GPT2LMHeadModel(config).save_pretrained(directory)
    return directory
