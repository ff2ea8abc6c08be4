"""Where extraction's per-clip tasks run: local processes (joblib's loky) or a dask.distributed
cluster through joblib's dask backend. Workers only return arrays; the calling process writes
the store, so the result is byte-identical whichever backend ran the tasks, and a worker lost
mid-run only costs its tasks, which the scheduler runs again on another worker."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path
from typing import Callable, Iterable, Iterator

from avemo.errors import ConfigError

log = logging.getLogger(__name__)
BACKENDS = ("local", "dask")


class _AbortNoise(logging.Filter):
    """Drops what joblib's completion callbacks log when a run stops early (a full disk, a
    refused write, Ctrl-C) while workers still finish tasks: their attempt to dispatch more to
    the executor just shut down (``ShutdownExecutorError``) is the abort working, not an error;
    the run's own one-line message is what the user needs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "ShutdownExecutorError"


logging.getLogger("concurrent.futures").addFilter(_AbortNoise())


def _parallel(tasks: Iterator, **kwargs) -> Iterator:
    """joblib's ``Parallel`` as a generator of results in input order; when the caller stops
    early, the remaining tasks are cancelled at once and quietly."""
    from joblib import Parallel

    # joblib's note that tasks were cancelled or their results unused, on an early stop: expected there
    warnings.filterwarnings("ignore", message=r"\d+ tasks (have been|which were)", category=UserWarning)
    gen = Parallel(return_as="generator", batch_size=4, **kwargs)(tasks)
    try:
        yield from gen
    finally:
        gen.close()


def scratch_dir() -> Path:
    """Scratch space for caches and dask's local cluster: ``$AVEMO_CACHE`` or ``./.cache``."""
    return Path(os.environ.get("AVEMO_CACHE", ".cache")).resolve()


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[object]:
    """A client of the cluster at ``scheduler`` (``tcp://host:port``), or of a LocalCluster of
    ``workers`` single-threaded processes whose scratch stays in :func:`scratch_dir`."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - the dask extra is part of the dev install
        raise ConfigError("the dask backend needs dask.distributed: pip install 'avemo[dask]'") from exc
    local_dir = scratch_dir() / "dask"
    local_dir.mkdir(parents=True, exist_ok=True)
    with dask.config.set({"temporary-directory": str(local_dir)}):
        if scheduler:
            try:
                client = Client(scheduler, timeout="10s")
            except OSError as exc:
                raise ConfigError(f"no dask scheduler answers at {scheduler} ({exc}); start one with "
                                  f"`dask scheduler` and workers with `dask worker {scheduler} "
                                  f"--nthreads 1` (docs/pipeline.md: Scale-out)") from exc
            with client:
                threads = client.nthreads()
                if not threads:
                    raise ConfigError(f"the dask scheduler at {scheduler} has no workers: start some with "
                                      f"`dask worker {scheduler} --nthreads 1`")
                multi = sorted(w for w, n in threads.items() if n > 1)
                if multi:
                    log.warning("%d dask worker(s) run several threads (e.g. %s): start workers with "
                                "--nthreads 1 (and --nworkers N) so that one clip's BLAS pinning does "
                                "not leak into another's", len(multi), multi[0])
                yield client
        else:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None, local_directory=str(local_dir)) as cluster, \
                    Client(cluster) as client:
                yield client


def run_tasks(func: Callable, args: Iterable[tuple], jobs: int = 1, backend: str = "local",
              scheduler: str | None = None) -> Iterator:
    """``func(*a)`` for every ``a`` in ``args``, results in input order. ``local``: a plain loop
    for ``jobs == 1``, else ``jobs`` loky processes; ``dask``: the cluster at ``scheduler``, or a
    LocalCluster of ``jobs`` processes when none is given."""
    from joblib import delayed, parallel_config

    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend == "local":
        if jobs == 1:
            yield from (func(*a) for a in args)
        else:
            yield from _parallel((delayed(func)(*a) for a in args), n_jobs=jobs)
        return
    workers = jobs if jobs > 0 else (os.cpu_count() or 1)
    with dask_client(scheduler, workers), parallel_config(backend="dask"):
        yield from _parallel((delayed(func)(*a) for a in args), n_jobs=-1)
