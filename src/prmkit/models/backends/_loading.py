"""Load a PRM family's model with transformers and build the function that reads its head.

Every family is run the same way: the transformer *body* gives hidden states ``(B, T, H)``, the
hidden states at the step positions are gathered into ``(N, H)``, and the family's *head* maps them to
P(step correct) ``(N,)``. Only the gathered rows go through the head, so e.g. math-shepherd never
computes the 32k-vocabulary LM head at every position. Each loader checks at load time that the
checkpoint has the head and the tokenizer has the tokens the format needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prmkit.models._tokenizer import checkpoint_tokenizer
from prmkit.models.families import FamilySpec, token_cls_spec
from prmkit.models.formats.token_cls import DEFAULT_STEP_SEPARATOR

__all__ = [
    "LoadedPRM",
    "dtype_kwargs",
    "is_causal",
    "load_prm",
    "resolve_batch_tokens",
    "resolve_device",
    "resolve_dtype",
]

HeadFn = Callable[[torch.Tensor], torch.Tensor]

_DTYPES = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


@dataclass
class LoadedPRM:
    """A loaded PRM split into body and head.

    Attributes:
        spec: the family spec actually used (token-cls/orm with the checkpoint's separator bound).
        body: ``body(input_ids=..., attention_mask=...)`` -> output with ``last_hidden_state`` (B, T, H).
        head: ``(N, H)`` hidden states -> ``(N,)`` float32 probabilities.
        tokenizer: the checkpoint's tokenizer (or the one passed in).
        model: the full transformers model (kept for its config and parameters).
        vocab_size: rows of the input embedding (every input id must be below it).
        max_length: the longest input the model takes (``max_position_embeddings``), or None.
        pad_id: id used for padding (masked out, so its value does not matter).
        causal: whether the body is causal (checked numerically at load, see :func:`is_causal`).
    """

    spec: FamilySpec
    body: nn.Module
    head: HeadFn
    tokenizer: Any
    model: nn.Module
    vocab_size: int
    max_length: int | None
    pad_id: int
    causal: bool = False


def resolve_device(device: str | None) -> torch.device:
    """``None`` -> ``cuda`` when available, else ``cpu``."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_batch_tokens(max_batch_tokens: int | None, device: torch.device) -> int:
    """``None`` -> 16384 padded tokens per batch on GPU, 2048 on CPU.

    On CPU big batches do not help: one item's matmuls are already efficient, and a 16k-token batch's
    activations overflow the caches (measured on a 4-layer hidden-256 Qwen2 PRM, 1 thread, ProcessBench
    items: 1024-2048 ran at 0.98-0.99x the padding-free per-item speed, 4096 at 0.93x, 16384 at 0.66x).

    Raises:
        ValueError: a non-positive budget.
    """
    if max_batch_tokens is None:
        return 2048 if device.type == "cpu" else 16384
    if max_batch_tokens <= 0:
        raise ValueError(f"max_batch_tokens must be > 0, got {max_batch_tokens}")
    return max_batch_tokens


def dtype_kwargs(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """``from_pretrained`` keyword for the weights' dtype: ``dtype=`` (transformers >= 4.56) or ``torch_dtype=``."""
    import transformers
    from packaging.version import Version

    new = Version(transformers.__version__) >= Version("4.56")
    return {"dtype": dtype} if new else {"torch_dtype": dtype}


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``None`` -> float32 on CPU, bfloat16 on GPU; strings ``"float32"/"bfloat16"/"float16"``.

    Raises:
        ValueError: an unknown dtype name.
    """
    if dtype is None or dtype == "auto":
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in _DTYPES:
        raise ValueError(
            f"dtype={dtype!r} is not supported; choose one of {', '.join(_DTYPES)} or 'auto'"
        )
    return _DTYPES[dtype]


def is_causal(body: nn.Module, vocab_size: int) -> bool:
    """Whether ``body``'s hidden states ignore later tokens (a decoder), checked on 8 random tokens.

    Causal bodies need no attention mask under right padding (real tokens never see the padding
    after them), which lets SDPA use its fused causal kernel; bidirectional bodies (BERT token
    classifiers) keep the mask and cannot use the prefix cache.
    """
    generator = torch.Generator().manual_seed(0)
    device = next(body.parameters()).device
    ids = torch.randint(0, vocab_size, (1, 8), generator=generator).to(device)
    with torch.inference_mode():
        long = body(input_ids=ids).last_hidden_state[0, :4].float()
        short = body(input_ids=ids[:, :4]).last_hidden_state[0].float()
    return bool(torch.allclose(long, short, atol=1e-3, rtol=1e-2))


def _missing_head(info: dict[str, Any], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(k for k in info.get("missing_keys", ()) if k.startswith(prefixes))


def _local_dir(path: str) -> str:
    if os.path.isdir(path):
        return path
    from huggingface_hub import snapshot_download

    return snapshot_download(path, allow_patterns=["*.json", "*.safetensors"])


def _lm_tokens_head(model: nn.Module, ids: tuple[int, int]) -> HeadFn:
    lm_head = model.get_output_embeddings()
    if lm_head is None:
        raise ValueError(
            f"{type(model).__name__} has no LM head; lm_tokens families need a causal LM checkpoint"
        )
    rows = lm_head.weight.shape[0]
    if max(ids) >= rows:
        raise ValueError(
            f"label token ids {ids} are outside the model's vocabulary of {rows} rows"
        )
    index = torch.tensor(ids, device=lm_head.weight.device)
    weight = lm_head.weight.index_select(
        0, index
    )  # (2, H): only the "+" and "-" rows are needed
    bias = (
        None
        if getattr(lm_head, "bias", None) is None
        else lm_head.bias.index_select(0, index)
    )

    def head(hidden: torch.Tensor) -> torch.Tensor:
        logits = nn.functional.linear(hidden, weight, bias).float()  # (N, 2)
        return logits.softmax(-1)[:, 0]

    return head


def _classifier(model: nn.Module) -> nn.Module:
    for name in ("score", "classifier"):
        module = getattr(model, name, None)
        if isinstance(module, nn.Module):
            return module
    raise ValueError(f"{type(model).__name__} has no `score`/`classifier` head module")


def _label_head(module: nn.Module, num_labels: int) -> HeadFn:
    def head(hidden: torch.Tensor) -> torch.Tensor:
        logits = module(hidden).float()  # (N, num_labels)
        if num_labels == 1:
            return logits[:, 0].sigmoid()
        return logits.softmax(-1)[:, 1]

    return head


def load_prm(
    spec: FamilySpec,
    path: str,
    *,
    tokenizer: Any = None,
    device: torch.device,
    dtype: torch.dtype,
    step_separator: str | None = None,
) -> LoadedPRM:
    """Load ``path`` as a ``spec`` PRM on ``device`` in ``dtype`` and check it fits the family.

    Args:
        spec: the family.
        path: local checkpoint directory or hub id.
        tokenizer: a tokenizer object or path; default: the checkpoint's own.
        device / dtype: where and how to hold the weights.
        step_separator: token-cls/orm only: override ``config.step_separator`` (default "\\n").

    Raises:
        ValueError: the checkpoint lacks the family's head (names the missing weights), has the wrong
            number of labels, or the tokenizer lacks the format's tokens.
    """
    import transformers

    tokenizer = checkpoint_tokenizer(tokenizer, path)
    kwargs: dict[str, Any] = dtype_kwargs(dtype)
    where = f"{spec.name} checkpoint {path}"

    if spec.head == "lm_tokens":
        model = transformers.AutoModelForCausalLM.from_pretrained(path, **kwargs).to(
            device
        )
        if spec.check_tokenizer is not None:
            spec.check_tokenizer(tokenizer)
        assert spec.label_token_ids is not None
        head = _lm_tokens_head(model, spec.label_token_ids(tokenizer))
        body = getattr(model, model.base_model_prefix)
    elif spec.head == "two_class":
        from prmkit.models.heads import Qwen2ForProcessRewardModel

        config = transformers.AutoConfig.from_pretrained(path)
        if getattr(config, "model_type", None) != "qwen2":
            raise ValueError(
                f"{where}: model_type is {config.model_type!r}; qwen2.5-math-prm needs a Qwen2 body"
            )
        model, info = Qwen2ForProcessRewardModel.from_pretrained(
            path, output_loading_info=True, **kwargs
        )
        model.to(device)
        missing = _missing_head(info, ("score.",))
        if missing:
            raise ValueError(
                f"{where} has no 2-class PRM head (missing {missing}); it is not a Qwen2.5-Math-PRM checkpoint"
            )
        if spec.check_tokenizer is not None:
            spec.check_tokenizer(tokenizer)
        body, head = model.model, _label_head(model.score, 2)
    elif spec.head == "value":
        model = transformers.AutoModel.from_pretrained(path, **kwargs).to(device)
        from prmkit.models.heads import load_value_head

        v_head = load_value_head(_local_dir(path), model.config.hidden_size).to(
            device=device, dtype=dtype
        )
        model.add_module("v_head", v_head)
        if spec.check_tokenizer is not None:
            spec.check_tokenizer(tokenizer)
        body = model

        def head(hidden: torch.Tensor) -> torch.Tensor:
            return v_head(hidden).float()[:, 0].sigmoid()

    elif spec.head in ("token_cls", "sequence"):
        auto = (
            transformers.AutoModelForTokenClassification
            if spec.head == "token_cls"
            else transformers.AutoModelForSequenceClassification
        )
        model, info = auto.from_pretrained(path, output_loading_info=True, **kwargs)
        model.to(device)
        module = _classifier(model)
        head_name = next(
            n for n in ("score", "classifier") if getattr(model, n, None) is module
        )
        missing = _missing_head(info, (head_name + ".",))
        if missing:
            raise ValueError(
                f"{where} has no trained {spec.head} head (missing {missing}); "
                f"train one with `prmkit train` or pick the family that matches this checkpoint"
            )
        num_labels = model.config.num_labels
        allowed = (2,) if spec.head == "token_cls" else (1, 2)
        if num_labels not in allowed:
            raise ValueError(
                f"{where}: config.num_labels is {num_labels}; {spec.name} needs {allowed}"
            )
        separator = (
            step_separator
            or getattr(model.config, "step_separator", None)
            or DEFAULT_STEP_SEPARATOR
        )
        spec = token_cls_spec(separator, base=spec.name)
        body, head = (
            getattr(model, model.base_model_prefix),
            _label_head(module, num_labels),
        )
    else:  # pragma: no cover - FamilySpec.head is a closed Literal
        raise ValueError(f"unknown head {spec.head!r}")

    model.eval()
    vocab_size = model.get_input_embeddings().weight.shape[0]
    pad_id = getattr(tokenizer, "pad_token_id", None)
    if pad_id is None or pad_id >= vocab_size:
        pad_id = 0
    return LoadedPRM(
        causal=is_causal(body, vocab_size),
        spec=spec,
        body=body,
        head=head,
        tokenizer=tokenizer,
        model=model,
        vocab_size=vocab_size,
        max_length=getattr(model.config, "max_position_embeddings", None),
        pad_id=pad_id,
    )
