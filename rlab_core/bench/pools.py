"""Where the samples run: here, one after the other (:class:`LocalPool`), or as Ray tasks (:class:`RayPool`).

Both map jobs (the arguments of :func:`~rlab_core.bench.samples.run_sample`) to their records as
each finishes, so the run that drives them neither knows nor cares which one it has.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from rlab_core import ROOT
from rlab_core.bench.config import BenchError
from rlab_core.bench.samples import run_sample


class LocalPool:
    """Runs the samples here, one after the other."""

    description = "in-process"

    def map(self, jobs: Iterable[tuple]) -> Iterator[list[dict]]:
        for job in jobs:
            yield run_sample(*job)

    def close(self) -> None:
        pass


class RayPool:
    """Runs each sample as a Ray task (one CPU): on a local Ray (``address=None``) or an existing
    cluster. Ray is imported only here, so a run without it never needs it installed."""

    def __init__(self, address: str | None = None) -> None:
        import ray

        self.ray = ray
        self.owned = not ray.is_initialized()  # a Ray the caller started is the caller's to shut down
        if self.owned:
            env = {"env_vars": {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}}
            options: dict[str, Any] = {"include_dashboard": False} if address is None else {}
            try:
                # ray.init annotates logging_level as int, but takes a level name too (its own default is "info").
                ray.init(address=address, runtime_env=env, log_to_driver=False, logging_level="ERROR",  # type: ignore[arg-type]
                         **options)
            except (ConnectionError, RuntimeError) as err:
                raise BenchError(f"cannot reach the Ray cluster at {address}: {str(err).splitlines()[0]}") from None
        self.task = ray.remote(num_cpus=1, max_retries=1)(run_sample)
        cpus = int(ray.cluster_resources().get("CPU", 0))
        self.description = f"Ray ({'local' if address is None else address}, {cpus} CPUs, one task per sample)"

    def map(self, jobs: Iterable[tuple]) -> Iterator[list[dict]]:
        pending = [self.task.remote(*job) for job in jobs]
        while pending:
            ready, pending = self.ray.wait(pending, num_returns=1)
            yield self.ray.get(ready[0])

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


Pool = LocalPool | RayPool


def make_pool(use_ray: bool = False, ray_address: str | None = None) -> Pool:
    """A Ray pool when asked for one (``use_ray``: a local Ray; ``ray_address``: a cluster), else a local one."""
    return RayPool(ray_address) if use_ray or ray_address else LocalPool()
