"""``qbdi analyse``: harmonic analysis of improvisations against their query.

For a query and one or more improvisations (e.g. the files of ``qbdi sweep``), written into
``--out``:

* ``annotated_<tag>.musicxml`` (and ``.mxl``) per improvisation: the query over the
  improvisation with chord symbols, Roman numerals, collisions and the rate;
* ``drift_overview.musicxml`` (and ``.mxl``): the query and every improvisation stacked;
* ``drift.csv``: one row per rate (chord agreement, tonic share, collisions...);
* ``drift_segments.csv``: one row per rate and bar (or beat);
* ``query_chords.csv``: the query's own chord labels.

The rate of each improvisation comes from its provenance fields (as written by
``qbdi sweep``), else from ``_R<rate>`` in its file name (``bwv66.6_R32.musicxml``), else it
is numbered 1, 2, ... in the order given. Every file is written atomically; the CSVs last.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

from ..errors import OutputError, ParameterError
from ..rates import rate_tag
from .common import add_command

log = logging.getLogger(__name__)

_RATE_IN_NAME = re.compile(r"_R(inf|\d+(?:\.\d+)?)(?=$|[._-])", re.IGNORECASE)


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "analyse",
        help="chord labels, collisions and harmonic drift of improvisations against their "
             "query; annotated MusicXML for MuseScore and CSV tables",
        example="qbdi analyse corpus:bach-chorales/bwv66.6 sweep/bwv66.6_R*.musicxml "
                "--out analysis/")
    parser.add_argument("query", help="the query: a MusicXML/MIDI file or corpus:NAME/PIECE")
    parser.add_argument("improvisations", nargs="+", metavar="IMPROV",
                        help="improvisation files (MusicXML, .mxl or MIDI)")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.add_argument("--per", choices=("bar", "beat"), default="bar",
                        help="one chord label per bar (default) or per beat")
    parser.add_argument("--key", default=None,
                        help="the query's key, e.g. 'C', 'a' (A minor), 'F# minor' "
                             "(default: found from the notes)")
    parser.add_argument("--format", choices=("both", "musicxml", "mxl"), default="both",
                        help="annotated scores as .musicxml, compressed .mxl, or both "
                             "(default both)")
    parser.add_argument("--min-foreign-share", type=float, default=0.5,
                        help="a collision needs at least this share of the improvisation's "
                             "pitch classes outside the query's chord (default 0.5)")
    parser.add_argument("--min-tonnetz-distance", type=float, default=0.0,
                        help="a collision needs at least this Tonnetz distance (default 0)")
    parser.add_argument("--no-overview", action="store_true",
                        help="skip the drift overview score")
    parser.set_defaults(func=run)


def rate_of(path: Path, fields: dict[str, str]) -> float | None:
    """The rate of an improvisation file: its ``rate`` field, or ``_R<rate>`` in its name.

    Example: ``bwv66.6_R32.musicxml -> 32.0``; ``x_Rinf.mid -> inf``; ``take2.mid -> None``.
    """
    text = fields.get("rate")
    if text is not None:
        try:
            value = float(text)
            if not math.isnan(value):
                return value
        except ValueError:
            log.warning("%s: rate field %r is not a number; looking at the file name",
                        path, text)
    found = _RATE_IN_NAME.search(path.stem)
    if found:
        return math.inf if found.group(1).lower() == "inf" else float(found.group(1))
    return None


def _read_improvisations(paths: list[str]) -> dict[Any, Any]:
    from ..musicxml import read_musicxml_fields
    from ..scoreio import load_score
    found: list[tuple[Path, Any, Any]] = []
    for text in paths:
        path = Path(text)
        score = load_score(path)
        fields = {}
        if path.suffix.lower() in (".musicxml", ".xml", ".mxl"):
            fields = read_musicxml_fields(path)
        found.append((path, rate_of(path, fields), score))
    rates = [r for _, r, _ in found]
    if any(r is None for r in rates):
        # without a rate for each, they are numbered in the order given
        if any(r is not None for r in rates):
            log.warning("not every improvisation has a rate (field or _R<rate> in the name): "
                        "labelling them all take1, take2, ... instead")
        return {f"take{i}": score for i, (_, _, score) in enumerate(found, 1)}
    out: dict[Any, Any] = {}
    for path, rate, score in found:
        if rate in out:
            raise ParameterError(f"two improvisations have rate {rate:g} (one is {path}); "
                                 "give one improvisation per rate")
        out[rate] = score
    return out


def _outputs(out_dir: Path, names: list[str], inputs: list[Path]) -> list[Path]:
    targets = [out_dir / n for n in names]
    resolved_inputs = {p.resolve() for p in inputs if p.exists()}
    for target in targets:
        if target.resolve() in resolved_inputs:
            raise OutputError(f"{target} is one of the inputs; choose another --out folder")
    return targets


def run(args) -> int:
    import pandas as pd

    from ..analysis.drift import drift_analysis
    from ..annotate.harmony import write_annotated, write_overview
    from ..fileio import write_text_atomic
    from ..pieces import resolve_query

    if not 0.0 <= args.min_foreign_share <= 1.0:
        raise ParameterError(f"--min-foreign-share {args.min_foreign_share}: give 0-1")
    if args.min_tonnetz_distance < 0:
        raise ParameterError(f"--min-tonnetz-distance {args.min_tonnetz_distance}: give >= 0")
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file; give a folder")
    query = resolve_query(args.query)
    improvisations = _read_improvisations(args.improvisations)
    inputs = [Path(p) for p in args.improvisations] + [Path(args.query)]
    options = dict(per=args.per, key=args.key, min_foreign_share=args.min_foreign_share,
                   min_tonnetz_distance=args.min_tonnetz_distance)
    result = drift_analysis(query, improvisations, **options)
    # each score is analysed once, here; the annotated scores reuse these analyses
    query_table = result.query_analysis.table
    suffixes = {"both": (".musicxml", ".mxl"), "musicxml": (".musicxml",),
                "mxl": (".mxl",)}[args.format]
    written: list[Path] = []
    meters_differ = any("different meters" in w for w in result.summary["warnings"])
    if meters_differ:
        log.warning("the improvisations are in another meter than the query: annotated "
                    "scores are skipped (their bars cannot be aligned); the CSVs are written")
    else:
        for rate, improv in improvisations.items():
            for suffix in suffixes:
                (target,) = _outputs(out_dir, [f"annotated_{rate_tag(rate)}{suffix}"], inputs)
                written.append(write_annotated(
                    query, improv, target, rate=rate, query_analysis=result.query_analysis,
                    improvisation_analysis=result.analyses.get(rate), **options))
        if not args.no_overview:
            for suffix in suffixes:
                (target,) = _outputs(out_dir, [f"drift_overview{suffix}"], inputs)
                written.append(write_overview(
                    query, improvisations, target, query_analysis=result.query_analysis,
                    analyses=result.analyses, **options))
    tables = {"query_chords.csv": query_table, "drift_segments.csv": result.segments,
              "drift.csv": result.summary}
    for name, table in tables.items():
        (target,) = _outputs(out_dir, [name], inputs)
        frame = table.copy()
        for column in frame.columns:
            if frame[column].map(lambda v: isinstance(v, tuple)).any():
                frame[column] = frame[column].map(lambda v: " ".join(map(str, v)))
        written.append(write_text_atomic(target, frame.to_csv(index=False)))
    summary = result.summary
    with pd.option_context("display.width", 120, "display.max_columns", 8):
        print(summary[["rate", "triad_agreement", "chord_agreement", "tonic_share",
                       "distinct_chords", "collisions"]].to_string(index=False))
    print(f"wrote {len(written)} files to {out_dir}")
    return 0

