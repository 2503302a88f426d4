"""Model classes for PRM heads that transformers does not ship (imports torch: load on use only).

* :class:`Qwen2ForProcessRewardModel`: a faithful local copy of the architecture behind
  Qwen/Qwen2.5-Math-PRM-7B (remote code ``modeling_qwen2_rm.py``, class ``Qwen2ForProcessRewardModel``):
  a Qwen2 body plus ``score = Sequential(Linear(h, h), ReLU(), Linear(h, 2))``. Its parameter names
  (``model.*``, ``score.0.*``, ``score.2.*``) equal the checkpoint's, so ``from_pretrained`` loads the
  released weights without ``trust_remote_code`` (the backend loads it explicitly for the
  ``qwen2.5-math-prm`` family; it is not picked by model name).
* :func:`load_value_head`: the Skywork-o1 PRM value head (SkyworkAI/skywork-o1-prm-inference,
  ``PRM_MODEL``: a causal LM plus the TRL-style ``ValueHead`` whose ``summary = Linear(h, 1)``), read
  by weight name (``v_head.summary.weight`` / ``.bias``) from the checkpoint's safetensors files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import Qwen2Config, Qwen2Model, Qwen2PreTrainedModel
from transformers.modeling_outputs import TokenClassifierOutput

__all__ = ["VALUE_HEAD_PREFIX", "Qwen2ForProcessRewardModel", "load_value_head"]

VALUE_HEAD_PREFIX = "v_head.summary."


class Qwen2ForProcessRewardModel(Qwen2PreTrainedModel):
    """Qwen2 body + 2-class MLP head applied at every token (Qwen2.5-Math-PRM).

    ``forward(input_ids, attention_mask)`` returns ``TokenClassifierOutput`` with ``logits`` of shape
    ``(batch, seq_len, 2)``; P(step correct) = ``softmax(logits, -1)[..., 1]`` at each ``<extra_0>``.
    """

    base_model_prefix = "model"

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__(config)
        self.num_labels = 2
        self.model = Qwen2Model(config)
        self.score = nn.Sequential(
            nn.Linear(config.hidden_size, config.hidden_size),
            nn.ReLU(),
            nn.Linear(config.hidden_size, self.num_labels),
        )
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        **kwargs: Any,
    ) -> TokenClassifierOutput:
        hidden = self.model(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            **kwargs,
        )
        return TokenClassifierOutput(
            logits=self.score(hidden.last_hidden_state)
        )  # (B, T, 2)


def _weight_files(path: str | os.PathLike[str]) -> list[Path]:
    root = Path(path)
    index = root / "model.safetensors.index.json"
    if index.exists():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [root / name for name in names]
    return sorted(root.glob("*.safetensors"))


def load_value_head(path: str | os.PathLike[str], hidden_size: int) -> nn.Linear:
    """Read the Skywork value head ``v_head.summary`` (hidden -> 1) from a checkpoint directory.

    Args:
        path: local checkpoint directory holding ``*.safetensors`` (sharded or not).
        hidden_size: the body's hidden size (checked against the stored weight).

    Returns:
        ``nn.Linear(hidden_size, 1)`` with the stored weight (and bias when stored).

    Raises:
        ValueError: no ``v_head.summary.weight`` in the checkpoint, or a shape mismatch.
    """
    from safetensors import safe_open

    tensors: dict[str, torch.Tensor] = {}
    for file in _weight_files(path):
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open has no __iter__)
                if key.startswith(VALUE_HEAD_PREFIX):
                    tensors[key[len(VALUE_HEAD_PREFIX) :]] = handle.get_tensor(key)
    if "weight" not in tensors:
        raise ValueError(
            f"skywork: {path} has no value head weight '{VALUE_HEAD_PREFIX}weight' in its safetensors files; "
            "this is not a Skywork-o1-Open-PRM checkpoint (use another family, e.g. token-cls or orm)"
        )
    weight = tensors["weight"].reshape(-1, tensors["weight"].shape[-1])
    if tuple(weight.shape) != (1, hidden_size):
        raise ValueError(
            f"skywork: value head weight has shape {tuple(weight.shape)}, expected (1, {hidden_size})"
        )
    head = nn.Linear(hidden_size, 1, bias="bias" in tensors)
    with torch.no_grad():
        head.weight.copy_(weight)
        if "bias" in tensors:
            head.bias.copy_(tensors["bias"].reshape(1))
    return head
