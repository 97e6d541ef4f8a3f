"""Roman-numeral analysis against human analyses: this package vs music21's naive pipeline.

The development set is the one of ``rn_dev_bench.py`` (in the shared tools folder): 18 Bach
chorales and 48 Monteverdi madrigals whose RomanText analyses ship with music21. Each
piece is scored on every quarter note: root, triad (root + quality), rn (the numeral
without inversion), key (the local key) and rn_key (numeral and key). music21's naive
pipeline is ``chordify``, one global key from ``analyze('key')`` and
``romanNumeralFromChord`` (written once by ``rn_dev_bench.py --baseline`` into
``--naive-dir`` and reused).

Prints the two tables (micro average over quarter notes), then this package's score minus
music21's and their ratio per column, and the analysis CPU time per chorale on one core
(parsing excluded; the target is 0.3 s).

    python bench/bench_roman.py
    python bench/bench_roman.py --tools ../shared/tools --out /tmp/rn_pred
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

METRICS = ("root", "triad", "rn", "key", "rn_key")


def _tools(path: str):
    sys.path.insert(0, path)
    import judge_chords  # noqa: F401
    import rn_dev_bench
    return rn_dev_bench


def group_of(pid: str) -> str:
    return "Bach" if pid.startswith("bach") else "Monteverdi"


def score_dir(bench, pred_dir: str) -> dict[str, dict[str, float]]:
    """Micro-averaged accuracy per corpus for the CSVs in ``pred_dir``."""
    import judge_chords
    totals: dict[str, dict[str, float]] = {}
    for pid, path, score, t in bench.pieces():
        pred = os.path.join(pred_dir, pid + ".csv")
        if not os.path.exists(pred):
            continue
        r = judge_chords.evaluate(path, pred, _score(score), 1.0, None, t)
        g = totals.setdefault(group_of(pid), {"pieces": 0, "beats": 0,
                                              **{m: 0 for m in METRICS}})
        g["pieces"] += 1
        g["beats"] += r["beats"]
        for m in METRICS:
            g[m] += r["correct"].get(m, 0)
    return {g: {"pieces": v["pieces"], "beats": v["beats"],
                **{m: v[m] / max(v["beats"], 1) for m in METRICS}} for g, v in totals.items()}


_SCORES: dict[str, object] = {}


def _score(name: str):
    if name not in _SCORES:
        from music21 import corpus
        _SCORES[name] = corpus.parse(name)
    return _SCORES[name]


def predict(bench, out_dir: str, settings=None) -> list[float]:
    """Write this package's CSV for every dev piece; return the chorale analysis times."""
    from qbdi_musicology.analysis.roman import analyse_roman
    from qbdi_musicology.analysis.romantext import to_csv
    os.makedirs(out_dir, exist_ok=True)
    times = []
    for pid, _, score, _ in bench.pieces():
        s = _score(score)
        # CPU time of this process: the cost on one core, whatever else the machine runs
        t0 = time.process_time()
        result = analyse_roman(s, settings=settings)
        dt = time.process_time() - t0
        if pid.startswith("bach"):
            times.append(dt)
        Path(out_dir, pid + ".csv").write_text(to_csv(result))
    return times


def table(title: str, rows: dict[str, dict[str, float]]) -> str:
    lines = [f"{title}", "| corpus | pieces | beats | " + " | ".join(METRICS) + " |",
             "|---|---|---|" + "---|" * len(METRICS)]
    for g in ("Bach", "Monteverdi"):
        if g in rows:
            r = rows[g]
            lines.append(f"| {g} | {r['pieces']} | {r['beats']} | "
                         + " | ".join(f"{r[m]:.3f}" for m in METRICS) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tools", default=str(REPO.parent / "shared" / "tools"),
                    help="folder with rn_dev_bench.py and judge_chords.py")
    ap.add_argument("--naive-dir", default=os.path.join(tempfile.gettempdir(), "qbdi_rn_naive"),
                    help="music21's naive labels (written here first if missing)")
    ap.add_argument("--out", default=None, help="write this package's CSVs here (default: "
                                                "a temporary folder)")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    bench = _tools(a.tools)
    n_pieces = len(bench.pieces())
    if not os.path.isdir(a.naive_dir) or len(os.listdir(a.naive_dir)) < n_pieces:
        print(f"writing music21's naive labels to {a.naive_dir} ...", file=sys.stderr)
        bench.baseline(a.naive_dir)
    with tempfile.TemporaryDirectory() as tmp:
        out = a.out or tmp
        times = predict(bench, out)
        ours = score_dir(bench, out)
    naive = score_dir(bench, a.naive_dir)
    print(table("music21 naive (chordify + global key + romanNumeralFromChord)", naive))
    print()
    print(table("qbdi-musicology analyse_roman", ours))
    print()
    print("| corpus | " + " | ".join(f"{m} diff (ratio)" for m in METRICS) + " |")
    print("|---|" + "---|" * len(METRICS))
    for g in ("Bach", "Monteverdi"):
        if g in ours and g in naive:
            cells = [f"{ours[g][m] - naive[g][m]:+.3f} ({ours[g][m] / max(naive[g][m], 1e-9):.2f})"
                     for m in METRICS]
            print(f"| {g} | " + " | ".join(cells) + " |")
    if times:
        print(f"\nanalysis CPU time per chorale (parsing excluded, one core): "
              f"mean {sum(times) / len(times):.3f} s, max {max(times):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
