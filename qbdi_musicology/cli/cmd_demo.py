"""``qbdi demo --out DIR``: the pipeline on the embedded default, a Bach chorale.

Today the demo reads chorale bwv 66.6 from music21's corpus, turns it into piano-roll bars
and back into a piano score, checks that the round trip is exact, and writes
``DIR/<piece>_roundtrip.musicxml``. :func:`run_demo` is the whole job as a function, so that
later steps (improvising with the model, analysis) can be added to it one by one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from .common import add_command

log = logging.getLogger(__name__)

DEFAULT_QUERY = "corpus:bach-chorales/bwv66.6"


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
             data_dir=None) -> DemoResult:
    """Round-trip a score through the piano roll and write it as MusicXML into ``out_dir``.

    Example: ``run_demo("out/demo").outputs["roundtrip"]`` is
    ``out/demo/bwv66.6_roundtrip.musicxml``: the chorale on a grand staff, as the model sees
    it (every voice merged into one piano roll of sixteenths).
    """
    from ..errors import InputError
    from ..grid import DEFAULT_GRID
    from ..pianoroll import bars_to_score, convert_score, score_to_bars
    from ..scoreio import resolve_query

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
    return result


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
    parser.set_defaults(func=run)


def run(args) -> int:
    result = run_demo(args.out, query=args.query, staves=args.staves, data_dir=args.data_dir)
    for note in result.notes:
        print(note)
    for path in result.outputs.values():
        print(path)
    return 0
