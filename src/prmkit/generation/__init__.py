"""Everything that writes reasoning steps: the :class:`Generator` protocol and its backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from prmkit._registry import Registry
from prmkit.types import Completion

__all__ = ["Generator", "GENERATORS", "load_generator"]


@runtime_checkable
class Generator(Protocol):
    """Samples ``n`` completions for each prompt, in input order.

    Stops at the first of ``stop`` (the stop string is kept at the end of ``Completion.text``),
    at EOS, or after ``max_new_tokens``. The same ``seed`` gives the same samples.
    """

    def complete(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        stop: Sequence[str] | None = None,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        seed: int | None = None,
    ) -> list[list[Completion]]: ...


GENERATORS = Registry("generator")
GENERATORS.register("transformers", "prmkit.generation.transformers:TransformersGenerator")
GENERATORS.register("openai", "prmkit.generation.openai:OpenAIGenerator")
GENERATORS.register("vllm", "prmkit.generation.vllm:VLLMGenerator")


def load_generator(name: str, **options: Any) -> Generator:
    """Build the generator backend registered as ``name`` (e.g. ``"transformers"``, ``model=DIR``)."""
    return GENERATORS.get(name)(**options)
