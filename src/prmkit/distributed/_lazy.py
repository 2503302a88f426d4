"""A Generator / Scorer that travels as its recipe and loads the model where it is first used.

Why: a Ray worker must hold its own copy of the policy or the PRM. Pickling a loaded 7B model from
the driver would ship gigabytes (and need the driver to have loaded it); these proxies pickle as
``(registry name, options)`` only, so the driver builds annotators, samplers and search jobs with
them as usual and each worker loads the model once, on its own device, on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prmkit.types import Completion

__all__ = ["LazyGenerator", "LazyScorer"]


class _Lazy:
    """Holds ``(name, options)`` and the loaded object; only the recipe is pickled."""

    def __init__(self, name: str, **options: Any) -> None:
        self.name, self.options = name, options
        self._loaded: Any = None

    kind = "model"

    def _load(self) -> Any:
        raise NotImplementedError

    @property
    def loaded(self) -> Any:
        """The real backend (loaded now if it was not yet).

        Raises:
            ValueError: the backend does not take the recipe's options (a TypeError from its
                constructor, said as the user's error it is: on a Ray worker there is no CLI
                check before the load to catch it).
        """
        if self._loaded is None:
            try:
                self._loaded = self._load()
            except TypeError as err:
                raise ValueError(f"{self.kind} {self.name!r} does not take the options {sorted(self.options)}: {err}") from None
        return self._loaded

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "options": self.options, "_loaded": None}

    def __getattr__(self, attr: str) -> Any:
        # Counters such as a scorer's ``tokens_run`` come from the loaded backend.
        if attr.startswith("_") or attr in ("name", "options"):
            raise AttributeError(attr)
        return getattr(self.loaded, attr)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.options!r})"


class LazyGenerator(_Lazy):
    """``load_generator(name, **options)`` on first :meth:`complete`; pickles as the recipe.

    Example:
        >>> gen = LazyGenerator("transformers", model="src/prmkit/assets/arith_policy")
        >>> gen
        LazyGenerator('transformers', {'model': 'src/prmkit/assets/arith_policy'})
    """

    kind = "generator"

    def _load(self) -> Any:
        from prmkit.generation import load_generator

        return load_generator(self.name, **self.options)

    def complete(self, prompts: Sequence[str], **kwargs: Any) -> list[list[Completion]]:
        return self.loaded.complete(prompts, **kwargs)


class LazyScorer(_Lazy):
    """``load_scorer(name, **options)`` on first :meth:`score`; pickles as the recipe."""

    kind = "scorer"

    def _load(self) -> Any:
        from prmkit.models import load_scorer

        return load_scorer(self.name, **self.options)

    def score(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float | None]]:
        return self.loaded.score(items)
