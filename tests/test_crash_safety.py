"""A batch killed at random moments and resumed ends exactly like an uninterrupted one.

``analyses/harmonic_drift.py`` runs four four-bar queries at three rates with a tiny model.
The reference run is uninterrupted; it is watched to learn how long the start-up, each
query and the final report take. The test run is killed with SIGKILL (no chance to clean
up: the worst case, like a power cut) ten times, each time after a seeded random delay
drawn over the work still left (start-up, the unfinished queries, the report), and resumed
with the same command (alternating ``--jobs 1`` and ``--jobs 2``); then it runs to the end.
Then:

* the MusicXML and CSV files are byte-identical to the reference run's, and the same
  files exist (nothing missing, nothing extra);
* no temporary or partial file (``*.part*``) remains anywhere under the output folder;
* after every kill, every ``result.json`` that exists is complete JSON and its table is
  there (a finished mark never points to missing or broken work).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from test_determinism import (COMPARED, PROGRESSIONS, assert_same_files, cadence_xml,
                              drift_batch, mbi)

KILLS = 10
SEED = 2019
TIMEOUT = 600


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("crash_inputs")
    good = mbi.write_good_files(folder)
    made = {"model": good[mbi.GOOD_MODEL]}
    for name in PROGRESSIONS:
        path = folder / f"cadence_{name}.musicxml"
        path.write_text(cadence_xml(name, f"Cadence {name}"), encoding="utf-8")
        made[name] = path
    return made


@dataclass
class Timing:
    """When the reference run finished its first and last query, and its total time."""

    first: float
    last: float
    total: float
    queries: int

    @property
    def per_query(self) -> float:
        return (self.last - self.first) / max(1, self.queries - 1)

    @property
    def startup(self) -> float:
        return max(0.5, self.first - self.per_query)

    def delay(self, rng: random.Random, left: int) -> float:
        """A random moment in a run that still has ``left`` queries to do."""
        remaining = self.per_query * left + (self.total - self.last)
        return rng.uniform(0.6, 1.0) * self.startup + rng.uniform(0.0, 1.0) * remaining


def _finished(out: Path) -> int:
    return sum(1 for _ in out.glob("queries/*/result.json"))


def _reference_run(out: Path, inputs: dict) -> Timing:
    started = time.perf_counter()
    proc = drift_batch(out, inputs, jobs=1)
    seen: list[float] = []
    while proc.poll() is None:
        count = _finished(out) if out.exists() else 0
        while len(seen) < count:
            seen.append(time.perf_counter() - started)
        time.sleep(0.1)
    _, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    total = time.perf_counter() - started
    queries = len(PROGRESSIONS)
    seen += [total] * (queries - len(seen))
    return Timing(first=seen[0], last=seen[-1], total=total, queries=queries)


def _run_to_end(out: Path, inputs: dict, jobs: int) -> None:
    proc = drift_batch(out, inputs, jobs)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err[-3000:]


def _kill_after(out: Path, inputs: dict, jobs: int, delay: float) -> bool:
    """Start the batch, SIGKILL its whole process group after ``delay`` s; True if killed."""
    proc = drift_batch(out, inputs, jobs)
    try:
        proc.communicate(timeout=delay)
        return False  # finished before the kill
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return True


def _partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".part" in p.name]


def _check_finished_marks(out: Path) -> list[str]:
    problems = []
    for mark in out.rglob("result.json"):
        try:
            record = json.loads(mark.read_text(encoding="utf-8"))
        except ValueError:
            problems.append(f"{mark} is not complete JSON")
            continue
        if record.get("status") == "done":
            if not (mark.parent / "drift.csv").is_file():
                problems.append(f"{mark} says done but drift.csv is missing")
            for name in record.get("files", []):
                if not (mark.parent / name).is_file():
                    problems.append(f"{mark} lists {name}, which is missing")
    return problems


@pytest.mark.slow
def test_killed_and_resumed_batch_equals_uninterrupted_run(inputs, tmp_path) -> None:
    reference = tmp_path / "reference"
    timing = _reference_run(reference, inputs)
    rng = random.Random(SEED)
    resumed = tmp_path / "resumed"
    kills = attempts = 0
    log = []
    # The reference run's timing may not fit later runs (a quieter or busier machine, a
    # resumed run with less left to do): each run that finishes before its kill halves the
    # delays that follow, so the kills keep landing somewhere in the run.
    scale = 1.0
    while kills < KILLS and attempts < 3 * KILLS:
        left = len(PROGRESSIONS) - (_finished(resumed) if resumed.exists() else 0)
        delay = max(0.2, timing.delay(rng, left) * scale)
        killed = _kill_after(resumed, inputs, jobs=1 + attempts % 2, delay=delay)
        attempts += 1
        kills += killed
        if not killed:
            scale *= 0.5
        log.append(f"{delay:.1f}s/{left} left/{'killed' if killed else 'finished'}")
        problems = _check_finished_marks(resumed)
        assert not problems, f"after kill {kills}: {problems}"
    assert kills == KILLS, f"only {kills} of {attempts} runs were killed before finishing"
    _run_to_end(resumed, inputs, jobs=1)
    print(f"\nreference {timing.total:.1f} s (start-up ~{timing.startup:.1f} s, "
          f"{timing.per_query:.1f} s per query); runs: {', '.join(log)}")
    files = assert_same_files(reference, resumed)
    assert any(name.endswith(".musicxml") for name in files)
    assert "report/drift_table.csv" in files
    leftover = _partials(resumed)
    assert not leftover, f"partial files remain: {leftover}"
    # The same files exist, whatever their kind (figures, HTML, JSON included).
    names = {str(p.relative_to(reference)) for p in reference.rglob("*") if p.is_file()}
    again = {str(p.relative_to(resumed)) for p in resumed.rglob("*") if p.is_file()}
    assert names == again
    assert {Path(n).suffix for n in names} >= set(COMPARED) - {".mxl", ".mid"}


@pytest.mark.slow
def test_batch_survives_broken_queries(inputs, tmp_path) -> None:
    """Broken query files are recorded as failed, one line each; the good query is analysed."""
    names = ["midi_truncated.mid", "xml_billion_laughs.musicxml", "mxl_zip_bomb.mxl",
             "midi_percussion_only.mid", "xml_undeclared_part.musicxml"]
    bad = mbi.generate(tmp_path / "bad", only=set(names))
    out = tmp_path / "out"
    proc = subprocess.run(
        [os.sys.executable, str(Path(__file__).resolve().parents[1] / "analyses" /
                                "harmonic_drift.py"),
         "--queries", str(inputs["C"]), *(str(bad[n]) for n in names), "--rates", "0,inf",
         "--model", str(inputs["model"]), "--out", str(out), "--no-overview-image", "--quiet"],
        capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    failed = [line for line in proc.stdout.splitlines() if line.strip().startswith("failed:")]
    assert len(failed) == len(names), proc.stdout
    for name in names:
        assert any(Path(name).stem in line for line in failed), (name, failed)
    assert "1 of 6 pieces analysed" in proc.stdout
    assert not _partials(out)


def test_damaged_parse_cache_is_read_again_not_trusted(inputs, tmp_path) -> None:
    """Cache files cut short (a killed write on a full disk) or holding a pickle are ignored:
    the corpus is parsed again and gives the same bars."""
    import shutil

    import numpy as np

    from qbdi_musicology.corpus import load_corpus

    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("C", "G"):
        shutil.copy(inputs[name], folder / inputs[name].name)
    cache = tmp_path / "cache"
    first = load_corpus(folder, cache_dir=cache, progress=False)
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files and first.n_pieces == 2 and first.n_bars == 8
    for i, path in enumerate(files):
        if i % 2:
            path.write_bytes(path.read_bytes()[:40])
        else:  # an object array: only np.load(allow_pickle=True) would run its pickle
            with open(path, "wb") as fh:
                np.savez(fh, bars=np.array([open], dtype=object))
    again = load_corpus(folder, cache_dir=cache, progress=False)
    assert again.pieces == first.pieces
    assert np.array_equal(again.bars, first.bars)
