"""The vLLM backend of :class:`~prmkit.generation.Generator`: an in-process vLLM engine (imported lazily).

Uses the offline API every vLLM since 0.6 documents (``vllm/entrypoints/llm.py``,
``vllm/sampling_params.py``, ``vllm/outputs.py``): ``LLM(model=..., **options)``,
``LLM.generate(prompts, sampling_params=SamplingParams(n, temperature, top_p, max_tokens, stop,
seed, include_stop_str_in_output=True), use_tqdm=...)`` returning one ``RequestOutput`` per prompt
in input order, each with ``outputs``: ``CompletionOutput(index, text, token_ids, finish_reason,
stop_reason)``. ``finish_reason`` is ``"stop"`` or ``"length"``; at a stop string ``stop_reason``
is that string (kept at the end of the text, as prmkit's protocol wants), at EOS or a stop token
it is None or the token id (prmkit's ``"eos"``). Token counts are ``len(token_ids)``: what the
engine generated, not a re-tokenization.

A seed is per request in vLLM, so each prompt's samples depend on its seed and text, not on which
other prompts share the batch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from prmkit.types import Completion

__all__ = ["VLLMGenerator"]


class VLLMGenerator:
    """Sample completions with an in-process vLLM engine.

    Args:
        model: a checkpoint dir or hub id (an ``LLM`` is built with ``llm_options``), or an engine
            object with vLLM's ``generate`` (an ``LLM`` built elsewhere).
        top_p: nucleus sampling mass (1.0 = off); can be overridden per call.
        progress: let vLLM show its progress bar.
        **llm_options: passed to ``vllm.LLM`` (``dtype``, ``gpu_memory_utilization``, ``max_model_len``, ...).

    Raises:
        ImportError: vLLM is not installed (``pip install 'prmkit[vllm]'``).

    Example:
        >>> gen = VLLMGenerator("Qwen/Qwen2.5-Math-7B-Instruct", gpu_memory_utilization=0.5)   # doctest: +SKIP
        >>> gen.complete(["1+1="], n=2, stop=["\\n"], max_new_tokens=8, temperature=0.7, seed=0)  # doctest: +SKIP
    """

    def __init__(self, model: str | os.PathLike[str] | Any, *, top_p: float = 1.0, progress: bool = False, **llm_options: Any) -> None:
        if isinstance(model, (str, os.PathLike)):
            try:
                from vllm import LLM
            except ImportError as err:
                raise ImportError(f"the vllm generator needs vLLM: pip install 'prmkit[vllm]' ({err})") from err
            model = LLM(model=str(model), **llm_options)
        elif llm_options:
            raise TypeError(f"VLLMGenerator: options {sorted(llm_options)} only apply when model is a path")
        self.llm = model
        self.top_p, self.progress = top_p, progress
        get_tokenizer = getattr(model, "get_tokenizer", None)
        self.tokenizer = get_tokenizer() if callable(get_tokenizer) else None  # chat template, prompt token counts

    def complete(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        stop: Sequence[str] | None = None,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        seed: int | None = None,
        top_p: float | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions per prompt, in input order (see the module docstring).

        Raises:
            RuntimeError: the engine returned the wrong number of outputs, or aborted a request.
        """
        from vllm import SamplingParams

        if n < 1 or max_new_tokens < 1 or temperature < 0:
            raise ValueError(
                f"complete: need n >= 1, max_new_tokens >= 1, temperature >= 0; got {n}, {max_new_tokens}, {temperature}"
            )
        if not prompts:
            return []
        stops = [s for s in (stop or []) if s]
        params = SamplingParams(
            n=n, temperature=temperature, top_p=self.top_p if top_p is None else top_p, max_tokens=max_new_tokens,
            stop=stops or None, seed=seed, include_stop_str_in_output=True,
        )
        outputs = self.llm.generate(list(prompts), sampling_params=params, use_tqdm=self.progress)
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
        rows = []
        for i, output in enumerate(outputs):
            choices = sorted(output.outputs, key=lambda c: c.index)
            if len(choices) != n:
                raise RuntimeError(f"vLLM returned {len(choices)} samples for prompt {i} (n = {n})")
            rows.append([_completion(c, stops) for c in choices])
        return rows


def _completion(choice: Any, stops: list[str]) -> Completion:
    text, tokens = choice.text, len(choice.token_ids)
    if choice.finish_reason == "length":
        return Completion(text, tokens, "length")
    if choice.finish_reason != "stop":
        raise RuntimeError(f"vLLM finished a sample with {choice.finish_reason!r} (aborted?)")
    matched = choice.stop_reason
    if isinstance(matched, str) and matched in stops:
        return Completion(text if text.endswith(matched) else text + matched, tokens, "stop")
    return Completion(text, tokens, "eos")  # EOS (None) or a stop token id
