"""The shards of a labelling job: :class:`prmkit.io._shards.ShardStore` whose records are LabelledSolutions.

Each ``shard-XXXXX.jsonl`` holds one ``LabelledSolution.to_dict()`` per line; ``shard-XXXXX.stats.json``
counts its units, rollouts, generator calls, samples and records (layout: :mod:`prmkit.io._shards`).
"""

from __future__ import annotations

from prmkit.io._jsonl import FormatError, read_jsonl
from prmkit.io._shards import ShardStore as _RowStore
from prmkit.types import LabelledSolution

__all__ = ["ShardStore"]


class ShardStore(_RowStore):
    """A labelling job's shards under ``out_dir`` (see :class:`prmkit.io._shards.ShardStore`)."""

    def read(self, shard: int) -> list[LabelledSolution]:
        """The records of a finished shard.

        Raises:
            FormatError: a line is not a LabelledSolution record (names file and line).
        """
        records = []
        for line, data in read_jsonl(self.path(shard)):
            try:
                records.append(LabelledSolution.from_dict(data))
            except (KeyError, TypeError, ValueError) as err:
                raise FormatError(f"{self.path(shard)}:{line}: not a LabelledSolution record ({err})") from None
        return records
