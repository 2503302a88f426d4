"""The flags of sharded jobs (``--engine``, ``--address``, ``--workers``, ``--shard-size`` ...) and their models.

``prmkit annotate``, ``prmkit score`` and ``prmkit search`` run their work in shards on an engine
(:mod:`prmkit.distributed`): ``local`` (this process) or ``ray`` (a Ray Data actor pool, each actor
holding its own policy / PRM). The option types below are declared once and used by every such
command; :class:`EngineFlags` turns them into an engine, and :func:`cli_generator` /
:func:`cli_scorer` load a model here (local) or hand the workers its recipe (ray), so each Ray
actor loads its own copy once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from prmkit.cli._common import checkpoint_path, fail, load_cli_scorer, parse_options

__all__ = [
    "Address", "EngineFlags", "EngineName", "GpusPerWorker", "ShardSize", "ThreadsPerWorker", "Workers",
    "cli_generator", "cli_scorer",
]

EngineName = Annotated[str, typer.Option("--engine", help="'local' (this process) or 'ray' (a Ray Data actor pool; same output).")]
Address = Annotated[str | None, typer.Option(help="Ray cluster to join with --engine ray ('auto', 'HOST:6379'); default: start a local Ray.")]
Workers = Annotated[int, typer.Option(help="Ray actors, each holding its own model copy (--engine ray).")]
ThreadsPerWorker = Annotated[int, typer.Option(help="CPUs / torch threads per Ray actor (--engine ray).")]
GpusPerWorker = Annotated[float, typer.Option(help="GPUs per Ray actor (--engine ray; fractions share a GPU).")]
ShardSize = Annotated[int, typer.Option(help="Units per shard (problems; solutions for `score`): the work one worker "
                                             "takes at a time and the step a rerun resumes from.")]


@dataclass
class EngineFlags:
    """The --engine flags of one command.

    Example:
        >>> EngineFlags("local", None, 2, 1, 0.0).build().name
        'local'
    """

    name: str
    address: str | None = None
    workers: int = 2
    threads_per_worker: int = 1
    num_gpus_per_worker: float = 0.0

    def check(self) -> None:
        """Fail (one line) on an unknown engine or a bad worker count, before anything loads."""
        if self.name not in ("local", "ray"):
            fail(f"--engine {self.name!r}: choose local or ray")
        if self.name == "ray" and (self.workers < 1 or self.threads_per_worker < 1 or self.num_gpus_per_worker < 0):
            fail(f"--workers and --threads-per-worker must be >= 1 and --num-gpus-per-worker >= 0, got {self.workers}, "
                 f"{self.threads_per_worker}, {self.num_gpus_per_worker}")

    def build(self) -> Any:
        from prmkit.distributed import load_engine

        self.check()
        if self.name == "local":
            return load_engine("local")
        from prmkit.cli._quiet import worker_env

        env = worker_env()
        return load_engine("ray", address=self.address, workers=self.workers, threads_per_worker=self.threads_per_worker,
                           num_gpus_per_worker=self.num_gpus_per_worker, runtime_env={"env_vars": env} if env else None)

    @contextmanager
    def running(self) -> Iterator[Any]:
        """The engine, shut down afterwards (a Ray started here stops; a joined cluster keeps running)."""
        engine = self.build()
        try:
            yield engine
        finally:
            if hasattr(engine, "shutdown"):
                engine.shutdown()


def cli_generator(name: str, model: str, options: list[str] | None, engine: str) -> Any:
    """The generator ``name`` over checkpoint ``model``: loaded here (local) or as a recipe each Ray actor loads."""
    from prmkit.distributed import LazyGenerator
    from prmkit.generation import load_generator

    kwargs = parse_options(options)
    try:
        if engine == "ray":
            from prmkit.generation import GENERATORS

            GENERATORS.get(name)  # an unknown name fails here, listing the valid ones
            return LazyGenerator(name, model=model, **kwargs)
        return load_generator(name, model=model, **kwargs)
    except TypeError as err:
        fail(f"generator {name!r} does not take the options {sorted(kwargs)}: {err}")


def cli_scorer(name: str, path: str | None, backend: str | None, options: list[str] | None, engine: str,
               path_flag: str = "--path") -> Any:
    """The scorer of the ``--model/--path/--backend/--option`` flags: loaded here (local) or as a Ray actors' recipe.

    Both check the name and the ``--path`` folder (``path_flag`` in messages) before anything
    loads; the local engine also loads the model (so a bad option fails here), the ray engine
    leaves that to each actor (whose :class:`~prmkit.distributed.LazyScorer` names a bad option).
    """
    if engine != "ray":
        return load_cli_scorer(name, path, backend, options, path_flag)
    from prmkit.distributed import LazyScorer
    from prmkit.models import SCORERS

    SCORERS.get(name)  # an unknown name fails here, listing the valid ones
    kwargs = parse_options(options)
    if path is not None:
        kwargs["path"] = checkpoint_path(path, path_flag, hub=backend != "http")
    if backend is not None:
        kwargs["backend"] = backend
    return LazyScorer(name, **kwargs)
