"""``qbdi dynamics``: information rate and motifs of a query and its improvisations.

For each piece (the query, then each improvisation), the Variable Markov Oracle is built on
its beat (or bar) chroma at every threshold of the grid; the threshold with the largest
total information rate (IR) is kept and the motifs of the oracle there are marked in the
score. Written into ``--out``:

* ``ir_curves.png``: IR against the threshold, one line per piece/rate (the paper's Fig. 5);
* ``<tag>_motifs.png``: IR per beat and the motif timeline of each piece (Fig. 4);
* ``<tag>_motifs.musicxml``: the piece with its motifs coloured and labelled A1, A2...;
* ``ir_curves.csv`` (piece, rate, threshold, ir, n_symbols), ``motifs.csv`` (one row per
  motif statement) and ``dynamics_summary.csv`` (one row per piece: optimal threshold,
  max IR, motifs...). The CSVs are written last.

``<tag>`` is ``query`` for the query and ``R<rate>`` for an improvisation (its ``rate``
provenance field or ``_R<rate>`` in its file name), else its file name.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from ..errors import OutputError, ParameterError
from .common import add_command

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "dynamics",
        help="information rate (Variable Markov Oracle) and motifs of a query and its "
             "improvisations: IR curves, motif timelines, motif-coloured MusicXML and CSV",
        example="qbdi dynamics corpus:bach-chorales/bwv66.6 sweep/bwv66.6_R*.musicxml "
                "--out dynamics/")
    parser.add_argument("query", help="the query: a MusicXML/MIDI file or corpus:NAME/PIECE")
    parser.add_argument("improvisations", nargs="*", metavar="IMPROV",
                        help="improvisation files (MusicXML, .mxl or MIDI); optional")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.add_argument("--unit", choices=("beat", "bar"), default="beat",
                        help="one chroma frame per beat (default) or per bar")
    parser.add_argument("--distance", choices=("tonnetz", "cosine"), default="tonnetz",
                        help="frame distance: Tonnetz (the paper's, default) or cosine")
    parser.add_argument("--thresholds", default="0:1:0.01", metavar="START:STOP:STEP",
                        help="threshold grid, stop excluded (default 0:1:0.01, 100 values)")
    parser.add_argument("--min-length", type=int, default=None,
                        help="shortest motif in frames (default: one 4/4 bar, i.e. 4 beats "
                             "or 2 bars)")
    parser.add_argument("--min-repeats", type=int, default=2,
                        help="a motif is stated at least this many times (default 2)")
    parser.add_argument("--engine", choices=("fast", "vmo"), default="fast",
                        help="the exact fast engine (default) or the original vmo package "
                             "(same numbers, much slower)")
    parser.set_defaults(func=run)


def parse_thresholds(text: str):
    """``'0:1:0.01' -> numpy.arange(0, 1, 0.01)``; a bad or empty range is a ParameterError."""
    import numpy as np

    from ..analysis.vmo_engine import check_thresholds
    items = [t.strip() for t in str(text).split(":")]
    if len(items) != 3:
        raise ParameterError(f"--thresholds {text!r}: write START:STOP:STEP, e.g. 0:1:0.01")
    try:
        start, stop, step = (float(t) for t in items)
    except ValueError:
        raise ParameterError(f"--thresholds {text!r}: START, STOP and STEP must be numbers") \
            from None
    if not step > 0:
        raise ParameterError(f"--thresholds {text!r}: STEP must be > 0")
    return check_thresholds(np.arange(start, stop, step))


def _rate_label(rate: float | None, fallback: str) -> tuple[str, str]:
    """(file tag, figure label) of an improvisation."""
    if rate is None:
        return fallback, fallback
    text = "inf" if math.isinf(rate) else f"{rate:g}"
    return f"R{text}", ("full rate" if math.isinf(rate) else f"{text} bits/bar")


def run(args) -> int:
    import pandas as pd

    from ..analysis.dynamics import analyse_score
    from ..annotate.motifs import annotate_motifs, write_motif_score
    from ..fileio import write_text_atomic
    from ..musicxml import score_fields
    from ..report.dynamics_figures import ir_curves_figure, motif_timeline_figure
    from ..pieces import resolve_query
    from ..scoreio import load_score
    from .cmd_analyse import rate_of

    thresholds = parse_thresholds(args.thresholds)
    out = Path(args.out)
    inputs = {Path(p).resolve() for p in [args.query, *args.improvisations]
              if not str(p).startswith("corpus:")}

    loaded = []
    for k, name in enumerate(args.improvisations, start=1):
        path = Path(name)
        score = load_score(path)
        loaded.append((rate_of(path, score_fields(score)), k, path, score))
    # the query, then the improvisations from the lowest rate up (unknown rates last)
    loaded.sort(key=lambda item: (item[0] is None, item[0] or 0.0, item[1]))
    pieces = [("query", "query", None, resolve_query(args.query))]
    used = {"query"}
    for rate, k, path, score in loaded:
        tag, label = _rate_label(rate, path.stem)
        if tag in used:
            tag, label = f"{tag}_{k}", f"{label} ({k})"
        used.add(tag)
        pieces.append((tag, label, rate, score))

    analyses, curves, motif_rows, summaries = {}, [], [], []
    for tag, label, rate, score in pieces:
        log.info("analysing %s", label)
        dyn = analyse_score(score, unit=args.unit, distance=args.distance,
                            thresholds=thresholds, min_length=args.min_length,
                            min_repeats=args.min_repeats, engine=args.engine)
        analyses[label] = dyn
        rate_value = "" if rate is None else ("inf" if math.isinf(rate) else rate)
        curve = dyn.curve_table(tag)
        curve.insert(1, "rate", rate_value)
        curves.append(curve)
        table = dyn.motif_table(tag)
        table.insert(1, "rate", rate_value)
        motif_rows.append(table)
        summaries.append({"piece": tag, "rate": rate_value, **dyn.summary()})

        target = out / f"{tag}_motifs.musicxml"
        if target.resolve() in inputs:
            raise OutputError(f"{target} is one of the inputs; choose another --out folder")
        marked = annotate_motifs(score, dyn)
        write_motif_score(marked, target, fields={
            "analysis": "VMO motifs", "vmo_distance": dyn.distance, "vmo_unit": args.unit,
            "vmo_threshold": round(dyn.best_threshold, 6), "vmo_total_ir": round(dyn.max_ir, 6)})
        motif_timeline_figure(dyn, out / f"{tag}_motifs.png",
                              title=f"{label}: threshold {dyn.best_threshold:.2f}, "
                                    f"total IR {dyn.max_ir:.1f} bits, "
                                    f"{len(dyn.motifs)} motifs")

    ir_curves_figure(analyses, out / "ir_curves.png",
                     title=f"Information rate vs threshold ({args.unit} chroma)")
    write_text_atomic(out / "ir_curves.csv",
                      pd.concat(curves, ignore_index=True).to_csv(index=False))
    write_text_atomic(out / "motifs.csv",
                      pd.concat(motif_rows, ignore_index=True).to_csv(index=False))
    write_text_atomic(out / "dynamics_summary.csv", pd.DataFrame(summaries).to_csv(index=False))
    for row in summaries:
        print(f"{row['piece']}: {row['n_frames']} {row['unit']}s, optimal threshold "
              f"{row['optimal_threshold']:.2f}, IR {row['max_ir']:.1f} bits, "
              f"{row['n_motifs']} motifs")
    print(f"wrote {out}/ (ir_curves.png, *_motifs.png, *_motifs.musicxml, ir_curves.csv, "
          f"motifs.csv, dynamics_summary.csv)")
    return 0
