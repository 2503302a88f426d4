"""Turn PRM step scores into RL rewards that are hard to hack.

The pieces, each in its own module (all of them import torch, so import them on use):

* :mod:`prmkit.rl.steps` — split a policy's response into steps at the token level.
* :mod:`prmkit.rl.rewards` — step rewards from a classifier PRM (``p`` or ``p+ - p-``), placed on
  step-end tokens, plus the verifiable reward at EOS.
* :mod:`prmkit.rl.credit` — credit assignment: ``sum``, ``min_form`` (PURE), ``clip``, ``delta``,
  ``clip_delta`` (Gao et al. 2024) and per-step returns.
* :mod:`prmkit.rl.advantages` — GRPO, RLOO, PURE's token-level RLOO baseline, PRIME, whitening.
* :mod:`prmkit.rl.prof` — PROF consistency filtering of each group's responses.
* :mod:`prmkit.rl.diagnostics` — reward-hacking diagnostics per batch.
* :mod:`prmkit.rl.trl`, :mod:`prmkit.rl.verl`, :mod:`prmkit.rl.openrlhf` — framework adapters.

Credit rules are looked up by name in :data:`CREDIT_RULES` (listing names imports nothing heavy):

    >>> from prmkit.rl import CREDIT_RULES
    >>> CREDIT_RULES.names()
    ['clip', 'clip_delta', 'delta', 'min_form', 'sum']
"""

from __future__ import annotations

from prmkit._registry import Registry

__all__ = ["CREDIT_RULES"]

#: Credit-assignment rules: ``rule(step_rewards [B, S], mask [B, S], **params) -> [B, S]``.
CREDIT_RULES = Registry("credit rule")
for _name, _target in {
    "sum": "prmkit.rl.credit:sum_form",
    "min_form": "prmkit.rl.credit:min_form",
    "clip": "prmkit.rl.credit:clip",
    "delta": "prmkit.rl.credit:delta",
    "clip_delta": "prmkit.rl.credit:clip_delta",
}.items():
    CREDIT_RULES.register(_name, _target)
