"""The ray engine: work items through a Ray Data actor pool, one model-holding worker per actor.

Why Ray Data (``map_batches`` over an actor pool) and not hand-made actors: it already does what
a long labelling job needs from a cluster: a fixed pool of stateful actors (each loads its Generator
/ Scorer once), streaming of results back to the driver as items finish, back-pressure, and fault
tolerance: an actor that dies is restarted and its unfinished item is retried
(``max_restarts=-1``, ``max_task_retries=-1``, Ray Data's defaults for actor pools, set here
explicitly). The pool has a fixed size and each actor holds one item at a time, so items spread
over all actors however uneven their start-up. One item is one row (``batch_size=1``): items are whole shards, already big enough to
keep a worker's backend batched, and a crash then loses at most one shard's work. On CPU the price
is Ray's start-up (a few seconds) and one pickle round trip per item, small next to a shard of
rollouts.

Outputs are written by the driver, never by the workers, so a cluster needs no shared file system
and a crashed-and-retried item cannot write twice: the caller dedupes by item index.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prmkit.distributed._base import Done, WorkerFactory

__all__ = ["RayEngine"]


@dataclass
class _Failed:
    """The exception a worker raised on an item, sent back as data and raised again by the driver.

    Why: Ray Data wraps a worker's exception in ``UserCodeException`` with the actor's traceback
    around it, so a user error (a record the scorer cannot take, a bad option) would reach the CLI
    as a wall of Ray frames; re-raised as itself, it reads exactly as on the local engine.
    """

    error: BaseException

    @classmethod
    def of(cls, err: Exception) -> _Failed:
        import ray.cloudpickle as cloudpickle

        try:
            cloudpickle.loads(cloudpickle.dumps(err))
        except Exception:  # an exception that does not survive pickling travels as its text
            return cls(RuntimeError(f"{type(err).__name__}: {err}"))
        return cls(err)


class _Actor:
    """A Ray Data callable class: builds the worker once, then runs one pickled item per row."""

    def __init__(self, factory: bytes, threads: int) -> None:
        import ray.cloudpickle as cloudpickle

        from prmkit._memory import keep_freed_memory

        keep_freed_memory()  # a Ray worker is its own interpreter: the driver's malloc setting is not inherited
        if threads:
            os.environ["OMP_NUM_THREADS"] = str(threads)
            try:
                import torch

                torch.set_num_threads(threads)
            except ImportError:
                pass
        import ray

        start = time.perf_counter()
        self.worker = cloudpickle.loads(factory)()
        self.setup = time.perf_counter() - start
        self.name = f"{ray.util.get_node_ip_address()}:{os.getpid()}"

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np
        import ray.cloudpickle as cloudpickle

        values, seconds, setups = [], [], []
        for item in batch["item"]:
            begin = time.perf_counter()
            try:
                value: Any = self.worker(pickle.loads(item))
            except Exception as err:  # the driver raises it (see _Failed)
                value = _Failed.of(err)
            values.append(cloudpickle.dumps(value))
            seconds.append(time.perf_counter() - begin)
            setups.append(self.setup)
            self.setup = 0.0
        return {
            "index": np.asarray(batch["index"]),
            "value": np.array(values, dtype=object),
            "worker": np.array([self.name] * len(values), dtype=object),
            "seconds": np.asarray(seconds),
            "setup": np.asarray(setups),
        }


class RayEngine:
    """Run items on a pool of Ray actors; each actor builds one worker (loads one model).

    Args:
        address: the cluster to join (``"auto"``, ``"ray://head:10001"``, ``"10.0.0.1:6379"``);
            ``None`` joins the Ray already initialised in this process, else starts a local one.
        workers: actors in the pool.
        threads_per_worker: CPUs each actor reserves and torch threads it uses.
        num_gpus_per_worker: GPUs each actor reserves (fractions share a GPU).
        resources: extra custom Ray resources per actor, e.g. ``{"policy_node": 1}``.
        num_cpus: CPUs of a Ray started here (default: the machine's); ignored with ``address``.
        runtime_env: Ray runtime env of the job, e.g. ``{"env_vars": {...}}``.

    Attributes:
        startup_seconds: time ``ray.init`` took (0.0 when Ray was already running).

    Raises:
        ValueError: ``workers < 1``, ``threads_per_worker < 1`` or ``num_gpus_per_worker < 0``.
        ImportError: ray is not installed (names the extra to install).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int = 2,
        threads_per_worker: int = 1,
        num_gpus_per_worker: float = 0.0,
        resources: dict[str, float] | None = None,
        num_cpus: int | None = None,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        if workers < 1 or threads_per_worker < 1 or num_gpus_per_worker < 0:
            raise ValueError(
                f"RayEngine: need workers >= 1, threads_per_worker >= 1, num_gpus_per_worker >= 0; got {workers}, "
                f"{threads_per_worker}, {num_gpus_per_worker}"
            )
        self.address, self.workers, self.threads = address, workers, threads_per_worker
        self.num_gpus, self.resources = num_gpus_per_worker, dict(resources or {})
        self.num_cpus, self.runtime_env = num_cpus, runtime_env
        self.startup_seconds = 0.0
        self._started_here = False

    def start(self) -> None:
        """Join or start Ray (idempotent); :meth:`map` calls it."""
        try:
            import ray
        except ImportError:
            raise ImportError("the ray engine needs Ray: pip install 'prmkit[ray]'") from None
        if ray.is_initialized():
            return
        begin = time.perf_counter()
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
        if self.runtime_env:
            options["runtime_env"] = self.runtime_env
        if self.address is None and self.num_cpus is not None:
            options["num_cpus"] = self.num_cpus
        ray.init(address=self.address, **options)
        self._started_here = True
        self.startup_seconds = time.perf_counter() - begin

    def shutdown(self) -> None:
        """Stop the Ray this engine started (a joined cluster keeps running)."""
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False

    def map(self, make_worker: WorkerFactory, items: Sequence[Any]) -> Iterator[Done]:
        if not items:
            return
        self.start()
        import ray
        import ray.cloudpickle as cloudpickle

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the job has one bar of its own (JobReport)
        context.print_on_execution_start = False
        rows = [{"index": i, "item": pickle.dumps(item)} for i, item in enumerate(items)]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        remote: dict[str, Any] = {"max_restarts": -1, "max_task_retries": -1}
        if self.resources:
            remote["resources"] = self.resources
        size = min(self.workers, len(items))
        # A fixed pool (min = max = size) and one item in flight per actor: the first actor to
        # finish loading its model must not queue up the items the others would have taken.
        pool = ray.data.ActorPoolStrategy(min_size=size, max_size=size, max_tasks_in_flight_per_actor=1)
        results = dataset.map_batches(
            _Actor,
            fn_constructor_args=(cloudpickle.dumps(make_worker), self.threads),
            batch_size=1,
            batch_format="numpy",
            compute=pool,
            num_cpus=self.threads,
            num_gpus=self.num_gpus or None,
            **remote,
        )
        seen: set[int] = set()
        rows = iter(results.iter_rows())
        try:
            for row in rows:
                index = int(row["index"])
                if index in seen:  # a retried item that had already come back: keep the first
                    continue
                seen.add(index)
                value = cloudpickle.loads(row["value"])
                if isinstance(value, _Failed):
                    raise value.error
                yield Done(index, value, str(row["worker"]), float(row["seconds"]), float(row["setup"]))
        finally:
            # A job that stops early (an item failed, the caller stopped reading) must free its actors
            # now: a later job on the same Ray would otherwise wait for their CPUs.
            rows.close()
