"""Tiny random-weight PRMs with the REAL tokenizers of the families (shared by tests and benchmarks).

Tokenizers come from ``../shared/data/tokenizers`` beside the checkout (``tests._data``) (see each PROVENANCE.md); nothing is downloaded:

* :func:`mistral_tokenizer_dir` -- Mistral-7B v0.1 SentencePiece ``tokenizer.model`` (math-shepherd).
* :func:`qwen_prm_tokenizer_dir` -- Qwen2 ``vocab.json`` + ``merges.txt`` with a *derived*
  ``tokenizer_config.json`` listing the 22 Qwen2.5 added tokens, ``<extra_0>`` at 151651 (the
  Qwen2.5-Math-PRM step token); ``bos_token`` optional (the Skywork format needs one).
* :func:`llama3_tokenizer_dir` -- Llama 3 tiktoken ``tokenizer.model`` converted with transformers'
  ``TikTokenConverter`` + the Llama-3.1-Instruct chat template (RLHFlow).

Model builders save a checkpoint directory (weights + tokenizer) that ``load_scorer(path=...)`` reads.
Bodies are 2-layer, hidden 32 by default (the 151k-row embedding dominates the size). Weights use
``initializer_range=0.3`` so that step scores spread over (0, 1) instead of sitting at 0.5, which would
make golden comparisons weak.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tests._data import SHARED_DATA

TOKENIZERS = Path(os.environ.get("PRMKIT_TOKENIZERS", SHARED_DATA / "tokenizers"))
QWEN_VOCAB = 151936  # Qwen2.5 0.5B-3B embedding rows; covers ids 0..151664
MISTRAL_VOCAB = 32000
LLAMA3_VOCAB = 128256

_QWEN25_ADDED = [  # ids 151643.. (PROVENANCE.md of qwen2.5), with 151651 carrying "<extra_0>" as in the PRM
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<extra_0>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]
_LLAMA3_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

__all__ = [
    "FAMILY_TOKENIZER",
    "TOKENIZERS",
    "build_causal_lm",
    "build_math_shepherd",
    "build_orm",
    "build_qwen_math_prm",
    "build_rlhflow",
    "build_skywork",
    "build_token_cls",
    "have_tokenizers",
    "llama3_tokenizer_dir",
    "mistral_tokenizer_dir",
    "qwen_prm_tokenizer_dir",
    "skip_reason",
    "tiny_config",
    "tokenizer",
]

FAMILY_TOKENIZER = {  # which shared tokenizer each family's tiny checkpoint carries
    "math-shepherd": "mistral",
    "qwen2.5-math-prm": "qwen",
    "rlhflow": "llama3",
    "skywork": "qwen-bos",
    "token-cls": "qwen",
    "orm": "qwen",
    "implicit": "qwen",
}


def have_tokenizers() -> bool:
    """Whether the shared tokenizer files exist (tests skip with a reason otherwise).

    Under CI (``CI`` set) this is always True, so missing files fail the golden tests loudly
    instead of silently skipping them.
    """
    return (TOKENIZERS / "qwen2.5" / "vocab.json").exists() or bool(os.environ.get("CI"))


_CONVERTER_DEPS = {  # python modules transformers needs to convert each raw tokenizer file
    "mistral": ("sentencepiece", "google.protobuf"),
    "llama3": ("tiktoken",),
}


def skip_reason(kind: str) -> str | None:
    """Why tokenizer ``kind`` (or a family name) cannot be built here, or None when it can."""
    import importlib.util

    kind = FAMILY_TOKENIZER.get(kind, kind)
    if not have_tokenizers():
        return f"shared tokenizer files not found under {TOKENIZERS}"
    for module in _CONVERTER_DEPS.get(kind, ()):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"the {kind} tokenizer needs `{module.split('.')[0]}` (pip install prmkit[dev])"
    return None


@functools.cache
def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="prmkit-tiny-tok-"))


@functools.cache
def mistral_tokenizer_dir() -> str:
    """A directory loadable by ``AutoTokenizer`` holding the Mistral-7B v0.1 tokenizer (BOS added)."""
    out = _scratch() / "mistral"
    out.mkdir()
    shutil.copy(TOKENIZERS / "mistral" / "tokenizer.model", out / "tokenizer.model")
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config))
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(out)).save_pretrained(
        str(out)
    )  # store tokenizer.json: fast reloads
    return str(out)


@functools.cache
def qwen_prm_tokenizer_dir(bos_token: str | None = None) -> str:
    """Qwen2.5(-Math-PRM) tokenizer: real vocab/merges, derived added tokens, chat template from the file."""
    out = _scratch() / f"qwen-{'bos' if bos_token else 'nobos'}"
    out.mkdir()
    src = TOKENIZERS / "qwen2.5"
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(src / name, out / name)
    shipped = json.loads((src / "tokenizer_config.json").read_text())
    decoder = {
        str(151643 + i): {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": special,
        }
        for i, (content, special) in enumerate(_QWEN25_ADDED)
    }
    config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "added_tokens_decoder": decoder,
        "bos_token": bos_token,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "errors": "replace",
        "add_prefix_space": False,
        "model_max_length": 32768,
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": False,
        "chat_template": (src / "chat_template_qwen2.5_instruct.jinja").read_text()
        if (src / "chat_template_qwen2.5_instruct.jinja").exists()
        else shipped["chat_template"],
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config))
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.encode("<extra_0>", add_special_tokens=False) == [151651], (
        "derived Qwen PRM tokenizer is wrong"
    )
    tok.save_pretrained(str(out))
    return str(out)


@functools.cache
def llama3_tokenizer_dir() -> str:
    """Llama 3 tokenizer from the tiktoken file (BOS 128000 added) with the Llama-3.1-Instruct template."""
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    names = [
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
        "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
        "<|eot_id|>", "<|python_tag|>", "<|image|>",
    ] + [f"<|reserved_special_token_{i}|>" for i in range(2, 246)]  # fmt: skip
    src = TOKENIZERS / "llama3"
    converted = TikTokenConverter(
        vocab_file=str(src / "tokenizer.model"),
        pattern=_LLAMA3_PATTERN,
        extra_special_tokens=names,
    ).converted()
    converted.post_processor = TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", 128000)],
    )  # fmt: skip
    tok = PreTrainedTokenizerFast(
        tokenizer_object=converted,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        chat_template=(src / "chat_template_llama3.1_instruct.jinja").read_text(),
    )
    out = _scratch() / "llama3"
    tok.save_pretrained(str(out))
    return str(out)


@functools.cache
def tokenizer(kind: str) -> Any:
    """A loaded tokenizer (``"mistral"``, ``"qwen"``, ``"qwen-bos"``, ``"llama3"``), loaded once per process.

    Loading the 151k-token Qwen BPE takes seconds on a busy machine; tests pass these objects as
    ``load_scorer(..., tokenizer=...)`` instead of reloading from every checkpoint directory.
    """
    from transformers import AutoTokenizer

    directory = {
        "mistral": mistral_tokenizer_dir,
        "qwen": qwen_prm_tokenizer_dir,
        "qwen-bos": lambda: qwen_prm_tokenizer_dir("<|endoftext|>"),
        "llama3": llama3_tokenizer_dir,
    }[kind]()
    return AutoTokenizer.from_pretrained(directory)


def tiny_config(
    arch: str, vocab_size: int, hidden: int = 32, layers: int = 2, **extra: Any
) -> Any:
    """A small config of a real architecture (``"qwen2"``, ``"mistral"``, ``"llama"``)."""
    from transformers import LlamaConfig, MistralConfig, Qwen2Config

    cls = {"qwen2": Qwen2Config, "mistral": MistralConfig, "llama": LlamaConfig}[arch]
    return cls(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=extra.pop("max_position_embeddings", 4096),
        initializer_range=extra.pop("initializer_range", 0.3),
        tie_word_embeddings=False,
        **extra,
    )


def _save(model: Any, tokenizer_dir: str, out: str | Path) -> str:
    import torch

    out = str(out)
    with torch.no_grad():
        model.save_pretrained(out)
    _copy_tokenizer(tokenizer_dir, out)
    return out


def _copy_tokenizer(tokenizer_dir: str, out: str) -> None:
    for file in Path(
        tokenizer_dir
    ).iterdir():  # the saved tokenizer files (no weights live there)
        shutil.copy(file, Path(out) / file.name)


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def build_math_shepherd(out: str | Path, seed: int = 0, **config: Any) -> str:
    """Tiny ``MistralForCausalLM`` + the Mistral tokenizer (math-shepherd-mistral-7b-prm layout)."""
    from transformers import MistralForCausalLM

    _seed(seed)
    return _save(
        MistralForCausalLM(tiny_config("mistral", MISTRAL_VOCAB, **config)),
        mistral_tokenizer_dir(),
        out,
    )


def build_rlhflow(out: str | Path, seed: int = 0, **config: Any) -> str:
    """Tiny ``LlamaForCausalLM`` + the Llama 3 tokenizer and 3.1 chat template (RLHFlow PRMs)."""
    from transformers import LlamaForCausalLM

    _seed(seed)
    return _save(
        LlamaForCausalLM(tiny_config("llama", LLAMA3_VOCAB, **config)),
        llama3_tokenizer_dir(),
        out,
    )


def build_qwen_math_prm(out: str | Path, seed: int = 0, **config: Any) -> str:
    """Tiny :class:`prmkit.models.heads.Qwen2ForProcessRewardModel` + the derived Qwen PRM tokenizer."""
    from prmkit.models.heads import Qwen2ForProcessRewardModel

    _seed(seed)
    cfg = tiny_config("qwen2", QWEN_VOCAB, **config)
    cfg.architectures = ["Qwen2ForProcessRewardModel"]
    return _save(Qwen2ForProcessRewardModel(cfg), qwen_prm_tokenizer_dir(), out)


def build_causal_lm(
    out: str | Path, seed: int = 0, arch: str = "qwen2", **config: Any
) -> str:
    """Tiny ``Qwen2ForCausalLM`` + the Qwen tokenizer (implicit PRM policies/references, stand-ins)."""
    from transformers import Qwen2ForCausalLM

    _seed(seed)
    return _save(
        Qwen2ForCausalLM(tiny_config(arch, QWEN_VOCAB, **config)),
        qwen_prm_tokenizer_dir(),
        out,
    )


def build_skywork(
    out: str | Path, seed: int = 0, with_value_head: bool = True, **config: Any
) -> str:
    """Tiny Qwen2 causal LM with a Skywork value head stored as ``v_head.summary.*`` in model.safetensors.

    The tokenizer gets ``bos_token="<|endoftext|>"`` because the Skywork format prepends the BOS string.
    """
    import torch
    from safetensors.torch import load_file, save_file

    path = build_causal_lm(out, seed=seed, **config)
    _copy_tokenizer(qwen_prm_tokenizer_dir("<|endoftext|>"), path)
    if with_value_head:
        file = Path(path) / "model.safetensors"
        tensors = load_file(str(file))
        hidden = tensors["model.embed_tokens.weight"].shape[1]
        gen = torch.Generator().manual_seed(seed + 1)
        tensors["v_head.summary.weight"] = torch.randn(1, hidden, generator=gen)
        tensors["v_head.summary.bias"] = torch.randn(1, generator=gen)
        save_file(tensors, str(file), metadata={"format": "pt"})
    return path


def build_token_cls(
    out: str | Path, seed: int = 0, step_separator: str | None = None, **config: Any
) -> str:
    """Tiny ``Qwen2ForTokenClassification`` with 2 labels (prmkit/TRL-style PRM); optional ``config.step_separator``."""
    from transformers import Qwen2ForTokenClassification

    _seed(seed)
    cfg = tiny_config("qwen2", QWEN_VOCAB, num_labels=2, **config)
    if step_separator is not None:
        cfg.step_separator = step_separator
    return _save(Qwen2ForTokenClassification(cfg), qwen_prm_tokenizer_dir(), out)


def build_orm(
    out: str | Path, seed: int = 0, num_labels: int = 1, **config: Any
) -> str:
    """Tiny ``Qwen2ForSequenceClassification`` (outcome reward model) with 1 or 2 labels."""
    from transformers import Qwen2ForSequenceClassification

    _seed(seed)
    cfg = tiny_config(
        "qwen2", QWEN_VOCAB, num_labels=num_labels, pad_token_id=151643, **config
    )
    return _save(Qwen2ForSequenceClassification(cfg), qwen_prm_tokenizer_dir(), out)
