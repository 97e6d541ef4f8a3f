"""Check a harmonic-drift run the way an outsider would: on the written MusicXML files.

For every query of a run folder written by ``analyses/harmonic_drift.py`` and every rate:

* the file is valid MusicXML 4.0 (the XSD);
* its query staves, read back with music21 and put on the model's grid, are the model's
  input bars (the query as :func:`qbdi_musicology.generate.encode` reads it), bar for bar;
* the improvisation's bars have the query's lengths (pickup, final bar, meters);
* the bar triad agreement computed from the file (query staves against improvisation
  staves, :func:`qbdi_musicology.evaluate.bar_metrics`) equals the drift table's
  ``triad_agreement`` for that rate within ``--tolerance``.

Example::

    python analyses/harmonic_drift.py --queries corpus:bach-chorales --rates 0,8,inf \\
        --out runs/chorales
    python analyses/check_bar_alignment.py runs/chorales

prints one line per failing file and a summary table (pieces, files, failures by kind, the
largest agreement difference) and exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd


def _staves(score, query: bool):
    from music21 import stream

    return stream.Score([p for p in score.parts
                         if (p.partName or "").startswith("Query") == query])


def _lengths(score) -> list[float]:
    from music21 import stream

    return [round(float(m.duration.quarterLength), 6)
            for m in score.parts[0].getElementsByClass(stream.Measure)]


def check_query(folder: str) -> list[dict]:
    """One row per rate file of one query folder (see the module text)."""
    from music21 import converter

    from qbdi_musicology.bars import metric_score
    from qbdi_musicology.evaluate import bar_metrics, score_tonic_triad
    from qbdi_musicology.pianoroll import convert_score
    from qbdi_musicology.pieces import resolve_query
    from qbdi_musicology.validate import musicxml_errors

    folder_path = Path(folder)
    result = json.loads((folder_path / "result.json").read_text())
    if result.get("status") != "done":
        return [{"query": folder_path.name, "file": "", "problem": "not done: "
                 + str(result.get("error", ""))[:200]}]
    spec = result["spec"]
    score = resolve_query(spec)
    model_input = convert_score(metric_score(score)).bars
    table = pd.read_csv(folder_path / "drift.csv")
    _, _, tonic = score_tonic_triad(metric_score(score))
    rows = []
    for path in sorted(folder_path.glob("rate-*.musicxml")):
        row = {"query": folder_path.name, "file": path.name, "problem": ""}
        errors = musicxml_errors(path)
        if errors:
            row["problem"] = f"invalid MusicXML: {errors[0]}"
            rows.append(row)
            continue
        written = converter.parse(path)
        query, improv = _staves(written, True), _staves(written, False)
        q_bars = convert_score(query).bars
        if q_bars.shape != model_input.shape or not (q_bars == model_input).all():
            row["problem"] = (f"query staves differ from the model input ({q_bars.shape[0]} "
                              f"vs {model_input.shape[0]} bars)")
        elif _lengths(query) != _lengths(improv):
            row["problem"] = "improvisation bars differ in length from the query's"
        rate_text = path.stem.split("-", 1)[1]
        rate = math.inf if rate_text == "inf" else float(rate_text)
        i_bars = convert_score(improv).bars
        measured = math.nan
        if i_bars.shape == q_bars.shape:
            measured = bar_metrics(q_bars, i_bars, tonic_triad=tonic)["triad_agreement"]
        reported = float(table.loc[table["rate"].astype(float) == rate,
                                   "triad_agreement"].iloc[0])
        row.update(rate=rate, file_triad_agreement=measured, table_triad_agreement=reported,
                   difference=abs(measured - reported))
        rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run folder of analyses/harmonic_drift.py")
    parser.add_argument("--jobs", type=int, default=None,
                        help="processes (default: one per core; 1 = in this process)")
    parser.add_argument("--tolerance", type=float, default=0.02,
                        help="largest allowed agreement difference (default 0.02)")
    parser.add_argument("--csv", default=None, help="write every row to this CSV")
    args = parser.parse_args(argv)
    from qbdi_musicology.workers import resolve_jobs

    folders = sorted(str(p) for p in (Path(args.run) / "queries").iterdir()
                     if (p / "result.json").exists())
    rows: list[dict] = []
    jobs = resolve_jobs(args.jobs)
    if jobs == 1:  # everything in this process
        for found in map(check_query, folders):
            rows.extend(found)
    else:
        with ProcessPoolExecutor(jobs) as pool:
            for found in pool.map(check_query, folders, chunksize=4):
                rows.extend(found)
    frame = pd.DataFrame(rows)
    if "difference" in frame:
        late = frame["difference"] > args.tolerance
        frame.loc[late & (frame["problem"] == ""), "problem"] = "agreement differs"
    bad = frame[frame["problem"] != ""]
    for _, row in bad.iterrows():
        print(f"FAIL {row['query']}/{row['file']}: {row['problem']}")
    if args.csv:
        frame.to_csv(args.csv, index=False)
    print(f"pieces: {len(folders)}   files: {int((frame['file'] != '').sum())}   "
          f"failures: {len(bad)}")
    if "difference" in frame:
        print(f"largest |file triad agreement - table triad agreement|: "
              f"{frame['difference'].max():.4f}")
        by_rate = frame.groupby("rate")[["file_triad_agreement", "table_triad_agreement"]]
        print(by_rate.mean().round(3).to_string())
    return 1 if len(bad) else 0


if __name__ == "__main__":
    sys.exit(main())
