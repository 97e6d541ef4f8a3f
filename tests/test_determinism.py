"""Same seed, same bytes: MusicXML, MIDI and CSV from ``qbdi query``, ``sweep``, ``analyse``
and ``dynamics`` are byte-identical across two runs (in separate processes, with different
hash seeds), and
``analyses/harmonic_drift.py`` writes the same files with ``--jobs 1`` and ``--jobs 2``.

The model is a tiny untrained bar model written by ``tests/bad_inputs/make_bad_inputs.py``
(sparse output between middle C and the C above, so every improvisation has notes that
depend on the channel noise); the queries are four-bar cadences written as MusicXML.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE / "bad_inputs"))

import make_bad_inputs as mbi  # noqa: E402

COMPARED = (".musicxml", ".mxl", ".mid", ".csv")
TIMEOUT = 300


PROGRESSIONS = {
    "C": [("C", "E", "G"), ("F", "A", "C"), ("G", "B", "D"), ("C", "E", "G")],       # I IV V I
    "G": [("G", "B", "D"), ("C", "E", "G"), ("D", "F", "A"), ("G", "B", "D")],       # I IV V I
    "C2": [("C", "E", "G"), ("A", "C", "E"), ("D", "F", "A"), ("G", "B", "D")],      # I vi ii V
    "G2": [("G", "B", "D"), ("E", "G", "B"), ("C", "E", "G"), ("D", "F", "A")],      # I vi IV V
}


def cadence_xml(tonic: str = "C", title: str = "Cadence in C") -> str:
    """Four bars of whole-note triads in close position, 4/4: ``PROGRESSIONS[tonic]``.

    Keys starting with G read every F as F sharp (G major).
    """
    chords = PROGRESSIONS[tonic]

    def bar(i: int) -> str:
        steps = chords[i - 1]
        notes = []
        for k, step in enumerate(steps):
            alter = 1 if (tonic.startswith("G") and step == "F") else 0
            notes.append(mbi._xml_note(step, 4 if k == 0 or step >= steps[0] else 5, 4,
                                       chord=k > 0, alter=alter))
        return "".join(notes)

    return mbi.musicxml_text(measure_body=bar, title=title)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("determinism_inputs")
    good = mbi.write_good_files(folder)
    c = folder / "cadence_C.musicxml"
    g = folder / "cadence_G.musicxml"
    c.write_text(cadence_xml("C"), encoding="utf-8")
    g.write_text(cadence_xml("G", "Cadence in G"), encoding="utf-8")
    return {"model": good[mbi.GOOD_MODEL], "C": c, "G": g}


def _env(hash_seed: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = hash_seed
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def compared_files(folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every MusicXML, MIDI and CSV file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in COMPARED}


def assert_same_files(a: Path, b: Path) -> dict[str, bytes]:
    first, second = compared_files(a), compared_files(b)
    assert first, f"no MusicXML/MIDI/CSV written under {a}"
    assert sorted(first) == sorted(second), "the two runs wrote different files"
    differing = [name for name in first if first[name] != second[name]]
    assert not differing, f"bytes differ between the runs: {differing}"
    return first


PIPELINE = """
import sys
from qbdi_musicology.cli import main
for argv in {commands!r}:
    if main(argv) != 0:
        sys.exit(f"qbdi {{' '.join(argv)}} failed")
"""


def _pipeline(run: Path, inputs: dict[str, Path], hash_seed: str) -> None:
    """query, two sweeps (seeds 7 and 8), analyse and dynamics, in one fresh process."""
    run.mkdir()
    model, query = str(inputs["model"]), str(inputs["C"])
    sweep = run / "sweep"
    commands = [
        ["query", query, "--model", model, "--seed", "7", "--rate", "8",
         "--out", str(run / "improv.musicxml"), "--midi"],
        ["sweep", query, "--model", model, "--seed", "7", "--rates", "0,8,inf",
         "--out", str(sweep)],
        ["sweep", query, "--model", model, "--seed", "8", "--rates", "0,inf", "--no-midi",
         "--out", str(run / "sweep_seed8")],
        ["analyse", query, *(str(sweep / f"cadence_C_{t}.musicxml") for t in ("R0", "R8", "Rinf")),
         "--out", str(run / "analysis")],
        ["dynamics", query, str(sweep / "cadence_C_R8.musicxml"), "--out", str(run / "dynamics")],
    ]
    code = PIPELINE.format(commands=commands)
    proc = subprocess.run([sys.executable, "-c", code], cwd=run, env=_env(hash_seed),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def two_runs(inputs, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("determinism_runs")
    _pipeline(root / "a", inputs, hash_seed="1")
    _pipeline(root / "b", inputs, hash_seed="2")
    return root / "a", root / "b"


def test_query_sweep_analyse_are_byte_identical_across_runs(two_runs) -> None:
    from music21 import converter

    a, b = two_runs
    files = assert_same_files(a, b)
    names = set(files)
    # Every kind of output is covered: query and sweep scores, MIDI, the CSV tables.
    assert {"improv.musicxml", "improv.mid", "sweep/cadence_C_R8.musicxml",
            "sweep/cadence_C_R8.mid", "sweep/cadence_C_channel.csv",
            "analysis/drift.csv", "analysis/annotated_R8.musicxml",
            "dynamics/ir_curves.csv", "dynamics/motifs.csv"} <= names
    # Musically: the improvisation keeps the query's four 4/4 bars.
    improv = converter.parse(str(a / "improv.musicxml"))
    part = improv.parts[0]
    assert len(part.getElementsByClass("Measure")) == 4
    assert part.recurse().getElementsByClass("TimeSignature")[0].ratioString == "4/4"


def test_seed_changes_nothing_at_rate_0_and_inf(two_runs) -> None:
    """Seeds 7 and 8 agree where the channel adds no noise: rate inf and rate 0 (the mean)."""
    a, _ = two_runs
    for tag in ("R0", "Rinf"):
        seven = (a / "sweep" / f"cadence_C_{tag}.musicxml").read_bytes().splitlines()
        eight = (a / "sweep_seed8" / f"cadence_C_{tag}.musicxml").read_bytes().splitlines()
        assert [x for x in seven if b"seed" not in x] == [x for x in eight if b"seed" not in x]
        assert seven != eight  # ...and the seed itself is recorded in the file


def drift_batch(out: Path, inputs: dict[str, Path], jobs: int,
                extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """Start ``analyses/harmonic_drift.py`` on the cadences at rates 0, 8 and inf."""
    queries = [str(path) for key, path in sorted(inputs.items()) if key in PROGRESSIONS]
    args = [sys.executable, str(REPO / "analyses" / "harmonic_drift.py"),
            "--queries", *queries, "--rates", "0,8,inf",
            "--model", str(inputs["model"]), "--seed", "3", "--out", str(out),
            "--jobs", str(jobs), "--no-overview-image", "--quiet", *extra]
    return subprocess.Popen(args, cwd=out.parent, env=_env("0"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.slow
def test_harmonic_drift_jobs_1_and_2_write_the_same_bytes(inputs, tmp_path) -> None:
    outputs = {}
    for jobs in (1, 2):
        proc = drift_batch(tmp_path / f"jobs{jobs}", inputs, jobs)
        out, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, f"--jobs {jobs} failed:\n{err[-3000:]}"
        outputs[jobs] = tmp_path / f"jobs{jobs}"
    files = assert_same_files(outputs[1], outputs[2])
    assert "report/drift_table.csv" in files
    assert any(name.endswith("rate-008.musicxml") for name in files)
