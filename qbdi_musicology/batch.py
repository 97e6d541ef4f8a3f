"""The batch engine behind ``analyses/harmonic_drift.py``: a model x queries x rates.

This module is the generic, resumable runner (tasks, result folders, local processes or a
Dask cluster, the assembled table and the report); what one task does for the drift study
(sweep, drift table, annotated scores) is :mod:`qbdi_musicology.pipeline`.

One *task* is one query piece swept over every rate. A task runs anywhere (this process,
local worker processes, by default one per core, or a Dask cluster: see
:mod:`qbdi_musicology.workers`) and returns plain data: a table with one row per rate and
the bytes of the files it made (annotated MusicXML per rate, the drift overview). The
report's figures and pictures are made by the same workers. Only this process writes
files, each one atomically, into ``<out>/queries/<query-id>/``; a task's ``result.json``
is written last, so its presence means the task is finished, and it holds only what does
not depend on where or when the task ran (its times are in ``timings.json`` beside it).
A rerun skips finished tasks, and the final tables are always assembled from those
folders, so an interrupted-then-resumed batch, or one run on a cluster, ends with the same
bytes as an uninterrupted one in one process.

Example: the first five Bach chorales at four rates, on two cores::

    summary = run_batch(["corpus:bach-chorales"], "reports/demo", limit=5,
                        rates=[0, 32, 256, math.inf], jobs=2)
    summary.table.groupby("rate")["tonic_share"].mean()

A query that cannot be read or analysed is recorded as failed with the reason; it never
stops the batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import io
import json
import logging
import math
import os
import re
import time
import traceback
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pandas as pd

from .errors import InputError, ParameterError, QbdiError
from .fileio import code_fingerprint, write_bytes_atomic, write_text_atomic
from .rates import OVERVIEW_FILE, rate_file_name, rate_label  # noqa: F401 (used by callers)
from .workers import Workers, available_cores, resolve_jobs  # noqa: F401 (used by callers)

log = logging.getLogger(__name__)

#: The rates of a default sweep, in bits per bar (``inf`` bypasses the channel).
DEFAULT_RATES: tuple[float, ...] = (0.0, 8.0, 32.0, 64.0, 128.0, 256.0, 512.0, math.inf)

#: The task function of the real analysis: query -> model sweep -> drift table + scores.
#: The task of ``analyses/harmonic_drift.py``: :func:`qbdi_musicology.pipeline.drift_task`.
DEFAULT_TASK = "qbdi_musicology.pipeline:drift_task"

#: File suffixes read as scores when a folder is given as a query.
SCORE_SUFFIXES = (".mid", ".midi", ".musicxml", ".xml", ".mxl", ".krn", ".abc")

RESULT_NAME = "result.json"
TABLE_NAME = "drift.csv"
#: Per query, the wall and CPU seconds of each stage of its task (not part of the result).
TIMINGS_NAME = "timings.json"
FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------
# Tasks and their outputs
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueryTask:
    """One query piece to sweep over all rates.

    ``spec`` is what the user (or a corpus expansion) named: a file path or
    ``corpus:NAME/piece``. ``query_id`` is a short, file-safe, unique name used for the
    query's folder, e.g. ``bach-chorales_bwv66.6``. ``seed`` is this query's own seed,
    derived from the batch seed and the query id so that it does not depend on the order
    or the parallelism of the batch.
    """

    position: int
    spec: str
    query_id: str
    rates: tuple[float, ...]
    seed: int
    model: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    problem: str = ""  # known before running (e.g. an unknown corpus): the task just fails

    def option(self, name: str, default: Any = None) -> Any:
        """The value of a task option (e.g. ``"overview"``), or ``default``."""
        return dict(self.options).get(name, default)

    def fingerprint(self, task_fn: str) -> dict:
        """What must match for a finished result to be reused on a rerun.

        The package's own code is part of it (:func:`code_fingerprint`): a result made by
        another version of the analysis is made again, never silently kept.
        """
        return {"format": FORMAT_VERSION, "spec": self.spec, "seed": self.seed,
                "model": self.model, "rates": [rate_label(r) for r in self.rates],
                "options": [[k, v] for k, v in self.options], "task": task_fn,
                "code": code_fingerprint()}


@dataclass
class QueryOutput:
    """What a task function returns: a per-rate table, files to write, facts about the piece.

    ``table`` has one row per rate and a ``rate`` column; ``files`` maps a file name (no
    folder) to its bytes; ``info`` holds JSON-able facts such as the title and the key.
    """

    table: pd.DataFrame
    files: dict[str, bytes] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskRecord:
    """The outcome of one task (``status``: done or failed), as stored in ``result.json``;
    ``seconds`` and ``cpu_seconds`` go to ``timings.json`` beside it."""

    query_id: str
    spec: str
    position: int
    status: str
    error: str = ""
    files: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "done"


class StageClock:
    """Adds up wall time and CPU time per named stage: ``with clock("sweep"): ...``.

    On a shared machine the wall time depends on the neighbours; the CPU time of this
    process says what the stage itself costs.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu_seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start
            self.cpu_seconds[stage] += time.process_time() - cpu


