"""The harmonic-drift study on a Dask cluster gives the same tables as on one computer.

A scheduler and two worker *processes* listen on the loopback, as separate machines would
on a network: the workers import the package themselves and receive only task
descriptions (query names, rates, seeds) and send back results. The batch is the real one
(shipped model, sweep, drift table, annotated scores), run once in this process and once
through ``analyses/harmonic_drift.py --dask ADDRESS``; every table, record and score must
be the same bytes.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUERIES = ["corpus:bach-chorales/bwv66.6", "corpus:bach-chorales/bwv1.6"]
RATES = "0,32,inf"
#: Report files that depend only on the results (timings.json holds the clock).
REPORT_FILES = ("drift_table.csv", "drift_table.parquet", "verdicts.csv", "summary.md",
                "report.html")


def _script():
    spec = importlib.util.spec_from_file_location("harmonic_drift",
                                                  REPO / "analyses" / "harmonic_drift.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outputs(out: Path) -> dict[str, bytes]:
    """Every table, record and score of a batch folder, by path relative to it."""
    found = {f"report/{name}": (out / "report" / name).read_bytes() for name in REPORT_FILES}
    for path in sorted((out / "queries").rglob("*")):
        if path.is_file() and path.name != "timings.json":
            found[str(path.relative_to(out))] = path.read_bytes()
    return found


@pytest.mark.slow
def test_dask_cluster_of_two_worker_processes_writes_the_local_bytes(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    script = _script()
    common = ["--queries", *QUERIES, "--rates", RATES, "--overviews", "first",
              "--no-overview-image", "--quiet"]
    local, cluster_out = tmp_path / "local", tmp_path / "cluster"
    assert script.main([*common, "--out", str(local), "--jobs", "1"]) == 0

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        # The workers are processes of their own, not threads of this one.
        with distributed.Client(cluster.scheduler_address) as client:
            pids = set(client.run(lambda: __import__("os").getpid()).values())
        assert len(pids) == 2 and not pids & {__import__("os").getpid()}
        assert script.main([*common, "--out", str(cluster_out),
                            "--dask", cluster.scheduler_address]) == 0
        # The queries really ran there: the scheduler knows the batch's task names.
        names = [str(p) for p in cluster.scheduler.task_prefixes]
        assert any(name.startswith("qbdi-") for name in names), names

    mine, theirs = _outputs(local), _outputs(cluster_out)
    assert sorted(theirs) == sorted(mine)
    different = [name for name in mine if mine[name] != theirs[name]]
    assert not different, f"the cluster wrote other bytes in {different}"
    record = json.loads(mine["queries/bach-chorales_bwv66.6/result.json"])
    assert record["status"] == "done" and "seconds" not in record
    assert len([n for n in mine if n.endswith(".musicxml")]) == 2 * 3 + 1


def test_task_keys_name_the_query_and_its_settings():
    from qbdi_musicology.batch import make_tasks, task_key

    first, = make_tasks(["corpus:bach-chorales/bwv66.6"], [0.0, 32.0], seed=1)
    other, = make_tasks(["corpus:bach-chorales/bwv66.6"], [0.0, 64.0], seed=1)
    key = task_key(first, "m:f")
    assert key.startswith("qbdi-bach-chorales_bwv66.6-") and key == task_key(first, "m:f")
    # Another batch on the same cluster (other rates) never shares a result with this one.
    assert task_key(other, "m:f") != key


def test_workers_default_to_the_cores_and_one_job_runs_here():
    import os

    from qbdi_musicology.errors import ParameterError
    from qbdi_musicology.workers import Workers, available_cores, resolve_jobs

    assert 1 <= available_cores() <= (os.cpu_count() or 1)
    assert resolve_jobs(None) == available_cores() and resolve_jobs(3) == 3
    with pytest.raises(ParameterError):
        resolve_jobs(0)
    with Workers(jobs=1) as here:
        ran = []
        future = here.submit(ran.append, "x")
        assert ran == []  # run on demand, in this process
        assert future.result() is None and ran == ["x"]
        failing = here.submit(int, "not a number")
        with pytest.raises(ValueError):
            failing.result()
        # one item after the other, in order, each when its result is asked for
        done = [(item, f.result()) for item, f in here.each(pow, [2, 3, 4], 2)]
        assert done == [(2, 4), (3, 9), (4, 16)]
    with Workers(jobs=2) as two:
        found = sorted((item, f.result()) for item, f in two.each(pow, range(7), 2))
        assert found == [(n, n * n) for n in range(7)]
