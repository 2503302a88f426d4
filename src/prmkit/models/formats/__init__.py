"""Input formats of the PRM families: one module per family, nothing else decides formats.

Each ``encode_*(tokenizer, question, steps) -> EncodedItem`` reproduces its model card's reference
code; :mod:`prmkit.models.families` pairs them with the head that is read at ``step_positions``.
"""

from prmkit.models.formats._base import EncodedItem
from prmkit.models.formats.implicit import ImplicitEncodedItem, encode_implicit
from prmkit.models.formats.math_shepherd import encode_math_shepherd
from prmkit.models.formats.qwen_math_prm import encode_qwen_math_prm
from prmkit.models.formats.rlhflow import encode_rlhflow
from prmkit.models.formats.skywork import encode_skywork
from prmkit.models.formats.token_cls import encode_token_cls

__all__ = [
    "EncodedItem",
    "ImplicitEncodedItem",
    "encode_implicit",
    "encode_math_shepherd",
    "encode_qwen_math_prm",
    "encode_rlhflow",
    "encode_skywork",
    "encode_token_cls",
]
