"""PRM families: how each published PRM is fed and read, in one place, plus the registered factories.

A :class:`FamilySpec` is the whole contract between a family and any backend: ``encode`` turns
``(tokenizer, question, steps)`` into token ids and the positions whose outputs score each step,
``head`` says what is read there, and the token fields say which tokens matter. The transformers
backend (:mod:`prmkit.models.backends.transformers`), the vLLM adapter and the HTTP server all build
on these specs, so a family's format is defined exactly once.

Heads:
    ``lm_tokens``  causal LM; softmax over the logits of (positive, negative) tokens; P = index 0.
    ``two_class``  a 2-logit classification head per token (Qwen2.5-Math-PRM); P = softmax[..., 1].
    ``value``      a scalar value head per token (Skywork); P = sigmoid(value).
    ``token_cls``  ``AutoModelForTokenClassification`` with 2 labels; P = softmax[..., 1].
    ``sequence``   ``AutoModelForSequenceClassification`` on the whole solution (ORM); only the last
                   step gets a score: sigmoid(logit) for 1 label, softmax[..., 1] for 2.

Example:
    >>> from prmkit.models.families import get_family
    >>> get_family("math-shepherd").head, get_family("math-shepherd").step_token
    ('lm_tokens', 'ки')
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from prmkit._registry import UnknownNameError
from prmkit.models.formats._base import EncodedItem
from prmkit.models.formats.math_shepherd import (
    candidate_token_ids,
    encode_math_shepherd,
)
from prmkit.models.formats.qwen_math_prm import encode_qwen_math_prm, step_token_id
from prmkit.models.formats.rlhflow import encode_rlhflow, plus_minus_ids
from prmkit.models.formats.skywork import encode_skywork
from prmkit.models.formats.token_cls import DEFAULT_STEP_SEPARATOR, encode_token_cls
from prmkit.models.formats.verdict import (
    NEGATIVE,
    POSITIVE,
    VERDICT_TAG,
    check_verdict_tokenizer,
    encode_verdict,
    verdict_token_ids,
)

__all__ = [
    "BACKENDS",
    "FAMILIES",
    "FamilySpec",
    "Head",
    "get_family",
    "load_family_scorer",
    "math_shepherd",
    "orm",
    "qwen_math_prm",
    "rlhflow",
    "skywork",
    "token_cls",
    "token_cls_spec",
    "verdict",
]

Head = Literal["lm_tokens", "two_class", "value", "token_cls", "sequence"]
Encoder = Callable[[Any, str, Sequence[str]], EncodedItem]

BACKENDS = ("transformers", "vllm", "http")


@dataclass(frozen=True)
class FamilySpec:
    """How one PRM family is fed and read.

    Attributes:
        name: the registry name (``"math-shepherd"``, ...).
        encode: ``encode(tokenizer, question, steps) -> EncodedItem``; ``step_positions[k]`` is the
            position whose model output scores step k.
        head: what is read at those positions (see the module docstring).
        positive_token / negative_token: for ``lm_tokens``: the tokens whose logits are compared.
        step_token: the step separator / tag the format inserts ("ки", "<extra_0>", "\\n"); None
            when steps are located otherwise (rlhflow reads before each assistant "+").
        label_token_ids: for ``lm_tokens``: ``f(tokenizer) -> (positive_id, negative_id)`` exactly as
            the reference code derives them.
        check_tokenizer: ``f(tokenizer)`` raising ``ValueError`` when the tokenizer lacks the format's
            tokens; backends call it at load time.
        reference: where the format comes from (model card / code), for docs and errors.
    """

    name: str
    encode: Encoder
    head: Head
    positive_token: str | None = None
    negative_token: str | None = None
    step_token: str | None = None
    label_token_ids: Callable[[Any], tuple[int, int]] | None = None
    check_tokenizer: Callable[[Any], None] | None = None
    reference: str = ""


def _math_shepherd_ids(tokenizer: Any) -> tuple[int, int]:
    good, bad = candidate_token_ids(tokenizer)
    return good, bad


def _check_math_shepherd(tokenizer: Any) -> None:
    candidate_token_ids(tokenizer)
    tag = tokenizer("ки", add_special_tokens=False)["input_ids"]
    if len(tag) != 1:
        raise ValueError(
            f"math-shepherd needs the step tag 'ки' to be one token, but this tokenizer gives {tag}; "
            "load the tokenizer of the math-shepherd PRM (Mistral-7B)"
        )


def _check_rlhflow(tokenizer: Any) -> None:
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError(
            "rlhflow needs a tokenizer with a chat template (the Llama-3.1-Instruct one)"
        )
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            "rlhflow needs a fast tokenizer (offset mapping locates each assistant turn)"
        )
    encode_rlhflow(
        tokenizer, "1+1?", ["1+1=2"]
    )  # fails loudly if the template cannot be read in one pass


def _check_qwen(tokenizer: Any) -> None:
    step_token_id(tokenizer)
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError(
            "qwen2.5-math-prm needs a tokenizer with a chat template (the PRM's own tokenizer)"
        )


def _check_skywork(tokenizer: Any) -> None:
    encode_skywork(tokenizer, "q", ["s"])


FAMILIES: dict[str, FamilySpec] = {
    spec.name: spec
    for spec in (
        FamilySpec(
            name="math-shepherd",
            encode=encode_math_shepherd,
            head="lm_tokens",
            positive_token="+",
            negative_token="-",
            step_token="ки",
            label_token_ids=_math_shepherd_ids,
            check_tokenizer=_check_math_shepherd,
            reference="model card peiyi9979/math-shepherd-mistral-7b-prm",
        ),
        FamilySpec(
            name="qwen2.5-math-prm",
            encode=encode_qwen_math_prm,
            head="two_class",
            step_token="<extra_0>",
            check_tokenizer=_check_qwen,
            reference="model card Qwen/Qwen2.5-Math-PRM-7B (make_step_rewards)",
        ),
        FamilySpec(
            name="rlhflow",
            encode=encode_rlhflow,
            head="lm_tokens",
            positive_token="+",
            negative_token="-",
            step_token=None,
            label_token_ids=plus_minus_ids,
            check_tokenizer=_check_rlhflow,
            reference="RLHFlow/RLHF-Reward-Modeling math-rm",
        ),
        FamilySpec(
            name="skywork",
            encode=encode_skywork,
            head="value",
            step_token="\n",
            check_tokenizer=_check_skywork,
            reference="SkyworkAI/skywork-o1-prm-inference (prepare_input, PRM_MODEL)",
        ),
        FamilySpec(
            name="token-cls",
            encode=encode_token_cls,
            head="token_cls",
            step_token=DEFAULT_STEP_SEPARATOR,
            reference="TRL PRMTrainer.tokenize_row (stepwise supervision)",
        ),
        FamilySpec(
            name="orm",
            encode=encode_token_cls,
            head="sequence",
            step_token=DEFAULT_STEP_SEPARATOR,
            reference="outcome reward model: AutoModelForSequenceClassification on the whole solution",
        ),
        FamilySpec(
            name="verdict",
            encode=encode_verdict,
            head="lm_tokens",
            positive_token=POSITIVE,
            negative_token=NEGATIVE,
            step_token=VERDICT_TAG,
            label_token_ids=verdict_token_ids,
            check_tokenizer=check_verdict_tokenizer,
            reference="prmkit's own GenRM-style layout (prmkit.models.formats.verdict; Zhang et al. 2024)",
        ),
    )
}


def get_family(name: str) -> FamilySpec:
    """The :class:`FamilySpec` named ``name``.

    Raises:
        prmkit._registry.UnknownNameError: unknown name (lists the valid ones).
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownNameError(
            f"Unknown PRM family {name!r}. Available: {', '.join(sorted(FAMILIES))}"
        ) from None


