"""Small stand-ins shared by the prmkit.rl tests (a piece tokenizer, a keyword PRM, a verl batch)."""

from __future__ import annotations

import numpy as np


class PieceTokenizer:
    """A tokenizer over a fixed list of text pieces: the slice of the HF interface prmkit.rl uses."""

    def __init__(self, pieces):
        self.pieces = list(pieces)

    def __len__(self):
        return len(self.pieces)

    def decode(self, ids, skip_special_tokens=False):
        return "".join(self.pieces[i] for i in ids if not (skip_special_tokens and self.pieces[i] == "<pad>"))

    def batch_decode(self, batch):
        return [self.decode(ids) for ids in batch]

    def encode(self, text):
        """Greedy longest-piece tokenization."""
        ids, rest = [], text
        while rest:
            best = max((i for i, p in enumerate(self.pieces) if rest.startswith(p)), key=lambda i: len(self.pieces[i]))
            ids.append(best)
            rest = rest[len(self.pieces[best]) :]
        return ids


class KeywordScorer:
    """P(correct) = 0.1 for a step containing 'oops', else 0.9; records every batch."""

    def __init__(self):
        self.batches = []

    def score(self, items):
        self.batches.append(list(items))
        return [[0.1 if "oops" in step else 0.9 for step in steps] for _, steps in items]


class FakeDataProto:
    """verl's ``DataProto`` as the reward manager reads it: ``batch`` (tensors), ``non_tensor_batch``
    (numpy object arrays), ``meta_info``, ``len()``."""

    def __init__(self, tensors, non_tensors, meta_info=None):
        self.batch = dict(tensors)
        self.non_tensor_batch = {k: np.array(v, dtype=object) for k, v in non_tensors.items()}
        self.meta_info = meta_info or {}

    def __len__(self):
        return len(next(iter(self.batch.values())))
