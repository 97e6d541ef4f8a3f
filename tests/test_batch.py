"""The batch engine: resume after a kill, bad queries, --jobs, Dask, query expansion.

The task used here is the transposition stand-in of ``test_batch_tasks`` (real music21
analysis, no model), so these tests check the engine itself: that it stores, skips,
reassembles and reports exactly what the tasks computed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from processes import kill_once_written
from qbdi_musicology.batch import (RESULT_NAME, expand_queries, make_tasks, query_dir,
                                   rate_file_name, run_batch)
from qbdi_musicology.errors import ParameterError

TESTS = Path(__file__).resolve().parent
TASK = "test_batch_tasks:transpose_task"
RATES = (0.0, 32.0, math.inf)
#: Report files that must be byte-identical between equivalent runs (timings.json is not).
DETERMINISTIC = ("drift_table.csv", "drift_table.parquet", "verdicts.csv", "summary.md",
                 "report.html")


@pytest.fixture(scope="module")
def chorales() -> list[str]:
    from music21 import corpus

    return [str(corpus.getWork(name)) for name in ("bwv66.6", "bwv1.6", "bwv10.7")]


def _batch(queries, out, **kw):
    kw.setdefault("rates", RATES)
    kw.setdefault("task_fn", TASK)
    kw.setdefault("progress", False)
    kw.setdefault("render", False)
    # One process unless a test is about the workers: starting them costs seconds.
    kw.setdefault("jobs", 1)
    return run_batch(queries, out, **kw)


def _report_bytes(out: Path) -> dict[str, bytes]:
    return {name: (out / "report" / name).read_bytes() for name in DETERMINISTIC}


def _score_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes()
            for p in sorted((out / "queries").rglob("*.musicxml"))}


@pytest.fixture(scope="module")
def reference(chorales, tmp_path_factory) -> Path:
    """An uninterrupted single-process run over four chorales."""
    out = tmp_path_factory.mktemp("reference")
    summary = _batch(chorales, out, seed=3)
    assert summary.ran == 3 and not summary.failed
    return out


def test_reference_table_holds_what_the_tasks_computed(reference):
    table = pd.read_csv(reference / "report" / "drift_table.csv")
    assert len(table) == 3 * len(RATES)
    assert list(table["query_id"].unique()) == ["bwv66.6", "bwv1.6", "bwv10.7"]
    # The untransposed copy at full rate agrees with the chorale on every bar.
    full = table[table["rate"] == math.inf]
    assert (full["chord_agreement"] == 1.0).all()
    parquet = pd.read_parquet(reference / "report" / "drift_table.parquet")
    pd.testing.assert_frame_equal(parquet, table, check_dtype=False)
    for qid in table["query_id"].unique():
        for rate in RATES:
            assert (reference / "queries" / qid / rate_file_name(rate)).is_file()


def test_rerun_skips_finished_queries_and_keeps_bytes(chorales, reference):
    before = _report_bytes(reference)
    summary = _batch(chorales, reference, seed=3)
    assert summary.ran == 0 and summary.skipped == 3
    assert _report_bytes(reference) == before


def test_killed_batch_resumes_to_the_same_bytes(chorales, reference, tmp_path):
    out = tmp_path / "killed"
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r})\n"
            "from qbdi_musicology.batch import run_batch\n"
            f"run_batch({chorales!r}, {str(out)!r}, rates=[float(r) for r in {list(map(str, RATES))!r}], seed=3, "
            f"task_fn={TASK!r}, progress=False, render=False)\n")
    first = query_dir(out, "bwv66.6") / RESULT_NAME
    stderr = kill_once_written(code, first, timeout=120)
    assert first.exists(), stderr
    finished = sorted(p.parent.name for p in (out / "queries").glob(f"*/{RESULT_NAME}"))
    assert len(finished) < 3, "the batch ended before it could be killed"
    assert not (out / "report").exists()

    summary = _batch(chorales, out, seed=3)
    assert summary.skipped == len(finished) and summary.ran == 3 - len(finished)
    assert _report_bytes(out) == _report_bytes(reference)
    assert _score_bytes(out) == _score_bytes(reference)
    leftovers = [p for p in out.rglob(".*") if ".part" in p.name]
    assert not leftovers


def test_two_jobs_give_the_same_bytes_as_one(chorales, reference, tmp_path):
    summary = _batch(chorales, tmp_path, seed=3, jobs=2)
    assert summary.ran == 3
    assert _report_bytes(tmp_path) == _report_bytes(reference)
    assert _score_bytes(tmp_path) == _score_bytes(reference)


def test_bad_queries_are_reported_and_do_not_stop_the_batch(chorales, tmp_path):
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(b"this is not a MIDI file at all")
    queries = [chorales[0], str(tmp_path / "missing.musicxml"), str(garbage), "corpus:nope"]
    summary = _batch(queries, tmp_path / "out", rates=(0.0, math.inf))
    assert [r.status for r in summary.records] == ["done", "failed", "failed", "failed"]
    assert "no corpus named 'nope'" in summary.records[3].error
    assert "no such file" in summary.records[1].error
    assert "is not a MIDI file" in summary.records[2].error
    assert list(summary.table["query_id"].unique()) == ["bwv66.6"]
    md = (tmp_path / "out" / "report" / "summary.md").read_text()
    page = (tmp_path / "out" / "report" / "report.html").read_text()
    for text in (md, page):
        assert "missing.musicxml" in text and "garbage.mid" in text
        assert "1 of 4" in text
    # A failed query is not retried by default, and is retried on request.
    again = _batch(queries, tmp_path / "out", rates=(0.0, math.inf))
    assert again.ran == 0
    again = _batch(queries, tmp_path / "out", rates=(0.0, math.inf), retry_failed=True)
    assert again.ran == 3


def test_changed_settings_recompute(chorales, tmp_path):
    _batch(chorales[:1], tmp_path, rates=(0.0, math.inf), seed=1)
    assert _batch(chorales[:1], tmp_path, rates=(0.0, math.inf), seed=1).ran == 0
    assert _batch(chorales[:1], tmp_path, rates=(0.0, math.inf), seed=2).ran == 1
    summary = _batch(chorales[:1], tmp_path, rates=(0.0, 8.0, math.inf), seed=2)
    assert summary.ran == 1 and len(summary.table) == 3


def test_dask_local_cluster_runs_the_same_tasks(chorales, reference, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        summary = _batch(chorales, tmp_path, seed=3, dask=cluster.scheduler_address)
    assert summary.ran == 3
    assert _report_bytes(tmp_path) == _report_bytes(reference)


def test_query_expansion_folders_limits_and_ids(tmp_path):
    for name in ("b.mid", "a.musicxml", "notes.txt", "sub/c.mxl", ".hidden.mid"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    specs = expand_queries([str(tmp_path)])
    assert [Path(s).name for s in specs] == ["a.musicxml", "b.mid", "c.mxl"]
    assert len(expand_queries([str(tmp_path), str(tmp_path)], limit=4)) == 4
    tasks = make_tasks(["x/bwv1.mid", "y/bwv1.mid", "corpus:bach-chorales/bwv66.6"], RATES)
    assert [t.query_id for t in tasks] == ["bwv1", "bwv1-2", "bach-chorales_bwv66.6"]
    # Seeds depend on the batch seed and the query, not on the position in the list.
    again = make_tasks(["corpus:bach-chorales/bwv66.6"], RATES)
    assert again[0].seed == tasks[2].seed
    with pytest.raises(ParameterError):
        expand_queries(["x"], limit=0)
    # A named corpus gives its usable pieces in order (the 4/4 chorales by BWV number).
    problems: dict[str, str] = {}
    specs = expand_queries(["corpus:bach-chorales", "x.mid"], limit=2)
    assert specs == ["corpus:bach-chorales/bwv1.6", "corpus:bach-chorales/bwv2.6"]
    assert expand_queries(["corpus:nope"], problems=problems) == ["corpus:nope"]
    assert "no corpus named 'nope'" in problems["corpus:nope"]
    assert rate_file_name(32) == "rate-032.musicxml"
    assert rate_file_name(math.inf) == "rate-inf.musicxml"
    assert rate_file_name(0.5) == "rate-0.5.musicxml"


def test_result_records_are_plain_json(reference):
    record = json.loads((query_dir(reference, "bwv66.6") / RESULT_NAME).read_text())
    assert record["status"] == "done" and record["info"]["key"] == "f# minor"
    assert set(record["files"]) == {rate_file_name(r) for r in RATES}
