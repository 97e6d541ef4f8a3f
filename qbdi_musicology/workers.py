"""Where a batch's work runs: in this process, in local worker processes, or on Dask.

A :class:`Workers` object runs functions and hands back futures (``submit(function,
*args)``, then ``future.result()``; ``each(function, items)`` for many). The batch sends it every piece of work that does not
need the output folder: one task per query (model sweep, analysis, annotated MusicXML),
then the report's pictures (the figures, the engraved scores, MuseScore's picture of a
drift overview). The process that started the batch only stores what comes back and
writes the pages, so its memory stays small and no core waits for it.

* ``Workers(jobs=1)``: everything runs here, one thing after the other (handy in a
  debugger, and what a single short job wants);
* ``Workers(jobs=4)``: four worker processes on this computer, started on first use;
* ``Workers(dask="tcp://10.0.0.5:8786")``: the workers of a Dask cluster.

What travels to a worker is the function's importable name (``module.function``) and
plain arguments (a task description, the bytes of a score); what comes back is plain data.
So a worker needs the package installed, never the output folder.

Example: the default ``--jobs`` of every command that takes one::

    available_cores()      # 2 on a two-core laptop, 8 in a job given 8 cores of a server
"""

from __future__ import annotations

import logging
import os
import sys
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable, Iterable, Iterator

from .errors import ParameterError

log = logging.getLogger(__name__)


def available_cores() -> int:
    """The number of cores this process may run on, at least 1.

    The cores the operating system lets this process use (a cluster job or ``taskset``
    may give it fewer than the machine has), else the machine's count. Every ``--jobs``
    option of the package defaults to it.
    """
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13 and later
    if counter is not None:
        found = counter()
    else:
        try:
            found = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # macOS and Windows have no affinity call
            found = os.cpu_count()
    return max(1, found or 1)


def resolve_jobs(jobs: int | None) -> int:
    """``jobs`` as given, or :func:`available_cores` for None; 0 or less is refused."""
    if jobs is None:
        return available_cores()
    if jobs < 1:
        raise ParameterError(f"--jobs {jobs}: must be 1 or more")
    return int(jobs)


def _logger_levels() -> dict[str, int]:
    # The package loggers' levels as the caller set them, to be repeated in each worker.
    names = ["qbdi_musicology"] + [n for n in logging.root.manager.loggerDict
                                   if n.startswith("qbdi_musicology.")]
    return {n: logging.getLogger(n).level for n in names if logging.getLogger(n).level}


def init_worker(threads: int, levels: dict[str, int] | None = None) -> None:
    """Set up a fresh worker process: its share of the cores, the caller's log levels."""
    # Set before torch is imported in the worker, so its thread pool has this size.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    for name, level in (levels or {}).items():
        logging.getLogger(name).setLevel(level)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


class Deferred:
    """The future of work done here: it runs when its result is first asked for.

    Running on demand keeps ``jobs=1`` what it always was: one task after the other, each
    stored before the next starts, so an interrupted batch keeps what it finished.
    """

    def __init__(self, function: Callable[..., Any], args: tuple) -> None:
        self._call: tuple[Callable[..., Any], tuple] | None = (function, args)
        self._future: Future = Future()

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> Any:
        if self._call is not None:
            function, args = self._call
            self._call = None
            try:
                self._future.set_result(function(*args))
            except Exception as exc:  # noqa: BLE001 - raised again just below, as is
                self._future.set_exception(exc)
        return self._future.result(timeout)


