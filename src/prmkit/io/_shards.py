"""Resumable output of a long job (labelling, scoring, search): fixed shards of units, each written atomically.

Layout of an output folder::

    run.json                 what produced it: the job's settings (annotator, scorer, search method
                             ...), shard size, the unit ids' hash, and the prmkit version / git commit
    shard-00000.stats.json   units and the job's counters (rollouts, calls, tokens ...) of shard 0
    shard-00000.jsonl        the shard's records, one JSON object per line (written last: its
                             presence means the shard is done)

Units are split into shards by position (shard ``i`` holds units ``i*size .. (i+1)*size - 1``), so a
rerun with the same units and settings skips finished shards and does exactly the missing work.
A rerun with different settings or units is refused instead of mixing two runs in one folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prmkit.io._jsonl import FormatError, atomic_writer, read_jsonl, write_jsonl

__all__ = ["ShardStore"]


def _ids_digest(unit_ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(unit_ids).encode()).hexdigest()


class ShardStore:
    """The shards of one job under ``out_dir``.

    Args:
        out_dir: the output folder (created if missing).
        config: the settings that determine the labels; must match on resume.
        unit_ids: the ids of all units, in order (problem ids); must match on resume.
        shard_size: units per shard.

    Raises:
        ValueError: duplicate unit ids, ``shard_size < 1``, or ``out_dir`` holds a different run.
    """

    def __init__(self, out_dir: str | os.PathLike[str], *, config: dict[str, Any], unit_ids: Sequence[str], shard_size: int) -> None:
        if shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {shard_size}")
        seen: set[str] = set()
        for unit_id in unit_ids:
            if unit_id in seen:
                raise ValueError(f"unit id {unit_id!r} appears twice; shards resume by id, so ids must be unique")
            seen.add(unit_id)
        self.out_dir = Path(out_dir)
        self.unit_ids, self.shard_size = list(unit_ids), shard_size
        self.num_shards = (len(self.unit_ids) + shard_size - 1) // shard_size
        manifest = {
            "config": config,
            "shard_size": shard_size,
            "num_units": len(self.unit_ids),
            "unit_ids_sha256": _ids_digest(self.unit_ids),
        }
        self._check_or_write_manifest(json.loads(json.dumps(manifest)))

    @staticmethod
    def _written_by() -> dict[str, Any]:
        """Versions and git commit of the code that wrote the folder (informative; not checked)."""
        from prmkit._provenance import provenance

        return provenance()

    def _check_or_write_manifest(self, manifest: dict[str, Any]) -> None:
        path = self.out_dir / "run.json"
        if path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise FormatError(f"{path}: invalid JSON ({err.msg}); delete it to start this folder afresh") from None
            differ = sorted(
                key
                for key in set(old) | set(manifest)
                if key not in ("config", "written_by") and old.get(key) != manifest.get(key)
            )
            old_config, new_config = old.get("config", {}), manifest["config"]
            differ += sorted(
                f"config.{key}" for key in set(old_config) | set(new_config) if old_config.get(key) != new_config.get(key)
            )
            if differ:
                details = ", ".join(
                    f"{key}: {self._lookup(old, key)!r} -> {self._lookup(manifest, key)!r}" for key in differ
                )
                raise ValueError(
                    f"{self.out_dir} holds shards of a different run ({details}); resume with the same settings "
                    "and problems, or write to a new output folder"
                )
            return
        with atomic_writer(path) as handle:
            json.dump({**manifest, "written_by": self._written_by()}, handle, indent=2)

    @staticmethod
    def _lookup(manifest: dict[str, Any], dotted: str) -> Any:
        value: Any = manifest
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and len(value) > 16:
            return value[:12] + "..."
        return value

    def units_of(self, shard: int) -> range:
        """Positions of the units in shard ``shard``."""
        start = shard * self.shard_size
        return range(start, min(start + self.shard_size, len(self.unit_ids)))

    def path(self, shard: int) -> Path:
        return self.out_dir / f"shard-{shard:05d}.jsonl"

    def stats_path(self, shard: int) -> Path:
        return self.out_dir / f"shard-{shard:05d}.stats.json"

    def is_done(self, shard: int) -> bool:
        return self.path(shard).exists()

    def write(self, shard: int, records: Sequence[Any], stats: dict[str, Any]) -> Path:
        """Write a finished shard: its stats first, then its records (atomically, marking it done).

        ``records`` are JSON objects, or records with a ``to_dict()`` (``LabelledSolution``).
        """
        with atomic_writer(self.stats_path(shard)) as handle:
            json.dump({"units": [self.unit_ids[i] for i in self.units_of(shard)], **stats}, handle, indent=2)
        write_jsonl(self.path(shard), (record.to_dict() if hasattr(record, "to_dict") else record for record in records))
        return self.path(shard)

    def stats(self, shard: int) -> dict[str, Any]:
        """The stats of a finished shard (empty when the stats file is missing)."""
        path = self.stats_path(shard)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def read_rows(self, shard: int) -> list[dict[str, Any]]:
        """The JSON objects of a finished shard, in order.

        Raises:
            FormatError: a line is not valid JSON (names file and line).
        """
        return [data for _, data in read_jsonl(self.path(shard))]