TaskFunction = Callable[[QueryTask, StageClock], QueryOutput]


def query_seed(seed: int, query_id: str) -> int:
    """A query's own seed from the batch seed: stable, order-free, 0 <= s < 2**31."""
    digest = hashlib.sha256(f"{seed}:{query_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# --------------------------------------------------------------------------------------
# Queries: files, folders, corpora -> an ordered task list
# --------------------------------------------------------------------------------------

def _safe_id(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return text[:80] or "query"


def query_id_for(spec: str) -> str:
    """A file-safe name for a query: ``corpus:bach-chorales/bwv66.6 -> bach-chorales_bwv66.6``.

    File paths give their stem (``chorales/bwv 1.mid -> bwv_1``).
    """
    if spec.startswith("corpus:"):
        return _safe_id(spec[len("corpus:"):].replace("/", "_"))
    return _safe_id(Path(spec).stem)


def _corpus_pieces(name: str, limit: int | None, jobs: int = 1
                   ) -> tuple[list[str], list[tuple[str, str]]]:
    """The first ``limit`` usable pieces of a named corpus, and the pieces it skipped.

    "Usable" is the corpus's own rule (e.g. the 4/4 chorales for ``bach-chorales``), so
    ``--limit 20`` gives twenty pieces the model can read; the skipped ones met on the
    way come back as ``(piece, reason)``. The parse is cached, so a rerun does not pay
    for it again; a whole corpus (no limit) is parsed by ``jobs`` processes the first time.
    """
    from . import corpus

    loaded = corpus.load_corpus(name, limit=limit, progress=False, workers=jobs)
    return list(loaded.pieces), [(str(p), str(r)) for p, r in loaded.skipped]


def expand_queries(queries: Sequence[str], limit: int | None = None,
                   problems: dict[str, str] | None = None, jobs: int = 1) -> list[str]:
    """Turn what the user typed into an ordered list of single-piece query specs.

    * a file stays itself;
    * a folder gives its score files (``.mid``, ``.musicxml``, ``.mxl``...), sorted by path;
    * ``corpus:NAME`` gives every piece of the corpus as ``corpus:NAME/piece``;
    * ``corpus:NAME/piece`` stays itself.

    ``limit`` keeps the first ``limit`` pieces of the whole list (``--limit 20`` on
    ``corpus:bach-chorales`` is the first twenty chorales). A spec that names nothing
    (a missing file, an unknown corpus) is kept as it is, so that the batch reports it as a
    failed query rather than silently dropping it; ``problems`` (if given) receives the
    reason, e.g. ``{"corpus:nope": "no corpus named 'nope' ..."}``. ``jobs`` processes
    parse a whole corpus that is not in the parse cache yet.
    """
    problems = {} if problems is None else problems
    if limit is not None and limit < 1:
        raise ParameterError(f"--limit {limit}: must be 1 or more")
    specs: list[str] = []
    extra: list[str] = []  # skipped corpus pieces, listed after the others
    for raw in queries:
        spec = str(raw).strip()
        if limit is not None and len(specs) >= limit:
            break
        if not spec:
            continue
        if spec.startswith("corpus:"):
            body = spec[len("corpus:"):]
            if "/" in body:
                specs.append(spec)
                continue
            wanted = None if limit is None else limit - len(specs)
            try:
                pieces, skipped = _corpus_pieces(body, wanted, jobs)
                specs.extend(f"corpus:{body}/{p}" for p in pieces)
                # Pieces the corpus could not use (another meter, a broken file) are
                # reported as failed queries; they do not count toward the limit.
                for piece, reason in skipped:
                    problems[f"corpus:{body}/{piece}"] = f"skipped by the corpus: {reason}"
                extra.extend(f"corpus:{body}/{piece}" for piece, _ in skipped)
            except QbdiError as exc:
                problems[spec] = " ".join(str(exc).split())
                specs.append(spec)
            continue
        path = Path(spec)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in SCORE_SUFFIXES
                           and not p.name.startswith("."))
            if not found:
                problems[spec] = (f"folder {path} holds no score files "
                                  f"({', '.join(SCORE_SUFFIXES)})")
                specs.append(spec)
            specs.extend(str(p) for p in found)
        else:
            specs.append(spec)
    specs = specs[:limit] if limit is not None else specs
    return specs + [e for e in extra if e not in specs]


def make_tasks(specs: Sequence[str], rates: Sequence[float], *, seed: int = 0,
               model: str | None = None, options: dict[str, Any] | None = None,
               problems: dict[str, str] | None = None) -> list[QueryTask]:
    """One task per query spec, with unique ids (a repeated name gets ``-2``, ``-3``...)."""
    rates = tuple(float(r) for r in rates)
    if not rates:
        raise ParameterError("no rates given; give bits per bar like 0,8,32,inf")
    seen: dict[str, int] = {}
    tasks = []
    opts = tuple(sorted((options or {}).items()))
    for position, spec in enumerate(specs):
        base = query_id_for(spec)
        count = seen.get(base, 0) + 1
        seen[base] = count
        qid = base if count == 1 else f"{base}-{count}"
        tasks.append(QueryTask(position, spec, qid, rates, query_seed(seed, qid), model, opts,
                               (problems or {}).get(spec, "")))
    return tasks


# --------------------------------------------------------------------------------------
# Running one task (in any process)
# --------------------------------------------------------------------------------------

def resolve_task_function(path: str) -> TaskFunction:
    """Import a task function named ``"package.module:function"``."""
    module_name, _, attr = path.partition(":")
    if not attr:
        raise ParameterError(f"task function {path!r}: expected 'module:function'")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ParameterError(f"task function {path!r} cannot be imported: {exc}") from exc


@dataclass
class TaskOutcome:
    """What travels back from a worker: the record, the table as CSV text, the files."""

    record: TaskRecord
    table_csv: str = ""
    files: dict[str, bytes] = field(default_factory=dict)


def _table_csv(table: pd.DataFrame) -> str:
    if "rate" not in table.columns:
        raise QbdiError("the task returned a table without a 'rate' column")
    buffer = io.StringIO()
    # Python's repr of floats round-trips exactly, so a resumed batch reads back the
    # very numbers an uninterrupted one holds in memory.
    table.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def execute(task: QueryTask, task_fn: str = DEFAULT_TASK) -> TaskOutcome:
    """Run one task and capture its outcome; never raises for a bad query.

    A :class:`QbdiError` (unreadable file, unknown corpus piece, a piece that does not fit
    the grid...) becomes a failed record with its message; any other exception too, with
    its type name, so that one odd piece cannot stop a batch of hundreds.
    """
    clock = StageClock()
    cpu_start = time.process_time()
    record = TaskRecord(task.query_id, task.spec, task.position, "failed",
                        fingerprint=task.fingerprint(task_fn))
    try:
        if task.problem:
            raise InputError(task.problem)
        function = resolve_task_function(task_fn)
        output = function(task, clock)
        with clock("tables"):
            table_csv = _table_csv(output.table)
        record.status = "done"
        record.files = sorted(output.files)
        record.info = output.info
        record.seconds = dict(clock.seconds)
        record.cpu_seconds = {**clock.cpu_seconds, "total": time.process_time() - cpu_start}
        return TaskOutcome(record, table_csv, dict(output.files))
    except QbdiError as exc:
        record.error = " ".join(str(exc).split())
    except Exception as exc:  # noqa: BLE001 - a batch must survive any one bad piece
        log.debug("query %s failed:\n%s", task.spec, traceback.format_exc())
        record.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    record.seconds = dict(clock.seconds)
    record.cpu_seconds = {**clock.cpu_seconds, "total": time.process_time() - cpu_start}
    return TaskOutcome(record)


# --------------------------------------------------------------------------------------
# The work folder: storing, finding and reading finished tasks
# --------------------------------------------------------------------------------------

def query_dir(out: Path, query_id: str) -> Path:
    """Folder of one query's outputs: ``<out>/queries/<query-id>``."""
    return Path(out) / "queries" / query_id


def _remove_partials(folder: Path) -> None:
    # A killed process leaves its temporary files (".name.xyz.part.suffix") behind.
    if folder.is_dir():
        for stale in folder.glob(".*.part*"):
            with contextlib.suppress(OSError):
                stale.unlink()


def store_outcome(out: Path, outcome: TaskOutcome) -> Path:
    """Write a task's files, its table and finally its ``result.json``, each atomically."""
    record = outcome.record
    folder = query_dir(out, record.query_id)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_partials(folder)
    for name, data in sorted(outcome.files.items()):
        if Path(name).name != name or name in (RESULT_NAME, TABLE_NAME, TIMINGS_NAME):
            raise QbdiError(f"task for {record.spec} returned a bad file name {name!r}")
        write_bytes_atomic(folder / name, data)
    if record.ok:
        write_text_atomic(folder / TABLE_NAME, outcome.table_csv)
    # The times depend on the machine and its neighbours, the result does not: they go in
    # a file of their own, so result.json is the same bytes wherever the task ran.
    write_text_atomic(folder / TIMINGS_NAME, json.dumps(
        {"wall": record.seconds, "cpu": record.cpu_seconds}, indent=1, sort_keys=True))
    # result.json last: its presence is the mark of a finished task.
    stored = {k: v for k, v in asdict(record).items() if k not in ("seconds", "cpu_seconds")}
    write_text_atomic(folder / RESULT_NAME, json.dumps(stored, indent=1, sort_keys=True))
    return folder


def load_record(out: Path, task: QueryTask, task_fn: str) -> TaskRecord | None:
    """The stored record of ``task`` if it finished with the same settings, else None."""
    path = query_dir(out, task.query_id) / RESULT_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = TaskRecord(**data)
    except (OSError, ValueError, TypeError):
        return None
    if record.fingerprint != task.fingerprint(task_fn) or record.spec != task.spec:
        return None
    if record.ok and not (query_dir(out, task.query_id) / TABLE_NAME).is_file():
        return None
    return record


def read_query_table(out: Path, record: TaskRecord) -> pd.DataFrame:
    """One finished query's per-rate table, with the query columns in front."""
    # Floats must read back exactly; pandas >= 3 does that by default and deprecates
    # the option that older versions need.
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    table = pd.read_csv(query_dir(out, record.query_id) / TABLE_NAME, **exact)
    front = pd.DataFrame({"query_id": record.query_id, "query": record.spec,
                          "title": str(record.info.get("title", record.query_id))},
                         index=table.index)
    return pd.concat([front, table.drop(columns=[c for c in front.columns
                                                 if c in table.columns])], axis=1)


def assemble_table(out: Path, records: Sequence[TaskRecord]) -> pd.DataFrame:
    """The tidy drift table over all finished queries, in task order, read from disk."""
    parts = [read_query_table(out, r) for r in sorted(records, key=lambda r: r.position)
             if r.ok]
    if not parts:
        return pd.DataFrame(columns=["query_id", "query", "title", "rate"])
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------------------
# Running many tasks: here, on local processes, or on a Dask cluster
# --------------------------------------------------------------------------------------

def task_key(task: QueryTask, task_fn: str) -> str:
    """The name of a task on a Dask cluster: the query and a digest of its settings.

    Two batches that share a cluster (other rates, another model) never share a result:
    the scheduler treats equal keys as the same work.
    """
    digest = hashlib.sha256(json.dumps(task.fingerprint(task_fn), sort_keys=True)
                            .encode()).hexdigest()[:12]
    return f"qbdi-{task.query_id}-{digest}"


@dataclass
class BatchSummary:
    """The result of :func:`run_batch`: the table, one record per query, where things went.

    ``queries_per_minute`` is the measured throughput of this run: the queries it ran
    over its wall time from start to finished report (None when it ran none: a rerun of a
    finished batch only rebuilds the report). ``workers`` says where they ran.
    """

    out: Path
    table: pd.DataFrame
    records: list[TaskRecord]
    ran: int
    skipped: int
    seconds: dict[str, float]
    report_files: dict[str, Path] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    ran_ids: set[str] = field(default_factory=set)
    wall_seconds: float = 0.0
    workers: str = "this process"

    @property
    def failed(self) -> list[TaskRecord]:
        return [r for r in self.records if not r.ok]

    @property
    def queries_per_minute(self) -> float | None:
        if not self.ran or self.wall_seconds <= 0:
            return None
        return self.ran / (self.wall_seconds / 60.0)

    def throughput_text(self) -> str:
        """The measured throughput in words, e.g. ``'20 queries in 2.9 min on 2 worker
        processes: 6.9 queries per minute'``."""
        rate = self.queries_per_minute
        if rate is None:
            return (f"no query run now ({self.skipped} kept from an earlier run); "
                    f"report rebuilt in {self.wall_seconds:.1f} s")
        return (f"{self.ran} {'query' if self.ran == 1 else 'queries'} in "
                f"{self.wall_seconds / 60:.1f} min on {self.workers}: "
                f"{rate:.1f} queries per minute")

    def stage_split(self, cpu: bool = False) -> dict[str, float]:
        """Seconds per stage: batch stages and task stages summed over the queries run.

        ``cpu=True`` gives CPU seconds (of this process for batch stages, of the workers
        for task stages) instead of wall seconds.
        """
        own = self.cpu_seconds if cpu else self.seconds
        split = {f"batch {k}": v for k, v in own.items()}
        totals: dict[str, float] = defaultdict(float)
        for record in self.records:
            if record.query_id not in self.ran_ids:
                continue  # finished in an earlier run: its times belong to that run
            for stage, sec in (record.cpu_seconds if cpu else record.seconds).items():
                totals[stage] += sec
        split.update({f"task {k} (sum over queries)": v for k, v in sorted(totals.items())})
        return split


def run_tasks(tasks: Sequence[QueryTask], out: Path, *, task_fn: str = DEFAULT_TASK,
              jobs: int | None = 1, dask: Any = None, workers: Workers | None = None,
              progress: bool = True, retry_failed: bool = False,
              stop_after: int | None = None,
              on_record: Callable[[list[TaskRecord | None]], None] | None = None,
              ) -> tuple[list[TaskRecord], list[str]]:
    """Run every unfinished task and store it; return all records (task order) and the
    ids of the queries run now.

    Finished tasks (a ``result.json`` with the same settings) are skipped; failed ones
    too unless ``retry_failed``. ``stop_after`` ends after that many new tasks (used to
    split work into chunks and by tests). The tasks run on ``workers`` if given, else on
    ``Workers(jobs, dask)`` (see :mod:`qbdi_musicology.workers`). ``on_record`` is told,
    before the first task and after each, the records known so far in task order (None
    for a query not finished yet): the report starts its pictures from it.
    """
    out = Path(out)
    records: dict[int, TaskRecord] = {}
    pending = []
    for task in tasks:
        record = load_record(out, task, task_fn)
        if record is not None and (record.ok or not retry_failed):
            records[task.position] = record
        else:
            pending.append(task)
    if stop_after is not None:
        pending = pending[:stop_after]
    if records:
        log.info("resuming: %d of %d queries already finished", len(records), len(tasks))

    def known() -> list[TaskRecord | None]:
        return [records.get(task.position) for task in tasks]

    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    own = workers is None
    workers = Workers(jobs, dask) if own else workers
    try:
        if on_record is not None:
            on_record(known())
        # Warnings about failed pieces are printed above the bar, not through it.
        with logging_redirect_tqdm(), tqdm(total=len(pending), desc="queries", unit="query",
                                           disable=not progress, leave=False) as bar:
            # Only the task descriptions travel (a few hundred bytes each); each result
            # is stored and dropped as it arrives, so this process holds one at a time.
            for task, future in workers.each(execute, pending, task_fn,
                                             key=lambda task: task_key(task, task_fn)):
                outcome = _outcome(future, task, task_fn)
                del future
                store_outcome(out, outcome)
                record = outcome.record
                del outcome
                records[record.position] = record
                if not record.ok:
                    log.warning("query %s failed: %s", record.spec, record.error)
                bar.set_postfix_str(record.query_id[:30], refresh=False)
                bar.update(1)
                if on_record is not None:
                    on_record(known())
    finally:
        if own:
            workers.close()
    return [records[p] for p in sorted(records)], [t.query_id for t in pending]


def _outcome(future: Any, task: QueryTask, task_fn: str) -> TaskOutcome:
    """A finished task's outcome; what to do when its worker was lost rather than the piece.

    :func:`execute` turns every problem of a piece into a failed record, so an exception
    here means the worker itself went: a local worker process that died (the system ran out
    of memory, or it was killed) stops the batch; on a Dask cluster, a task whose workers
    died again and again is recorded as failed (``--retry-failed`` tries it again). Either
    way the finished pieces are kept and the same command resumes.
    """
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - told apart by kind just below
        kind = type(exc).__name__
        if kind == "KilledWorker":
            record = TaskRecord(task.query_id, task.spec, task.position, "failed",
                                error=f"the Dask workers running this piece died "
                                      f"({' '.join(str(exc).split())[:200]}); out of "
                                      f"memory? try --retry-failed",
                                fingerprint=task.fingerprint(task_fn))
            return TaskOutcome(record)
        raise QbdiError(f"the worker running {task.spec} was lost ({kind}: "
                        f"{' '.join(str(exc).split())[:200]}); finished pieces are kept: "
                        "run the same command again to resume") from exc


def run_batch(queries: Sequence[str], out: str | os.PathLike, *,
              rates: Sequence[float] = DEFAULT_RATES, limit: int | None = None,
              model: str | None = None, seed: int = 0, jobs: int | None = None,
              dask: Any = None, task_fn: str = DEFAULT_TASK,
              options: dict[str, Any] | None = None, progress: bool = True,
              report: bool = True, render: bool = True, retry_failed: bool = False,
              overviews: str = "all") -> BatchSummary:
    """Sweep every query over every rate, store per-query results, then write the report.

    The report folder ``<out>/report`` holds the tidy table (``drift_table.csv`` and
    ``.parquet``), the figures, ``report.html`` and ``summary.md`` (see
    :mod:`qbdi_musicology.report.drift_report`). ``render`` asks MuseScore (where
    installed) for a picture of the first query's drift overview score. ``overviews``:
    write the drift overview score for ``"all"`` queries, only the ``"first"`` (it is the
    costliest file: about 40 % of a query's time at eight rates) or ``"none"``.

    ``jobs``: worker processes on this computer (default: one per core; 1 runs everything
    in this process); ``dask``: a Dask scheduler's address instead. The queries and the
    report's pictures run there; this process stores the results and writes the pages.
    """
    if overviews not in ("all", "first", "none"):
        raise ParameterError(f"overviews={overviews!r}: choose all, first or none")
    jobs = resolve_jobs(jobs)
    out = Path(out)
    started = time.perf_counter()
    clock = StageClock()
    if task_fn == DEFAULT_TASK:
        # A missing model is the batch's problem, not each piece's: say it once, up front.
        from .checkpoint import resolve_model_path
        resolve_model_path(model)
    with clock("expand queries"):
        problems: dict[str, str] = {}
        specs = expand_queries(queries, limit, problems, jobs=jobs)
        if not specs:
            raise InputError("no queries given; name files, folders or corpus:NAME")
        tasks = make_tasks(specs, rates, seed=seed, model=model, options=options,
                           problems=problems)
        if overviews != "all":
            tasks = [dataclasses.replace(t, options=tuple(sorted(
                {**dict(t.options), "overview": overviews == "first" and t.position == 0}
                .items()))) for t in tasks]
    with Workers(jobs, dask) as workers, contextlib.ExitStack() as stack:
        pictures = None
        if report:
            from .report.drift_report import ReportPictures

            # The report's pictures of the first pieces start as soon as those pieces are
            # stored, so the workers draw them while the last pieces are still running.
            pictures = stack.enter_context(ReportPictures(
                out / "queries", out / "report", rates=tasks[0].rates, workers=workers,
                render=render))
        with clock("run queries"):
            records, ran_ids = run_tasks(
                tasks, out, task_fn=task_fn, workers=workers, progress=progress,
                retry_failed=retry_failed,
                on_record=pictures.update if pictures is not None else None)
        with clock("assemble table"):
            table = assemble_table(out, records)
        summary = BatchSummary(out, table, records, len(ran_ids), len(tasks) - len(ran_ids),
                               clock.seconds, ran_ids=set(ran_ids),
                               workers=workers.description)
        if report:
            from .report.drift_report import write_report

            summary.report_files = write_report(
                table, records, out / "report", queries_root=out / "queries",
                rates=tasks[0].rates, render=render, clock=clock, workers=workers,
                pictures=pictures,
                settings={"model": model or "shipped default", "seed": seed,
                          "rates": [rate_label(r) for r in tasks[0].rates],
                          "queries": list(queries), "limit": limit})
    summary.seconds = dict(clock.seconds)
    summary.cpu_seconds = dict(clock.cpu_seconds)
    summary.wall_seconds = time.perf_counter() - started
    if report:
        # The report's pages depend only on the results; the clock goes here, beside them.
        write_text_atomic(out / "report" / "timings.json", json.dumps(
            {"throughput": {"queries_run": summary.ran, "wall_seconds": summary.wall_seconds,
                            "queries_per_minute": summary.queries_per_minute,
                            "workers": summary.workers, "text": summary.throughput_text()},
             "wall": summary.stage_split(), "cpu": summary.stage_split(cpu=True)}, indent=1))
    return summary