class Workers:
    """Runs functions here, in ``jobs`` local processes, or on a Dask cluster.

    ``jobs=None`` means one process per available core. ``dask`` is a scheduler address
    (``tcp://host:8786``) or a ``dask.distributed.Client``; it wins over ``jobs``. Use it
    as a context manager: leaving it stops the local processes (or the connection to
    the scheduler; the cluster itself keeps running).
    """

    def __init__(self, jobs: int | None = 1, dask: Any = None) -> None:
        self.jobs = resolve_jobs(jobs)
        self._dask_address = dask
        self._client: Any = None
        self._own_client = False
        self._pool: Any = None
        if dask is not None:
            self.kind = "dask"
            self._connect()
        elif self.jobs > 1:
            self.kind = "processes"
        else:
            self.kind = "here"

    # -- setting up ---------------------------------------------------------------------

    def _connect(self) -> None:
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise ParameterError("--dask needs dask.distributed: "
                                 "pip install 'qbdi-musicology[dask]'") from exc
        address = self._dask_address
        self._own_client = not isinstance(address, Client)
        try:
            self._client = Client(address) if self._own_client else address
        except (OSError, TimeoutError, ValueError) as exc:
            raise ParameterError(f"--dask {address}: cannot reach the Dask scheduler "
                                 f"({exc}); give its address, e.g. tcp://10.0.0.5:8786"
                                 ) from exc

    def _local_pool(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            threads = max(1, available_cores() // self.jobs)
            # "spawn": workers start clean, so no lock or thread state (torch, tqdm) is
            # inherited. Processes start as work arrives, up to `jobs` of them.
            self._pool = ProcessPoolExecutor(
                max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker, initargs=(threads, _logger_levels()))
        return self._pool

    @property
    def description(self) -> str:
        """Where the work runs, in words: ``'2 worker processes'``, ``'this process'``..."""
        if self.kind == "dask":
            try:
                count = len(self._client.scheduler_info().get("workers", {}))
            except Exception:  # noqa: BLE001 - only a description
                count = 0
            where = f" at {self._client.scheduler.address}" if self._client else ""
            return f"a Dask cluster{where} ({count} workers)" if count else "a Dask cluster"
        if self.kind == "processes":
            return f"{self.jobs} worker processes"
        return "this process"

    @property
    def parallel(self) -> int:
        """How many things can run at once (for a Dask cluster: its worker threads now)."""
        if self.kind == "dask":
            try:
                workers = self._client.scheduler_info().get("workers", {}).values()
                return max(1, sum(int(w.get("nthreads", 1)) for w in workers))
            except Exception:  # noqa: BLE001 - a count for a message
                return 1
        return self.jobs

    # -- running ------------------------------------------------------------------------

    def submit(self, function: Callable[..., Any], *args: Any, key: str | None = None
               ) -> Any:
        """Start ``function(*args)``; return a future (``.result()`` waits and returns).

        ``function`` must be importable by name in a worker (a module-level function of
        the package); ``key`` names the work on a Dask cluster (its dashboard shows it).
        With ``jobs=1`` the function runs here, when its result is first asked for.
        """
        if self.kind == "here":
            return Deferred(function, args)
        if self.kind == "processes":
            return self._local_pool().submit(function, *args)
        options = {"pure": False}
        if key is not None:
            options["key"] = key
        return self._client.submit(function, *args, **options)

    def each(self, function: Callable[..., Any], items: Iterable[Any], *extra: Any,
             key: Callable[[Any], str] | None = None) -> Iterator[tuple[Any, Any]]:
        """Run ``function(item, *extra)`` for every item; yield ``(item, future)`` as each
        finishes (``jobs=1``: in the order given, each run when its result is asked for).

        Only twice as many items as can run at once are sent ahead: work submitted while
        the items run (the report's pictures of the first pieces) starts before the rest of
        the items instead of after all of them, and neither this process nor a cluster
        holds more than a few results that nobody has collected yet. ``key(item)`` names
        an item's work on a Dask cluster.
        """
        waiting = deque(items)
        window = 1 if self.kind == "here" else 2 * self.parallel
        running: dict[Any, Any] = {}
        while waiting or running:
            while waiting and len(running) < window:
                item = waiting.popleft()
                name = key(item) if key is not None else None
                running[self.submit(function, item, *extra, key=name)] = item
            for future in self._finished(running):
                yield running.pop(future), future
            future = None  # the caller has stored the result: let it go

    def _finished(self, running: dict[Any, Any]) -> list[Any]:
        """At least one finished future of ``running`` (waiting for it), in submission order."""
        if self.kind == "here":
            return [next(iter(running))]
        if self.kind == "processes":
            from concurrent.futures import FIRST_COMPLETED, wait

            done = wait(list(running), return_when=FIRST_COMPLETED).done
        else:
            from dask.distributed import wait

            done = wait(list(running), return_when="FIRST_COMPLETED").done
        return [f for f in running if f in done]

    def close(self) -> None:
        """Stop the local processes (after their work) or leave the Dask cluster."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None and self._own_client:
            self._client.close()
        self._client = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