def token_cls_spec(separator: str, base: str = "token-cls") -> FamilySpec:
    """The ``token-cls`` (or ``orm``) spec with a checkpoint's own step separator bound into ``encode``.

    Backends read ``config.step_separator`` from the checkpoint (default "\\n") and use this spec.
    """
    spec = get_family(base)
    return dataclasses.replace(
        spec,
        encode=functools.partial(encode_token_cls, separator=separator),
        step_token=separator,
    )


def load_family_scorer(
    family: str, path: str | None = None, backend: str = "transformers", **options: Any
) -> Any:
    """Build a scorer for ``family`` on ``backend``.

    Args:
        family: a key of :data:`FAMILIES`.
        path: the checkpoint directory (or hub id) for local backends.
        backend: ``"transformers"`` (this package), ``"vllm"`` or ``"http"``.
        **options: passed to the backend (``device``, ``dtype``, ``max_batch_tokens``, ...).

    Raises:
        ValueError: unknown backend (lists the valid ones) or a missing ``path``.
    """
    spec = get_family(family)
    if backend == "transformers":
        if path is None:
            raise ValueError(
                f"load_scorer({family!r}, backend='transformers') needs path=<checkpoint dir or hub id>"
            )
        from prmkit.models.backends.transformers import TransformersScorer

        return TransformersScorer(spec, path, **options)
    if backend == "vllm":
        if path is None:
            raise ValueError(
                f"load_scorer({family!r}, backend='vllm') needs path=<checkpoint dir or hub id>"
            )
        from prmkit.models.backends.vllm import VLLMScorer

        return VLLMScorer(spec, path, **options)
    if backend == "http":
        from prmkit.models.backends.http import HTTPScorer

        options.setdefault("family", spec)  # protocol="vllm" encodes prompts with this family locally
        return HTTPScorer(**options)
    raise ValueError(
        f"Unknown backend {backend!r} for {family!r}; choose one of {', '.join(BACKENDS)}"
    )


