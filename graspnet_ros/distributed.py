"""Data jobs (generation, annotation, evaluation) on a ``dask.distributed`` cluster.

``--scheduler ADDRESS`` of ``data generate``, the annotation runner and
``eval`` submits one task per object, scene or scene evaluation to the
scheduler at ADDRESS (e.g. ``tcp://10.0.0.5:8786``, started with ``dask
scheduler``; workers with ``dask worker tcp://10.0.0.5:8786 --nworkers N
--nthreads 1`` on every machine). ``local`` starts a LocalCluster of
``workers`` single-threaded processes on 127.0.0.1 for this job. Without
``--scheduler`` the local process pool is used, as before.

The workers must see the dataset root at the same path (NFS or similar)
and have this package installed. Tasks are pure functions of files: each
writes its outputs atomically (temporary name in the destination folder,
then rename) and returns immediately when they are already complete, so a
killed worker's task simply runs again on another worker and a killed job
resumes from any worker set. Results (small) come back to the client.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

#: ``--scheduler local``: a LocalCluster for this job
LOCAL = "local"


@contextmanager
def dask_client(scheduler: Any, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``: an address (``tcp://host:8786``),
    ``local`` (a LocalCluster of ``workers`` processes, one thread each, on
    127.0.0.1, with ``env`` set in each worker before it starts), or an
    existing Client (used as is, not closed)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pinned in requirements.txt; a clear message for partial installs
        raise ImportError(f"--scheduler needs dask.distributed ({exc}); pip install dask distributed") from exc
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if not isinstance(scheduler, str) or not scheduler:
        raise ValueError(f"--scheduler: expected 'local' or a scheduler address like tcp://host:8786, "
                         f"got {scheduler!r}")
    if scheduler == LOCAL:
        if workers < 1:
            raise ValueError(f"--scheduler local needs --workers >= 1, got {workers}")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", env=dict(env or {}))
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout="30s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"--scheduler {scheduler}: no dask scheduler answers there ({exc}); start one with "
                         "`dask scheduler` and workers with `dask worker ADDRESS`, or use --scheduler local") from None
    try:
        yield client
    finally:
        client.close()


def submit_all(client: Any, fn: Callable, jobs: Sequence[tuple], name: str,
               ids: Sequence[Any] | None = None) -> Iterator[tuple[int, Any]]:
    """Submit ``fn(*job)`` for every job and yield ``(job index, result)`` as
    tasks finish (any order). Keys read ``name-id-...`` on the dashboard. A
    task whose worker dies is rerun elsewhere by the scheduler (up to
    ``distributed.scheduler.allowed-failures`` times); a task that raises
    cancels the rest and re-raises here."""
    from distributed import as_completed

    ids = list(range(len(jobs))) if ids is None else list(ids)
    tag = uuid.uuid4().hex[:8]
    futures = [client.submit(fn, *job, key=f"{name}-{ids[k]}-{tag}", pure=False) for k, job in enumerate(jobs)]
    index = {f.key: k for k, f in enumerate(futures)}
    try:
        for future in as_completed(futures):
            yield index[future.key], future.result()
    except BaseException:
        client.cancel(futures)
        raise


def executor(client: Any) -> Any:
    """A ``concurrent.futures.Executor`` on the cluster (for APIs that take ``executor=``)."""
    return client.get_executor(pure=False)


def describe(client: Any) -> str:
    """One line: scheduler address, workers and threads."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    return f"dask scheduler {info.get('address', '?')}: {len(workers)} workers, {threads} threads"


__all__ = ["LOCAL", "dask_client", "describe", "executor", "submit_all"]
