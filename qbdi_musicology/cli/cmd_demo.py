"""``qbdi demo --out DIR``: the pipeline on the embedded default, a Bach chorale.

The demo reads chorale bwv 66.6 from music21's corpus and

1. turns it into piano-roll bars and back, checks that the round trip is exact and writes
   ``DIR/<piece>_roundtrip.musicxml`` (the chorale as the model sees it);
2. queries the shipped model with it at several channel rates (full rate down to 0 bits per
   bar) and writes, under ``DIR/queries/<piece>/``, one annotated MusicXML per rate and the
   drift overview score that stacks the chorale over every rate's improvisation;
3. writes the report under ``DIR/report/``: the drift table (CSV and Parquet), the figures,
   ``report.html`` and ``summary.md`` with the verdict: does the harmony drift to the tonic?
   The scores are engraved to SVG (``report/media/``) and shown in ``report.html`` with a
   player for the query and each rate (where FluidSynth and a soundfont are installed);
   ``report/lesson.html`` is the classroom page: a rate slider that switches score, sound
   and numbers.

:func:`run_demo` is the whole job as a function.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..rates import OVERVIEW_FILE, rate_file_name, rate_label
from .common import add_command

log = logging.getLogger(__name__)

DEFAULT_QUERY = "corpus:bach-chorales/bwv66.6"
#: Rates of the demonstration, bits per bar: the full rate, the paper's 256 and 32, and the
#: low rates where the drift toward the tonic shows.
DEMO_RATES = (float("inf"), 256.0, 32.0, 8.0, 0.0)


@dataclass
class DemoResult:
    """What the demo made: output files by role, and sentences for the user."""

    outputs: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _piece_name(query: str) -> str:
    """``corpus:bach-chorales/bwv66.6`` -> ``bwv66.6``; ``my/piece.mid`` -> ``piece``."""
    from ..scoreio import SCORE_SUFFIXES

    last = Path(query.split("/")[-1] if query.startswith("corpus:") else query)
    return last.stem if last.suffix.lower() in SCORE_SUFFIXES else last.name


def run_demo(out_dir, *, query: str = DEFAULT_QUERY, staves: str = "grand",
             data_dir=None, rates=DEMO_RATES, model: str | None = None, seed: int = 0,
             improvise: bool = True) -> DemoResult:
    """Round-trip a score through the piano roll and write it as MusicXML into ``out_dir``.

    Example: ``run_demo("out/demo").outputs["roundtrip"]`` is
    ``out/demo/bwv66.6_roundtrip.musicxml``: the chorale on a grand staff, as the model sees
    it (every voice merged into one piano roll of sixteenths).
    """
    from ..errors import InputError
    from ..grid import DEFAULT_GRID
    from ..pianoroll import bars_to_score, convert_score, score_to_bars
    from ..pieces import resolve_query

    out_dir = Path(out_dir)
    name = _piece_name(query)
    result = DemoResult()
    score = resolve_query(query, data_dir=data_dir)
    conv = convert_score(score, DEFAULT_GRID, source=name)
    result.notes.append(conv.report.summary())
    title = score.metadata.title if score.metadata and score.metadata.title else name
    marks = score.recurse().getElementsByClass("MetronomeMark")
    tempo = marks[0].number if len(marks) and marks[0].number else 120.0  # keep the query's
    roundtrip = bars_to_score(conv.bars, DEFAULT_GRID, title=f"{title} (piano-roll round trip)",
                              staves=staves, key="auto", tempo=tempo)
    if not (score_to_bars(roundtrip, DEFAULT_GRID) == conv.bars).all():
        raise InputError(f"{query}: the piano-roll round trip is not exact; please report it")
    fields = {"query": query, "grid": DEFAULT_GRID.time_signature,
              "grid_steps": DEFAULT_GRID.steps,
              "grid_pitches": f"{DEFAULT_GRID.low_pitch}-{DEFAULT_GRID.high_pitch}",
              "transformation": "piano-roll round trip (score_to_bars, bars_to_score)"}
    path = out_dir / f"{name}_roundtrip.musicxml"
    _write(roundtrip, path, fields)
    result.outputs["roundtrip"] = path
    result.notes.append(f"{len(conv.bars)} bars round-tripped exactly")
    if improvise:
        _improvise_and_report(result, out_dir, query, rates=rates, model=model, seed=seed)
    return result


def _improvise_and_report(result: DemoResult, out_dir: Path, query: str, *, rates,
                          model: str | None, seed: int) -> None:
    """Sweep the query through the model and write the annotated scores and the report."""
    from .. import batch
    from ..errors import QbdiError

    # MIDI files too: the report and the classroom page play them (see report.audio).
    summary = batch.run_batch([query], out_dir, rates=list(rates), model=model, seed=seed,
                              jobs=1, progress=True, options={"midi": True})
    if summary.failed:
        raise QbdiError(f"{query}: the improvisation failed: {summary.failed[0].error}")
    folder = batch.query_dir(out_dir, summary.records[0].query_id)
    overview = folder / OVERVIEW_FILE
    if overview.exists():
        result.outputs["overview"] = overview
    for rate in rates:
        path = folder / rate_file_name(rate)
        if path.exists():
            result.outputs[f"rate {rate_label(rate)}"] = path
    for role in ("html", "lesson", "markdown", "csv"):
        if role in (summary.report_files or {}):
            result.outputs[role] = summary.report_files[role]
    from ..report.audio import audio_problem

    problem = audio_problem()
    if problem:
        result.notes.append(problem)
    table = summary.table
    if table is not None and not table.empty and {"rate", "triad_agreement",
                                                  "tonic_share"} <= set(table.columns):
        from ..report.lesson import number_text

        # the measures of qbdi evaluate and the README, written as the report writes them
        for _, row in table.iterrows():
            result.notes.append(
                f"rate {rate_label(row['rate'])}: triad agreement "
                f"{number_text(row['triad_agreement'])}, tonic share "
                f"{number_text(row['tonic_share'])}, distinct chords "
                f"{number_text(row['distinct_chords'])}")


def _write(score, path: Path, fields: dict) -> None:
    """MusicXML through the project writer when present, else music21's, atomically."""
    try:
        from ..musicxml import write_musicxml
    except ImportError:
        from ..fileio import atomic_path

        with atomic_path(path) as tmp:
            score.write("musicxml", fp=tmp)
        return
    write_musicxml(score, path, fields=fields)


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "demo",
        help="run the pipeline on a Bach chorale and write the result as MusicXML",
        example="qbdi demo --out out/demo")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.add_argument("--query", default=DEFAULT_QUERY,
                        help=f"the piece: a MusicXML/MIDI file or corpus:NAME/PIECE "
                             f"(default {DEFAULT_QUERY})")
    parser.add_argument("--staves", choices=("grand", "one"), default="grand",
                        help="piano grand staff (default) or a single staff")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding the shared corpora (default $QBDI_DATA or "
                             "../shared/data)")
    parser.add_argument("--model", default=None,
                        help="model file or shipped model name (default: the shipped model)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--rates", default=",".join(
        "inf" if r == float("inf") else f"{r:g}" for r in DEMO_RATES),
        help="channel rates in bits per bar (default: %(default)s)")
    parser.add_argument("--roundtrip-only", action="store_true",
                        help="only the piano-roll round trip, no model")
    parser.set_defaults(func=run)


def run(args) -> int:
    from .common import parse_rates

    result = run_demo(args.out, query=args.query, staves=args.staves, data_dir=args.data_dir,
                      rates=parse_rates(args.rates), model=args.model, seed=args.seed,
                      improvise=not args.roundtrip_only)
    for note in result.notes:
        print(note)
    for role, path in result.outputs.items():
        print(f"{role}: {path}")
    return 0