def math_shepherd(
    path: str | None = None, backend: str = "transformers", **options: Any
) -> Any:
    """``load_scorer("math-shepherd", path=..., backend=...)``: peiyi9979/math-shepherd-mistral-7b-prm."""
    return load_family_scorer("math-shepherd", path, backend, **options)


def qwen_math_prm(
    path: str | None = None, backend: str = "transformers", **options: Any
) -> Any:
    """``load_scorer("qwen2.5-math-prm", path=..., backend=...)``: Qwen/Qwen2.5-Math-PRM-7B / -72B."""
    return load_family_scorer("qwen2.5-math-prm", path, backend, **options)


def rlhflow(
    path: str | None = None, backend: str = "transformers", **options: Any
) -> Any:
    """``load_scorer("rlhflow", path=..., backend=...)``: RLHFlow/Llama3.1-8B-PRM-*."""
    return load_family_scorer("rlhflow", path, backend, **options)


def skywork(
    path: str | None = None, backend: str = "transformers", **options: Any
) -> Any:
    """``load_scorer("skywork", path=..., backend=...)``: Skywork/Skywork-o1-Open-PRM-Qwen-2.5-*."""
    return load_family_scorer("skywork", path, backend, **options)


def token_cls(
    path: str | None = None, backend: str = "transformers", **options: Any
) -> Any:
    """``load_scorer("token-cls", path=..., backend=...)``: prmkit-trained and TRL-style PRMs."""
    return load_family_scorer("token-cls", path, backend, **options)


def orm(path: str | None = None, backend: str = "transformers", **options: Any) -> Any:
    """``load_scorer("orm", path=..., backend=...)``: an outcome reward model (last step scored only)."""
    return load_family_scorer("orm", path, backend, **options)


def verdict(path: str | None = None, backend: str = "transformers", **options: Any) -> Any:
    """``load_scorer("verdict", path=..., backend=...)``: a causal LM trained by ``prmkit train verdict``."""
    return load_family_scorer("verdict", path, backend, **options)
