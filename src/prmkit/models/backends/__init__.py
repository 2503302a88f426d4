"""Backends that run a PRM family's model: ``transformers`` (in process), ``vllm``, ``http``.

Each backend takes a :class:`prmkit.models.families.FamilySpec` and a checkpoint; the family decides
the input format and the head, the backend decides batching and devices. Modules here import torch
or vLLM only when loaded, never from ``import prmkit``.
"""

__all__: list[str] = []
